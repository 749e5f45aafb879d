//! How the query node runs a bound plan over a snapshot of segments: per
//! segment, evaluate the filter once into a bitmap minus deleted rows; one task
//! per (query, segment) on the rayon pool, through the segment's graph when it
//! has one for the field and an exact scan otherwise; then merge per query,
//! apply range and grouping. Results are (segment, row) hits into the snapshot,
//! which the caller materialises before anything leaves the node.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float32Type;
use quiver_filter::{Filter, IndexSpec, ScalarIndex};
use quiver_index::sparse::{self, SparseQuery};
use quiver_index::{
    Bitset, FlatView, HnswView, Metric, Neighbor, SearchRequest as AnnRequest, VectorIndex,
};
use quiver_types::PkValue;
use rayon::prelude::*;

use super::group;
use crate::error::{QuiverError, Result};
use crate::roles::{DistRange, Queries};
use crate::segment::Segment;

/// Group-by over a resolved column.
#[derive(Debug, Clone, Copy)]
pub struct Grouping {
    pub column: usize,
    pub group_size: usize,
}

/// A search bound to the node's schema.
pub struct SearchPlan {
    pub vector_col: usize,
    pub field_id: i64,
    pub dim: usize,
    pub metric: Metric,
    pub use_index: bool,
    pub queries: Queries,
    pub limit: usize,
    pub ef: usize,
    pub filter: Option<Arc<Filter>>,
    pub range: Option<DistRange>,
    pub group_by: Option<Grouping>,
    pub deadline: Option<Instant>,
    /// Scalar indexes the filter may be narrowed with.
    pub scalar_indexes: Vec<IndexSpec>,
}

/// One hit: a row of a snapshot segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub seg: usize,
    pub row: usize,
    pub dist: f32,
}

/// A query bound to the node's schema.
pub struct QueryPlan {
    pub filter: Option<Arc<Filter>>,
    pub pks: Option<Vec<PkValue>>,
    pub limit: Option<usize>,
    pub offset: usize,
    pub count_only: bool,
    pub deadline: Option<Instant>,
    /// Scalar indexes the filter may be narrowed with.
    pub scalar_indexes: Vec<IndexSpec>,
}

/// Largest candidate list a segment is asked for.
const MAX_CANDIDATES: usize = 16_384;

pub async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| QuiverError::Internal(format!("query task failed: {e}")))?
}

/// Filter result for a whole segment (one entry per row), or None for "all
/// rows". A sealed segment narrows the filter with the scalar indexes among
/// `specs` it can use (same result, work proportional to the candidates).
fn eval_filter(
    filter: Option<&Filter>,
    seg: &Segment,
    specs: &[IndexSpec],
) -> Result<Option<Vec<bool>>> {
    let Some(f) = filter.filter(|f| !f.is_always_true()) else {
        return Ok(None);
    };
    if let ([chunk], true) = (seg.chunks.as_slice(), seg.is_sealed()) {
        let usable = f.usable_indexes(specs);
        if !usable.is_empty() {
            let built: Vec<(&IndexSpec, Arc<ScalarIndex>)> = usable
                .iter()
                .filter_map(|&i| {
                    let spec = specs.get(i)?;
                    Some((spec, seg.scalar.get(spec, chunk, specs)?))
                })
                .collect();
            let refs: Vec<(&IndexSpec, &ScalarIndex)> =
                built.iter().map(|(s, i)| (*s, i.as_ref())).collect();
            let mask = f.evaluate_indexed(chunk, &refs)?;
            let mut out = vec![false; seg.rows];
            for i in mask.set_indices() {
                if let Some(slot) = out.get_mut(i) {
                    *slot = true;
                }
            }
            return Ok(Some(out));
        }
    }
    let mut out = Vec::with_capacity(seg.rows);
    for chunk in &seg.chunks {
        out.extend(f.evaluate(chunk)?);
    }
    Ok(Some(out))
}

