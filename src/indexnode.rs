//! The index role: builds HNSW graphs for sealed segments.
//!
//! Builds are CPU-bound and long (minutes for 100k × 1536), so they run on the
//! rayon pool, never on the tokio runtime that serves requests. One build runs
//! at a time and uses every core; the rest queue. Each build reports progress
//! (DescribeIndex's `indexed_rows`) and can be cancelled (DropIndex, drops).

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::Float32Type;
use quiver_index::{Hnsw, HnswParams, Metric, VectorStorage};
use tokio::sync::{oneshot, Semaphore};

use crate::error::{QuiverError, Result};

/// Most neighbours per node the graph builder lays out (layer 0 keeps twice
/// as many); an index asking for more is built with this many.
const MAX_BUILD_M: usize = 512;

/// What to build.
pub struct BuildTask {
    /// The segment's vector column (FixedSizeList<Float32>).
    pub vectors: ArrayRef,
    pub dim: usize,
    pub metric: Metric,
    pub params: HnswParams,
    pub progress: Arc<AtomicUsize>,
    pub cancel: Arc<AtomicBool>,
}

/// The index role.
pub struct IndexNode {
    permits: Semaphore,
}

impl Default for IndexNode {
    fn default() -> Self {
        IndexNode {
            permits: Semaphore::new(1),
        }
    }
}

impl IndexNode {
    /// Builds the graph for one segment, waiting for earlier builds to finish.
    pub async fn build(&self, task: BuildTask) -> Result<Hnsw> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| QuiverError::ShuttingDown)?;
        let (tx, rx) = oneshot::channel();
        rayon::spawn(move || {
            let _ = tx.send(build_now(&task));
        });
        rx.await
            .map_err(|_| QuiverError::Internal("index build aborted".into()))?
    }
}

/// Builds on the current thread's rayon pool.
fn build_now(task: &BuildTask) -> Result<Hnsw> {
    let list = task
        .vectors
        .as_fixed_size_list_opt()
        .ok_or_else(|| QuiverError::Internal("vector column is not a fixed-size list".into()))?;
    let values = list.values().as_primitive::<Float32Type>().values();
    let start = list.offset() * task.dim;
    let flat = &values[start..start + list.len() * task.dim];
    // Milvus accepts M up to 2048 and efConstruction up to 2^31-1, and both size
    // the builder's allocations: bound them by what the data can use (a search
    // list longer than the segment, or more neighbours than the graph's slot
    // limit, adds nothing), so no client number sizes memory directly.
    let n = list.len();
    let params = HnswParams {
        m: task.params.m.clamp(2, MAX_BUILD_M),
        ef_construction: task.params.ef_construction.clamp(1, n.max(1)),
    };
    // The graph keeps a half-precision copy for re-ranking (0.76x the memory of
    // raw f32 + graph); the query role rescores the final hits exactly from the
    // segment's own f32 column, so reported scores stay exact.
    Ok(Hnsw::build_with_storage(
        flat,
        task.dim,
        task.metric,
        &params,
        VectorStorage::F16,
        &task.progress,
        &task.cancel,
    )?)
}
