"""Bad input gives a MilvusException with a fitting code, and the server keeps serving.

Covers: unknown collection (describe / search / query / insert / delete / load / stats / index,
code 100), wrong vector dim on insert and search, missing field, wrong type, VARCHAR over
max_length, bad filter (1100), duplicate collection name with a different schema, search before
load (101), unknown partition, unknown output field, unknown index type, metric mismatch,
oversized top-k (> 16384), non-empty / default database drop, credentials, deeply nested filters
(no stack overflow), and an RPC the server may not implement (answers promptly, no hang, no crash).
Every failing call is followed by a check that the server still answers and that no partial
write happened.
"""

import re
import time

import grpc
import pytest
from pymilvus import Collection, DataType, MilvusClient, MilvusException

from _util import (
    raises_milvus,
    T,
    assert_still_serving,
    count_rows,
    index_params,
    make_loaded_collection,
    milvus_error,
    simple_schema,
)

INVALID_PARAM = {1100, 1101, 1102}


@pytest.fixture
def coll(client, unique_name):
    name = unique_name()
    make_loaded_collection(
        client, name, dim=4,
        extra=[("num", DataType.INT64, {}), ("s", DataType.VARCHAR, {"max_length": 8})],
    )
    client.insert(name, [{"id": 1, "vec": [1.0, 0, 0, 0], "num": 1, "s": "a"}])
    yield name
    client.drop_collection(name)


def row(i, **over):
    r = {"id": i, "vec": [0.5, 0.5, 0, 0], "num": i, "s": "ok"}
    r.update(over)
    return r


# --------------------------------------------------------------------------- unknown collection


@pytest.mark.parametrize("op", ["describe", "search", "query", "insert", "delete", "load", "stats", "create_index", "flush"])
def test_unknown_collection(client, unique_name, op):
    name = unique_name("missing")
    calls = {
        "describe": lambda: client.describe_collection(name),
        "search": lambda: client.search(name, [[1.0, 0, 0, 0]], limit=1),
        "query": lambda: client.query(name, filter="id > 0"),
        "insert": lambda: client.insert(name, [{"id": 1, "vec": [1.0, 0, 0, 0]}]),
        "delete": lambda: client.delete(name, filter="id > 0"),
        "load": lambda: client.load_collection(name, timeout=T),
        "stats": lambda: client.get_collection_stats(name),
        "create_index": lambda: client.create_index(name, index_params("vec"), timeout=T),
        "flush": lambda: client.flush(name, timeout=T),
    }
    err = milvus_error(calls[op])
    assert err.code == 100, err
    assert name in str(err.message) or "collection" in str(err.message).lower()
    assert client.has_collection(name) is False
    assert_still_serving(client)


def test_orm_unknown_collection(orm, unique_name):
    from pymilvus import utility

    name = unique_name("missing")
    assert utility.has_collection(name, using=orm) is False
    with raises_milvus():
        Collection(name, using=orm)


# --------------------------------------------------------------------------- bad inserts


def test_wrong_dim_on_insert(client, coll):
    with raises_milvus():
        client.insert(coll, [row(2, vec=[1.0, 0, 0])])
    with raises_milvus():
        client.insert(coll, [row(3, vec=[1.0] * 5)])
    assert count_rows(client, coll) == 1
    assert_still_serving(client)


def test_wrong_dim_on_insert_orm_columns(orm, client, coll):
    col = Collection(coll, using=orm)
    with raises_milvus():
        col.insert([[5, 6], [[1.0, 0, 0], [1.0, 0, 0]], [5, 6], ["x", "y"]])
    assert count_rows(client, coll) == 1


def test_stale_schema_cache_wrong_dim_rejected_by_server(server, client, unique_name):
    """Client A caches dim 4; the collection is re-created with dim 8; A's insert must fail."""
    name = unique_name()
    make_loaded_collection(client, name, dim=4)
    a = MilvusClient(uri=server.uri, dedicated=True)
    try:
        a.insert(name, [{"id": 1, "vec": [1.0, 0, 0, 0]}])  # caches the dim-4 schema
        client.drop_collection(name)
        make_loaded_collection(client, name, dim=8)
        with raises_milvus():
            a.insert(name, [{"id": 2, "vec": [1.0, 0, 0, 0]}])
        assert count_rows(client, name) == 0
        assert_still_serving(client)
    finally:
        a.close()
        client.drop_collection(name)


def test_missing_field(client, coll):
    bad = row(2)
    del bad["num"]
    with raises_milvus():
        client.insert(coll, [bad])
    bad = row(3)
    del bad["vec"]
    with raises_milvus():
        client.insert(coll, [bad])
    assert count_rows(client, coll) == 1
    assert_still_serving(client)


def test_wrong_type(client, coll):
    with raises_milvus():
        client.insert(coll, [row(2, num="not a number")])
    with raises_milvus():
        client.insert(coll, [row(3, s=12345)])
    with raises_milvus():
        client.insert(coll, [row("four")])
    assert count_rows(client, coll) == 1
    assert_still_serving(client)


