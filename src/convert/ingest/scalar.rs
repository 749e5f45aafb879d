//! One incoming column (scalar or vector) → one Arrow array, with the per-type checks.
//!
//! Each Milvus type arrives in a fixed oneof member (Int8/16/32 as `int_data`, Int64 as
//! `long_data`, FloatVector as `float_vector`, ...). This module checks that member, the
//! row count, value ranges, finiteness and VarChar lengths, expands nullable layouts, fills
//! default values, and builds the Arrow array with exactly the type
//! `FieldSchema::arrow_type()` declares. Vectors are moved into Arrow without copying.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanArray, FixedSizeListArray, Float32Array, PrimitiveArray,
    StringBuilder,
};
use arrow::buffer::{NullBuffer, ScalarBuffer};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType as ArrowType, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type,
};
use quiver_storage::{DataType, FieldSchema, ScalarValue};

use crate::convert::layout::{
    check_finite, check_varchar, column_kind, empty_field_data, mismatch, scalar_kind,
    take_scalars, Layout,
};
use crate::proto::schema::{field_data, scalar_field::Data as D, vector_field, FieldData};
use quiver_engine::error::{
    invalid, parameter_invalid, parameter_invalid_msg, QuiverError, Result,
};

/// Converts the column `fd` of `field` (already routed by name) into an Arrow array.
pub(super) fn convert(field: &FieldSchema, mut fd: FieldData, num_rows: usize) -> Result<ArrayRef> {
    let valid = std::mem::take(&mut fd.valid_data);
    if field.is_sparse() {
        return sparse_vector(field, fd, valid, num_rows);
    }
    if field.is_vector() {
        return float_vector(field, fd, valid, num_rows);
    }
    let kind = column_kind(&fd);
    let Some(data) = take_scalars(&mut fd) else {
        return Err(mismatch(&field.name, field.data_type, kind));
    };
    let name = field.name.as_str();
    Ok(match (field.data_type, data) {
        (DataType::Bool, Some(D::BoolData(a))) => {
            let layout = Layout::resolve(field, valid, a.data.len(), num_rows)?;
            let fill = match field.default_value {
                Some(ScalarValue::Bool(b)) => Some(b),
                _ => None,
            };
            let rows = layout.expand(a.data);
            let vals: Vec<Option<bool>> = rows.into_iter().map(|r| r.or(fill)).collect();
            Arc::new(BooleanArray::from(vals))
        }
        (DataType::Int8, Some(D::IntData(a))) => {
            check_range(name, "Int8", &a.data, i8::MIN.into(), i8::MAX.into())?;
            let data = a.data.iter().map(|&v| v as i8).collect();
            let layout = Layout::resolve(field, valid, a.data.len(), num_rows)?;
            primitive::<Int8Type>(data, layout, default_int(field).map(|v| v as i8))
        }
        (DataType::Int16, Some(D::IntData(a))) => {
            check_range(name, "Int16", &a.data, i16::MIN.into(), i16::MAX.into())?;
            let data = a.data.iter().map(|&v| v as i16).collect();
            let layout = Layout::resolve(field, valid, a.data.len(), num_rows)?;
            primitive::<Int16Type>(data, layout, default_int(field).map(|v| v as i16))
        }
        (DataType::Int32, Some(D::IntData(a))) => {
            let layout = Layout::resolve(field, valid, a.data.len(), num_rows)?;
            primitive::<Int32Type>(a.data, layout, default_int(field).map(|v| v as i32))
        }
        (DataType::Int64, Some(D::LongData(a))) => {
            let layout = Layout::resolve(field, valid, a.data.len(), num_rows)?;
            primitive::<Int64Type>(a.data, layout, default_int(field))
        }
        (DataType::Float, Some(D::FloatData(a))) => {
            check_finite(name, &a.data)?;
            let layout = Layout::resolve(field, valid, a.data.len(), num_rows)?;
            primitive::<Float32Type>(a.data, layout, default_float(field).map(|v| v as f32))
        }
        (DataType::Double, Some(D::DoubleData(a))) => {
            check_finite(name, &a.data)?;
            let layout = Layout::resolve(field, valid, a.data.len(), num_rows)?;
            primitive::<Float64Type>(a.data, layout, default_float(field))
        }
        (DataType::VarChar, Some(D::StringData(a))) => {
            check_varchar(name, field.max_length, &a.data)?;
            let layout = Layout::resolve(field, valid, a.data.len(), num_rows)?;
            utf8(layout.expand(a.data), default_str(field))
        }
        (DataType::Json, Some(D::JsonData(a))) => {
            let layout = Layout::resolve(field, valid, a.data.len(), num_rows)?;
            let rows = layout.expand(a.data);
            // Only real values are checked: dense layouts may hold empty placeholders.
            for (i, doc) in rows.iter().enumerate() {
                if let Some(Err(e)) = doc.as_ref().map(|d| check_json(d)) {
                    return Err(invalid(format!(
                        "invalid JSON in field ({name}) at row {i}: {e}"
                    )));
                }
            }
            binary(rows, default_str(field).map(str::as_bytes))
        }
        (DataType::Array, Some(D::ArrayData(a))) => super::array::list(field, a, valid, num_rows)?,
        (t, d) => return Err(mismatch(name, t, scalar_kind(&d))),
    })
}

