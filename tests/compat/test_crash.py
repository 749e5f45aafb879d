"""Crash safety under load (storage issue, item 6).

Several writer threads insert, upsert and delete through pymilvus while another thread
keeps flushing (sealing) and compacting; the server is killed with SIGKILL at a random
moment, restarted, and checked — 20 rounds in a row on the same data directory, with a
tiny segment size so seals and compactions happen all the time:

* every acknowledged insert is present exactly once (count and per-id query);
* every acknowledged delete stays deleted;
* a batch that was sent but not acknowledged is either wholly present or wholly absent
  (never half-visible).
"""

import random
import threading
import time

import pytest
from pymilvus import DataType, MilvusClient, MilvusException

from conftest import QuiverServer

DIM = 8
ROUNDS = 20
BATCH = 40


def make_schema():
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("round", DataType.INT64)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    return schema


class Ledger:
    """What the clients were told: acknowledged batches and deletes, and batches in flight."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked: dict[int, int] = {}      # id -> round it was acknowledged in
        self.deleted: set[int] = set()       # acknowledged deletes
        self.in_flight: list[list[int]] = []  # sent, no answer yet (or error)
        self.deleting: set[int] = set()      # delete sent, no answer yet


def writer(uri, name, ledger, next_id, stop, seed):
    rng = random.Random(seed)
    c = MilvusClient(uri=uri, timeout=2)
    while not stop.is_set():
        with ledger.lock:
            start = next_id[0]
            next_id[0] += BATCH
        ids = list(range(start, start + BATCH))
        rows = [{"id": i, "round": 0, "v": [float(i % 97)] * DIM} for i in ids]
        with ledger.lock:
            ledger.in_flight.append(ids)
        try:
            c.insert(name, rows)
        except Exception:
            return
        with ledger.lock:
            ledger.in_flight.remove(ids)
            for i in ids:
                ledger.acked[i] = 1
        if rng.random() < 0.3:
            victim = rng.choice(ids)
            with ledger.lock:
                ledger.deleting.add(victim)
            try:
                c.delete(name, ids=[victim])
            except Exception:
                return
            with ledger.lock:
                ledger.deleting.discard(victim)
                ledger.deleted.add(victim)


def sealer(uri, name, stop):
    c = MilvusClient(uri=uri, timeout=2)
    while not stop.is_set():
        try:
            c.flush(name)
            c.compact(name)
        except Exception:
            return
        time.sleep(0.05)


def connect_retrying(uri, seconds=15.0):
    """pymilvus shares one channel per address; after a kill it may need a moment to recover."""
    deadline = time.time() + seconds
    while True:
        try:
            c = MilvusClient(uri=uri, timeout=30)
            c.list_collections()
            return c
        except MilvusException:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def check(uri, name, ledger):
    c = connect_retrying(uri)
    expected = {i for i in ledger.acked if i not in ledger.deleted}
    present = set()
    all_ids = list(ledger.acked) + [i for b in ledger.in_flight for i in b]
    for k in range(0, len(all_ids), 2000):
        chunk = all_ids[k:k + 2000]
        rows = c.query(name, filter=f"id in {chunk}", output_fields=["id"])
        got = [r["id"] for r in rows]
        assert len(got) == len(set(got)), "a row is present more than once"
        present |= set(got)
    # A delete that was sent but never acknowledged may or may not have happened.
    for i in ledger.deleting:
        if i not in present:
            ledger.deleted.add(i)
    ledger.deleting.clear()
    expected = {i for i in ledger.acked if i not in ledger.deleted}
    missing = expected - present
    assert not missing, f"{len(missing)} acknowledged rows lost, e.g. {sorted(missing)[:5]}"
    resurrected = ledger.deleted & present
    assert not resurrected, f"acknowledged deletes came back: {sorted(resurrected)[:5]}"
    for batch in ledger.in_flight:
        seen = [i for i in batch if i in present]
        assert len(seen) in (0, len(batch)), f"batch half visible: {len(seen)}/{len(batch)}"
        # Settle the batch: it is now known present or absent.
        if seen:
            for i in batch:
                ledger.acked[i] = 1
    ledger.in_flight.clear()
    total = c.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]
    assert total == len({i for i in ledger.acked if i not in ledger.deleted})
    c.close()


@pytest.mark.timeout_s(400)
def test_sigkill_rounds_under_concurrent_writes_seals_and_compaction(tmp_path):
    cfg = tmp_path / "quiver.toml"
    cfg.write_text("[limits]\nsegment_max_bytes = 65536\n")
    srv = QuiverServer(tmp_path / "data", extra_args=["--config", str(cfg)])
    srv.start()
    name = "crash_rounds"
    try:
        c = MilvusClient(uri=srv.uri, timeout=30)
        c.create_collection(name, schema=make_schema())
        idx = MilvusClient.prepare_index_params()
        idx.add_index("v", index_type="HNSW", metric_type="L2", params={"M": 8, "efConstruction": 32})
        c.create_index(name, idx)
        c.load_collection(name)
        c.close()
        ledger = Ledger()
        next_id = [0]
        rng = random.Random(7)
        for rnd in range(ROUNDS):
            stop = threading.Event()
            threads = [
                threading.Thread(target=writer, args=(srv.uri, name, ledger, next_id, stop, rnd * 10 + w))
                for w in range(3)
            ] + [threading.Thread(target=sealer, args=(srv.uri, name, stop))]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.3, 1.2))
            srv.kill()
            stop.set()
            for t in threads:
                t.join(timeout=30)
            srv.start()
            try:
                check(srv.uri, name, ledger)
            except Exception:
                print(srv.log_text()[-3000:])
                raise
        assert len(ledger.acked) > ROUNDS * BATCH, "writers made too little progress to mean anything"
    finally:
        if srv.running():
            srv.kill()
