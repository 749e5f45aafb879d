//! Search: validate the request, plan it (field, metric, filter, partitions,
//! range, grouping), run it on the query role, and shape `SearchResults`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::AsArray;
use arrow::datatypes::Float32Type;
use quiver_engine::catalog::{metric_name, CollectionMeta, IndexKind};
use quiver_engine::error::{invalid, parameter_invalid_msg, QuiverError, Result};
use quiver_engine::roles::{
    DistRange, GroupBy, OutputSpec, Queries, QueryRequest, SearchRequest, SearchResult,
    SparseQueries,
};
use quiver_index::Metric;
use quiver_storage::FieldSchema;
use quiver_types::PkValue;

use super::output::{build_columns, resolve};
use super::plan::plan_partitions;
use super::search_params::{self, Params};
use super::{ok_status, rerank, Ctx, Proxy};
use crate::convert;
use crate::proto::common::KeyValuePair;
use crate::proto::milvus as m;
use crate::proto::schema as s;

/// Default HNSW search list size when the request names none.
const DEFAULT_EF: usize = 64;

/// Internal distance of a Milvus score (inverse of `Metric::to_score`).
fn score_to_dist(metric: Metric, score: f32) -> f32 {
    match metric {
        Metric::L2 => score,
        Metric::Ip => -score,
        Metric::Cosine => 1.0 - score,
    }
}

/// The vector field a search targets.
fn anns_field<'a>(coll: &'a CollectionMeta, name: Option<&str>) -> Result<&'a FieldSchema> {
    match name {
        Some(n) => match coll.schema.field(n) {
            Some(f) if f.is_vector() => Ok(f),
            Some(_) => Err(parameter_invalid_msg(format!(
                "failed to create query plan: field ({n}) to search is not of vector data type"
            ))),
            None => Err(parameter_invalid_msg(format!(
                "failed to create query plan: failed to get field schema by name: fieldName({n}) not found"
            ))),
        },
        None => {
            let mut v = coll.schema.vector_fields();
            match (v.next(), v.next()) {
                (Some(f), None) => Ok(f),
                _ => Err(invalid("multiple anns_fields exist, please specify a anns_field in search_params")),
            }
        }
    }
}

pub(super) fn round(x: f32, decimals: i64) -> f32 {
    if decimals < 0 {
        return x;
    }
    let p = 10f64.powi(decimals.min(12) as i32);
    ((x as f64 * p).round() / p) as f32
}

/// Query vectors for a search by primary keys: the stored vectors of those
/// rows, dense or sparse like the field.
async fn vectors_by_ids(
    p: &Proxy,
    coll: &CollectionMeta,
    field: &FieldSchema,
    ids: &s::IDs,
    guarantee_ts: u64,
) -> Result<Vectors> {
    let pks = convert::ids_to_pks(ids);
    search_params::check_nq(pks.len())?;
    let out = p
        .query
        .query(QueryRequest {
            collection_id: coll.id,
            partitions: None,
            filter: None,
            pks: Some(pks.clone()),
            limit: None,
            offset: 0,
            count_only: false,
            ignore_growing: false,
            output: vec![OutputSpec::Field(field.id)],
            guarantee_ts,
            deadline: None,
        })
        .await?;
    let found_pks = &out.ids;
    let column = out
        .columns
        .first()
        .ok_or_else(|| QuiverError::Internal("vector column missing".into()))?;
    let row_of = |pk: &PkValue| {
        found_pks
            .iter()
            .position(|x| x == pk)
            .ok_or_else(|| invalid(format!("primary key {pk:?} not found for search by ids")))
    };
    if field.is_sparse() {
        let rows = column
            .as_binary_opt::<i32>()
            .ok_or_else(|| QuiverError::Internal("sparse column type".into()))?;
        return pks
            .iter()
            .map(|pk| Ok(rows.value(row_of(pk)?).to_vec()))
            .collect::<Result<_>>()
            .map(Vectors::Sparse);
    }
    let list = column
        .as_fixed_size_list_opt()
        .ok_or_else(|| QuiverError::Internal("vector column type".into()))?;
    let dim = field.dim.unwrap_or(0);
    let mut result = Vec::with_capacity(pks.len());
    for pk in &pks {
        let v = list.value(row_of(pk)?);
        let f = v.as_primitive::<Float32Type>().values();
        result.push(f[..dim.min(f.len())].to_vec());
    }
    Ok(Vectors::Dense(result))
}

/// Query vectors before the index's parameters are attached.
enum Vectors {
    Dense(Vec<Vec<f32>>),
    Sparse(Vec<Vec<u8>>),
}

