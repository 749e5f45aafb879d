//! Exact (brute-force) search over a contiguous slab of `n * dim` floats.
//!
//! Used for small segments, growing segments, and as the HNSW fallback when a filter
//! leaves too few rows for graph traversal to be worthwhile.

use crate::kernels::{self, KernelTable};
use crate::topk::TopK;
use crate::{Bitset, Metric, Neighbor};

/// Exact search; stateless, works on any borrowed vector slab.
pub struct FlatIndex;

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
    pub fn search(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        query: &[f32],
        k: usize,
        allow: Option<&Bitset>,
    ) -> Vec<Neighbor> {
        if dim == 0 || k == 0 || query.len() != dim {
            return Vec::new();
        }
        let n = vectors.len() / dim;
        let scorer = RawScorer::new(metric, query);
        let mut top = TopK::new(k);
        match allow {
            None => {
                for (i, row) in vectors.chunks_exact(dim).enumerate() {
                    top.push(i as u32, scorer.dist(row));
                }
            }
            Some(bits) => {
                for i in bits.iter_ones().take_while(|&i| i < n) {
                    top.push(i as u32, scorer.dist(&vectors[i * dim..(i + 1) * dim]));
                }
            }
        }
        top.into_sorted()
    }

    /// Like [`FlatIndex::search`] but checks the query dimension.
    pub fn try_search(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        query: &[f32],
        k: usize,
        allow: Option<&Bitset>,
    ) -> Result<Vec<Neighbor>, crate::IndexError> {
        if query.len() != dim {
            return Err(crate::IndexError::DimensionMismatch {
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
