"""The seed program of issue 2, run verbatim against Quiver through the pymilvus ORM.

Covers: `connections.connect(host=..., port=...)` on the default alias, a VARCHAR-pk schema with
JSON metadata and a 1536-dim FLOAT_VECTOR, a multi-tenant column insert, flush, HNSW/COSINE
index, load, a tenant-filtered search (every hit is the tenant's, exactly the top 5, scores equal
numpy's cosine) and a query on `tenant_id == "acme" and metadata["source"] == "faq"`.
"""

import numpy as np
from pymilvus import (
    Collection,
    CollectionSchema,
    DataType,
    FieldSchema,
    connections,
    utility,
)

from _util import T, assert_sorted, expected_topk

TENANTS = ["acme", "globex", "initech", "umbrella"]
SOURCES = ["faq", "docs", "blog"]
ROWS_PER_TENANT = 15
DIM = 1536


def seed_rows():
    rng = np.random.default_rng(2026)
    n = ROWS_PER_TENANT * len(TENANTS)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    ids, contents, metadata, tenants = [], [], [], []
    for i in range(n):
        tenant = TENANTS[i % len(TENANTS)]
        ids.append(f"doc-{i:03d}")
        contents.append(f"{tenant} knowledge item {i}")
        metadata.append({"source": SOURCES[i % len(SOURCES)], "n": i, "lang": "en"})
        tenants.append(tenant)
    return ids, contents, vectors, metadata, tenants


def test_seed_program_verbatim(server):
    port = server.port
    ids, contents, vectors, metadata, tenants = seed_rows()
    q = np.random.default_rng(7).standard_normal(DIM).astype(np.float32).tolist()

    # ---- the seed program (only the data and the port are filled in) ----
    connections.connect(host="127.0.0.1", port=str(port))
    try:
        if utility.has_collection("agent_knowledge"):
            utility.drop_collection("agent_knowledge")
        fields = [
            FieldSchema(name="id", dtype=DataType.VARCHAR, max_length=64, is_primary=True),
            FieldSchema(name="content", dtype=DataType.VARCHAR, max_length=65535),
            FieldSchema(name="embedding", dtype=DataType.FLOAT_VECTOR, dim=1536),
            FieldSchema(name="metadata", dtype=DataType.JSON),
            FieldSchema(name="tenant_id", dtype=DataType.VARCHAR, max_length=64),
        ]
        col = Collection("agent_knowledge", CollectionSchema(fields, description="agent knowledge base"))
        col.insert([ids, contents, vectors.tolist(), metadata, tenants])  # rows from several tenants
        col.flush(timeout=T)
        col.create_index(
            "embedding",
            {"metric_type": "COSINE", "index_type": "HNSW", "params": {"M": 16, "efConstruction": 256}},
            timeout=T,
        )
        col.load(timeout=T)
        hits = col.search(data=[q], anns_field="embedding", param={"metric_type": "COSINE", "params": {"ef": 64}},
                          limit=5, expr='tenant_id == "acme"', output_fields=["content", "metadata", "tenant_id"])
        rows = col.query(expr='tenant_id == "acme" and metadata["source"] == "faq"',
                         output_fields=["id", "content"], limit=10)
        # ---- end of the seed program ----

        # Search: 5 acme hits, exactly the acme top 5 by cosine, scores descending.
        assert len(hits) == 1
        got = list(hits[0])
        acme = np.array([t == "acme" for t in tenants])
        expected = expected_topk("COSINE", q, vectors, ids, 5, mask=acme)
        assert len(got) == 5
        for hit in got:
            assert hit.entity.get("tenant_id") == "acme"
            i = ids.index(hit.id)
            assert hit.entity.get("content") == contents[i]
            assert hit.entity.get("metadata") == metadata[i]
        dists = [h.distance for h in got]
        assert_sorted("COSINE", dists)
        exp_score = dict(expected)
        for hit in got:
            v = vectors[ids.index(hit.id)].astype(np.float64)
            cos = float(v @ np.asarray(q) / (np.linalg.norm(v) * np.linalg.norm(q)))
            assert abs(hit.distance - cos) < 1e-4, (hit.id, hit.distance, cos)
        assert [h.id for h in got] == [i for i, _ in expected], (
            f"not the exact acme top 5: {[(h.id, h.distance) for h in got]} vs {expected}"
        )
        assert max(exp_score.values()) - 1e-4 <= dists[0]

        # Query: exactly the acme FAQ documents.
        want = sorted(
            i
            for i, t, m in zip(ids, tenants, metadata)
            if t == "acme" and m["source"] == "faq"
        )
        assert 0 < len(want) <= 10
        assert sorted(r["id"] for r in rows) == want
        for r in rows:
            assert r["content"] == contents[ids.index(r["id"])]

        # Re-opening the collection by name with the same schema works (schema echo).
        again = Collection("agent_knowledge", CollectionSchema(fields, description="agent knowledge base"))
        assert again.num_entities == len(ids)
        assert again.description == "agent knowledge base"
    finally:
        if utility.has_collection("agent_knowledge"):
            utility.drop_collection("agent_knowledge")
        connections.disconnect("default")
