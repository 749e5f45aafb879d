"""Writes and reads: insert / upsert / delete / get / query, scalar types, partitions.

Covers: insert in column form (ORM) and row form (ORM and MilvusClient), auto_id INT64 keys,
VARCHAR keys, upsert (last write wins, count unchanged), duplicate-pk insert (one row, latest
value), delete by ids and by filter (delete_count), get by ids, a round trip of every scalar
type (BOOL, INT8/16/32/64, FLOAT, DOUBLE, VARCHAR, JSON, ARRAY), nullable fields (None), the
dynamic field (`$meta`: extra keys in output and filters), explicit partitions (create / has /
list / drop / load / release, insert into, search and query by partition_names), a partition key
with num_partitions, count(*), query limit/offset, query_iterator and search_iterator over several
pages, read-your-writes without flush, a 32768-dim vector field and a 1,000 x 1536 insert.
"""

import numpy as np
import pytest
from pymilvus import Collection, DataType, MilvusClient, MilvusException

from _util import (
    milvus_error,
    raises_milvus,
    T,
    count_rows,
    expected_topk,
    index_params,
    make_loaded_collection,
    rand_vectors,
    simple_schema,
)


@pytest.fixture
def coll(client, unique_name):
    """A loaded id/vec(8)/num/tag collection with FLAT L2, dropped afterwards."""
    name = unique_name()
    make_loaded_collection(
        client,
        name,
        dim=8,
        extra=[("num", DataType.INT64, {}), ("tag", DataType.VARCHAR, {"max_length": 32})],
    )
    yield name
    client.drop_collection(name)


def rows(ids, seed=0, dim=8, num=lambda i: i, tag=lambda i: f"t{i}"):
    vecs = rand_vectors(len(ids), dim, seed)
    return [{"id": i, "vec": vecs[k].tolist(), "num": num(i), "tag": tag(i)} for k, i in enumerate(ids)]


# --------------------------------------------------------------------------- insert forms


def test_insert_rows_visible_without_flush(client, coll):
    res = client.insert(coll, rows(range(10)))
    assert res["insert_count"] == 10
    assert sorted(res["ids"]) == list(range(10))
    # default consistency: visible to query, count and search right away, no flush
    assert count_rows(client, coll) == 10
    got = client.query(coll, filter="id in [3, 7]", output_fields=["num", "tag"])
    assert sorted((r["id"], r["num"], r["tag"]) for r in got) == [(3, 3, "t3"), (7, 7, "t7")]
    hits = client.search(coll, [rows(range(10))[5]["vec"]], limit=1)
    assert hits[0][0]["id"] == 5 and abs(hits[0][0]["distance"]) < 1e-5


@pytest.mark.parametrize("level", ["Strong", "Session", "Bounded", "Eventually"])
def test_read_your_writes_per_consistency_level(client, unique_name, level):
    """Strong/Session/Bounded must see a write at once; Eventually is allowed to, and does
    on a single node that always reads its latest state."""
    name = unique_name()
    client.create_collection(name, schema=simple_schema(4), consistency_level=level, timeout=T)
    client.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
    client.load_collection(name, timeout=T)
    try:
        assert client.describe_collection(name)["consistency_level_name"] == level
        for i in range(3):
            client.insert(name, [{"id": i, "vec": [float(i), 0, 0, 0]}])
            got = client.query(name, filter=f"id == {i}", consistency_level=level)
            assert [r["id"] for r in got] == [i]
            hits = client.search(name, [[float(i), 0, 0, 0]], limit=1, consistency_level=level)
            assert hits[0][0]["id"] == i
            client.delete(name, ids=[i])
            assert client.query(name, filter=f"id == {i}", consistency_level=level) == []
    finally:
        client.drop_collection(name)


def test_orm_insert_column_and_row_forms(orm, client, coll):
    col = Collection(coll, using=orm)
    vecs = rand_vectors(4, 8, seed=1)
    r1 = col.insert([[1, 2], [vecs[0].tolist(), vecs[1].tolist()], [10, 20], ["a", "b"]])
    assert r1.insert_count == 2 and list(r1.primary_keys) == [1, 2]
    r2 = col.insert(
        [
            {"id": 3, "vec": vecs[2].tolist(), "num": 30, "tag": "c"},
            {"id": 4, "vec": vecs[3].tolist(), "num": 40, "tag": "d"},
        ]
    )
    assert r2.insert_count == 2 and list(r2.primary_keys) == [3, 4]
    got = col.query(expr="id > 0", output_fields=["num", "tag"])
    assert sorted((r["id"], r["num"], r["tag"]) for r in got) == [
        (1, 10, "a"), (2, 20, "b"), (3, 30, "c"), (4, 40, "d")
    ]
    # vectors round trip through output_fields
    got = col.query(expr="id == 3", output_fields=["vec"])
    assert np.allclose(got[0]["vec"], vecs[2], atol=1e-6)