impl Vectors {
    fn len(&self) -> usize {
        match self {
            Vectors::Dense(v) => v.len(),
            Vectors::Sparse(v) => v.len(),
        }
    }
}

pub async fn search(p: Arc<Proxy>, ctx: Ctx, r: m::SearchRequest) -> Result<m::SearchResults> {
    if !r.sub_reqs.is_empty() {
        return super::hybrid::advanced(p, ctx, super::hybrid::Advanced::from_search(r)).await;
    }
    let coll = p.lookup_collection(&ctx, &r.db_name, &r.collection_name)?;
    if let Some(ranker) = rerank::from_function_score(&coll.schema, r.function_score.as_ref())? {
        return super::hybrid::reranked(p, ctx, coll, r, ranker).await;
    }
    let guarantee_ts = p.guarantee_ts(
        &coll,
        r.consistency_level,
        r.use_default_consistency,
        r.guarantee_timestamp,
    );
    let output = resolve(&coll.schema, &r.output_fields, false)?;
    let leg = Leg {
        params: &r.search_params,
        dsl: &r.dsl,
        templates: &r.expr_template_values,
        input: r.search_input.as_ref(),
    };
    let planned = plan(
        &p,
        &coll,
        leg,
        &r.partition_names,
        guarantee_ts,
        output.specs(),
    )
    .await?;
    let Planned {
        req,
        prm,
        metric,
        nq,
    } = planned;
    ctx.check_deadline()?;
    let out = p
        .query
        .search(SearchRequest {
            deadline: ctx.deadline,
            ..req
        })
        .await?;
    let mut res = shape_results(&coll, &output, out, nq, &prm, metric, r.output_fields)?;
    if let (Some(it), Some(data)) = (&prm.iter_v2, res.results.as_mut()) {
        // The page's last score (unrounded) bounds the next page; the token
        // names the iterator and stays the same for its lifetime.
        let last_bound = data.scores.last().copied().or(it.last_bound).unwrap_or(0.0);
        let token = if it.token.is_empty() {
            iterator_token(p.coord.next_id(), p.coord.tso())
        } else {
            it.token.clone()
        };
        data.search_iterator_v2_results = Some(s::SearchIteratorV2Results { token, last_bound });
        // pymilvus pins later pages to this snapshot (its guarantee timestamp).
        res.session_ts = p.coord.tso();
    }
    Ok(res)
}

/// One vector search as the client described it: a plain search, or one leg
/// of a hybrid search.
#[derive(Clone, Copy)]
pub(super) struct Leg<'a> {
    pub params: &'a [KeyValuePair],
    pub dsl: &'a str,
    pub templates: &'a HashMap<String, s::TemplateValue>,
    pub input: Option<&'a m::search_request::SearchInput>,
}

/// A search planned for the query role, with what shaping its hits needs.
pub(super) struct Planned {
    pub req: SearchRequest,
    pub prm: Params,
    pub metric: Metric,
    pub nq: usize,
}

