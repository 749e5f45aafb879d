//! Insert/Upsert: the request's columns → one validated `RecordBatch`.
//!
//! Routes each wire column to its schema field (by name, or by id when the name is
//! empty), rejects unknown, duplicated and missing columns, generates auto_id keys,
//! fills absent nullable/default-valued fields, and checks the dynamic `$meta` column.
//! The per-type work is in `scalar` and `array`.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, Int64Array, RecordBatch, RecordBatchOptions, StringBuilder,
};
use quiver_storage::{CollectionSchema, DataType, FieldSchema, META_FIELD};
use serde_json::{Map, Value};

use super::scalar;
use crate::convert::layout::{column_kind, mismatch, take_scalars, Layout};
use crate::proto::schema::{scalar_field::Data as D, FieldData};
use quiver_engine::error::{invalid, QuiverError, Result};

/// Converts an Insert/Upsert request's columns into one RecordBatch in
/// `schema.arrow_schema()` order.
///
/// * An auto_id pk must be absent on Insert (keys come from `next_id()`, one per row; a
///   VarChar auto_id key is its decimal string) and present on Upsert.
/// * Every other field must be present unless it is nullable or has a default value.
/// * Unknown or duplicated columns are rejected; `$meta` (by `is_dynamic` or by name) is
///   accepted only with dynamic fields on, must hold one JSON object per row, and is
///   filled with `{}` when absent.
/// * Nullable columns may be compacted or dense; null rows take the field's default value.
pub fn insert_batch(
    schema: &CollectionSchema,
    columns: Vec<FieldData>,
    num_rows: usize,
    is_upsert: bool,
    next_id: &mut dyn FnMut() -> i64,
) -> Result<RecordBatch> {
    if num_rows == 0 {
        return Err(invalid(
            "invalid num_rows (0): num_rows should be greater than 0",
        ));
    }
    check_row_bound(&columns, num_rows)?;
    let mut routed: Vec<Option<FieldData>> = schema.fields.iter().map(|_| None).collect();
    let mut meta: Option<FieldData> = None;
    for col in columns {
        if col.is_dynamic || col.field_name == META_FIELD {
            if !schema.enable_dynamic_field {
                return Err(invalid(format!(
                    "dynamic field ({META_FIELD}) was passed but dynamic fields are not enabled in collection ({})",
                    schema.name
                )));
            }
            if meta.is_some() {
                return Err(invalid(format!(
                    "duplicated field name ({META_FIELD}) in insert data"
                )));
            }
            meta = Some(col);
            continue;
        }
        let idx = if !col.field_name.is_empty() {
            schema.fields.iter().position(|f| f.name == col.field_name)
        } else if col.field_id != 0 {
            schema.fields.iter().position(|f| f.id == col.field_id)
        } else {
            return Err(invalid(
                "field id not passed: a column has neither field_name nor field_id",
            ));
        };
        let Some(idx) = idx else {
            let shown = if col.field_name.is_empty() {
                col.field_id.to_string()
            } else {
                col.field_name.clone()
            };
            return Err(invalid(format!(
                "field ({shown}) does not exist in the schema of collection ({})",
                schema.name
            )));
        };
        let slot = &mut routed[idx];
        if slot.is_some() {
            return Err(invalid(format!(
                "duplicated field name ({}) in insert data",
                schema.fields[idx].name
            )));
        }
        *slot = Some(col);
    }

    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.fields.len() + 1);
    for (field, col) in schema.fields.iter().zip(routed) {
        let array = match col {
            Some(_) if field.is_primary && field.auto_id && !is_upsert => {
                return Err(invalid(format!(
                    "the primary key field ({}) is auto_id, its values must not be passed on insert",
                    field.name
                )));
            }
            None if field.is_primary && field.auto_id && is_upsert => {
                return Err(invalid(format!(
                    "the primary key field ({}) must be passed on upsert",
                    field.name
                )));
            }
            None if field.is_primary && field.auto_id => auto_ids(field, num_rows, next_id)?,
            None => scalar::absent(field, num_rows)?,
            Some(fd) => scalar::convert(field, fd, num_rows)?,
        };
        if field.is_primary && array.null_count() > 0 {
            return Err(invalid(format!(
                "the primary key field ({}) cannot be null",
                field.name
            )));
        }
        arrays.push(array);
    }
    if schema.enable_dynamic_field {
        arrays.push(meta_column(schema, meta, num_rows)?);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(num_rows));
    Ok(RecordBatch::try_new_with_options(
        schema.arrow_schema(),
        arrays,
        &options,
    )?)
}

