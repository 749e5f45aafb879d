//! Graph storage and the two traversal primitives shared by build and search.
//!
//! Layout: every node has a fixed-size layer-0 slot of `m0 + 1` words (count, then
//! up to `m0` neighbour ids) in one contiguous array; nodes on upper layers own
//! `level` consecutive blocks of `m + 1` words in a second array. No per-node heap
//! allocations. Words are `AtomicU32` so parallel inserts can rewrite neighbour
//! lists while other threads read them (relaxed loads compile to plain loads).

use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use super::dups::Dups;
use crate::kernels::{self, KernelTable};
use crate::quant::{Codes, QueryCode};
use crate::rows::Rows;
use crate::topk::Cand;
use crate::{Bitset, Metric};

/// Neighbour lists of all nodes on all layers.
pub(crate) struct Graph {
    pub m: usize,
    pub m0: usize,
    pub levels: Vec<u8>,
    /// Index of the node's first upper-layer block (`u32::MAX` for level-0-only nodes).
    pub upper_off: Vec<u32>,
    pub links0: Vec<AtomicU32>,
    pub upper: Vec<AtomicU32>,
}

impl Graph {
    pub fn new(levels: Vec<u8>, m: usize, m0: usize) -> Graph {
        let mut upper_off = Vec::with_capacity(levels.len());
        let mut blocks = 0usize;
        for &l in &levels {
            if l == 0 {
                upper_off.push(u32::MAX);
            } else {
                upper_off.push(blocks as u32);
                blocks += l as usize;
            }
        }
        let n = levels.len();
        Graph {
            m,
            m0,
            levels,
            upper_off,
            links0: (0..n * (m0 + 1)).map(|_| AtomicU32::new(0)).collect(),
            upper: (0..blocks * (m + 1)).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// The slot (count word followed by capacity id words) of `node` on `level`.
    #[inline]
    pub fn slot(&self, node: u32, level: usize) -> &[AtomicU32] {
        let node = node as usize;
        if level == 0 {
            let s = self.m0 + 1;
            &self.links0[node * s..(node + 1) * s]
        } else {
            let s = self.m + 1;
            let b = self.upper_off[node] as usize + level - 1;
            &self.upper[b * s..(b + 1) * s]
        }
    }

    /// Current neighbours of `node` on `level` (a consistent-enough snapshot).
    #[inline]
    pub fn neighbors(&self, node: u32, level: usize) -> impl Iterator<Item = u32> + '_ {
        let slot = self.slot(node, level);
        let cnt = (slot[0].load(Relaxed) as usize).min(slot.len() - 1);
        slot[1..=cnt].iter().map(|a| a.load(Relaxed))
    }

    /// Replaces the neighbour list (caller holds the node's lock).
    pub fn set_neighbors(&self, node: u32, level: usize, ids: &[u32]) {
        let slot = self.slot(node, level);
        let cnt = ids.len().min(slot.len() - 1);
        for (w, &id) in slot[1..=cnt].iter().zip(ids) {
            w.store(id, Relaxed);
        }
        slot[0].store(cnt as u32, Relaxed);
    }
}

/// Below this dimension traversal and construction use exact `f32` distances: rows are
/// small enough that memory traffic is not the bottleneck, and int8 codes of few
/// components are coarse enough to cost recall (2k x 32: ~0.94 instead of ≥ 0.97).
pub(crate) const CODES_MIN_DIM: usize = 256;

/// A query as traversal sees it: its int8 code and (when available) its `f32` form.
pub(crate) struct TravQuery<'a> {
    pub code: QueryCode<'a>,
    pub exact: Option<&'a [f32]>,
}

/// Vectors (normalised for cosine), their int8 codes, and the graph: everything a
/// traversal needs. Traversal scores codes (at `dim >= CODES_MIN_DIM`); `dist`
/// (exact `f32`) re-ranks.
pub(crate) struct Core {
    pub dim: usize,
    pub metric: Metric,
    pub rows: Rows,
    pub codes: Codes,
    pub graph: Graph,
    /// Groups of bit-identical rows: only representatives are linked into the graph.
    pub dups: Dups,
    pub kt: &'static KernelTable,
}