/// `filter` narrowed to the rows that hold a vector in column `col`: a
/// nullable vector field's null rows (zeros in memory) are never hits.
fn with_vectors(filter: Option<Vec<bool>>, seg: &Segment, col: usize) -> Option<Vec<bool>> {
    if seg.chunks.iter().all(|c| c.column(col).null_count() == 0) {
        return filter;
    }
    let mut out = filter.unwrap_or_else(|| vec![true; seg.rows]);
    for (chunk, &base) in seg.chunks.iter().zip(&seg.offsets) {
        if let Some(nulls) = chunk.column(col).nulls() {
            for row in nulls
                .iter()
                .enumerate()
                .filter(|(_, v)| !v)
                .map(|(i, _)| base + i)
            {
                out[row] = false;
            }
        }
    }
    Some(out)
}

/// The rows of a chunk as a contiguous `&[f32]`.
fn chunk_vectors(seg: &Segment, chunk: usize, col: usize, dim: usize) -> Option<&[f32]> {
    let list = seg.column(chunk, col).as_fixed_size_list_opt()?;
    let values = list.values().as_primitive_opt::<Float32Type>()?.values();
    let start = list.offset() * dim;
    values.get(start..start + list.len() * dim)
}

/// Fails once `deadline` has passed. Called between units of work (a segment's
/// filter, one query against one segment): a client that gave up no longer
/// holds cores, and each unit is short enough that the check costs nothing.
fn check(deadline: Option<Instant>) -> Result<()> {
    match deadline {
        Some(d) if Instant::now() >= d => Err(QuiverError::DeadlineExceeded(
            "the client's timeout passed while the search or query ran".into(),
        )),
        _ => Ok(()),
    }
}

pub fn search_now(plan: &SearchPlan, segments: &[Arc<Segment>]) -> Result<Vec<Vec<Hit>>> {
    let widen = plan.range.is_some() || plan.group_by.is_some();
    let k = if widen {
        let g = plan.group_by.map_or(1, |g| g.group_size.max(1));
        (plan.limit * g * 8).clamp(100, MAX_CANDIDATES)
    } else {
        plan.limit
    };
    let ef = plan.ef.max(k);
    // Per segment: allowed rows (filter minus deletes), computed once for all queries.
    let masks: Vec<Option<Bitset>> = segments
        .par_iter()
        .map(|s| {
            check(plan.deadline)?;
            let f = eval_filter(plan.filter.as_deref(), s, &plan.scalar_indexes)?;
            Ok(s.allow_mask(with_vectors(f, s, plan.vector_col).as_deref()))
        })
        .collect::<Result<_>>()?;
    // One task per (query, segment) so a single query over many segments (e.g. a
    // partition-key collection) still uses every core.
    let nseg = segments.len();
    let tasks: Vec<(usize, usize)> = (0..plan.queries.len())
        .flat_map(|q| (0..nseg).map(move |s| (q, s)))
        .collect();
    // Sparse queries are decoded once, their smallest values dropped.
    let sparse_queries: Vec<SparseQuery> = match &plan.queries {
        Queries::Sparse(sq) => sq
            .rows
            .iter()
            .map(|r| SparseQuery::new(r, sq.drop_ratio_search))
            .collect(),
        Queries::Dense(_) => Vec::new(),
    };
    let partial: Vec<(usize, Vec<Hit>)> = tasks
        .par_iter()
        .map(|&(qi, si)| {
            check(plan.deadline)?;
            let (seg, mask) = (&segments[si], masks[si].as_ref());
            let hits = match (&plan.queries, plan.range) {
                (Queries::Dense(qs), Some(r)) => {
                    range_segment(plan, si, seg, mask, &qs[qi], r, k, ef)
                }
                (Queries::Dense(qs), None) => search_segment(plan, si, seg, mask, &qs[qi], k, ef),
                // A sparse range search scores every overlapping row; the
                // range is applied after the merge like a dense one's.
                (Queries::Sparse(sq), range) => {
                    let k = if range.is_some() { seg.rows } else { k };
                    sparse_segment(
                        plan,
                        si,
                        seg,
                        mask,
                        &sparse_queries[qi],
                        sq.drop_ratio_build,
                        k,
                    )
                }
            };
            Ok((qi, hits))
        })
        .collect::<Result<_>>()?;
    let mut per_query: Vec<Vec<Hit>> = vec![Vec::new(); plan.queries.len()];
    for (qi, hits) in partial {
        per_query[qi].extend(hits);
    }
    let hits = per_query
        .into_iter()
        .map(|mut all| {
            all.sort_by(|a, b| a.dist.total_cmp(&b.dist));
            if let Some(r) = plan.range {
                all.retain(|h| r.contains(h.dist));
            }
            match plan.group_by {
                Some(g) => group::group_hits(segments, all, g, plan.limit),
                None => {
                    all.truncate(plan.limit);
                    all
                }
            }
        })
        .collect();
    Ok(hits)
}

