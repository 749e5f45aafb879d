//! The query role: vector search and scalar queries over segment snapshots.
//!
//! Each request is planned by the proxy (fields resolved, filter parsed,
//! partitions pruned) and executed here segment by segment: a segment with a
//! graph for the field is searched through it, anything else by exact scan, and
//! the per-segment top-k lists are merged into one. Work runs on the rayon pool,
//! off the async runtime.

mod group;

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float32Type;
use quiver_filter::{Filter, PkValue};
use quiver_index::{Bitset, FlatIndex, Metric, Neighbor, RawScorer};
use rayon::prelude::*;

use crate::datanode::{pk_values, DataNode};
use crate::error::{no_primary_key, QuiverError, Result};
use crate::segment::{PartitionId, Segment};

/// Keep hits whose distance lies in `[lo, hi)` (internal distance, smaller = better).
#[derive(Debug, Clone, Copy)]
pub struct DistRange {
    pub lo: f32,
    pub hi: f32,
}

/// Group-by search: at most `group_size` hits per distinct value of a column.
#[derive(Debug, Clone, Copy)]
pub struct GroupBy {
    pub column: usize,
    pub group_size: usize,
}

/// A planned vector search.
pub struct SearchPlan {
    pub collection_id: i64,
    /// Partitions to search (None: all).
    pub partitions: Option<Vec<PartitionId>>,
    pub field_id: i64,
    pub vector_col: usize,
    pub dim: usize,
    pub metric: Metric,
    /// Whether sealed segments' graphs (built with `metric`) may be used.
    pub use_index: bool,
    pub queries: Vec<Vec<f32>>,
    /// Hits wanted per query (limit + offset).
    pub limit: usize,
    pub ef: usize,
    pub filter: Option<Arc<Filter>>,
    pub range: Option<DistRange>,
    pub group_by: Option<GroupBy>,
    pub ignore_growing: bool,
    /// When the client stops waiting: work still to do after it is dropped.
    pub deadline: Option<Instant>,
}

/// One hit: a row of a snapshot segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub seg: usize,
    pub row: usize,
    pub dist: f32,
}

/// Search results with the snapshot they point into.
pub struct SearchOutput {
    pub segments: Vec<Arc<Segment>>,
    /// Per query, best first.
    pub hits: Vec<Vec<Hit>>,
}

/// A planned scalar query.
pub struct QueryPlan {
    pub collection_id: i64,
    pub partitions: Option<Vec<PartitionId>>,
    pub filter: Option<Arc<Filter>>,
    /// Rows after `offset` to return (None: all).
    pub limit: Option<usize>,
    pub offset: usize,
    pub count_only: bool,
    /// Restrict to these primary keys first (get by ids / pk point lookups).
    pub pks: Option<Vec<PkValue>>,
    /// When the client stops waiting (None for the reads a write depends on).
    pub deadline: Option<Instant>,
}

/// Query results: matching rows ordered by primary key, or just a count.
pub struct QueryOutput {
    pub segments: Vec<Arc<Segment>>,
    pub rows: Vec<(usize, usize)>,
    pub count: usize,
}

/// Largest candidate list a segment is asked for.
const MAX_CANDIDATES: usize = 16_384;

/// The query role.
pub struct QueryNode {
    data: Arc<DataNode>,
}

impl QueryNode {
    /// A query role reading the data role's segments.
    pub fn new(data: Arc<DataNode>) -> Self {
        QueryNode { data }
    }

    /// Runs a search.
    pub async fn search(&self, plan: SearchPlan) -> Result<SearchOutput> {
        let data = self.data.collection(plan.collection_id)?;
        let segments: Vec<Arc<Segment>> = data
            .snapshot()
            .into_iter()
            .filter(|s| {
                plan.partitions
                    .as_ref()
                    .is_none_or(|p| p.contains(&s.partition))
            })
            .filter(|s| !plan.ignore_growing || s.is_sealed())
            .collect();
        run_blocking(move || search_now(plan, segments)).await
    }

    /// Runs a query.
    pub async fn query(&self, plan: QueryPlan) -> Result<QueryOutput> {
        let data = self.data.collection(plan.collection_id)?;
        let segments: Vec<Arc<Segment>> = data
            .snapshot()
            .into_iter()
            .filter(|s| {
                plan.partitions
                    .as_ref()
                    .is_none_or(|p| p.contains(&s.partition))
            })
            .collect();
        let pk_col = data.schema.primary_column().ok_or_else(no_primary_key)?;
        run_blocking(move || query_now(plan, segments, pk_col)).await
    }
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| QuiverError::Internal(format!("query task failed: {e}")))?
}

