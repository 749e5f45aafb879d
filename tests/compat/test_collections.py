"""Collections, databases and aliases through MilvusClient and the ORM.

Covers: create / has / describe (schema echo: field order, descriptions, max_length, dim,
auto_id, enable_dynamic_field, no hidden `$meta`, field ids from 100), ORM re-open of an existing
collection with the same schema, list, drop, rename (when supported), get_collection_stats
row_count, alter_collection_properties, the MilvusClient quick setup, databases (create / list /
`db_name=` / isolation / drop) and aliases (create / describe / list / alter / drop, search,
query and describe through an alias).
"""

import pytest
from pymilvus import (
    Collection,
    CollectionSchema,
    DataType,
    FieldSchema,
    MilvusClient,
    MilvusException,
    utility,
)

from _util import (
    raises_milvus,
    T,
    count_rows,
    make_loaded_collection,
    milvus_error,
    rand_vectors,
    simple_schema,
)


def rich_schema():
    schema = MilvusClient.create_schema(
        auto_id=False, enable_dynamic_field=True, description="a described collection"
    )
    schema.add_field("pk", DataType.INT64, is_primary=True, description="primary key")
    schema.add_field("title", DataType.VARCHAR, max_length=100, description="the title")
    schema.add_field("score", DataType.FLOAT, description="a float")
    schema.add_field("emb", DataType.FLOAT_VECTOR, dim=16, description="the embedding")
    schema.add_field("meta", DataType.JSON)
    return schema


# --------------------------------------------------------------------------- create/describe


def test_create_has_describe_echoes_schema(client, unique_name):
    name = unique_name()
    assert not client.has_collection(name)
    client.create_collection(name, schema=rich_schema(), timeout=T)
    try:
        assert client.has_collection(name)
        desc = client.describe_collection(name)
        assert desc["collection_name"] == name
        assert desc["description"] == "a described collection"
        assert desc["auto_id"] is False
        assert desc["enable_dynamic_field"] is True
        fields = desc["fields"]
        assert [f["name"] for f in fields] == ["pk", "title", "score", "emb", "meta"]
        assert "$meta" not in [f["name"] for f in fields]
        by_name = {f["name"]: f for f in fields}
        assert by_name["pk"]["type"] == DataType.INT64 and by_name["pk"]["is_primary"]
        assert by_name["pk"]["description"] == "primary key"
        assert by_name["title"]["type"] == DataType.VARCHAR
        assert by_name["title"]["params"]["max_length"] == 100
        assert by_name["title"]["description"] == "the title"
        assert by_name["score"]["type"] == DataType.FLOAT
        assert by_name["emb"]["type"] == DataType.FLOAT_VECTOR
        assert by_name["emb"]["params"]["dim"] == 16
        assert by_name["emb"]["description"] == "the embedding"
        assert by_name["meta"]["type"] == DataType.JSON
        ids = [f["field_id"] for f in fields]
        assert ids == sorted(ids) and len(set(ids)) == len(ids) and ids[0] >= 100, ids
    finally:
        client.drop_collection(name)
    assert not client.has_collection(name)


def test_auto_id_is_echoed(client, unique_name):
    name = unique_name()
    client.create_collection(name, schema=simple_schema(4, auto_id=True), timeout=T)
    try:
        desc = client.describe_collection(name)
        assert desc["auto_id"] is True
        pk = [f for f in desc["fields"] if f.get("is_primary")][0]
        assert pk["name"] == "id" and pk.get("auto_id") is True
    finally:
        client.drop_collection(name)


def test_has_collection_false_for_unknown(client, unique_name):
    assert client.has_collection(unique_name("nope")) is False


def test_describe_unknown_collection_raises_100(client, unique_name):
    err = milvus_error(client.describe_collection, unique_name("nope"))
    assert err.code == 100, err


