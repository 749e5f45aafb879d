//! Hybrid search and reranked search: several vector searches (or one, with a
//! `ranker=Function(...)`) run on the query role, fused by a [`Ranker`] with
//! Milvus's formulas, then cut to the top-level `limit`/`offset` (or grouped),
//! rounded and shaped like a plain search's result.
//!
//! As in Milvus, each leg is searched with its own field, filter, params and
//! `limit` (its `offset` is ignored); the top-level `rank_params` carry the
//! final `limit`, `offset`, `round_decimal` and group-by. Every leg gathers the
//! output fields (and the ranker's input field) of its hits, so the fused
//! result is read from the legs' rows, with no second round trip.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use arrow::datatypes::{DataType as ArrowType, Float64Type};
use quiver_engine::catalog::CollectionMeta;
use quiver_engine::error::{parameter_invalid, parameter_invalid_msg, QuiverError, Result};
use quiver_engine::roles::{GroupBy, OutputSpec, SearchResult};
use quiver_index::Metric;

use super::output::{build_columns, resolve, OutputPlan};
use super::rerank::{self, Fused, Hit, Ranker, ScoreMode};
use super::search::{self, round, Leg, Planned};
use super::search_params::MAX_GROUP_SIZE;
use super::{kv_get, ok_status, Ctx, Proxy, MAX_TOPK};
use crate::convert;
use crate::proto::common::KeyValuePair;
use crate::proto::milvus as m;
use crate::proto::schema as s;

/// Most legs in one hybrid search (Milvus's `defaultMaxSearchRequest`).
const MAX_LEGS: usize = 1024;

/// One leg of a hybrid search, owned.
pub struct OwnedLeg {
    params: Vec<KeyValuePair>,
    dsl: String,
    templates: HashMap<String, s::TemplateValue>,
    input: Option<m::search_request::SearchInput>,
}

/// A hybrid search, from either wire form: `HybridSearch`, or `Search` with
/// `sub_reqs` (Milvus turns the first into the second).
pub struct Advanced {
    db_name: String,
    collection_name: String,
    partition_names: Vec<String>,
    output_fields: Vec<String>,
    rank_params: Vec<KeyValuePair>,
    function_score: Option<s::FunctionScore>,
    consistency_level: i32,
    use_default_consistency: bool,
    guarantee_timestamp: u64,
    legs: Vec<OwnedLeg>,
}

impl Advanced {
    pub fn from_search(r: m::SearchRequest) -> Self {
        Advanced {
            db_name: r.db_name,
            collection_name: r.collection_name,
            partition_names: r.partition_names,
            output_fields: r.output_fields,
            rank_params: r.search_params,
            function_score: r.function_score,
            consistency_level: r.consistency_level,
            use_default_consistency: r.use_default_consistency,
            guarantee_timestamp: r.guarantee_timestamp,
            legs: r
                .sub_reqs
                .into_iter()
                .map(|sub| OwnedLeg {
                    params: sub.search_params,
                    dsl: sub.dsl,
                    templates: sub.expr_template_values,
                    input: Some(m::search_request::SearchInput::PlaceholderGroup(
                        sub.placeholder_group,
                    )),
                })
                .collect(),
        }
    }

    pub fn from_hybrid(r: m::HybridSearchRequest) -> Self {
        Advanced {
            db_name: r.db_name,
            collection_name: r.collection_name,
            partition_names: r.partition_names,
            output_fields: r.output_fields,
            rank_params: r.rank_params,
            function_score: r.function_score,
            consistency_level: r.consistency_level,
            use_default_consistency: r.use_default_consistency,
            guarantee_timestamp: r.guarantee_timestamp,
            legs: r
                .requests
                .into_iter()
                .map(|sub| OwnedLeg {
                    params: sub.search_params,
                    dsl: sub.dsl,
                    templates: sub.expr_template_values,
                    input: sub.search_input,
                })
                .collect(),
        }
    }
}

/// The `HybridSearch` RPC.
pub async fn hybrid_search(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::HybridSearchRequest,
) -> Result<m::SearchResults> {
    advanced(p, ctx, Advanced::from_hybrid(r)).await
}

