//! One search interface over exact scans and graphs.
//!
//! Why: the query engine used to branch on "does the segment have a graph?", call two
//! differently shaped functions, and rescore the graph's hits itself so its scores
//! matched the flat path. Behind [`VectorIndex`] both are one call,
//! `idx.search(&SearchRequest { .. })`, and the scores already agree:
//!
//! * [`FlatView`] — a borrowed `f32` slab, scanned exactly with [`crate::RawScorer`];
//! * [`HnswView`] — a graph plus (optionally) the `f32` rows it was built from; with the
//!   rows, the `ef` traversal candidates are re-ranked once against them with the same
//!   scorer, so returned distances are bit-identical to a flat scan of those rows;
//! * [`Hnsw`] itself — re-ranks on its own copy of the vectors (see
//!   [`VectorIndex::exact_distances`] for when that is exact).
//!
//! Every implementation borrows its vectors: searching copies no vector data, and the
//! only allocations are the result and the per-query scratch the index already had.

use crate::{Bitset, FlatView, Hnsw, IndexError, Metric, Neighbor, VectorStorage};

/// One top-`k` query, the same for every [`VectorIndex`].
#[derive(Clone, Copy, Debug)]
pub struct SearchRequest<'a> {
    /// The query vector (`dim` components, not normalised: cosine normalises it).
    pub query: &'a [f32],
    /// Number of neighbours wanted.
    pub k: usize,
    /// Search list size for graphs (`max(ef, k)` is used, bounded by the row count);
    /// ignored by exact scans.
    pub ef: usize,
    /// Only ids whose bit is set may be returned (deletes and scalar filters); ids are
    /// the index's ids (for a [`FlatView`], `first_id + row`).
    pub allow: Option<&'a Bitset>,
}

impl<'a> SearchRequest<'a> {
    /// An unfiltered request for the `k` nearest neighbours of `query` (`ef = k`).
    pub fn new(query: &'a [f32], k: usize) -> Self {
        SearchRequest {
            query,
            k,
            ef: k,
            allow: None,
        }
    }
}

/// Read side of a vector index: what the query engine needs to search a segment,
/// whatever is behind it. Object safe, so a caller can hold `&dyn VectorIndex`.
pub trait VectorIndex {
    /// Number of rows searched.
    fn len(&self) -> usize;

    /// True when there is nothing to search.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Vector dimension.
    fn dim(&self) -> usize;

    /// Metric of the returned distances.
    fn metric(&self) -> Metric;

    /// True when returned distances are computed by [`crate::RawScorer`] on exact `f32`
    /// rows, i.e. bit-identical to [`crate::FlatIndex::search`] over the same rows.
    fn exact_distances(&self) -> bool;

    /// Top-`req.k` allowed neighbours, best first (distance, then id). Exactly
    /// `min(k, allowed rows)` results for exact scans and graphs alike. Returns nothing
    /// when the query has the wrong dimension (see [`VectorIndex::try_search`]).
    fn search(&self, req: &SearchRequest<'_>) -> Vec<Neighbor>;

    /// Like [`VectorIndex::search`], but reports a wrong query dimension.
    fn try_search(&self, req: &SearchRequest<'_>) -> Result<Vec<Neighbor>, IndexError> {
        if req.query.len() != self.dim() {
            return Err(IndexError::DimensionMismatch {
                expected: self.dim(),
                got: req.query.len(),
            });
        }
        Ok(self.search(req))
    }
}

impl VectorIndex for FlatView<'_> {
    fn len(&self) -> usize {
        self.rows()
    }

    fn dim(&self) -> usize {
        FlatView::dim(self)
    }

    fn metric(&self) -> Metric {
        FlatView::metric(self)
    }

    fn exact_distances(&self) -> bool {
        true
    }

    fn search(&self, req: &SearchRequest<'_>) -> Vec<Neighbor> {
        self.scan(req.query, req.k, req.allow)
    }
}

impl VectorIndex for Hnsw {
    fn len(&self) -> usize {
        Hnsw::len(self)
    }

    fn dim(&self) -> usize {
        Hnsw::dim(self)
    }

    fn metric(&self) -> Metric {
        Hnsw::metric(self)
    }

