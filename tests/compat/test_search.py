"""Vector search semantics, index management and load state.

Covers: COSINE / IP / L2 with FLAT, HNSW, AUTOINDEX and IVF_FLAT (exact ids, order and scores
against numpy on small data; L2 is the squared distance, ascending; COSINE/IP descending), other
common index names accepted (IVF_SQ8, IVF_PQ), nq > 1, offset, round_decimal, range search
(radius / range_filter for L2 and COSINE), group_by_field, filtered search exactness under a
selective and an unselective filter, vectors in output_fields, the ORM search path,
search/query before load (101), load without index (700), release then search, get_load_state,
describe_index (indexed_rows / total_rows / state), list_indexes and drop_index.
"""

import time
import uuid

import numpy as np
import pytest
from pymilvus import Collection, DataType, MilvusException

from _util import (
    raises_milvus,
    T,
    assert_hits_match,
    assert_sorted,
    expected_topk,
    index_params,
    make_loaded_collection,
    milvus_error,
    rand_vectors,
    scores,
    simple_schema,
)

DIM = 16
N = 300

INDEXES = {
    "FLAT": ({}, {}),
    "HNSW": ({"M": 16, "efConstruction": 200}, {"ef": 128}),
    "AUTOINDEX": ({}, {}),
    "IVF_FLAT": ({"nlist": 16}, {"nprobe": 16}),
}


def fill(client, name, n=N, dim=DIM, seed=0, extra=None):
    vecs = rand_vectors(n, dim, seed)
    data = [{"id": i, "vec": vecs[i].tolist()} for i in range(n)]
    if extra:
        for i, row in enumerate(data):
            row.update(extra(i))
    client.insert(name, data)
    return vecs


@pytest.mark.parametrize("index_type", list(INDEXES))
@pytest.mark.parametrize("metric", ["COSINE", "IP", "L2"])
def test_metric_exact_scores(client, unique_name, metric, index_type):
    build, search = INDEXES[index_type]
    name = unique_name()
    make_loaded_collection(client, name, dim=DIM, index_type=index_type, metric=metric, **build)
    try:
        vecs = fill(client, name, seed=1)
        queries = rand_vectors(3, DIM, seed=99)
        res = client.search(
            name,
            [q.tolist() for q in queries],
            limit=10,
            search_params={"metric_type": metric, "params": search},
        )
        assert len(res) == 3
        for q, hits in zip(queries, res):
            assert_hits_match(metric, hits, expected_topk(metric, q, vecs, list(range(N)), 10))
        # metric_type may be omitted: the index's metric is used
        res = client.search(name, [queries[0].tolist()], limit=3, search_params={"params": search})
        assert_hits_match(metric, res[0], expected_topk(metric, queries[0], vecs, list(range(N)), 3))
    finally:
        client.drop_collection(name)


@pytest.mark.parametrize(
    "index_type,build,search",
    [
        ("IVF_SQ8", {"nlist": 8}, {"nprobe": 8}),
        ("IVF_PQ", {"nlist": 8, "m": 4, "nbits": 8}, {"nprobe": 8}),
        ("HNSW", {"M": 8, "efConstruction": 64}, {"ef": 32}),
    ],
)
def test_common_index_names_accepted(client, unique_name, index_type, build, search):
    name = unique_name()
    make_loaded_collection(client, name, dim=DIM, index_type=index_type, metric="L2", **build)
    try:
        vecs = fill(client, name, n=100, seed=2)
        idx = client.describe_index(name, "vec")
        assert idx["index_type"] == index_type and idx["metric_type"] == "L2"
        res = client.search(name, [vecs[17].tolist()], limit=1, search_params={"params": search})
        assert res[0][0]["id"] == 17 and abs(res[0][0]["distance"]) < 1e-4
    finally:
        client.drop_collection(name)