/// A JSON document every client can read back: parsed fully (not merely
/// skimmed), so numbers beyond f64 (`1e999`), lone UTF-16 surrogates
/// (`"\ud800"`) and nesting deeper than serde_json's 128 levels are refused
/// at insert instead of being stored and failing every later reader.
pub(super) fn check_json(doc: &[u8]) -> std::result::Result<(), serde_json::Error> {
    serde_json::from_slice::<serde_json::Value>(doc).map(drop)
}

/// Int8/Int16 values arrive widened to int32; reject any that do not fit.
pub(super) fn check_range(name: &str, ty: &str, values: &[i32], min: i32, max: i32) -> Result<()> {
    if let Some(v) = values.iter().find(|&&v| v < min || v > max) {
        return Err(invalid(format!(
            "the value ({v}) of field ({name}) is out of range for {ty} [{min}, {max}]"
        )));
    }
    Ok(())
}

fn default_int(field: &FieldSchema) -> Option<i64> {
    match field.default_value {
        Some(ScalarValue::Int(v)) => Some(v),
        _ => None,
    }
}

fn default_float(field: &FieldSchema) -> Option<f64> {
    match field.default_value {
        Some(ScalarValue::Float(v)) => Some(v),
        Some(ScalarValue::Int(v)) => Some(v as f64),
        _ => None,
    }
}

