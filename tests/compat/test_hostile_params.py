"""Hostile and careless parameters: each is refused with a Milvus status before any work,
or served correctly with bounded resources, and the server keeps serving (issue 7).

Covers: `ef` of 2^31, 2^40, 2^62, 1e30, "abc", a list, below `limit` (knowhere's messages),
on HNSW and AUTOINDEX and in range search; `efConstruction = 2^31-1` and `M` in (512, 2048]
(valid for Milvus: the build must finish and serve, not abort or hang); NaN/Inf query vectors
refused and overflowing ones (3e38) still answered with `limit` hits; NaN / inconsistent
`radius`/`range_filter`; always-true delete expressions; `dim` 0 and 1; JSON values no client
can read back (lone surrogate, 1e999, 10,000-deep nesting), in a JSON field and in `$meta`.
"""

import json
import time

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient

from _util import (
    T,
    assert_still_serving,
    count_rows,
    index_params,
    make_loaded_collection,
    milvus_error,
    rand_vectors,
    simple_schema,
)

INVALID_PARAM = {1100, 1101, 1102}
DIM = 8
N = 300


def _fill(client, name, n=N, dim=DIM, seed=1):
    vecs = rand_vectors(n, dim, seed)
    client.insert(name, [{"id": i, "vec": vecs[i].tolist()} for i in range(n)])
    return vecs


@pytest.fixture
def hnsw(client, unique_name):
    name = unique_name()
    make_loaded_collection(client, name, dim=DIM, index_type="HNSW", metric="L2",
                           M=16, efConstruction=64)
    vecs = _fill(client, name)
    client.flush(name)
    yield name, vecs
    client.drop_collection(name)


@pytest.mark.parametrize("ef", [2**31, 2**40, 2**62, 1e30, -1, 0, "abc", [32], True, 32.0])
@pytest.mark.parametrize("range_search", [False, True])
def test_out_of_range_or_mistyped_ef_is_refused(client, hnsw, ef, range_search):
    name, vecs = hnsw
    params = {"ef": ef}
    if range_search:
        params["radius"] = 10.0
    e = milvus_error(client.search, name, [vecs[0].tolist()], limit=10,
                     search_params={"metric_type": "L2", "params": params})
    assert e.code in INVALID_PARAM, e
    assert "param 'ef'" in e.message, e.message
    assert_still_serving(client)
    # Valid searches keep working, with the full limit.
    res = client.search(name, [vecs[0].tolist()], limit=10,
                        search_params={"metric_type": "L2", "params": {"ef": 2**31 - 1}})
    assert len(res[0]) == 10 and res[0][0]["id"] == 0


def test_ef_below_limit_is_refused_as_knowhere_does(client, hnsw):
    name, vecs = hnsw
    e = milvus_error(client.search, name, [vecs[0].tolist()], limit=20,
                     search_params={"params": {"ef": 5}})
    assert e.code in INVALID_PARAM
    assert "ef(5) should be larger than k(20)" in e.message, e.message
    # A string holding an integer is accepted, as Milvus converts it.
    res = client.search(name, [vecs[0].tolist()], limit=5, search_params={"params": {"ef": "32"}})
    assert len(res[0]) == 5


def test_autoindex_validates_ef_too(client, unique_name):
    name = unique_name()
    client.create_collection(name, dimension=DIM)
    client.insert(name, [{"id": i, "vector": v.tolist()} for i, v in enumerate(rand_vectors(50, DIM))])
    e = milvus_error(client.search, name, [[0.1] * DIM], limit=3,
                     search_params={"params": {"ef": 2**40}})
    assert e.code in INVALID_PARAM and "should be in range [1, 2147483647]" in e.message
    client.drop_collection(name)


@pytest.mark.timeout_s(180)
def test_huge_ef_construction_and_large_m_build_and_serve(fresh_server, unique_name):
    """Both are inside Milvus's ranges, so they are accepted; the build is bounded by the data,
    finishes, is reported Finished, serves full results, and the data dir restarts cleanly."""
    client = MilvusClient(uri=fresh_server.uri, timeout=60)
    for params in ({"M": 16, "efConstruction": 2**31 - 1}, {"M": 2048, "efConstruction": 100},
                   {"M": 1000, "efConstruction": 64}):
        name = unique_name()
        client.create_collection(name, schema=simple_schema(DIM), timeout=T)
        vecs = _fill(client, name)
        client.flush(name)
        client.create_index(name, index_params("vec", "HNSW", "L2", **params), timeout=60)
        desc = client.describe_index(name, "vec")
        assert desc["state"] == "Finished", desc
        assert desc["indexed_rows"] == N, desc
        client.load_collection(name, timeout=T)
        res = client.search(name, [vecs[7].tolist()], limit=50, search_params={"params": {"ef": 64}})
        assert len(res[0]) == 50 and res[0][0]["id"] == 7
    client.close()
    fresh_server.kill()
    fresh_server.start()
    client = MilvusClient(uri=fresh_server.uri, timeout=30)
    assert_still_serving(client)
    client.close()


def test_index_params_outside_milvus_ranges_are_refused(client, unique_name):
    name = unique_name()
    client.create_collection(name, schema=simple_schema(DIM), timeout=T)
    for params, text in (({"M": 2049}, "param 'M' (2049) should be in range [2, 2048]"),
                         ({"M": 1}, "param 'M' (1) should be in range [2, 2048]"),
                         ({"efConstruction": 2**31}, "efConstruction")):
        e = milvus_error(client.create_index, name, index_params("vec", "HNSW", "L2", **params))
        assert e.code in INVALID_PARAM and text in e.message, e.message
    client.drop_collection(name)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_query_vectors_are_refused(client, hnsw, bad):
    name, vecs = hnsw
    q = vecs[0].tolist()
    q[3] = bad
    e = milvus_error(client.search, name, [q], limit=10)
    assert e.code in INVALID_PARAM and "not a finite number" in e.message, e.message


