"""The Milvus boolean expression language, checked row by row against Python.

One small collection holds many field types. Each (expression, predicate) case runs through
query and through search (FLAT, limit >= row count, so the search returns every match) and
must return exactly the ids the Python predicate selects. Covers comparison operators, chained
ranges, in / not in, like (prefix / suffix / infix), and / or / not / && / || with parentheses,
arithmetic, numeric literal forms, JSON paths, json_contains*, array_contains*, array_length,
array indexing, is null / is not null, string escapes, bool literals and delete by filter.
Malformed expressions must give a MilvusException naming a position, and the server must keep
answering.
"""

import re
import time
import uuid

import pytest
from pymilvus import DataType, MilvusClient, MilvusException

from _util import raises_milvus, T, index_params

STRINGS = [
    "apple", "apricot", "banana", "grape", "pineapple",
    'a"b', "it's", "back\\slash", "", "new\nline", "Apple pie", "100%",
]
N = 36


def make_row(i):
    meta = {"a": {"b": i % 4}, "src": ["faq", "docs", "blog"][i % 3], "n": i, "tags": [i % 5, (i + 1) % 5]}
    if i % 7 == 0:
        meta = {"n": i, "flag": True}
    return {
        "id": i,
        "x": i - 10,
        "f": i * 0.5,
        "s": STRINGS[i % len(STRINGS)],
        "b": i % 3 == 0,
        "meta": meta,
        "tags": list(range(i % 4)) + [i],
        "names": ["x", "y"][: i % 3],
        "opt": None if i % 5 == 0 else i,
        "vec": [float(i), 1.0, 0.0, 0.0],
    }


ROWS = [make_row(i) for i in range(N)]


def m(r, *path):
    cur = r["meta"]
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return None
        cur = cur[p]
    return cur


