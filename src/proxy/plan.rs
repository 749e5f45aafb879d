//! Planning shared by Search, Query and Delete: template values, filter
//! parsing within the configured limits, partition pruning (explicit names,
//! load state, the partition-key hash) and the guarantee timestamp a
//! consistency level resolves to. The query node re-parses the filter it is
//! sent; the proxy parses it too, to refuse bad expressions early and to prune
//! partitions by the key values it pins.

use std::collections::HashMap;
use std::sync::Arc;

use quiver_engine::catalog::CollectionMeta;
use quiver_engine::error::{parameter_invalid_msg, QuiverError, Result};
use quiver_engine::roles::{FilterExpr, GuaranteeTs};
use quiver_engine::segment::PartitionId;
use quiver_filter::Filter;
use quiver_types::compose_ts;

use super::Proxy;
use crate::proto::schema as s;
use crate::proto::schema::template_array_value::Data as TData;
use crate::proto::schema::template_value::Val;

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

/// A request's filter: parsed here (errors and pruning), sent as text.
pub struct PlannedFilter {
    /// The bound filter, for partition pruning and delete checks.
    pub bound: Option<Arc<Filter>>,
    /// What the query node receives.
    pub expr: Option<FilterExpr>,
}

impl Proxy {
    /// Parses a filter within the configured expression limits; nothing for an
    /// empty expression.
    pub fn plan_filter(
        &self,
        coll: &CollectionMeta,
        expr: &str,
        tpl: &HashMap<String, s::TemplateValue>,
    ) -> Result<PlannedFilter> {
        let Some(mut expr) = FilterExpr::new(expr, templates(tpl)) else {
            return Ok(PlannedFilter {
                bound: None,
                expr: None,
            });
        };
        let bound = self
            .filters
            .bind(coll.id, &coll.schema, &expr, &self.filter_limits)?;
        expr.indexes = super::index::scalar_index_specs(coll);
        Ok(PlannedFilter {
            bound: Some(bound),
            expr: Some(expr),
        })
    }

    /// The guarantee timestamp of a read (Milvus's `parseGuaranteeTsFromConsistency`):
    /// Strong waits for everything acknowledged before now, Bounded for what is
    /// older than the graceful time, Session/Customized for the client's
    /// timestamp (pymilvus sends its last write's), Eventually for nothing.
    pub fn guarantee_ts(
        &self,
        coll: &CollectionMeta,
        level: i32,
        use_default: bool,
        client_ts: u64,
    ) -> GuaranteeTs {
        let level = if use_default {
            coll.consistency_level
        } else {
            level
        };
        match level {
            STRONG => self.coord.tso(),
            BOUNDED => {
                let now = quiver_types::physical_ms(self.coord.tso());
                compose_ts(now.saturating_sub(BOUNDED_GRACE_MS), 0)
            }
            EVENTUALLY => 0,
            _ => client_ts,
        }
    }
}

const STRONG: i32 = 0;
const BOUNDED: i32 = 2;
const EVENTUALLY: i32 = 3;
/// Milvus's default `common.gracefulTime`.
const BOUNDED_GRACE_MS: u64 = 5_000;

/// FNV-1a: a stable hash, so a key maps to the same partition after restarts.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The partition index a partition-key value hashes to.
pub fn key_partition_index(key: &serde_json::Value, partitions: usize) -> usize {
    let h = match key {
        serde_json::Value::String(s) => fnv1a(s.as_bytes()),
        serde_json::Value::Number(n) => fnv1a(&n.as_i64().unwrap_or(0).to_le_bytes()),
        other => fnv1a(other.to_string().as_bytes()),
    };
    (h % partitions.max(1) as u64) as usize
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
    // Milvus's search and query name a missing partition in their own words
    // (`getPartitionIDs`), unlike writes and loads ("partition not found[...]").
    let explicit = p.partition_ids(coll, names).map_err(|e| match e {
        QuiverError::PartitionNotFound(n) => {
            parameter_invalid_msg(format!("partition name {n} not found"))
        }
        e => e,
    })?;
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
