//! Resource groups: named pools of query nodes that replicas are placed in
//! (Milvus's query coordinator `ResourceManager`).
//!
//! A standalone server has one query node, so the interesting part is not
//! placement but answering every resource-group call as Milvus 2.6 does with
//! a single node: the same checks in the same order, with the same code and
//! text (tools and Milvus's own tests match on them). Configs are persisted
//! in the metadata store, written through before they become visible, as the
//! catalog's records are. Where Milvus moves nodes in a background observer
//! a few milliseconds after a change, this moves the one node at once, by
//! the observer's rules: a group above its limit gives the node back, and a
//! group below its request takes it from a group that has it to spare.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use quiver_storage::{MetaOp, MetaStore};

use crate::catalog::KEY_PREFIX;
use crate::error::{parameter_invalid_msg, refuse, QuiverError, Result};
use crate::roles::{ReplicaPlacement, ResourceGroupInfo, RgConfig, DEFAULT_RESOURCE_GROUP};

/// Milvus `quotaAndLimits.limits.maxResourceGroupNumOfQueryNode`.
pub const MAX_RESOURCE_GROUPS: usize = 1024;
/// Milvus `DefaultResourceGroupCapacity`: the default group's capacity and
/// the limit of its default config.
pub const DEFAULT_CAPACITY: i32 = 1_000_000;
/// Streaming nodes of a standalone Milvus 2.6: one, so one replica at most.
const STREAMING_NODES: i64 = 1;

/// Milvus `merr` codes of the resource-group errors.
mod code {
    pub const SERVICE_RESOURCE_INSUFFICIENT: i32 = 12;
    pub const ALREADY_EXIST: i32 = 301;
    pub const REACH_LIMIT: i32 = 302;
    pub const ILLEGAL_CONFIG: i32 = 303;
    pub const NODE_NOT_ENOUGH: i32 = 304;
    pub use crate::error::merr::PARAMETER_INVALID;
}

/// `merr.WrapErrParameterInvalid(expected, actual, msg)`.
fn parameter(msg: &str, expected: &str, actual: &str) -> QuiverError {
    let head = if msg.is_empty() {
        String::new()
    } else {
        format!("{msg}: ")
    };
    refuse(
        code::PARAMETER_INVALID,
        format!("{head}invalid parameter[expected={expected}][actual={actual}]"),
    )
}

fn illegal(msg: &str, name: &str, cfg: &RgConfig) -> QuiverError {
    refuse(
        code::ILLEGAL_CONFIG,
        format!(
            "{msg}: resource group illegal config[rg={name}][config={}]",
            render(cfg)
        ),
    )
}

fn not_enough(name: &str, have: i64, want: i64) -> QuiverError {
    refuse(
        code::NODE_NOT_ENOUGH,
        format!(
            "resource group node not enough[rg={name}][currentNodeNum={have}][expectedNodeNum={want}]"
        ),
    )
}

fn same_groups(name: &str) -> QuiverError {
    parameter_invalid_msg(format!(
        "source resource group and target resource group should not be the same, resource \
         group: {name}"
    ))
}

/// A config as Go's `%v` prints the proto (protobuf text, one space between
/// fields), which is how Milvus quotes it in its errors.
pub fn render(cfg: &RgConfig) -> String {
    let limit = |v: i32| match v {
        0 => "{}".to_string(),
        n => format!("{{node_num:{n}}}"),
    };
    let mut parts = Vec::new();
    if let Some(r) = cfg.requests {
        parts.push(format!("requests:{}", limit(r)));
    }
    if let Some(l) = cfg.limits {
        parts.push(format!("limits:{}", limit(l)));
    }
    for g in &cfg.transfer_from {
        parts.push(format!("transfer_from:{{resource_group:{g:?}}}"));
    }
    for g in &cfg.transfer_to {
        parts.push(format!("transfer_to:{{resource_group:{g:?}}}"));
    }
    if !cfg.node_labels.is_empty() {
        let labels: Vec<String> = cfg
            .node_labels
            .iter()
            .map(|(k, v)| format!("node_labels:{{key:{k:?} value:{v:?}}}"))
            .collect();
        parts.push(format!("node_filter:{{{}}}", labels.join(" ")));
    }
    parts.join(" ")
}

fn default_config() -> RgConfig {
    RgConfig::nodes(0, DEFAULT_CAPACITY)
}

#[derive(Clone)]
struct State {
    groups: BTreeMap<String, RgConfig>,
    /// The group the one query node is in.
    node_group: String,
}

impl State {
    fn requests(&self, g: &str) -> i32 {
        self.groups.get(g).and_then(|c| c.requests).unwrap_or(0)
    }

    fn limits(&self, g: &str) -> i32 {
        self.groups.get(g).and_then(|c| c.limits).unwrap_or(0)
    }