def test_l2_is_squared_distance(client, unique_name):
    name = unique_name()
    make_loaded_collection(client, name, dim=3)
    try:
        client.insert(name, [{"id": 1, "vec": [0.1, 0.2, 0.3]}, {"id": 2, "vec": [0.3, 0.2, 0.1]}])
        res = client.search(name, [[0.1, 0.2, 0.3]], limit=2)
        assert [h["id"] for h in res[0]] == [1, 2]
        assert res[0][0]["distance"] == pytest.approx(0.0, abs=1e-6)
        assert res[0][1]["distance"] == pytest.approx(0.08, abs=1e-6)
    finally:
        client.drop_collection(name)


@pytest.fixture(scope="module")
def l2coll(server):
    """Module-wide FLAT/L2 collection of N rows with a `grp` and `r` field."""
    from pymilvus import MilvusClient

    c = MilvusClient(uri=server.uri)
    name = "search_mod_" + uuid.uuid4().hex[:10]
    make_loaded_collection(
        c, name, dim=DIM, extra=[("grp", DataType.INT64, {}), ("r", DataType.INT64, {})]
    )
    vecs = fill(c, name, seed=5, extra=lambda i: {"grp": i % 10, "r": (i * 37) % 100})
    yield name, vecs
    c.drop_collection(name)
    c.close()


def test_offset(client, l2coll):
    name, vecs = l2coll
    q = rand_vectors(1, DIM, seed=50)[0]
    full = expected_topk("L2", q, vecs, list(range(N)), 8)
    res = client.search(name, [q.tolist()], limit=5, offset=3)
    assert_hits_match("L2", res[0], full[3:8])


def test_round_decimal(client, l2coll):
    name, vecs = l2coll
    q = rand_vectors(1, DIM, seed=51)[0]
    res = client.search(name, [q.tolist()], limit=5, round_decimal=2)
    exact = scores("L2", q, vecs)
    for h in res[0]:
        assert h["distance"] == pytest.approx(round(exact[h["id"]], 2), abs=1e-5)


def test_range_search_l2(client, l2coll):
    name, vecs = l2coll
    q = vecs[0]
    d = scores("L2", q, vecs)
    lo, hi = float(np.quantile(d, 0.05)), float(np.quantile(d, 0.2))
    res = client.search(
        name, [q.tolist()], limit=N,
        search_params={"metric_type": "L2", "params": {"radius": hi, "range_filter": lo}},
    )
    got = {h["id"] for h in res[0]}
    want = {i for i in range(N) if lo <= d[i] < hi}
    assert all(lo - 1e-4 <= h["distance"] < hi + 1e-4 for h in res[0])
    assert_sorted("L2", [h["distance"] for h in res[0]])
    assert got == want


def test_range_search_cosine(client, unique_name):
    name = unique_name()
    make_loaded_collection(client, name, dim=DIM, metric="COSINE")
    try:
        vecs = fill(client, name, seed=6)
        q = rand_vectors(1, DIM, seed=60)[0]
        s = scores("COSINE", q, vecs)
        radius, range_filter = float(np.quantile(s, 0.7)), float(np.quantile(s, 0.95))
        res = client.search(
            name, [q.tolist()], limit=N,
            search_params={"metric_type": "COSINE", "params": {"radius": radius, "range_filter": range_filter}},
        )
        assert {h["id"] for h in res[0]} == {i for i in range(N) if radius < s[i] <= range_filter}
        assert_sorted("COSINE", [h["distance"] for h in res[0]])
    finally:
        client.drop_collection(name)


def test_group_by_field(client, l2coll):
    name, vecs = l2coll
    q = rand_vectors(1, DIM, seed=52)[0]
    res = client.search(name, [q.tolist()], limit=4, group_by_field="grp", output_fields=["grp"])
    hits = res[0]
    groups = [h["entity"]["grp"] for h in hits]
    assert len(hits) == 4 and len(set(groups)) == 4, groups
    d = scores("L2", q, vecs)
    best = {}
    for i in range(N):
        g = i % 10
        if g not in best or d[i] < d[best[g]]:
            best[g] = i
    want = sorted(best.values(), key=lambda i: d[i])[:4]
    assert [h["id"] for h in hits] == want


