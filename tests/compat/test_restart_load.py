"""Restarting under load: the listener answers while recovery, seals, compaction and
index builds run.

Each round kills the server with SIGKILL right after a flush (so a seal, a compaction
and an HNSW build are pending or running), starts it again and requires a pymilvus
connect plus a simple RPC within 10 s: accepting connections and the HTTP/2 handshake
run on their own runtime, apart from recovery and background work. Bounded: 5 rounds,
the whole test well under 60 s.
"""

import time

import numpy as np
import pytest
from pymilvus import MilvusClient

from _util import T, count_rows, index_params, simple_schema

ROUNDS = 5
DIM = 128
BASE_ROWS = 30_000
ROUND_ROWS = 10_000


def _rows(n: int, start: int):
    vecs = np.random.default_rng(start).random((n, DIM), dtype=np.float32)
    return [{"id": start + i, "vec": vecs[i].tolist()} for i in range(n)]


@pytest.mark.timeout_s(90)
def test_connect_while_recovering_and_building(fresh_server):
    t_all = time.monotonic()
    srv = fresh_server
    c = MilvusClient(uri=srv.uri, timeout=T, dedicated=True)
    c.create_collection("restart_load", schema=simple_schema(DIM), timeout=T)
    c.create_index(
        "restart_load", index_params("vec", "HNSW", "L2", M=16, efConstruction=200), timeout=T
    )
    for start in range(0, BASE_ROWS, 5_000):
        c.insert("restart_load", _rows(5_000, start))
    c.flush("restart_load", timeout=T)
    c.close()
    srv.kill()
    total = BASE_ROWS
    busy_rounds = 0
    for r in range(ROUNDS):
        t0 = time.monotonic()
        srv.start()
        c = MilvusClient(uri=srv.uri, timeout=10, dedicated=True)
        assert c.get_server_version()
        assert c.has_collection("restart_load")
        took = time.monotonic() - t0
        idx = c.describe_index("restart_load", "vec")
        busy_rounds += int(idx["indexed_rows"] < idx["total_rows"])
        print(f"round {r}: {took:.2f} s, index {idx['indexed_rows']}/{idx['total_rows']}")
        assert took < 10, f"round {r}: connect + RPC took {took:.1f} s after restart"
        for start in range(0, ROUND_ROWS, 5_000):
            c.insert("restart_load", _rows(5_000, BASE_ROWS + r * ROUND_ROWS + start))
        total += ROUND_ROWS
        c.flush("restart_load", timeout=T)
        c.close()
        srv.kill()
    # The connects above really overlapped index builds (not an idle server).
    assert busy_rounds >= 1
    srv.start()
    c = MilvusClient(uri=srv.uri, timeout=T, dedicated=True)
    c.load_collection("restart_load", timeout=T)
    assert count_rows(c, "restart_load") == total
    c.close()
    assert time.monotonic() - t_all < 60
