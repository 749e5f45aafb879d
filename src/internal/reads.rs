//! Conversions of the query node's requests and results (search and query).
//!
//! Kept apart from the shared primitives in [`super::codec`] because these are
//! the big messages: query vectors, hits and output columns. Each direction
//! is one function so the client and the server can't disagree on a field.

use quiver_engine::error::Result;
use quiver_engine::roles::{
    DistRange, Queries, QueryRequest, QueryResult, SearchRequest, SearchResult, SparseQueries,
};
use quiver_index::Metric;

use super::codec::*;
use crate::proto::internal as pb;

/// A search request as sent by the proxy's client.
pub fn search_req_to_pb(r: &SearchRequest) -> Result<pb::SearchRequest> {
    Ok(pb::SearchRequest {
        collection_id: r.collection_id,
        partitions: r
            .partitions
            .as_ref()
            .map(|ids| pb::Partitions { ids: ids.clone() }),
        field_id: r.field_id,
        metric: r.metric.as_str().to_string(),
        use_index: r.use_index,
        queries: match &r.queries {
            Queries::Dense(qs) => qs
                .iter()
                .map(|q| pb::Vector { values: q.clone() })
                .collect(),
            Queries::Sparse(_) => Vec::new(),
        },
        limit: r.limit as u64,
        ef: r.ef as u64,
        filter: r.filter.as_ref().map(filter_to_pb).transpose()?,
        range: r.range.map(range_to_pb),
        group_by: r.group_by.map(group_to_pb),
        ignore_growing: r.ignore_growing,
        output: outputs_to_pb(&r.output),
        guarantee_ts: r.guarantee_ts,
        deadline_ms: deadline_to_ms(r.deadline),
        sparse: matches!(r.queries, Queries::Sparse(_)),
        sparse_queries: match &r.queries {
            Queries::Sparse(sq) => sq.rows.clone(),
            Queries::Dense(_) => Vec::new(),
        },
        drop_ratio_search: match &r.queries {
            Queries::Sparse(sq) => sq.drop_ratio_search,
            Queries::Dense(_) => 0.0,
        },
        drop_ratio_build: match &r.queries {
            Queries::Sparse(sq) => sq.drop_ratio_build,
            Queries::Dense(_) => 0.0,
        },
    })
}

/// The search request of a [`search_req_to_pb`] message.
pub fn search_req_from_pb(r: pb::SearchRequest) -> Result<SearchRequest> {
    Ok(SearchRequest {
        collection_id: r.collection_id,
        partitions: r.partitions.map(|p| p.ids),
        field_id: r.field_id,
        metric: Metric::parse(&r.metric).ok_or_else(|| malformed("metric"))?,
        use_index: r.use_index,
        queries: if r.sparse {
            Queries::Sparse(SparseQueries {
                rows: r.sparse_queries,
                drop_ratio_search: r.drop_ratio_search,
                drop_ratio_build: r.drop_ratio_build,
            })
        } else {
            Queries::Dense(r.queries.into_iter().map(|q| q.values).collect())
        },
        limit: size(r.limit, "limit")?,
        ef: size(r.ef, "ef")?,
        filter: r.filter.map(filter_from_pb).transpose()?,
        range: r.range.map(|g| DistRange { lo: g.lo, hi: g.hi }),
        group_by: r.group_by.map(group_from_pb).transpose()?,
        ignore_growing: r.ignore_growing,
        output: outputs_from_pb(r.output)?,
        guarantee_ts: r.guarantee_ts,
        deadline: deadline_from_ms(r.deadline_ms),
    })
}

/// The node's answer (or its error) as a response.
pub fn search_resp_to_pb(out: Result<SearchResult>) -> pb::SearchResponse {
    let encoded = out.and_then(|r| {
        Ok(pb::SearchResponse {
            error: None,
            counts: r.counts.iter().map(|&c| c as u64).collect(),
            ids: Some(pks_to_pb(&r.ids)),
            dists: r.dists,
            columns: columns_to_ipc(&r.columns)?,
            group_values: r.group_values.as_ref().map(column_to_ipc).transpose()?,
        })
    });
    encoded.unwrap_or_else(|e| pb::SearchResponse {
        error: Some(error_to_pb(&e)),
        ..Default::default()
    })
}

/// The result (or remote error) of a search response.
pub fn search_resp_from_pb(r: pb::SearchResponse) -> Result<SearchResult> {
    check(r.error)?;
    let counts = r
        .counts
        .into_iter()
        .map(|c| size(c, "hit count"))
        .collect::<Result<Vec<_>>>()?;
    let ids = pks_from_pb(r.ids.unwrap_or_default())?;
    Ok(SearchResult {
        counts,
        ids,
        dists: r.dists,
        columns: columns_from_ipc(&r.columns)?,
        group_values: r.group_values.as_deref().map(column_from_ipc).transpose()?,
    })
}

/// A query request as sent by the proxy's client.
pub fn query_req_to_pb(r: &QueryRequest) -> Result<pb::QueryRequest> {
    Ok(pb::QueryRequest {
        collection_id: r.collection_id,
        partitions: r
            .partitions
            .as_ref()
            .map(|ids| pb::Partitions { ids: ids.clone() }),
        filter: r.filter.as_ref().map(filter_to_pb).transpose()?,
        pks: r.pks.as_deref().map(pks_to_pb),
        limit: r.limit.map(|l| l as u64),
        offset: r.offset as u64,
        count_only: r.count_only,
        ignore_growing: r.ignore_growing,
        output: outputs_to_pb(&r.output),
        guarantee_ts: r.guarantee_ts,
        deadline_ms: deadline_to_ms(r.deadline),
    })
}

/// The query request of a [`query_req_to_pb`] message.
pub fn query_req_from_pb(r: pb::QueryRequest) -> Result<QueryRequest> {
    Ok(QueryRequest {
        collection_id: r.collection_id,
        partitions: r.partitions.map(|p| p.ids),
        filter: r.filter.map(filter_from_pb).transpose()?,
        pks: r.pks.map(pks_from_pb).transpose()?,
        limit: r.limit.map(|l| size(l, "limit")).transpose()?,
        offset: size(r.offset, "offset")?,
        count_only: r.count_only,
        ignore_growing: r.ignore_growing,
        output: outputs_from_pb(r.output)?,
        guarantee_ts: r.guarantee_ts,
        deadline: deadline_from_ms(r.deadline_ms),
    })
}

/// The node's rows (or its error) as a response.
pub fn query_resp_to_pb(out: Result<QueryResult>) -> pb::QueryResponse {
    let encoded = out.and_then(|r| {
        Ok(pb::QueryResponse {
            error: None,
            count: r.count as u64,
            ids: Some(pks_to_pb(&r.ids)),
            columns: columns_to_ipc(&r.columns)?,
        })
    });
    encoded.unwrap_or_else(|e| pb::QueryResponse {
        error: Some(error_to_pb(&e)),
        ..Default::default()
    })
}

/// The rows (or remote error) of a query response.
pub fn query_resp_from_pb(r: pb::QueryResponse) -> Result<QueryResult> {
    check(r.error)?;
    let columns = columns_from_ipc(&r.columns)?;
    let ids = pks_from_pb(r.ids.unwrap_or_default())?;
    Ok(QueryResult {
        count: size(r.count, "row count")?,
        ids,
        columns,
    })
}
