//! The proxy side of the hop: the role traits implemented over a tonic channel.
//!
//! The proxy holds these exactly as it holds the in-process roles. A role's
//! own error comes back in-band and is returned as [`QuiverError::Remote`]
//! with its code and text unchanged; only a failure of the hop itself (the
//! role unreachable, a broken stream) becomes a new, internal error.

use arrow::array::RecordBatch;
use async_trait::async_trait;
use quiver_engine::catalog::CollectionMeta;
use quiver_engine::error::{QuiverError, Result};
use quiver_engine::roles::{
    CompactRequest, CompactionJob, DataService, IndexProgress, IndexService, QueryRequest,
    QueryResult, QueryService, SearchRequest, SearchResult, SegmentInfo,
};
use quiver_types::{CollectionId, PartitionId, PkValue, Timestamp};
use tonic::transport::Channel;

use super::codec::*;
use super::reads::*;
use super::MAX_MESSAGE_BYTES;
use crate::proto::internal as pb;
use pb::data_node_client::DataNodeClient;
use pb::index_node_client::IndexNodeClient;
use pb::query_node_client::QueryNodeClient;

/// A failure of the hop rather than of the role.
fn transport(role: &str, s: tonic::Status) -> QuiverError {
    QuiverError::Internal(format!(
        "{role} node unavailable: {}: {}",
        s.code(),
        s.message()
    ))
}

/// Unwraps a response, mapping a transport failure.
fn reply<T>(role: &str, r: std::result::Result<tonic::Response<T>, tonic::Status>) -> Result<T> {
    r.map(tonic::Response::into_inner)
        .map_err(|s| transport(role, s))
}

fn coll(id: CollectionId) -> pb::CollectionRequest {
    pb::CollectionRequest { collection_id: id }
}

/// [`QueryService`] over gRPC.
#[derive(Clone)]
pub struct QueryClient(QueryNodeClient<Channel>);

impl QueryClient {
    /// A client on an established channel to a query node.
    pub fn new(ch: Channel) -> Self {
        QueryClient(
            QueryNodeClient::new(ch)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
    }
}

#[async_trait]
impl QueryService for QueryClient {
    async fn search(&self, req: SearchRequest) -> Result<SearchResult> {
        let msg = search_req_to_pb(&req)?;
        search_resp_from_pb(reply("query", self.0.clone().search(msg).await)?)
    }

    async fn query(&self, req: QueryRequest) -> Result<QueryResult> {
        let msg = query_req_to_pb(&req)?;
        query_resp_from_pb(reply("query", self.0.clone().query(msg).await)?)
    }
}

/// [`DataService`] over gRPC.
#[derive(Clone)]
pub struct DataClient(DataNodeClient<Channel>);

impl DataClient {
    /// A client on an established channel to a data node.
    pub fn new(ch: Channel) -> Self {
        DataClient(
            DataNodeClient::new(ch)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
    }
}

#[async_trait]
impl DataService for DataClient {
    async fn create_collection(&self, meta: &CollectionMeta) -> Result<()> {
        let msg = meta_to_pb(meta)?;
        check(reply("data", self.0.clone().create_collection(msg).await)?.error)
    }

    async fn evolve_schema(&self, meta: &CollectionMeta) -> Result<()> {
        let msg = meta_to_pb(meta)?;
        check(reply("data", self.0.clone().evolve_schema(msg).await)?.error)
    }

    async fn drop_collection(&self, id: CollectionId) -> Result<()> {
        check(reply("data", self.0.clone().drop_collection(coll(id)).await)?.error)
    }

    async fn drop_partition(&self, id: CollectionId, partition: PartitionId) -> Result<()> {
        let msg = pb::PartitionRequest {
            collection_id: id,
            partition_id: partition,
        };
        check(reply("data", self.0.clone().drop_partition(msg).await)?.error)
    }