def test_varchar_over_max_length(client, orm, coll):
    with raises_milvus():
        client.insert(coll, [row(2, s="x" * 9)])
    with raises_milvus():
        Collection(coll, using=orm).insert([[3], [[1.0, 0, 0, 0]], [3], ["y" * 100]])
    # exactly max_length is fine (ASCII: characters and bytes agree; Milvus's docs count
    # characters, its proxy counts bytes, so multi-byte text is left out on purpose)
    client.insert(coll, [row(4, s="x" * 8)])
    assert client.get(coll, ids=[4], output_fields=["s"])[0]["s"] == "x" * 8
    assert count_rows(client, coll) == 2


def test_duplicate_collection_with_different_schema(client, coll):
    with raises_milvus():
        client.create_collection(coll, schema=simple_schema(16), timeout=T)
    # the original is untouched
    dims = [f["params"].get("dim") for f in client.describe_collection(coll)["fields"] if f["name"] == "vec"]
    assert dims == [4]
    assert count_rows(client, coll) == 1


def test_invalid_schemas_rejected(client, unique_name):
    no_pk = MilvusClient.create_schema()
    no_pk.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    no_pk.add_field("x", DataType.INT64)
    name = unique_name()
    with raises_milvus():
        client.create_collection(name, schema=no_pk, timeout=T)
    too_big = simple_schema(32769)
    with raises_milvus():
        client.create_collection(name, schema=too_big, timeout=T)
    assert client.has_collection(name) is False
    assert_still_serving(client)


# --------------------------------------------------------------------------- bad reads


def test_bad_filter_is_invalid_parameter(client, coll):
    err = milvus_error(client.query, coll, filter="num >")
    assert err.code in INVALID_PARAM, err
    err = milvus_error(client.search, coll, [[1.0, 0, 0, 0]], limit=1, filter="num === 1")
    assert err.code in INVALID_PARAM, err
    err = milvus_error(client.delete, coll, filter="((num == 1)")
    assert err.code in INVALID_PARAM, err
    assert count_rows(client, coll) == 1


def test_search_wrong_dim(client, coll):
    err = milvus_error(client.search, coll, [[1.0, 0, 0]], limit=1)
    assert err.code in INVALID_PARAM, err
    err = milvus_error(client.search, coll, [[1.0, 0, 0, 0], [1.0] * 5], limit=1)
    assert err.code in INVALID_PARAM, err
    assert_still_serving(client)


def test_search_before_load(client, unique_name):
    name = unique_name()
    client.create_collection(name, schema=simple_schema(4), timeout=T)
    try:
        client.create_index(name, index_params("vec"), timeout=T)
        err = milvus_error(client.search, name, [[1.0, 0, 0, 0]], limit=1)
        assert err.code == 101, err
        err = milvus_error(client.query, name, filter="", output_fields=["count(*)"])
        assert err.code == 101, err
    finally:
        client.drop_collection(name)


def test_oversized_topk(client, coll):
    err = milvus_error(client.search, coll, [[1.0, 0, 0, 0]], limit=16385)
    assert err.code in INVALID_PARAM | {65535, 1}, err
    with raises_milvus():
        client.search(coll, [[1.0, 0, 0, 0]], limit=16000, offset=1000)
    # the maximum itself is allowed
    assert len(client.search(coll, [[1.0, 0, 0, 0]], limit=16384)[0]) == 1


def test_unknown_partition(client, coll):
    with raises_milvus():
        client.search(coll, [[1.0, 0, 0, 0]], limit=1, partition_names=["nope"])
    with raises_milvus():
        client.query(coll, filter="id > 0", partition_names=["nope"])
    with raises_milvus():
        client.insert(coll, [row(9)], partition_name="nope")
    assert count_rows(client, coll) == 1


def test_unknown_fields_in_request(client, coll):
    with raises_milvus():
        client.query(coll, filter="id > 0", output_fields=["no_such_field"])
    with raises_milvus():
        client.search(coll, [[1.0, 0, 0, 0]], limit=1, output_fields=["no_such_field"])
    with raises_milvus():
        client.search(coll, [[1.0, 0, 0, 0]], limit=1, anns_field="no_such_vec")
    assert_still_serving(client)


def test_metric_mismatch(client, coll):
    # the index is L2; asking for IP is an invalid parameter in Milvus
    err = milvus_error(client.search, coll, [[1.0, 0, 0, 0]], limit=1, search_params={"metric_type": "IP"})
    assert err.code in INVALID_PARAM | {65535}, err
    assert_still_serving(client)


