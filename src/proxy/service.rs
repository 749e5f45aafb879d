//! The tonic `MilvusService` implementation: one line per RPC.
//!
//! Every handler's error becomes the response's in-band status, and a panic is
//! caught and reported the same way: pymilvus retries gRPC-level failures for
//! minutes, so the call itself always succeeds unless credentials are wrong.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use tonic::{Request, Response};

use super::status::StatusResponse;
use super::{alias_db, collection, index, misc, partition, query, search, write, Ctx, Proxy};
use crate::error::QuiverError;
use crate::proto::common::Status;
use crate::proto::milvus as m;
use crate::proto::milvus::milvus_service_server::MilvusService;

/// The gRPC service over a shared [`Proxy`].
#[derive(Clone)]
pub struct Service {
    proxy: Arc<Proxy>,
}

impl Service {
    /// Wraps the proxy.
    pub fn new(proxy: Arc<Proxy>) -> Self {
        Service { proxy }
    }
}

fn ctx_of<T>(req: &Request<T>) -> Ctx {
    let header_db = req
        .metadata()
        .get("dbname")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Ctx { header_db }
}

/// Runs a handler, turning errors and panics into an in-band status.
async fn run<Resp, F>(fut: F) -> Result<Response<Resp>, tonic::Status>
where
    Resp: StatusResponse,
    F: std::future::Future<Output = crate::error::Result<Resp>>,
{
    let resp = match AssertUnwindSafe(fut).catch_unwind().await {
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
    Ok(Response::new(resp))
}

macro_rules! rpcs {
    ($($method:ident: $req:ty => $resp:ty = $handler:path;)*) => {
        #[tonic::async_trait]
        impl MilvusService for Service {
            $(
                async fn $method(&self, request: Request<$req>) -> Result<Response<$resp>, tonic::Status> {
                    let ctx = ctx_of(&request);
                    let proxy = self.proxy.clone();
                    run($handler(proxy, ctx, request.into_inner())).await
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
    add_collection_field: m::AddCollectionFieldRequest => Status = misc::add_collection_field;
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
    hybrid_search: m::HybridSearchRequest => m::SearchResults = search::hybrid_search;
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
    create_credential: m::CreateCredentialRequest => Status = misc::unsupported_status;
    update_credential: m::UpdateCredentialRequest => Status = misc::unsupported_status;
    delete_credential: m::DeleteCredentialRequest => Status = misc::unsupported_status;
    list_cred_users: m::ListCredUsersRequest => m::ListCredUsersResponse = misc::list_cred_users;
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
}
