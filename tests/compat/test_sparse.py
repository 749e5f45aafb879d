"""Sparse float vectors (`DataType.SPARSE_FLOAT_VECTOR`) through pymilvus.

Covers: inserting sparse rows as dicts, as lists of (index, value) pairs and as scipy CSR rows;
`SPARSE_INVERTED_INDEX`, `SPARSE_WAND` and AUTOINDEX with metric IP; exact inner-product
top-k (checked against a Python reference: rows sharing no term with the query are not hits)
on growing data and after a flush seals it (the sealed segment answers from its inverted
index), with filters and partitions; `drop_ratio_search`; sparse vectors in `output_fields`
returned as inserted; nullable sparse fields; persistence across a restart (WAL and segment);
a hybrid search over a dense and a sparse leg; and the errors a user hits (negative, infinite,
unsorted or duplicate entries; a `dim` on a sparse field; a dense index type or an L2 metric on
a sparse field; a drop ratio outside [0, 1)), each a Milvus status with code 1100 while the
server keeps serving.
"""

import numpy as np
import pytest
from pymilvus import AnnSearchRequest, DataType, MilvusClient, RRFRanker

from _util import T, assert_still_serving, milvus_error, rand_vectors, scores

N = 300
VOCAB = 400


def rand_sparse(n, seed, vocab=VOCAB):
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        k = int(rng.integers(3, 20))
        idx = rng.choice(vocab, size=k, replace=False)
        vals = rng.random(k).astype(np.float32) + np.float32(0.01)
        rows.append({int(i): float(v) for i, v in zip(idx, vals)})
    return rows


def f32(x):
    return float(np.float32(x))


def ip(a, b):
    """Inner product in float32, as the server computes it; None when no term is shared."""
    common = sorted(set(a) & set(b))
    if not common:
        return None
    s = np.float32(0)
    for i in common:
        s += np.float32(a[i]) * np.float32(b[i])
    return float(s)


def expected(query, rows, k, allowed=None):
    hits = []
    for pk, r in enumerate(rows):
        if allowed is not None and not allowed(pk):
            continue
        s = ip(query, r)
        if s is not None:
            hits.append((pk, s))
    hits.sort(key=lambda h: (-h[1], h[0]))
    return hits[:k]


def assert_hits(res, want, tol=1e-5):
    got = [(h["id"], h["distance"]) for h in res]
    assert len(got) == len(want), (got, want)
    for (gid, gs), (wid, ws) in zip(got, want):
        assert abs(gs - ws) <= tol * max(1.0, abs(ws)), (got, want)
        if gid != wid:
            assert abs(dict(want)[gid] - ws) <= tol * max(1.0, abs(ws)), (got, want)


def make(client, name, index_type="SPARSE_INVERTED_INDEX", params=None, nullable=False, dense=False):
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("sv", DataType.SPARSE_FLOAT_VECTOR, nullable=nullable)
    schema.add_field("tag", DataType.INT64)
    if dense:
        schema.add_field("dv", DataType.FLOAT_VECTOR, dim=8)
    idx = client.prepare_index_params()
    idx.add_index("sv", index_type=index_type, metric_type="IP", params=params or {})
    if dense:
        idx.add_index("dv", index_type="FLAT", metric_type="COSINE")
    client.create_collection(name, schema=schema, index_params=idx)