/// Filter result for a whole segment (one entry per row), or None for "all rows".
fn eval_filter(filter: Option<&Filter>, seg: &Segment) -> Result<Option<Vec<bool>>> {
    let Some(f) = filter.filter(|f| !f.is_always_true()) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(seg.rows);
    for chunk in &seg.chunks {
        out.extend(f.evaluate(chunk)?);
    }
    Ok(Some(out))
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

fn search_now(plan: SearchPlan, segments: Vec<Arc<Segment>>) -> Result<SearchOutput> {
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
            eval_filter(plan.filter.as_deref(), s).map(|f| s.allow_mask(f.as_deref()))
        })
        .collect::<Result<_>>()?;
    // One task per (query, segment) so a single query over many segments (e.g. a
    // partition-key collection) still uses every core.
    let nseg = segments.len();
    let tasks: Vec<(usize, usize)> = (0..plan.queries.len())
        .flat_map(|q| (0..nseg).map(move |s| (q, s)))
        .collect();
    let partial: Vec<(usize, Vec<Hit>)> = tasks
        .par_iter()
        .map(|&(qi, si)| {
            check(plan.deadline)?;
            let hits = search_segment(
                &plan,
                si,
                &segments[si],
                masks[si].as_ref(),
                &plan.queries[qi],
                k,
                ef,
            );
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
                all.retain(|h| h.dist >= r.lo && h.dist < r.hi);
            }
            match plan.group_by {
                Some(g) => group::group_hits(&segments, all, g, plan.limit),
                None => {
                    all.truncate(plan.limit);
                    all
                }
            }
        })
        .collect();
    Ok(SearchOutput { segments, hits })
}

/// Top-`k` of one segment for one query: through its graph when it has one
/// for the field, else by exact scan of each chunk.
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
    if let Some(g) = seg.index_for(plan.field_id).filter(|_| plan.use_index) {
        // `ef` is the client's (up to 2^31-1) and sizes the candidate heaps: a
        // list longer than the graph visits nothing more, so bound it by the graph.
        let ef = ef.min(g.len().max(k));
        let found = g.search(q, k, ef, allow);
        // Graphs re-rank on half-precision copies: rescore the few hits exactly
        // from the segment's own f32 rows so scores match a flat scan.
        let Some(rows) = chunk_vectors(seg, 0, plan.vector_col, plan.dim) else {
            return found
                .into_iter()
                .map(|n| hit(si, n.id as usize, n))
                .collect();
        };
        let scorer = RawScorer::new(plan.metric, q);
        let mut out: Vec<Hit> = found
            .into_iter()
            .map(|n| {
                let r = n.id as usize;
                let dist = rows
                    .get(r * plan.dim..(r + 1) * plan.dim)
                    .map_or(n.dist, |v| scorer.dist(v));
                Hit {
                    seg: si,
                    row: r,
                    dist,
                }
            })
            .collect();
        out.sort_by(|a, b| a.dist.total_cmp(&b.dist));
        return out;
    }
    let mut out = Vec::new();
    for (ci, &base) in seg.offsets.iter().enumerate() {
        let Some(vectors) = chunk_vectors(seg, ci, plan.vector_col, plan.dim) else {
            continue;
        };
        let rows = vectors.len() / plan.dim.max(1);
        let chunk_allow = allow.map(|a| Bitset::from_fn(rows, |r| a.get(base + r)));
        out.extend(
            FlatIndex::search(vectors, plan.dim, plan.metric, q, k, chunk_allow.as_ref())
                .into_iter()
                .map(|n| hit(si, base + n.id as usize, n)),
        );
    }
    out
}

fn hit(seg: usize, row: usize, n: Neighbor) -> Hit {
    Hit {
        seg,
        row,
        dist: n.dist,
    }
}

fn query_now(plan: QueryPlan, segments: Vec<Arc<Segment>>, pk_col: usize) -> Result<QueryOutput> {
    let wanted: Option<std::collections::HashSet<&PkValue>> =
        plan.pks.as_ref().map(|p| p.iter().collect());
    let per_seg: Vec<Vec<(PkValue, usize, usize)>> = segments
        .par_iter()
        .enumerate()
        .map(|(si, seg)| {
            check(plan.deadline)?;
            let f = eval_filter(plan.filter.as_deref(), seg)?;
            let mut out = Vec::new();
            for (ci, chunk) in seg.chunks.iter().enumerate() {
                let base = seg.offsets[ci];
                let pks = pk_values(chunk.column(pk_col).as_ref())?;
                for (r, pk) in pks.into_iter().enumerate() {
                    let row = base + r;
                    if seg.deleted.get(row) || f.as_ref().is_some_and(|f| !f[row]) {
                        continue;
                    }
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
        return Ok(QueryOutput {
            segments,
            rows: Vec::new(),
            count,
        });
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let rows: Vec<(usize, usize)> = all
        .into_iter()
        .skip(plan.offset)
        .take(plan.limit.unwrap_or(usize::MAX))
        .map(|(_, s, r)| (s, r))
        .collect();
    Ok(QueryOutput {
        segments,
        rows,
        count,
    })
}