    async fn insert(
        &self,
        id: CollectionId,
        parts: Vec<(PartitionId, RecordBatch)>,
    ) -> Result<Timestamp> {
        let msg = pb::InsertRequest {
            collection_id: id,
            parts: parts_to_pb(&parts)?,
        };
        let r = reply("data", self.0.clone().insert(msg).await)?;
        check(r.error)?;
        Ok(r.ts)
    }

    async fn delete(&self, id: CollectionId, pks: Vec<PkValue>) -> Result<(usize, Timestamp)> {
        let msg = pb::DeleteRequest {
            collection_id: id,
            pks: Some(pks_to_pb(&pks)),
        };
        let r = reply("data", self.0.clone().delete(msg).await)?;
        check(r.error)?;
        Ok((size(r.deleted, "deleted rows")?, r.ts))
    }

    async fn truncate(&self, id: CollectionId) -> Result<Timestamp> {
        let r = reply("data", self.0.clone().truncate(coll(id)).await)?;
        check(r.error)?;
        Ok(r.ts)
    }

    async fn flush(&self, id: CollectionId) -> Result<()> {
        check(reply("data", self.0.clone().flush(coll(id)).await)?.error)
    }

    async fn compact(&self, id: CollectionId, req: CompactRequest) -> Result<CompactionJob> {
        let msg = pb::CompactRequest {
            collection_id: id,
            target_bytes: req.target_bytes,
        };
        let r = reply("data", self.0.clone().compact(msg).await)?;
        check(r.error)?;
        r.job
            .map(job_from_pb)
            .ok_or_else(|| malformed("compaction without its job"))
    }

    async fn compaction(&self, job: i64) -> Result<Option<CompactionJob>> {
        let msg = pb::CompactionJobRequest { job_id: job };
        let r = reply("data", self.0.clone().compaction(msg).await)?;
        check(r.error)?;
        Ok(r.job.map(job_from_pb))
    }

    async fn compactions(&self, id: CollectionId) -> Result<Vec<CompactionJob>> {
        let r = reply("data", self.0.clone().compactions(coll(id)).await)?;
        check(r.error)?;
        Ok(r.jobs.into_iter().map(job_from_pb).collect())
    }

    async fn segments(&self, id: CollectionId) -> Result<Vec<SegmentInfo>> {
        let r = reply("data", self.0.clone().segments(coll(id)).await)?;
        check(r.error)?;
        r.segments.into_iter().map(segment_from_pb).collect()
    }
}

/// [`IndexService`] over gRPC.
#[derive(Clone)]
pub struct IndexClient(IndexNodeClient<Channel>);

impl IndexClient {
    /// A client on an established channel to an index node.
    pub fn new(ch: Channel) -> Self {
        IndexClient(
            IndexNodeClient::new(ch)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
    }
}

#[async_trait]
impl IndexService for IndexClient {
    async fn ensure_indexes(&self, meta: &CollectionMeta) -> Result<()> {
        let msg = meta_to_pb(meta)?;
        check(reply("index", self.0.clone().ensure_indexes(msg).await)?.error)
    }

    async fn progress(&self, id: CollectionId, field_id: i64) -> Result<IndexProgress> {
        let msg = pb::FieldRequest {
            collection_id: id,
            field_id,
        };
        let r = reply("index", self.0.clone().progress(msg).await)?;
        check(r.error)?;
        Ok(IndexProgress {
            indexed_rows: size(r.indexed_rows, "indexed rows")?,
            total_rows: size(r.total_rows, "total rows")?,
            pending_rows: size(r.pending_rows, "pending rows")?,
        })
    }

    async fn drop_index(&self, id: CollectionId, field_id: i64) -> Result<()> {
        let msg = pb::FieldRequest {
            collection_id: id,
            field_id,
        };
        check(reply("index", self.0.clone().drop_index(msg).await)?.error)
    }

    async fn cancel_builds(&self, id: CollectionId) -> Result<()> {
        check(reply("index", self.0.clone().cancel_builds(coll(id)).await)?.error)
    }
}