@pytest.mark.parametrize("expr,pred", [
    ("r == 7", lambda i: (i * 37) % 100 == 7),          # ~1% selective
    ("r in [3, 50]", lambda i: (i * 37) % 100 in (3, 50)),
    ("r != 7", lambda i: (i * 37) % 100 != 7),            # unselective
    ("grp == 2 and r > 40", lambda i: i % 10 == 2 and (i * 37) % 100 > 40),
])
def test_filtered_search_exact_flat(client, l2coll, expr, pred):
    name, vecs = l2coll
    mask = [pred(i) for i in range(N)]
    q = rand_vectors(1, DIM, seed=53)[0]
    k = 10
    res = client.search(name, [q.tolist()], limit=k, filter=expr, output_fields=["r", "grp"])
    want = expected_topk("L2", q, vecs, list(range(N)), k, mask=mask)
    assert len(res[0]) == min(k, sum(mask))
    for h in res[0]:
        assert pred(h["id"]) and h["entity"]["r"] == (h["id"] * 37) % 100
    assert_hits_match("L2", res[0], want)


@pytest.mark.timeout_s(180)
def test_filtered_search_exact_hnsw_selective_and_unselective(client, unique_name):
    name = unique_name()
    n = 3000
    make_loaded_collection(
        client, name, dim=DIM, index_type="HNSW", metric="COSINE",
        extra=[("r", DataType.INT64, {})], M=16, efConstruction=100,
    )
    try:
        rng = np.random.default_rng(8)
        r = rng.integers(0, 100, n)
        vecs = rand_vectors(n, DIM, seed=8)
        client.insert(name, [{"id": i, "vec": vecs[i].tolist(), "r": int(r[i])} for i in range(n)])
        queries = rand_vectors(5, DIM, seed=80)
        for expr, mask in (("r == 42", r == 42), ("r < 95", r < 95), ("r < 1", r < 1)):
            assert mask.sum() >= 10, expr
            res = client.search(name, [q.tolist() for q in queries], limit=10, filter=expr,
                                output_fields=["r"], search_params={"params": {"ef": 64}})
            for q, hits in zip(queries, res):
                assert len(hits) == 10, (expr, len(hits))
                assert all(mask[h["id"]] and h["entity"]["r"] == r[h["id"]] for h in hits), expr
                assert_sorted("COSINE", [h["distance"] for h in hits])
                s = scores("COSINE", q, vecs)
                for h in hits:
                    assert abs(h["distance"] - s[h["id"]]) < 1e-4
            if mask.sum() <= 100:
                # selective filters should be answered exactly (brute force over the matches)
                for q, hits in zip(queries, res):
                    want = expected_topk("COSINE", q, vecs, list(range(n)), 10, mask=mask)
                    assert_hits_match("COSINE", hits, want)
    finally:
        client.drop_collection(name)


@pytest.mark.parametrize("index_type,build", [("HNSW", {"M": 8, "efConstruction": 64}), ("FLAT", {})])
def test_deleted_rows_never_returned_and_k_still_filled(client, unique_name, index_type, build):
    """Delete the 30 nearest neighbours of q: the next 10 come back, none of the deleted."""
    name = unique_name()
    make_loaded_collection(client, name, dim=DIM, index_type=index_type, metric="L2", **build)
    try:
        n = 600
        vecs = fill(client, name, n=n, seed=12)
        q = rand_vectors(1, DIM, seed=120)[0]
        nearest = [i for i, _ in expected_topk("L2", q, vecs, list(range(n)), 30)]
        assert client.delete(name, ids=nearest)["delete_count"] == 30
        mask = [i not in set(nearest) for i in range(n)]
        res = client.search(name, [q.tolist()], limit=10, search_params={"params": {"ef": 64}})
        assert len(res[0]) == 10
        assert not {h["id"] for h in res[0]} & set(nearest)
        assert_hits_match("L2", res[0], expected_topk("L2", q, vecs, list(range(n)), 10, mask=mask))
    finally:
        client.drop_collection(name)