/// What happens to the fused list: Milvus's `rank_params`.
struct RankParams {
    limit: usize,
    offset: usize,
    round_decimal: i64,
    group_by: Option<String>,
    group_size: usize,
    scorer: ScoreMode,
}

/// Parses `rank_params` as Milvus's `parseRankParams` does.
fn rank_params(kvs: &[KeyValuePair]) -> Result<RankParams> {
    let int = |key: &str, v: &str| {
        v.trim()
            .parse::<i64>()
            .map_err(|_| parameter_invalid_msg(format!("{key} [{v}] is invalid")))
    };
    let limit = match kv_get(kvs, "limit") {
        None => return Err(parameter_invalid_msg("limit not found in rank_params")),
        Some(v) => int("limit", v)?,
    };
    let offset = kv_get(kvs, "offset")
        .map(|v| int("offset", v))
        .transpose()?
        .unwrap_or(0);
    let window = |inner: String| {
        parameter_invalid_msg(format!(
            "invalid max query result window, {inner}: invalid parameter"
        ))
    };
    if offset < 0 {
        return Err(window(format!(
            "offset [{offset}] is invalid, should be gte than 0"
        )));
    }
    if limit <= 0 {
        return Err(window(format!(
            "limit [{limit}] is invalid, should be greater than 0"
        )));
    }
    if offset + limit > MAX_TOPK as i64 {
        return Err(window(format!(
            "(offset+limit) should be in range [1, {MAX_TOPK}], but got {}",
            offset + limit
        )));
    }
    let rd = kv_get(kvs, "round_decimal").unwrap_or("-1");
    let round_decimal = rd
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|d| *d == -1 || (0..=6).contains(d));
    let Some(round_decimal) = round_decimal else {
        return Err(parameter_invalid_msg(format!(
            "round_decimal [{rd}] is invalid, should be -1 or an integer in range [0, 6]"
        )));
    };
    let group_size = kv_get(kvs, "group_size")
        .map(|v| int("group_size", v))
        .transpose()?
        .unwrap_or(1);
    if group_size > MAX_GROUP_SIZE {
        return Err(parameter_invalid_msg(format!(
            "input group size:{group_size} exceeds configured max group size:{MAX_GROUP_SIZE}"
        )));
    }
    let scorer = match kv_get(kvs, "rank_group_scorer")
        .map(str::to_lowercase)
        .as_deref()
    {
        None | Some("" | "max") => ScoreMode::Max,
        Some("sum") => ScoreMode::Sum,
        Some("avg") => ScoreMode::Avg,
        Some(other) => {
            return Err(parameter_invalid_msg(format!(
                "only support [max, sum, avg] for rank_group_scorer, but got {other}"
            )))
        }
    };
    Ok(RankParams {
        limit: limit as usize,
        offset: offset as usize,
        round_decimal,
        group_by: kv_get(kvs, "group_by_field")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        group_size: group_size.max(1) as usize,
        scorer,
    })
}

/// A leg's search params as the leg is searched: its `offset` dropped (the
/// fused list is offset, not the legs) and its `topk` defaulting to the
/// top-level window.
fn leg_params(params: &[KeyValuePair], window: usize) -> Vec<KeyValuePair> {
    let mut out: Vec<KeyValuePair> = params
        .iter()
        .filter(|kv| kv.key != "offset")
        .cloned()
        .collect();
    if kv_get(params, "topk").is_none() {
        out.push(KeyValuePair {
            key: "topk".into(),
            value: window.to_string(),
        });
    }
    out
}

/// The output specs every leg gathers: the client's, then the ranker's input
/// field if it is not among them. Returns the specs and the input's column.
fn specs_with_input(
    coll: &CollectionMeta,
    output: &OutputPlan,
    ranker: &Ranker,
) -> Result<(Vec<OutputSpec>, Option<usize>)> {
    let mut specs = output.specs();
    let Some(name) = ranker.input_field() else {
        return Ok((specs, None));
    };
    let f = coll
        .schema
        .field(name)
        .ok_or_else(|| QuiverError::FieldNotFound(name.to_string()))?;
    let spec = OutputSpec::Field(f.id);
    let at = match specs.iter().position(|s| *s == spec) {
        Some(i) => i,
        None => {
            specs.push(spec);
            specs.len() - 1
        }
    };
    Ok((specs, Some(at)))
}

