use std::sync::Arc;

use quiver_storage::{MemoryMetaStore, MetaStore};

use super::*;

const DEFAULT: &str = DEFAULT_RESOURCE_GROUP;

fn open(meta: &Arc<dyn MetaStore>) -> ResourceGroups {
    ResourceGroups::open(meta.clone(), 7).unwrap_or_else(|e| panic!("{e}"))
}

fn fresh() -> (Arc<dyn MetaStore>, ResourceGroups) {
    let meta: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::default());
    let rg = open(&meta);
    (meta, rg)
}

/// The error's (code, reason) as a client sees them.
fn refused(r: Result<impl std::fmt::Debug>) -> (i32, String) {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => {
            let (code, _, reason) = e.status_parts();
            (code, reason)
        }
    }
}

fn ok<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn placed(group: &str) -> Vec<ReplicaPlacement> {
    vec![ReplicaPlacement {
        collection_id: 42,
        collection: "c".into(),
        group: group.into(),
    }]
}

#[test]
fn fresh_server_has_the_default_group_with_the_node() {
    let (_, rg) = fresh();
    assert_eq!(rg.list(), vec![DEFAULT.to_string()]);
    let d = ok(rg.describe(DEFAULT, &placed(DEFAULT)));
    assert_eq!(d.capacity, DEFAULT_CAPACITY);
    assert_eq!(d.num_available_node, 1);
    assert_eq!(d.nodes, vec![7]);
    assert_eq!(d.config, RgConfig::nodes(0, DEFAULT_CAPACITY));
    assert_eq!(d.num_loaded_replica, vec![("c".to_string(), 1)]);
    assert!(d.num_outgoing_node.is_empty() && d.num_incoming_node.is_empty());
    assert_eq!(
        refused(rg.describe("nope", &[])),
        (300, "resource group not found[rg=nope]".into())
    );
}

#[test]
fn create_is_idempotent_for_the_same_config_only() {
    let (_, rg) = fresh();
    ok(rg.create("rg1", None));
    ok(rg.create("rg1", Some(RgConfig::nodes(0, 0))));
    assert_eq!(
        refused(rg.create("rg1", Some(RgConfig::nodes(1, 1)))),
        (
            301,
            "resource group already exist, but create with different config[rg=rg1]".into()
        )
    );
    // The default group differs from (0, 0).
    assert_eq!(refused(rg.create(DEFAULT, None)).0, 301);
    ok(rg.create(DEFAULT, Some(RgConfig::nodes(0, DEFAULT_CAPACITY))));
    let d = ok(rg.describe("rg1", &[]));
    assert_eq!((d.capacity, d.num_available_node), (0, 0));
    assert_eq!(d.config, RgConfig::nodes(0, 0));
}

#[test]
fn configs_are_validated_in_milvus_order() {
    let (_, rg) = fresh();
    let cfg = RgConfig {
        requests: Some(1),
        ..Default::default()
    };
    assert_eq!(
        refused(rg.create("a", Some(cfg))),
        (
            303,
            "requests or limits is required: resource group illegal config[rg=a][config=requests:{node_num:1}]"
                .into()
        )
    );
    assert_eq!(
        refused(rg.create("a", Some(RgConfig::nodes(-1, 2)))).1,
        "node num in `requests` or `limits` should not less than 0: resource group illegal \
         config[rg=a][config=requests:{node_num:-1} limits:{node_num:2}]"
    );
    assert_eq!(
        refused(rg.create("a", Some(RgConfig::nodes(2, 1)))).1,
        "limits node num should not less than requests node num: resource group illegal \
         config[rg=a][config=requests:{node_num:2} limits:{node_num:1}]"
    );
    let from_self = RgConfig {
        transfer_from: vec!["a".into()],
        ..RgConfig::nodes(0, 0)
    };
    assert_eq!(
        refused(rg.create("a", Some(from_self))).1,
        "resource group in `TransferFrom` a should not be itself: resource group illegal \
         config[rg=a][config=requests:{} limits:{} transfer_from:{resource_group:\"a\"}]"
    );
    let to_missing = RgConfig {
        transfer_to: vec!["zz".into()],
        ..RgConfig::nodes(0, 0)
    };
    assert!(refused(rg.create("a", Some(to_missing)))
        .1
        .starts_with("resource group in `TransferTo` zz not exist: "));
    assert_eq!(rg.list(), vec![DEFAULT.to_string()]);
}

