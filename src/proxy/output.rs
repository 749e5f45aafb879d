//! Output columns of Search and Query: which fields the client asked for, and
//! gathering those rows out of the snapshot's segments into wire columns.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::compute::interleave;
use quiver_storage::{CollectionSchema, FieldSchema, META_FIELD};

use crate::convert;
use crate::proto::schema::FieldData;
use quiver_engine::error::{invalid, QuiverError, Result};
use quiver_engine::segment::Segment;

/// One output column.
#[derive(Debug, Clone)]
pub enum OutCol {
    /// A schema field and its column position.
    Field(FieldSchema, usize),
    /// The dynamic `$meta` column, reduced to some keys (None: all of it).
    Meta(usize, Option<Vec<String>>),
}

/// Resolved output fields.
#[derive(Debug, Clone, Default)]
pub struct OutputPlan {
    pub columns: Vec<OutCol>,
    /// The names echoed in the response's `output_fields`.
    pub names: Vec<String>,
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
            let idx = schema
                .column_index(&f.name)
                .ok_or_else(|| QuiverError::Internal("column missing".into()))?;
            columns.push(OutCol::Field(f.clone(), idx));
        }
    }
    if schema.enable_dynamic_field && (all_meta || !meta_keys.is_empty()) {
        let idx = schema
            .column_index(META_FIELD)
            .ok_or_else(|| QuiverError::Internal("$meta column missing".into()))?;
        columns.push(OutCol::Meta(idx, (!all_meta).then_some(meta_keys)));
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

/// Gathers column `col` for `rows` (segment index, segment row) in order.
pub fn gather(segments: &[Arc<Segment>], rows: &[(usize, usize)], col: usize) -> Result<ArrayRef> {
    let mut sources: Vec<&dyn Array> = Vec::new();
    let mut slot: HashMap<(usize, usize), usize> = HashMap::new();
    let mut idx: Vec<(usize, usize)> = Vec::with_capacity(rows.len());
    for &(s, row) in rows {
        let seg = &segments[s];
        let (c, r) = seg.locate(row);
        let k = *slot.entry((s, c)).or_insert_with(|| {
            sources.push(seg.column(c, col).as_ref());
            sources.len() - 1
        });
        idx.push((k, r));
    }
    Ok(interleave(&sources, &idx)?)
}

/// Wire columns for the given rows (typed empty columns when there are none).
pub fn build_columns(
    plan: &OutputPlan,
    segments: &[Arc<Segment>],
    rows: &[(usize, usize)],
) -> Result<Vec<FieldData>> {
    plan.columns
        .iter()
        .map(|c| match c {
            OutCol::Field(f, idx) => {
                if rows.is_empty() {
                    Ok(convert::empty_field_data(f))
                } else {
                    Ok(convert::column_to_field_data(
                        f,
                        gather(segments, rows, *idx)?.as_ref(),
                    ))
                }
            }
            OutCol::Meta(idx, keys) => {
                let arr: ArrayRef = if rows.is_empty() {
                    Arc::new(arrow::array::BinaryArray::from_iter_values(
                        std::iter::empty::<&[u8]>(),
                    ))
                } else {
                    gather(segments, rows, *idx)?
                };
                Ok(convert::meta_to_field_data(arr.as_ref(), keys.as_deref()))
            }
        })
        .collect()
}