/// Runs a hybrid search.
pub async fn advanced(p: Arc<Proxy>, ctx: Ctx, a: Advanced) -> Result<m::SearchResults> {
    let coll = p.lookup_collection(&ctx, &a.db_name, &a.collection_name)?;
    if a.legs.is_empty() {
        return Err(parameter_invalid_msg(
            "hybrid search requires at least one ann search request",
        ));
    }
    if a.legs.len() > MAX_LEGS {
        return Err(parameter_invalid_msg(format!(
            "maximum of ann search requests is {MAX_LEGS}"
        )));
    }
    let rank = rank_params(&a.rank_params)?;
    let ranker = match rerank::from_function_score(&coll.schema, a.function_score.as_ref())? {
        Some(r) => r,
        None => rerank::from_rank_params(&a.rank_params)?,
    };
    ranker.check_inputs(a.legs.len())?;
    let guarantee_ts = p.guarantee_ts(
        &coll,
        a.consistency_level,
        a.use_default_consistency,
        a.guarantee_timestamp,
    );
    let output = resolve(&coll.schema, &a.output_fields, false)?;
    let (specs, value_col) = specs_with_input(&coll, &output, &ranker)?;
    let group = rank
        .group_by
        .as_deref()
        .map(|g| search::group_by(&coll, g, rank.group_size))
        .transpose()?;
    let mut planned: Vec<Planned> = Vec::with_capacity(a.legs.len());
    for leg in &a.legs {
        let params = leg_params(&leg.params, rank.limit + rank.offset);
        let leg = Leg {
            params: &params,
            dsl: &leg.dsl,
            templates: &leg.templates,
            input: leg.input.as_ref(),
        };
        let mut pl = search::plan(
            &p,
            &coll,
            leg,
            &a.partition_names,
            guarantee_ts,
            specs.clone(),
        )
        .await?;
        if pl.prm.iter_v2.is_some() {
            return Err(parameter_invalid(
                "",
                "",
                "search iterator v2 is not supported for hybrid search",
            ));
        }
        if let Some(nq) = planned.first().map(|f| f.nq).filter(|nq| *nq != pl.nq) {
            return Err(parameter_invalid(
                nq,
                pl.nq,
                "sub search request nq should be the same",
            ));
        }
        pl.req.group_by = group;
        pl.req.limit = pl.prm.topk;
        pl.req.deadline = ctx.deadline;
        planned.push(pl);
    }
    let nq = planned[0].nq;
    let metrics: Vec<Metric> = planned.iter().map(|pl| pl.metric).collect();
    ctx.check_deadline()?;
    let outs =
        futures::future::try_join_all(planned.into_iter().map(|pl| p.query.search(pl.req))).await?;
    let fused = Fusion {
        coll: &coll,
        ranker: &ranker,
        metrics: &metrics,
        rank: &rank,
        value_col,
        group: group.as_ref(),
    };
    fused.shape(&output, outs, nq, a.output_fields)
}

