//! Incoming ARRAY fields: `array_data` (one `ScalarField` per row) → Arrow `List<elem>`.
//!
//! Kept apart from the flat scalar types because every row is itself a typed column:
//! each row's oneof must match the schema's element type, its length must respect
//! `max_capacity`, and VarChar / float elements get the same checks as plain columns.
//! The way back (list rows → `ScalarField`s) is in `emit::array`.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array,
    Int8Array, ListArray, StringArray,
};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::DataType as ArrowType;
use quiver_storage::{DataType, FieldSchema};

use super::scalar::{check_range, nulls};
use crate::convert::layout::{
    check_finite, check_varchar_elements, element_type, scalar_kind, type_name, Layout,
};
use crate::proto::schema::{scalar_field::Data as D, ArrayArray, ScalarField};
use quiver_engine::error::{invalid, QuiverError, Result};

/// `array_data` column → `List<elem>` array.
pub(super) fn list(
    field: &FieldSchema,
    a: ArrayArray,
    valid: Vec<bool>,
    num_rows: usize,
) -> Result<ArrayRef> {
    let elem = element_type(field);
    let name = field.name.as_str();
    if a.element_type != 0 && DataType::from_milvus_code(a.element_type) != Some(elem) {
        return Err(invalid(format!(
            "type mismatch for field {name}: expected array elements of type {}, got element type {}",
            type_name(elem),
            a.element_type
        )));
    }
    let ArrowType::List(child) = field.arrow_type() else {
        return Err(QuiverError::Internal(format!(
            "field {name} has no list layout"
        )));
    };
    let layout = Layout::resolve(field, valid, a.data.len(), num_rows)?;
    let rows = layout.expand(a.data);
    let mut offsets: Vec<i32> = Vec::with_capacity(rows.len() + 1);
    offsets.push(0);
    let mut validity = Vec::with_capacity(rows.len());
    let mut ctx = Rows {
        field,
        elem,
        offsets: &mut offsets,
        validity: &mut validity,
    };
    let values: ArrayRef = match elem {
        DataType::Bool => Arc::new(BooleanArray::from(ctx.collect(
            rows,
            |d| match d {
                D::BoolData(x) => Ok(x.data),
                other => Err(other),
            },
            |_| Ok(()),
        )?)),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => {
            let (ty, min, max) = match elem {
                DataType::Int8 => ("Int8", i8::MIN as i32, i8::MAX as i32),
                DataType::Int16 => ("Int16", i16::MIN as i32, i16::MAX as i32),
                _ => ("Int32", i32::MIN, i32::MAX),
            };
            let v = ctx.collect(
                rows,
                |d| match d {
                    D::IntData(x) => Ok(x.data),
                    other => Err(other),
                },
                |v| check_range(name, ty, v, min, max),
            )?;
            match elem {
                DataType::Int8 => Arc::new(v.iter().map(|&x| x as i8).collect::<Int8Array>()),
                DataType::Int16 => Arc::new(v.iter().map(|&x| x as i16).collect::<Int16Array>()),
                _ => Arc::new(Int32Array::new(ScalarBuffer::from(v), None)),
            }
        }
        DataType::Int64 => Arc::new(Int64Array::new(
            ScalarBuffer::from(ctx.collect(
                rows,
                |d| match d {
                    D::LongData(x) => Ok(x.data),
                    other => Err(other),
                },
                |_| Ok(()),
            )?),
            None,
        )),
        DataType::Float => Arc::new(Float32Array::new(
            ScalarBuffer::from(ctx.collect(
                rows,
                |d| match d {
                    D::FloatData(x) => Ok(x.data),
                    other => Err(other),
                },
                |v| check_finite(name, v),
            )?),
            None,
        )),
        DataType::Double => Arc::new(Float64Array::new(
            ScalarBuffer::from(ctx.collect(
                rows,
                |d| match d {
                    D::DoubleData(x) => Ok(x.data),
                    other => Err(other),
                },
                |v| check_finite(name, v),
            )?),
            None,
        )),
        DataType::VarChar => Arc::new(StringArray::from(ctx.collect(
            rows,
            |d| match d {
                D::StringData(x) => Ok(x.data),
                other => Err(other),
            },
            |v| check_varchar_elements(name, field.max_length, v),
        )?)),
        other => {
            return Err(invalid(format!(
                "field {name}: arrays of {} are not supported",
                type_name(other)
            )))
        }
    };
    let array = ListArray::try_new(
        child,
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        values,
        nulls(validity),
    )?;
    Ok(Arc::new(array))
}

/// Accumulates offsets and validity while flattening the rows of one array column.
struct Rows<'a> {
    field: &'a FieldSchema,
    elem: DataType,
    offsets: &'a mut Vec<i32>,
    validity: &'a mut Vec<bool>,
}

impl Rows<'_> {
    /// Flattens `rows`, taking each row's elements with `extract` (which hands back the
    /// data it does not accept) and checking them with `check`.
    fn collect<T>(
        &mut self,
        rows: Vec<Option<ScalarField>>,
        extract: impl Fn(D) -> std::result::Result<Vec<T>, D>,
        check: impl Fn(&[T]) -> Result<()>,
    ) -> Result<Vec<T>> {
        let name = &self.field.name;
        let mut out: Vec<T> = Vec::new();
        for (i, row) in rows.into_iter().enumerate() {
            let Some(row) = row else {
                self.validity.push(false);
                self.offsets.push(out.len() as i32);
                continue;
            };
            let vals = match row.data {
                None => Vec::new(),
                Some(d) => extract(d).map_err(|d| {
                    invalid(format!(
                        "type mismatch for field {name}: expected array elements of type {}, got {} in row {i}",
                        type_name(self.elem),
                        scalar_kind(&Some(d))
                    ))
                })?,
            };
            if let Some(cap) = self.field.max_capacity {
                if vals.len() > cap {
                    return Err(invalid(format!(
                        "the length ({}) of the array in row {i} of field ({name}) exceeds max capacity ({cap})",
                        vals.len()
                    )));
                }
            }
            check(&vals)?;
            out.extend(vals);
            let end = i32::try_from(out.len())
                .map_err(|_| invalid(format!("array field ({name}) holds too many elements")))?;
            self.offsets.push(end);
            self.validity.push(true);
        }
        Ok(out)
    }
}