def test_range_search_hnsw_l2(client, unique_name):
    name = unique_name()
    make_loaded_collection(client, name, dim=DIM, index_type="HNSW", metric="L2", M=16, efConstruction=200)
    try:
        vecs = fill(client, name, seed=13)
        q = vecs[3]
        d = scores("L2", q, vecs)
        radius = float(np.quantile(d, 0.03))
        res = client.search(name, [q.tolist()], limit=50,
                            search_params={"metric_type": "L2", "params": {"radius": radius, "ef": 200}})
        want = {i for i in range(N) if d[i] < radius}
        assert {h["id"] for h in res[0]} == want
        assert all(h["distance"] < radius + 1e-5 for h in res[0])
        assert_sorted("L2", [h["distance"] for h in res[0]])
    finally:
        client.drop_collection(name)


def test_filter_matching_fewer_than_k(client, l2coll):
    name, _ = l2coll
    res = client.search(name, [[0.0] * DIM], limit=20, filter="id < 5")
    assert sorted(h["id"] for h in res[0]) == [0, 1, 2, 3, 4]
    res = client.search(name, [[0.0] * DIM, [1.0] * DIM], limit=20, filter="id < 0")
    assert len(res) == 2 and list(res[0]) == [] and list(res[1]) == []


def test_output_vector_field(client, l2coll):
    name, vecs = l2coll
    res = client.search(name, [vecs[9].tolist()], limit=2, output_fields=["vec", "grp"])
    assert res[0][0]["id"] == 9
    for h in res[0]:
        assert np.allclose(h["entity"]["vec"], vecs[h["id"]], atol=1e-6)
        assert h["entity"]["grp"] == h["id"] % 10


def test_orm_search_path(orm, l2coll):
    name, vecs = l2coll
    col = Collection(name, using=orm)
    qs = rand_vectors(2, DIM, seed=54)
    res = col.search(
        data=[q.tolist() for q in qs], anns_field="vec",
        param={"metric_type": "L2", "params": {}}, limit=4, expr="grp in [1, 3]",
        output_fields=["grp"],
    )
    assert len(res) == 2
    mask = [i % 10 in (1, 3) for i in range(N)]
    for q, hits in zip(qs, res):
        want = expected_topk("L2", q, vecs, list(range(N)), 4, mask=mask)
        assert [h.id for h in hits] == [i for i, _ in want]
        assert [h.distance for h in hits] == pytest.approx([s for _, s in want], abs=1e-4)
        assert all(h.entity.get("grp") in (1, 3) for h in hits)


# --------------------------------------------------------------------------- load / index state


def test_search_and_query_before_load_fail_101(client, unique_name):
    name = unique_name()
    client.create_collection(name, schema=simple_schema(4), timeout=T)
    try:
        client.insert(name, [{"id": 1, "vec": [1.0, 0, 0, 0]}])
        client.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
        assert client.get_load_state(name)["state"].name == "NotLoad"
        err = milvus_error(client.search, name, [[1.0, 0, 0, 0]], limit=1)
        assert err.code == 101, err
        err = milvus_error(client.query, name, filter="id > 0")
        assert err.code == 101, err
        client.load_collection(name, timeout=T)
        assert client.get_load_state(name)["state"].name == "Loaded"
        assert client.search(name, [[1.0, 0, 0, 0]], limit=1)[0][0]["id"] == 1
        client.release_collection(name)
        assert client.get_load_state(name)["state"].name == "NotLoad"
        err = milvus_error(client.search, name, [[1.0, 0, 0, 0]], limit=1)
        assert err.code == 101, err
    finally:
        client.drop_collection(name)


def test_load_without_index_fails_700(client, unique_name):
    name = unique_name()
    client.create_collection(name, schema=simple_schema(4), timeout=T)
    try:
        err = milvus_error(client.load_collection, name, timeout=T)
        assert err.code == 700, err
        assert err.message == f"index not found[collection={name}]"
        assert client.list_indexes(name) == []
    finally:
        client.drop_collection(name)


