"""JSON path indexes (Milvus 2.5/2.6) through pymilvus: several per JSON field (one per
path) and on dynamic-field keys, Milvus's default names and refusals, described, listed
and dropped by name, kept across a restart, and filters on those paths answer as before.

Sealed segments build each index on first use and narrow filters on its path with it; the
results are those of a scan, which `test_indexed_filters_match_an_oracle` checks against a
Python oracle on sealed and growing rows, with the indexes and after they are dropped.
"""

import random

import pytest
from pymilvus import DataType, MilvusClient

from _util import T, index_params, milvus_error, simple_schema

DIM = 4


def _collection(c, name):
    schema = simple_schema(DIM, dynamic=True, extra=[("j", DataType.JSON, {})])
    c.create_collection(name, schema=schema, timeout=T)
    ip = index_params("vec", "FLAT", "L2")
    for path in ("j['a']['b']", "j['a']", "j", "j['a'][0]['b']"):
        ip.add_index(field_name="j", index_type="INVERTED",
                     params={"json_cast_type": "varchar", "json_path": path})
    ip.add_index(field_name="age", index_type="STL_SORT", index_name="age_idx",
                 params={"json_cast_type": "double", "json_path": "age"})
    ip.add_index(field_name="my_json", index_type="INVERTED",
                 params={"json_cast_type": "varchar", "json_path": "my_json['a']"})
    c.create_index(name, ip, timeout=T)


def test_several_paths_per_field_and_dynamic_keys(fresh_server):
    srv = fresh_server
    c = MilvusClient(uri=srv.uri, timeout=T, dedicated=True)
    _collection(c, "jidx")
    want = {"vec", "j/a/b", "j/a", "j", "j/a/0/b", "age_idx", "$meta/my_json/a"}
    assert set(c.list_indexes("jidx")) == want
    d = c.describe_index("jidx", "j/a/b")
    assert d["field_name"] == "j" and d["json_path"] == "j['a']['b']"
    assert d["json_cast_type"] == "varchar" and d["index_type"] == "INVERTED"
    d = c.describe_index("jidx", "age_idx")
    assert d["field_name"] == "age" and d["index_type"] == "STL_SORT"
    # The same path again without a name is the same index (a no-op), as in Milvus.
    again = index_params("vec", "FLAT", "L2")
    again.add_index(field_name="j", index_type="INVERTED",
                    params={"json_cast_type": "varchar", "json_path": "j['a']"})
    c.create_index("jidx", again, timeout=T)
    assert set(c.list_indexes("jidx")) == want

    c.drop_index("jidx", "j/a")
    assert set(c.list_indexes("jidx")) == want - {"j/a"}
    c.load_collection("jidx", timeout=T)
    c.insert("jidx", [{"id": i, "vec": [float(i)] * DIM, "j": {"a": {"b": f"v{i % 3}"}},
                       "age": i, "my_json": {"a": str(i)}} for i in range(30)])
    got = c.query("jidx", filter='j["a"]["b"] == "v1" and age < 10', output_fields=["id"])
    assert sorted(r["id"] for r in got) == [1, 4, 7]
    c.close()
    srv.stop()
    srv.start()
    c = MilvusClient(uri=srv.uri, timeout=T, dedicated=True)
    assert set(c.list_indexes("jidx")) == want - {"j/a"}
    assert c.describe_index("jidx", "$meta/my_json/a")["json_path"] == "my_json['a']"
    c.close()


@pytest.mark.parametrize(
    "field, params, message",
    [
        ("j", {"json_path": "j['a']"},
         "json index must specify cast type: missing parameter[missing_param=json_cast_type]"),
        ("j", {"json_cast_type": "int64", "json_path": "j['a']"},
         "json_cast_type INT64 is not supported: invalid parameter"),
        ("j", {"json_cast_type": "varchar", "json_path": "k['a']"},
         "fieldID not match with field name: invalid parameter"),
        ("j", {"json_cast_type": "varchar", "json_path": "j['a'"},
         "cannot parse identifier: j['a': invalid parameter"),
    ],
)
def test_json_index_refusals(client, unique_name, field, params, message):
    name = unique_name()
    schema = simple_schema(DIM, extra=[("j", DataType.JSON, {})])
    client.create_collection(name, schema=schema, timeout=T)
    ip = MilvusClient.prepare_index_params()
    ip.add_index(field_name=field, index_type="INVERTED", params=params)
    e = milvus_error(client.create_index, name, ip, timeout=T)
    assert e.code == (1101 if "missing" in message else 1100) and e.message == message
    # Without a dynamic field, a name that is no field is not a key either.
    ip = MilvusClient.prepare_index_params()
    ip.add_index(field_name="nope", index_type="INVERTED", params={"json_cast_type": "double"})
    e = milvus_error(client.create_index, name, ip, timeout=T)
    assert e.message == "cannot create index on non-exist field: nope: invalid parameter"