def test_auto_id_int64_keys_returned(client, unique_name):
    name = unique_name()
    client.create_collection(name, schema=simple_schema(4, auto_id=True), timeout=T)
    client.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
    client.load_collection(name, timeout=T)
    try:
        res = client.insert(name, [{"vec": [float(i), 0, 0, 0]} for i in range(6)])
        ids = list(res["ids"])
        assert res["insert_count"] == 6 and len(ids) == 6 and len(set(ids)) == 6
        assert all(isinstance(i, int) for i in ids)
        got = client.query(name, filter="", limit=100, output_fields=["id", "vec"])
        assert sorted(r["id"] for r in got) == sorted(ids)
        by_id = {r["id"]: r["vec"][0] for r in got}
        assert [by_id[i] for i in ids] == [float(i) for i in range(6)]
        more = client.insert(name, [{"vec": [9.0, 0, 0, 0]}])
        assert not set(more["ids"]) & set(ids)
        # Milvus 2.6: upsert on auto_id deletes the given keys and inserts the
        # rows under new ones, which it returns.
        up = client.upsert(name, [{"id": ids[0], "vec": [7.0, 0, 0, 0]}])
        assert up["upsert_count"] == 1
        (new_id,) = up["ids"]
        assert new_id not in ids + list(more["ids"])
        got = client.query(name, filter="", limit=100, output_fields=["id", "vec"])
        by_id = {r["id"]: r["vec"][0] for r in got}
        assert ids[0] not in by_id and by_id[new_id] == 7.0 and len(by_id) == 7
    finally:
        client.drop_collection(name)


def test_varchar_primary_key(client, unique_name):
    name = unique_name()
    schema = MilvusClient.create_schema()
    schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=32)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    client.create_collection(name, schema=schema, timeout=T)
    client.create_index(name, index_params("vec", "FLAT", "IP"), timeout=T)
    client.load_collection(name, timeout=T)
    try:
        keys = ["alpha", "beta", "gamma", 'quo"te', "delta"]
        res = client.insert(name, [{"pk": k, "vec": [1.0, i, 0, 0]} for i, k in enumerate(keys)])
        assert list(res["ids"]) == keys
        assert sorted(r["pk"] for r in client.get(name, ids=["beta", "delta"])) == ["beta", "delta"]
        hits = client.search(name, [[0, 1.0, 0, 0]], limit=2)
        assert [h["pk"] for h in hits[0]] == ["delta", 'quo"te']
        res = client.delete(name, ids=["alpha", 'quo"te'])
        assert res["delete_count"] == 2
        assert sorted(r["pk"] for r in client.query(name, filter='pk != ""')) == ["beta", "delta", "gamma"]
    finally:
        client.drop_collection(name)


# --------------------------------------------------------------------------- upsert / dup / delete


def test_upsert_last_write_wins(client, coll):
    client.insert(coll, rows(range(5)))
    res = client.upsert(coll, rows([2, 3, 9], seed=5, num=lambda i: i * 100, tag=lambda i: "new"))
    assert res["upsert_count"] == 3
    assert count_rows(client, coll) == 6
    got = {r["id"]: (r["num"], r["tag"]) for r in client.query(coll, filter="id >= 0", output_fields=["num", "tag"])}
    assert got == {0: (0, "t0"), 1: (1, "t1"), 2: (200, "new"), 3: (300, "new"), 4: (4, "t4"), 9: (900, "new")}
    # the upserted vector replaced the old one
    new_vec = rows([2, 3, 9], seed=5)[0]["vec"]
    hits = client.search(coll, [new_vec], limit=1, output_fields=["num"])
    assert hits[0][0]["id"] == 2 and hits[0][0]["entity"]["num"] == 200
    client.upsert(coll, rows([2], seed=6, num=lambda i: 7))
    assert client.get(coll, ids=[2], output_fields=["num"])[0]["num"] == 7
    assert count_rows(client, coll) == 6


def test_upsert_batch_repeating_a_key_is_refused(client, coll):
    """Milvus 2.6 refuses an upsert batch that names one primary key twice (which row would
    win is undefined); nothing of the batch is written. Insert keeps accepting such batches."""
    client.insert(coll, rows(range(3)))
    with pytest.raises(MilvusException) as e:
        client.upsert(coll, rows([1, 7, 1], seed=3, num=lambda i: -1))
    assert (e.value.code, e.value.message) == (
        1100,
        "duplicate primary keys are not allowed in the same batch: invalid parameter",
    )
    assert count_rows(client, coll) == 3
    assert client.get(coll, ids=[1], output_fields=["num"])[0]["num"] == 1