CASES = [
    # comparisons
    ("x == 3", lambda r: r["x"] == 3),
    ("x != 3", lambda r: r["x"] != 3),
    ("x < 0", lambda r: r["x"] < 0),
    ("x <= 0", lambda r: r["x"] <= 0),
    ("x > 15", lambda r: r["x"] > 15),
    ("x >= 15", lambda r: r["x"] >= 15),
    ("f > 7.5", lambda r: r["f"] > 7.5),
    ("f == 2.5", lambda r: r["f"] == 2.5),
    ("x == -7", lambda r: r["x"] == -7),
    # chained ranges
    ("1 < x <= 5", lambda r: 1 < r["x"] <= 5),
    ("10 > x >= -2", lambda r: 10 > r["x"] >= -2),
    ("-3.5 <= f < 4", lambda r: -3.5 <= r["f"] < 4),
    # in / not in
    ("x in [1, 2, 3, 100]", lambda r: r["x"] in (1, 2, 3, 100)),
    ("x not in [1, 2, 3]", lambda r: r["x"] not in (1, 2, 3)),
    ('s in ["apple", "grape"]', lambda r: r["s"] in ("apple", "grape")),
    ('s not in ["apple", ""]', lambda r: r["s"] not in ("apple", "")),
    ("id in [0, 5, 35]", lambda r: r["id"] in (0, 5, 35)),
    # like
    ('s like "ap%"', lambda r: r["s"].startswith("ap")),
    ('s like "%apple"', lambda r: r["s"].endswith("apple")),
    ('s like "%an%"', lambda r: "an" in r["s"]),
    ('s like "apple"', lambda r: r["s"] == "apple"),
    # boolean structure
    ("x > 0 and b == true", lambda r: r["x"] > 0 and r["b"]),
    ("x < -5 or x > 15", lambda r: r["x"] < -5 or r["x"] > 15),
    ("not (x > 0)", lambda r: not r["x"] > 0),
    ("(x > 0 or b == true) and f < 10", lambda r: (r["x"] > 0 or r["b"]) and r["f"] < 10),
    ("x > 0 AND (b == false OR x == 12)", lambda r: r["x"] > 0 and (not r["b"] or r["x"] == 12)),
    ("x >= 0 && x < 4 || x == -10", lambda r: (0 <= r["x"] < 4) or r["x"] == -10),
    ("not (x in [1, 2]) and not (x > 5)", lambda r: r["x"] not in (1, 2) and not r["x"] > 5),
    ("x > 0 and x < 10 or x == -1 and b == true", lambda r: (0 < r["x"] < 10) or (r["x"] == -1 and r["b"])),
    # arithmetic
    ("x * 2 > 10", lambda r: r["x"] * 2 > 10),
    ("x % 3 == 0", lambda r: r["x"] % 3 == 0),
    ("x + 5 == 7", lambda r: r["x"] + 5 == 7),
    ("x - 1 < -8", lambda r: r["x"] - 1 < -8),
    ("f * 2 >= 20", lambda r: r["f"] * 2 >= 20),
    # numeric literal forms
    ("x == 0x0A", lambda r: r["x"] == 10),
    ("f > 1.2e1", lambda r: r["f"] > 12),
    ("f < 1e1", lambda r: r["f"] < 10),
    # bool literals
    ("b == true", lambda r: r["b"]),
    ("b == True", lambda r: r["b"]),
    ("b == false", lambda r: not r["b"]),
    ("b != TRUE", lambda r: not r["b"]),
    # string escapes
    ('s == "a\\"b"', lambda r: r["s"] == 'a"b'),
    ("s == 'it\\'s'", lambda r: r["s"] == "it's"),
    ('s == "it\'s"', lambda r: r["s"] == "it's"),
    ('s == "back\\\\slash"', lambda r: r["s"] == "back\\slash"),
    ('s == "new\\nline"', lambda r: r["s"] == "new\nline"),
    ('s == ""', lambda r: r["s"] == ""),
    ('s == "100%"', lambda r: r["s"] == "100%"),
    ('s > "b"', lambda r: r["s"] > "b"),
    # JSON paths
    ('meta["a"]["b"] == 1', lambda r: m(r, "a", "b") == 1),
    ('meta["a"]["b"] >= 2', lambda r: m(r, "a", "b") is not None and m(r, "a", "b") >= 2),
    ('meta["src"] == "faq"', lambda r: m(r, "src") == "faq"),
    ('meta["n"] > 25', lambda r: m(r, "n") > 25),
    ('meta["n"] in [1, 2, 3, 7]', lambda r: m(r, "n") in (1, 2, 3, 7)),
    ('meta["flag"] == true', lambda r: m(r, "flag") is True),
    ('meta["tags"][0] == 1', lambda r: (m(r, "tags") or [None])[0] == 1),
    ('meta["a"]["b"] == 1 or meta["n"] == 0', lambda r: m(r, "a", "b") == 1 or m(r, "n") == 0),
    ('meta["src"] in ["docs", "blog"] and x > 0', lambda r: m(r, "src") in ("docs", "blog") and r["x"] > 0),
    # json_contains family
    ('json_contains(meta["tags"], 3)', lambda r: 3 in (m(r, "tags") or [])),
    ('json_contains_all(meta["tags"], [1, 2])', lambda r: {1, 2} <= set(m(r, "tags") or [])),
    ('json_contains_any(meta["tags"], [0, 4])', lambda r: bool({0, 4} & set(m(r, "tags") or []))),
    # arrays
    ("array_contains(tags, 2)", lambda r: 2 in r["tags"]),
    ("array_contains_all(tags, [0, 1])", lambda r: {0, 1} <= set(r["tags"])),
    ("array_contains_any(tags, [2, 29])", lambda r: bool({2, 29} & set(r["tags"]))),
    ("array_length(tags) == 3", lambda r: len(r["tags"]) == 3),
    ("array_length(names) == 0", lambda r: len(r["names"]) == 0),
    ('array_contains(names, "y")', lambda r: "y" in r["names"]),
    ("tags[0] == 0", lambda r: r["tags"][0] == 0),
    # null handling
    ("opt is null", lambda r: r["opt"] is None),
    ("opt is not null", lambda r: r["opt"] is not None),
    ("opt IS NULL and x > 0", lambda r: r["opt"] is None and r["x"] > 0),
    ("opt > 20", lambda r: r["opt"] is not None and r["opt"] > 20),
    ("opt != 6", lambda r: r["opt"] is not None and r["opt"] != 6),
    ("opt in [1, 2, 5]", lambda r: r["opt"] in (1, 2)),
    # more literal and operator spellings
    ("x in [1, 2,]", lambda r: r["x"] in (1, 2)),
    ("x in []", lambda r: False),
    ("x not in []", lambda r: True),
    ("x == 0b1010", lambda r: r["x"] == 10),
    ("!(x > 0)", lambda r: not r["x"] > 0),
    ("NOT (x > 0) AND x > -3", lambda r: -3 < r["x"] <= 0),
]


