//! Arrow result columns → the dense `FieldData` columns Query and Search return.
//!
//! pymilvus reads result columns positionally, so scalar columns are dense: one value per
//! row with a placeholder (0, "", false, `null`, empty array) where `valid_data` is false.
//! Nullable vector columns are the exception and stay compacted (pymilvus maps them with
//! a prefix sum over `valid_data`). Vector columns always carry `dim`, even when empty.

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, FixedSizeListArray, Float32Array,
    ListArray, PrimitiveArray, StringArray,
};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType as ArrowType, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type,
};
use quiver_storage::{DataType, FieldSchema, META_FIELD};
use serde_json::{Map, Value};

use super::array::{empty_row, row_to_scalar};
use crate::convert::layout::{
    element_type, empty_field_data, float_vectors, header, scalars, sparse_vectors,
};
use crate::proto::schema::{
    i_ds::IdField, scalar_field::Data as D, ArrayArray, BoolArray, DoubleArray, FieldData,
    FloatArray, IDs, IntArray, JsonArray, LongArray, StringArray as PbStrings,
};

/// Placeholder stored under a null JSON row (parses to `None` if a client decodes it).
const JSON_NULL: &[u8] = b"null";

/// Whether `a` can be read as `b` without a cast (nested field names and nullability are
/// ignored, e.g. a Parquet `element` child instead of `item`).
fn same_layout(a: &ArrowType, b: &ArrowType) -> bool {
    match (a, b) {
        (ArrowType::List(x), ArrowType::List(y)) => same_layout(x.data_type(), y.data_type()),
        (ArrowType::FixedSizeList(x, n), ArrowType::FixedSizeList(y, m)) => {
            n == m && same_layout(x.data_type(), y.data_type())
        }
        _ => a == b,
    }
}

/// Values of a primitive column, placeholders (`Default`) under nulls.
fn prim_values<T: ArrowPrimitiveType, U>(array: &dyn Array, f: impl Fn(T::Native) -> U) -> Vec<U>
where
    T::Native: Default,
{
    let Some(a) = array.as_any().downcast_ref::<PrimitiveArray<T>>() else {
        return Vec::new();
    };
    match a.nulls() {
        None => a.values().iter().map(|&v| f(v)).collect(),
        Some(n) => a
            .values()
            .iter()
            .zip(n.iter())
            .map(|(&v, ok)| f(if ok { v } else { T::Native::default() }))
            .collect(),
    }
}