def test_extreme_int64_keys(client, coll):
    keys = [-(2**63), -1, 0, 2**62, 2**63 - 1]
    res = client.insert(coll, rows(keys))
    assert sorted(res["ids"]) == sorted(keys)
    got = client.query(coll, filter=f"id in [{', '.join(map(str, keys))}]", output_fields=["num"])
    assert sorted((r["id"], r["num"]) for r in got) == sorted((k, k) for k in keys)
    assert [r["id"] for r in client.query(coll, filter="id < -1")] == [-(2**63)]
    assert client.delete(coll, ids=[2**63 - 1])["delete_count"] == 1
    assert count_rows(client, coll) == 4


def test_duplicate_pk_insert_returns_one_latest_row(client, coll):
    client.insert(coll, rows([1], num=lambda i: 10))
    client.insert(coll, rows([1], num=lambda i: 20))
    got = client.query(coll, filter="id == 1", output_fields=["num"])
    assert len(got) == 1 and got[0]["num"] == 20
    assert count_rows(client, coll) == 1


def test_delete_by_ids_and_by_filter(client, coll):
    client.insert(coll, rows(range(20)))
    res = client.delete(coll, ids=[0, 1, 2])
    assert res["delete_count"] == 3
    res = client.delete(coll, filter="num >= 15")
    assert res["delete_count"] == 5
    assert count_rows(client, coll) == 12
    left = sorted(r["id"] for r in client.query(coll, filter="id >= 0"))
    assert left == list(range(3, 15))
    # deleted rows never come back from search either
    all_rows = rows(range(20))
    hits = client.search(coll, [all_rows[0]["vec"], all_rows[17]["vec"]], limit=20)
    for per_query in hits:
        assert {h["id"] for h in per_query} == set(range(3, 15))
    # deleting again deletes nothing
    assert client.delete(coll, ids=[0, 1])["delete_count"] == 0


def test_orm_delete_by_expr(orm, client, coll):
    client.insert(coll, rows(range(6)))
    col = Collection(coll, using=orm)
    res = col.delete("id in [1, 3]")
    assert res.delete_count == 2
    assert sorted(r["id"] for r in col.query("id >= 0")) == [0, 2, 4, 5]


def test_get_by_ids(client, coll):
    data = rows(range(5))
    client.insert(coll, data)
    got = client.get(coll, ids=[4, 1, 99])
    assert sorted(r["id"] for r in got) == [1, 4]
    for r in got:
        assert r["num"] == r["id"] and r["tag"] == f"t{r['id']}"
        assert np.allclose(r["vec"], data[r["id"]]["vec"], atol=1e-6)
    assert client.get(coll, ids=[3], output_fields=["tag"])[0]["tag"] == "t3"


# --------------------------------------------------------------------------- types


def all_types_schema(nullable=False):
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    kw = {"nullable": True} if nullable else {}
    schema.add_field("b", DataType.BOOL, **kw)
    schema.add_field("i8", DataType.INT8, **kw)
    schema.add_field("i16", DataType.INT16, **kw)
    schema.add_field("i32", DataType.INT32, **kw)
    schema.add_field("i64", DataType.INT64, **kw)
    schema.add_field("f", DataType.FLOAT, **kw)
    schema.add_field("d", DataType.DOUBLE, **kw)
    schema.add_field("s", DataType.VARCHAR, max_length=64, **kw)
    schema.add_field("j", DataType.JSON, **kw)
    schema.add_field("ai", DataType.ARRAY, element_type=DataType.INT64, max_capacity=8, **kw)
    schema.add_field("af", DataType.ARRAY, element_type=DataType.DOUBLE, max_capacity=8, **kw)
    schema.add_field("avs", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=8, max_length=16, **kw)
    schema.add_field("ab", DataType.ARRAY, element_type=DataType.BOOL, max_capacity=8, **kw)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    return schema


