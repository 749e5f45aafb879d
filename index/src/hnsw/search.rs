//! HNSW search: filter planning, int8 traversal, and the one exact re-rank step.
//!
//! Why the re-rank source is a parameter: a sealed segment already holds the `f32`
//! rows the graph was built from, in internal-id order. Re-ranking the `ef` traversal
//! candidates against those rows with the flat scan's own scorer ([`RawScorer`]) gives
//! distances bit-identical to [`crate::FlatIndex`] in a single step, so the caller no
//! longer rescores the `k` hits and sorts them again. Without such rows the index falls
//! back to its own copy ([`crate::VectorStorage`]: f32, f16 or i16, normalised for
//! cosine), whose distances are exact only for `F32` storage with L2 or IP.
//!
//! Measured (index/README.md, "One re-rank step"; 20k x 1536 cosine, F16 own copy,
//! 4 alternating runs on a loaded 2-vCPU machine, single-thread QPS): re-ranking the `ef`
//! candidates once from the caller's f32 rows averaged 7,475 / 6,119 / 5,093 / 3,367 QPS
//! at ef 16 / 24 / 32 / 64, against 6,884 / 5,933 / 5,056 / 3,334 for the former f16
//! re-rank followed by a `k`-row f32 rescore and sort, at identical recall. The f32 kernel
//! is cheaper per row than decoding f16, which pays for rows twice the size; so the rows,
//! when given, are the one re-rank. The filtered exact plan is the exception where bytes
//! dominate: scanning every allowed row in f32 ran at 0.41-0.52x of the former path, so
//! it scans the 2-byte own copy for the best `ef` and re-ranks only those from f32
//! (0.70-0.84x of the former path, which re-ranked only `k`, for recall 1.0000 instead
//! of 0.9993 on the tenant at 5.3 % of the rows).

use std::borrow::Cow;

use super::graph::{with_visited, TravQuery};
use super::Hnsw;
use crate::quant::OwnedQuery;
use crate::topk::{Cand, TopK};
use crate::{kernels, Bitset, IndexError, Metric, Neighbor, RawScorer, VectorStorage};

/// Where the final (returned) distances come from.
pub(super) enum Rerank<'a> {
    /// The index's own copy of the vectors; `q` is the prepared query.
    Own(&'a [f32]),
    /// The caller's `f32` rows (internal-id order, not normalised), scored exactly as
    /// a flat scan scores them.
    Rows(&'a [f32], RawScorer<'a>),
}

impl Rerank<'_> {
    #[inline]
    fn dist(&self, h: &Hnsw, id: u32) -> f32 {
        match self {
            Rerank::Own(q) => h.core.dist(q, id),
            Rerank::Rows(rows, s) => {
                let i = id as usize * h.core.dim;
                s.dist(&rows[i..i + h.core.dim])
            }
        }
    }

    /// True when members of one duplicate group may score differently: the caller's rows
    /// are raw `f32`, the groups are bit-identical only in the stored representation.
    fn per_copy(&self) -> bool {
        matches!(self, Rerank::Rows(..))
    }
}