fn default_str(field: &FieldSchema) -> Option<&str> {
    match &field.default_value {
        Some(ScalarValue::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// A primitive array: the data buffer is moved as is when every row is valid.
fn primitive<A: ArrowPrimitiveType>(
    data: Vec<A::Native>,
    layout: Layout,
    fill: Option<A::Native>,
) -> ArrayRef {
    if layout == Layout::AllValid {
        return Arc::new(PrimitiveArray::<A>::new(ScalarBuffer::from(data), None));
    }
    let rows = layout.expand(data);
    let mut values = Vec::with_capacity(rows.len());
    let mut valid = Vec::with_capacity(rows.len());
    for r in rows {
        let r = r.or(fill);
        valid.push(r.is_some());
        values.push(r.unwrap_or_default());
    }
    Arc::new(PrimitiveArray::<A>::new(
        ScalarBuffer::from(values),
        nulls(valid),
    ))
}

/// A validity bitmap, or none when every row is valid.
pub(super) fn nulls(valid: Vec<bool>) -> Option<NullBuffer> {
    if valid.iter().all(|&v| v) {
        None
    } else {
        Some(NullBuffer::from(valid))
    }
}

fn utf8(rows: Vec<Option<String>>, fill: Option<&str>) -> ArrayRef {
    let bytes = rows.iter().flatten().map(String::len).sum::<usize>();
    let mut b = StringBuilder::with_capacity(rows.len(), bytes);
    for r in &rows {
        match r.as_deref().or(fill) {
            Some(s) => b.append_value(s),
            None => b.append_null(),
        }
    }
    Arc::new(b.finish())
}

pub(super) fn binary(rows: Vec<Option<Vec<u8>>>, fill: Option<&[u8]>) -> ArrayRef {
    let bytes = rows.iter().flatten().map(Vec::len).sum::<usize>();
    let mut b = BinaryBuilder::with_capacity(rows.len(), bytes);
    for r in &rows {
        match r.as_deref().or(fill) {
            Some(s) => b.append_value(s),
            None => b.append_null(),
        }
    }
    Arc::new(b.finish())
}

/// FloatVector column → FixedSizeList<Float32, dim>.
fn float_vector(
    field: &FieldSchema,
    fd: FieldData,
    valid: Vec<bool>,
    num_rows: usize,
) -> Result<ArrayRef> {
    let kind = column_kind(&fd);
    let name = field.name.as_str();
    let (wire_dim, data) = match fd.field {
        Some(field_data::Field::Vectors(v)) => match v.data {
            Some(vector_field::Data::FloatVector(a)) => (v.dim, a.data),
            _ => return Err(mismatch(name, field.data_type, kind)),
        },
        _ => return Err(mismatch(name, field.data_type, kind)),
    };
    let ArrowType::FixedSizeList(child, _) = field.arrow_type() else {
        return Err(QuiverError::Internal(format!(
            "field {name} has no vector layout"
        )));
    };
    let dim = field.dim.unwrap_or(0);
    if dim == 0 {
        return Err(QuiverError::Internal(format!(
            "vector field {name} has no dim"
        )));
    }
    let dim_err = |got: i64| {
        parameter_invalid(
            dim,
            got,
            format!("the dim ({got}) of field data({name}) is not equal to schema dim ({dim})"),
        )
    };
    // Milvus 2.6's order (checkAligned): the length against the schema's dim,
    // then the dim the client declared.
    if data.len() % dim != 0 {
        return Err(parameter_invalid_msg(format!(
            "the length({}) of float data should divide the dim({dim})",
            data.len()
        )));
    }
    if wire_dim < 0 || (wire_dim > 0 && wire_dim as usize != dim) {
        return Err(dim_err(wire_dim));
    }
    let layout = Layout::resolve(field, valid, data.len() / dim, num_rows)?;
    check_finite(name, &data)?;
    let (values, nulls) = match layout {
        Layout::AllValid => (data, None),
        Layout::Dense(valid) => {
            let mut data = data;
            for (row, _) in valid.iter().enumerate().filter(|(_, &v)| !v) {
                data[row * dim..(row + 1) * dim].fill(0.0);
            }
            (data, Some(NullBuffer::from(valid)))
        }
        Layout::Compact(valid) => {
            let mut out = vec![0.0f32; num_rows * dim];
            let mut chunks = data.chunks_exact(dim);
            for (row, _) in valid.iter().enumerate().filter(|(_, &v)| v) {
                if let Some(c) = chunks.next() {
                    out[row * dim..(row + 1) * dim].copy_from_slice(c);
                }
            }
            (out, Some(NullBuffer::from(valid)))
        }
    };
    let values = Float32Array::new(ScalarBuffer::from(values), None);
    let array = FixedSizeListArray::try_new(child, dim as i32, Arc::new(values), nulls)?;
    Ok(Arc::new(array) as ArrayRef)
}

/// A sparse vector column: one wire-format row per non-null row, each checked
/// with Milvus's rules (`ValidateSparseFloatRows`), stored as is.
fn sparse_vector(
    field: &FieldSchema,
    fd: FieldData,
    valid: Vec<bool>,
    num_rows: usize,
) -> Result<ArrayRef> {
    let kind = column_kind(&fd);
    let name = field.name.as_str();
    let rows = match fd.field {
        Some(field_data::Field::Vectors(v)) => match v.data {
            Some(vector_field::Data::SparseFloatVector(a)) => a.contents,
            _ => {
                return Err(parameter_invalid(
                    "need sparse float vector",
                    "got nil",
                    format!("sparse float vector field '{name}' is illegal, array type mismatch"),
                ))
            }
        },
        _ => return Err(mismatch(name, field.data_type, kind)),
    };
    for row in &rows {
        quiver_index::sparse::validate(row).map_err(parameter_invalid_msg)?;
    }
    let layout = Layout::resolve(field, valid, rows.len(), num_rows)?;
    let mut b = BinaryBuilder::with_capacity(num_rows, rows.iter().map(Vec::len).sum());
    for row in layout.expand(rows) {
        match row {
            Some(r) => b.append_value(r),
            None => b.append_null(),
        }
    }
    Ok(Arc::new(b.finish()) as ArrayRef)
}

/// The array for a field the request left out (nullable or default-valued only).
pub(super) fn absent(field: &FieldSchema, num_rows: usize) -> Result<ArrayRef> {
    if !field.nullable && field.default_value.is_none() {
        return Err(invalid(format!(
            "field ({}) not passed: insert missed a field that is neither nullable nor has a default value",
            field.name
        )));
    }
    let mut fd = empty_field_data(field);
    fd.valid_data = vec![false; num_rows];
    convert(field, fd, num_rows)
}