def test_bad_index_requests(client, unique_name):
    name = unique_name()
    client.create_collection(name, schema=simple_schema(4), timeout=T)
    try:
        with raises_milvus():
            client.create_index(name, index_params("vec", "NO_SUCH_INDEX", "L2"), timeout=T)
        with raises_milvus():
            client.create_index(name, index_params("no_such_field", "HNSW", "L2"), timeout=T)
        with raises_milvus():
            client.create_index(name, index_params("vec", "HNSW", "NO_SUCH_METRIC"), timeout=T)
        assert client.list_indexes(name) == []
        client.create_index(name, index_params("vec", "HNSW", "L2", M=8, efConstruction=32), timeout=T)
        assert client.list_indexes(name) == ["vec"]
    finally:
        client.drop_collection(name)


def test_deeply_nested_filter_does_not_crash(client, coll):
    depth = 3000
    expr = "(" * depth + "num == 1" + ")" * depth
    try:
        got = client.query(coll, filter=expr)
        assert [r["id"] for r in got] == [1]
    except MilvusException:
        pass
    long_or = " or ".join(f"num == {i}" for i in range(5000))
    try:
        got = client.query(coll, filter=long_or)
        assert [r["id"] for r in got] == [1]
    except MilvusException:
        pass
    assert count_rows(client, coll) == 1
    assert_still_serving(client)


def test_garbage_and_unicode_filters(client, coll):
    for expr in ("\x00", "ü == 1", "num == 1 ; drop", "🙂", "num == 1" + " " * 10000 + "and"):
        with raises_milvus():
            client.query(coll, filter=expr)
    assert_still_serving(client)


# --------------------------------------------------------------------------- databases / auth / misc


def test_database_errors(server, client, unique_name):
    with raises_milvus():
        client.drop_database("default")
    db = unique_name("db")
    client.create_database(db)
    with raises_milvus():
        client.create_database(db)
    dbc = MilvusClient(uri=server.uri, db_name=db, dedicated=True)
    try:
        dbc.create_collection("c1", schema=simple_schema(4), timeout=T)
        with raises_milvus():
            client.drop_database(db)  # not empty
        assert db in client.list_databases()
        dbc.drop_collection("c1")
    finally:
        dbc.close()
        client.drop_database(db)
    missing = MilvusClient(uri=server.uri, db_name=unique_name("nodb"), dedicated=True)
    try:
        with raises_milvus():
            missing.create_collection(unique_name(), schema=simple_schema(4), timeout=T)
    finally:
        missing.close()
    assert_still_serving(client)


def test_alias_errors(client, coll, unique_name):
    with raises_milvus():
        client.describe_alias(unique_name("noalias"))
    with raises_milvus():
        client.create_alias(unique_name("missing"), unique_name("al"))
    other = unique_name()
    client.create_collection(other, schema=simple_schema(4), timeout=T)
    try:
        with raises_milvus():
            client.create_alias(coll, other)  # alias equal to a collection name
    finally:
        client.drop_collection(other)


def test_credentials_do_not_crash(server, client):
    """Auth is off by default: any credentials connect; the server survives either way."""
    for kwargs in ({"token": "root:Milvus"}, {"user": "root", "password": "wrong"}, {"token": "garbage"}):
        try:
            c = MilvusClient(uri=server.uri, dedicated=True, **kwargs)
        except MilvusException as e:
            assert e.code == 2, e
            continue
        assert isinstance(c.list_collections(), list)
        c.close()
    assert_still_serving(client)


UNIMPLEMENTED_CANDIDATES = {
    "create_privilege_group": lambda c: c.create_privilege_group("pg_x", timeout=10),
    "create_user": lambda c: c.create_user("someone", "P@ssw0rd123", timeout=10),
    "list_users": lambda c: c.list_users(timeout=10),
    "list_privilege_groups": lambda c: c.list_privilege_groups(timeout=10),
}


@pytest.mark.parametrize("rpc", list(UNIMPLEMENTED_CANDIDATES))
def test_unimplemented_rpc_answers_with_milvus_status(client, rpc):
    """An RPC the server does not implement answers at once with a Milvus status saying so
    (or succeeds); never a hang, a crash, or a bare gRPC error (issue 2, item 3)."""
    start = time.monotonic()
    try:
        UNIMPLEMENTED_CANDIDATES[rpc](client)
    except MilvusException as e:
        assert isinstance(e.code, int) and not isinstance(e.code, bool), repr(e)
        assert re.search(r"implement|support", str(e.message), re.I), repr(e)
    except grpc.RpcError as e:
        pytest.fail(f"bare gRPC error instead of a Milvus status: {e!r}")
    finally:
        if rpc == "create_user":
            try:
                client.drop_user("someone", timeout=10)
            except (MilvusException, grpc.RpcError):
                pass
    assert time.monotonic() - start < 10
    assert_still_serving(client)


def test_query_limit_too_large(client, coll):
    with raises_milvus():
        client.query(coll, filter="id >= 0", limit=16385)
    with raises_milvus():
        client.query(coll, filter="id >= 0", limit=16000, offset=1000)
    assert len(client.query(coll, filter="id >= 0", limit=16384)) == 1