def test_orm_reopen_existing_collection_with_same_schema(orm, unique_name):
    name = unique_name()
    fields = [
        FieldSchema("pk", DataType.VARCHAR, max_length=32, is_primary=True, description="key"),
        FieldSchema("num", DataType.INT64, description="a number"),
        FieldSchema("emb", DataType.FLOAT_VECTOR, dim=8),
    ]
    schema = CollectionSchema(fields, description="orm collection")
    col = Collection(name, schema, using=orm)
    try:
        assert utility.has_collection(name, using=orm)
        again = Collection(name, CollectionSchema(fields, description="orm collection"), using=orm)
        assert again.schema == col.schema
        by_name = Collection(name, using=orm)
        assert [f.name for f in by_name.schema.fields] == ["pk", "num", "emb"]
        assert by_name.description == "orm collection"
        assert by_name.schema.fields[0].description == "key"
        assert by_name.schema.fields[0].params["max_length"] == 32
        # A different schema under the same name is refused client-side or server-side.
        other = CollectionSchema(
            [FieldSchema("pk", DataType.INT64, is_primary=True), FieldSchema("v", DataType.FLOAT_VECTOR, dim=4)]
        )
        with raises_milvus():
            Collection(name, other, using=orm)
    finally:
        utility.drop_collection(name, using=orm)


def test_list_and_drop(client, unique_name):
    names = [unique_name() for _ in range(3)]
    for n in names:
        client.create_collection(n, schema=simple_schema(4), timeout=T)
    listed = client.list_collections()
    assert set(names) <= set(listed)
    client.drop_collection(names[0])
    listed = client.list_collections()
    assert names[0] not in listed and names[1] in listed
    for n in names[1:]:
        client.drop_collection(n)
    assert not set(names) & set(client.list_collections())


def test_drop_then_recreate_with_other_schema(client, unique_name):
    name = unique_name()
    client.create_collection(name, schema=simple_schema(4), timeout=T)
    client.insert(name, [{"id": 1, "vec": [0.1] * 4}])
    client.drop_collection(name)
    client.create_collection(name, schema=simple_schema(6), timeout=T)
    try:
        desc = client.describe_collection(name)
        assert [f["params"].get("dim") for f in desc["fields"] if f["name"] == "vec"] == [6]
        client.create_index(name, _flat(), timeout=T)
        client.load_collection(name, timeout=T)
        assert count_rows(client, name) == 0
    finally:
        client.drop_collection(name)


def _flat(metric="L2"):
    ip = MilvusClient.prepare_index_params()
    ip.add_index("vec", index_type="FLAT", metric_type=metric)
    return ip


def test_rename_collection(client, unique_name):
    old, new = unique_name(), unique_name()
    make_loaded_collection(client, old, dim=4)
    client.insert(old, [{"id": i, "vec": [float(i)] * 4} for i in range(3)])
    try:
        try:
            client.rename_collection(old, new)
        except MilvusException as e:
            if any(s in str(e).lower() for s in ("not implemented", "unimplemented", "not supported")):
                pytest.skip(f"rename not supported: {e}")
            raise
        assert not client.has_collection(old)
        assert client.has_collection(new)
        client.load_collection(new, timeout=T)
        assert count_rows(client, new) == 3
    finally:
        client.drop_collection(old)
        client.drop_collection(new)


def test_collection_stats_row_count(client, orm, unique_name):
    name = unique_name()
    client.create_collection(name, schema=simple_schema(4), timeout=T)
    try:
        assert client.get_collection_stats(name)["row_count"] == 0
        client.insert(name, [{"id": i, "vec": [0.5] * 4} for i in range(7)])
        client.flush(name, timeout=T)
        assert client.get_collection_stats(name)["row_count"] == 7
        assert Collection(name, using=orm).num_entities == 7
    finally:
        client.drop_collection(name)


def test_alter_collection_properties(client, unique_name):
    name = unique_name()
    client.create_collection(name, schema=simple_schema(4), timeout=T)
    try:
        client.alter_collection_properties(name, properties={"collection.ttl.seconds": 3600})
        props = client.describe_collection(name)["properties"]
        assert str(props.get("collection.ttl.seconds")) == "3600", props
        client.alter_collection_properties(name, properties={"collection.ttl.seconds": 60})
        props = client.describe_collection(name)["properties"]
        assert str(props.get("collection.ttl.seconds")) == "60", props
    finally:
        client.drop_collection(name)


