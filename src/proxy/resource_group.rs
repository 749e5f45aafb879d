//! Resource groups: the RPCs that configure them, answered as Milvus 2.6's
//! proxy does.
//!
//! Every client tool (Attu, birdwatcher, VectorDBBench, pymilvus's
//! `list_resource_groups`) asks for them, and Milvus's tests create, update,
//! transfer and drop them. The proxy validates names where Milvus's proxy
//! does (create, update, the transfers; not drop or describe) and leaves the
//! rest to the coordinator ([`quiver_engine::coord::ResourceGroups`]).

use std::sync::Arc;

use super::{ok_status, Ctx, Proxy};
use crate::proto::common::{KeyValuePair, NodeInfo, Status};
use crate::proto::milvus as m;
use crate::proto::rg;
use quiver_engine::catalog::names;
use quiver_engine::error::Result;
use quiver_engine::roles::{ResourceGroupInfo, RgConfig};

/// The wire config as plain data (absent submessages stay absent).
fn config_from(c: rg::ResourceGroupConfig) -> RgConfig {
    let groups =
        |v: Vec<rg::ResourceGroupTransfer>| v.into_iter().map(|t| t.resource_group).collect();
    RgConfig {
        requests: c.requests.map(|l| l.node_num),
        limits: c.limits.map(|l| l.node_num),
        transfer_from: groups(c.transfer_from),
        transfer_to: groups(c.transfer_to),
        node_labels: c
            .node_filter
            .map(|f| {
                f.node_labels
                    .into_iter()
                    .map(|kv| (kv.key, kv.value))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn config_to(c: RgConfig) -> rg::ResourceGroupConfig {
    let limit = |n: Option<i32>| n.map(|node_num| rg::ResourceGroupLimit { node_num });
    let groups = |v: Vec<String>| {
        v.into_iter()
            .map(|resource_group| rg::ResourceGroupTransfer { resource_group })
            .collect()
    };
    rg::ResourceGroupConfig {
        requests: limit(c.requests),
        limits: limit(c.limits),
        transfer_from: groups(c.transfer_from),
        transfer_to: groups(c.transfer_to),
        node_filter: (!c.node_labels.is_empty()).then(|| rg::ResourceGroupNodeFilter {
            node_labels: c
                .node_labels
                .into_iter()
                .map(|(key, value)| KeyValuePair { key, value })
                .collect(),
        }),
    }
}

pub async fn list_resource_groups(
    p: Arc<Proxy>,
    _c: Ctx,
    _r: m::ListResourceGroupsRequest,
) -> Result<m::ListResourceGroupsResponse> {
    Ok(m::ListResourceGroupsResponse {
        status: ok_status(),
        resource_groups: p.coord.list_resource_groups().await,
    })
}

pub async fn describe_resource_group(
    p: Arc<Proxy>,
    _c: Ctx,
    r: m::DescribeResourceGroupRequest,
) -> Result<m::DescribeResourceGroupResponse> {
    let info: ResourceGroupInfo = p.coord.describe_resource_group(&r.resource_group).await?;
    let hostname = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_string());
    Ok(m::DescribeResourceGroupResponse {
        status: ok_status(),
        resource_group: Some(m::ResourceGroup {
            name: info.name,
            capacity: info.capacity,
            num_available_node: info.num_available_node,
            num_loaded_replica: info.num_loaded_replica.into_iter().collect(),
            num_outgoing_node: info.num_outgoing_node.into_iter().collect(),
            num_incoming_node: info.num_incoming_node.into_iter().collect(),
            config: Some(config_to(info.config)),
            nodes: info
                .nodes
                .into_iter()
                .map(|node_id| NodeInfo {
                    node_id,
                    address: String::new(),
                    hostname: hostname.clone(),
                })
                .collect(),
        }),
    })
}

pub async fn create_resource_group(
    p: Arc<Proxy>,
    _c: Ctx,
    r: m::CreateResourceGroupRequest,
) -> Result<Status> {
    names::resource_group(&r.resource_group)?;
    p.coord
        .create_resource_group(&r.resource_group, r.config.map(config_from))
        .await?;
    Ok(Status::default())
}

pub async fn drop_resource_group(
    p: Arc<Proxy>,
    _c: Ctx,
    r: m::DropResourceGroupRequest,
) -> Result<Status> {
    p.coord.drop_resource_group(&r.resource_group).await?;
    Ok(Status::default())
}

pub async fn update_resource_groups(
    p: Arc<Proxy>,
    _c: Ctx,
    r: m::UpdateResourceGroupsRequest,
) -> Result<Status> {
    let mut configs: Vec<(String, RgConfig)> = r
        .resource_groups
        .into_iter()
        .map(|(name, cfg)| (name, config_from(cfg)))
        .collect();
    // Milvus reports whichever entry its map order meets first; sorted is one such order.
    configs.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, _) in &configs {
        names::resource_group(name)?;
    }
    p.coord.update_resource_groups(configs).await?;
    Ok(Status::default())
}

pub async fn transfer_node(p: Arc<Proxy>, _c: Ctx, r: m::TransferNodeRequest) -> Result<Status> {
    names::resource_group(&r.source_resource_group)?;
    names::resource_group(&r.target_resource_group)?;
    p.coord
        .transfer_node(
            &r.source_resource_group,
            &r.target_resource_group,
            r.num_node,
        )
        .await?;
    Ok(Status::default())
}

pub async fn transfer_replica(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::TransferReplicaRequest,
) -> Result<Status> {
    names::resource_group(&r.source_resource_group)?;
    names::resource_group(&r.target_resource_group)?;
    let c = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    p.coord
        .transfer_replica(
            &r.source_resource_group,
            &r.target_resource_group,
            c.id,
            r.num_replica,
        )
        .await?;
    Ok(Status::default())
}
