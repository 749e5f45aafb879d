//! HNSW approximate search (Malkov & Yashunin, 2016) over an owned vector slab.
//!
//! The index is immutable after [`Hnsw::build`]; search takes `&self` and is safe to
//! call from many threads. Filters are planned by selectivity: when the allowed set
//! is small, an exact scan of the allowed rows is cheaper and exact, so it is used
//! instead of graph traversal; otherwise the traversal walks through non-allowed
//! nodes and only collects allowed ones.
//!
//! Bit-identical vectors enter the graph once (see `dups`); a search hands out the
//! other members of a group with the same distance, each checked against the filter.

mod build;
mod dups;
mod graph;
mod search;
mod serialize;

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicUsize};

use graph::Core;

use crate::{IndexError, Metric, VectorStorage};

/// Build parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HnswParams {
    /// Neighbours per node on upper layers (layer 0 keeps up to `2 * m`).
    pub m: usize,
    /// Search list size during construction.
    pub ef_construction: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 200,
        }
    }
}

/// How [`Hnsw::search`] answers filtered queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FilterPlan {
    /// Exact scan of the allowed rows when that is cheaper than traversal (see [`Hnsw::plans_exact`]).
    #[default]
    Auto,
    /// Always traverse the graph (falls back to a scan only if too few results come back).
    Graph,
    /// Always scan the allowed rows exactly.
    Exact,
}

/// A built HNSW graph plus its own copy of the vectors (normalised for cosine).
pub struct Hnsw {
    core: Core,
    entry: u32,
    max_level: usize,
    params: HnswParams,
    plan: FilterPlan,
}

impl std::fmt::Debug for Hnsw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hnsw")
            .field("n", &self.len())
            .field("dim", &self.dim())
            .field("metric", &self.metric())
            .field("params", &self.params)
            .field("max_level", &self.max_level)
            .finish()
    }
}

impl Hnsw {
    /// Builds the index on the calling thread's rayon pool (parallel insert).
    /// `progress` is incremented once per inserted vector; when `cancel` becomes true
    /// the build stops promptly with [`IndexError::Cancelled`].
    pub fn build(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        params: &HnswParams,
        progress: &AtomicUsize,
        cancel: &AtomicBool,
    ) -> Result<Hnsw, IndexError> {
        build::build(
            vectors,
            dim,
            metric,
            params,
            VectorStorage::F32,
            progress,
            cancel,
        )
    }

    /// Like [`Hnsw::build`], choosing the precision of the stored vectors
    /// ([`VectorStorage::F16`] trades ~1e-4 relative distance error for ~40 % less memory).
    pub fn build_with_storage(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        params: &HnswParams,
        storage: VectorStorage,
        progress: &AtomicUsize,
        cancel: &AtomicBool,
    ) -> Result<Hnsw, IndexError> {
        build::build(vectors, dim, metric, params, storage, progress, cancel)
    }

    /// Precision of the stored vectors.
    pub fn storage(&self) -> VectorStorage {
        self.core.rows.storage()
    }

    /// Number of indexed vectors.
    pub fn len(&self) -> usize {
        self.core.graph.len()
    }