impl Hnsw {
    /// Top-`k` neighbours, best first, with search list size `max(ef, k)`. Exactly
    /// `min(k, rows)` results come back (`min(k, allowed)` with `allow`, every result
    /// having its bit set), also when distances overflow to infinity.
    /// Returns nothing when `query.len() != dim()` (see [`Hnsw::try_search`]).
    ///
    /// Distances come from the index's own copy of the vectors; to have them exact and
    /// identical to a flat scan, search through [`crate::HnswView`] with the `f32` rows.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        allow: Option<&Bitset>,
    ) -> Vec<Neighbor> {
        self.search_rows(query, k, ef, allow, None)
    }

    /// Like [`Hnsw::search`], but reports a wrong query dimension.
    pub fn try_search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        allow: Option<&Bitset>,
    ) -> Result<Vec<Neighbor>, IndexError> {
        if query.len() != self.dim() {
            return Err(IndexError::DimensionMismatch {
                expected: self.dim(),
                got: query.len(),
            });
        }
        Ok(self.search(query, k, ef, allow))
    }

    /// The search behind [`Hnsw::search`] and [`crate::HnswView`]: `exact`, when given,
    /// must hold `len() * dim()` floats (checked by `HnswView`) and is the only re-rank
    /// source. `ef` is bounded by the row count, since a client may send any `ef` and it
    /// sizes the candidate heaps, while a longer list than the graph finds nothing more.
    pub(crate) fn search_rows(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        allow: Option<&Bitset>,
        exact: Option<&[f32]>,
    ) -> Vec<Neighbor> {
        let n = self.len();
        if k == 0 || n == 0 || query.len() != self.dim() {
            return Vec::new();
        }
        let k = k.min(n);
        let ef = ef.max(k).min(n);
        let q = self.prepare(query);
        let rr = match exact {
            Some(rows) => Rerank::Rows(rows, RawScorer::prepared(self.metric(), &q)),
            None => Rerank::Own(&q),
        };
        let allowed = allow.map(|b| b.count_ones_below(n));
        if let Some(c) = allowed {
            if c == 0 {
                return Vec::new();
            }
            if self.plans_exact(c, ef) {
                return self.exact(&q, &rr, k, ef, allow);
            }
        }
        let res = self.traverse(&q, &rr, ef, allow);
        let out = self.expand(&res, &rr, k, allow);
        // A traversal that reached fewer rows than asked for (a graph cut by a filter,
        // in theory a disconnected one) is completed by the exact scan.
        if out.len() < k.min(allowed.unwrap_or(n)) {
            return self.exact(&q, &rr, k, ef, allow);
        }
        out
    }

    /// The first `k` allowed ids of the re-ranked representatives `res`, each followed
    /// by its allowed copies. Copies share the representative's distance, except when
    /// re-ranking on the caller's rows: each copy is then scored itself and the result
    /// sorted again (a few rows, and only when the data has duplicates).
    pub(super) fn expand(
        &self,
        res: &[Cand],
        rr: &Rerank,
        k: usize,
        allow: Option<&Bitset>,
    ) -> Vec<Neighbor> {
        let allowed = |id: u32| allow.is_none_or(|b| b.get(id as usize));
        let mut out = Vec::with_capacity(k.min(res.len() * 2));
        let mut resort = false;
        for c in res {
            if allowed(c.id) {
                out.push(Neighbor {
                    id: c.id,
                    dist: c.dist,
                });
            }
            for &id in self.core.dups.copies(c.id) {
                if out.len() >= k {
                    break;
                }
                if allowed(id) {
                    let dist = if rr.per_copy() {
                        resort = true;
                        rr.dist(self, id)
                    } else {
                        c.dist
                    };
                    out.push(Neighbor { id, dist });
                }
            }
            if out.len() >= k {
                break;
            }
        }
        out.truncate(k);
        if resort {
            out.sort_unstable_by(|a, b| a.dist.total_cmp(&b.dist).then(a.id.cmp(&b.id)));
        }
        out
    }

    /// The query as the index's own vectors expect it (normalised for cosine).
    pub(super) fn prepare<'q>(&self, query: &'q [f32]) -> Cow<'q, [f32]> {
        if self.metric() == Metric::Cosine {
            let mut q = query.to_vec();
            kernels::normalize(&mut q);
            Cow::Owned(q)
        } else {
            Cow::Borrowed(query)
        }
    }

    /// Graph traversal on int8 codes (the own `f32`-decoded copy below `CODES_MIN_DIM`),
    /// then the one exact re-rank of the `ef` candidates from `rr`.
    pub(super) fn traverse(
        &self,
        q: &[f32],
        rr: &Rerank,
        ef: usize,
        allow: Option<&Bitset>,
    ) -> Vec<Cand> {
        let core = &self.core;
        let oq = OwnedQuery::new(q, core.kt);
        let qc = TravQuery {
            code: oq.as_query(),
            exact: Some(q),
        };
        let mut cur = Cand {
            dist: core.adist(&qc, self.entry),
            id: self.entry,
        };
        for lc in (1..=self.max_level).rev() {
            cur = core.greedy(&qc, cur, lc);
        }
        let mut res = with_visited(self.len(), |v| core.search_layer(&qc, cur, ef, 0, v, allow));
        for c in res.iter_mut() {
            c.dist = rr.dist(self, c.id);
        }
        res.sort_unstable();
        res
    }

    /// Exact scan over the allowed ids (or all ids). With the caller's rows and a 2-byte
    /// own copy, the scan keeps the best `ef` on the own copy (half the bytes of `f32`)
    /// and re-ranks only those from the rows, like a traversal's candidates; with an
    /// `f32` own copy (same bytes) or no rows, it scans with `rr` directly.
    fn exact(
        &self,
        q: &[f32],
        rr: &Rerank,
        k: usize,
        ef: usize,
        allow: Option<&Bitset>,
    ) -> Vec<Neighbor> {
        if !rr.per_copy() || self.storage() == VectorStorage::F32 {
            return self.scan(rr, k, allow);
        }
        let mut out = self.scan(&Rerank::Own(q), ef.max(k), allow);
        for c in out.iter_mut() {
            c.dist = rr.dist(self, c.id);
        }
        out.sort_unstable_by(|a, b| a.dist.total_cmp(&b.dist).then(a.id.cmp(&b.id)));
        out.truncate(k);
        out
    }

    /// Top-`k` of the allowed ids (or all ids) scored by `rr`.
    fn scan(&self, rr: &Rerank, k: usize, allow: Option<&Bitset>) -> Vec<Neighbor> {
        let n = self.len();
        let mut top = TopK::new(k);
        match allow {
            Some(b) => {
                for i in b.iter_ones().take_while(|&i| i < n) {
                    top.push(i as u32, rr.dist(self, i as u32));
                }
            }
            None => {
                for i in 0..n as u32 {
                    top.push(i, rr.dist(self, i));
                }
            }
        }
        top.into_sorted()
    }
}
