//! Query: filter → matching rows ordered by primary key → requested columns.

use std::sync::Arc;

use quiver_engine::error::{invalid, Result};
use quiver_engine::roles::QueryRequest;

use super::output::{build_columns, resolve};
use super::plan::plan_partitions;
use super::{kv_get, ok_status, Ctx, Proxy, MAX_TOPK};
use crate::proto::common::KeyValuePair;
use crate::proto::milvus as m;
use crate::proto::schema as s;

fn parse_usize(kvs: &[KeyValuePair], key: &str) -> Result<Option<usize>> {
    match kv_get(kvs, key) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| Some(n as usize))
            .ok_or_else(|| {
                invalid(format!(
                    "{key} [{v}] is invalid, should be a non-negative integer"
                ))
            }),
    }
}

pub async fn query(p: Arc<Proxy>, ctx: Ctx, r: m::QueryRequest) -> Result<m::QueryResults> {
    let coll = p.collection(&ctx, &r.db_name, &r.collection_name)?;
    let filter = p.plan_filter(&coll, &r.expr, &r.expr_template_values)?;
    let limit = parse_usize(&r.query_params, "limit")?;
    // As Milvus's proxy: `offset` counts only next to a `limit`.
    let offset = match limit {
        Some(_) => parse_usize(&r.query_params, "offset")?.unwrap_or(0),
        None => 0,
    };
    let ignore_growing = super::search_params::ignore_growing(&r.query_params)?;
    let count_only = r
        .output_fields
        .iter()
        .any(|f| f.trim().eq_ignore_ascii_case("count(*)"));
    if count_only && r.output_fields.len() > 1 {
        return Err(invalid(
            "count entities with pagination or other output fields is not allowed",
        ));
    }
    if !count_only {
        if filter.expr.is_none() && limit.is_none() {
            return Err(invalid("empty expression should be used with limit"));
        }
        if let Some(l) = limit {
            if l + offset > MAX_TOPK || l == 0 {
                return Err(invalid(format!(
                    "invalid max query result window, (offset+limit) should be in range [1, {MAX_TOPK}], but got {}",
                    l + offset
                )));
            }
        }
    }
    let partitions = plan_partitions(&p, &coll, &r.partition_names, filter.bound.as_deref())?;
    let outputs = if count_only {
        None
    } else {
        Some(resolve(&coll.schema, &r.output_fields, true)?)
    };
    let guarantee_ts = p.guarantee_ts(
        &coll,
        r.consistency_level,
        r.use_default_consistency,
        r.guarantee_timestamp,
    );
    ctx.check_deadline()?;
    let out = p
        .query
        .query(QueryRequest {
            collection_id: coll.id,
            partitions,
            filter: filter.expr,
            pks: None,
            limit,
            offset,
            count_only,
            ignore_growing,
            output: outputs.as_ref().map(|o| o.specs()).unwrap_or_default(),
            guarantee_ts,
            deadline: ctx.deadline,
        })
        .await?;
    let pk_name = coll
        .schema
        .primary()
        .map(|f| f.name.clone())
        .unwrap_or_default();
    let (fields_data, output_fields) = match outputs {
        None => (
            vec![s::FieldData {
                r#type: quiver_storage::DataType::Int64.milvus_code(),
                field_name: "count(*)".into(),
                field: Some(s::field_data::Field::Scalars(s::ScalarField {
                    data: Some(s::scalar_field::Data::LongData(s::LongArray {
                        data: vec![out.count as i64],
                    })),
                })),
                ..Default::default()
            }],
            vec!["count(*)".to_string()],
        ),
        Some(plan) => (build_columns(&plan, &out.columns)?, plan.names),
    };
    Ok(m::QueryResults {
        status: ok_status(),
        fields_data,
        collection_name: coll.name.clone(),
        output_fields,
        session_ts: p.coord.tso(),
        primary_field_name: pk_name,
        element_indices: Vec::new(),
    })
}
