"""Manual compaction as Milvus 2.6 clients drive it (issue 9, item 5).

`compact(target_size=…)` is a force merge whose plans cover every flushed segment;
`get_compaction_state` / `get_compaction_plans` report it; `list_persistent_segments` shows
the 2.5+ fields (level, is_sorted once the segment's index is built, storage version,
compaction_from); `MilvusClient.optimize()` runs end to end. These are the calls
VectorDBBench's Milvus client makes before it searches.
"""

import time

import numpy as np
import pytest
from pymilvus import MilvusClient

from _util import index_params, simple_schema
from conftest import QuiverServer

DIM = 8
# VectorDBBench's "as large as possible" target (MB).
HUGE_MB = ((1 << 63) - 1) // (1024**2)


def wait_until(pred, what: str, timeout: float = 60.0):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def small_segments(tmp_path):
    """A server whose 1,000-row flushes stay separate segments (none is "small")."""
    cfg = tmp_path / "quiver.toml"
    cfg.write_text("[limits]\nsegment_max_bytes = 65536\n")
    srv = QuiverServer(tmp_path / "data", extra_args=["--config", str(cfg)])
    srv.start()
    c = MilvusClient(uri=srv.uri, timeout=30)
    yield c
    c.close()
    srv.stop()


def fill(c: MilvusClient, name: str, batches: int = 3, rows: int = 1000) -> np.ndarray:
    c.create_collection(name, schema=simple_schema(DIM))
    ip = index_params("vec", "HNSW", "L2", M=8, efConstruction=64)
    c.create_index(name, ip)
    data = np.random.default_rng(7).random((batches * rows, DIM), dtype=np.float32)
    for b in range(batches):
        lo = b * rows
        c.insert(name, [{"id": i, "vec": data[i].tolist()} for i in range(lo, lo + rows)])
        c.flush(name)
    c.load_collection(name)
    return data


def sorted_segments(c: MilvusClient, name: str):
    segs = c.list_persistent_segments(name)
    return segs if segs and all(s.is_sorted for s in segs) else None


def test_force_merge_plans_cover_every_flushed_segment(small_segments):
    c, name = small_segments, "force_merge"
    data = fill(c, name)
    segs = wait_until(lambda: sorted_segments(c, name), "indexed segments")
    before = {s.segment_id for s in segs}
    assert len(before) == 3, segs
    for s in segs:
        assert s.state_name == "Flushed" and s.level_name == "L1", s
        assert s.num_rows == 1000 and s.storage_version == 2 and s.insert_channel, s

    cid = c.compact(name, target_size=HUGE_MB)
    assert cid > 0
    wait_until(lambda: c.get_compaction_state(cid) == "Completed", "compaction")
    plans = c.get_compaction_plans(cid)
    assert {src for p in plans.plans for src in p.sources} == before
    assert len(plans.plans) == 1
    target = plans.plans[0].target
    assert target not in before

    # The merged segment replaces its sources, is indexed again, and answers.
    segs = wait_until(lambda: sorted_segments(c, name), "re-indexed merged segment")
    assert [(s.segment_id, s.num_rows) for s in segs] == [(target, 3000)]
    assert set(segs[0].compaction_from) == before
    assert c.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"] == 3000
    hits = c.search(name, [data[1234].tolist()], limit=1, search_params={"ef": 64})[0]
    assert hits[0]["id"] == 1234

    # Listed by collection (compaction id 0), as pymilvus's list_compaction_tasks asks.
    tasks = c.list_compaction_tasks(name)
    assert [(p.sources, p.target) for p in tasks.plans] == [(plans.plans[0].sources, target)]
    assert tasks.plans[0].trigger_id == cid and tasks.state.name == "Completed"
    c.create_collection("force_merge_other", dimension=4)
    assert c.list_compaction_tasks("force_merge_other").plans == []
    c.drop_collection("force_merge_other")

    # Nothing left to merge: Milvus's -1 and a Completed state.
    cid = c.compact(name)
    assert cid == -1
    assert c.get_compaction_state(cid) == "Completed"
    assert c.get_compaction_plans(cid).plans == []


def test_optimize_runs_end_to_end(small_segments):
    c, name = small_segments, "optimize"
    fill(c, name, batches=2)
    result = c.optimize(name, target_size="1GB", timeout=120)
    assert result.status == "success" and result.compaction_id > 0, result
    segs = c.list_persistent_segments(name)
    assert len(segs) == 1 and segs[0].num_rows == 2000 and segs[0].is_sorted, segs
    assert c.query(name, filter="id in [0, 1999]", output_fields=["id"]) == [{"id": 0}, {"id": 1999}]
