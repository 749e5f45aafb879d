"""Everything acknowledged survives a restart: a clean SIGTERM restart and `kill -9`.

Each test owns a private server (`fresh_server`). Covers: collections with their exact schema,
rows, deletes (deleted rows stay gone), upserts (latest value wins), indexes (type, metric,
params), aliases, partitions, databases and dropped collections across a graceful restart;
and with SIGKILL straight after the last acknowledgement (no flush): every acknowledged row is
present exactly once, and an acknowledged delete, create_index, drop_collection or upsert is
not lost. Also: writes after a restart survive a second kill.
"""

import numpy as np
import pytest
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, MilvusClient, connections

from _util import T, count_rows, expected_topk, index_params, rand_vectors

DIM = 8


def connect(srv) -> MilvusClient:
    # dedicated: never reuse a channel that pointed at the previous process
    return MilvusClient(uri=srv.uri, dedicated=True)


def schema():
    s = MilvusClient.create_schema(enable_dynamic_field=True, description="durable collection")
    s.add_field("id", DataType.INT64, is_primary=True, description="pk")
    s.add_field("name", DataType.VARCHAR, max_length=32)
    s.add_field("meta", DataType.JSON)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    return s


def rows(ids, seed=0):
    vecs = rand_vectors(len(ids), DIM, seed)
    return [
        {"id": i, "name": f"n{i}", "meta": {"i": i}, "vec": vecs[k].tolist(), "dyn": i * 2}
        for k, i in enumerate(ids)
    ]


def all_ids(c, name):
    return sorted(r["id"] for r in c.query(name, filter="id >= 0", output_fields=["id"], limit=16384))


@pytest.mark.timeout_s(180)
def test_graceful_restart_keeps_everything(fresh_server, unique_name):
    srv = fresh_server
    c = connect(srv)
    name, empty, alias, db = unique_name(), unique_name(), unique_name("al"), unique_name("db")
    c.create_collection(name, schema=schema(), timeout=T)
    c.create_partition(name, "p1")
    c.insert(name, rows(range(100)))
    c.insert(name, rows(range(100, 110), seed=1), partition_name="p1")
    c.delete(name, ids=[0, 1, 2, 3, 4])
    c.delete(name, filter="id >= 95 and id < 100")
    c.upsert(name, [dict(rows([50], seed=9)[0], name="upserted")])
    c.create_index(name, index_params("vec", "HNSW", "L2", M=16, efConstruction=100), timeout=T)
    c.load_collection(name, timeout=T)
    c.create_alias(name, alias)
    c.create_collection(empty, schema=schema(), timeout=T)
    gone = unique_name()
    c.create_collection(gone, schema=schema(), timeout=T)
    c.drop_collection(gone)
    c.create_database(db)
    dbc = MilvusClient(uri=srv.uri, db_name=db, dedicated=True)
    dbc.create_collection("in_db", schema=schema(), timeout=T)
    dbc.insert("in_db", rows(range(3)))
    want_ids = sorted(set(range(110)) - set(range(5)) - set(range(95, 100)))
    before = c.describe_collection(name)
    dbc.close()
    c.close()

    srv.stop()
    srv.start()

    c = connect(srv)
    try:
        assert set(c.list_collections()) >= {name, empty}
        assert gone not in c.list_collections()
        after = c.describe_collection(name)
        for key in ("description", "enable_dynamic_field", "auto_id"):
            assert after[key] == before[key], key
        assert [(f["name"], f["type"], f["params"], f["description"]) for f in after["fields"]] == [
            (f["name"], f["type"], f["params"], f["description"]) for f in before["fields"]
        ]
        idx = c.describe_index(name, "vec")
        assert idx["index_type"] == "HNSW" and idx["metric_type"] == "L2"
        assert str(idx.get("M")) == "16"
        assert c.describe_alias(alias)["collection_name"] == name
        assert c.has_partition(name, "p1")
        c.load_collection(name, timeout=T)
        assert all_ids(c, name) == want_ids
        assert count_rows(c, name) == len(want_ids)
        got = c.get(name, ids=[50, 7], output_fields=["name", "meta", "dyn"])
        by = {r["id"]: r for r in got}
        assert by[50]["name"] == "upserted" and by[7]["name"] == "n7"
        assert by[7]["meta"] == {"i": 7} and by[7]["dyn"] == 14
        assert sorted(r["id"] for r in c.query(name, filter="id >= 0", partition_names=["p1"])) == list(range(100, 110))
        # search through the alias after restart, checked against numpy
        vecs = np.array([r["vec"] for r in rows(range(100))], dtype=np.float32)
        q = vecs[20]
        mask = [i in want_ids and i != 50 for i in range(100)]
        res = c.search(alias, [q.tolist()], limit=5, filter="id < 100 and id != 50",
                       search_params={"params": {"ef": 64}})
        assert [h["id"] for h in res[0]] == [i for i, _ in expected_topk("L2", q, vecs, list(range(100)), 5, mask)]
        dbc = MilvusClient(uri=srv.uri, db_name=db, dedicated=True)
        assert dbc.list_collections() == ["in_db"]
        assert c.describe_collection(empty)["collection_name"] == empty
        dbc.close()
        # the ORM re-opens the collection with the same schema
        alias_orm = unique_name("orm")
        connections.connect(alias=alias_orm, uri=srv.uri)
        try:
            fields = [
                FieldSchema("id", DataType.INT64, is_primary=True, description="pk"),
                FieldSchema("name", DataType.VARCHAR, max_length=32),
                FieldSchema("meta", DataType.JSON),
                FieldSchema("vec", DataType.FLOAT_VECTOR, dim=DIM),
            ]
            Collection(name, CollectionSchema(fields, description="durable collection", enable_dynamic_field=True), using=alias_orm)
        finally:
            connections.disconnect(alias_orm)
    finally:
        c.close()


