"""JSON path indexes (Milvus 2.5/2.6) through pymilvus: several per JSON field (one per
path) and on dynamic-field keys, Milvus's default names and refusals, described, listed
and dropped by name, kept across a restart, and filters on those paths answer as before.

The indexes are catalog entries here: filters on the paths are evaluated by scanning
(they are not yet used to speed filters).
"""

import pytest
from pymilvus import DataType, MilvusClient

from _util import T, index_params, milvus_error, simple_schema

DIM = 4


def _collection(c, name):
    schema = simple_schema(DIM, dynamic=True, extra=[("j", DataType.JSON, {})])
    c.create_collection(name, schema=schema, timeout=T)
    ip = index_params("vec", "FLAT", "L2")
    for path in ("j['a']['b']", "j['a']", "j", "j['a'][0]['b']"):
        ip.add_index(field_name="j", index_type="INVERTED",
                     params={"json_cast_type": "varchar", "json_path": path})
    ip.add_index(field_name="age", index_type="STL_SORT", index_name="age_idx",
                 params={"json_cast_type": "double", "json_path": "age"})
    ip.add_index(field_name="my_json", index_type="INVERTED",
                 params={"json_cast_type": "varchar", "json_path": "my_json['a']"})
    c.create_index(name, ip, timeout=T)


def test_several_paths_per_field_and_dynamic_keys(fresh_server):
    srv = fresh_server
    c = MilvusClient(uri=srv.uri, timeout=T, dedicated=True)
    _collection(c, "jidx")
    want = {"vec", "j/a/b", "j/a", "j", "j/a/0/b", "age_idx", "$meta/my_json/a"}
    assert set(c.list_indexes("jidx")) == want
    d = c.describe_index("jidx", "j/a/b")
    assert d["field_name"] == "j" and d["json_path"] == "j['a']['b']"
    assert d["json_cast_type"] == "varchar" and d["index_type"] == "INVERTED"
    d = c.describe_index("jidx", "age_idx")
    assert d["field_name"] == "age" and d["index_type"] == "STL_SORT"
    # The same path again without a name is the same index (a no-op), as in Milvus.
    again = index_params("vec", "FLAT", "L2")
    again.add_index(field_name="j", index_type="INVERTED",
                    params={"json_cast_type": "varchar", "json_path": "j['a']"})
    c.create_index("jidx", again, timeout=T)
    assert set(c.list_indexes("jidx")) == want

    c.drop_index("jidx", "j/a")
    assert set(c.list_indexes("jidx")) == want - {"j/a"}
    c.load_collection("jidx", timeout=T)
    c.insert("jidx", [{"id": i, "vec": [float(i)] * DIM, "j": {"a": {"b": f"v{i % 3}"}},
                       "age": i, "my_json": {"a": str(i)}} for i in range(30)])
    got = c.query("jidx", filter='j["a"]["b"] == "v1" and age < 10', output_fields=["id"])
    assert sorted(r["id"] for r in got) == [1, 4, 7]
    c.close()
    srv.stop()
    srv.start()
    c = MilvusClient(uri=srv.uri, timeout=T, dedicated=True)
    assert set(c.list_indexes("jidx")) == want - {"j/a"}
    assert c.describe_index("jidx", "$meta/my_json/a")["json_path"] == "my_json['a']"
    c.close()


@pytest.mark.parametrize(
    "field, params, message",
    [
        ("j", {"json_path": "j['a']"},
         "json index must specify cast type: missing parameter[missing_param=json_cast_type]"),
        ("j", {"json_cast_type": "int64", "json_path": "j['a']"},
         "json_cast_type INT64 is not supported: invalid parameter"),
        ("j", {"json_cast_type": "varchar", "json_path": "k['a']"},
         "fieldID not match with field name: invalid parameter"),
        ("j", {"json_cast_type": "varchar", "json_path": "j['a'"},
         "cannot parse identifier: j['a': invalid parameter"),
    ],
)
def test_json_index_refusals(client, unique_name, field, params, message):
    name = unique_name()
    schema = simple_schema(DIM, extra=[("j", DataType.JSON, {})])
    client.create_collection(name, schema=schema, timeout=T)
    ip = MilvusClient.prepare_index_params()
    ip.add_index(field_name=field, index_type="INVERTED", params=params)
    e = milvus_error(client.create_index, name, ip, timeout=T)
    assert e.code == (1101 if "missing" in message else 1100) and e.message == message
    # Without a dynamic field, a name that is no field is not a key either.
    ip = MilvusClient.prepare_index_params()
    ip.add_index(field_name="nope", index_type="INVERTED", params={"json_cast_type": "double"})
    e = milvus_error(client.create_index, name, ip, timeout=T)
    assert e.message == "cannot create index on non-exist field: nope: invalid parameter"


def test_index_conflicts_and_unknown_types(client, unique_name):
    """Milvus's data coordinator rules (canCreateIndex) and index-type check, texts included."""
    name = unique_name()
    client.create_collection(name, schema=simple_schema(DIM, extra=[("j", DataType.JSON, {})]),
                             timeout=T)

    def create(field, index_type, index_name="", **params):
        ip = MilvusClient.prepare_index_params()
        ip.add_index(field_name=field, index_type=index_type, index_name=index_name,
                     params=params)
        client.create_index(name, ip, timeout=T)

    create("j", "INVERTED", "p1", json_cast_type="varchar", json_path="j['a']")
    create("j", "INVERTED", "p1", json_cast_type="varchar", json_path="j['a']")  # same: no-op
    e = milvus_error(create, "j", "INVERTED", "p2", json_cast_type="varchar", json_path="j['a']")
    assert e.code == 1100 and e.message == (
        "CreateIndex failed: creating multiple indexes on same field is not supported: "
        "invalid parameter")
    e = milvus_error(create, "j", "INVERTED", "p1", json_cast_type="double", json_path="j['a']")
    assert e.message == "at most one distinct index is allowed per field: invalid parameter"
    e = milvus_error(create, "j", "12-s", "p3", json_cast_type="double", json_path="j['b']")
    assert e.message == "invalid parameter[expected=valid index][actual=invalid index type: 12-s]"
    assert client.list_indexes(name) == ["p1"]