TYPED_ROWS = [
    {"id": 1, "b": True, "i8": -128, "i16": -32768, "i32": -(2**31), "i64": -(2**63),
     "f": 1.5, "d": 1e300, "s": "héllo wörld ✓", "j": {"a": {"b": [1, 2]}, "s": "x"},
     "ai": [1, -2, 3], "af": [0.5, -1.25], "avs": ["x", "yy"], "ab": [True, False]},
    {"id": 2, "b": False, "i8": 127, "i16": 32767, "i32": 2**31 - 1, "i64": 2**63 - 1,
     "f": -0.25, "d": -2.5e-300, "s": "", "j": [1, "two", None, 3.5],
     "ai": [], "af": [1e10], "avs": [""], "ab": []},
    {"id": 3, "b": True, "i8": 0, "i16": 0, "i32": 0, "i64": 0,
     "f": 0.0, "d": 0.0, "s": 'tab\tquote"back\\slash', "j": {"deep": {"deeper": [True, None]}},
     "ai": [2**62], "af": [], "avs": ["a", "b", "c"], "ab": [True]},
]


def assert_typed_equal(got, want):
    for key, value in want.items():
        if key == "id":
            continue
        if key == "f":
            assert got[key] == pytest.approx(value, rel=1e-6), key
        elif key == "af":
            assert list(got[key]) == pytest.approx(value), key
        elif isinstance(value, list) and key != "j":
            assert list(got[key]) == value, key
        else:
            assert got[key] == value, (key, got[key], value)


def test_all_scalar_types_round_trip(client, unique_name):
    name = unique_name()
    client.create_collection(name, schema=all_types_schema(), timeout=T)
    client.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
    client.load_collection(name, timeout=T)
    try:
        data = [dict(r, vec=[float(r["id"]), 0, 0, 0]) for r in TYPED_ROWS]
        client.insert(name, data)
        fields = [k for k in TYPED_ROWS[0] if k != "id"]
        got = {r["id"]: r for r in client.query(name, filter="id > 0", output_fields=fields)}
        assert sorted(got) == [1, 2, 3]
        for want in TYPED_ROWS:
            assert_typed_equal(got[want["id"]], want)
        # search output carries the same values
        hits = client.search(name, [[2.0, 0, 0, 0]], limit=1, output_fields=fields)
        assert hits[0][0]["id"] == 2
        assert_typed_equal(hits[0][0]["entity"], TYPED_ROWS[1])
        # "*" returns every field
        star = client.query(name, filter="id == 3", output_fields=["*"])[0]
        assert set(TYPED_ROWS[2]) | {"vec"} <= set(star)
    finally:
        client.drop_collection(name)


def test_nullable_fields_round_trip_none(client, unique_name):
    name = unique_name()
    client.create_collection(name, schema=all_types_schema(nullable=True), timeout=T)
    client.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
    client.load_collection(name, timeout=T)
    try:
        full = dict(TYPED_ROWS[0], vec=[1.0, 0, 0, 0])
        empty = {k: None for k in TYPED_ROWS[0]}
        empty.update(id=2, vec=[2.0, 0, 0, 0])
        mixed = dict(TYPED_ROWS[2], vec=[3.0, 0, 0, 0], i32=None, s=None, j=None, ai=None)
        client.insert(name, [full, empty, mixed])
        fields = [k for k in TYPED_ROWS[0] if k != "id"]
        got = {r["id"]: r for r in client.query(name, filter="id > 0", output_fields=fields)}
        assert_typed_equal(got[1], TYPED_ROWS[0])
        for k in fields:
            assert got[2][k] is None, (k, got[2][k])
        for k in ("i32", "s", "j", "ai"):
            assert got[3][k] is None, k
        assert got[3]["i64"] == 0 and got[3]["avs"] == ["a", "b", "c"]
        assert sorted(r["id"] for r in client.query(name, filter="s is null")) == [2, 3]
        assert sorted(r["id"] for r in client.query(name, filter="i32 is not null")) == [1]
    finally:
        client.drop_collection(name)


def test_default_values(client, unique_name):
    name = unique_name()
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("d", DataType.INT64, default_value=5)
    schema.add_field("s", DataType.VARCHAR, max_length=16, nullable=True, default_value="dflt")
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    client.create_collection(name, schema=schema, timeout=T)
    client.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
    client.load_collection(name, timeout=T)
    try:
        client.insert(name, [
            {"id": 1, "vec": [0, 0]},
            {"id": 2, "vec": [1, 1], "d": 7, "s": None},
            {"id": 3, "vec": [2, 2], "s": "x"},
        ])
        got = {r["id"]: (r["d"], r["s"]) for r in client.query(name, filter="id > 0", output_fields=["d", "s"])}
        assert got == {1: (5, "dflt"), 2: (7, "dflt"), 3: (5, "x")}
        assert sorted(r["id"] for r in client.query(name, filter="d == 5")) == [1, 3]
    finally:
        client.drop_collection(name)


