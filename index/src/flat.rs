//! Exact (brute-force) search over a contiguous slab of `n * dim` floats.
//!
//! Used for small segments, growing segments, and as the HNSW fallback when a filter
//! leaves too few rows for graph traversal to be worthwhile. [`FlatView`] is the same
//! scan behind the [`crate::VectorIndex`] interface; [`RawScorer`] is the one scorer
//! whose distances every exact path (flat scan, HNSW re-rank on `f32` rows) returns.

use crate::kernels::{self, KernelTable};
use crate::topk::TopK;
use crate::{Bitset, IndexError, Metric, Neighbor};

/// Exact search; stateless, works on any borrowed vector slab.
pub struct FlatIndex;

/// A borrowed slab of `n * dim` floats searched exactly, as one [`crate::VectorIndex`].
///
/// Row `i` of the slab has id `first_id + i`, both in the results and in the filter: a
/// segment stored as several chunks gives each chunk a view starting at the chunk's first
/// row, and every view reads the one segment-wide [`Bitset`] (no per-chunk filter copy).
#[derive(Clone, Copy, Debug)]
pub struct FlatView<'a> {
    vectors: &'a [f32],
    dim: usize,
    metric: Metric,
    first_id: u32,
}

impl<'a> FlatView<'a> {
    /// A view of `vectors` (row `i` = id `i`). Fails when `dim == 0` or the slab is not
    /// a whole number of rows.
    pub fn new(vectors: &'a [f32], dim: usize, metric: Metric) -> Result<Self, IndexError> {
        Self::with_first_id(vectors, dim, metric, 0)
    }