def test_mmap_properties_are_refused_while_loaded(client, unique_name):
    """Milvus 2.6 maps segments at load time: mmap.enabled cannot change under a
    loaded collection (104, ErrCollectionLoaded), and can once it is released."""
    name = unique_name()
    make_loaded_collection(client, name, dim=4)
    try:
        e = milvus_error(client.alter_collection_properties, name,
                         properties={"mmap.enabled": True})
        assert e.code == 104, (e.code, e.message)
        assert e.message == (
            "can not alter mmap properties if collection loaded: "
            f"collection already loaded[collection={name}]"
        ), e.message
        e = milvus_error(client.drop_collection_properties, name, property_keys=["mmap.enabled"])
        assert e.code == 104 and "can not delete mmap properties" in e.message, e.message
        # Other properties still change under a loaded collection.
        client.alter_collection_properties(name, properties={"collection.ttl.seconds": 60})
        client.release_collection(name)
        client.alter_collection_properties(name, properties={"mmap.enabled": True})
        props = client.describe_collection(name)["properties"]
        assert str(props.get("mmap.enabled")).lower() == "true", props
    finally:
        client.drop_collection(name)


def test_properties_at_create_and_drop_properties(client, unique_name):
    name = unique_name()
    client.create_collection(
        name, schema=simple_schema(4), properties={"collection.ttl.seconds": 100}, timeout=T
    )
    try:
        props = client.describe_collection(name)["properties"]
        assert str(props.get("collection.ttl.seconds")) == "100", props
        client.drop_collection_properties(name, property_keys=["collection.ttl.seconds"])
        assert "collection.ttl.seconds" not in client.describe_collection(name)["properties"]
    finally:
        client.drop_collection(name)


def test_orm_consistency_level_echo(orm, unique_name):
    name = unique_name()
    fields = [FieldSchema("id", DataType.INT64, is_primary=True), FieldSchema("v", DataType.FLOAT_VECTOR, dim=4)]
    Collection(name, CollectionSchema(fields), consistency_level="Session", using=orm)
    try:
        again = Collection(name, CollectionSchema(fields), consistency_level="Session", using=orm)
        assert again.name == name
        with raises_milvus():
            Collection(name, CollectionSchema(fields), consistency_level="Strong", using=orm)
    finally:
        utility.drop_collection(name, using=orm)


def test_partition_and_rename_errors(client, unique_name):
    a, b = unique_name(), unique_name()
    client.create_collection(a, schema=simple_schema(4), timeout=T)
    client.create_collection(b, schema=simple_schema(4), timeout=T)
    try:
        with raises_milvus():
            client.drop_partition(a, "_default")
        with raises_milvus():
            client.has_partition(unique_name("missing"), "p")
        with raises_milvus():
            client.rename_collection(a, b)  # target exists
        assert client.has_collection(a) and client.has_collection(b)
    finally:
        client.drop_collection(a)
        client.drop_collection(b)


def test_quick_setup_create_insert_search(client, unique_name):
    name = unique_name()
    client.create_collection(name, dimension=8, timeout=T)
    try:
        desc = client.describe_collection(name)
        assert [f["name"] for f in desc["fields"]] == ["id", "vector"]
        assert desc["enable_dynamic_field"] is True
        assert client.get_load_state(name)["state"].name == "Loaded"
        idx = client.describe_index(name, "vector")
        assert idx["metric_type"] == "COSINE"
        vecs = rand_vectors(10, 8, seed=3)
        res = client.insert(
            name, [{"id": i, "vector": vecs[i].tolist(), "color": f"c{i}"} for i in range(10)]
        )
        assert res["insert_count"] == 10 and list(res["ids"]) == list(range(10))
        hits = client.search(name, [vecs[4].tolist()], limit=3, output_fields=["color"])
        assert len(hits) == 1 and len(hits[0]) == 3
        assert hits[0][0]["id"] == 4
        assert abs(hits[0][0]["distance"] - 1.0) < 1e-4
        assert hits[0][0]["entity"]["color"] == "c4"
    finally:
        client.drop_collection(name)