def test_describe_list_drop_index(client, orm, unique_name):
    name = unique_name()
    client.create_collection(name, schema=simple_schema(8), timeout=T)
    try:
        fill(client, name, n=50, dim=8, seed=3)
        client.flush(name, timeout=T)
        client.create_index(name, index_params("vec", "HNSW", "IP", M=8, efConstruction=32), timeout=T)
        assert client.list_indexes(name) == ["vec"]
        deadline = time.monotonic() + 15
        while True:
            idx = client.describe_index(name, "vec")
            if idx["indexed_rows"] == 50 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert idx["index_type"] == "HNSW" and idx["metric_type"] == "IP"
        assert idx["field_name"] == "vec" and idx["index_name"] == "vec"
        assert idx["state"] == "Finished"
        assert idx["total_rows"] == 50 and idx["indexed_rows"] == 50
        assert str(idx.get("M")) == "8" and str(idx.get("efConstruction")) == "32", idx
        # ORM view of the same index
        from pymilvus import utility

        prog = utility.index_building_progress(name, using=orm)
        assert prog["total_rows"] == 50 and prog["indexed_rows"] == 50, prog
        col = Collection(name, using=orm)
        assert col.has_index()
        assert col.index().params["index_type"] == "HNSW"
        client.drop_index(name, "vec")
        assert client.list_indexes(name) == []
        assert not col.has_index()
        # index again with a different metric
        client.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
        assert client.describe_index(name, "vec")["metric_type"] == "L2"
    finally:
        client.drop_collection(name)


def test_orm_load_release_and_state(orm, client, unique_name):
    from pymilvus import utility

    name = unique_name()
    client.create_collection(name, schema=simple_schema(4), timeout=T)
    try:
        col = Collection(name, using=orm)
        col.create_index("vec", {"index_type": "IVF_FLAT", "metric_type": "L2", "params": {"nlist": 8}}, timeout=T)
        col.load(timeout=T)
        assert utility.load_state(name, using=orm).name == "Loaded"
        assert utility.loading_progress(name, using=orm)["loading_progress"] in ("100%", 100)
        col.release()
        assert utility.load_state(name, using=orm).name == "NotLoad"
    finally:
        client.drop_collection(name)


def test_wrong_dim_query_vector_fails(client, l2coll):
    name, _ = l2coll
    with raises_milvus():
        client.search(name, [[1.0] * (DIM + 1)], limit=1)
    assert client.search(name, [[1.0] * DIM], limit=1)[0]


def test_two_vector_fields(client, unique_name):
    """Load needs an index on every vector field; anns_field picks the field; search works on each."""
    name = unique_name()
    schema = simple_schema(4, extra=[("vec_b", DataType.FLOAT_VECTOR, {"dim": 6})])
    client.create_collection(name, schema=schema, timeout=T)
    try:
        a = rand_vectors(40, 4, seed=30)
        b = rand_vectors(40, 6, seed=31)
        client.insert(name, [{"id": i, "vec": a[i].tolist(), "vec_b": b[i].tolist()} for i in range(40)])
        client.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
        # Milvus 2.6: no index at all is 700; an unindexed vector field among indexed ones 1100.
        err = milvus_error(client.load_collection, name, timeout=T)
        assert err.code == 1100, err
        assert err.message == (
            "there is no vector index on field: [vec_b], please create index firstly: "
            "invalid parameter"
        )
        client.create_index(name, index_params("vec_b", "HNSW", "IP", M=8, efConstruction=64), timeout=T)
        client.load_collection(name, timeout=T)
        assert sorted(client.list_indexes(name)) == ["vec", "vec_b"]
        qa, qb = rand_vectors(1, 4, seed=32)[0], rand_vectors(1, 6, seed=33)[0]
        res = client.search(name, [qa.tolist()], anns_field="vec", limit=5)
        assert_hits_match("L2", res[0], expected_topk("L2", qa, a, list(range(40)), 5))
        res = client.search(name, [qb.tolist()], anns_field="vec_b", limit=5,
                            search_params={"params": {"ef": 64}}, output_fields=["vec", "vec_b"])
        assert_hits_match("IP", res[0], expected_topk("IP", qb, b, list(range(40)), 5))
        h = res[0][0]
        assert np.allclose(h["entity"]["vec"], a[h["id"]], atol=1e-6)
        assert np.allclose(h["entity"]["vec_b"], b[h["id"]], atol=1e-6)
        with raises_milvus():
            client.search(name, [qb.tolist()], anns_field="vec", limit=5)  # wrong dim for vec
    finally:
        client.drop_collection(name)