def test_dynamic_field(client, unique_name):
    name = unique_name()
    make_loaded_collection(client, name, dim=4, dynamic=True)
    try:
        client.insert(
            name,
            [
                {"id": 1, "vec": [1.0, 0, 0, 0], "color": "red", "size": 3, "info": {"k": 1}},
                {"id": 2, "vec": [0, 1.0, 0, 0], "color": "blue", "size": 10},
                {"id": 3, "vec": [0, 0, 1.0, 0]},
            ],
        )
        got = {r["id"]: r for r in client.query(name, filter="id > 0", output_fields=["color", "size", "info"])}
        assert got[1]["color"] == "red" and got[1]["size"] == 3 and got[1]["info"] == {"k": 1}
        assert got[2]["color"] == "blue" and got[2]["size"] == 10
        assert "color" not in got[3] or got[3]["color"] is None
        assert [r["id"] for r in client.query(name, filter='color == "blue"')] == [2]
        assert [r["id"] for r in client.query(name, filter="size > 5")] == [2]
        assert [r["id"] for r in client.query(name, filter='info["k"] == 1')] == [1]
        assert [r["id"] for r in client.query(name, filter='$meta["color"] == "red"')] == [1]
        hits = client.search(name, [[1.0, 0.1, 0, 0]], limit=3, filter="size >= 3", output_fields=["color"])
        assert [h["id"] for h in hits[0]] == [1, 2]
        assert hits[0][0]["entity"]["color"] == "red"
        star = client.query(name, filter="id == 1", output_fields=["*"])[0]
        assert star["color"] == "red" and star["size"] == 3
        assert "$meta" not in [f["name"] for f in client.describe_collection(name)["fields"]]
    finally:
        client.drop_collection(name)


# --------------------------------------------------------------------------- partitions


def test_partitions_crud_insert_search_query(client, coll, unique_name):
    p1, p2 = "p_" + unique_name("a")[-8:], "p_" + unique_name("b")[-8:]
    assert client.list_partitions(coll) == ["_default"]
    client.create_partition(coll, p1)
    client.create_partition(coll, p2)
    assert client.has_partition(coll, p1) and not client.has_partition(coll, "nope")
    assert client.list_partitions(coll)[0] == "_default"
    assert set(client.list_partitions(coll)) == {"_default", p1, p2}
    same = rows([0])[0]["vec"]
    client.insert(coll, [dict(r, vec=same) for r in rows([1, 2])], partition_name=p1)
    client.insert(coll, [dict(r, vec=same) for r in rows([3])], partition_name=p2)
    client.insert(coll, [dict(r, vec=same) for r in rows([4])])
    client.load_collection(coll, timeout=T)  # new partitions get loaded
    got = client.query(coll, filter="id > 0", partition_names=[p1])
    assert sorted(r["id"] for r in got) == [1, 2]
    hits = client.search(coll, [same], limit=10, partition_names=[p2, "_default"])
    assert sorted(h["id"] for h in hits[0]) == [3, 4]
    hits = client.search(coll, [same], limit=10)
    assert sorted(h["id"] for h in hits[0]) == [1, 2, 3, 4]
    assert client.get_partition_stats(coll, p1)["row_count"] == 2
    # release / load partitions
    client.release_partitions(coll, [p2])
    client.load_partitions(coll, [p2], timeout=T)
    assert sorted(r["id"] for r in client.query(coll, filter="id > 0", partition_names=[p2])) == [3]
    # drop a partition (released first, as Milvus requires) and its rows go
    client.release_collection(coll)
    client.drop_partition(coll, p2)
    assert not client.has_partition(coll, p2)
    client.load_collection(coll, timeout=T)
    assert count_rows(client, coll) == 3
    with raises_milvus():
        client.query(coll, filter="id > 0", partition_names=[p2])


def test_orm_partition_objects(orm, client, coll):
    from pymilvus import Partition

    col = Collection(coll, using=orm)
    part = Partition(col, "orm_part")
    assert col.has_partition("orm_part")
    assert "orm_part" in [p.name for p in col.partitions]
    part.insert(rows([7, 8]))
    col.load(timeout=T)
    assert sorted(r["id"] for r in col.query("id > 0", partition_names=["orm_part"])) == [7, 8]
    col.flush(timeout=T)
    assert part.num_entities == 2 and col.num_entities == 2


