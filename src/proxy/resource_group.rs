//! Resource groups: the one group a standalone Quiver has.
//!
//! Milvus places query nodes in resource groups; every client tool (Attu,
//! birdwatcher, VectorDBBench, pymilvus's `list_resource_groups`) asks for them
//! on connect. Quiver runs one query role, so there is exactly Milvus's default
//! group, holding that node and one replica of every loaded collection.

use std::collections::HashMap;
use std::sync::Arc;

use super::{ok_status, Ctx, Proxy};
use crate::proto::common::NodeInfo;
use crate::proto::milvus as m;
use quiver_engine::error::{QuiverError, Result};

/// Milvus's name for the group every node starts in.
pub const DEFAULT_RESOURCE_GROUP: &str = "__default_resource_group";
/// Milvus's capacity of the default group (`DefaultResourceGroupCapacity`).
const DEFAULT_CAPACITY: i32 = 1_000_000;
/// The id the single query role reports.
const NODE_ID: i64 = 1;

pub async fn list_resource_groups(
    _p: Arc<Proxy>,
    _c: Ctx,
    _r: m::ListResourceGroupsRequest,
) -> Result<m::ListResourceGroupsResponse> {
    Ok(m::ListResourceGroupsResponse {
        status: ok_status(),
        resource_groups: vec![DEFAULT_RESOURCE_GROUP.to_string()],
    })
}

pub async fn describe_resource_group(
    p: Arc<Proxy>,
    _c: Ctx,
    r: m::DescribeResourceGroupRequest,
) -> Result<m::DescribeResourceGroupResponse> {
    if r.resource_group != DEFAULT_RESOURCE_GROUP {
        return Err(QuiverError::ResourceGroupNotFound(r.resource_group));
    }
    let num_loaded_replica: HashMap<String, i32> = p
        .coord
        .all_collections()
        .into_iter()
        .filter(|c| c.loaded || !c.loaded_partitions.is_empty())
        .map(|c| (c.name.clone(), 1))
        .collect();
    let hostname = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_string());
    Ok(m::DescribeResourceGroupResponse {
        status: ok_status(),
        resource_group: Some(m::ResourceGroup {
            name: DEFAULT_RESOURCE_GROUP.to_string(),
            capacity: DEFAULT_CAPACITY,
            num_available_node: 1,
            num_loaded_replica,
            num_outgoing_node: HashMap::new(),
            num_incoming_node: HashMap::new(),
            nodes: vec![NodeInfo {
                node_id: NODE_ID,
                address: String::new(),
                hostname,
            }],
        }),
    })
}
