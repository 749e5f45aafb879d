//! Resource groups as plain data: what a client configures and what it is
//! told back (Milvus `rg.ResourceGroupConfig` and `milvus.ResourceGroup`).

use serde::{Deserialize, Serialize};

/// The group every node and replica starts in.
pub const DEFAULT_RESOURCE_GROUP: &str = "__default_resource_group";

/// A group's configuration. `requests` and `limits` are optional because
/// Milvus tells an absent limit (refused) from a limit of 0 (allowed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RgConfig {
    /// Nodes the group asks for.
    pub requests: Option<i32>,
    /// Nodes the group holds at most.
    pub limits: Option<i32>,
    /// Groups this one prefers to take missing nodes from.
    #[serde(default)]
    pub transfer_from: Vec<String>,
    /// Groups this one prefers to give spare nodes to.
    #[serde(default)]
    pub transfer_to: Vec<String>,
    /// Node labels a node must carry to join (stored, not enforced: a
    /// standalone node has none).
    #[serde(default)]
    pub node_labels: Vec<(String, String)>,
}

impl RgConfig {
    /// A config with both limits set and nothing else.
    pub fn nodes(requests: i32, limits: i32) -> Self {
        RgConfig {
            requests: Some(requests),
            limits: Some(limits),
            ..Default::default()
        }
    }
}

/// What DescribeResourceGroup reports about one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceGroupInfo {
    pub name: String,
    /// `requests` (the default group always reports Milvus's 1,000,000).
    pub capacity: i32,
    /// Nodes the group holds now.
    pub num_available_node: i32,
    /// Collection name → replicas placed in this group.
    pub num_loaded_replica: Vec<(String, i32)>,
    /// Collection name → nodes that left this group while still serving the
    /// collection's replica here.
    pub num_outgoing_node: Vec<(String, i32)>,
    /// Collection name → nodes of this group still serving a replica placed
    /// in another group.
    pub num_incoming_node: Vec<(String, i32)>,
    pub config: RgConfig,
    /// Ids of the nodes in the group.
    pub nodes: Vec<i64>,
}

/// Where one loaded collection's replica is placed, for the checks and
/// counts that depend on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaPlacement {
    pub collection_id: i64,
    pub collection: String,
    pub group: String,
}
