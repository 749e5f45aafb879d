//! Milvus statuses: success, and the in-band form of every [`QuiverError`].

use crate::proto::common::Status;
use crate::proto::milvus as m;
use quiver_engine::error::QuiverError;

/// The success status (all zero).
pub fn ok_status() -> Option<Status> {
    Some(Status::default())
}

/// The status carrying `err`: new-style `code` and legacy `error_code` both set.
pub fn status_of(err: &QuiverError) -> Status {
    let (code, error_code, reason) = err.status_parts();
    let mut s = Status {
        error_code,
        reason,
        code,
        ..Default::default()
    };
    if err.is_user_error() {
        s.extra_info
            .insert("is_input_error".to_string(), "true".to_string());
    }
    s
}

/// Responses that carry a status: built from an error at the gRPC edge.
pub trait StatusResponse: Default {
    /// Sets the response's status.
    fn set_status(&mut self, status: Status);

    /// A response that only says `err`.
    fn from_error(err: &QuiverError) -> Self {
        let mut r = Self::default();
        r.set_status(status_of(err));
        r
    }
}

impl StatusResponse for Status {
    fn set_status(&mut self, status: Status) {
        *self = status;
    }
}

macro_rules! status_field {
    ($($t:ty),* $(,)?) => {
        $(impl StatusResponse for $t {
            fn set_status(&mut self, status: Status) {
                self.status = Some(status);
            }
        })*
    };
}

status_field!(
    m::ConnectResponse,
    m::GetVersionResponse,
    m::CheckHealthResponse,
    m::AllocTimestampResponse,
    m::ComponentStates,
    m::GetMetricsResponse,
    m::BoolResponse,
    m::DescribeCollectionResponse,
    m::ShowCollectionsResponse,
    m::GetCollectionStatisticsResponse,
    m::TruncateCollectionResponse,
    m::ShowPartitionsResponse,
    m::GetPartitionStatisticsResponse,
    m::MutationResult,
    m::FlushResponse,
    m::GetFlushStateResponse,
    m::FlushAllResponse,
    m::GetFlushAllStateResponse,
    m::DescribeIndexResponse,
    m::GetIndexStateResponse,
    m::GetIndexBuildProgressResponse,
    m::GetIndexStatisticsResponse,
    m::GetLoadStateResponse,
    m::GetLoadingProgressResponse,
    m::SearchResults,
    m::QueryResults,
    m::DescribeAliasResponse,
    m::ListAliasesResponse,
    m::ListDatabasesResponse,
    m::DescribeDatabaseResponse,
    m::ListCredUsersResponse,
    m::SelectRoleResponse,
    m::SelectUserResponse,
    m::SelectGrantResponse,
    m::GetReplicasResponse,
    m::GetPersistentSegmentInfoResponse,
    m::GetQuerySegmentInfoResponse,
    m::ManualCompactionResponse,
    m::GetCompactionStateResponse,
    m::BatchDescribeCollectionResponse,
    m::PrewarmResponse,
    m::DescribePrewarmTaskResponse,
    m::CreateNamespaceResponse,
    m::DescribeNamespaceResponse,
    m::ListNamespacesResponse,
    m::DropNamespaceResponse,
    m::HasNamespaceResponse,
    m::GetNamespaceStatsResponse,
    m::CalcDistanceResults,
    m::RegisterLinkResponse,
    m::GetCompactionPlansResponse,
    m::ImportResponse,
    m::GetImportStateResponse,
    m::ListImportTasksResponse,
    m::ListResourceGroupsResponse,
    m::DescribeResourceGroupResponse,
    m::ReplicateMessageResponse,
    m::BackupRbacMetaResponse,
    m::ListPrivilegeGroupsResponse,
    m::RunAnalyzerResponse,
    m::ListFileResourcesResponse,
    m::GetUserTagsResponse,
    m::ListUsersWithTagResponse,
    m::ListRowPoliciesResponse,
    m::GetReplicateConfigurationResponse,
    m::ComputePhraseMatchSlopResponse,
    m::ListSnapshotsResponse,
    m::DescribeSnapshotResponse,
    m::RestoreSnapshotResponse,
    m::RestoreExternalSnapshotResponse,
    m::ExportSnapshotResponse,
    m::GetExportSnapshotStateResponse,
    m::GetRestoreSnapshotStateResponse,
    m::ListRestoreSnapshotJobsResponse,
    m::PinSnapshotDataResponse,
    m::RefreshExternalCollectionResponse,
    m::GetRefreshExternalCollectionProgressResponse,
    m::ListRefreshExternalCollectionJobsResponse,
);

/// `DummyResponse` has no status field: the reason goes into its only field.
impl StatusResponse for m::DummyResponse {
    fn set_status(&mut self, status: Status) {
        self.response = status.reason;
    }
}
