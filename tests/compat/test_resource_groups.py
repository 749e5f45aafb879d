"""Resource groups as Milvus 2.6 manages them with one query node (issue 9, item 5).

Create, update, transfer and drop answer with Milvus's checks, codes and texts; a group that
requests a node takes the one query node from the default group (so loads into the default group
then fail as on Milvus), replicas are placed by `load_collection(resource_groups=...)` and moved by
`transfer_replica`, and groups survive a restart. Tests that move the node use a server of their
own: with the node gone from the default group, no other test could load there.
"""

from pymilvus import MilvusClient, connections, utility
from pymilvus.client.types import ResourceGroupConfig
from pymilvus.exceptions import MilvusException

from _util import T, make_loaded_collection, milvus_error, rand_vectors

DEFAULT_RG = "__default_resource_group"


def cfg(requests: int, limits: int, **kw) -> ResourceGroupConfig:
    return ResourceGroupConfig(requests={"node_num": requests}, limits={"node_num": limits}, **kw)


def node_count(client: MilvusClient, name: str) -> int:
    return client.describe_resource_group(name).num_available_node


def test_create_describe_update_drop(client: MilvusClient, unique_name):
    name = unique_name("rg")
    client.create_resource_group(name)
    try:
        assert name in client.list_resource_groups()
        rg = client.describe_resource_group(name)
        assert (rg.name, rg.capacity, rg.num_available_node, list(rg.nodes)) == (name, 0, 0, [])
        assert rg.config.HasField("requests") and rg.config.HasField("limits")
        assert (rg.config.requests.node_num, rg.config.limits.node_num) == (0, 0)
        # The same config again is a no-op; another one is refused.
        client.create_resource_group(name, config=cfg(0, 0))
        e = milvus_error(client.create_resource_group, name, config=cfg(0, 3))
        assert (e.code, e.message) == (
            301,
            f"resource group already exist, but create with different config[rg={name}]",
        )
        # limits 0 → 0 requested: updatable, transfer lists must name existing groups.
        client.update_resource_groups(
            {name: cfg(0, 0, transfer_from=[{"resource_group": DEFAULT_RG}])}
        )
        rg = client.describe_resource_group(name)
        assert [t.resource_group for t in rg.config.transfer_from] == [DEFAULT_RG]
        e = milvus_error(
            client.update_resource_groups, {name: cfg(0, 0, transfer_to=[{"resource_group": "ghost"}])}
        )
        assert e.code == 303 and e.message.startswith(
            "resource group in `TransferTo` ghost not exist: resource group illegal config"
        ), e
        e = milvus_error(client.update_resource_groups, {"ghost_rg": cfg(0, 0)})
        assert (e.code, e.message) == (300, "resource group not found[rg=ghost_rg]")
    finally:
        client.drop_resource_group(name)
    assert name not in client.list_resource_groups()
    # Dropping what does not exist succeeds, as on Milvus.
    client.drop_resource_group(name)


def test_config_and_name_errors(client: MilvusClient, unique_name):
    e = milvus_error(client.create_resource_group, unique_name("rg"), config=cfg(2, 1))
    assert e.code == 303 and e.message.startswith(
        "limits node num should not less than requests node num: resource group illegal config"
    ), e
    assert "[config=requests:{node_num:2} limits:{node_num:1}]" in e.message, e.message
    e = milvus_error(client.create_resource_group, "1rg")
    assert (e.code, e.message) == (
        1100,
        "Invalid resource group name 1rg. the first character of a resource group name must be "
        "an underscore or letter: invalid parameter",
    )
    e = milvus_error(client.create_resource_group, "rg-1")
    assert e.code == 1100 and "can only contain numbers, letters and underscores" in e.message
    # Update validates every key's form before looking any of them up.
    e = milvus_error(client.update_resource_groups, {"1bad": cfg(0, 0)})
    assert (e.code, e.message) == (
        1100,
        "Invalid resource group name 1bad. the first character of a resource group name must be "
        "an underscore or letter: invalid parameter",
    )
    e = milvus_error(client.create_resource_group, DEFAULT_RG)
    assert e.code == 301, e
    assert client.list_resource_groups() == [DEFAULT_RG]


def test_default_group_is_not_deletable(fresh_server, unique_name):
    """Milvus checks for loaded replicas before it checks the name, so with a collection loaded in
    the default group the refusal names the replica; with none, it names the default group. A
    server of its own: the shared one has other tests' collections loaded."""
    client = MilvusClient(uri=fresh_server.uri, timeout=30)
    try:
        e = milvus_error(client.drop_resource_group, DEFAULT_RG)
        assert (e.code, e.message) == (
            1100,
            "default resource group is not deletable: invalid parameter[expected=not default "
            "resource group][actual=__default_resource_group]",
        )
        name = unique_name("c")
        make_loaded_collection(client, name)
        collection_id = client.describe_collection(name)["collection_id"]
        e = milvus_error(client.drop_resource_group, DEFAULT_RG)
        assert (e.code, e.message) == (
            1100,
            "some replicas still loaded in resource group[__default_resource_group], release it "
            "first: invalid parameter[expected=empty resource group][actual=resource group "
            f"__default_resource_group has collection {collection_id} loaded]",
        )
    finally:
        client.close()


