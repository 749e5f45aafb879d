"""Admin RPCs that client tools call on connect (issue 9, item 5): resource groups.

A fresh standalone Quiver has exactly Milvus's default resource group with its one query node
and one replica of every loaded collection; other group names answer Milvus's "resource group not
found" (code 300), as Milvus does for a group that does not exist.
"""

from pymilvus import MilvusClient

from _util import make_loaded_collection, milvus_error

DEFAULT_RG = "__default_resource_group"


def test_list_resource_groups_has_the_default_group(client: MilvusClient):
    assert client.list_resource_groups() == [DEFAULT_RG]


def test_describe_default_group_counts_loaded_collections(client: MilvusClient, unique_name):
    loaded, released = unique_name(), unique_name()
    make_loaded_collection(client, loaded, dim=4)
    make_loaded_collection(client, released, dim=4)
    client.release_collection(released)
    rg = client.describe_resource_group(DEFAULT_RG)
    assert rg.name == DEFAULT_RG
    assert rg.capacity == 1_000_000
    assert rg.num_available_node == 1
    assert len(rg.nodes) == 1
    replicas = dict(rg.num_loaded_replica)
    assert replicas.get(loaded) == 1
    assert released not in replicas
    assert dict(rg.num_outgoing_node) == {} and dict(rg.num_incoming_node) == {}
    client.drop_collection(loaded)
    client.drop_collection(released)


def test_describe_unknown_group_is_not_found(client: MilvusClient):
    e = milvus_error(client.describe_resource_group, "no_such_group")
    assert e.code == 300, e
    assert "resource group not found" in e.message and "no_such_group" in e.message, e.message