/// `num_rows` is the client's word and sizes the auto-id, default and `$meta`
/// columns built below, so it is bounded by the data actually sent before
/// anything is allocated: every row of every column costs at least one encoded
/// byte (a varint, a packed bool, a length prefix, a validity flag), so a
/// `num_rows` above the largest column's encoded size matches no column.
fn check_row_bound(columns: &[FieldData], num_rows: usize) -> Result<()> {
    use prost::Message;
    let Some((widest, bytes)) = columns
        .iter()
        .map(|c| (c, c.encoded_len()))
        .max_by_key(|(_, n)| *n)
    else {
        return Err(invalid(format!(
            "no field data passed for num_rows ({num_rows}): insert data has no columns"
        )));
    };
    if num_rows > bytes {
        return Err(invalid(format!(
            "the num_rows ({bytes}) of field ({}) is not equal to passed num_rows ({num_rows})",
            widest.field_name
        )));
    }
    Ok(())
}

/// Server-generated primary keys for an auto_id field.
fn auto_ids(
    field: &FieldSchema,
    num_rows: usize,
    next_id: &mut dyn FnMut() -> i64,
) -> Result<ArrayRef> {
    match field.data_type {
        DataType::Int64 => Ok(Arc::new(
            (0..num_rows).map(|_| next_id()).collect::<Int64Array>(),
        )),
        DataType::VarChar => {
            let mut b = StringBuilder::with_capacity(num_rows, num_rows * 19);
            for _ in 0..num_rows {
                b.append_value(next_id().to_string());
            }
            Ok(Arc::new(b.finish()))
        }
        other => Err(QuiverError::Internal(format!(
            "auto_id is not supported on a {other:?} primary key ({})",
            field.name
        ))),
    }
}

/// The `$meta` column: each row a JSON object without static field names; `{}` when absent.
fn meta_column(
    schema: &CollectionSchema,
    col: Option<FieldData>,
    num_rows: usize,
) -> Result<ArrayRef> {
    let Some(mut fd) = col else {
        let mut b = BinaryBuilder::with_capacity(num_rows, num_rows * 2);
        for _ in 0..num_rows {
            b.append_value(b"{}");
        }
        return Ok(Arc::new(b.finish()));
    };
    let mut meta_field = FieldSchema::new(0, META_FIELD, DataType::Json);
    meta_field.nullable = true;
    let valid = std::mem::take(&mut fd.valid_data);
    let kind = column_kind(&fd);
    let docs = match take_scalars(&mut fd) {
        Some(Some(D::JsonData(j))) => j.data,
        _ => return Err(mismatch(META_FIELD, DataType::Json, kind)),
    };
    let layout = Layout::resolve(&meta_field, valid, docs.len(), num_rows)?;
    let rows = layout.expand(docs);
    let bytes = rows.iter().flatten().map(Vec::len).sum::<usize>() + 2 * num_rows;
    let mut b = BinaryBuilder::with_capacity(num_rows, bytes);
    for (i, row) in rows.iter().enumerate() {
        let Some(doc) = row else {
            b.append_value(b"{}");
            continue;
        };
        let obj: Map<String, Value> = serde_json::from_slice(doc).map_err(|e| {
            invalid(format!(
                "the dynamic field ({META_FIELD}) of row {i} must be a JSON object: {e}"
            ))
        })?;
        if let Some(f) = schema.fields.iter().find(|f| obj.contains_key(&f.name)) {
            return Err(invalid(format!(
                "dynamic field name cannot include the static field name: {}",
                f.name
            )));
        }
        b.append_value(doc);
    }
    Ok(Arc::new(b.finish()))
}