/// Validates one search and turns it into the query role's request: the
/// field, the metric (checked against the index), the filter, partitions,
/// range, grouping and the query vectors. `output` is what each hit carries.
pub(super) async fn plan(
    p: &Proxy,
    coll: &CollectionMeta,
    leg: Leg<'_>,
    partition_names: &[String],
    guarantee_ts: u64,
    output: Vec<OutputSpec>,
) -> Result<Planned> {
    let prm = search_params::parse(leg.params)?;
    let field = anns_field(coll, prm.anns_field.as_deref())?.clone();
    let dim = field.dim.unwrap_or(0);
    let index = coll
        .index_on(&field.name)
        .ok_or_else(|| QuiverError::IndexNotFound(coll.name.clone()))?;
    let metric = match (&prm.metric, index.metric) {
        (Some(m), Some(im)) => {
            let req = Metric::parse(m)
                .ok_or_else(|| invalid(format!("metric type {m} not supported")))?;
            if req != im {
                return Err(invalid(format!(
                    "metric type not match: invalid parameter[expected={}][actual={}]",
                    metric_name(im),
                    m
                )));
            }
            req
        }
        (_, Some(im)) => im,
        (Some(m), None) => {
            Metric::parse(m).ok_or_else(|| invalid(format!("metric type {m} not supported")))?
        }
        (None, None) => Metric::L2,
    };
    if field.is_sparse() && metric != Metric::Ip {
        return Err(invalid(format!(
            "metric type not match: invalid parameter[expected=IP][actual={}]",
            metric.as_str()
        )));
    }
    search_params::check_against_index(&prm, metric, index.kind == IndexKind::Hnsw)?;
    let filter = p.plan_filter(coll, leg.dsl, leg.templates)?;
    let partitions = plan_partitions(p, coll, partition_names, filter.bound.as_deref())?;
    let queries = match leg.input {
        Some(m::search_request::SearchInput::PlaceholderGroup(bytes)) if field.is_sparse() => {
            Vectors::Sparse(convert::decode_sparse_placeholder_group(bytes)?)
        }
        Some(m::search_request::SearchInput::PlaceholderGroup(bytes)) => {
            Vectors::Dense(convert::decode_placeholder_group(bytes, dim)?)
        }
        Some(m::search_request::SearchInput::Ids(ids)) => {
            vectors_by_ids(p, coll, &field, ids, guarantee_ts).await?
        }
        None => return Err(invalid("search data is empty")),
    };
    search_params::check_nq(queries.len())?;
    let group_by = prm
        .group_by
        .as_deref()
        .map(|g| group_by(coll, g, prm.group_size))
        .transpose()?;
    let mut range = match (prm.radius, prm.range_filter) {
        (None, None) => None,
        (radius, rf) => Some(match metric {
            Metric::L2 => DistRange {
                lo: rf.unwrap_or(f32::NEG_INFINITY),
                hi: radius.unwrap_or(f32::INFINITY),
            },
            _ => DistRange {
                lo: rf
                    .map(|x| score_to_dist(metric, x))
                    .unwrap_or(f32::NEG_INFINITY),
                hi: radius
                    .map(|x| score_to_dist(metric, x))
                    .unwrap_or(f32::INFINITY),
            },
        }),
    };
    // A search iterator V2 page: the hits strictly worse than the last page's
    // last score, as a range starting just past it.
    if let Some(lb) = prm.iter_v2.as_ref().and_then(|it| it.last_bound) {
        let lo = first_dist_beyond(metric, lb);
        let r = range.get_or_insert(DistRange {
            lo,
            hi: f32::INFINITY,
        });
        r.lo = r.lo.max(lo);
    }
    let limit = prm.topk + prm.offset;
    let nq = queries.len();
    let req = SearchRequest {
        collection_id: coll.id,
        partitions,
        field_id: field.id,
        metric,
        // A sparse index is an inverted index, used wherever it is built.
        use_index: index.kind == IndexKind::Hnsw || field.is_sparse(),
        queries: match queries {
            Vectors::Dense(q) => Queries::Dense(q),
            Vectors::Sparse(rows) => Queries::Sparse(SparseQueries {
                rows,
                drop_ratio_search: prm.drop_ratio_search,
                drop_ratio_build: search_params::index_drop_ratio_build(&index.params),
            }),
        },
        limit: if group_by.is_some() { prm.topk } else { limit },
        ef: prm.ef.unwrap_or(DEFAULT_EF).max(limit),
        filter: filter.expr,
        range,
        group_by,
        ignore_growing: prm.ignore_growing,
        output,
        guarantee_ts,
        deadline: None,
    };
    Ok(Planned {
        req,
        prm,
        metric,
        nq,
    })
}

/// A group-by on `name`, refused for the types Milvus cannot group by.
pub(super) fn group_by(coll: &CollectionMeta, name: &str, group_size: usize) -> Result<GroupBy> {
    let f = coll
        .schema
        .field(name)
        .ok_or_else(|| QuiverError::FieldNotFound(name.to_string()))?;
    if f.is_vector()
        || matches!(
            f.data_type,
            quiver_storage::DataType::Json
                | quiver_storage::DataType::Array
                | quiver_storage::DataType::Float
                | quiver_storage::DataType::Double
        )
    {
        return Err(invalid(format!(
            "unsupported data type {:?} for group by operator",
            f.data_type
        )));
    }
    Ok(GroupBy {
        field_id: f.id,
        group_size,
    })
}