/// Enough of one segment's nearest rows to hold `plan.limit` hits inside `r`:
/// the top-`k` search is widened (4x a round) until that many fall inside,
/// the segment has no more rows, or the rest lie beyond `r.hi`. A range that
/// starts far from the query (a search iterator's later pages) so still
/// finds its hits instead of ending once the nearest `k` are all excluded.
#[allow(clippy::too_many_arguments)]
fn range_segment(
    plan: &SearchPlan,
    si: usize,
    seg: &Segment,
    allow: Option<&Bitset>,
    q: &[f32],
    r: DistRange,
    k: usize,
    ef: usize,
) -> Vec<Hit> {
    let cap = seg.rows.max(1);
    let mut k = k.min(cap);
    loop {
        let hits = search_segment(plan, si, seg, allow, q, k, ef.max(k));
        let inside = hits.iter().filter(|h| r.contains(h.dist)).count();
        let exhausted = hits.len() < k || k >= cap || hits.last().is_none_or(|h| h.dist >= r.hi);
        if inside >= plan.limit || exhausted || plan.deadline.is_some_and(|d| Instant::now() >= d) {
            return hits;
        }
        k = k.saturating_mul(4).min(cap);
    }
}

/// Top-`k` of one segment for one query, through the one [`VectorIndex`]
/// interface: the segment's graph for the field when it has one (re-ranked
/// once, exactly, against the segment's own f32 rows, so scores equal a flat
/// scan's), else an exact scan of each chunk with the segment-wide bitset.
fn search_segment(
    plan: &SearchPlan,
    si: usize,
    seg: &Segment,
    allow: Option<&Bitset>,
    q: &[f32],
    k: usize,
    ef: usize,
) -> Vec<Hit> {
    if allow.is_some_and(|a| a.count_ones() == 0) {
        return Vec::new();
    }
    let req = AnnRequest {
        query: q,
        k,
        ef,
        allow,
    };
    let to_hit = |n: Neighbor| Hit {
        seg: si,
        row: n.id as usize,
        dist: n.dist,
    };
    if let Some(g) = seg.index_for(plan.field_id).filter(|_| plan.use_index) {
        // A sealed segment is one chunk in graph-id order; anything else (never
        // expected) falls back to the graph's own copy of the vectors.
        let rows =
            chunk_vectors(seg, 0, plan.vector_col, plan.dim).filter(|_| seg.chunks.len() == 1);
        let view = HnswView::new(g, rows).or_else(|_| HnswView::new(g, None));
        if let Ok(view) = view {
            return view.search(&req).into_iter().map(to_hit).collect();
        }
    }
    let mut out = Vec::new();
    for (ci, &base) in seg.offsets.iter().enumerate() {
        let Some(vectors) = chunk_vectors(seg, ci, plan.vector_col, plan.dim) else {
            continue;
        };
        let Ok(view) = FlatView::with_first_id(vectors, plan.dim, plan.metric, base as u32) else {
            continue;
        };
        out.extend(view.search(&req).into_iter().map(to_hit));
    }
    out
}

