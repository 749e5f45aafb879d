"""Malformed names are refused with Milvus 2.6's exact code and message, before any lookup.

pymilvus users match on `MilvusException.code` / `.message`, so every kind of name keeps
Milvus's own rule and text: collection and alias names (1100), partition names (65535, a
plain error in Milvus; a leading digit and `-` are allowed), field names (1701, filter keywords
refused), database names (802), index names (65535), user names and passwords (1100).
The name's form is checked first: has/describe/load/release of a malformed collection name
is the name error, not False or "collection not found"; search only looks the name up, and
drop_collection accepts any name, as in Milvus. Valid unusual names (`_a`, `a_1`, 255 bytes,
partition `12-s`) work. All cases share the session's server.
"""

import uuid

import pytest
from pymilvus import DataType, MilvusClient

from _util import T, milvus_error, simple_schema

BAD_COLLECTION_NAMES = ["12-s", "12 s", "(mn)", "中文", "%$#", " ", "español", "a" * 256]


def fresh(prefix="n"):
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def collection_reason(name, what="name"):
    head = f"Invalid collection {what}: {name}."
    if len(name.encode()) > 255:
        rule = f"the length of a collection {what} must be less than 255 characters"
    elif name[0] == "_" or (name[0].isascii() and name[0].isalpha()):
        rule = f"collection {what} can only contain numbers, letters and underscores"
    else:
        rule = f"the first character of a collection {what} must be an underscore or letter"
    return f"{head} {rule}: invalid parameter"


def assert_error(err, code, message):
    assert (err.code, err.message) == (code, message), repr(err)


@pytest.fixture(scope="module")
def mc(server):
    c = MilvusClient(uri=server.uri, timeout=30)
    yield c
    c.close()


@pytest.fixture(scope="module")
def coll(mc):
    """One valid collection the partition, alias and index cases work on."""
    name = fresh("names")
    mc.create_collection(name, schema=simple_schema(4), timeout=T)
    yield name
    mc.drop_collection(name)


# --------------------------------------------------------------------------- collections

OPS = {
    "create": lambda c, n: c.create_collection(n, schema=simple_schema(4), timeout=T),
    "has": lambda c, n: c.has_collection(n),
    "describe": lambda c, n: c.describe_collection(n),
    "load": lambda c, n: c.load_collection(n, timeout=T),
    "release": lambda c, n: c.release_collection(n),
    "stats": lambda c, n: c.get_collection_stats(n),
    "list_partitions": lambda c, n: c.list_partitions(n),
}


@pytest.mark.parametrize("name", BAD_COLLECTION_NAMES, ids=lambda n: n[:8])
@pytest.mark.parametrize("op", list(OPS))
def test_bad_collection_name_is_refused_before_lookup(mc, op, name):
    err = milvus_error(OPS[op], mc, name)
    assert_error(err, 1100, collection_reason(name))


def test_search_only_looks_the_name_up_and_drop_accepts_any_name(mc):
    err = milvus_error(mc.search, "12-s", [[1.0, 0, 0, 0]], limit=1)
    assert err.code == 100, repr(err)
    assert "collection=12-s" in err.message
    # Rename looks the old name up without checking its form, as Milvus does.
    err = milvus_error(mc.rename_collection, "12-s", "renamed_12s")
    assert err.code == 100
    assert err.message == "collection not found[database=default][collection=12-s]"
    mc.drop_collection("12-s")  # Milvus lets drop_collection remove badly named collections
    assert "12-s" not in mc.list_collections()


@pytest.mark.parametrize("name", ["_a", "a_1", "A", "_12name", "a" * 255], ids=lambda n: n[:8])
def test_valid_unusual_collection_names_work(mc, name):
    name = name if len(name) == 255 else f"{name}_{uuid.uuid4().hex[:8]}"
    mc.drop_collection(name)
    mc.create_collection(name, schema=simple_schema(4), timeout=T)
    try:
        assert mc.has_collection(name) is True
        assert mc.describe_collection(name)["collection_name"] == name
    finally:
        mc.drop_collection(name)
    assert mc.has_collection(name) is False


# --------------------------------------------------------------------------- partitions


def partition_reason(name):
    name = name.strip()
    head = f"Invalid partition name: {name}."
    if not name:
        return f"{head} Partition name should not be empty."
    if len(name.encode()) > 255:
        return f"{head} The length of a partition name must be less than 255 characters."
    if not (name[0] == "_" or (name[0].isascii() and name[0].isalnum())):
        return f"{head} The first character of a partition name must be an underscore or letter."
    return f"{head} Partition name can only contain numbers, letters and underscores."


PARTITION_OPS = {
    "create": lambda c, coll, p: c.create_partition(coll, p),
    "has": lambda c, coll, p: c.has_partition(coll, p),
    "drop": lambda c, coll, p: c.drop_partition(coll, p),
}