@pytest.fixture(scope="module")
def fcoll(server):
    c = MilvusClient(uri=server.uri)
    name = "filters_" + uuid.uuid4().hex[:10]
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("x", DataType.INT64)
    schema.add_field("f", DataType.DOUBLE)
    schema.add_field("s", DataType.VARCHAR, max_length=64)
    schema.add_field("b", DataType.BOOL)
    schema.add_field("meta", DataType.JSON)
    schema.add_field("tags", DataType.ARRAY, element_type=DataType.INT64, max_capacity=8)
    schema.add_field("names", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4, max_length=8)
    schema.add_field("opt", DataType.INT64, nullable=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    c.create_collection(name, schema=schema, timeout=T)
    c.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
    c.load_collection(name, timeout=T)
    c.insert(name, ROWS)
    yield c, name
    c.drop_collection(name)
    c.close()


def expected(pred):
    return sorted(r["id"] for r in ROWS if pred(r))


@pytest.mark.parametrize("expr,pred", CASES, ids=[c[0] for c in CASES])
def test_filter_query_and_search(fcoll, expr, pred):
    c, name = fcoll
    want = expected(pred)
    got = sorted(r["id"] for r in c.query(name, filter=expr, output_fields=["id"]))
    assert got == want, f"query {expr!r}"
    hits = c.search(name, [[0.0, 1.0, 0.0, 0.0]], limit=N + 5, filter=expr)
    assert sorted(h["id"] for h in hits[0]) == want, f"search {expr!r}"


def test_filter_count_star(fcoll):
    c, name = fcoll
    res = c.query(name, filter="x >= 0 and b == false", output_fields=["count(*)"])
    assert res[0]["count(*)"] == len(expected(lambda r: r["x"] >= 0 and not r["b"]))


def test_output_values_match_rows(fcoll):
    c, name = fcoll
    got = c.query(name, filter="id in [3, 7, 9]", output_fields=["s", "meta", "tags", "names", "opt", "b"])
    for r in got:
        want = ROWS[r["id"]]
        for k in ("s", "meta", "tags", "names", "opt", "b"):
            assert (list(r[k]) if k in ("tags", "names") else r[k]) == want[k], k


def test_delete_by_filter_uses_same_semantics(server, unique_name):
    c = MilvusClient(uri=server.uri)
    name = unique_name()
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("x", DataType.INT64)
    schema.add_field("s", DataType.VARCHAR, max_length=64)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    c.create_collection(name, schema=schema, timeout=T)
    c.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
    c.load_collection(name, timeout=T)
    try:
        c.insert(name, [{k: r[k] for k in ("id", "x", "s", "vec")} for r in ROWS])
        res = c.delete(name, filter='s like "ap%" or x > 20')
        gone = expected(lambda r: r["s"].startswith("ap") or r["x"] > 20)
        assert res["delete_count"] == len(gone)
        left = sorted(r["id"] for r in c.query(name, filter="id >= 0"))
        assert left == [i for i in range(N) if i not in gone]
    finally:
        c.drop_collection(name)
        c.close()


BAD_EXPRESSIONS = [
    "x >",
    "((x == 1)",
    "x === 1",
    "unknown_function(x)",
    's == "abc',
    "x == 1 and",
    "x in [1, 2",
    "and x == 1",
    'meta["a" == 1',
    "x == 1)",
    "x == @",
]

POSITION = re.compile(r"(position|pos|column|col|offset|char|index|line|at)\W{0,3}\d+", re.I)


@pytest.mark.parametrize("expr", BAD_EXPRESSIONS)
def test_malformed_expression_names_position(fcoll, expr):
    c, name = fcoll
    with raises_milvus() as info:
        c.query(name, filter=expr, output_fields=["id"])
    msg = str(info.value.message)
    assert POSITION.search(msg), f"no position in error for {expr!r}: {msg!r}"
    with raises_milvus():
        c.search(name, [[0.0, 1.0, 0.0, 0.0]], limit=3, filter=expr)
    # still serving
    assert len(c.query(name, filter="x == 3")) == 1


def test_unknown_field_in_filter(fcoll):
    c, name = fcoll
    with raises_milvus() as info:
        c.query(name, filter="no_such_field > 1")
    assert "no_such_field" in str(info.value.message)
    assert len(c.query(name, filter="x == 4")) == 1


def test_type_mismatch_in_filter(fcoll):
    c, name = fcoll
    with raises_milvus():
        c.query(name, filter='x == "text"')
    with raises_milvus():
        c.query(name, filter="array_length(x) == 1")
    assert len(c.query(name, filter="x == 5")) == 1


@pytest.mark.parametrize("expr,dtype", [
    ("x", "Int64"), ("meta", "JSON"), ('meta["flag"]', "JSON"), ("s", "VarChar"), ("1", "Int64"),
])
def test_non_boolean_predicates_are_refused(fcoll, expr, dtype):
    """Milvus 2.6 runs only Bool-typed predicates; a bare JSON value is not read as truthiness."""
    c, name = fcoll
    with raises_milvus() as info:
        c.query(name, filter=expr, output_fields=["id"])
    assert info.value.code == 1100, info.value
    text = f"predicate is not a boolean expression: {expr}, data type: {dtype}"
    assert text in info.value.message, info.value.message
    # A Bool field on its own is a predicate.
    assert sorted(r["id"] for r in c.query(name, filter="b", output_fields=["id"])) == [
        r["id"] for r in ROWS if r["b"]
    ]


def test_is_null_on_a_vector_field_is_refused(fcoll):
    c, name = fcoll
    for expr in ("vec is null", "vec is not null"):
        with raises_milvus() as info:
            c.query(name, filter=expr, output_fields=["id"])
        assert info.value.code == 1100
        assert "IsNull/IsNotNull operations are not supported on vector fields" in info.value.message
    assert len(c.query(name, filter="opt is null", output_fields=["id"])) == sum(
        r["opt"] is None for r in ROWS
    )


def test_like_with_a_template_pattern(fcoll):
    c, name = fcoll
    got = c.query(name, filter="s like {p}", filter_params={"p": "ap%"}, output_fields=["id"])
    assert sorted(r["id"] for r in got) == sorted(
        r["id"] for r in ROWS if r["s"].startswith("ap")
    )
    with raises_milvus() as info:
        c.query(name, filter="s like {p}", filter_params={"p": 3}, output_fields=["id"])
    assert info.value.code == 1100


FUZZ_TOKENS = [
    "x", "f", "s", "b", "meta", "tags", "names", "opt", "id", "$meta", "nope",
    "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "**", "&&", "||", "!",
    "and", "or", "not", "in", "not in", "like", "is null", "is not null",
    "(", ")", "[", "]", ",", '["a"]', "[0]", "1", "-1", "0x", "1e", "3.5", "1e309",
    '"str"', "'q'", '"unterminated', "true", "False", "json_contains", "array_length",
    "array_contains_any", "exists", "\\", "\x00", "é", "{", "}", "9223372036854775808",
]


def test_fuzzed_expressions_never_break_the_server(fcoll):
    """Random token soup: each answer is rows or a prompt MilvusException, never a crash."""
    import random

    c, name = fcoll
    rng = random.Random(1234)
    for _ in range(300):
        expr = " ".join(rng.choice(FUZZ_TOKENS) for _ in range(rng.randint(1, 9)))
        t0 = time.monotonic()
        try:
            c.query(name, filter=expr, output_fields=["id"], limit=100)
        except MilvusException as e:
            assert isinstance(e.code, int), (expr, e)
        assert time.monotonic() - t0 < 5, expr
    assert len(c.query(name, filter="x == 3")) == 1
