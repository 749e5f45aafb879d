//! The index role: builds HNSW graphs for sealed segments.
//!
//! A task names objects, not memory: `{segment object key, vector column,
//! index parameters} → graph object key`. The index node reads the sealed
//! segment's vector column from object storage, builds, and writes the
//! serialised graph back to object storage before reporting completion, so
//! the same task runs unchanged on an index node in another process.
//!
//! Builds are CPU-bound and long (minutes for 100k × 1536), so they run on the
//! index node's own rayon pool — never on the tokio runtime that serves
//! requests, nor on the global pool that serves searches. One build runs at a
//! time and uses every thread of its pool; the rest queue. Each build reports
//! progress (DescribeIndex's `indexed_rows`) and can be cancelled (DropIndex,
//! drops).
//!
//! A build that fails does so for a reason that will not go away by itself
//! (parameters the builder refuses, an estimate above the memory bound, a
//! panic in the builder): it is reported as [`BuildError::Rejected`] so the
//! data role marks the index Failed instead of retrying it forever — or at
//! every start-up. A panic is caught here, never allowed to abort the process.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float32Type;
use bytes::Bytes;
use quiver_index::{Hnsw, HnswParams, IndexError, Metric, VectorStorage};
use quiver_storage::{parquet_column_position, parquet_to_batch, ObjectStorage};
use tokio::sync::{oneshot, Semaphore};

use crate::error::QuiverError;

/// Most neighbours per node the graph builder lays out (layer 0 keeps twice
/// as many); an index asking for more is built with this many.
const MAX_BUILD_M: usize = 512;

/// What to build.
pub struct BuildTask {
    /// Object key of the sealed segment's Parquet file.
    pub segment_key: String,
    /// Name of the vector column (FixedSizeList<Float32>) in that file. A
    /// file written before the field was added lacks it: every row is null,
    /// and the graph is built over the zero placeholders null rows hold in
    /// memory (searches never return null rows).
    pub column: String,
    /// Where the serialised graph goes.
    pub graph_key: String,
    pub dim: usize,
    pub metric: Metric,
    pub params: HnswParams,
    pub progress: Arc<AtomicUsize>,
    pub cancel: Arc<AtomicBool>,
    /// Refuse the build if its estimated memory exceeds this many bytes.
    pub max_bytes: usize,
}

/// Why a build produced no graph.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// Someone asked for it (DropIndex, ReleaseCollection, drops).
    #[error("index build cancelled")]
    Cancelled,
    /// The server is stopping; the build will be scheduled again at start-up.
    #[error("server is shutting down")]
    ShuttingDown,
    /// The same inputs would fail the same way: not worth retrying.
    #[error("{0}")]
    Rejected(String),
    /// Reading the segment or writing the graph failed: worth retrying.
    #[error("index build storage error: {0}")]
    Storage(String),
}

impl From<IndexError> for BuildError {
    fn from(e: IndexError) -> Self {
        match e {
            IndexError::Cancelled => BuildError::Cancelled,
            other => BuildError::Rejected(other.to_string()),
        }
    }
}

/// The index role.
pub struct IndexNode {
    permits: Semaphore,
    store: ObjectStorage,
    pool: rayon::ThreadPool,
}

/// A finished build: the graph (for a node that serves it in this process)
/// and where it was written.
pub struct Built {
    pub graph: Hnsw,
    pub graph_key: String,
}

impl IndexNode {
    /// An index node reading and writing `store`, building on a pool of
    /// `threads` threads of its own (0: one per core).
    pub fn new(store: ObjectStorage, threads: usize) -> std::io::Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("quiver-build-{i}"))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(IndexNode {
            permits: Semaphore::new(1),
            store,
            pool,
        })
    }

    /// Runs one task, waiting for earlier builds to finish: read the segment's
    /// vectors, build, write the graph.
    pub async fn build(&self, task: BuildTask) -> Result<Built, BuildError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| BuildError::ShuttingDown)?;
        let t0 = Instant::now();
        let parquet = self
            .store
            .get(&task.segment_key)
            .await
            .map_err(|e| BuildError::Storage(e.to_string()))?;
        let read = t0.elapsed();
        let (tx, rx) = oneshot::channel();
        self.pool.spawn(move || {
            // rayon aborts the process on a panic in a spawned job: a builder
            // bug must fail this index, not every start-up that retries it.
            let out = catch_unwind(AssertUnwindSafe(|| build_now(&task, parquet)))
                .unwrap_or_else(|_| Err(BuildError::Rejected("index builder panicked".into())));
            let _ = tx.send(out.map(|(g, bytes, phases)| (g, bytes, phases, task.graph_key)));
        });
        let (graph, bytes, phases, graph_key) =
            rx.await.map_err(|_| BuildError::ShuttingDown)??;
        let t1 = Instant::now();
        let graph_bytes = bytes.len();
        self.store
            .put(&graph_key, Bytes::from(bytes))
            .await
            .map_err(|e| BuildError::Storage(e.to_string()))?;
        // One line per build with where its time went, as Milvus's index
        // nodes log theirs: reading the segment, decoding, building, writing.
        tracing::info!(
            graph = %graph_key,
            rows = graph.len(),
            graph_bytes,
            read_ms = read.as_millis() as u64,
            decode_ms = phases.decode.as_millis() as u64,
            build_ms = phases.build.as_millis() as u64,
            serialize_ms = phases.serialize.as_millis() as u64,
            write_ms = t1.elapsed().as_millis() as u64,
            "index built"
        );
        Ok(Built { graph, graph_key })
    }
}