/// Top-`k` of one segment for one sparse query by inner product: a sealed
/// segment answers from its inverted index (built on first use), a growing
/// one by an exact scan; both leave out rows that share no term with it.
fn sparse_segment(
    plan: &SearchPlan,
    si: usize,
    seg: &Segment,
    allow: Option<&Bitset>,
    q: &SparseQuery,
    drop_ratio_build: f32,
    k: usize,
) -> Vec<Hit> {
    if allow.is_some_and(|a| a.count_ones() == 0) || k == 0 {
        return Vec::new();
    }
    let to_hit = |n: Neighbor| Hit {
        seg: si,
        row: n.id as usize,
        dist: n.dist,
    };
    if let ([chunk], true, true) = (seg.chunks.as_slice(), seg.is_sealed(), plan.use_index) {
        let index = seg.scalar.sparse(plan.vector_col, drop_ratio_build, chunk);
        return index.search(q, allow, k).into_iter().map(to_hit).collect();
    }
    let columns: Vec<Option<&arrow::array::BinaryArray>> = (0..seg.chunks.len())
        .map(|ci| seg.column(ci, plan.vector_col).as_binary_opt::<i32>())
        .collect();
    let rows = columns.iter().zip(&seg.chunks).flat_map(|(col, chunk)| {
        let n = chunk.num_rows();
        (0..n).map(move |i| col.filter(|a| a.is_valid(i)).map(|a| a.value(i)))
    });
    sparse::scan(q, rows, allow, k)
        .into_iter()
        .map(to_hit)
        .collect()
}

/// Matching rows in primary-key order after offset/limit, and the count before.
pub fn query_now(
    plan: &QueryPlan,
    segments: &[Arc<Segment>],
    pk_col: usize,
) -> Result<(Vec<(usize, usize)>, usize)> {
    let wanted: Option<std::collections::HashSet<&PkValue>> =
        plan.pks.as_ref().map(|p| p.iter().collect());
    let per_seg: Vec<Vec<(PkValue, usize, usize)>> = segments
        .par_iter()
        .enumerate()
        .map(|(si, seg)| {
            check(plan.deadline)?;
            let f = eval_filter(plan.filter.as_deref(), seg, &plan.scalar_indexes)?;
            let mut out = Vec::new();
            for (ci, chunk) in seg.chunks.iter().enumerate() {
                let base = seg.offsets[ci];
                let pks = PkColumn::of(chunk.column(pk_col).as_ref())?;
                // Keys are made only for rows that pass: a selective filter
                // (an index's few candidates) costs little more than its hits.
                for r in 0..chunk.num_rows() {
                    let row = base + r;
                    if seg.deleted.get(row) || f.as_ref().is_some_and(|f| !f[row]) {
                        continue;
                    }
                    let pk = pks.get(r);
                    if wanted.as_ref().is_some_and(|w| !w.contains(&pk)) {
                        continue;
                    }
                    out.push((pk, si, row));
                }
            }
            Ok(out)
        })
        .collect::<Result<_>>()?;
    let mut all: Vec<(PkValue, usize, usize)> = per_seg.into_iter().flatten().collect();
    let count = all.len();
    if plan.count_only {
        return Ok((Vec::new(), count));
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let rows: Vec<(usize, usize)> = all
        .into_iter()
        .skip(plan.offset)
        .take(plan.limit.unwrap_or(usize::MAX))
        .map(|(_, s, r)| (s, r))
        .collect();
    Ok((rows, count))
}

/// A chunk's primary-key column, read one row at a time.
enum PkColumn<'a> {
    Int(&'a [i64]),
    Str(&'a arrow::array::StringArray),
}

impl<'a> PkColumn<'a> {
    fn of(col: &'a dyn Array) -> Result<Self> {
        if let Some(a) = col.as_primitive_opt::<arrow::datatypes::Int64Type>() {
            return Ok(PkColumn::Int(a.values()));
        }
        if let Some(a) = col.as_string_opt::<i32>() {
            return Ok(PkColumn::Str(a));
        }
        Err(QuiverError::Internal(format!(
            "unsupported primary key column type {}",
            col.data_type()
        )))
    }

    fn get(&self, row: usize) -> PkValue {
        match self {
            PkColumn::Int(v) => PkValue::Int(v[row]),
            PkColumn::Str(a) => PkValue::Str(a.value(row).to_string()),
        }
    }
}