impl Core {
    /// Stored row `id` as `f32`.
    #[inline]
    pub fn row(&self, id: u32) -> Cow<'_, [f32]> {
        self.rows.row(id, self.dim)
    }

    /// Exact internal distance between a prepared query and stored vector `id`.
    #[inline]
    pub fn dist(&self, q: &[f32], id: u32) -> f32 {
        self.rows.dist(self.kt, self.metric, self.dim, q, id)
    }

    /// True when traversal scores int8 codes rather than `f32` rows.
    #[inline]
    pub fn use_codes(&self) -> bool {
        self.dim >= CODES_MIN_DIM
    }

    /// Distance used for traversal: int8 codes, or exact `f32` for small dimensions.
    #[inline]
    pub fn adist(&self, q: &TravQuery, id: u32) -> f32 {
        match q.exact {
            Some(v) if !self.use_codes() => self.dist(v, id),
            _ => self.codes.dist(self.kt, self.metric, &q.code, id),
        }
    }

    #[inline]
    fn prefetch(&self, id: u32) {
        #[cfg(target_arch = "x86_64")]
        if self.use_codes() {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let (p, lines) = self.codes.lines_of(id);
            for l in 0..lines {
                // SAFETY: prefetch never faults; the address is inside the code rows.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(l * 64)) };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = id;
    }

    /// Greedy walk with a search list of one (upper layers).
    pub fn greedy(&self, q: &TravQuery, mut cur: Cand, level: usize) -> Cand {
        loop {
            let mut changed = false;
            for nb in self.graph.neighbors(cur.id, level) {
                let d = self.adist(q, nb);
                if d < cur.dist {
                    cur = Cand { dist: d, id: nb };
                    changed = true;
                }
            }
            if !changed {
                return cur;
            }
        }
    }

    /// Beam search on one layer (HNSW paper, algorithm 2). Non-allowed nodes are still
    /// traversed (so a filter never disconnects the graph) but never returned; a
    /// representative counts as allowed when any member of its duplicate group is.
    /// Returns up to `ef` candidates sorted best-first by approximate distance.
    ///
    /// Until `ef` results are held every candidate is taken, whatever its distance: a
    /// query whose distances all overflow to `+inf` still collects `ef` of them.
    pub fn search_layer(
        &self,
        q: &TravQuery,
        entry: Cand,
        ef: usize,
        level: usize,
        visited: &mut Visited,
        allow: Option<&Bitset>,
    ) -> Vec<Cand> {
        let allowed =
            |id: u32| allow.is_none_or(|b| b.get(id as usize) || self.dups.any_copy_allowed(id, b));
        let mut cands: BinaryHeap<Reverse<Cand>> = BinaryHeap::with_capacity(ef * 2);
        let mut res: BinaryHeap<Cand> = BinaryHeap::with_capacity(ef + 1);
        visited.insert(entry.id);
        cands.push(Reverse(entry));
        if allowed(entry.id) {
            res.push(entry);
        }
        // `full` rather than an infinite sentinel: `inf < inf` is false, so a sentinel
        // would turn every overflowing distance away.
        let mut full = res.len() >= ef;
        let mut worst = entry.dist;
        let mut batch: Vec<u32> = Vec::with_capacity(self.graph.m0);
        while let Some(Reverse(c)) = cands.pop() {
            if full && c.dist > worst {
                break;
            }
            batch.clear();
            batch.extend(
                self.graph
                    .neighbors(c.id, level)
                    .filter(|&nb| visited.insert(nb)),
            );
            for &nb in batch.iter().take(2) {
                self.prefetch(nb);
            }
            for (j, &nb) in batch.iter().enumerate() {
                if let Some(&next) = batch.get(j + 2) {
                    self.prefetch(next);
                }
                let d = self.adist(q, nb);
                if !full || d < worst {
                    let cand = Cand { dist: d, id: nb };
                    cands.push(Reverse(cand));
                    if allowed(nb) {
                        res.push(cand);
                        if res.len() > ef {
                            res.pop();
                        }
                        if res.len() >= ef {
                            full = true;
                            worst = res.peek().map_or(worst, |w| w.dist);
                        }
                    }
                }
            }
        }
        res.into_sorted_vec()
    }
}

/// Visited marks with an epoch counter, so resetting costs nothing per query.
pub(crate) struct Visited {
    marks: Vec<u16>,
    epoch: u16,
}

impl Visited {
    fn new() -> Self {
        Visited {
            marks: Vec::new(),
            epoch: 0,
        }
    }

    /// Starts a new traversal over ids `0..n`.
    pub fn reset(&mut self, n: usize) {
        if self.marks.len() < n {
            self.marks.resize(n, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `id`; true if it was not marked in this traversal.
    #[inline]
    pub fn insert(&mut self, id: u32) -> bool {
        let m = &mut self.marks[id as usize];
        if *m == self.epoch {
            false
        } else {
            *m = self.epoch;
            true
        }
    }
}

thread_local! {
    static VISITED: RefCell<Visited> = RefCell::new(Visited::new());
}

/// Runs `f` with this thread's reusable visited set, reset for ids `0..n`
/// (a fresh set if this thread's one is already in use).
pub(crate) fn with_visited<R>(n: usize, f: impl FnOnce(&mut Visited) -> R) -> R {
    VISITED.with(|cell| match cell.try_borrow_mut() {
        Ok(mut v) => {
            v.reset(n);
            f(&mut v)
        }
        Err(_) => {
            let mut v = Visited::new();
            v.reset(n);
            f(&mut v)
        }
    })
}

/// Keeps candidates that are closer to the base than to any already kept candidate
/// (HNSW paper, algorithm 4, without extension or pruned-connection refill).
/// `cands` must be sorted best-first.
///
/// Ties: a kept `r` also prunes `c` when all three distances are equal (`d(c, r) =
/// d(base, c) = d(base, r)`, finite). That is the case of rows the distance cannot tell
/// apart — near-duplicates whose int8 codes (or f16 rows) are identical, or cosine
/// near-duplicates whose `1 - dot` rounds to the same value: without it they keep each
/// other and fill every list with a clique traversal cannot leave. A tie through a
/// kept near-duplicate of the base (`d(base, r)` smaller) does not prune, so a node
/// among near-duplicates keeps its links to the rest of the graph.
pub(crate) fn select_heuristic(core: &Core, cands: &[Cand], m: usize, exact: bool) -> Vec<Cand> {
    if cands.len() <= m {
        return cands.to_vec();
    }
    let mut out: Vec<Cand> = Vec::with_capacity(m);
    for c in cands {
        if out.len() >= m {
            break;
        }
        let keep = if exact {
            let v = core.row(c.id);
            out.iter()
                .all(|r| !covers(core.dist(&v, r.id), c.dist, r.dist))
        } else {
            let q = TravQuery {
                code: core.codes.query(c.id),
                exact: None,
            };
            out.iter()
                .all(|r| !covers(core.adist(&q, r.id), c.dist, r.dist))
        };
        if keep {
            out.push(*c);
        }
    }
    out
}

/// True when a kept neighbour `r` makes candidate `c` redundant: `c` is closer to `r`
/// (`d_cr`) than to the base (`d_bc`), or the three are tied (see [`select_heuristic`]).
#[inline]
fn covers(d_cr: f32, d_bc: f32, d_br: f32) -> bool {
    d_cr < d_bc || (d_cr == d_bc && d_br == d_bc && d_bc.is_finite())
}

/// `kernels::table()` re-exported for the constructors.
pub(crate) fn kernel_table() -> &'static KernelTable {
    kernels::table()
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn ties_prune_only_between_indistinguishable_rows() {
        assert!(
            covers(0.5, 1.0, 0.2),
            "closer to the kept neighbour than to the base"
        );
        assert!(!covers(1.5, 1.0, 0.2));
        assert!(covers(0.0, 0.0, 0.0), "three identical rows");
        assert!(covers(0.3, 0.3, 0.3), "rows with the same int8 code");
        assert!(
            !covers(1.0, 1.0, 0.0),
            "a tie through a copy of the base keeps c"
        );
        assert!(!covers(f32::INFINITY, f32::INFINITY, f32::INFINITY));
    }
}