@pytest.mark.timeout_s(180)
def test_kill9_after_acknowledged_inserts(fresh_server, unique_name):
    srv = fresh_server
    c = connect(srv)
    name = unique_name()
    c.create_collection(name, schema=schema(), timeout=T)
    c.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
    c.load_collection(name, timeout=T)
    acked = []
    for b in range(10):
        ids = list(range(b * 50, b * 50 + 50))
        res = c.insert(name, rows(ids, seed=b))
        assert res["insert_count"] == 50
        acked.extend(ids)
    srv.kill()  # right after the last ack: no flush, no graceful shutdown
    c.close()
    srv.start()
    c = connect(srv)
    try:
        c.load_collection(name, timeout=T)
        assert count_rows(c, name) == len(acked)
        got = all_ids(c, name)
        assert got == sorted(acked), "missing or duplicated rows after kill -9"
        r = c.get(name, ids=[499], output_fields=["name", "meta", "vec", "dyn"])[0]
        assert r["name"] == "n499" and r["meta"] == {"i": 499} and r["dyn"] == 998
        assert np.allclose(r["vec"], rows(list(range(450, 500)), seed=9)[-1]["vec"], atol=1e-6)
        res = c.search(name, [rows(list(range(100, 150)), seed=2)[23]["vec"]], limit=1)
        assert res[0][0]["id"] == 123
    finally:
        c.close()


@pytest.mark.timeout_s(180)
def test_kill9_after_delete_upsert_and_drop(fresh_server, unique_name):
    srv = fresh_server
    c = connect(srv)
    name, doomed = unique_name(), unique_name()
    c.create_collection(name, schema=schema(), timeout=T)
    c.create_collection(doomed, schema=schema(), timeout=T)
    c.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
    c.load_collection(name, timeout=T)
    c.insert(name, rows(range(200)))
    c.flush(name, timeout=T)  # some rows sealed, later changes only in the log
    c.insert(name, rows(range(200, 260), seed=3))
    assert c.delete(name, ids=list(range(0, 30)))["delete_count"] == 30
    assert c.delete(name, filter="id >= 240")["delete_count"] == 20
    c.upsert(name, [dict(rows([100], seed=4)[0], name="after-upsert")])
    c.drop_collection(doomed)
    srv.kill()
    c.close()
    srv.start()
    c = connect(srv)
    try:
        assert not c.has_collection(doomed)
        c.load_collection(name, timeout=T)
        want = list(range(30, 240))
        assert all_ids(c, name) == want
        assert count_rows(c, name) == len(want)
        assert c.get(name, ids=[100], output_fields=["name"])[0]["name"] == "after-upsert"
        assert c.query(name, filter="id < 30 or id >= 240") == []
    finally:
        c.close()


@pytest.mark.timeout_s(180)
def test_kill9_after_create_index(fresh_server, unique_name):
    srv = fresh_server
    c = connect(srv)
    name = unique_name()
    c.create_collection(name, schema=schema(), timeout=T)
    data = rows(range(120), seed=5)
    c.insert(name, data)
    c.create_index(name, index_params("vec", "HNSW", "COSINE", M=12, efConstruction=80), timeout=T)
    srv.kill()
    c.close()
    srv.start()
    c = connect(srv)
    try:
        idx = c.describe_index(name, "vec")
        assert idx is not None and idx["index_type"] == "HNSW" and idx["metric_type"] == "COSINE"
        assert str(idx.get("M")) == "12" and str(idx.get("efConstruction")) == "80"
        c.load_collection(name, timeout=T)
        vecs = np.array([r["vec"] for r in data], dtype=np.float32)
        res = c.search(name, [vecs[7].tolist()], limit=3, search_params={"params": {"ef": 64}})
        want = expected_topk("COSINE", vecs[7], vecs, list(range(120)), 3)
        assert [h["id"] for h in res[0]] == [i for i, _ in want]
        assert abs(res[0][0]["distance"] - 1.0) < 1e-4
    finally:
        c.close()