    fn nodes_in(&self, g: &str) -> i64 {
        i64::from(self.node_group == g)
    }

    /// Milvus's resource observer, for one node: where the node goes after
    /// a change of configs.
    fn rebalance(&mut self) {
        if !self.groups.contains_key(&self.node_group) {
            self.node_group = DEFAULT_RESOURCE_GROUP.to_string();
        }
        let cur = self.node_group.clone();
        let cur_cfg = self.groups.get(&cur).cloned().unwrap_or_default();
        // Groups missing a node that could hold one, those `cur` prefers
        // (its transfer_to, or naming it in their transfer_from) first.
        let mut missing: Vec<&String> = self
            .groups
            .iter()
            .filter(|(g, c)| **g != cur && c.requests.unwrap_or(0) > 0 && c.limits.unwrap_or(0) > 0)
            .map(|(g, _)| g)
            .collect();
        missing.sort_by_key(|g| {
            let preferred =
                cur_cfg.transfer_to.contains(g) || self.groups[*g].transfer_from.contains(&cur);
            !preferred
        });
        let target = missing.first().map(|g| g.to_string());
        if self.limits(&cur) < 1 {
            // Redundant here: to a group that wants it, else back to default.
            self.node_group = target.unwrap_or_else(|| DEFAULT_RESOURCE_GROUP.to_string());
        } else if self.requests(&cur) < 1 {
            // Spare here: to the first group missing one.
            if let Some(t) = target {
                self.node_group = t;
            }
        }
    }
}

fn rg_key(name: &str) -> String {
    format!("{KEY_PREFIX}rg/{name}")
}
fn node_key() -> String {
    format!("{KEY_PREFIX}rg-node")
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| QuiverError::Internal(format!("encode resource group: {e}")))
}

/// The resource groups and where the node is.
pub struct ResourceGroups {
    meta: Arc<dyn MetaStore>,
    state: Mutex<State>,
    node_id: i64,
}

impl ResourceGroups {
    /// Loads the groups from `meta`; a first start has the default group only.
    pub fn open(meta: Arc<dyn MetaStore>, node_id: i64) -> Result<Self> {
        let mut groups = BTreeMap::new();
        let prefix = rg_key("");
        for (k, v) in meta.scan_prefix(&prefix)? {
            let cfg: RgConfig = serde_json::from_slice(&v)
                .map_err(|e| QuiverError::Internal(format!("corrupt metadata record {k}: {e}")))?;
            groups.insert(k[prefix.len()..].to_string(), cfg);
        }
        groups
            .entry(DEFAULT_RESOURCE_GROUP.to_string())
            .or_insert_with(default_config);
        let node_group = match meta.get(&node_key())? {
            Some(v) => String::from_utf8_lossy(&v).into_owned(),
            None => DEFAULT_RESOURCE_GROUP.to_string(),
        };
        let mut state = State { groups, node_group };
        state.rebalance();
        Ok(ResourceGroups {
            meta,
            state: Mutex::new(state),
            node_id,
        })
    }

    /// Persists `next` (only what differs from the current state), then
    /// makes it current.
    fn commit(&self, cur: &mut State, mut next: State) -> Result<()> {
        next.rebalance();
        let mut ops = Vec::new();
        for (name, cfg) in &next.groups {
            if cur.groups.get(name) != Some(cfg) {
                ops.push(MetaOp::Put(rg_key(name), encode(cfg)?));
            }
        }
        for name in cur.groups.keys() {
            if !next.groups.contains_key(name) {
                ops.push(MetaOp::Delete(rg_key(name)));
            }
        }
        if next.node_group != cur.node_group {
            ops.push(MetaOp::Put(
                node_key(),
                next.node_group.clone().into_bytes(),
            ));
        }
        if !ops.is_empty() {
            self.meta.apply(ops)?;
        }
        *cur = next;
        Ok(())
    }

    /// Group names, sorted (Milvus's order is random; sorted is one of them).
    pub fn list(&self) -> Vec<String> {
        self.state.lock().groups.keys().cloned().collect()
    }

    /// CreateResourceGroup (the name already validated by the proxy).
    pub fn create(&self, name: &str, config: Option<RgConfig>) -> Result<()> {
        let cfg = config.unwrap_or_else(|| RgConfig::nodes(0, 0));
        let mut st = self.state.lock();
        if let Some(existing) = st.groups.get(name) {
            if *existing == cfg {
                return Ok(());
            }
            return Err(refuse(
                code::ALREADY_EXIST,
                format!(
                    "resource group already exist, but create with different config[rg={name}]"
                ),
            ));
        }
        if st.groups.len() >= MAX_RESOURCE_GROUPS {
            return Err(refuse(
                code::REACH_LIMIT,
                format!("resource group num reach limit[rg={name}][limit={MAX_RESOURCE_GROUPS}]"),
            ));
        }
        validate(&st, name, &cfg)?;
        let mut next = st.clone();
        next.groups.insert(name.to_string(), cfg);
        self.commit(&mut st, next)
    }