def test_partition_key_tenant_filters(client, unique_name):
    name = unique_name()
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("tenant", DataType.VARCHAR, max_length=32, is_partition_key=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=8)
    client.create_collection(name, schema=schema, num_partitions=16, timeout=T)
    client.create_index(name, index_params("vec", "HNSW", "L2", M=16, efConstruction=64), timeout=T)
    client.load_collection(name, timeout=T)
    try:
        desc = client.describe_collection(name)
        tenant_field = [f for f in desc["fields"] if f["name"] == "tenant"][0]
        assert tenant_field.get("is_partition_key") is True
        assert desc["num_partitions"] == 16
        tenants = [f"t{i % 5}" for i in range(100)]
        vecs = rand_vectors(100, 8, seed=11)
        client.insert(name, [{"id": i, "tenant": tenants[i], "vec": vecs[i].tolist()} for i in range(100)])
        q = vecs[0].tolist()
        for t in ("t0", "t3"):
            mask = [x == t for x in tenants]
            hits = client.search(name, [q], limit=5, filter=f'tenant == "{t}"', output_fields=["tenant"])
            assert all(h["entity"]["tenant"] == t for h in hits[0])
            want = expected_topk("L2", q, vecs, list(range(100)), 5, mask=mask)
            assert [h["id"] for h in hits[0]] == [i for i, _ in want]
            got = client.query(name, filter=f'tenant == "{t}"', output_fields=["tenant"])
            assert sorted(r["id"] for r in got) == [i for i in range(100) if tenants[i] == t]
        got = client.query(name, filter='tenant in ["t1", "t2"] and id < 20')
        assert sorted(r["id"] for r in got) == [i for i in range(20) if tenants[i] in ("t1", "t2")]
        assert count_rows(client, name) == 100
    finally:
        client.drop_collection(name)


