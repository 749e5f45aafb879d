//! Query: filter → matching rows ordered by primary key → requested columns.
//! Also the planning pieces Search and Delete share: filter parsing with
//! template values, load checks, and partition pruning by partition key.

use std::collections::HashMap;
use std::sync::Arc;

use quiver_filter::Filter;

use super::output::{build_columns, resolve};
use super::write::key_partition_index;
use super::{kv_get, ok_status, Ctx, Proxy, MAX_TOPK};
use crate::proto::milvus as m;
use crate::proto::schema as s;
use crate::proto::schema::template_array_value::Data as TData;
use crate::proto::schema::template_value::Val;
use quiver_engine::catalog::CollectionMeta;
use quiver_engine::error::{invalid, QuiverError, Result};
use quiver_engine::querynode::QueryPlan;
use quiver_engine::segment::PartitionId;

/// `expr_template_values` as JSON values for the filter parser.
pub fn templates(v: &HashMap<String, s::TemplateValue>) -> HashMap<String, serde_json::Value> {
    fn array(a: &s::TemplateArrayValue) -> serde_json::Value {
        use serde_json::Value as J;
        match &a.data {
            Some(TData::BoolData(b)) => J::from(b.data.clone()),
            Some(TData::LongData(l)) => J::from(l.data.clone()),
            Some(TData::DoubleData(d)) => J::from(d.data.clone()),
            Some(TData::StringData(s)) => J::from(s.data.clone()),
            Some(TData::ArrayData(x)) => J::Array(x.data.iter().map(array).collect()),
            Some(TData::JsonData(j)) => J::Array(
                j.data
                    .iter()
                    .map(|b| serde_json::from_slice(b).unwrap_or(J::Null))
                    .collect(),
            ),
            None => J::Null,
        }
    }
    v.iter()
        .map(|(k, t)| {
            let j = match &t.val {
                Some(Val::BoolVal(b)) => serde_json::Value::from(*b),
                Some(Val::Int64Val(i)) => serde_json::Value::from(*i),
                Some(Val::FloatVal(f)) => serde_json::Value::from(*f),
                Some(Val::StringVal(s)) => serde_json::Value::from(s.clone()),
                Some(Val::ArrayVal(a)) => array(a),
                _ => serde_json::Value::Null,
            };
            (k.clone(), j)
        })
        .collect()
}

impl Proxy {
    /// Parses a filter within the configured expression limits; None for an
    /// empty expression.
    pub fn parse_filter(
        &self,
        coll: &CollectionMeta,
        expr: &str,
        tpl: &HashMap<String, serde_json::Value>,
    ) -> Result<Option<Filter>> {
        if expr.trim().is_empty() {
            return Ok(None);
        }
        let f = Filter::parse_with_limits(expr, &coll.schema, tpl, &self.filter_limits)?;
        Ok(Some(f))
    }
}

/// Partitions a request may touch: explicit names, narrowed by the partition
/// key when the filter pins it to literal values (tenant isolation); and each
/// must be loaded.
pub fn plan_partitions(
    p: &Proxy,
    coll: &CollectionMeta,
    names: &[String],
    filter: Option<&Filter>,
) -> Result<Option<Vec<PartitionId>>> {
    let explicit = p.partition_ids(coll, names)?;
    if !coll.any_loaded() {
        return Err(QuiverError::CollectionNotLoaded(coll.name.clone()));
    }
    let mut parts = match explicit {
        Some(ids) => {
            for id in &ids {
                if !coll.partition_loaded(*id) {
                    let name = coll
                        .partitions
                        .iter()
                        .find(|x| x.id == *id)
                        .map(|x| x.name.clone())
                        .unwrap_or_default();
                    return Err(QuiverError::PartitionNotLoaded(name));
                }
            }
            Some(ids)
        }
        None if coll.loaded => None,
        None => Some(coll.loaded_partitions.clone()),
    };
    if let (Some(key), Some(f)) = (coll.schema.partition_key(), filter) {
        if let Some(values) = f.field_equality_values(&key.name) {
            let n = coll.partitions.len();
            let mut ids: Vec<PartitionId> = values
                .iter()
                .map(|v| coll.partitions[key_partition_index(v, n)].id)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            parts = Some(match parts {
                Some(prev) => ids.into_iter().filter(|i| prev.contains(i)).collect(),
                None => ids,
            });
        }
    }
    Ok(parts)
}

fn parse_usize(kvs: &[crate::proto::common::KeyValuePair], key: &str) -> Result<Option<usize>> {
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
    let filter = p.parse_filter(&coll, &r.expr, &templates(&r.expr_template_values))?;
    let limit = parse_usize(&r.query_params, "limit")?;
    let offset = parse_usize(&r.query_params, "offset")?.unwrap_or(0);
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
        if filter.is_none() && limit.is_none() {
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
    let partitions = plan_partitions(&p, &coll, &r.partition_names, filter.as_ref())?;
    let outputs = if count_only {
        None
    } else {
        Some(resolve(&coll.schema, &r.output_fields, true)?)
    };
    let pks = filter.as_ref().and_then(|f| f.primary_key_values());
    ctx.check_deadline()?;
    let out = p
        .query
        .query(QueryPlan {
            collection_id: coll.id,
            partitions,
            filter: filter.map(Arc::new),
            limit,
            offset,
            count_only,
            pks,
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
                r#type: 5,
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
        Some(plan) => (build_columns(&plan, &out.segments, &out.rows)?, plan.names),
    };
    Ok(m::QueryResults {
        status: ok_status(),
        fields_data,
        collection_name: coll.name.clone(),
        output_fields,
        session_ts: p.catalog.tso(),
        primary_field_name: pk_name,
        element_indices: Vec::new(),
    })
}