    /// DropResourceGroup: absent is fine; in-use groups are refused.
    pub fn drop_group(&self, name: &str, replicas: &[ReplicaPlacement]) -> Result<()> {
        let mut st = self.state.lock();
        if let Some(r) = replicas.iter().find(|r| r.group == name) {
            return Err(parameter(
                &format!("some replicas still loaded in resource group[{name}], release it first"),
                "empty resource group",
                &format!(
                    "resource group {name} has collection {} loaded",
                    r.collection_id
                ),
            ));
        }
        let Some(cfg) = st.groups.get(name) else {
            return Ok(());
        };
        if name == DEFAULT_RESOURCE_GROUP {
            return Err(parameter(
                "default resource group is not deletable",
                "not default resource group",
                name,
            ));
        }
        if cfg.limits.unwrap_or(0) != 0 {
            return Err(parameter(
                "resource group's limits node num is not 0",
                "not empty resource group",
                name,
            ));
        }
        for (other, c) in &st.groups {
            for (list, what) in [
                (&c.transfer_from, "TransferFrom"),
                (&c.transfer_to, "TransferTo"),
            ] {
                if list.iter().any(|g| g == name) {
                    return Err(parameter(
                        &format!(
                            "resource group {name} is used by {other}'s `{what}`, remove that \
                             configuration first"
                        ),
                        &format!("not `{what}` of resource group"),
                        name,
                    ));
                }
            }
        }
        let mut next = st.clone();
        next.groups.remove(name);
        self.commit(&mut st, next)
    }

    /// UpdateResourceGroups: every config replaced wholesale, all or none.
    pub fn update(&self, configs: Vec<(String, RgConfig)>) -> Result<()> {
        let mut st = self.state.lock();
        for (name, cfg) in &configs {
            if !st.groups.contains_key(name) {
                return Err(QuiverError::ResourceGroupNotFound(name.clone()));
            }
            validate(&st, name, cfg)?;
        }
        if configs.is_empty() {
            return Ok(());
        }
        let mut next = st.clone();
        next.groups.extend(configs);
        self.commit(&mut st, next)
    }

    /// TransferNode (deprecated in Milvus, still served): moves `n` nodes'
    /// worth of requests and limits from `src` to `dst`.
    pub fn transfer_node(&self, src: &str, dst: &str, n: i32) -> Result<()> {
        if src == dst {
            return Err(same_groups(src));
        }
        if n <= 0 {
            return Err(parameter(
                "",
                "NumNode > 0",
                &format!("invalid NumNode {n}"),
            ));
        }
        let mut st = self.state.lock();
        for g in [src, dst] {
            if !st.groups.contains_key(g) {
                return Err(QuiverError::ResourceGroupNotFound(g.to_string()));
            }
        }
        let have = st.nodes_in(src);
        if have < i64::from(n) {
            return Err(not_enough(src, have, i64::from(n)));
        }
        let mut next = st.clone();
        if let Some(c) = next.groups.get_mut(src) {
            c.requests = Some((c.requests.unwrap_or(0) - n).max(0));
            if src != DEFAULT_RESOURCE_GROUP {
                c.limits = Some((c.limits.unwrap_or(0) - n).max(0));
            }
        }
        if let Some(c) = next.groups.get_mut(dst) {
            let requests = c.requests.unwrap_or(0) + n;
            c.requests = Some(requests);
            c.limits = Some(c.limits.unwrap_or(0).max(requests));
        }
        self.commit(&mut st, next)
    }

    /// TransferReplica's checks, in Milvus's order; `placed` is where the
    /// collection's replica is, or None if it is not loaded. The caller moves
    /// the replica when this passes.
    pub fn check_transfer_replica(
        &self,
        src: &str,
        dst: &str,
        collection: &str,
        num_replica: i64,
        placed: Option<&str>,
    ) -> Result<()> {
        let st = self.state.lock();
        for g in [src, dst] {
            if !st.groups.contains_key(g) {
                return Err(QuiverError::ResourceGroupNotFound(g.to_string()));
            }
        }
        if src == dst {
            return Err(same_groups(src));
        }
        if num_replica <= 0 {
            return Err(parameter(
                "",
                "NumReplica > 0",
                &format!("invalid NumReplica {num_replica}"),
            ));
        }
        let Some(group) = placed else {
            return Err(QuiverError::CollectionNotLoaded(collection.to_string()));
        };
        let total = 1;
        if num_replica > total {
            return Err(parameter(
                "the number of replicas to transfer is greater than the number of replicas in \
                 the collection",
                &num_replica.to_string(),
                &total.to_string(),
            ));
        }
        let in_src = i64::from(group == src);
        if in_src < num_replica {
            return Err(parameter(
                "",
                "NumReplica not greater than the number of replica in source resource group",
                &format!(
                    "only found [{in_src}] replicas of collection [{collection}] in source \
                     resource group [{src}], but {num_replica} require"
                ),
            ));
        }
        Ok(())
    }

