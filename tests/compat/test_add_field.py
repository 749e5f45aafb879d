"""Milvus 2.6's AddCollectionField through pymilvus's `add_collection_field`.

A nullable field appended to a live collection: rows stored before read it as the field's
default value (or null) — from sealed segments, growing segments and the WAL alike — new
rows carry it, filters and output fields use it, and all of it survives a flush, a
compaction and a restart. Refusals carry Milvus 2.6's codes and texts.
"""

import time

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient

from _util import T, index_params, milvus_error, simple_schema

DIM = 8


def _rows(start: int, n: int, **extra):
    vecs = np.random.default_rng(start).random((n, DIM), dtype=np.float32)
    out = []
    for i in range(n):
        row = {"id": start + i, "vec": vecs[i].tolist()}
        for k, f in extra.items():
            row[k] = f(start + i)
        out.append(row)
    return out


def _ready(c: MilvusClient, name: str, dynamic: bool = False):
    c.create_collection(name, schema=simple_schema(DIM, dynamic=dynamic), timeout=T)
    c.create_index(name, index_params("vec", "FLAT", "L2"), timeout=T)
    c.load_collection(name, timeout=T)


def _by_id(rows, field):
    return {r["id"]: r.get(field) for r in rows}


def test_old_rows_read_default_or_null_new_rows_carry_the_field(client, unique_name):
    c, name = client, unique_name()
    _ready(c, name)
    c.insert(name, _rows(0, 50))
    c.flush(name, timeout=T)  # rows 0..49 sealed
    c.insert(name, _rows(50, 50))  # rows 50..99 growing
    c.add_collection_field(name, "score", DataType.INT32, nullable=True, default_value=np.int32(7))
    c.add_collection_field(name, "note", DataType.VARCHAR, nullable=True, max_length=32)
    fields = {f["name"]: f for f in c.describe_collection(name)["fields"]}
    assert fields["score"]["type"] == DataType.INT32 and fields["score"]["nullable"]
    assert fields["note"]["params"]["max_length"] == 32
    assert fields["score"]["field_id"] != fields["note"]["field_id"]

    c.insert(name, _rows(100, 20, score=lambda i: i, note=lambda i: f"n{i}"))
    c.insert(name, _rows(120, 5))  # the new fields left out: default and null again
    got = c.query(name, filter="id >= 0", output_fields=["score", "note"], limit=1000)
    score, note = _by_id(got, "score"), _by_id(got, "note")
    assert len(got) == 125
    assert all(score[i] == 7 and note[i] is None for i in range(100))
    assert all(score[i] == i and note[i] == f"n{i}" for i in range(100, 120))
    assert all(score[i] == 7 and note[i] is None for i in range(120, 125))

    assert len(c.query(name, filter="score == 7", output_fields=["id"], limit=1000)) == 105
    assert len(c.query(name, filter="note is null", output_fields=["id"], limit=1000)) == 105
    hits = c.search(
        name, [[0.5] * DIM], limit=200, filter='note like "n1%"', output_fields=["note"]
    )[0]
    assert sorted(h["id"] for h in hits) == list(range(100, 120))
    assert all(h["entity"]["note"] == f"n{h['id']}" for h in hits)
    stars = c.query(name, filter="id == 3", output_fields=["*"])
    assert stars[0]["score"] == 7 and stars[0]["note"] is None

    # Seal and compact everything into one segment: the fill becomes stored data.
    c.flush(name, timeout=T)
    job = c.compact(name, timeout=T)
    deadline = time.monotonic() + T
    while c.get_compaction_state(job, timeout=T) != "Completed":
        assert time.monotonic() < deadline, "compaction did not complete"
        time.sleep(0.1)
    assert c.get_collection_stats(name)["row_count"] == 125
    again = c.query(name, filter="id >= 0", output_fields=["score", "note"], limit=1000)
    assert _by_id(again, "score") == score and _by_id(again, "note") == note


def test_added_field_survives_restart_from_segments_and_wal(fresh_server):
    srv = fresh_server
    c = MilvusClient(uri=srv.uri, timeout=T, dedicated=True)
    _ready(c, "evolve", dynamic=True)
    c.insert("evolve", _rows(0, 30, extra=lambda i: i))  # dynamic key "extra"
    c.flush("evolve", timeout=T)
    c.insert("evolve", _rows(30, 30))  # WAL only
    c.add_collection_field("evolve", "flag", DataType.BOOL, nullable=True)
    c.add_collection_field("evolve", "w", DataType.DOUBLE, nullable=True, default_value=0.5)
    c.insert("evolve", _rows(60, 10, flag=lambda i: i % 2 == 0, w=lambda i: float(i)))
    c.close()
    srv.kill()
    srv.start()
    c = MilvusClient(uri=srv.uri, timeout=T, dedicated=True)
    c.load_collection("evolve", timeout=T)
    got = c.query("evolve", filter="id >= 0", output_fields=["flag", "w", "extra"], limit=100)
    assert len(got) == 70
    flag, w, extra = _by_id(got, "flag"), _by_id(got, "w"), _by_id(got, "extra")
    assert all(flag[i] is None and w[i] == 0.5 for i in range(60))
    assert all(flag[i] == (i % 2 == 0) and w[i] == float(i) for i in range(60, 70))
    # The dynamic field still reads from $meta, now one column further right.
    assert all(extra[i] == i for i in range(30))
    assert len(c.query("evolve", filter="flag == true", output_fields=["id"])) == 5
    assert len(c.query("evolve", filter='extra >= 10 and w == 0.5', output_fields=["id"])) == 20
    c.close()


