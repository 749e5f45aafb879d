//! Connection, health and housekeeping RPCs, and the answer for RPCs Quiver
//! does not serve.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use super::{ok_status, Ctx, Proxy, VERSION};
use crate::proto::common::{CompactionState, SegmentState};
use crate::proto::common::{ServerInfo, Status};
use crate::proto::milvus as m;
use quiver_engine::error::{QuiverError, Result};

static NEXT_IDENTIFIER: AtomicI64 = AtomicI64::new(1);

/// The RPC name of a request type, e.g. `CreateRole` for `CreateRoleRequest`.
fn rpc_name<R>() -> String {
    let full = std::any::type_name::<R>();
    let short = full.rsplit("::").next().unwrap_or(full);
    short.trim_end_matches("Request").to_string()
}

/// A Milvus status saying the RPC is not supported.
pub async fn unsupported_status<R>(_p: Arc<Proxy>, _c: Ctx, _r: R) -> Result<Status> {
    Err(QuiverError::Unsupported(rpc_name::<R>()))
}

/// Same, for RPCs with a response message.
pub async fn unsupported<R, T>(_p: Arc<Proxy>, _c: Ctx, _r: R) -> Result<T> {
    Err(QuiverError::Unsupported(rpc_name::<R>()))
}

/// Connect: the first call of every client.
pub async fn connect(p: Arc<Proxy>, ctx: Ctx, _r: m::ConnectRequest) -> Result<m::ConnectResponse> {
    if !ctx.header_db.is_empty() {
        p.coord.database(&ctx.header_db)?;
    }
    Ok(m::ConnectResponse {
        status: ok_status(),
        server_info: Some(ServerInfo {
            build_tags: VERSION.to_string(),
            deploy_mode: "STANDALONE".to_string(),
            ..Default::default()
        }),
        identifier: NEXT_IDENTIFIER.fetch_add(1, Ordering::Relaxed),
    })
}

pub async fn get_version(
    _p: Arc<Proxy>,
    _c: Ctx,
    _r: m::GetVersionRequest,
) -> Result<m::GetVersionResponse> {
    Ok(m::GetVersionResponse {
        status: ok_status(),
        version: VERSION.to_string(),
    })
}

pub async fn check_health(
    _p: Arc<Proxy>,
    _c: Ctx,
    _r: m::CheckHealthRequest,
) -> Result<m::CheckHealthResponse> {
    Ok(m::CheckHealthResponse {
        status: ok_status(),
        is_healthy: true,
        ..Default::default()
    })
}

pub async fn alloc_timestamp(
    p: Arc<Proxy>,
    _c: Ctx,
    _r: m::AllocTimestampRequest,
) -> Result<m::AllocTimestampResponse> {
    Ok(m::AllocTimestampResponse {
        status: ok_status(),
        timestamp: p.coord.tso(),
    })
}

pub async fn get_component_states(
    _p: Arc<Proxy>,
    _c: Ctx,
    _r: m::GetComponentStatesRequest,
) -> Result<m::ComponentStates> {
    let info = |role: &str| m::ComponentInfo {
        node_id: 1,
        role: role.to_string(),
        state_code: 1,
        extra_info: Vec::new(),
    };
    Ok(m::ComponentStates {
        state: Some(info("proxy")),
        subcomponent_states: vec![info("querynode"), info("datanode"), info("indexnode")],
        status: ok_status(),
    })
}

pub async fn get_metrics(
    p: Arc<Proxy>,
    _c: Ctx,
    _r: m::GetMetricsRequest,
) -> Result<m::GetMetricsResponse> {
    let collections = p.coord.all_collections().len();
    Ok(m::GetMetricsResponse {
        status: ok_status(),
        response: serde_json::json!({"version": VERSION, "collections": collections}).to_string(),
        component_name: "standalone".to_string(),
    })
}

pub async fn add_collection_field(
    _p: Arc<Proxy>,
    _c: Ctx,
    _r: m::AddCollectionFieldRequest,
) -> Result<Status> {
    Err(QuiverError::Unsupported(
        "adding a field to an existing collection".into(),
    ))
}

pub async fn get_replicas(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::GetReplicasRequest,
) -> Result<m::GetReplicasResponse> {
    let coll = match r.collection_name.is_empty() {
        false => p.collection(&ctx, &r.db_name, &r.collection_name)?,
        true => p.coord.collection_by_id(r.collection_id).ok_or_else(|| {
            QuiverError::CollectionNotFound {
                db: ctx.db(&r.db_name).to_string(),
                name: r.collection_id.to_string(),
            }
        })?,
    };
    Ok(m::GetReplicasResponse {
        status: ok_status(),
        replicas: vec![m::ReplicaInfo {
            replica_id: 1,
            collection_id: coll.id,
            partition_ids: coll.partitions.iter().map(|p| p.id).collect(),
            node_ids: vec![1],
            resource_group_name: super::resource_group::DEFAULT_RESOURCE_GROUP.into(),
            ..Default::default()
        }],
    })
}

pub async fn get_persistent_segment_info(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::GetPersistentSegmentInfoRequest,
) -> Result<m::GetPersistentSegmentInfoResponse> {
    let coll = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    let infos = p
        .data
        .segments(coll.id)
        .await?
        .iter()
        .filter(|s| s.sealed)
        .map(|s| m::PersistentSegmentInfo {
            segment_id: s.id,
            collection_id: coll.id,
            partition_id: s.partition,
            num_rows: s.live_rows as i64,
            state: SegmentState::Flushed as i32,
            ..Default::default()
        })
        .collect();
    Ok(m::GetPersistentSegmentInfoResponse {
        status: ok_status(),
        infos,
    })
}

pub async fn get_query_segment_info(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::GetQuerySegmentInfoRequest,
) -> Result<m::GetQuerySegmentInfoResponse> {
    let coll = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    let infos = p
        .data
        .segments(coll.id)
        .await?
        .iter()
        .map(|s| m::QuerySegmentInfo {
            segment_id: s.id,
            collection_id: coll.id,
            partition_id: s.partition,
            mem_size: s.memory_bytes as i64,
            num_rows: s.live_rows as i64,
            node_id: 1,
            state: if s.sealed {
                SegmentState::Sealed as i32
            } else {
                SegmentState::Growing as i32
            },
            node_ids: vec![1],
            ..Default::default()
        })
        .collect();
    Ok(m::GetQuerySegmentInfoResponse {
        status: ok_status(),
        infos,
    })
}

/// Compaction: sealing is what Quiver does on demand; report it as done.
pub async fn manual_compaction(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::ManualCompactionRequest,
) -> Result<m::ManualCompactionResponse> {
    let coll = match r.collection_name.is_empty() {
        false => p.collection(&ctx, &r.db_name, &r.collection_name)?,
        true => p.coord.collection_by_id(r.collection_id).ok_or_else(|| {
            QuiverError::CollectionNotFound {
                db: ctx.db(&r.db_name).to_string(),
                name: r.collection_id.to_string(),
            }
        })?,
    };
    p.data.flush(coll.id).await?;
    p.data.compact(coll.id).await?;
    Ok(m::ManualCompactionResponse {
        status: ok_status(),
        compaction_id: p.coord.next_id(),
        compaction_plan_count: 0,
    })
}

pub async fn get_compaction_state(
    _p: Arc<Proxy>,
    _c: Ctx,
    _r: m::GetCompactionStateRequest,
) -> Result<m::GetCompactionStateResponse> {
    Ok(m::GetCompactionStateResponse {
        status: ok_status(),
        state: CompactionState::Completed as i32,
        ..Default::default()
    })
}