    /// Where a load with these `groups` and `replicas` places the replica
    /// (Milvus `AssignReplica`); `check_nodes` is false when the collection
    /// is already loaded (Milvus skips the node counts then).
    pub fn assign(&self, groups: &[String], replicas: i64, check_nodes: bool) -> Result<String> {
        let replicas = replicas.max(1);
        let n = groups.len() as i64;
        if n != 0 && n != 1 && n != replicas {
            return Err(parameter_invalid_msg(format!(
                "replica=[{replicas}] resource group=[{}], resource group num can only be 0, 1 \
                 or same as replica number",
                groups.join(",")
            )));
        }
        if check_nodes && replicas > STREAMING_NODES {
            return Err(refuse(
                code::SERVICE_RESOURCE_INSUFFICIENT,
                format!(
                    "when load {replicas} replica count: service resource insufficient\
                     [currentStreamingNode={STREAMING_NODES}][expectedStreamingNode={replicas}]"
                ),
            ));
        }
        let st = self.state.lock();
        let group = groups
            .first()
            .cloned()
            .unwrap_or_else(|| DEFAULT_RESOURCE_GROUP.to_string());
        if !st.groups.contains_key(&group) {
            return Err(QuiverError::ResourceGroupNotFound(group));
        }
        let have = st.nodes_in(&group);
        let want = if n <= 1 { replicas } else { 1 };
        if check_nodes && want > have {
            return Err(not_enough(&group, have, want));
        }
        Ok(group)
    }

    /// DescribeResourceGroup.
    pub fn describe(&self, name: &str, replicas: &[ReplicaPlacement]) -> Result<ResourceGroupInfo> {
        let st = self.state.lock();
        let config = st
            .groups
            .get(name)
            .cloned()
            .ok_or_else(|| QuiverError::ResourceGroupNotFound(name.to_string()))?;
        let here = st.node_group == name;
        let count = |pred: &dyn Fn(&ReplicaPlacement) -> bool| -> Vec<(String, i32)> {
            let mut m: BTreeMap<String, i32> = BTreeMap::new();
            for r in replicas.iter().filter(|r| pred(r)) {
                *m.entry(r.collection.clone()).or_default() += 1;
            }
            m.into_iter().collect()
        };
        Ok(ResourceGroupInfo {
            name: name.to_string(),
            capacity: if name == DEFAULT_RESOURCE_GROUP {
                DEFAULT_CAPACITY
            } else {
                config.requests.unwrap_or(0)
            },
            num_available_node: i32::from(here),
            num_loaded_replica: count(&|r| r.group == name),
            // The one node keeps serving a replica whose group it left (an
            // outgoing node there, an incoming one where it is now).
            num_outgoing_node: count(&|r| r.group == name && !here),
            num_incoming_node: count(&|r| r.group != name && here),
            config,
            nodes: if here { vec![self.node_id] } else { Vec::new() },
        })
    }

    /// The group the query node is in.
    pub fn node_group(&self) -> String {
        self.state.lock().node_group.clone()
    }
}

/// Milvus `validateResourceGroupConfig`: the first failure, in its order.
fn validate(st: &State, name: &str, cfg: &RgConfig) -> Result<()> {
    let (Some(requests), Some(limits)) = (cfg.requests, cfg.limits) else {
        return Err(illegal("requests or limits is required", name, cfg));
    };
    if requests < 0 || limits < 0 {
        return Err(illegal(
            "node num in `requests` or `limits` should not less than 0",
            name,
            cfg,
        ));
    }
    if limits < requests {
        return Err(illegal(
            "limits node num should not less than requests node num",
            name,
            cfg,
        ));
    }
    for (list, what) in [
        (&cfg.transfer_from, "TransferFrom"),
        (&cfg.transfer_to, "TransferTo"),
    ] {
        for g in list {
            if g == name {
                return Err(illegal(
                    &format!("resource group in `{what}` {g} should not be itself"),
                    name,
                    cfg,
                ));
            }
            if !st.groups.contains_key(g) {
                return Err(illegal(
                    &format!("resource group in `{what}` {g} not exist"),
                    name,
                    cfg,
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "rg_tests.rs"]
mod tests;
