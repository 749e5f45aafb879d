//! The query role: vector search and scalar queries over segment snapshots,
//! behind [`QueryService`].
//!
//! A request arrives as plain data (see [`crate::roles::plan`]): the node waits
//! until it has applied every write up to the request's guarantee timestamp,
//! parses and binds the filter against the schema it holds, takes a snapshot of
//! the collection's segments (a clone of a vector of `Arc`s, no lock held while
//! searching), runs the plan on the rayon pool ([`exec`]) and materialises the
//! hits' keys and columns ([`gather`]) before answering.

mod exec;
mod filters;
mod gather;
mod group;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use quiver_filter::{Filter, Limits};
use quiver_storage::CollectionSchema;

use crate::datanode::{CollectionData, DataNode};
use crate::error::{no_primary_key, QuiverError, Result};
use crate::roles::{
    Coordinator, FilterExpr, GuaranteeTs, QueryRequest, QueryResult, QueryService, SearchRequest,
    SearchResult,
};
use crate::segment::Segment;
use exec::{Grouping, QueryPlan, SearchPlan};
pub use filters::FilterCache;
pub use gather::gather;

/// Longest a read waits for its guarantee timestamp when the client set no
/// deadline (Milvus waits up to its own gRPC timeout).
const MAX_GUARANTEE_WAIT: Duration = Duration::from_secs(10);

/// The query role.
pub struct QueryNode {
    data: Arc<DataNode>,
    coord: Arc<dyn Coordinator>,
    limits: Limits,
    filters: Arc<FilterCache>,
}

impl QueryNode {
    /// A query role reading the data role's segments; filters are bound within
    /// `limits` (the same the proxy validated them with), through `filters`.
    pub fn new(
        data: Arc<DataNode>,
        coord: Arc<dyn Coordinator>,
        limits: Limits,
        filters: Arc<FilterCache>,
    ) -> Self {
        QueryNode {
            data,
            coord,
            limits,
            filters,
        }
    }

    /// Waits until the collection has applied everything up to `guarantee`.
    async fn wait_visible(
        &self,
        data: &CollectionData,
        guarantee: GuaranteeTs,
        deadline: Option<Instant>,
    ) -> Result<()> {
        if guarantee == 0 {
            return Ok(());
        }
        let limit = Instant::now() + MAX_GUARANTEE_WAIT;
        let until = deadline.map_or(limit, |d| d.min(limit));
        if data.tsafe.wait(guarantee, || self.coord.tso(), until).await {
            Ok(())
        } else {
            Err(QuiverError::DeadlineExceeded(format!(
                "the query node had not applied writes up to the guarantee timestamp {guarantee}"
            )))
        }
    }

    fn bind(
        &self,
        collection: i64,
        schema: &CollectionSchema,
        f: Option<&FilterExpr>,
    ) -> Result<Option<Arc<Filter>>> {
        f.map(|f| self.filters.bind(collection, schema, f, &self.limits))
            .transpose()
    }

    /// The schema and the segments of the request's partitions, taken
    /// together (a field added meanwhile changes both at once).
    fn snapshot(
        data: &CollectionData,
        partitions: Option<&[i64]>,
        sealed_only: bool,
    ) -> (Arc<CollectionSchema>, Vec<Arc<Segment>>) {
        let (schema, segments) = data.view();
        let segments = segments
            .into_iter()
            .filter(|s| partitions.is_none_or(|p| p.contains(&s.partition)))
            .filter(|s| !sealed_only || s.is_sealed())
            .collect();
        (schema, segments)
    }
}

#[async_trait]
impl QueryService for QueryNode {
    async fn search(&self, req: SearchRequest) -> Result<SearchResult> {
        let data = self.data.collection(req.collection_id)?;
        self.wait_visible(&data, req.guarantee_ts, req.deadline)
            .await?;
        let (schema, segments) =
            Self::snapshot(&data, req.partitions.as_deref(), req.ignore_growing);
        let vector_col = gather::field_column(&schema, req.field_id)?;
        let dim = schema.fields[vector_col].dim.unwrap_or(0);
        let group_by = match req.group_by {
            Some(g) => Some(Grouping {
                column: gather::field_column(&schema, g.field_id)?,
                group_size: g.group_size,
            }),
            None => None,
        };
        let plan = SearchPlan {
            vector_col,
            field_id: req.field_id,
            dim,
            metric: req.metric,
            use_index: req.use_index,
            queries: req.queries,
            limit: req.limit,
            ef: req.ef,
            filter: self.bind(req.collection_id, &schema, req.filter.as_ref())?,
            range: req.range,
            group_by,
            deadline: req.deadline,
            scalar_indexes: req.filter.map(|f| f.indexes).unwrap_or_default(),
        };
        let output = req.output;
        exec::run_blocking(move || {
            let hits = exec::search_now(&plan, &segments)?;
            let counts = hits.iter().map(Vec::len).collect();
            let mut rows = Vec::new();
            let mut dists = Vec::new();
            for h in hits.iter().flatten() {
                rows.push((h.seg, h.row));
                dists.push(h.dist);
            }
            let (ids, columns) = gather::materialise(&schema, &segments, &rows, &output)?;
            let group_values = match plan.group_by {
                Some(g) if !rows.is_empty() => Some(gather(&segments, &rows, g.column)?),
                _ => None,
            };
            Ok(SearchResult {
                counts,
                ids,
                dists,
                columns,
                group_values,
            })
        })
        .await
    }

    async fn query(&self, req: QueryRequest) -> Result<QueryResult> {
        let data = self.data.collection(req.collection_id)?;
        self.wait_visible(&data, req.guarantee_ts, req.deadline)
            .await?;
        let (schema, segments) =
            Self::snapshot(&data, req.partitions.as_deref(), req.ignore_growing);
        let pk_col = schema.primary_column().ok_or_else(no_primary_key)?;
        let filter = self.bind(req.collection_id, &schema, req.filter.as_ref())?;
        // Point lookups: the filter's own `pk in [..]` narrows the scan first.
        let pks = req
            .pks
            .or_else(|| filter.as_ref().and_then(|f| f.primary_key_values()));
        let plan = QueryPlan {
            filter,
            pks,
            limit: req.limit,
            offset: req.offset,
            count_only: req.count_only,
            deadline: req.deadline,
            scalar_indexes: req.filter.map(|f| f.indexes).unwrap_or_default(),
        };
        let output = req.output;
        exec::run_blocking(move || {
            let (rows, count) = exec::query_now(&plan, &segments, pk_col)?;
            if plan.count_only {
                return Ok(QueryResult {
                    count,
                    ids: Vec::new(),
                    columns: Vec::new(),
                });
            }
            let (ids, columns) = gather::materialise(&schema, &segments, &rows, &output)?;
            Ok(QueryResult {
                count,
                ids,
                columns,
            })
        })
        .await
    }
}