    /// Own-copy distances match the flat scan only for an `f32` copy and L2 / IP (for
    /// cosine the copy is normalised and scored as `1 - dot`, not as the flat `dot_norm`).
    fn exact_distances(&self) -> bool {
        self.storage() == VectorStorage::F32 && Hnsw::metric(self) != Metric::Cosine
    }

    fn search(&self, req: &SearchRequest<'_>) -> Vec<Neighbor> {
        self.search_rows(req.query, req.k, req.ef, req.allow, None)
    }
}

/// A graph searched with the exact `f32` rows it was built from (a sealed segment's
/// vector column, row `i` = internal id `i`, not normalised) as its one re-rank source.
///
/// With rows, every returned distance — re-ranked candidates, copies of duplicate
/// rows, and the exact scan a selective filter plans — is `RawScorer` on those rows:
/// the caller needs no rescore. Without rows it behaves as [`Hnsw`] itself.
#[derive(Clone, Copy, Debug)]
pub struct HnswView<'a> {
    hnsw: &'a Hnsw,
    exact: Option<&'a [f32]>,
}

impl<'a> HnswView<'a> {
    /// Binds `hnsw` to its exact rows. Fails when `exact` is not `len() * dim()` floats
    /// (rows of another segment or column would give wrong distances, not just slow ones).
    pub fn new(hnsw: &'a Hnsw, exact: Option<&'a [f32]>) -> Result<Self, IndexError> {
        if let Some(rows) = exact {
            let want = hnsw.len() * hnsw.dim();
            if rows.len() != want {
                return Err(IndexError::DimensionMismatch {
                    expected: want,
                    got: rows.len(),
                });
            }
        }
        Ok(HnswView { hnsw, exact })
    }

    /// The graph.
    pub fn hnsw(&self) -> &'a Hnsw {
        self.hnsw
    }
}

impl VectorIndex for HnswView<'_> {
    fn len(&self) -> usize {
        self.hnsw.len()
    }

    fn dim(&self) -> usize {
        self.hnsw.dim()
    }

    fn metric(&self) -> Metric {
        self.hnsw.metric()
    }

    fn exact_distances(&self) -> bool {
        self.exact.is_some() || VectorIndex::exact_distances(self.hnsw)
    }

    fn search(&self, req: &SearchRequest<'_>) -> Vec<Neighbor> {
        self.hnsw
            .search_rows(req.query, req.k, req.ef, req.allow, self.exact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FlatIndex;

    fn rows() -> Vec<f32> {
        (0..40).map(|i| ((i * 7) % 11) as f32 - 5.0).collect()
    }

    #[test]
    fn flat_view_matches_flat_index_and_offsets_ids() {
        let v = rows();
        let q = [1.0, -2.0, 0.5, 3.0];
        for m in [Metric::L2, Metric::Ip, Metric::Cosine] {
            let view = FlatView::new(&v, 4, m).expect("view");
            let got = view.search(&SearchRequest::new(&q, 4));
            assert_eq!(got, FlatIndex::search(&v, 4, m, &q, 4, None));
            // The second half as a chunk starting at id 5, filtered by a global bitset.
            let allow = Bitset::from_ids(10, [1, 6, 8, 9]);
            let chunk = FlatView::with_first_id(&v[20..], 4, m, 5).expect("chunk");
            let req = SearchRequest {
                allow: Some(&allow),
                ..SearchRequest::new(&q, 10)
            };
            let mut ids: Vec<u32> = chunk.search(&req).iter().map(|n| n.id).collect();
            ids.sort_unstable();
            assert_eq!(ids, vec![6, 8, 9]);
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let v = rows();
        assert!(FlatView::new(&v, 0, Metric::L2).is_err());
        assert!(FlatView::new(&v[..7], 4, Metric::L2).is_err());
        assert!(FlatView::with_first_id(&v, 4, Metric::L2, u32::MAX - 3).is_err());
        let view = FlatView::new(&v, 4, Metric::L2).expect("view");
        assert!(view.try_search(&SearchRequest::new(&[1.0], 3)).is_err());
        assert!(view.search(&SearchRequest::new(&[1.0], 3)).is_empty());
        assert!(view.search(&SearchRequest::new(&[0.0; 4], 0)).is_empty());
        assert_eq!(view.search(&SearchRequest::new(&[0.0; 4], 99)).len(), 10);
    }
}
