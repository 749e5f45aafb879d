"""An index build that fails for good is reported as Failed, never retried, and never blocks a restart.

The failure is forced with a real bound: `[limits] index_build_max_bytes` set far below what
the build needs, so the builder refuses it. Then, as in Milvus: DescribeIndex reports
`IndexState.Failed` (4) with `index_state_fail_reason`, and pymilvus's `create_index` (which
waits for the build) raises with that reason instead of waiting forever. A restart on the
same data dir boots promptly and serves exact searches over the unindexed data; dropping the
index and creating it again (with a bound the build fits) clears the failure.
"""

import re
import time

import pytest
from pymilvus import DataType, MilvusClient, MilvusException
from pymilvus.grpc_gen import milvus_pb2

from _util import T, expected_topk, index_params, rand_vectors
from conftest import QuiverServer

DIM = 16
N = 300


def connect(srv) -> MilvusClient:
    return MilvusClient(uri=srv.uri, dedicated=True, timeout=30)


def raw_describe(c, name):
    """DescribeIndex as sent on the wire (pymilvus's dict drops the state number)."""
    return c._get_connection()._stub.DescribeIndex(
        milvus_pb2.DescribeIndexRequest(collection_name=name, index_name=""), timeout=T
    )


@pytest.mark.timeout_s(240)
def test_refused_build_is_failed_with_reason_and_restart_serves(tmp_path):
    cfg = tmp_path / "quiver.toml"
    cfg.write_text("[limits]\nindex_build_max_bytes = 1000\n")
    srv = QuiverServer(tmp_path / "data", extra_args=["--config", str(cfg)])
    srv.start()
    name = "build_failed"
    vecs = rand_vectors(N, DIM, seed=3)
    try:
        c = connect(srv)
        s = MilvusClient.create_schema()
        s.add_field("id", DataType.INT64, is_primary=True)
        s.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
        c.create_collection(name, schema=s)
        c.insert(name, [{"id": i, "vec": vecs[i].tolist()} for i in range(N)])
        c.flush(name)
        t0 = time.monotonic()
        with pytest.raises(MilvusException) as exc:
            c.create_index(name, index_params("vec", "HNSW", "L2", M=8, efConstruction=64), timeout=T)
        assert time.monotonic() - t0 < 20, "create_index waited instead of failing"
        assert "index_build_max_bytes" in str(exc.value)
        # Raw DescribeIndex: state Failed (4) with the reason, as Milvus reports it.
        resp = raw_describe(c, name)
        assert resp.status.code == 0
        (d,) = resp.index_descriptions
        assert d.state == 4
        assert "index_build_max_bytes" in d.index_state_fail_reason
        c.close()

        # A restart boots promptly and serves exact results over the unindexed rows.
        srv.restart()
        assert srv.startup_seconds is not None and srv.startup_seconds < 5
        c = connect(srv)
        assert raw_describe(c, name).index_descriptions[0].state == 4
        c.load_collection(name, timeout=T)
        q = rand_vectors(1, DIM, seed=99)[0]
        hits = c.search(name, [q.tolist()], limit=5, search_params={"metric_type": "L2"})[0]
        want = expected_topk("L2", q, vecs, list(range(N)), 5)
        assert [h["id"] for h in hits] == [i for i, _ in want]
        c.release_collection(name)
        c.close()

        # Without the bound: drop + create builds the index and clears the failure.
        srv.stop()
        # Drop only `--config`: under QUIVER_TEST_STORAGE the args also name the bucket.
        i = srv.extra_args.index("--config")
        del srv.extra_args[i:i + 2]
        srv.start()
        c = connect(srv)
        c.drop_index(name, "vec")
        c.create_index(name, index_params("vec", "HNSW", "L2", M=8, efConstruction=64), timeout=T)
        (d,) = raw_describe(c, name).index_descriptions
        assert d.state == 3  # Finished
        assert d.index_state_fail_reason == ""
        assert d.indexed_rows == N
        c.close()
    finally:
        srv.kill()


def test_each_build_logs_where_its_time_went(tmp_path):
    """One `index built` line per build, with the phases an operator needs to tell a
    slow object store (read) from a slow decode or a slow build."""
    srv = QuiverServer(tmp_path / "data").start()
    try:
        c = connect(srv)
        name = "logged"
        schema = MilvusClient.create_schema()
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
        c.create_collection(name, schema=schema)
        vecs = rand_vectors(N, DIM, seed=3)
        c.insert(name, [{"id": i, "vec": vecs[i].tolist()} for i in range(N)])
        c.flush(name)
        c.create_index(name, index_params("vec", "HNSW", "L2", M=8, efConstruction=32), timeout=T)
        deadline = time.monotonic() + 30
        while "index built" not in srv.log_text():
            assert time.monotonic() < deadline, srv.log_text()[-2000:]
            time.sleep(0.1)
        plain = re.sub(r"\x1b\[[0-9;]*m", "", srv.log_text())  # the log is coloured
        line = next(ln for ln in plain.splitlines() if "index built" in ln)
        for key in (f"rows={N}", "read_ms=", "decode_ms=", "build_ms=", "serialize_ms=", "write_ms="):
            assert key in line, line
        c.close()
    finally:
        srv.kill()