# --------------------------------------------------------------------------- databases


def test_databases_create_list_isolate_drop(server, client, unique_name):
    db = unique_name("db")
    client.create_database(db)
    dbc = MilvusClient(uri=server.uri, db_name=db)
    shared = unique_name()
    try:
        dbs = client.list_databases()
        assert "default" in dbs and db in dbs
        # The same collection name in two databases holds different data.
        make_loaded_collection(dbc, shared, dim=4)
        assert client.has_collection(shared) is False
        assert shared in dbc.list_collections()
        assert shared not in client.list_collections()
        make_loaded_collection(client, shared, dim=4)
        dbc.insert(shared, [{"id": i, "vec": [1.0, 0, 0, 0]} for i in range(5)])
        client.insert(shared, [{"id": 100, "vec": [0, 1.0, 0, 0]}])
        assert count_rows(dbc, shared) == 5
        assert count_rows(client, shared) == 1
        hits = client.search(shared, [[1.0, 0, 0, 0]], limit=10)
        assert [h["id"] for h in hits[0]] == [100]
        client.drop_collection(shared)
        assert dbc.has_collection(shared)
    finally:
        client.drop_collection(shared)
        for n in dbc.list_collections():
            dbc.drop_collection(n)
        dbc.close()
        client.drop_database(db)
    assert db not in client.list_databases()


def test_orm_database_via_connect(server, client, unique_name):
    from pymilvus import connections

    db = unique_name("db")
    client.create_database(db)
    alias = unique_name("alias")
    connections.connect(alias=alias, uri=server.uri, db_name=db)
    name = unique_name()
    try:
        Collection(name, CollectionSchema(
            [FieldSchema("id", DataType.INT64, is_primary=True), FieldSchema("v", DataType.FLOAT_VECTOR, dim=4)]
        ), using=alias)
        assert name in utility.list_collections(using=alias)
        assert name not in client.list_collections()
        utility.drop_collection(name, using=alias)
    finally:
        connections.disconnect(alias)
        client.drop_database(db)


# --------------------------------------------------------------------------- aliases


def test_aliases_lifecycle_and_search_through_alias(client, unique_name):
    a, b, alias = unique_name(), unique_name(), unique_name("al")
    make_loaded_collection(client, a, dim=4)
    make_loaded_collection(client, b, dim=4)
    try:
        client.insert(a, [{"id": 1, "vec": [1.0, 0, 0, 0]}])
        client.insert(b, [{"id": 2, "vec": [1.0, 0, 0, 0]}])
        client.create_alias(a, alias)
        d = client.describe_alias(alias)
        assert d["alias"] == alias and d["collection_name"] == a
        assert alias in client.list_aliases(a)["aliases"]
        assert client.describe_collection(alias)["collection_name"] == a
        assert alias in client.describe_collection(a)["aliases"]
        assert client.has_collection(alias)
        hits = client.search(alias, [[1.0, 0, 0, 0]], limit=5)
        assert [h["id"] for h in hits[0]] == [1]
        assert [r["id"] for r in client.query(alias, filter="id >= 0")] == [1]
        # Inserting through the alias lands in the target collection.
        client.insert(alias, [{"id": 3, "vec": [0, 1.0, 0, 0]}])
        assert count_rows(client, a) == 2

        # A second alias with the same name is refused.
        with raises_milvus():
            client.create_alias(b, alias)

        client.alter_alias(b, alias)
        assert client.describe_alias(alias)["collection_name"] == b
        hits = client.search(alias, [[1.0, 0, 0, 0]], limit=5)
        assert [h["id"] for h in hits[0]] == [2]
        assert alias not in client.list_aliases(a)["aliases"]
        assert alias in client.list_aliases(b)["aliases"]

        # Milvus refuses to drop a collection through its alias, and keeps both.
        e = milvus_error(client.drop_collection, alias)
        assert (e.code, e.message) == (65535, f"cannot drop the collection via alias = {alias}")
        assert client.has_collection(b) and client.has_collection(alias)

        client.drop_alias(alias)
        with raises_milvus():
            client.describe_alias(alias)
        assert client.has_collection(alias) is False
        assert client.has_collection(b)
    finally:
        try:
            client.drop_alias(alias)
        except MilvusException:
            pass
        client.drop_collection(a)
        client.drop_collection(b)


