//! The requests and results that cross the proxy → query-node boundary.
//!
//! Everything here is plain data with no pointers into a node's memory: a filter
//! travels as its expression text plus template values (each query node parses
//! and binds it against the schema it holds), output columns are named by field
//! id, and results come back materialised — the primary keys, distances and
//! requested columns of the hits, already reduced to top-k by the node — so a
//! network can go between the proxy and the node without changing either side.
//! Arrow arrays are the column format on both sides of the boundary (Arrow IPC
//! when serialised).

use std::collections::HashMap;
use std::time::Instant;

use arrow::array::ArrayRef;
use quiver_filter::IndexSpec;
use quiver_index::Metric;
use quiver_types::{CollectionId, PartitionId, PkValue, Timestamp};

/// A filter expression as the client sent it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterExpr {
    /// The Milvus boolean expression (empty: every row).
    pub expr: String,
    /// Values of `{name}` placeholders (`expr_template_values`), as JSON.
    pub templates: HashMap<String, serde_json::Value>,
    /// The collection's scalar indexes (typed fields and JSON paths) the node
    /// may narrow this filter with; results are the same without them.
    pub indexes: Vec<IndexSpec>,
}

impl FilterExpr {
    /// None for an empty expression.
    pub fn new(expr: &str, templates: HashMap<String, serde_json::Value>) -> Option<Self> {
        (!expr.trim().is_empty()).then(|| FilterExpr {
            expr: expr.to_string(),
            templates,
            indexes: Vec::new(),
        })
    }
}

/// One requested output column.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputSpec {
    /// A schema field, by id.
    Field(i64),
    /// The dynamic `$meta` column (reduced to keys by the proxy when it shapes
    /// the response).
    Meta,
}

/// Keep hits whose distance lies in `[lo, hi)` (internal distance, smaller = better).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DistRange {
    /// Inclusive lower bound.
    pub lo: f32,
    /// Exclusive upper bound.
    pub hi: f32,
}

impl DistRange {
    /// Whether distance `d` lies in `[lo, hi)`.
    pub fn contains(&self, d: f32) -> bool {
        d >= self.lo && d < self.hi
    }
}

/// Group-by search: at most `group_size` hits per distinct value of a field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupBy {
    /// The scalar field whose values form the groups.
    pub field_id: i64,
    /// Hits kept per group.
    pub group_size: usize,
}

/// What a read must see: every write acknowledged at or before this timestamp
/// (the consistency level, resolved by the proxy). 0 sees whatever is applied.
pub type GuaranteeTs = Timestamp;

/// A planned vector search.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The collection searched.
    pub collection_id: CollectionId,
    /// Partitions to search (None: all).
    pub partitions: Option<Vec<PartitionId>>,
    /// The vector field searched.
    pub field_id: i64,
    /// Distance function (the index's).
    pub metric: Metric,
    /// Whether sealed segments' graphs (built with `metric`) may be used.
    pub use_index: bool,
    /// The query vectors.
    pub queries: Queries,
    /// Hits wanted per query (limit + offset; groups for a group-by search).
    pub limit: usize,
    /// Graph search list size.
    pub ef: usize,
    /// Rows must match this expression.
    pub filter: Option<FilterExpr>,
    /// Range search bounds.
    pub range: Option<DistRange>,
    /// Grouping of hits.
    pub group_by: Option<GroupBy>,
    /// Skip growing (unsealed) segments.
    pub ignore_growing: bool,
    /// Columns to return for each hit.
    pub output: Vec<OutputSpec>,
    /// Consistency: see [`GuaranteeTs`].
    pub guarantee_ts: GuaranteeTs,
    /// When the client stops waiting (sent as the remaining time across a network).
    pub deadline: Option<Instant>,
}

/// The query vectors of a search, of the searched field's kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Queries {
    /// Dense vectors, each of the field's dimension.
    Dense(Vec<Vec<f32>>),
    /// Sparse vectors (scored by inner product).
    Sparse(SparseQueries),
}