@pytest.mark.parametrize("index_type", ["SPARSE_INVERTED_INDEX", "SPARSE_WAND", "AUTOINDEX"])
def test_exact_inner_product_before_and_after_seal(client, unique_name, index_type):
    name = unique_name("sp")
    make(client, name, index_type, {"drop_ratio_build": 0.0} if index_type != "AUTOINDEX" else {})
    try:
        client.create_partition(name, "p1")
        rows = rand_sparse(N, seed=1)
        data = [{"id": i, "sv": rows[i], "tag": i % 5} for i in range(N)]
        client.insert(name, data[: N // 2])
        client.insert(name, data[N // 2 :], partition_name="p1")
        client.load_collection(name, timeout=T)
        queries = rand_sparse(3, seed=2)
        for phase in ("growing", "sealed"):
            res = client.search(name, queries, anns_field="sv", limit=10,
                                search_params={"metric_type": "IP"}, output_fields=["sv", "tag"])
            for q, hits in zip(queries, res):
                assert_hits(hits, expected(q, rows, 10))
                for h in hits:
                    got = h["entity"]["sv"]
                    assert {int(k): f32(v) for k, v in got.items()} == {
                        k: f32(v) for k, v in rows[h["id"]].items()
                    }
            res = client.search(name, [queries[0]], anns_field="sv", limit=7, filter="tag == 2")
            assert_hits(res[0], expected(queries[0], rows, 7, lambda pk: pk % 5 == 2))
            res = client.search(name, [queries[1]], anns_field="sv", limit=5, partition_names=["p1"])
            assert_hits(res[0], expected(queries[1], rows, 5, lambda pk: pk >= N // 2))
            client.flush(name, timeout=T)
    finally:
        client.drop_collection(name)


def test_other_input_forms_drop_ratio_search_and_restart(fresh_server, unique_name):
    scipy_sparse = pytest.importorskip("scipy.sparse")
    client = MilvusClient(uri=fresh_server.uri)
    name = unique_name("sp")
    make(client, name, "SPARSE_INVERTED_INDEX", {"drop_ratio_build": 0.0})
    rows = rand_sparse(40, seed=3)
    # dicts, lists of pairs, and scipy CSR rows
    client.insert(name, [{"id": i, "sv": rows[i], "tag": 0} for i in range(20)])
    client.insert(name, [{"id": i, "sv": sorted(rows[i].items()), "tag": 0} for i in range(20, 30)])
    for i in range(30, 40):
        idx = np.array(sorted(rows[i]), dtype=np.int64)
        vals = np.array([rows[i][j] for j in idx], dtype=np.float32)
        m = scipy_sparse.csr_matrix((vals, (np.zeros(len(idx), dtype=np.int64), idx)), shape=(1, VOCAB))
        client.insert(name, [{"id": i, "sv": m, "tag": 0}])
    client.load_collection(name, timeout=T)
    q = rand_sparse(1, seed=4)[0]
    assert_hits(client.search(name, [q], anns_field="sv", limit=10)[0], expected(q, rows, 10))
    # drop_ratio_search: the smallest half of the query's values are ignored
    kept = dict(sorted(q.items(), key=lambda kv: f32(kv[1]))[len(q) // 2 :])
    res = client.search(name, [q], anns_field="sv", limit=10,
                        search_params={"params": {"drop_ratio_search": 0.5}})
    assert_hits(res[0], expected(kept, rows, 10))
    # acknowledged rows survive a kill -9 (WAL) and a flush + restart (segment)
    fresh_server.kill()
    fresh_server.start()
    client = MilvusClient(uri=fresh_server.uri)
    client.load_collection(name, timeout=T)
    assert_hits(client.search(name, [q], anns_field="sv", limit=10)[0], expected(q, rows, 10))
    client.flush(name, timeout=T)
    fresh_server.stop()
    fresh_server.start()
    client = MilvusClient(uri=fresh_server.uri)
    client.load_collection(name, timeout=T)
    assert_hits(client.search(name, [q], anns_field="sv", limit=10)[0], expected(q, rows, 10))
    got = client.get(name, ids=[25], output_fields=["sv"])[0]["sv"]
    assert {int(k): f32(v) for k, v in got.items()} == {k: f32(v) for k, v in rows[25].items()}


def test_nullable_sparse_field_and_hybrid_with_a_dense_leg(client, unique_name):
    name = unique_name("sp")
    make(client, name, nullable=True, dense=True)
    try:
        rows = rand_sparse(60, seed=5)
        dense = rand_vectors(60, 8, seed=6)
        data = [
            {"id": i, "sv": rows[i] if i % 3 else None, "tag": i, "dv": dense[i].tolist()}
            for i in range(60)
        ]
        client.insert(name, data)
        client.load_collection(name, timeout=T)
        assert client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"] == 60
        q = rand_sparse(1, seed=7)[0]
        res = client.search(name, [q], anns_field="sv", limit=10)
        assert_hits(res[0], expected(q, rows, 10, lambda pk: pk % 3 != 0))
        got = client.get(name, ids=[3, 4], output_fields=["sv"])
        by_id = {r["id"]: r["sv"] for r in got}
        assert by_id[3] is None and by_id[4]

        dq = rand_vectors(1, 8, seed=8)[0]
        reqs = [
            AnnSearchRequest([q], "sv", {"metric_type": "IP"}, limit=10),
            AnnSearchRequest([dq.tolist()], "dv", {"metric_type": "COSINE"}, limit=10),
        ]
        res = client.hybrid_search(name, reqs, RRFRanker(), limit=5)
        sparse_leg = expected(q, rows, 10, lambda pk: pk % 3 != 0)
        s = scores("COSINE", dq, dense)
        dense_leg = sorted(range(60), key=lambda i: (-s[i], i))[:10]
        fused = {}
        for leg in ([pk for pk, _ in sparse_leg], dense_leg):
            for rank, pk in enumerate(leg, start=1):
                fused[pk] = fused.get(pk, 0.0) + 1.0 / (60 + rank)
        want = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        assert_hits(res[0], want)
    finally:
        client.drop_collection(name)


def test_invalid_sparse_input_is_refused_and_the_server_keeps_serving(client, unique_name):
    name = unique_name("sp")
    make(client, name)
    try:
        client.load_collection(name, timeout=T)
        cases = [
            ({1: -0.5, 3: 1.0}, "negative value in sparse float vector"),
            ({1: float("inf")}, "value '+Inf' is not a number or infinity"),
            ([(2, 0.5), (2, 0.7)], "unsorted or same indices in sparse float vector"),
        ]
        for row, text in cases:
            e = milvus_error(lambda: client.insert(name, [{"id": 1, "sv": row, "tag": 0}]))
            assert e.code == 1100 and text in e.message, e
            e = milvus_error(lambda: client.search(name, [row], anns_field="sv", limit=3))
            assert e.code == 1100 and text in e.message, e
        assert client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"] == 0
        e = milvus_error(lambda: client.search(name, [{1: 1.0}], anns_field="sv", limit=3,
                                               search_params={"params": {"drop_ratio_search": 1.5}}))
        assert e.code == 1100 and "drop_ratio_search" in e.message
        assert_still_serving(client)
    finally:
        client.drop_collection(name)

    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("sv", DataType.SPARSE_FLOAT_VECTOR, dim=16)
    e = milvus_error(lambda: client.create_collection(unique_name("sp"), schema=schema))
    assert e.code == 1100 and "dim should not be specified for sparse vector field sv" in e.message

    name = unique_name("sp")
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("sv", DataType.SPARSE_FLOAT_VECTOR)
    client.create_collection(name, schema=schema)
    try:
        for index_type, metric, params, text in [
            ("HNSW", "IP", {}, "is not supported on the sparse float vector field sv"),
            ("SPARSE_INVERTED_INDEX", "L2", {}, "supported: [IP BM25]"),
            ("SPARSE_WAND", "IP", {"drop_ratio_build": 1.0}, "drop_ratio_build"),
        ]:
            idx = client.prepare_index_params()
            idx.add_index("sv", index_type=index_type, metric_type=metric, params=params)
            e = milvus_error(lambda: client.create_index(name, idx))
            assert e.code == 1100 and text in e.message, e
        assert_still_serving(client)
    finally:
        client.drop_collection(name)