    /// True when the index holds no vectors.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.core.dim
    }

    /// Metric the index was built for.
    pub fn metric(&self) -> Metric {
        self.core.metric
    }

    /// Build parameters.
    pub fn params(&self) -> &HnswParams {
        &self.params
    }

    /// The stored (for cosine: normalised) vector of internal id `id`.
    pub fn vector(&self, id: u32) -> Option<Cow<'_, [f32]>> {
        ((id as usize) < self.len()).then(|| self.core.row(id))
    }

    /// Heap bytes held by the index: vectors plus graph.
    pub fn memory_bytes(&self) -> usize {
        let g = &self.core.graph;
        self.core.rows.memory_bytes()
            + self.core.codes.memory_bytes()
            + (g.links0.len() + g.upper.len() + g.upper_off.len()) * 4
            + g.levels.len()
            + self.core.dups.memory_bytes()
    }

    /// Ids whose stored vector is bit-identical to `id`'s and that search answers
    /// through `id` (the smallest id of the group); empty for every other id.
    pub fn copies_of(&self, id: u32) -> &[u32] {
        if (id as usize) < self.len() {
            self.core.dups.copies(id)
        } else {
            &[]
        }
    }

    /// Number of rows kept out of the graph as copies of a bit-identical row.
    pub fn duplicate_rows(&self) -> usize {
        self.core.dups.all_copies().len()
    }

    /// Chooses how filtered searches are planned (default [`FilterPlan::Auto`]).
    pub fn set_filter_plan(&mut self, plan: FilterPlan) {
        self.plan = plan;
    }

    /// True when a filter allowing `allowed` of the rows is answered by an exact scan
    /// rather than graph traversal. Cost model (calibrated on 100k x 1536): an exact scan
    /// costs `allowed` f32 rows; a filtered traversal costs about `4 * ef / sqrt(s)` rows
    /// at selectivity `s = allowed / n` (traversal reads int8 codes and must walk through
    /// non-matching nodes).
    pub fn plans_exact(&self, allowed: usize, ef: usize) -> bool {
        match self.plan {
            FilterPlan::Graph => return false,
            FilterPlan::Exact => return true,
            FilterPlan::Auto => {}
        }
        let n = self.len().max(1) as f64;
        let a = allowed as f64;
        let s = (a / n).max(1e-9);
        let graph_cost = 4.0 * ef.max(1) as f64 / s.sqrt();
        a <= graph_cost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> (Vec<f32>, usize) {
        let mut v = Vec::new();
        for i in 0..300 {
            let x = i as f32;
            v.extend([x.sin(), x.cos(), (x * 0.37).sin(), 1.0 + (x * 0.11).cos()]);
        }
        (v, 4)
    }

    /// `n` rows of `dim` on a spiral, then the first `frac` of rows after row 0
    /// overwritten by row 0.
    fn spiral_with_copies(n: usize, dim: usize, frac: f64) -> Vec<f32> {
        let mut v: Vec<f32> = (0..n * dim)
            .map(|i| ((i / dim) as f32 * 0.37 + (i % dim) as f32).sin())
            .collect();
        let row0 = v[..dim].to_vec();
        for r in 1..=((n as f64 * frac) as usize).min(n - 1) {
            v[r * dim..(r + 1) * dim].copy_from_slice(&row0);
        }
        v
    }

    /// The graph itself (no exact fallback) returns `k` hits: duplicates do not trap the
    /// traversal, and overflowing distances do not stop it.
    #[test]
    fn traversal_alone_returns_k() {
        let (n, dim) = (2000, 8);
        for frac in [0.0, 0.05, 0.5, 1.0] {
            let v = spiral_with_copies(n, dim, frac);
            for metric in [Metric::L2, Metric::Cosine] {
                let h = Hnsw::build(
                    &v,
                    dim,
                    metric,
                    &HnswParams {
                        m: 8,
                        ef_construction: 64,
                    },
                    &AtomicUsize::new(0),
                    &AtomicBool::new(false),
                )
                .expect("build");
                let far = vec![3e38f32; dim];
                for q in [&v[..dim], &v[dim * 1500..dim * 1501], &far[..]] {
                    let q = h.prepare(q);
                    let rr = search::Rerank::Own(&q);
                    for k in [10, 50, 100, 1000] {
                        let res = h.traverse(&q, &rr, k.max(32), None);
                        let out = h.expand(&res, &rr, k, None);
                        assert_eq!(out.len(), k, "{frac} {metric:?} k={k}");
                    }
                }
            }
        }
    }

    #[test]
    fn send_sync() {
        fn check<T: Send + Sync>() {}
        check::<Hnsw>();
    }

    /// Builds `tiny()` on a pool of `threads` threads.
    fn build_tiny(threads: usize) -> Hnsw {
        let (v, dim) = tiny();
        let p = HnswParams {
            m: 8,
            ef_construction: 64,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            Hnsw::build(
                &v,
                dim,
                Metric::L2,
                &p,
                &AtomicUsize::new(0),
                &AtomicBool::new(false),
            )
        })
        .expect("build")
    }

    #[test]
    fn builds_and_finds_itself() {
        let (v, dim) = tiny();
        // One thread: the graph (and so this exact-match check) is deterministic.
        let h = build_tiny(1);
        assert_eq!(h.len(), 300);
        for i in (0..300).step_by(7) {
            let r = h.search(&v[i * dim..(i + 1) * dim], 1, 32, None);
            assert_eq!(r[0].id as usize, i);
        }
        assert!(h.memory_bytes() >= 300 * dim * 4);
    }

    #[test]
    fn empty_and_bad_params() {
        let z = Hnsw::build(
            &[],
            8,
            Metric::Ip,
            &HnswParams::default(),
            &AtomicUsize::new(0),
            &AtomicBool::new(false),
        )
        .expect("empty build");
        assert!(z.is_empty());
        assert!(z.search(&[0.0; 8], 5, 10, None).is_empty());
        let bad = Hnsw::build(
            &[1.0; 7],
            2,
            Metric::L2,
            &HnswParams::default(),
            &AtomicUsize::new(0),
            &AtomicBool::new(false),
        );
        assert!(matches!(bad, Err(IndexError::DimensionMismatch { .. })));
        let bad = Hnsw::build(
            &[1.0; 8],
            2,
            Metric::L2,
            &HnswParams {
                m: 1,
                ef_construction: 8,
            },
            &AtomicUsize::new(0),
            &AtomicBool::new(false),
        );
        assert!(matches!(bad, Err(IndexError::InvalidParam(_))));
    }
}