impl Queries {
    /// Number of query vectors.
    pub fn len(&self) -> usize {
        match self {
            Queries::Dense(q) => q.len(),
            Queries::Sparse(q) => q.rows.len(),
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Sparse query vectors and the index parameters that shape their search.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseQueries {
    /// Validated rows in Milvus's wire format (see `quiver_index::sparse`).
    pub rows: Vec<Vec<u8>>,
    /// Share of each query's smallest values ignored (`drop_ratio_search`).
    pub drop_ratio_search: f32,
    /// Share of the smallest stored values a sealed segment's inverted index
    /// leaves out (the index's `drop_ratio_build`).
    pub drop_ratio_build: f32,
}

/// Materialised search results, best first per query.
#[derive(Debug, Clone)]
pub struct SearchResult {
    /// Hits per query; the rows of `ids`, `dists` and `columns` are the hits of
    /// query 0, then of query 1, ...
    pub counts: Vec<usize>,
    /// Primary keys of the hits.
    pub ids: Vec<PkValue>,
    /// Internal distances (smaller = better; the proxy converts to scores).
    pub dists: Vec<f32>,
    /// One array per requested [`OutputSpec`], in request order.
    pub columns: Vec<ArrayRef>,
    /// The group-by field's value of each hit (group-by searches only).
    pub group_values: Option<ArrayRef>,
}

/// A planned scalar query.
#[derive(Debug, Clone)]
pub struct QueryRequest {
    /// The collection queried.
    pub collection_id: CollectionId,
    /// Partitions to read (None: all).
    pub partitions: Option<Vec<PartitionId>>,
    /// Rows must match this expression.
    pub filter: Option<FilterExpr>,
    /// Restrict to these primary keys (get by ids).
    pub pks: Option<Vec<PkValue>>,
    /// Rows after `offset` to return (None: all).
    pub limit: Option<usize>,
    /// Matching rows skipped, in primary-key order.
    pub offset: usize,
    /// Only count the matching rows.
    pub count_only: bool,
    /// Read sealed segments only (Milvus's `ignore_growing`).
    pub ignore_growing: bool,
    /// Columns to return.
    pub output: Vec<OutputSpec>,
    /// Consistency: see [`GuaranteeTs`].
    pub guarantee_ts: GuaranteeTs,
    /// When the client stops waiting (None for the reads a write depends on).
    pub deadline: Option<Instant>,
}

/// Materialised query results in primary-key order.
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// Matching rows (before offset/limit).
    pub count: usize,
    /// Primary keys of the returned rows.
    pub ids: Vec<PkValue>,
    /// One array per requested [`OutputSpec`], rows aligned with `ids`.
    pub columns: Vec<ArrayRef>,
}

/// One segment as statistics RPCs report it.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentInfo {
    /// Segment id.
    pub id: i64,
    /// Its partition.
    pub partition: PartitionId,
    /// Rows not deleted.
    pub live_rows: usize,
    /// Bytes the segment holds in memory.
    pub memory_bytes: usize,
    /// Whether it is sealed (persisted, immutable rows).
    pub sealed: bool,
    /// Vector fields whose graph this segment has attached.
    pub indexed_fields: Vec<i64>,
    /// The segments a compaction merged into this one (empty for a seal).
    pub compacted_from: Vec<i64>,
}

/// What a manual compaction should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompactRequest {
    /// Force merge (Milvus 2.6 `compact(target_size=…)`): every sealed segment
    /// of a partition goes into some plan, packed into merged segments of at
    /// most this many bytes. `None`: merge only small and mostly-deleted ones.
    pub target_bytes: Option<u64>,
}

/// One merge of a compaction: `sources` become `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergePlan {
    /// Plan id, unique across the cluster.
    pub id: i64,
    /// The partition all sources belong to.
    pub partition: PartitionId,
    /// Segments merged.
    pub sources: Vec<i64>,
    /// The segment they become; equal to the only source when that one was
    /// already what the plan asks for (nothing rewritten).
    pub target: i64,
    /// Whether the merge has finished (successfully or not).
    pub done: bool,
    /// Why it failed, if it did.
    pub failure: Option<String>,
}

/// A manual compaction and its plans, as `GetCompactionState` and
/// `GetCompactionPlans` report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactionJob {
    /// The job id the client polls with.
    pub id: i64,
    /// The collection compacted.
    pub collection: CollectionId,
    /// Its merges; empty when nothing needed compacting.
    pub plans: Vec<MergePlan>,
}

impl CompactionJob {
    /// Whether every plan has finished.
    pub fn done(&self) -> bool {
        self.plans.iter().all(|p| p.done)
    }
}

/// Progress of one field's index over a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexProgress {
    /// Rows covered by a built index.
    pub indexed_rows: usize,
    /// Rows the index should cover.
    pub total_rows: usize,
    /// Rows waiting for a build.
    pub pending_rows: usize,
}
