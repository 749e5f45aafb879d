//! Connection, health and housekeeping RPCs, and the answer for RPCs Quiver
//! does not serve.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use super::{ok_status, Ctx, Proxy, VERSION};
use crate::proto::common::{CompactionState, CompactionTaskState, CompactionType, SegmentState};
use crate::proto::common::{ServerInfo, Status};
use crate::proto::milvus as m;
use quiver_engine::catalog::{CollectionMeta, IndexKind};
use quiver_engine::error::{refuse, QuiverError, Result};
use quiver_engine::roles::{CompactRequest, CompactionJob, MergePlan, SegmentInfo};

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
    if let Some(reason) = ctx.auth_failed {
        // Milvus's ErrNeedAuthenticate code with its interceptor's text.
        return Err(refuse(1800, reason));
    }
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
            resource_group_name: coll.resource_group().to_string(),
            ..Default::default()
        }],
    })
}

/// Milvus's `SegmentLevel.L1`: a sealed segment of ordinary rows (Quiver
/// keeps deletes in masks, so it has no L0 delta segments).
const LEVEL_L1: i32 = 2;
/// Columnar Parquet segments, what Milvus calls storage format v2.
const STORAGE_VERSION: i64 = 2;

/// Whether a sealed segment has finished its post-seal work: a graph for
/// every graph index of the collection. Milvus reports `is_sorted` once its
/// sort (stats) task after a flush is done; Quiver's post-seal task is the
/// index build, and tools (VectorDBBench) wait on this flag before they
/// compact.
fn post_seal_done(c: &CollectionMeta, s: &SegmentInfo) -> bool {
    s.sealed
        && c.indexes
            .iter()
            .filter(|i| i.kind == IndexKind::Hnsw && i.fail_reason.is_none())
            .all(|i| s.indexed_fields.contains(&i.field_id))
}

/// The one DML channel name DescribeCollection reports for a collection.
pub fn dml_channel(collection: i64) -> String {
    format!("quiver-dml_{collection}v0")
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
            level: LEVEL_L1,
            is_sorted: post_seal_done(&coll, s),
            storage_version: STORAGE_VERSION,
            insert_channel: dml_channel(coll.id),
            compaction_from: s.compacted_from.clone(),
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
    let vector_index = coll.indexes.iter().find(|i| i.kind == IndexKind::Hnsw);
    let infos = p
        .data
        .segments(coll.id)
        .await?
        .iter()
        .map(|s| {
            let index = vector_index.filter(|i| s.indexed_fields.contains(&i.field_id));
            m::QuerySegmentInfo {
                segment_id: s.id,
                collection_id: coll.id,
                partition_id: s.partition,
                mem_size: s.memory_bytes as i64,
                num_rows: s.live_rows as i64,
                index_name: index.map(|i| i.name.clone()).unwrap_or_default(),
                index_id: index.map(|i| i.id).unwrap_or_default(),
                node_id: 1,
                state: if s.sealed {
                    SegmentState::Sealed as i32
                } else {
                    SegmentState::Growing as i32
                },
                node_ids: vec![1],
                level: LEVEL_L1,
                is_sorted: post_seal_done(&coll, s),
                storage_version: STORAGE_VERSION,
            }
        })
        .collect();
    Ok(m::GetQuerySegmentInfoResponse {
        status: ok_status(),
        infos,
    })
}

/// Milvus's `compactionID` when a manual compaction found nothing to do.
const NO_COMPACTION: i64 = -1;

/// ManualCompaction: flush, then plan and start the merges (a force merge
/// into segments of `target_size` MB when that is set, as Milvus 2.6 and
/// `MilvusClient.optimize` use it). Answers at once; clients poll
/// GetCompactionState.
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
    let target_bytes = (r.target_size > 0).then(|| (r.target_size as u64).saturating_mul(1 << 20));
    let job = p
        .data
        .compact(coll.id, CompactRequest { target_bytes })
        .await?;
    let (compaction_id, count) = match job.plans.len() {
        0 => (NO_COMPACTION, 0),
        n => (job.id, i32::try_from(n).unwrap_or(i32::MAX)),
    };
    Ok(m::ManualCompactionResponse {
        status: ok_status(),
        compaction_id,
        compaction_plan_count: count,
    })
}

/// Jobs' state as Milvus sums it up: executing while any plan runs.
fn job_state<'a>(mut jobs: impl Iterator<Item = &'a CompactionJob>) -> CompactionState {
    match jobs.any(|j| !j.done()) {
        true => CompactionState::Executing,
        false => CompactionState::Completed,
    }
}

pub async fn get_compaction_state(
    p: Arc<Proxy>,
    _c: Ctx,
    r: m::GetCompactionStateRequest,
) -> Result<m::GetCompactionStateResponse> {
    let job = p.data.compaction(r.compaction_id).await?;
    let plans = job.as_ref().map(|j| j.plans.as_slice()).unwrap_or_default();
    let count = |f: fn(&MergePlan) -> bool| plans.iter().filter(|&p| f(p)).count() as i64;
    Ok(m::GetCompactionStateResponse {
        status: ok_status(),
        state: job_state(job.iter()) as i32,
        executing_plan_no: count(|p| !p.done),
        timeout_plan_no: 0,
        completed_plan_no: count(|p| p.done && p.failure.is_none()),
        failed_plan_no: count(|p| p.failure.is_some()),
    })
}

/// GetCompactionStateWithPlans (pymilvus `get_compaction_plans`), each
/// merge's sources and target: one job's plans by its id, or, with id 0
/// and a collection (pymilvus `list_compaction_tasks`), the plans of every
/// job of that collection still remembered.
pub async fn get_compaction_plans(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::GetCompactionPlansRequest,
) -> Result<m::GetCompactionPlansResponse> {
    let jobs = if r.compaction_id == 0 && (!r.collection_name.is_empty() || r.collection_id != 0) {
        let id = match r.collection_name.is_empty() {
            false => p.collection(&ctx, &r.db_name, &r.collection_name)?.id,
            true => r.collection_id,
        };
        p.data.compactions(id).await?
    } else {
        p.data
            .compaction(r.compaction_id)
            .await?
            .into_iter()
            .collect()
    };
    let merge_infos = jobs
        .iter()
        .flat_map(|j| {
            j.plans.iter().map(|p| m::CompactionMergeInfo {
                sources: p.sources.clone(),
                target: p.target,
                plan_id: p.id,
                trigger_id: j.id,
                collection_id: j.collection,
                partition_id: p.partition,
                channel: dml_channel(j.collection),
                r#type: CompactionType::Mix as i32,
                state: match (p.done, &p.failure) {
                    (false, _) => CompactionTaskState::Executing,
                    (true, None) => CompactionTaskState::Completed,
                    (true, Some(_)) => CompactionTaskState::Failed,
                } as i32,
                failure_reason: p.failure.clone().unwrap_or_default(),
                targets: vec![p.target],
            })
        })
        .collect();
    Ok(m::GetCompactionPlansResponse {
        status: ok_status(),
        state: job_state(jobs.iter()) as i32,
        merge_infos,
    })
}