@pytest.mark.timeout_s(240)
def test_repeated_kills_accumulate(fresh_server, unique_name):
    srv = fresh_server
    name = unique_name()
    c = connect(srv)
    c.create_collection(name, schema=schema(), timeout=T)
    c.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
    expected = set()
    for round_ in range(3):
        c.load_collection(name, timeout=T)
        ids = list(range(round_ * 30, round_ * 30 + 30))
        c.insert(name, rows(ids, seed=round_))
        expected |= set(ids)
        c.delete(name, ids=[round_ * 30])
        expected.discard(round_ * 30)
        srv.kill()
        c.close()
        srv.start()
        c = connect(srv)
        c.load_collection(name, timeout=T)
        assert all_ids(c, name) == sorted(expected), f"after kill {round_ + 1}"
    c.close()


@pytest.mark.timeout_s(180)
def test_kill9_after_ddl_changes(fresh_server, unique_name):
    """drop_index, alter_alias, drop_alias, drop_partition, alter properties, rename and
    drop_database are each acknowledged, then SIGKILL: the new state is what comes back."""
    srv = fresh_server
    c = connect(srv)
    a, b, al1, al2, db = unique_name(), unique_name(), unique_name("al"), unique_name("al"), unique_name("db")
    for n in (a, b):
        c.create_collection(n, schema=schema(), timeout=T)
        c.create_index(n, index_params("vec", "HNSW", "L2", M=8, efConstruction=32), timeout=T)
    c.create_partition(a, "p_gone")
    c.create_partition(a, "p_kept")
    c.insert(a, rows(range(10)), partition_name="p_gone")
    c.insert(a, rows(range(10, 20)), partition_name="p_kept")
    c.create_alias(a, al1)
    c.create_alias(a, al2)
    c.create_database(db)

    c.drop_index(b, "vec")
    c.alter_alias(b, al1)
    c.drop_alias(al2)
    c.drop_partition(a, "p_gone")
    c.alter_collection_properties(a, properties={"collection.ttl.seconds": 1234})
    renamed = unique_name()
    rename_ok = True
    try:
        c.rename_collection(b, renamed)
    except Exception:  # rename is optional; the rest must hold either way
        rename_ok = False
        renamed = b
    c.drop_database(db)
    srv.kill()
    c.close()
    srv.start()
    c = connect(srv)
    try:
        assert c.list_indexes(renamed) == []
        assert c.describe_alias(al1)["collection_name"] == renamed
        with pytest.raises(Exception):
            c.describe_alias(al2)
        assert not c.has_partition(a, "p_gone") and c.has_partition(a, "p_kept")
        props = c.describe_collection(a)["properties"]
        assert str(props.get("collection.ttl.seconds")) == "1234", props
        if rename_ok:
            assert not c.has_collection(b) and c.has_collection(renamed)
        assert db not in c.list_databases()
        c.load_collection(a, timeout=T)
        assert all_ids(c, a) == list(range(10, 20))
    finally:
        c.close()


@pytest.mark.timeout_s(180)
def test_kill9_during_continuous_writes(fresh_server, unique_name):
    """SIGKILL while a writer is mid-stream: the server restarts (a torn log tail is no reason
    to refuse), every acknowledged row is there once, and nothing that was never sent appears."""
    import threading

    srv = fresh_server
    c = connect(srv)
    name = unique_name()
    c.create_collection(name, schema=schema(), timeout=T)
    c.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
    c.load_collection(name, timeout=T)
    c.close()
    acked, sent = [], []
    enough = threading.Event()

    def writer():
        w = MilvusClient(uri=srv.uri, dedicated=True)
        try:
            for b in range(100_000):
                ids = list(range(b * 100, b * 100 + 100))
                sent.extend(ids)
                w.insert(name, rows(ids, seed=b % 7), timeout=5)
                acked.extend(ids)
                if len(acked) >= 3000:
                    enough.set()
        except Exception:  # the kill ends the stream
            pass
        finally:
            enough.set()
            w.close()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    assert enough.wait(120), "writer made no progress"
    srv.kill()
    t.join(timeout=60)
    acked_at_kill = list(acked)
    srv.start()
    c = connect(srv)
    try:
        c.load_collection(name, timeout=T)
        got = all_ids(c, name) if len(sent) <= 16384 else sorted(
            r["id"] for lo in range(0, len(sent), 10_000)
            for r in c.query(name, filter=f"id >= {lo} and id < {lo + 10_000}", output_fields=["id"], limit=16384)
        )
        assert len(got) == len(set(got)), "duplicated rows after kill -9"
        assert set(acked_at_kill) <= set(got), f"{len(set(acked_at_kill) - set(got))} acknowledged rows lost"
        assert set(got) <= set(sent)
        assert count_rows(c, name) == len(got)
    finally:
        c.close()
