//! The service interfaces between the proxy and the other roles.
//!
//! The proxy talks to the query, data and index roles only through these
//! traits, and every request and response is plain data ([`plan`]): no
//! `Arc<Segment>`, row pointer or node handle crosses them. Standalone
//! (`quiver serve`) implements them in process ([`crate::querynode::QueryNode`],
//! [`crate::datanode::DataNode`]); cluster mode puts a `quiver.internal` gRPC
//! hop behind the same traits.
//! The coordinator's part (catalog, id and timestamp allocation, the index
//! build table) is [`Coordinator`].

mod coord;
mod local;
pub mod plan;
mod rg;

pub use coord::{BuildKey, CollectionChange, Coordinator};
pub use local::LocalData;
pub use rg::{ReplicaPlacement, ResourceGroupInfo, RgConfig, DEFAULT_RESOURCE_GROUP};

use arrow::array::RecordBatch;
use async_trait::async_trait;
use quiver_types::{CollectionId, PartitionId, PkValue, Timestamp};

use crate::catalog::CollectionMeta;
use crate::error::Result;
pub use plan::*;

/// Vector search and scalar queries over a collection's segments.
#[async_trait]
pub trait QueryService: Send + Sync {
    /// Runs a search once the node has applied everything up to the request's
    /// guarantee timestamp.
    async fn search(&self, req: SearchRequest) -> Result<SearchResult>;
    /// Runs a query once the node has applied everything up to the request's
    /// guarantee timestamp.
    async fn query(&self, req: QueryRequest) -> Result<QueryResult>;
}

/// Writes, segment lifecycle and statistics.
#[async_trait]
pub trait DataService: Send + Sync {
    /// Starts holding data for a new, empty collection.
    async fn create_collection(&self, meta: &CollectionMeta) -> Result<()>;
    /// AddCollectionField: `meta.schema` is the current schema with fields
    /// appended; rows already held read the new fields as their default or
    /// null. Called before the catalog changes, so no write carries a column
    /// the node does not know.
    async fn evolve_schema(&self, meta: &CollectionMeta) -> Result<()>;
    /// Forgets a collection and removes its files.
    async fn drop_collection(&self, id: CollectionId) -> Result<()>;
    /// Removes a partition's rows.
    async fn drop_partition(&self, id: CollectionId, partition: PartitionId) -> Result<()>;
    /// Logs and applies rows (one batch per partition, in the collection's
    /// column order); returns once durable with the write's timestamp.
    async fn insert(
        &self,
        id: CollectionId,
        parts: Vec<(PartitionId, RecordBatch)>,
    ) -> Result<Timestamp>;
    /// Logs and applies a delete of these keys; returns the rows deleted and
    /// the write's timestamp.
    async fn delete(&self, id: CollectionId, pks: Vec<PkValue>) -> Result<(usize, Timestamp)>;
    /// Deletes every row of the collection.
    async fn truncate(&self, id: CollectionId) -> Result<Timestamp>;
    /// Seals the growing segments and persists them.
    async fn flush(&self, id: CollectionId) -> Result<()>;
    /// Plans a manual compaction (merge small segments, drop deleted rows,
    /// or force-merge) and starts it; returns at once with the job and its
    /// plans (none when nothing needs compacting).
    async fn compact(&self, id: CollectionId, req: CompactRequest) -> Result<CompactionJob>;
    /// A manual compaction started here, while it is remembered.
    async fn compaction(&self, job: i64) -> Result<Option<CompactionJob>>;
    /// The manual compactions of a collection still remembered, oldest first.
    async fn compactions(&self, id: CollectionId) -> Result<Vec<CompactionJob>>;
    /// The collection's current segments.
    async fn segments(&self, id: CollectionId) -> Result<Vec<SegmentInfo>>;
}

/// Index builds: scheduling, progress and cancellation.
#[async_trait]
pub trait IndexService: Send + Sync {
    /// Schedules builds for every sealed segment missing an index the
    /// collection's metadata asks for.
    async fn ensure_indexes(&self, meta: &CollectionMeta) -> Result<()>;
    /// Progress of the index on `field_id`.
    async fn progress(&self, id: CollectionId, field_id: i64) -> Result<IndexProgress>;
    /// Cancels builds for the field and removes its graphs.
    async fn drop_index(&self, id: CollectionId, field_id: i64) -> Result<()>;
    /// Cancels every build of the collection (release, drop).
    async fn cancel_builds(&self, id: CollectionId) -> Result<()>;
}