/// The smallest internal distance whose reported score is strictly worse than
/// `bound` (scores are `metric.to_score(dist)` in f32 arithmetic, whose steps
/// near 1.0 are far coarser than the distance's near 0, so the exact edge is
/// bracketed and bisected rather than derived).
fn first_dist_beyond(metric: Metric, bound: f32) -> f32 {
    let worse = |d: f32| score_beyond(metric, bound, d);
    let d0 = score_to_dist(metric, bound);
    let mut step = d0.abs().max(1e-30) * f32::EPSILON;
    // Bracket the edge: `lo` not worse, `hi` worse (scores fall as distances grow).
    let (mut lo, mut hi) = if worse(d0) {
        let mut lo = d0 - step;
        while worse(lo) {
            step *= 2.0;
            lo = d0 - step;
            if !lo.is_finite() {
                return d0;
            }
        }
        (lo, d0)
    } else {
        let mut hi = d0 + step;
        while !worse(hi) {
            step *= 2.0;
            hi = d0 + step;
            if !hi.is_finite() {
                return hi;
            }
        }
        (d0, hi)
    };
    loop {
        let mid = lo + (hi - lo) / 2.0;
        if mid <= lo || mid >= hi {
            return hi;
        }
        if worse(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
}

/// Whether the score reported for distance `d` is strictly worse than `bound`.
fn score_beyond(metric: Metric, bound: f32, d: f32) -> bool {
    let s = metric.to_score(d);
    if metric.higher_is_better() {
        s < bound
    } else {
        s > bound
    }
}

/// A UUID-shaped iterator id (Milvus hands out UUIDs; pymilvus only echoes it).
fn iterator_token(id: i64, ts: u64) -> String {
    let v = ((id as u64 as u128) << 64) | ts as u128;
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn shape_results(
    coll: &CollectionMeta,
    output: &super::output::OutputPlan,
    out: SearchResult,
    nq: usize,
    prm: &Params,
    metric: Metric,
    requested: Vec<String>,
) -> Result<m::SearchResults> {
    let skip = if prm.group_by.is_some() {
        0
    } else {
        prm.offset
    };
    // The node returns limit + offset hits per query; the first `offset` of
    // each query are dropped here, from the ids, the scores and every column.
    let mut keep: Vec<u32> = Vec::with_capacity(out.ids.len());
    let mut topks: Vec<i64> = Vec::with_capacity(nq);
    let mut at = 0usize;
    for &n in &out.counts {
        let kept = n.saturating_sub(skip);
        topks.push(kept as i64);
        keep.extend((at + n - kept..at + n).map(|i| i as u32));
        at += n;
    }
    let all_kept = keep.len() == out.ids.len();
    let scores: Vec<f32> = keep
        .iter()
        .map(|&i| round(metric.to_score(out.dists[i as usize]), prm.round_decimal))
        .collect();
    let pk = coll
        .schema
        .primary()
        .ok_or_else(|| QuiverError::Internal("no primary key".into()))?;
    let ids = convert::pk_values_to_ids(
        keep.iter().map(|&i| &out.ids[i as usize]),
        pk.data_type == quiver_storage::DataType::VarChar,
    );
    let take = |a: &arrow::array::ArrayRef| -> Result<arrow::array::ArrayRef> {
        if all_kept {
            Ok(a.clone())
        } else {
            Ok(arrow::compute::take(
                a.as_ref(),
                &arrow::array::UInt32Array::from(keep.clone()),
                None,
            )?)
        }
    };
    let columns: Vec<arrow::array::ArrayRef> =
        out.columns.iter().map(take).collect::<Result<_>>()?;
    let fields_data = build_columns(output, &columns)?;
    let group_by_field_value = match (&prm.group_by, &out.group_values) {
        (Some(g), Some(values)) => coll
            .schema
            .field(g)
            .map(|f| convert::column_to_field_data(f, values.as_ref())),
        _ => None,
    };
    let mut output_fields = output.names.clone();
    if output_fields.is_empty() {
        output_fields = requested.into_iter().filter(|f| !f.is_empty()).collect();
    }
    Ok(m::SearchResults {
        status: ok_status(),
        results: Some(s::SearchResultData {
            num_queries: nq as i64,
            top_k: prm.topk as i64,
            fields_data,
            scores,
            ids: Some(ids),
            topks,
            output_fields,
            group_by_field_value,
            primary_field_name: pk.name.clone(),
            ..Default::default()
        }),
        collection_name: coll.name.clone(),
        session_ts: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_distance_beyond_a_bound_is_exact() {
        for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
            for bound in [0.0f32, 0.3, -0.7, 0.999_999, 1.5, 1e-8] {
                let d = first_dist_beyond(metric, bound);
                let worse = |d: f32| score_beyond(metric, bound, d);
                assert!(worse(d), "{metric:?} {bound}: {d} is not beyond");
                assert!(
                    !worse(d.next_down()),
                    "{metric:?} {bound}: {d} is not the first"
                );
            }
        }
    }

    #[test]
    fn iterator_tokens_look_like_uuids() {
        let t = iterator_token(470_918_370_538_553_346, 470_918_370_573_942_784);
        assert_eq!(t.len(), 36);
        assert_eq!(t.matches('-').count(), 4);
        assert_ne!(t, iterator_token(1, 2));
    }
}