def test_a_group_that_requests_the_node_takes_it(fresh_server, unique_name):
    client = MilvusClient(uri=fresh_server.uri, timeout=30)
    coll, other, rg1, empty = unique_name(), unique_name(), "rg1", "rg_empty"
    make_loaded_collection(client, coll, dim=4)
    client.insert(coll, [{"id": i, "vec": v.tolist()} for i, v in enumerate(rand_vectors(20, 4))])
    make_loaded_collection(client, other, dim=4)
    client.release_collection(other)
    client.create_resource_group(rg1, config=cfg(1, 1))
    client.create_resource_group(empty)
    assert client.list_resource_groups() == sorted([DEFAULT_RG, rg1, empty])
    d, r = client.describe_resource_group(DEFAULT_RG), client.describe_resource_group(rg1)
    assert (d.num_available_node, d.capacity, r.num_available_node, r.capacity) == (0, 1_000_000, 1, 1)
    assert len(r.nodes) == 1 and r.nodes[0].node_id == 1
    # The loaded replica stays in the default group, served by the node that left it.
    assert dict(d.num_loaded_replica) == {coll: 1} and dict(d.num_outgoing_node) == {coll: 1}
    assert dict(r.num_incoming_node) == {coll: 1}
    assert len(client.search(coll, [[0.1] * 4], limit=3)[0]) == 3
    # A new load into a group without nodes fails the way Milvus's LoadCollection does.
    e = milvus_error(client.load_collection, other, timeout=T)
    assert (e.code, e.message) == (
        65535,
        "call query coordinator LoadCollection: resource group node not enough"
        "[rg=__default_resource_group][currentNodeNum=0][expectedNodeNum=1]",
    )
    e = milvus_error(client.load_collection, other, resource_groups=[empty], timeout=T)
    assert "[rg=rg_empty][currentNodeNum=0][expectedNodeNum=1]" in e.message, e
    e = milvus_error(client.load_collection, other, resource_groups=["nope"], timeout=T)
    assert e.message == "call query coordinator LoadCollection: resource group not found[rg=nope]"
    client.load_collection(other, resource_groups=[rg1], timeout=T)
    assert dict(client.describe_resource_group(rg1).num_loaded_replica) == {other: 1}
    assert client.describe_replica(other)[0].resource_group == rg1
    # A group holding a replica cannot be dropped; one with limits > 0 neither.
    e = milvus_error(client.drop_resource_group, rg1)
    assert e.code == 1100 and e.message.startswith(
        "some replicas still loaded in resource group[rg1], release it first: invalid parameter"
    ), e
    client.release_collection(other)
    e = milvus_error(client.drop_resource_group, rg1)
    assert e.message == (
        "resource group's limits node num is not 0: invalid parameter[expected=not empty resource "
        "group][actual=rg1]"
    )
    client.update_resource_groups({rg1: cfg(0, 0)})
    assert node_count(client, DEFAULT_RG) == 1
    client.drop_resource_group(rg1)
    client.load_collection(other, timeout=T)
    # Transfers: the replica of a loaded collection may go to an empty group, and stays served.
    client.transfer_replica(DEFAULT_RG, empty, coll, 1)
    assert client.describe_replica(coll)[0].resource_group == empty
    assert dict(client.describe_resource_group(empty).num_outgoing_node) == {coll: 1}
    assert len(client.search(coll, [[0.1] * 4], limit=3)[0]) == 3
    e = milvus_error(client.transfer_replica, DEFAULT_RG, empty, coll, 1)
    assert e.message == (
        "invalid parameter[expected=NumReplica not greater than the number of replica in source "
        f"resource group][actual=only found [0] replicas of collection [{coll}] in source resource "
        "group [__default_resource_group], but 1 require]"
    ), e
    e = milvus_error(client.transfer_replica, empty, DEFAULT_RG, coll, 2)
    assert e.message.startswith("the number of replicas to transfer is greater than"), e
    client.release_collection(other)
    e = milvus_error(client.transfer_replica, DEFAULT_RG, empty, other, 1)
    assert (e.code, e.message) == (101, f"collection not loaded[collection={other}]")
    client.close()


def test_replica_number_beyond_one_node_is_refused(client: MilvusClient, unique_name):
    name = unique_name()
    make_loaded_collection(client, name, dim=4)
    client.release_collection(name)
    e = milvus_error(client.load_collection, name, replica_number=2, timeout=T)
    assert (e.code, e.message) == (
        65535,
        "call query coordinator LoadCollection: when load 2 replica count: service resource "
        "insufficient[currentStreamingNode=1][expectedStreamingNode=2]",
    )
    # LoadPartitions passes the coordinator's code through unwrapped, as Milvus's proxy does.
    e = milvus_error(client.load_partitions, name, ["_default"], resource_groups=["nope"], timeout=T)
    assert (e.code, e.message) == (300, "resource group not found[rg=nope]")
    client.load_collection(name, replica_number=1, timeout=T)
    client.drop_collection(name)


def test_transfer_node_and_restart(fresh_server):
    alias = "rg_orm"
    connections.connect(alias=alias, uri=fresh_server.uri, timeout=30)
    client = MilvusClient(uri=fresh_server.uri, timeout=30)
    try:
        client.create_resource_group("rg_a")
        try:
            utility.transfer_node(DEFAULT_RG, "rg_a", 2, using=alias)
            raise AssertionError("transfer of 2 nodes out of 1 succeeded")
        except MilvusException as e:
            assert (e.code, e.message) == (
                304,
                "resource group node not enough[rg=__default_resource_group][currentNodeNum=1]"
                "[expectedNodeNum=2]",
            )
        utility.transfer_node(DEFAULT_RG, "rg_a", 1, using=alias)
        a = client.describe_resource_group("rg_a")
        assert (a.config.requests.node_num, a.config.limits.node_num, a.num_available_node) == (1, 1, 1)
    finally:
        connections.disconnect(alias)
        client.close()
    fresh_server.restart()
    client = MilvusClient(uri=fresh_server.uri, timeout=30)
    assert client.list_resource_groups() == [DEFAULT_RG, "rg_a"]
    assert node_count(client, "rg_a") == 1 and node_count(client, DEFAULT_RG) == 0
    client.close()

