//! The role side of the hop: tonic services over the role traits.
//!
//! Each handler decodes the request, calls the trait object, and encodes the
//! answer. It never fails at the gRPC level: a bad request, a role error or a
//! panic all travel in-band as the error's status parts, exactly as the proxy
//! would have reported them had it called the role in process.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use quiver_engine::error::{QuiverError, Result};

/// What a tonic handler returns (never the error: it travels in-band).
type Reply<T> = std::result::Result<Response<T>, Status>;
use quiver_engine::roles::{
    CompactRequest, CompactionJob, DataService, IndexService, QueryService,
};
use tonic::{Request, Response, Status};

use super::codec::*;
use super::reads::*;
use crate::proto::internal as pb;
use pb::data_node_server::DataNode;
use pb::index_node_server::IndexNode;
use pb::query_node_server::QueryNode;

/// Runs a handler, turning a panic into the internal error the proxy's own
/// panic guard would have produced in process.
async fn guarded<T>(fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(panic = %what, "role handler panicked");
            Err(QuiverError::Internal(format!("request failed: {what}")))
        }
    }
}

/// An answer with no payload.
fn ack(out: Result<()>) -> Reply<pb::Ack> {
    Ok(Response::new(pb::Ack {
        error: out.err().map(|e| error_to_pb(&e)),
    }))
}

/// A write's timestamp (or its error).
fn ts(out: Result<u64>) -> Reply<pb::TsResponse> {
    Ok(Response::new(match out {
        Ok(ts) => pb::TsResponse { error: None, ts },
        Err(e) => pb::TsResponse {
            error: Some(error_to_pb(&e)),
            ts: 0,
        },
    }))
}

/// The query role behind gRPC.
pub struct QueryGrpc(pub Arc<dyn QueryService>);

#[tonic::async_trait]
impl QueryNode for QueryGrpc {
    async fn search(&self, req: Request<pb::SearchRequest>) -> Reply<pb::SearchResponse> {
        let out = guarded(async { self.0.search(search_req_from_pb(req.into_inner())?).await });
        Ok(Response::new(search_resp_to_pb(out.await)))
    }

    async fn query(&self, req: Request<pb::QueryRequest>) -> Reply<pb::QueryResponse> {
        let out = guarded(async { self.0.query(query_req_from_pb(req.into_inner())?).await });
        Ok(Response::new(query_resp_to_pb(out.await)))
    }
}

/// The data role behind gRPC.
pub struct DataGrpc(pub Arc<dyn DataService>);

#[tonic::async_trait]
impl DataNode for DataGrpc {
    async fn create_collection(&self, req: Request<pb::MetaRequest>) -> Reply<pb::Ack> {
        let meta = meta_from_pb(req.get_ref());
        ack(guarded(async { self.0.create_collection(&meta?).await }).await)
    }

    async fn evolve_schema(&self, req: Request<pb::MetaRequest>) -> Reply<pb::Ack> {
        let meta = meta_from_pb(req.get_ref());
        ack(guarded(async { self.0.evolve_schema(&meta?).await }).await)
    }

    async fn drop_collection(&self, req: Request<pb::CollectionRequest>) -> Reply<pb::Ack> {
        let id = req.get_ref().collection_id;
        ack(guarded(self.0.drop_collection(id)).await)
    }

    async fn drop_partition(&self, req: Request<pb::PartitionRequest>) -> Reply<pb::Ack> {
        let r = req.into_inner();
        ack(guarded(self.0.drop_partition(r.collection_id, r.partition_id)).await)
    }

    async fn insert(&self, req: Request<pb::InsertRequest>) -> Reply<pb::TsResponse> {
        let r = req.into_inner();
        let id = r.collection_id;
        ts(guarded(async { self.0.insert(id, parts_from_pb(r.parts)?).await }).await)
    }

    async fn delete(&self, req: Request<pb::DeleteRequest>) -> Reply<pb::DeleteResponse> {
        let r = req.into_inner();
        let id = r.collection_id;
        let pks = r.pks.unwrap_or_default();
        let out = guarded(async { self.0.delete(id, pks_from_pb(pks)?).await }).await;
        Ok(Response::new(match out {
            Ok((n, ts)) => pb::DeleteResponse {
                error: None,
                deleted: n as u64,
                ts,
            },
            Err(e) => pb::DeleteResponse {
                error: Some(error_to_pb(&e)),
                ..Default::default()
            },
        }))
    }