/// A plain search with `ranker=Function(...)`: the one list is rescored, then
/// cut to its `limit`/`offset` (and grouped) like a hybrid search's.
pub async fn reranked(
    p: Arc<Proxy>,
    ctx: Ctx,
    coll: Arc<CollectionMeta>,
    r: m::SearchRequest,
    ranker: Ranker,
) -> Result<m::SearchResults> {
    ranker.check_inputs(1)?;
    let guarantee_ts = p.guarantee_ts(
        &coll,
        r.consistency_level,
        r.use_default_consistency,
        r.guarantee_timestamp,
    );
    let output = resolve(&coll.schema, &r.output_fields, false)?;
    let (specs, value_col) = specs_with_input(&coll, &output, &ranker)?;
    let leg = Leg {
        params: &r.search_params,
        dsl: &r.dsl,
        templates: &r.expr_template_values,
        input: r.search_input.as_ref(),
    };
    let mut pl = search::plan(&p, &coll, leg, &r.partition_names, guarantee_ts, specs).await?;
    if pl.prm.iter_v2.is_some() {
        return Err(parameter_invalid_msg(
            "a search iterator cannot be combined with a ranker",
        ));
    }
    let rank = RankParams {
        limit: pl.prm.topk,
        offset: pl.prm.offset,
        round_decimal: pl.prm.round_decimal,
        group_by: pl.prm.group_by.clone(),
        group_size: pl.prm.group_size,
        scorer: ScoreMode::Max,
    };
    // Rescoring reorders the hits, so the node returns the whole window.
    pl.req.limit = rank.limit + rank.offset;
    pl.req.deadline = ctx.deadline;
    let group = pl.req.group_by;
    let metrics = [pl.metric];
    ctx.check_deadline()?;
    let out = p.query.search(pl.req).await?;
    let fused = Fusion {
        coll: &coll,
        ranker: &ranker,
        metrics: &metrics,
        rank: &rank,
        value_col,
        group: group.as_ref(),
    };
    fused.shape(&output, vec![out], pl.nq, r.output_fields)
}

/// Everything the fusion of the legs' results needs.
struct Fusion<'a> {
    coll: &'a CollectionMeta,
    ranker: &'a Ranker,
    metrics: &'a [Metric],
    rank: &'a RankParams,
    /// The column of the ranker's input field in every leg's output.
    value_col: Option<usize>,
    group: Option<&'a GroupBy>,
}