def test_partition_key_upsert_moves_row_between_tenants(client, unique_name):
    name = unique_name()
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("tenant", DataType.VARCHAR, max_length=32, is_partition_key=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    client.create_collection(name, schema=schema, num_partitions=8, timeout=T)
    client.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
    client.load_collection(name, timeout=T)
    try:
        client.insert(name, [{"id": i, "tenant": f"t{i % 3}", "vec": [float(i), 0, 0, 0]} for i in range(9)])
        client.upsert(name, [{"id": 0, "tenant": "t2", "vec": [0.0, 0, 0, 0]}])
        assert sorted(r["id"] for r in client.query(name, filter='tenant == "t0"')) == [3, 6]
        assert sorted(r["id"] for r in client.query(name, filter='tenant == "t2"')) == [0, 2, 5, 8]
        hits = client.search(name, [[0.0, 0, 0, 0]], limit=3, filter='tenant == "t0"')
        assert [h["id"] for h in hits[0]] == [3, 6]
        assert client.delete(name, filter='tenant == "t1"')["delete_count"] == 3
        assert count_rows(client, name) == 6
        got = client.query(name, filter='tenant != "t2"', output_fields=["count(*)"])
        assert got[0]["count(*)"] == 2
    finally:
        client.drop_collection(name)


def test_meta_output_and_partition_count(client, unique_name):
    name = unique_name()
    make_loaded_collection(client, name, dim=4, dynamic=True)
    try:
        client.create_partition(name, "p")
        client.insert(name, [{"id": 1, "vec": [1.0, 0, 0, 0], "k": "v", "n": 1}])
        client.insert(name, [{"id": 2, "vec": [0, 1.0, 0, 0], "k": "w"}], partition_name="p")
        client.load_collection(name, timeout=T)
        got = client.query(name, filter="id == 1", output_fields=["$meta"])
        assert got[0]["k"] == "v" and got[0]["n"] == 1
        got = client.query(name, filter="", output_fields=["count(*)"], partition_names=["p"])
        assert got[0]["count(*)"] == 1
        got = client.query(name, filter="", output_fields=["count(*)"], partition_names=["_default", "p"])
        assert got[0]["count(*)"] == 2
    finally:
        client.drop_collection(name)


# --------------------------------------------------------------------------- query shapes


def test_count_and_limit_offset(client, coll):
    client.insert(coll, rows(range(30)))
    assert count_rows(client, coll) == 30
    got = client.query(coll, filter="num >= 10", output_fields=["count(*)"])
    assert got[0]["count(*)"] == 20
    page1 = client.query(coll, filter="id >= 0", limit=10, offset=0)
    page2 = client.query(coll, filter="id >= 0", limit=10, offset=10)
    page3 = client.query(coll, filter="id >= 0", limit=10, offset=25)
    ids = [r["id"] for r in page1 + page2]
    assert len(ids) == 20 and len(set(ids)) == 20
    assert len(page3) == 5
    assert len(client.query(coll, filter="", limit=7)) == 7
    client.delete(coll, ids=list(range(5)))
    assert count_rows(client, coll) == 25


def test_offset_without_limit_is_ignored_by_query(client, coll):
    """Milvus 2.6 reads `offset` only next to a `limit`."""
    client.insert(coll, rows(range(12)))
    got = client.query(coll, filter="id >= 0", offset=5, output_fields=["id"])
    assert sorted(r["id"] for r in got) == list(range(12))
    got = client.query(coll, filter="id >= 0", offset=5, limit=100, output_fields=["id"])
    assert sorted(r["id"] for r in got) == list(range(5, 12))


def test_query_ignore_growing_reads_sealed_rows_only(client, coll):
    client.insert(coll, rows(range(10)))
    client.flush(coll, timeout=T)
    client.insert(coll, rows(range(10, 16)))  # stays in the growing segment
    everything = client.query(coll, filter="id >= 0", output_fields=["id"])
    assert sorted(r["id"] for r in everything) == list(range(16))
    sealed = client.query(coll, filter="id >= 0", output_fields=["id"], ignore_growing=True)
    assert sorted(r["id"] for r in sealed) == list(range(10))
    hits = client.search(coll, [rows([99])[0]["vec"]], limit=16, ignore_growing=True)
    assert {h["id"] for h in hits[0]} == set(range(10))
    # Search and query read the flag alike (Milvus's isIgnoreGrowing, Go's ParseBool).
    q = [rows([99])[0]["vec"]]
    for value in ("maybe", "yes"):
        e = milvus_error(client.query, coll, filter="id >= 0", ignore_growing=value)
        assert e.code == 1100 and e.message == "parse ignore growing field failed: invalid parameter"
        e = milvus_error(client.search, coll, q, limit=16, ignore_growing=value)
        assert e.code == 1100 and e.message == "parse ignore growing field failed: invalid parameter"
    hits = client.search(coll, q, limit=16, search_params={"ignore_growing": "T"})
    assert {h["id"] for h in hits[0]} == set(range(10))


def test_query_iterator_pages(client, coll):
    client.insert(coll, rows(range(57)))
    it = client.query_iterator(coll, batch_size=10, filter="num >= 3", output_fields=["num"])
    seen, pages = [], 0
    try:
        while True:
            page = it.next()
            if not page:
                break
            pages += 1
            assert len(page) <= 10
            seen.extend(r["id"] for r in page)
            assert pages < 50
    finally:
        it.close()
    assert pages >= 6
    assert sorted(seen) == list(range(3, 57)) and len(seen) == len(set(seen))


def test_search_iterator_pages(client, coll):
    data = rows(range(60))
    client.insert(coll, data)
    q = data[0]["vec"]
    it = client.search_iterator(
        coll, data=[q], batch_size=10, search_params={"metric_type": "L2", "params": {}}
    )
    seen, dists, pages = [], [], 0
    try:
        while True:
            page = it.next()
            if not page:
                break
            pages += 1
            seen.extend(h["id"] for h in page)
            dists.extend(h["distance"] for h in page)
            assert pages < 50
    finally:
        it.close()
    assert pages >= 2
    assert len(seen) == len(set(seen)), "search iterator returned a row twice"
    assert set(seen) == set(range(60))
    assert seen[0] == 0
    assert all(a <= b + 1e-5 for a, b in zip(dists, dists[1:]))


@pytest.mark.parametrize("metric", ["COSINE", "L2", "IP"])
def test_search_iterator_v2_walks_every_row_once(client, unique_name, metric):
    """pymilvus 3.0 uses search iterator V2 when the server answers with a token and a
    last bound (else it warns and falls back to V1, where external_filter_func is
    ignored). Pages past the nearest few hundred rows must still be found."""
    name = unique_name()
    make_loaded_collection(client, name, dim=16, index_type="HNSW", metric=metric,
                           M=16, efConstruction=64)
    n = 3000
    vecs = rand_vectors(n, 16, seed=21)
    try:
        client.insert(name, [{"id": i, "vec": vecs[i].tolist()} for i in range(n)])
        client.flush(name, timeout=T)
        it = client.search_iterator(name, data=[vecs[7].tolist()], batch_size=100,
                                    search_params={"metric_type": metric})
        assert type(it).__name__ == "SearchIteratorV2"
        seen, scores = [], []
        while page := it.next():
            seen.extend(h["id"] for h in page)
            scores.extend(h["distance"] for h in page)
            assert len(seen) <= n
        assert len(seen) == len(set(seen)) == n
        assert seen[0] == 7
        better_first = (lambda a, b: a >= b - 1e-5) if metric != "L2" else (lambda a, b: a <= b + 1e-5)
        assert all(better_first(a, b) for a, b in zip(scores, scores[1:]))
        # The external filter runs on every page and pages stay full.
        it = client.search_iterator(name, data=[vecs[7].tolist()], batch_size=50, limit=200,
                                    search_params={"metric_type": metric},
                                    external_filter_func=lambda hits: [h for h in hits if h["id"] % 2 == 0])
        kept = []
        while page := it.next():
            kept.extend(h["id"] for h in page)
        assert len(kept) == 200 and all(i % 2 == 0 for i in kept) and len(set(kept)) == 200
    finally:
        client.drop_collection(name)


@pytest.mark.timeout_s(180)
def test_concurrent_writers_and_readers(server, coll):
    """4 writer threads (distinct ids) and a reader thread at once: nothing lost or doubled."""
    import threading

    errors = []
    stop = threading.Event()

    def writer(w):
        c = MilvusClient(uri=server.uri, dedicated=True)
        try:
            for b in range(20):
                ids = [w * 100_000 + b * 20 + k for k in range(20)]
                c.insert(coll, rows(ids, seed=w * 100 + b))
                if b % 5 == 4:
                    c.delete(coll, ids=ids[:2])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            c.close()

    def reader():
        c = MilvusClient(uri=server.uri, dedicated=True)
        try:
            q = rand_vectors(1, 8, seed=777)[0].tolist()
            while not stop.is_set():
                res = c.search(coll, [q], limit=5)
                assert len(res[0]) <= 5
                c.query(coll, filter="", output_fields=["count(*)"])
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=150)
    stop.set()
    r.join(timeout=30)
    assert not errors, errors
    want = sorted(
        w * 100_000 + b * 20 + k
        for w in range(4) for b in range(20) for k in range(20)
        if not (b % 5 == 4 and k < 2)
    )
    client = MilvusClient(uri=server.uri)
    got = sorted(r["id"] for r in client.query(coll, filter="id >= 0", limit=16384))
    assert got == want
    assert count_rows(client, coll) == len(want)


