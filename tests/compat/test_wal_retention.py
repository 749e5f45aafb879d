"""The WAL does not outlive what it protects: dropped, flushed and idle collections free it.

A server with `[limits] seal_idle_secs = 2`: one small unflushed write in one collection,
then ~2 MB of rows in another that is dropped. The small write used to pin every later WAL
file; now the idle seal persists it, the log rolls over and the dead files go. Rows written
and flushed afterwards free the log too. A `kill -9` afterwards loses nothing acknowledged.
"""

import time

import pytest
from pymilvus import DataType, MilvusClient

from _util import T, count_rows, rand_vectors
from conftest import QuiverServer

SMALL_DIM = 8
BIG_DIM = 128


def wal_bytes(srv) -> int:
    wal = srv.data_dir / "wal"
    return sum(f.stat().st_size for f in wal.iterdir() if f.is_file())


def wait_until(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return pred()


def make(c, name, dim):
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    c.create_collection(name, schema=s)


def insert_big(c, name, first, n):
    vecs = rand_vectors(n, BIG_DIM, seed=first)
    for lo in range(0, n, 1000):
        c.insert(name, [{"id": first + i, "vec": vecs[i].tolist()} for i in range(lo, min(n, lo + 1000))])


@pytest.mark.timeout_s(180)
def test_wal_shrinks_after_drop_idle_seal_and_flush(tmp_path):
    cfg = tmp_path / "quiver.toml"
    cfg.write_text("[limits]\nseal_idle_secs = 2\n")
    srv = QuiverServer(tmp_path / "data", extra_args=["--config", str(cfg)])
    srv.start()
    try:
        c = MilvusClient(uri=srv.uri, dedicated=True, timeout=30)
        make(c, "small", SMALL_DIM)
        make(c, "big", BIG_DIM)
        c.insert("small", [{"id": 1, "vec": rand_vectors(1, SMALL_DIM)[0].tolist()}])
        insert_big(c, "big", 0, 4000)
        before = wal_bytes(srv)
        assert before > 2_000_000, before
        c.drop_collection("big")
        # The idle seal of "small" lets the log roll over and its old files go.
        assert wait_until(lambda: wal_bytes(srv) < 256 * 1024, 30), wal_bytes(srv)

        # A flushed collection's records go as well.
        make(c, "flushed", BIG_DIM)
        insert_big(c, "flushed", 0, 3000)
        assert wal_bytes(srv) > 1_500_000
        c.flush("flushed", timeout=T)
        assert wait_until(lambda: wal_bytes(srv) < 256 * 1024, 30), wal_bytes(srv)
        c.close()

        # Nothing acknowledged went with the files.
        srv.kill()
        srv.start()
        c = MilvusClient(uri=srv.uri, dedicated=True, timeout=30)
        assert not c.has_collection("big")
        for name, n in (("small", 1), ("flushed", 3000)):
            idx = MilvusClient.prepare_index_params()
            idx.add_index("vec", index_type="FLAT", metric_type="L2")
            c.create_index(name, idx, timeout=T)
            c.load_collection(name, timeout=T)
            assert count_rows(c, name) == n
        c.close()
    finally:
        srv.kill()