#[test]
fn a_group_that_requests_a_node_takes_it_and_gives_it_back() {
    let (meta, rg) = fresh();
    ok(rg.create("rg1", Some(RgConfig::nodes(1, 1))));
    assert_eq!(rg.node_group(), "rg1");
    let d = ok(rg.describe(DEFAULT, &placed(DEFAULT)));
    assert_eq!((d.num_available_node, d.capacity), (0, DEFAULT_CAPACITY));
    assert_eq!(d.num_outgoing_node, vec![("c".to_string(), 1)]);
    let r1 = ok(rg.describe("rg1", &placed(DEFAULT)));
    assert_eq!((r1.capacity, r1.num_available_node), (1, 1));
    assert_eq!(r1.num_incoming_node, vec![("c".to_string(), 1)]);
    // Survives a restart.
    let again = open(&meta);
    assert_eq!(again.node_group(), "rg1");
    assert_eq!(again.list().len(), 2);
    // Dropping needs limits 0 first; then the node goes home.
    assert_eq!(
        refused(rg.drop_group("rg1", &[])),
        (
            1100,
            "resource group's limits node num is not 0: invalid parameter[expected=not empty \
             resource group][actual=rg1]"
                .into()
        )
    );
    ok(rg.update(vec![("rg1".into(), RgConfig::nodes(0, 0))]));
    assert_eq!(rg.node_group(), DEFAULT);
    ok(rg.drop_group("rg1", &[]));
    ok(rg.drop_group("rg1", &[]));
    assert_eq!(open(&meta).list(), vec![DEFAULT.to_string()]);
}

#[test]
fn drop_refuses_default_loaded_and_referenced_groups() {
    let (_, rg) = fresh();
    assert_eq!(
        refused(rg.drop_group(DEFAULT, &[])).1,
        "default resource group is not deletable: invalid parameter[expected=not default \
         resource group][actual=__default_resource_group]"
    );
    ok(rg.create("rg1", None));
    assert_eq!(
        refused(rg.drop_group("rg1", &placed("rg1"))).1,
        "some replicas still loaded in resource group[rg1], release it first: invalid \
         parameter[expected=empty resource group][actual=resource group rg1 has collection 42 \
         loaded]"
    );
    let cfg = RgConfig {
        transfer_from: vec!["rg1".into()],
        ..RgConfig::nodes(0, 0)
    };
    ok(rg.create("rg2", Some(cfg)));
    assert_eq!(
        refused(rg.drop_group("rg1", &[])).1,
        "resource group rg1 is used by rg2's `TransferFrom`, remove that configuration first: \
         invalid parameter[expected=not `TransferFrom` of resource group][actual=rg1]"
    );
}

#[test]
fn update_checks_every_entry_before_applying_any() {
    let (_, rg) = fresh();
    ok(rg.create("rg1", None));
    assert_eq!(
        refused(rg.update(vec![
            ("rg1".into(), RgConfig::nodes(1, 1)),
            ("ghost".into(), RgConfig::nodes(0, 0)),
        ])),
        (300, "resource group not found[rg=ghost]".into())
    );
    assert_eq!(ok(rg.describe("rg1", &[])).config, RgConfig::nodes(0, 0));
    ok(rg.update(Vec::new()));
    ok(rg.update(vec![(DEFAULT.into(), RgConfig::nodes(1, 1))]));
    assert_eq!(ok(rg.describe(DEFAULT, &[])).capacity, DEFAULT_CAPACITY);
}