def test_orm_alias_utility(orm, client, unique_name):
    name, alias = unique_name(), unique_name("al")
    client.create_collection(name, schema=simple_schema(4), timeout=T)
    try:
        utility.create_alias(name, alias, using=orm)
        assert alias in utility.list_aliases(name, using=orm)
        assert Collection(alias, using=orm).name in (name, alias)
        utility.drop_alias(alias, using=orm)
        assert alias not in utility.list_aliases(name, using=orm)
    finally:
        client.drop_collection(name)


@pytest.mark.parametrize("add,code,text", [
    (lambda s: s.add_field("s", DataType.VARCHAR, max_length=65536), 1100,
     "the maximum length specified for the field(s) should be in (0, 65535], but got 65536 instead"),
    (lambda s: s.add_field("s", DataType.VARCHAR, max_length=0), 1100,
     "should be in (0, 65535], but got 0 instead"),
    (lambda s: s.add_field("s", DataType.VARCHAR), 1101,
     "type param(max_length) should be specified for the field(s) of collection {name}"),
    (lambda s: s.add_field("a", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4097),
     1100, "the maximum capacity specified for a Array should be in (0, 4096]"),
    (lambda s: s.add_field("a", DataType.ARRAY, element_type=DataType.INT64), 1101,
     "type param(max_capacity) should be specified for array field a of collection {name}"),
    (lambda s: s.add_field("a", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4),
     1101, "type param(max_length) should be specified for the field(a) of collection {name}"),
])
def test_max_length_and_max_capacity_rules(client, unique_name, add, code, text):
    """Milvus 2.6's proxy rules (validateMaxLengthPerRow, getMaxCapacityPerRow): codes and texts."""
    name = unique_name()
    schema = simple_schema(4)
    add(schema)
    e = milvus_error(client.create_collection, name, schema=schema)
    assert e.code == code and text.format(name=name) in e.message, (e.code, e.message)
    assert not client.has_collection(name)


def test_truncate_leaves_no_old_segment_and_survives_restart(fresh_server):
    """Milvus 2.6's truncate_collection: every row gone at once, no persistent segment of
    the old data listed afterwards, new rows accepted, and a restart brings nothing back."""
    srv = fresh_server
    c = MilvusClient(uri=srv.uri, timeout=T, dedicated=True)
    c.create_collection("trunc", dimension=4, consistency_level="Strong", timeout=T)
    c.insert("trunc", [{"id": i, "vector": [float(i), 1.0, 0.0, 0.0]} for i in range(300)])
    c.flush("trunc", timeout=T)
    c.insert("trunc", [{"id": i, "vector": [1.0, 0.0, 0.0, float(i)]} for i in range(300, 350)])
    assert len(c.list_persistent_segments("trunc")) == 1
    c.truncate_collection("trunc")
    assert c.query("trunc", filter="", output_fields=["count(*)"])[0]["count(*)"] == 0
    assert c.list_persistent_segments("trunc") == []
    c.insert("trunc", [{"id": 7, "vector": [0.5, 0.5, 0.5, 0.5]}])
    c.close()
    srv.kill()
    srv.start()
    c = MilvusClient(uri=srv.uri, timeout=T, dedicated=True)
    c.load_collection("trunc", timeout=T)
    got = c.query("trunc", filter="", output_fields=["id"], limit=10)
    assert [r["id"] for r in got] == [7]
    c.close()