@pytest.mark.parametrize("part", ["(mn)", "中文", "%$#", "12 s", " ", "p" * 256], ids=lambda n: n[:8])
@pytest.mark.parametrize("op", list(PARTITION_OPS))
def test_bad_partition_name(mc, coll, op, part):
    err = milvus_error(PARTITION_OPS[op], mc, coll, part)
    assert_error(err, 65535, partition_reason(part))
    # ...also when the collection does not exist: the form is checked first
    err = milvus_error(PARTITION_OPS[op], mc, fresh("missing"), part)
    assert_error(err, 65535, partition_reason(part))


def test_partition_ops_check_the_collection_name_first(mc):
    err = milvus_error(mc.has_partition, "12-s", "(mn)")
    assert_error(err, 1100, collection_reason("12-s"))


def test_valid_unusual_partition_names_work(mc, coll):
    for part in ["12-s", "_p", "p-1", "1"]:
        mc.create_partition(coll, part)
        assert mc.has_partition(coll, part) is True
        mc.drop_partition(coll, part)
        assert mc.has_partition(coll, part) is False


# --------------------------------------------------------------------------- fields


def field_reason(name):
    head = f"Invalid field name: {name}."
    if name[0] == "_" or (name[0].isascii() and name[0].isalpha()):
        if all(ch == "_" or (ch.isascii() and ch.isalnum()) for ch in name):
            rule = f"{name} is keyword in milvus."
        else:
            rule = "Field name can only contain numbers, letters, and underscores."
    else:
        rule = "The first character of a field name must be an underscore or letter."
    return f"{head} {rule}: field name invalid[field={name}]"


@pytest.mark.parametrize(
    "field", ["123abc", "中文", "español", "!@#$%^&*()", "$meta", "like", "and", "in", "TRUE", "json_contains"]
)
def test_bad_field_name_in_schema(mc, field):
    schema = MilvusClient.create_schema(enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field(field, DataType.VARCHAR, max_length=16)
    name = fresh()
    err = milvus_error(mc.create_collection, name, schema=schema, timeout=T)
    assert_error(err, 1701, field_reason(field))
    assert mc.has_collection(name) is False


# --------------------------------------------------------------------------- aliases, databases, indexes, users


@pytest.mark.parametrize("alias", ["12-s", "(mn)", "中文", "a-b"])
def test_bad_alias(mc, coll, alias):
    for call in (
        lambda: mc.create_alias(coll, alias),
        lambda: mc.alter_alias(coll, alias),
        lambda: mc.describe_alias(alias),
    ):
        assert_error(milvus_error(call), 1100, collection_reason(alias, "alias"))


def test_alias_to_a_bad_collection_name(mc):
    err = milvus_error(mc.create_alias, "12-s", fresh("alias"))
    assert_error(err, 1100, collection_reason("12-s"))


def db_reason(name, rule):
    return f"{rule}: invalid database name[database={name}]"


@pytest.mark.parametrize(
    "name,rule",
    [
        ("12-s", "the first character of a database name must be an underscore or letter"),
        ("中文", "the first character of a database name must be an underscore or letter"),
        ("db-1", "database name can only contain numbers, letters and underscores"),
        ("d" * 256, "the length of a database name must be less than 255 characters"),
    ],
    ids=lambda v: str(v)[:8],
)
def test_bad_database_name(mc, name, rule):
    assert_error(milvus_error(mc.create_database, name), 802, db_reason(name, rule))
    assert_error(milvus_error(mc.drop_database, name), 802, db_reason(name, rule))


def test_valid_unusual_database_name(mc):
    name = f"_db_{uuid.uuid4().hex[:8]}"
    mc.create_database(name)
    assert name in mc.list_databases()
    mc.drop_database(name)
    assert name not in mc.list_databases()


def test_bad_index_name(mc, coll):
    ip = MilvusClient.prepare_index_params()
    ip.add_index(field_name="vec", index_type="FLAT", metric_type="L2", index_name="1idx")
    err = milvus_error(mc.create_index, coll, ip, timeout=T)
    assert_error(
        err,
        65535,
        "Invalid index name: 1idx. The first character of a index name must be an underscore or letter.",
    )
    assert mc.list_indexes(coll) == []


def test_bad_user_name_and_password(mc):
    err = milvus_error(mc.create_user, "_a", "Secret123")
    assert_error(
        err,
        1100,
        "invalid user name _a, the first character must be a letter, but got _: invalid parameter",
    )
    err = milvus_error(mc.create_user, "u" * 33, "Secret123")
    assert_error(
        err,
        1100,
        f"invalid username {'u' * 33} with length 33, the length of username must be less "
        "than 32: invalid parameter",
    )
    err = milvus_error(mc.create_user, fresh("user"), "12345")
    assert_error(err, 1100, "invalid password length: invalid parameter[5 out of range 6 <= value <= 72]")
