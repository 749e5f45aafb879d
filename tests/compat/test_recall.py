"""HNSW quality through pymilvus on the shared 10k benchmark set (issue 2, item 6).

Generates `shared/bench` 10k (seed 42, 1536 dims, 8 tenants) with the shared generator, inserts it
in 1,000-row batches, builds HNSW (COSINE, M=16, efConstruction=256) and checks
recall@10 >= 0.95 at ef=64 against the exact ground truth, both unfiltered (`gt.ivecs`) and
restricted to each query's tenant with a filter (`gt_tenant.ivecs`), where every hit must
belong to the tenant. Skipped when the shared folder is not next to the repository.
"""

import subprocess
import sys

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient

from conftest import REPO_ROOT
from _util import T, index_params

BENCH = REPO_ROOT.parent / "shared" / "bench"
NQ = 100


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    if not (BENCH / "gen_dataset.py").exists():
        pytest.skip(f"shared benchmark generator not found at {BENCH}")
    out = tmp_path_factory.mktemp("bench-10k")
    subprocess.run(
        [sys.executable, str(BENCH / "gen_dataset.py"), "--n", "10000", "--nq", str(NQ),
         "--k", "10", "--seed", "42", "--out", str(out)],
        check=True, capture_output=True, timeout=300,
    )
    sys.path.insert(0, str(BENCH))
    try:
        from gen_dataset import read_fvecs, read_ivecs
    finally:
        sys.path.remove(str(BENCH))
    return {
        "base": np.array(read_fvecs(str(out / "base.fvecs"))),
        "query": np.array(read_fvecs(str(out / "query.fvecs"))),
        "gt": read_ivecs(str(out / "gt.ivecs")),
        "gt_tenant": read_ivecs(str(out / "gt_tenant.ivecs")),
        "tenant_base": np.fromfile(out / "tenant_base.u32", dtype="<u4"),
        "tenant_query": np.fromfile(out / "tenant_query.u32", dtype="<u4"),
    }


def recall(found, gt, k=10):
    total = 0.0
    for f, g in zip(found, gt):
        g = [x for x in g[:k] if x >= 0]
        total += len(set(f[:k]) & set(g)) / len(g)
    return total / len(found)


@pytest.mark.timeout_s(400)
def test_hnsw_recall_at_10_on_shared_10k(client, unique_name, dataset):
    base, queries = dataset["base"], dataset["query"]
    tb, tq = dataset["tenant_base"], dataset["tenant_query"]
    name = unique_name("recall")
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("tenant", DataType.INT64)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=base.shape[1])
    client.create_collection(name, schema=schema, timeout=T)
    try:
        for start in range(0, len(base), 1000):
            end = min(start + 1000, len(base))
            client.insert(name, [{"id": i, "tenant": int(tb[i]), "vec": base[i]} for i in range(start, end)])
        client.flush(name, timeout=120)
        client.create_index(name, index_params("vec", "HNSW", "COSINE", M=16, efConstruction=256), timeout=300)
        client.load_collection(name, timeout=120)
        params = {"metric_type": "COSINE", "params": {"ef": 64}}
        found = []
        for start in range(0, NQ, 20):
            res = client.search(name, [q for q in queries[start:start + 20]], limit=10, search_params=params)
            found.extend([h["id"] for h in hits] for hits in res)
        r = recall(found, dataset["gt"])
        assert r >= 0.95, f"unfiltered recall@10 at ef=64 is {r:.3f}"

        found = []
        for i in range(NQ):
            t = int(tq[i])
            res = client.search(name, [queries[i]], limit=10, filter=f"tenant == {t}",
                                output_fields=["tenant"], search_params=params)
            assert len(res[0]) == 10
            assert all(h["entity"]["tenant"] == t for h in res[0])
            found.append([h["id"] for h in res[0]])
        r = recall(found, dataset["gt_tenant"])
        assert r >= 0.95, f"tenant-filtered recall@10 at ef=64 is {r:.3f}"
    finally:
        client.drop_collection(name)