    /// A view whose row `i` is id `first_id + i`. Also fails when the last id would not
    /// fit in a `u32`.
    pub fn with_first_id(
        vectors: &'a [f32],
        dim: usize,
        metric: Metric,
        first_id: u32,
    ) -> Result<Self, IndexError> {
        crate::error::check_slab(vectors, dim)?;
        if first_id as u64 + (vectors.len() / dim) as u64 > u32::MAX as u64 {
            return Err(IndexError::InvalidParam(format!(
                "ids {first_id}.. of {} rows overflow u32",
                vectors.len() / dim
            )));
        }
        Ok(FlatView {
            vectors,
            dim,
            metric,
            first_id,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.vectors.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Metric the rows are scored with.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Id of the first row.
    pub fn first_id(&self) -> u32 {
        self.first_id
    }

    /// Exact top-`k` of the allowed rows, best first (ids offset by `first_id`).
    pub(crate) fn scan(&self, query: &[f32], k: usize, allow: Option<&Bitset>) -> Vec<Neighbor> {
        let (dim, n) = (self.dim, self.rows());
        if dim == 0 || k == 0 || n == 0 || query.len() != dim {
            return Vec::new();
        }
        let scorer = RawScorer::new(self.metric, query);
        let mut top = TopK::new(k.min(n));
        let base = self.first_id;
        match allow {
            None => {
                for (i, row) in self.vectors.chunks_exact(dim).enumerate() {
                    top.push(base + i as u32, scorer.dist(row));
                }
            }
            Some(bits) => {
                let end = base as usize + n;
                for id in bits.iter_ones_from(base as usize).take_while(|&i| i < end) {
                    let i = id - base as usize;
                    top.push(
                        id as u32,
                        scorer.dist(&self.vectors[i * dim..(i + 1) * dim]),
                    );
                }
            }
        }
        top.into_sorted()
    }
}

/// A query prepared for one metric over raw (not normalised) stored vectors.
pub struct RawScorer<'a> {
    k: &'static KernelTable,
    metric: Metric,
    query: std::borrow::Cow<'a, [f32]>,
    q_nonzero: bool,
}

impl<'a> RawScorer<'a> {
    /// Prepares `query` for `metric` (normalised once for cosine).
    pub fn new(metric: Metric, query: &'a [f32]) -> Self {
        let query = if metric == Metric::Cosine {
            let mut q = query.to_vec();
            kernels::normalize(&mut q);
            std::borrow::Cow::Owned(q)
        } else {
            std::borrow::Cow::Borrowed(query)
        };
        Self::from_cow(metric, query)
    }

    /// A scorer for a query already prepared as [`RawScorer::new`] prepares it (for
    /// cosine: normalised by `kernels::normalize`), borrowed rather than copied. HNSW
    /// uses it so its re-rank on `f32` rows scores bit-identically to a flat scan.
    pub(crate) fn prepared(metric: Metric, query: &'a [f32]) -> Self {
        Self::from_cow(metric, std::borrow::Cow::Borrowed(query))
    }

    fn from_cow(metric: Metric, query: std::borrow::Cow<'a, [f32]>) -> Self {
        let k = kernels::table();
        let q_nonzero = (k.dot)(&query, &query) > 0.0;
        RawScorer {
            k,
            metric,
            query,
            q_nonzero,
        }
    }

    /// Internal distance (smaller is better) from the query to `row`.
    #[inline]
    pub fn dist(&self, row: &[f32]) -> f32 {
        let q = &self.query[..];
        let d = match self.metric {
            Metric::L2 => (self.k.l2_sq)(q, row),
            Metric::Ip => -(self.k.dot)(q, row),
            Metric::Cosine => {
                let (d, nn) = (self.k.dot_norm)(q, row);
                if nn > 0.0 && nn.is_finite() && self.q_nonzero {
                    (1.0 - d / nn.sqrt()).clamp(0.0, 2.0)
                } else {
                    1.0
                }
            }
        };
        crate::metric::ordered(d)
    }
}

impl FlatIndex {
    /// Exact top-k, sorted best-first. With `allow`, only ids whose bit is set are
    /// candidates. Returns nothing when `dim == 0`, `k == 0` or `query.len() != dim`.
    /// A thin wrapper over [`FlatView`] (a trailing partial row is ignored).
    pub fn search(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        query: &[f32],
        k: usize,
        allow: Option<&Bitset>,
    ) -> Vec<Neighbor> {
        let n = vectors.len().checked_div(dim).unwrap_or(0);
        let view = FlatView {
            vectors: &vectors[..n * dim],
            dim,
            metric,
            first_id: 0,
        };
        view.scan(query, k, allow)
    }

    /// Like [`FlatIndex::search`] but checks the query dimension.
    pub fn try_search(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        query: &[f32],
        k: usize,
        allow: Option<&Bitset>,
    ) -> Result<Vec<Neighbor>, IndexError> {
        if query.len() != dim {
            return Err(IndexError::DimensionMismatch {
                expected: dim,
                got: query.len(),
            });
        }
        Ok(Self::search(vectors, dim, metric, query, k, allow))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Vec<f32> {
        vec![
            1.0, 0.0, // 0
            0.0, 1.0, // 1
            2.0, 2.0, // 2
            -1.0, 0.0, // 3
            0.0, 0.0, // 4 (zero vector)
        ]
    }

    #[test]
    fn l2_order() {
        let r = FlatIndex::search(&data(), 2, Metric::L2, &[1.0, 0.1], 3, None);
        let ids: Vec<u32> = r.iter().map(|n| n.id).collect();
        assert_eq!(ids, vec![0, 4, 1]);
        assert!((r[0].dist - 0.01).abs() < 1e-6);
    }

    #[test]
    fn ip_and_cosine() {
        let r = FlatIndex::search(&data(), 2, Metric::Ip, &[1.0, 1.0], 2, None);
        assert_eq!(r[0].id, 2);
        assert!((Metric::Ip.to_score(r[0].dist) - 4.0).abs() < 1e-6);
        let r = FlatIndex::search(&data(), 2, Metric::Cosine, &[3.0, 0.0], 5, None);
        assert_eq!(r[0].id, 0);
        assert!((Metric::Cosine.to_score(r[0].dist) - 1.0).abs() < 1e-6);
        assert_eq!(r[4].id, 3);
        assert!((Metric::Cosine.to_score(r[4].dist) + 1.0).abs() < 1e-6);
        assert!(r.iter().all(|n| n.dist.is_finite()));
    }

    #[test]
    fn filter_and_edge_cases() {
        let allow = Bitset::from_ids(5, [1, 3]);
        let r = FlatIndex::search(&data(), 2, Metric::L2, &[1.0, 0.0], 10, Some(&allow));
        let ids: Vec<u32> = r.iter().map(|n| n.id).collect();
        assert_eq!(ids, vec![1, 3]);
        assert!(FlatIndex::search(&data(), 2, Metric::L2, &[1.0], 3, None).is_empty());
        assert!(FlatIndex::search(&data(), 2, Metric::L2, &[1.0, 0.0], 0, None).is_empty());
        assert!(FlatIndex::try_search(&data(), 2, Metric::L2, &[1.0], 3, None).is_err());
    }
}
