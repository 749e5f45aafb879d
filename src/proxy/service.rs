//! The tonic `MilvusService` implementation: one line per RPC.
//!
//! Every handler's error becomes the response's in-band status, and a panic is
//! caught and reported the same way: pymilvus retries gRPC-level failures for
//! minutes, so the call itself always succeeds unless credentials are wrong.
//! The same holds for the limits around a handler: a request the connection
//! layer refused ([`net::Refusal`]), a passed `grpc-timeout` deadline and a
//! response larger than `max_message_bytes` are all answered in-band.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use tonic::{Request, Response};

use super::status::StatusResponse;
use super::{
    add_field, alias_db, auth, collection, hybrid, index, misc, partition, query, resource_group,
    search, write, Ctx, Proxy,
};
use crate::net;
use crate::proto::common::Status;
use crate::proto::milvus as m;
use crate::proto::milvus::milvus_service_server::MilvusService;
use quiver_engine::error::QuiverError;

/// The gRPC service over a shared [`Proxy`].
#[derive(Clone)]
pub struct Service {
    proxy: Arc<Proxy>,
    max_response_bytes: usize,
}

impl Service {
    /// Wraps the proxy; responses over `max_response_bytes` become an error status.
    pub fn new(proxy: Arc<Proxy>, max_response_bytes: usize) -> Self {
        Service {
            proxy,
            max_response_bytes,
        }
    }
}

/// RPCs that only read: safe to abandon when the deadline passes. Writes and
/// schema changes always finish once started (the deadline is checked first).
fn abandonable(method: &str) -> bool {
    matches!(method, "search" | "hybrid_search" | "query")
}

fn refusal_error(r: &net::Refusal) -> QuiverError {
    match r {
        net::Refusal::Busy { bytes, budget } => QuiverError::RateLimited(format!(
            "{bytes} request bytes would exceed the in-flight budget of {budget} bytes \
             (max_inflight_bytes); retry later or send smaller batches"
        )),
        net::Refusal::TooLarge { bytes, max } => QuiverError::TooLarge(format!(
            "request of {bytes} bytes exceeds max_message_bytes ({max}); send smaller batches"
        )),
    }
}

fn ctx_of<T>(req: &Request<T>) -> Ctx {
    let header_db = req
        .metadata()
        .get("dbname")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let deadline = req.extensions().get::<net::Deadline>().map(|d| d.0);
    Ctx {
        header_db,
        deadline,
        auth_failed: req
            .extensions()
            .get::<auth::AuthFailed>()
            .map(|a| a.0.clone()),
    }
}

/// Runs a handler, turning errors, panics, a passed deadline and an
/// oversized response into an in-band status.
async fn run<Resp, F>(
    method: &str,
    deadline: Option<Instant>,
    max_bytes: usize,
    fut: F,
) -> Result<Response<Resp>, tonic::Status>
where
    Resp: StatusResponse + prost::Message,
    F: std::future::Future<Output = quiver_engine::error::Result<Resp>>,
{
    let late = || {
        Ok(Err(QuiverError::DeadlineExceeded(format!(
            "{method}: the client's timeout passed"
        ))))
    };
    let caught = AssertUnwindSafe(fut).catch_unwind();
    let outcome = match deadline {
        Some(d) if Instant::now() >= d => late(),
        Some(d) if abandonable(method) => tokio::time::timeout_at(d.into(), caught)
            .await
            .unwrap_or_else(|_| late()),
        _ => caught.await,
    };
    let resp = match outcome {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            if !e.is_user_error() {
                tracing::warn!(error = %e, "request failed");
            }
            Resp::from_error(&e)
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(panic = %what, "request handler panicked");
            Resp::from_error(&QuiverError::Internal(format!("request failed: {what}")))
        }
    };
    let len = resp.encoded_len();
    if len > max_bytes {
        return Ok(Response::new(Resp::from_error(&QuiverError::TooLarge(
            format!(
                "{method}: the response of {len} bytes exceeds max_message_bytes ({max_bytes}); \
             lower limit or output_fields, or page with query_iterator/search_iterator"
            ),
        ))));
    }
    Ok(Response::new(resp))
}