/// An Arrow column (possibly a slice) → a dense result column for `field`.
pub fn column_to_field_data(field: &FieldSchema, array: &dyn Array) -> FieldData {
    let want = field.arrow_type();
    let cast: ArrayRef;
    let array: &dyn Array = if same_layout(array.data_type(), &want) {
        array
    } else {
        match arrow::compute::cast(array, &want) {
            Ok(a) => {
                cast = a;
                cast.as_ref()
            }
            Err(_) => return empty_field_data(field),
        }
    };
    let mut fd = header(field);
    let n = array.len();
    let valid: Vec<bool> = if field.nullable {
        (0..n).map(|i| array.is_valid(i)).collect()
    } else {
        Vec::new()
    };
    fd.field = match field.data_type {
        DataType::Bool => {
            let data = array
                .as_any()
                .downcast_ref::<BooleanArray>()
                .map(|a| a.iter().map(|v| v.unwrap_or(false)).collect())
                .unwrap_or_default();
            scalars(D::BoolData(BoolArray { data }))
        }
        DataType::Int8 => scalars(D::IntData(IntArray {
            data: prim_values::<Int8Type, _>(array, i32::from),
        })),
        DataType::Int16 => scalars(D::IntData(IntArray {
            data: prim_values::<Int16Type, _>(array, i32::from),
        })),
        DataType::Int32 => scalars(D::IntData(IntArray {
            data: prim_values::<Int32Type, _>(array, |v| v),
        })),
        DataType::Int64 => scalars(D::LongData(LongArray {
            data: prim_values::<Int64Type, _>(array, |v| v),
        })),
        DataType::Float => scalars(D::FloatData(FloatArray {
            data: prim_values::<Float32Type, _>(array, |v| v),
        })),
        DataType::Double => scalars(D::DoubleData(DoubleArray {
            data: prim_values::<Float64Type, _>(array, |v| v),
        })),
        DataType::VarChar => {
            let data = array
                .as_any()
                .downcast_ref::<StringArray>()
                .map(|a| a.iter().map(|s| s.unwrap_or("").to_string()).collect())
                .unwrap_or_default();
            scalars(D::StringData(PbStrings { data }))
        }
        DataType::Json => {
            let data = array
                .as_any()
                .downcast_ref::<BinaryArray>()
                .map(|a| a.iter().map(|s| s.unwrap_or(JSON_NULL).to_vec()).collect())
                .unwrap_or_default();
            scalars(D::JsonData(JsonArray { data }))
        }
        DataType::Array => {
            let elem = element_type(field);
            let data = array
                .as_any()
                .downcast_ref::<ListArray>()
                .map(|a| {
                    (0..a.len())
                        .map(|i| {
                            if a.is_valid(i) {
                                row_to_scalar(elem, a.value(i).as_ref())
                            } else {
                                empty_row(elem)
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            scalars(D::ArrayData(ArrayArray {
                data,
                element_type: elem.milvus_code(),
            }))
        }
        DataType::FloatVector => {
            let dim = field.dim.unwrap_or(0);
            let data = array
                .as_any()
                .downcast_ref::<FixedSizeListArray>()
                .map(|a| vector_values(a, dim))
                .unwrap_or_default();
            float_vectors(dim, data)
        }
        DataType::SparseFloatVector => {
            // Null rows are left out (compacted), as for dense vectors.
            let contents = array
                .as_any()
                .downcast_ref::<arrow::array::BinaryArray>()
                .map(|a| a.iter().flatten().map(<[u8]>::to_vec).collect())
                .unwrap_or_default();
            sparse_vectors(contents)
        }
    };
    fd.valid_data = valid;
    fd
}

/// Flat values of a FixedSizeList<Float32>, null rows left out (compacted).
fn vector_values(a: &FixedSizeListArray, dim: usize) -> Vec<f32> {
    let Some(values) = a.values().as_any().downcast_ref::<Float32Array>() else {
        return Vec::new();
    };
    let values = values.values();
    let end = (a.len() * dim).min(values.len());
    match a.nulls() {
        None => values[..end].to_vec(),
        Some(n) => {
            let mut out = Vec::with_capacity(n.len().saturating_sub(n.null_count()) * dim);
            for (row, ok) in n.iter().enumerate() {
                if ok {
                    if let Some(chunk) = values.get(row * dim..(row + 1) * dim) {
                        out.extend_from_slice(chunk);
                    }
                }
            }
            out
        }
    }
}

/// The `$meta` Binary column → `{type JSON, field_name "$meta", is_dynamic}`. With `keys`,
/// each row's object keeps only those keys (missing ones omitted).
pub fn meta_to_field_data(array: &dyn Array, keys: Option<&[String]>) -> FieldData {
    let cast: ArrayRef;
    let array: &dyn Array = if array.data_type() == &ArrowType::Binary {
        array
    } else {
        match arrow::compute::cast(array, &ArrowType::Binary) {
            Ok(a) => {
                cast = a;
                cast.as_ref()
            }
            Err(_) => array,
        }
    };
    let data: Vec<Vec<u8>> = match array.as_binary_opt::<i32>() {
        None => Vec::new(),
        Some(a) => a
            .iter()
            .map(|doc| match (doc, keys) {
                (None, _) => b"{}".to_vec(),
                (Some(doc), None) => doc.to_vec(),
                (Some(doc), Some(keys)) => project(doc, keys),
            })
            .collect(),
    };
    FieldData {
        r#type: DataType::Json.milvus_code(),
        field_name: META_FIELD.to_string(),
        is_dynamic: true,
        field: scalars(D::JsonData(JsonArray { data })),
        ..Default::default()
    }
}

/// `doc` reduced to `keys` (a row that is not a JSON object becomes `{}`).
fn project(doc: &[u8], keys: &[String]) -> Vec<u8> {
    let Ok(mut obj) = serde_json::from_slice::<Map<String, Value>>(doc) else {
        return b"{}".to_vec();
    };
    let mut out = Map::new();
    for k in keys {
        if let Some(v) = obj.remove(k) {
            out.insert(k.clone(), v);
        }
    }
    serde_json::to_vec(&Value::Object(out)).unwrap_or_else(|_| b"{}".to_vec())
}

/// Primary keys (Int64 or Utf8, other integer/string layouts are cast) → IDs.
pub fn pks_to_ids(array: &dyn Array) -> IDs {
    let ints = || IDs {
        id_field: Some(IdField::IntId(LongArray {
            data: prim_values::<Int64Type, _>(array, |v| v),
        })),
    };
    match array.data_type() {
        ArrowType::Int64 => ints(),
        ArrowType::Utf8 => IDs {
            id_field: Some(IdField::StrId(PbStrings {
                data: array
                    .as_string::<i32>()
                    .iter()
                    .map(|s| s.unwrap_or("").to_string())
                    .collect(),
            })),
        },
        t => {
            let target = if t.is_integer() {
                ArrowType::Int64
            } else {
                ArrowType::Utf8
            };
            match arrow::compute::cast(array, &target) {
                Ok(a) if a.data_type() == &target => pks_to_ids(a.as_ref()),
                _ => IDs { id_field: None },
            }
        }
    }
}