impl Fusion<'_> {
    /// Fuses the legs' hits per query and shapes the response.
    fn shape(
        &self,
        output: &OutputPlan,
        outs: Vec<SearchResult>,
        nq: usize,
        requested: Vec<String>,
    ) -> Result<m::SearchResults> {
        // Rows of leg i are numbered from base[i] in the concatenated columns;
        // query q's hits of leg i start at starts[i][q] within the leg.
        let mut base = Vec::with_capacity(outs.len());
        let mut total = 0usize;
        for o in &outs {
            base.push(total);
            total += o.ids.len();
        }
        let starts: Vec<Vec<usize>> = outs
            .iter()
            .map(|o| {
                let mut at = 0;
                o.counts
                    .iter()
                    .map(|n| {
                        let s = at;
                        at += n;
                        s
                    })
                    .collect()
            })
            .collect();
        let values: Vec<Option<arrow::array::Float64Array>> = outs
            .iter()
            .map(|o| match self.value_col.and_then(|c| o.columns.get(c)) {
                Some(col) if !col.is_empty() => Ok(Some(
                    arrow::compute::cast(col, &ArrowType::Float64)?
                        .as_primitive::<Float64Type>()
                        .clone(),
                )),
                _ => Ok(None),
            })
            .collect::<Result<_>>()?;
        let group_values = match self.group {
            Some(_) => Some(concat(
                outs.iter().filter_map(|o| o.group_values.clone()).collect(),
            )?),
            None => None,
        };
        let mut keep: Vec<u32> = Vec::new();
        let mut scores: Vec<f32> = Vec::new();
        let mut topks: Vec<i64> = Vec::with_capacity(nq);
        for q in 0..nq {
            let inputs: Vec<Vec<Hit>> = outs
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let st = starts[i].get(q).copied().unwrap_or(0);
                    let n = o.counts.get(q).copied().unwrap_or(0);
                    (st..st + n)
                        .map(|j| Hit {
                            pk: o.ids[j].clone(),
                            score: self.metrics[i].to_score(o.dists[j]),
                            value: values[i]
                                .as_ref()
                                .and_then(|v| v.is_valid(j).then(|| v.value(j))),
                        })
                        .collect()
                })
                .collect();
            let (fused, descending) = rerank::fuse(self.ranker, &inputs, self.metrics);
            let row =
                |f: &Fused| base[f.input] + starts[f.input].get(q).copied().unwrap_or(0) + f.row;
            let chosen: Vec<&Fused> = match (&group_values, self.group) {
                (Some(gv), Some(g)) => self.grouped(&fused, descending, g.group_size, |f| {
                    arrow::util::display::array_value_to_string(gv, row(f)).unwrap_or_default()
                }),
                _ => fused
                    .iter()
                    .skip(self.rank.offset)
                    .take(self.rank.limit)
                    .collect(),
            };
            topks.push(chosen.len() as i64);
            for f in chosen {
                keep.push(row(f) as u32);
                scores.push(round(f.score, self.rank.round_decimal));
            }
        }
        let take = |a: ArrayRef| -> Result<ArrayRef> {
            Ok(arrow::compute::take(
                a.as_ref(),
                &UInt32Array::from(keep.clone()),
                None,
            )?)
        };
        let columns: Vec<ArrayRef> = (0..output.columns.len())
            .map(|c| {
                take(concat(
                    outs.iter()
                        .filter_map(|o| o.columns.get(c).cloned())
                        .collect(),
                )?)
            })
            .collect::<Result<_>>()?;
        let fields_data = build_columns(output, &columns)?;
        let pk = self
            .coll
            .schema
            .primary()
            .ok_or_else(|| QuiverError::Internal("no primary key".into()))?;
        let all_ids: Vec<&quiver_types::PkValue> = outs.iter().flat_map(|o| o.ids.iter()).collect();
        let ids = convert::pk_values_to_ids(
            keep.iter().map(|&i| all_ids[i as usize]),
            pk.data_type == quiver_storage::DataType::VarChar,
        );
        let group_by_field_value = match (group_values, self.group) {
            (Some(gv), Some(g)) => {
                let taken = take(gv)?;
                self.coll
                    .schema
                    .fields
                    .iter()
                    .find(|f| f.id == g.field_id)
                    .map(|f| convert::column_to_field_data(f, taken.as_ref()))
            }
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
                top_k: self.rank.limit as i64,
                fields_data,
                scores,
                ids: Some(ids),
                topks,
                output_fields,
                group_by_field_value,
                primary_field_name: pk.name.clone(),
                ..Default::default()
            }),
            collection_name: self.coll.name.clone(),
            session_ts: 0,
        })
    }

    /// Groups the fused hits by `key`: at most `size` hits per group, groups
    /// ranked by their best hit (or the sum/avg of their hits), `offset`
    /// groups skipped and `limit` kept, each group's hits together.
    fn grouped<'f>(
        &self,
        fused: &'f [Fused],
        descending: bool,
        size: usize,
        key: impl Fn(&Fused) -> String,
    ) -> Vec<&'f Fused> {
        let mut at: HashMap<String, usize> = HashMap::new();
        let mut groups: Vec<Vec<&Fused>> = Vec::new();
        for f in fused {
            let i = *at.entry(key(f)).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            if groups[i].len() < size {
                groups[i].push(f);
            }
        }
        if self.rank.scorer != ScoreMode::Max {
            let score = |g: &Vec<&Fused>| {
                let sum: f32 = g.iter().map(|f| f.score).sum();
                match self.rank.scorer {
                    ScoreMode::Avg => sum / g.len() as f32,
                    _ => sum,
                }
            };
            groups.sort_by(|a, b| {
                let (sa, sb) = (score(a), score(b));
                if descending {
                    sb.total_cmp(&sa)
                } else {
                    sa.total_cmp(&sb)
                }
            });
        }
        groups
            .into_iter()
            .skip(self.rank.offset)
            .take(self.rank.limit)
            .flatten()
            .collect()
    }
}

/// The legs' arrays of one column as one array (empty legs' arrays, which may
/// be untyped, are left out).
fn concat(arrays: Vec<ArrayRef>) -> Result<ArrayRef> {
    let nonempty: Vec<&dyn Array> = arrays
        .iter()
        .filter(|a| !a.is_empty())
        .map(|a| a.as_ref())
        .collect();
    match nonempty.len() {
        0 => Ok(arrays
            .into_iter()
            .next()
            .unwrap_or_else(|| Arc::new(arrow::array::NullArray::new(0)))),
        1 => Ok(arrays
            .into_iter()
            .find(|a| !a.is_empty())
            .unwrap_or_else(|| Arc::new(arrow::array::NullArray::new(0)))),
        _ => Ok(arrow::compute::concat(&nonempty)?),
    }
}