# --------------------------------------------------------------------------- sizes


@pytest.mark.timeout_s(180)
def test_max_dim_32768(client, unique_name):
    name = unique_name()
    make_loaded_collection(client, name, dim=32768)
    try:
        vecs = rand_vectors(3, 32768, seed=4)
        client.insert(name, [{"id": i, "vec": vecs[i].tolist()} for i in range(3)])
        hits = client.search(name, [vecs[1].tolist()], limit=3)
        assert hits[0][0]["id"] == 1 and abs(hits[0][0]["distance"]) < 1e-3
        assert len(hits[0]) == 3
    finally:
        client.drop_collection(name)


@pytest.mark.timeout_s(240)
def test_insert_request_over_32mb(client, unique_name):
    """6,000 x 1536 floats in one insert is ~37 MB on the wire (limit must be well above 4 MB)."""
    name = unique_name()
    make_loaded_collection(client, name, dim=1536)
    try:
        vecs = rand_vectors(6000, 1536, seed=10)
        res = client.insert(name, [{"id": i, "vec": vecs[i]} for i in range(6000)], timeout=120)
        assert res["insert_count"] == 6000
        assert count_rows(client, name) == 6000
        hits = client.search(name, [vecs[5999].tolist()], limit=1)
        assert hits[0][0]["id"] == 5999
    finally:
        client.drop_collection(name)


@pytest.mark.timeout_s(180)
def test_insert_1000_x_1536_in_one_call(client, unique_name):
    name = unique_name()
    make_loaded_collection(client, name, dim=1536, index_type="HNSW", metric="COSINE", M=16, efConstruction=64)
    try:
        vecs = rand_vectors(1000, 1536, seed=9)
        res = client.insert(name, [{"id": i, "vec": vecs[i]} for i in range(1000)])
        assert res["insert_count"] == 1000
        assert count_rows(client, name) == 1000
        hits = client.search(name, [vecs[123].tolist()], limit=3, search_params={"params": {"ef": 64}})
        assert hits[0][0]["id"] == 123 and abs(hits[0][0]["distance"] - 1.0) < 1e-4
        got = client.get(name, ids=[999], output_fields=["vec"])
        assert np.allclose(got[0]["vec"], vecs[999], atol=1e-6)
        # ~6 MB response: every vector back in one query
        everything = client.query(name, filter="id >= 0", output_fields=["vec"], limit=1000)
        assert len(everything) == 1000
        back = np.array([r["vec"] for r in sorted(everything, key=lambda r: r["id"])], dtype=np.float32)
        assert np.array_equal(back, vecs)
    finally:
        client.drop_collection(name)