/// Estimated peak bytes of a build: the half-precision copy, layer 0's 2M
/// neighbour slots, upper layers (about one more M per node on average) and
/// per-node bookkeeping. Saturating, so absurd inputs estimate as huge.
pub fn estimated_build_bytes(rows: usize, dim: usize, m: usize) -> usize {
    let per_node = dim
        .saturating_mul(2)
        .saturating_add(m.saturating_mul(3).saturating_mul(4))
        .saturating_add(32);
    rows.saturating_mul(per_node)
}

/// Decodes the vector column, builds on the current (the index node's) rayon
/// pool and serialises the graph.
fn build_now(task: &BuildTask, parquet: Bytes) -> Result<(Hnsw, Vec<u8>, Phases), BuildError> {
    let t0 = Instant::now();
    let unreadable = |e: quiver_storage::StorageError| {
        BuildError::Rejected(format!("unreadable segment file: {e}"))
    };
    let (position, rows) = parquet_column_position(&parquet, &task.column).map_err(unreadable)?;
    match position {
        Some(p) => {
            let batch = parquet_to_batch(parquet, Some(&[p])).map_err(unreadable)?;
            build_over(task, &batch, t0)
        }
        None => build_flat(task, &vec![0.0f32; rows.saturating_mul(task.dim)], t0),
    }
}

/// [`build_now`] over the decoded vector column.
fn build_over(
    task: &BuildTask,
    batch: &arrow::array::RecordBatch,
    t0: Instant,
) -> Result<(Hnsw, Vec<u8>, Phases), BuildError> {
    let column = batch
        .columns()
        .first()
        .ok_or_else(|| BuildError::Rejected("segment file has no vector column".into()))?;
    let list = column
        .as_fixed_size_list_opt()
        .ok_or_else(|| BuildError::Rejected("vector column is not a fixed-size list".into()))?;
    let values = list.values().as_primitive::<Float32Type>().values();
    let n = list.len();
    let start = list.offset().saturating_mul(task.dim);
    let flat = values
        .get(start..start.saturating_add(n.saturating_mul(task.dim)))
        .ok_or_else(|| BuildError::Rejected("vector column shorter than its rows".into()))?;
    build_flat(task, flat, t0)
}

/// Builds and serialises the graph over `flat` (rows of `task.dim`).
fn build_flat(
    task: &BuildTask,
    flat: &[f32],
    t0: Instant,
) -> Result<(Hnsw, Vec<u8>, Phases), BuildError> {
    let n = flat.len() / task.dim.max(1);
    // Milvus accepts M up to 2048 and efConstruction up to 2^31-1, and both size
    // the builder's allocations: bound them by what the data can use (a search
    // list longer than the segment, or more neighbours than the graph's slot
    // limit, adds nothing), so no client number sizes memory directly.
    let params = HnswParams {
        m: task.params.m.clamp(2, MAX_BUILD_M),
        ef_construction: task.params.ef_construction.clamp(1, n.max(1)),
    };
    let need = estimated_build_bytes(n, task.dim, params.m);
    if need > task.max_bytes {
        return Err(BuildError::Rejected(format!(
            "index build of {n} rows needs about {need} bytes, more than \
             index_build_max_bytes ({})",
            task.max_bytes
        )));
    }
    // The graph keeps a half-precision copy (0.76x the memory of raw f32 +
    // graph) for traversal-time pre-selection; the query role re-ranks once
    // against the segment's own f32 column, so reported scores stay exact.
    let decode = t0.elapsed();
    let t1 = Instant::now();
    let graph = Hnsw::build_with_storage(
        flat,
        task.dim,
        task.metric,
        &params,
        VectorStorage::F16,
        &task.progress,
        &task.cancel,
    )?;
    let build = t1.elapsed();
    let t2 = Instant::now();
    let bytes = graph.to_bytes();
    let phases = Phases {
        decode,
        build,
        serialize: t2.elapsed(),
    };
    Ok((graph, bytes, phases))
}

/// Where a build's time went on the build pool (logged with each build).
struct Phases {
    decode: Duration,
    build: Duration,
    serialize: Duration,
}

impl From<BuildError> for QuiverError {
    fn from(e: BuildError) -> Self {
        match e {
            BuildError::ShuttingDown => QuiverError::ShuttingDown,
            other => QuiverError::Internal(other.to_string()),
        }
    }
}