def test_refusals_match_milvus(client, unique_name):
    c, name = client, unique_name()
    _ready(c, name)

    def err(field, dtype, **kw):
        return milvus_error(c.add_collection_field, name, field, dtype, **kw)

    e = err("x", DataType.INT64, nullable=False)
    assert e.code == 1100
    assert e.message == (
        "added field must be nullable, please check it, field name = x: invalid parameter"
    )
    e = err("vec", DataType.INT64, nullable=True)
    assert e.code == 1100 and e.message == "duplicated field name vec: invalid parameter"
    e = err("k", DataType.INT64, nullable=True, is_partition_key=True)
    assert e.message == "not support to add partition key field, field name  = k: invalid parameter"
    e = err("s", DataType.VARCHAR, nullable=True)
    assert e.code == 1101
    assert e.message.startswith("type param(max_length) should be specified for the field(s)")
    e = err("s", DataType.VARCHAR, nullable=True, max_length=65536)
    assert e.code == 1100 and "should be in (0, 65535], but got 65536 instead" in e.message
    e = err("j", DataType.JSON, nullable=True, default_value=1)
    assert e.code == 1100
    e = err("d", DataType.INT64, nullable=True, default_value="abc")
    assert e.code == 1100
    assert e.message == (
        "failed to check field schema: type (Int64) of field (d) is not equal to the "
        "type(DataType_VarChar) of default_value: invalid parameter"
    )
    e = err("1bad", DataType.INT64, nullable=True)
    assert e.code == 1701 and "The first character of a field name must be" in e.message
    e = milvus_error(c.add_collection_field, "no_such_coll", "x", DataType.INT64, nullable=True)
    assert e.code == 100
    names = [f["name"] for f in c.describe_collection(name)["fields"]]
    assert names == ["id", "vec"], "no refused field was added"


@pytest.mark.parametrize(
    "field, dtype, kwargs, message",
    [
        ("int8_field", DataType.INT8, {"default_value": "abc"},
         "type (Int8) of field (int8_field) is not equal to the type(DataType_VarChar) of default_value"),
        ("int8_field", DataType.INT8, {"default_value": 1},
         "type (Int8) of field (int8_field) is not equal to the type(DataType_Int64) of default_value"),
        ("float_field", DataType.FLOAT, {"default_value": False},
         "type (Float) of field (float_field) is not equal to the type(DataType_Bool) of default_value"),
        ("j", DataType.JSON, {"default_value": 1}, "type not support default_value, type:JSON, name:j"),
        ("a", DataType.ARRAY, {"element_type": DataType.INT64, "max_capacity": 4, "default_value": 1},
         "type not support default_value, type:Array, name:a"),
        ("s", DataType.VARCHAR, {"max_length": 2, "default_value": "abc"},
         "the length (3) of string exceeds max length (2): invalid parameter"
         "[expected=valid length string][actual=string length exceeds max length]"),
        ("i16", DataType.INT16, {"default_value": np.int16(5), "nullable": True}, None),
    ],
)
def test_create_collection_default_value_rules(client, unique_name, field, dtype, kwargs, message):
    """Milvus 2.6's root-coordinator checks of default values at CreateCollection."""
    name = unique_name()
    schema = simple_schema(DIM, extra=[(field, dtype, kwargs)])
    if message is None:
        client.create_collection(name, schema=schema, timeout=T)
        assert client.has_collection(name)
        return
    e = milvus_error(client.create_collection, name, schema=schema, timeout=T)
    assert e.code == 1100
    assert message in e.message
    assert not client.has_collection(name)


def test_primary_and_partition_key_rules(client, unique_name):
    name = unique_name()
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True, default_value=1)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    e = milvus_error(client.create_collection, name, schema=schema, timeout=T)
    assert e.message == (
        "primary field not support default_value, type:Int64, name:id: invalid parameter"
    )
    schema = simple_schema(DIM, extra=[("k", DataType.INT64, {"is_partition_key": True,
                                                               "nullable": True})])
    e = milvus_error(client.create_collection, name, schema=schema, timeout=T)
    assert e.message == "partition key field not support nullable: invalid parameter"