    async fn truncate(&self, req: Request<pb::CollectionRequest>) -> Reply<pb::TsResponse> {
        ts(guarded(self.0.truncate(req.get_ref().collection_id)).await)
    }

    async fn flush(&self, req: Request<pb::CollectionRequest>) -> Reply<pb::Ack> {
        ack(guarded(self.0.flush(req.get_ref().collection_id)).await)
    }

    async fn compact(&self, req: Request<pb::CompactRequest>) -> Reply<pb::CompactionResponse> {
        let r = req.into_inner();
        let want = CompactRequest {
            target_bytes: r.target_bytes,
        };
        let out = guarded(self.0.compact(r.collection_id, want)).await;
        Ok(Response::new(job_reply(out.map(Some))))
    }

    async fn compaction(
        &self,
        req: Request<pb::CompactionJobRequest>,
    ) -> Reply<pb::CompactionResponse> {
        let out = guarded(self.0.compaction(req.get_ref().job_id)).await;
        Ok(Response::new(job_reply(out)))
    }

    async fn compactions(
        &self,
        req: Request<pb::CollectionRequest>,
    ) -> Reply<pb::CompactionsResponse> {
        let out = guarded(self.0.compactions(req.get_ref().collection_id)).await;
        Ok(Response::new(match out {
            Ok(jobs) => pb::CompactionsResponse {
                error: None,
                jobs: jobs.iter().map(job_to_pb).collect(),
            },
            Err(e) => pb::CompactionsResponse {
                error: Some(error_to_pb(&e)),
                jobs: Vec::new(),
            },
        }))
    }

    async fn segments(&self, req: Request<pb::CollectionRequest>) -> Reply<pb::SegmentsResponse> {
        let out = guarded(self.0.segments(req.get_ref().collection_id)).await;
        Ok(Response::new(match out {
            Ok(segs) => pb::SegmentsResponse {
                error: None,
                segments: segs.iter().map(segment_to_pb).collect(),
            },
            Err(e) => pb::SegmentsResponse {
                error: Some(error_to_pb(&e)),
                segments: vec![],
            },
        }))
    }
}

/// The index role behind gRPC.
pub struct IndexGrpc(pub Arc<dyn IndexService>);

#[tonic::async_trait]
impl IndexNode for IndexGrpc {
    async fn ensure_indexes(&self, req: Request<pb::MetaRequest>) -> Reply<pb::Ack> {
        let meta = meta_from_pb(req.get_ref());
        ack(guarded(async { self.0.ensure_indexes(&meta?).await }).await)
    }

    async fn progress(&self, req: Request<pb::FieldRequest>) -> Reply<pb::ProgressResponse> {
        let r = req.into_inner();
        let out = guarded(self.0.progress(r.collection_id, r.field_id)).await;
        Ok(Response::new(match out {
            Ok(p) => pb::ProgressResponse {
                error: None,
                indexed_rows: p.indexed_rows as u64,
                total_rows: p.total_rows as u64,
                pending_rows: p.pending_rows as u64,
            },
            Err(e) => pb::ProgressResponse {
                error: Some(error_to_pb(&e)),
                ..Default::default()
            },
        }))
    }

    async fn drop_index(&self, req: Request<pb::FieldRequest>) -> Reply<pb::Ack> {
        let r = req.into_inner();
        ack(guarded(self.0.drop_index(r.collection_id, r.field_id)).await)
    }

    async fn cancel_builds(&self, req: Request<pb::CollectionRequest>) -> Reply<pb::Ack> {
        ack(guarded(self.0.cancel_builds(req.get_ref().collection_id)).await)
    }
}

/// A compaction job, or the error, as a response.
fn job_reply(out: Result<Option<CompactionJob>>) -> pb::CompactionResponse {
    match out {
        Ok(job) => pb::CompactionResponse {
            error: None,
            job: job.as_ref().map(job_to_pb),
        },
        Err(e) => pb::CompactionResponse {
            error: Some(error_to_pb(&e)),
            job: None,
        },
    }
}
