"""Nullable vector fields (Milvus 2.6): rows without a vector are stored, counted and
queryable, and never returned by a search on that field — through growing segments,
sealed segments with an HNSW graph, a restart, and a vector field added to a live
collection with `add_collection_field`.
"""

import time

import numpy as np
from pymilvus import DataType, MilvusClient

from _util import T, expected_topk, index_params, simple_schema

DIM = 8
N = 200


def _vectors(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, DIM), dtype=np.float32)


def _exact(c, name, field, q, ids, vecs, metric="L2", k=10, flt=None):
    hits = c.search(name, [q.tolist()], anns_field=field, limit=k, filter=flt or "",
                    search_params={"metric_type": metric, "params": {"ef": 256}})[0]
    want = expected_topk(metric, q, vecs, ids, k)
    return [h["id"] for h in hits], [i for i, _ in want]


def test_rows_without_a_vector_are_stored_counted_and_never_hits(client, unique_name):
    c, name = client, unique_name()
    schema = simple_schema(DIM, extra=[("v2", DataType.FLOAT_VECTOR, {"dim": DIM,
                                                                       "nullable": True})])
    c.create_collection(name, schema=schema, timeout=T)
    ip = index_params("vec", "FLAT", "L2")
    ip.add_index(field_name="v2", index_type="HNSW", metric_type="L2",
                 params={"M": 16, "efConstruction": 64})
    c.create_index(name, ip, timeout=T)
    c.load_collection(name, timeout=T)
    base, extra = _vectors(N, 1), _vectors(N, 2)
    rows = [{"id": i, "vec": base[i].tolist(), "v2": extra[i].tolist() if i % 3 else None}
            for i in range(N)]
    c.insert(name, rows[: N // 2])
    c.flush(name, timeout=T)  # half sealed (HNSW on v2), half growing
    c.insert(name, rows[N // 2:])
    present = np.array([i for i in range(N) if i % 3])
    q = _vectors(1, 9)[0]
    got, want = _exact(c, name, "v2", q, present, extra[present], k=10)
    assert got == want
    assert all(i % 3 for i in got)
    # A search on the non-null field still sees every row.
    got, want = _exact(c, name, "vec", q, np.arange(N), base, k=10)
    assert got == want
    # Asking for more hits than rows with a vector returns only those rows.
    hits = c.search(name, [q.tolist()], anns_field="v2", limit=N, output_fields=["v2"])[0]
    assert sorted(h["id"] for h in hits) == present.tolist()
    assert all(h["entity"]["v2"] is not None for h in hits)
    # Counted and queryable, null read back as None.
    assert c.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"] == N
    got = {r["id"]: r["v2"] for r in c.query(name, filter="id < 9", output_fields=["v2"])}
    assert [i for i, v in sorted(got.items()) if v is None] == [0, 3, 6]
    np.testing.assert_allclose(got[1], extra[1], rtol=1e-6)


def test_vector_field_added_to_a_live_collection(fresh_server):
    srv = fresh_server
    c = MilvusClient(uri=srv.uri, timeout=T, dedicated=True)
    c.create_collection("addvec", schema=simple_schema(DIM), timeout=T)
    c.create_index("addvec", index_params("vec", "FLAT", "L2"), timeout=T)
    base = _vectors(2 * N, 3)
    c.insert("addvec", [{"id": i, "vec": base[i].tolist()} for i in range(N)])
    c.flush("addvec", timeout=T)  # a sealed segment written before the field existed
    c.add_collection_field("addvec", "emb", DataType.FLOAT_VECTOR, dim=DIM, nullable=True)
    c.create_index("addvec", index_params("emb", "HNSW", "L2", M=16, efConstruction=64),
                   timeout=T)
    emb = _vectors(2 * N, 4)
    new = [{"id": i, "vec": base[i].tolist(), "emb": emb[i].tolist() if i % 2 else None}
           for i in range(N, 2 * N)]
    c.insert("addvec", new)
    c.flush("addvec", timeout=T)
    c.load_collection("addvec", timeout=T)
    has = np.array([i for i in range(N, 2 * N) if i % 2])
    q = _vectors(1, 7)[0]
    got, want = _exact(c, "addvec", "emb", q, has, emb[has], k=10)
    assert got == want
    deadline = time.monotonic() + T
    while (idx := c.describe_index("addvec", "emb"))["indexed_rows"] < 2 * N:
        assert time.monotonic() < deadline, idx
        time.sleep(0.1)
    # The segment written before the field was added has a graph too (over
    # its null rows' placeholders), so the index reports complete.
    assert idx["total_rows"] == 2 * N and idx["state"] == "Finished"
    got, want = _exact(c, "addvec", "emb", q, has, emb[has], k=10)
    assert got == want
    c.close()
    srv.kill()
    srv.start()
    c = MilvusClient(uri=srv.uri, timeout=T, dedicated=True)
    c.load_collection("addvec", timeout=T)
    got, want = _exact(c, "addvec", "emb", q, has, emb[has], k=10)
    assert got == want
    old = c.query("addvec", filter="id < 3", output_fields=["emb"])
    assert [r["emb"] for r in old] == [None, None, None]
    c.close()