#[test]
fn transfer_node_moves_requests_and_limits() {
    let (_, rg) = fresh();
    ok(rg.create("rg1", None));
    assert_eq!(
        refused(rg.transfer_node("rg1", "rg1", 1)).1,
        "source resource group and target resource group should not be the same, resource \
         group: rg1: invalid parameter"
    );
    assert_eq!(
        refused(rg.transfer_node(DEFAULT, "rg1", 0)).1,
        "invalid parameter[expected=NumNode > 0][actual=invalid NumNode 0]"
    );
    assert_eq!(refused(rg.transfer_node("x", "rg1", 1)).0, 300);
    assert_eq!(
        refused(rg.transfer_node(DEFAULT, "rg1", 2)),
        (
            304,
            "resource group node not enough[rg=__default_resource_group][currentNodeNum=1][expectedNodeNum=2]"
                .into()
        )
    );
    ok(rg.transfer_node(DEFAULT, "rg1", 1));
    assert_eq!(rg.node_group(), "rg1");
    assert_eq!(ok(rg.describe("rg1", &[])).config, RgConfig::nodes(1, 1));
    assert_eq!(
        ok(rg.describe(DEFAULT, &[])).config,
        RgConfig::nodes(0, DEFAULT_CAPACITY)
    );
    ok(rg.transfer_node("rg1", DEFAULT, 1));
    assert_eq!(rg.node_group(), DEFAULT);
    assert_eq!(ok(rg.describe("rg1", &[])).config, RgConfig::nodes(0, 0));
}

#[test]
fn transfer_replica_and_load_checks() {
    let (_, rg) = fresh();
    ok(rg.create("rg1", None));
    let check = |src: &str, dst: &str, n: i64, placed: Option<&str>| {
        rg.check_transfer_replica(src, dst, "c", n, placed)
    };
    assert_eq!(refused(check("x", "rg1", 1, None)).0, 300);
    assert_eq!(refused(check("rg1", "rg1", 1, None)).0, 1100);
    assert_eq!(
        refused(check(DEFAULT, "rg1", 0, None)).1,
        "invalid parameter[expected=NumReplica > 0][actual=invalid NumReplica 0]"
    );
    assert_eq!(
        refused(check(DEFAULT, "rg1", 1, None)),
        (101, "collection not loaded[collection=c]".into())
    );
    assert_eq!(
        refused(check(DEFAULT, "rg1", 2, Some(DEFAULT))).1,
        "the number of replicas to transfer is greater than the number of replicas in the \
         collection: invalid parameter[expected=2][actual=1]"
    );
    assert_eq!(
        refused(check("rg1", DEFAULT, 1, Some(DEFAULT))).1,
        "invalid parameter[expected=NumReplica not greater than the number of replica in source \
         resource group][actual=only found [0] replicas of collection [c] in source resource \
         group [rg1], but 1 require]"
    );
    ok(check(DEFAULT, "rg1", 1, Some(DEFAULT)));

    assert_eq!(ok(rg.assign(&[], 0, true)), DEFAULT);
    assert_eq!(
        refused(rg.assign(&[], 2, true)),
        (
            12,
            "when load 2 replica count: service resource insufficient[currentStreamingNode=1][expectedStreamingNode=2]"
                .into()
        )
    );
    assert_eq!(
        refused(rg.assign(&["a".into(), "b".into()], 3, true)).1,
        "replica=[3] resource group=[a,b], resource group num can only be 0, 1 or same as \
         replica number: invalid parameter"
    );
    assert_eq!(refused(rg.assign(&["x".into()], 1, true)).0, 300);
    assert_eq!(
        refused(rg.assign(&["rg1".into()], 1, true)).1,
        "resource group node not enough[rg=rg1][currentNodeNum=0][expectedNodeNum=1]"
    );
    assert_eq!(ok(rg.assign(&["rg1".into()], 1, false)), "rg1");
}