def test_index_conflicts_and_unknown_types(client, unique_name):
    """Milvus's data coordinator rules (canCreateIndex) and index-type check, texts included."""
    name = unique_name()
    client.create_collection(name, schema=simple_schema(DIM, extra=[("j", DataType.JSON, {})]),
                             timeout=T)

    def create(field, index_type, index_name="", **params):
        ip = MilvusClient.prepare_index_params()
        ip.add_index(field_name=field, index_type=index_type, index_name=index_name,
                     params=params)
        client.create_index(name, ip, timeout=T)

    create("j", "INVERTED", "p1", json_cast_type="varchar", json_path="j['a']")
    create("j", "INVERTED", "p1", json_cast_type="varchar", json_path="j['a']")  # same: no-op
    e = milvus_error(create, "j", "INVERTED", "p2", json_cast_type="varchar", json_path="j['a']")
    assert e.code == 1100 and e.message == (
        "CreateIndex failed: creating multiple indexes on same field is not supported: "
        "invalid parameter")
    e = milvus_error(create, "j", "INVERTED", "p1", json_cast_type="double", json_path="j['a']")
    assert e.message == "at most one distinct index is allowed per field: invalid parameter"
    e = milvus_error(create, "j", "12-s", "p3", json_cast_type="double", json_path="j['b']")
    assert e.message == "invalid parameter[expected=valid index][actual=invalid index type: 12-s]"
    assert client.list_indexes(name) == ["p1"]


WORDS = ["red", "blue", "green", "Red", "", "zz"]


def _json_value(rng):
    return rng.choice([
        rng.randint(-5, 20), rng.randint(0, 9) + 0.5, rng.choice(WORDS), True, False, None,
    ])


def _matches(value, op, lit):
    """Quiver's (and Milvus's) comparison of a JSON value with a literal: numbers compare
    numerically, strings by code point, values of different types never match."""
    if value is None or isinstance(value, bool) or isinstance(lit, bool):
        return op == "==" and isinstance(value, bool) and value is lit
    num = isinstance(value, (int, float)) and isinstance(lit, (int, float))
    if not num and not (isinstance(value, str) and isinstance(lit, str)):
        return False
    return {"==": value == lit, "<": value < lit, "<=": value <= lit,
            ">": value > lit, ">=": value >= lit}[op]


def test_indexed_filters_match_an_oracle(client, unique_name):
    name = unique_name("jx")
    schema = simple_schema(DIM, dynamic=True, extra=[
        ("j", DataType.JSON, {}), ("cat", DataType.VARCHAR, {"max_length": 16}),
        ("bucket", DataType.INT64, {})])
    client.create_collection(name, schema=schema, timeout=T)
    ip = index_params("vec", "FLAT", "L2")
    ip.add_index(field_name="j", index_type="INVERTED", index_name="j_a",
                 params={"json_cast_type": "double", "json_path": "j['a']"})
    ip.add_index(field_name="j", index_type="INVERTED", index_name="j_s",
                 params={"json_cast_type": "varchar", "json_path": "j['s']['t']"})
    ip.add_index(field_name="tenant", index_type="INVERTED", index_name="tenant",
                 params={"json_cast_type": "varchar", "json_path": "tenant"})
    ip.add_index(field_name="cat", index_type="TRIE", index_name="cat")
    ip.add_index(field_name="bucket", index_type="STL_SORT", index_name="bucket")
    client.create_index(name, ip, timeout=T)
    client.load_collection(name, timeout=T)
    rng = random.Random(7)
    rows = []
    for i in range(1200):
        doc = {"a": _json_value(rng), "s": {"t": _json_value(rng)}}
        if i % 11 == 0:
            doc = {}
        rows.append({"id": i, "vec": [0.0] * DIM, "j": doc, "cat": rng.choice(WORDS),
                     "bucket": rng.randint(0, 30), "tenant": rng.choice(WORDS + [3, None])})
    # Two flushed (sealed) batches, then growing rows.
    for lo, hi in ((0, 500), (500, 1000)):
        client.insert(name, rows[lo:hi], timeout=T)
        client.flush(name, timeout=T)
    client.insert(name, rows[1000:], timeout=T)

    cases = []
    for _ in range(40):
        target = rng.choice(["a", "s", "tenant", "cat", "bucket"])
        op = rng.choice(["==", "<", "<=", ">", ">="])
        if target in ("cat",):
            lit = rng.choice(WORDS)
        elif target == "bucket":
            lit = rng.randint(-1, 31)
        else:
            lit = rng.choice([rng.randint(-5, 20), rng.choice(WORDS), 2.5])
        cases.append((target, op, lit, rng.random() < 0.3))

    def expr(target, op, lit):
        path = {"a": 'j["a"]', "s": 'j["s"]["t"]'}.get(target, target)
        text = f'"{lit}"' if isinstance(lit, str) else repr(lit)
        return f"{path} {op} {text}"

    def value(row, target):
        if target == "a":
            return row["j"].get("a")
        if target == "s":
            return row["j"].get("s", {}).get("t")
        return row[target]

    def run():
        got = []
        for t, op, lit, conj in cases:
            f = expr(t, op, lit)
            if conj:
                f = f"({f}) and bucket >= 10"
            res = client.query(name, filter=f, output_fields=["id"], limit=2000, timeout=T)
            got.append((f, sorted(r["id"] for r in res)))
        return got

    with_index = run()
    for (t, op, lit, conj), (f, ids) in zip(cases, with_index):
        want = sorted(r["id"] for r in rows if _matches(value(r, t), op, lit)
                      and (not conj or r["bucket"] >= 10))
        assert ids == want, f
    assert any(ids for _, ids in with_index), "the cases match some rows"
    # Without the indexes (scans only) every filter answers the same.
    client.release_collection(name, timeout=T)
    for idx in ("j_a", "j_s", "tenant", "cat", "bucket"):
        client.drop_index(name, idx, timeout=T)
    client.load_collection(name, timeout=T)
    assert run() == with_index