macro_rules! rpcs {
    ($($method:ident: $req:ty => $resp:ty = $handler:path;)*) => {
        #[tonic::async_trait]
        impl MilvusService for Service {
            $(
                async fn $method(&self, request: Request<$req>) -> Result<Response<$resp>, tonic::Status> {
                    let ctx = ctx_of(&request);
                    if let Some(r) = request.extensions().get::<net::Refusal>() {
                        let e = refusal_error(r);
                        tracing::debug!(error = %e, "request refused");
                        return Ok(Response::new(<$resp as StatusResponse>::from_error(&e)));
                    }
                    let proxy = self.proxy.clone();
                    let name = stringify!($method);
                    run(name, ctx.deadline, self.max_response_bytes, $handler(proxy, ctx, request.into_inner())).await
                }
            )*
        }
    };
}

rpcs! {
    connect: m::ConnectRequest => m::ConnectResponse = misc::connect;
    get_version: m::GetVersionRequest => m::GetVersionResponse = misc::get_version;
    check_health: m::CheckHealthRequest => m::CheckHealthResponse = misc::check_health;
    alloc_timestamp: m::AllocTimestampRequest => m::AllocTimestampResponse = misc::alloc_timestamp;
    get_component_states: m::GetComponentStatesRequest => m::ComponentStates = misc::get_component_states;
    get_metrics: m::GetMetricsRequest => m::GetMetricsResponse = misc::get_metrics;
    create_collection: m::CreateCollectionRequest => Status = collection::create_collection;
    drop_collection: m::DropCollectionRequest => Status = collection::drop_collection;
    has_collection: m::HasCollectionRequest => m::BoolResponse = collection::has_collection;
    describe_collection: m::DescribeCollectionRequest => m::DescribeCollectionResponse = collection::describe_collection;
    show_collections: m::ShowCollectionsRequest => m::ShowCollectionsResponse = collection::show_collections;
    get_collection_statistics: m::GetCollectionStatisticsRequest => m::GetCollectionStatisticsResponse = collection::get_collection_statistics;
    alter_collection: m::AlterCollectionRequest => Status = collection::alter_collection;
    alter_collection_field: m::AlterCollectionFieldRequest => Status = collection::alter_collection_field;
    rename_collection: m::RenameCollectionRequest => Status = collection::rename_collection;
    truncate_collection: m::TruncateCollectionRequest => m::TruncateCollectionResponse = collection::truncate_collection;
    add_collection_field: m::AddCollectionFieldRequest => Status = add_field::add_collection_field;
    create_partition: m::CreatePartitionRequest => Status = partition::create_partition;
    drop_partition: m::DropPartitionRequest => Status = partition::drop_partition;
    has_partition: m::HasPartitionRequest => m::BoolResponse = partition::has_partition;
    show_partitions: m::ShowPartitionsRequest => m::ShowPartitionsResponse = partition::show_partitions;
    load_partitions: m::LoadPartitionsRequest => Status = partition::load_partitions;
    release_partitions: m::ReleasePartitionsRequest => Status = partition::release_partitions;
    get_partition_statistics: m::GetPartitionStatisticsRequest => m::GetPartitionStatisticsResponse = partition::get_partition_statistics;
    insert: m::InsertRequest => m::MutationResult = write::insert;
    upsert: m::UpsertRequest => m::MutationResult = write::upsert;
    delete: m::DeleteRequest => m::MutationResult = write::delete;
    flush: m::FlushRequest => m::FlushResponse = write::flush;
    get_flush_state: m::GetFlushStateRequest => m::GetFlushStateResponse = write::get_flush_state;
    flush_all: m::FlushAllRequest => m::FlushAllResponse = write::flush_all;
    get_flush_all_state: m::GetFlushAllStateRequest => m::GetFlushAllStateResponse = write::get_flush_all_state;
    create_index: m::CreateIndexRequest => Status = index::create_index;
    describe_index: m::DescribeIndexRequest => m::DescribeIndexResponse = index::describe_index;
    drop_index: m::DropIndexRequest => Status = index::drop_index;
    alter_index: m::AlterIndexRequest => Status = index::alter_index;
    get_index_state: m::GetIndexStateRequest => m::GetIndexStateResponse = index::get_index_state;
    get_index_build_progress: m::GetIndexBuildProgressRequest => m::GetIndexBuildProgressResponse = index::get_index_build_progress;
    get_index_statistics: m::GetIndexStatisticsRequest => m::GetIndexStatisticsResponse = index::get_index_statistics;
    load_collection: m::LoadCollectionRequest => Status = index::load_collection;
    release_collection: m::ReleaseCollectionRequest => Status = index::release_collection;
    get_load_state: m::GetLoadStateRequest => m::GetLoadStateResponse = index::get_load_state;
    get_loading_progress: m::GetLoadingProgressRequest => m::GetLoadingProgressResponse = index::get_loading_progress;
    search: m::SearchRequest => m::SearchResults = search::search;
    hybrid_search: m::HybridSearchRequest => m::SearchResults = hybrid::hybrid_search;
    query: m::QueryRequest => m::QueryResults = query::query;
    create_alias: m::CreateAliasRequest => Status = alias_db::create_alias;
    drop_alias: m::DropAliasRequest => Status = alias_db::drop_alias;
    alter_alias: m::AlterAliasRequest => Status = alias_db::alter_alias;
    describe_alias: m::DescribeAliasRequest => m::DescribeAliasResponse = alias_db::describe_alias;
    list_aliases: m::ListAliasesRequest => m::ListAliasesResponse = alias_db::list_aliases;
    create_database: m::CreateDatabaseRequest => Status = alias_db::create_database;
    drop_database: m::DropDatabaseRequest => Status = alias_db::drop_database;
    list_databases: m::ListDatabasesRequest => m::ListDatabasesResponse = alias_db::list_databases;
    describe_database: m::DescribeDatabaseRequest => m::DescribeDatabaseResponse = alias_db::describe_database;
    alter_database: m::AlterDatabaseRequest => Status = alias_db::alter_database;
    create_credential: m::CreateCredentialRequest => Status = auth::create_credential;
    update_credential: m::UpdateCredentialRequest => Status = auth::update_credential;
    delete_credential: m::DeleteCredentialRequest => Status = auth::delete_credential;
    list_cred_users: m::ListCredUsersRequest => m::ListCredUsersResponse = auth::list_cred_users;
    create_role: m::CreateRoleRequest => Status = misc::unsupported_status;
    drop_role: m::DropRoleRequest => Status = misc::unsupported_status;
    alter_role: m::AlterRoleRequest => Status = misc::unsupported_status;
    operate_user_role: m::OperateUserRoleRequest => Status = misc::unsupported_status;
    select_role: m::SelectRoleRequest => m::SelectRoleResponse = misc::unsupported;
    select_user: m::SelectUserRequest => m::SelectUserResponse = misc::unsupported;
    operate_privilege: m::OperatePrivilegeRequest => Status = misc::unsupported_status;
    operate_privilege_v2: m::OperatePrivilegeV2Request => Status = misc::unsupported_status;
    select_grant: m::SelectGrantRequest => m::SelectGrantResponse = misc::unsupported;
    get_replicas: m::GetReplicasRequest => m::GetReplicasResponse = misc::get_replicas;
    get_persistent_segment_info: m::GetPersistentSegmentInfoRequest => m::GetPersistentSegmentInfoResponse = misc::get_persistent_segment_info;
    get_query_segment_info: m::GetQuerySegmentInfoRequest => m::GetQuerySegmentInfoResponse = misc::get_query_segment_info;
    manual_compaction: m::ManualCompactionRequest => m::ManualCompactionResponse = misc::manual_compaction;
    get_compaction_state: m::GetCompactionStateRequest => m::GetCompactionStateResponse = misc::get_compaction_state;
    load_balance: m::LoadBalanceRequest => Status = misc::unsupported_status;
    // The rest of pymilvus's MilvusService: answered in-band as not supported.
    batch_describe_collection: m::BatchDescribeCollectionRequest => m::BatchDescribeCollectionResponse = misc::unsupported;
    add_collection_function: m::AddCollectionFunctionRequest => Status = misc::unsupported_status;
    alter_collection_function: m::AlterCollectionFunctionRequest => Status = misc::unsupported_status;
    drop_collection_function: m::DropCollectionFunctionRequest => Status = misc::unsupported_status;
    prewarm: m::PrewarmRequest => m::PrewarmResponse = misc::unsupported;
    describe_prewarm_task: m::DescribePrewarmTaskRequest => m::DescribePrewarmTaskResponse = misc::unsupported;
    create_namespace: m::CreateNamespaceRequest => m::CreateNamespaceResponse = misc::unsupported;
    describe_namespace: m::DescribeNamespaceRequest => m::DescribeNamespaceResponse = misc::unsupported;
    list_namespaces: m::ListNamespacesRequest => m::ListNamespacesResponse = misc::unsupported;
    drop_namespace: m::DropNamespaceRequest => m::DropNamespaceResponse = misc::unsupported;
    has_namespace: m::HasNamespaceRequest => m::HasNamespaceResponse = misc::unsupported;
    get_namespace_stats: m::GetNamespaceStatsRequest => m::GetNamespaceStatsResponse = misc::unsupported;
    calc_distance: m::CalcDistanceRequest => m::CalcDistanceResults = misc::unsupported;
    add_collection_struct_field: m::AddCollectionStructFieldRequest => Status = misc::unsupported_status;
    dummy: m::DummyRequest => m::DummyResponse = misc::unsupported;
    register_link: m::RegisterLinkRequest => m::RegisterLinkResponse = misc::unsupported;
    get_compaction_state_with_plans: m::GetCompactionPlansRequest => m::GetCompactionPlansResponse = misc::get_compaction_plans;
    r#import: m::ImportRequest => m::ImportResponse = misc::unsupported;
    get_import_state: m::GetImportStateRequest => m::GetImportStateResponse = misc::unsupported;
    list_import_tasks: m::ListImportTasksRequest => m::ListImportTasksResponse = misc::unsupported;
    create_resource_group: m::CreateResourceGroupRequest => Status = resource_group::create_resource_group;
    drop_resource_group: m::DropResourceGroupRequest => Status = resource_group::drop_resource_group;
    update_resource_groups: m::UpdateResourceGroupsRequest => Status = resource_group::update_resource_groups;
    transfer_node: m::TransferNodeRequest => Status = resource_group::transfer_node;
    transfer_replica: m::TransferReplicaRequest => Status = resource_group::transfer_replica;
    list_resource_groups: m::ListResourceGroupsRequest => m::ListResourceGroupsResponse = resource_group::list_resource_groups;
    describe_resource_group: m::DescribeResourceGroupRequest => m::DescribeResourceGroupResponse = resource_group::describe_resource_group;
    replicate_message: m::ReplicateMessageRequest => m::ReplicateMessageResponse = misc::unsupported;
    backup_rbac: m::BackupRbacMetaRequest => m::BackupRbacMetaResponse = misc::unsupported;
    restore_rbac: m::RestoreRbacMetaRequest => Status = misc::unsupported_status;
    create_privilege_group: m::CreatePrivilegeGroupRequest => Status = misc::unsupported_status;
    drop_privilege_group: m::DropPrivilegeGroupRequest => Status = misc::unsupported_status;
    list_privilege_groups: m::ListPrivilegeGroupsRequest => m::ListPrivilegeGroupsResponse = misc::unsupported;
    operate_privilege_group: m::OperatePrivilegeGroupRequest => Status = misc::unsupported_status;
    run_analyzer: m::RunAnalyzerRequest => m::RunAnalyzerResponse = misc::unsupported;
    add_file_resource: m::AddFileResourceRequest => Status = misc::unsupported_status;
    remove_file_resource: m::RemoveFileResourceRequest => Status = misc::unsupported_status;
    list_file_resources: m::ListFileResourcesRequest => m::ListFileResourcesResponse = misc::unsupported;
    add_user_tags: m::AddUserTagsRequest => Status = misc::unsupported_status;
    delete_user_tags: m::DeleteUserTagsRequest => Status = misc::unsupported_status;
    get_user_tags: m::GetUserTagsRequest => m::GetUserTagsResponse = misc::unsupported;
    list_users_with_tag: m::ListUsersWithTagRequest => m::ListUsersWithTagResponse = misc::unsupported;
    create_row_policy: m::CreateRowPolicyRequest => Status = misc::unsupported_status;
    drop_row_policy: m::DropRowPolicyRequest => Status = misc::unsupported_status;
    list_row_policies: m::ListRowPoliciesRequest => m::ListRowPoliciesResponse = misc::unsupported;
    update_replicate_configuration: m::UpdateReplicateConfigurationRequest => Status = misc::unsupported_status;
    get_replicate_configuration: m::GetReplicateConfigurationRequest => m::GetReplicateConfigurationResponse = misc::unsupported;
    compute_phrase_match_slop: m::ComputePhraseMatchSlopRequest => m::ComputePhraseMatchSlopResponse = misc::unsupported;
    create_snapshot: m::CreateSnapshotRequest => Status = misc::unsupported_status;
    drop_snapshot: m::DropSnapshotRequest => Status = misc::unsupported_status;
    list_snapshots: m::ListSnapshotsRequest => m::ListSnapshotsResponse = misc::unsupported;
    describe_snapshot: m::DescribeSnapshotRequest => m::DescribeSnapshotResponse = misc::unsupported;
    restore_snapshot: m::RestoreSnapshotRequest => m::RestoreSnapshotResponse = misc::unsupported;
    restore_external_snapshot: m::RestoreExternalSnapshotRequest => m::RestoreExternalSnapshotResponse = misc::unsupported;
    export_snapshot: m::ExportSnapshotRequest => m::ExportSnapshotResponse = misc::unsupported;
    get_export_snapshot_state: m::GetExportSnapshotStateRequest => m::GetExportSnapshotStateResponse = misc::unsupported;
    get_restore_snapshot_state: m::GetRestoreSnapshotStateRequest => m::GetRestoreSnapshotStateResponse = misc::unsupported;
    list_restore_snapshot_jobs: m::ListRestoreSnapshotJobsRequest => m::ListRestoreSnapshotJobsResponse = misc::unsupported;
    pin_snapshot_data: m::PinSnapshotDataRequest => m::PinSnapshotDataResponse = misc::unsupported;
    unpin_snapshot_data: m::UnpinSnapshotDataRequest => Status = misc::unsupported_status;
    batch_update_manifest: m::BatchUpdateManifestRequest => Status = misc::unsupported_status;
    refresh_external_collection: m::RefreshExternalCollectionRequest => m::RefreshExternalCollectionResponse = misc::unsupported;
    get_refresh_external_collection_progress: m::GetRefreshExternalCollectionProgressRequest => m::GetRefreshExternalCollectionProgressResponse = misc::unsupported;
    list_refresh_external_collection_jobs: m::ListRefreshExternalCollectionJobsRequest => m::ListRefreshExternalCollectionJobsResponse = misc::unsupported;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn code_of(r: &m::QueryResults) -> i32 {
        r.status.as_ref().map_or(0, |s| s.code)
    }

    async fn slow_ok() -> quiver_engine::error::Result<m::QueryResults> {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(m::QueryResults::default())
    }

    #[tokio::test]
    async fn passed_deadline_answers_timeout_in_band() {
        let past = Instant::now() - Duration::from_millis(1);
        let r = run("insert", Some(past), usize::MAX, slow_ok()).await;
        assert_eq!(code_of(r.expect("in-band").get_ref()), 10001);
    }

    #[tokio::test]
    async fn reads_are_abandoned_at_the_deadline_writes_are_not() {
        let soon = Instant::now() + Duration::from_millis(50);
        let t0 = Instant::now();
        let r = run("search", Some(soon), usize::MAX, slow_ok()).await;
        assert_eq!(code_of(r.expect("in-band").get_ref()), 10001);
        assert!(t0.elapsed() < Duration::from_millis(250));
        let soon = Instant::now() + Duration::from_millis(50);
        let r = run("insert", Some(soon), usize::MAX, slow_ok()).await;
        assert_eq!(
            code_of(r.expect("in-band").get_ref()),
            0,
            "a started write finishes"
        );
    }

    #[tokio::test]
    async fn oversized_responses_become_a_status() {
        let big = async {
            Ok(m::QueryResults {
                output_fields: vec!["x".repeat(2000)],
                ..Default::default()
            })
        };
        let r = run("query", None, 1000, big).await.expect("in-band");
        let status = r.get_ref().status.clone().expect("status");
        assert_eq!(status.code, 1102);
        assert!(
            status.reason.contains("max_message_bytes"),
            "{}",
            status.reason
        );
        let small = async { Ok(m::QueryResults::default()) };
        let r = run("query", None, 1000, small).await.expect("in-band");
        assert_eq!(code_of(r.get_ref()), 0);
    }

    #[test]
    fn refusals_map_to_rate_limit_and_too_large() {
        let busy = refusal_error(&net::Refusal::Busy {
            bytes: 10,
            budget: 5,
        });
        assert_eq!(busy.status_parts().0, 8);
        assert_eq!(
            busy.status_parts().1,
            quiver_engine::error::legacy::RATE_LIMIT
        );
        let big = refusal_error(&net::Refusal::TooLarge { bytes: 10, max: 5 });
        assert_eq!(big.status_parts().0, 1102);
    }
}