# On HNSW the graph must be built before the search (else the segment is scanned exactly):
# infinite distances used to stop its traversal after 1-3 hits (issue 7, defect 6).
@pytest.mark.parametrize("index_type", ["FLAT", "HNSW"])
def test_overflowing_distances_still_return_limit_hits(client, unique_name, index_type):
    name = unique_name()
    params = {"M": 16, "efConstruction": 64} if index_type == "HNSW" else {}
    make_loaded_collection(client, name, dim=DIM, index_type=index_type, metric="L2", **params)
    _fill(client, name)
    client.flush(name)
    if index_type == "HNSW":
        deadline = time.monotonic() + 60
        while client.describe_index(name, "vec")["indexed_rows"] != N:
            assert time.monotonic() < deadline, client.describe_index(name, "vec")
            time.sleep(0.2)
    for scale in (3e38, 1e20):
        res = client.search(name, [[scale] * DIM], limit=50)
        assert len(res[0]) == 50, (scale, len(res[0]))
        assert len({h["id"] for h in res[0]}) == 50
    client.drop_collection(name)


@pytest.mark.parametrize("metric,params,code,text", [
    ("L2", {"radius": "abc"}, 1100, "radius"),
    # Milvus 2.6: segcore's range check (a plain error), the proxy's radius rule (1100).
    ("L2", {"radius": 1, "range_filter": 10},
     65535, "metric type (L2), range_filter(10) must be less than radius(1)"),
    ("COSINE", {"radius": 0.5, "range_filter": 0.25},
     65535, "metric type (COSINE), range_filter(0.25) must be greater than radius(0.5)"),
    ("COSINE", {"range_filter": 0.5}, 1100, "range_filter requires radius to be set"),
])
def test_bad_range_parameters_are_refused(client, hnsw, unique_name, metric, params, code, text):
    name, vecs = hnsw
    if metric != "L2":
        name = unique_name()
        make_loaded_collection(client, name, dim=vecs.shape[1], metric=metric)
    e = milvus_error(client.search, name, [vecs[0].tolist()], limit=5,
                     search_params={"metric_type": metric, "params": params})
    assert e.code == code and text in e.message, (e.code, e.message)
    if metric != "L2":
        client.drop_collection(name)


def test_nan_radius_is_refused(client, hnsw):
    """pymilvus serialises float('nan') as the bare token NaN, which is not JSON."""
    name, vecs = hnsw
    e = milvus_error(client.search, name, [vecs[0].tolist()], limit=5,
                     search_params={"metric_type": "L2", "params": {"radius": float("nan")}})
    assert e.code in INVALID_PARAM


@pytest.mark.parametrize("expr", ["true", "  ", "1 == 1", "not false", "id >= 0 or true", "1 + 1 == 2"])
def test_always_true_delete_is_refused(client, hnsw, expr):
    name, _ = hnsw
    e = milvus_error(client.delete, name, filter=expr)
    assert e.code in INVALID_PARAM
    assert "delete plan can't be empty or always true" in e.message, e.message
    assert count_rows(client, name) == N


def test_constant_false_and_mixed_delete_filters(client, hnsw):
    """Folding constants never widens a delete: `false` parts delete nothing, `and true` is a no-op."""
    name, _ = hnsw
    assert client.delete(name, filter="1 == 2")["delete_count"] == 0
    assert client.delete(name, filter="id < 0 or false")["delete_count"] == 0
    assert count_rows(client, name) == N
    assert client.delete(name, filter="id in [0, 1] and true")["delete_count"] == 2
    assert count_rows(client, name) == N - 2


@pytest.mark.parametrize("dim", [0, 1, 32769])
def test_vector_dim_outside_range_is_refused(client, unique_name, dim):
    name = unique_name()
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    e = milvus_error(client.create_collection, name, schema=schema)
    # Milvus 2.6's texts, the field named only above the maximum.
    want = (f"invalid dimension: {dim}. should be in range 2 ~ 32768" if dim <= 1 else
            f"invalid dimension: {dim} of field vec. float vector dimension should be in range 2 ~ 32768")
    assert e.code == 1100 and e.message == f"{want}: invalid parameter", e.message
    assert not client.has_collection(name)


DEEP = "[" * 10_000 + "]" * 10_000


@pytest.mark.parametrize("raw", ['{"a": "\\ud800"}', '{"a": 1e999}', DEEP])
def test_json_no_client_can_read_back_is_refused(client, unique_name, raw):
    name = unique_name()
    make_loaded_collection(client, name, dim=DIM, dynamic=True,
                           extra=[("j", DataType.JSON, {})])
    # pymilvus would encode a Python object itself; raw text reaches the wire through a
    # str subclass whose json encoding is the text as is (what a non-Python client sends).
    from pymilvus.client import entity_helper
    orig = entity_helper.convert_to_json
    entity_helper.convert_to_json = lambda obj: raw.encode() if obj == "RAW" else orig(obj)
    try:
        e = milvus_error(client.insert, name, [{"id": 1, "vec": [0.1] * DIM, "j": "RAW"}])
    finally:
        entity_helper.convert_to_json = orig
    assert e.code in INVALID_PARAM and "JSON" in e.message, e.message
    assert count_rows(client, name) == 0
    # A good document still goes in and reads back.
    client.insert(name, [{"id": 2, "vec": [0.1] * DIM, "j": {"a": [1, {"b": "é"}]}}])
    got = client.query(name, filter="id == 2", output_fields=["j"])
    assert got[0]["j"] == {"a": [1, {"b": "é"}]}
    client.drop_collection(name)
