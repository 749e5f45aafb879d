//! Output columns of Search and Query: which fields the client asked for
//! (resolved once, sent to the query node as [`OutputSpec`]s), and the wire
//! columns made of the arrays the node sends back.

use arrow::array::ArrayRef;
use quiver_engine::error::{invalid, QuiverError, Result};
use quiver_engine::roles::OutputSpec;
use quiver_storage::{CollectionSchema, FieldSchema, META_FIELD};

use crate::convert;
use crate::proto::schema::FieldData;

/// One output column.
#[derive(Debug, Clone)]
pub enum OutCol {
    /// A schema field.
    Field(FieldSchema),
    /// The dynamic `$meta` column, reduced to some keys (None: all of it).
    Meta(Option<Vec<String>>),
}

/// Resolved output fields.
#[derive(Debug, Clone, Default)]
pub struct OutputPlan {
    pub columns: Vec<OutCol>,
    /// The names echoed in the response's `output_fields`.
    pub names: Vec<String>,
}

impl OutputPlan {
    /// What the query node is asked to gather, one spec per column.
    pub fn specs(&self) -> Vec<OutputSpec> {
        self.columns
            .iter()
            .map(|c| match c {
                OutCol::Field(f) => OutputSpec::Field(f.id),
                OutCol::Meta(_) => OutputSpec::Meta,
            })
            .collect()
    }
}

/// Resolves `requested` output names against the schema. `with_pk` adds the
/// primary key column (Query always returns it).
pub fn resolve(
    schema: &CollectionSchema,
    requested: &[String],
    with_pk: bool,
) -> Result<OutputPlan> {
    let mut want_fields: Vec<&FieldSchema> = Vec::new();
    let mut all_meta = false;
    let mut meta_keys: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for raw in requested {
        let name = raw.trim();
        if name.is_empty() {
            continue;
        }
        if name == "*" {
            for f in &schema.fields {
                want_fields.push(f);
                names.push(f.name.clone());
            }
            if schema.enable_dynamic_field {
                all_meta = true;
                names.push(META_FIELD.to_string());
            }
        } else if let Some(f) = schema.field(name) {
            want_fields.push(f);
            names.push(f.name.clone());
        } else if name == META_FIELD && schema.enable_dynamic_field {
            all_meta = true;
            names.push(META_FIELD.to_string());
        } else if schema.enable_dynamic_field {
            let key = dynamic_key(name)?;
            meta_keys.push(key.clone());
            names.push(key);
        } else {
            return Err(QuiverError::FieldNotFound(name.to_string()));
        }
    }
    if with_pk {
        if let Some(pk) = schema.primary() {
            if !want_fields.iter().any(|f| f.is_primary) {
                want_fields.insert(0, pk);
                names.insert(0, pk.name.clone());
            }
        }
    }
    let mut columns: Vec<OutCol> = Vec::new();
    for f in &schema.fields {
        if want_fields.iter().any(|w| w.id == f.id) {
            columns.push(OutCol::Field(f.clone()));
        }
    }
    if schema.enable_dynamic_field && (all_meta || !meta_keys.is_empty()) {
        columns.push(OutCol::Meta((!all_meta).then_some(meta_keys)));
    }
    names.dedup();
    Ok(OutputPlan { columns, names })
}

/// `$meta["k"]` or a bare `k` names the dynamic key `k`.
fn dynamic_key(name: &str) -> Result<String> {
    if let Some(rest) = name.strip_prefix("$meta[") {
        let inner = rest
            .trim_end_matches(']')
            .trim_matches(|c| c == '"' || c == '\'');
        return Ok(inner.to_string());
    }
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(name.to_string())
    } else {
        Err(invalid(format!("invalid output field name: {name}")))
    }
}

/// Wire columns of the arrays a query node returned for `plan.specs()`
/// (typed empty columns when there are no rows).
pub fn build_columns(plan: &OutputPlan, arrays: &[ArrayRef]) -> Result<Vec<FieldData>> {
    if arrays.len() != plan.columns.len() {
        return Err(QuiverError::Internal(format!(
            "the query node returned {} columns for {} requested",
            arrays.len(),
            plan.columns.len()
        )));
    }
    Ok(plan
        .columns
        .iter()
        .zip(arrays)
        .map(|(c, arr)| match c {
            OutCol::Field(f) if arr.is_empty() => convert::empty_field_data(f),
            OutCol::Field(f) => convert::column_to_field_data(f, arr.as_ref()),
            OutCol::Meta(keys) => convert::meta_to_field_data(arr.as_ref(), keys.as_deref()),
        })
        .collect())
}
