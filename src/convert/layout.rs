//! The shape of a wire column, shared by both directions of `convert`.
//!
//! Row layout: pymilvus sends nullable columns *compacted* (data holds only the non-null
//! values, `valid_data` one flag per row), other clients may send them dense. [`Layout`]
//! decides which of the two a column uses, checks row counts, and expands either form
//! into one `Option<T>` per row. Typed shape: a field's element type, the column header
//! and the empty typed column ([`empty_field_data`]) are what an empty result column and
//! a field an insert left out both start from. Also the naming helpers used in error
//! messages and the value checks every typed column shares.
//!
//! `ingest` and `emit` both build on this module and never on each other, so it imports
//! neither.

use quiver_storage::{DataType, FieldSchema};

use crate::proto::schema::{
    field_data, scalar_field, scalar_field::Data as D, vector_field, ArrayArray, BoolArray,
    DoubleArray, FieldData, FloatArray, IntArray, JsonArray, LongArray, ScalarField,
    StringArray as PbStrings, VectorField,
};
use quiver_engine::error::{invalid, parameter_invalid_msg, Result};

/// How a column's data lines up with its rows.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Layout {
    /// No nulls: one datum per row.
    AllValid,
    /// One datum per row; rows whose flag is false hold a placeholder.
    Dense(Vec<bool>),
    /// Data only for the rows whose flag is true.
    Compact(Vec<bool>),
}

impl Layout {
    /// Works out the layout from `valid_data` and the number of data items (in rows).
    pub(super) fn resolve(
        field: &FieldSchema,
        valid: Vec<bool>,
        n_data: usize,
        num_rows: usize,
    ) -> Result<Layout> {
        if valid.is_empty() {
            check_rows(&field.name, n_data, num_rows)?;
            return Ok(Layout::AllValid);
        }
        check_rows(&field.name, valid.len(), num_rows)?;
        let n_valid = valid.iter().filter(|&&v| v).count();
        let layout = if n_valid == num_rows {
            check_rows(&field.name, n_data, num_rows)?;
            return Ok(Layout::AllValid);
        } else if n_data == num_rows {
            Layout::Dense(valid)
        } else if n_data == n_valid {
            Layout::Compact(valid)
        } else {
            return Err(invalid(format!(
                "the num_rows ({n_data}) of field ({}) is not equal to the number of valid rows ({n_valid}) in valid_data",
                field.name
            )));
        };
        if !field.nullable && field.default_value.is_none() {
            return Err(invalid(format!(
                "the field ({}) is not nullable and has no default value, but null values were passed",
                field.name
            )));
        }
        Ok(layout)
    }

    /// Expands `data` into one entry per row.
    pub(super) fn expand<T>(self, data: Vec<T>) -> Vec<Option<T>> {
        match self {
            Layout::AllValid => data.into_iter().map(Some).collect(),
            Layout::Dense(valid) => data
                .into_iter()
                .zip(valid)
                .map(|(d, v)| v.then_some(d))
                .collect(),
            Layout::Compact(valid) => {
                let mut it = data.into_iter();
                valid
                    .into_iter()
                    .map(|v| if v { it.next() } else { None })
                    .collect()
            }
        }
    }
}

/// `the num_rows (x) of field (f) is not equal to passed num_rows (n)` unless equal.
pub(super) fn check_rows(name: &str, got: usize, num_rows: usize) -> Result<()> {
    if got != num_rows {
        return Err(invalid(format!(
            "the num_rows ({got}) of field ({name}) is not equal to passed num_rows ({num_rows})"
        )));
    }
    Ok(())
}

/// Milvus's spelling of a data type, for messages.
pub(super) fn type_name(t: DataType) -> &'static str {
    match t {
        DataType::Bool => "Bool",
        DataType::Int8 => "Int8",
        DataType::Int16 => "Int16",
        DataType::Int32 => "Int32",
        DataType::Int64 => "Int64",
        DataType::Float => "Float",
        DataType::Double => "Double",
        DataType::VarChar => "VarChar",
        DataType::Array => "Array",
        DataType::Json => "JSON",
        DataType::FloatVector => "FloatVector",
        DataType::SparseFloatVector => "SparseFloatVector",
    }
}

/// The proto name of the oneof member a scalar column carries.
pub(super) fn scalar_kind(d: &Option<scalar_field::Data>) -> &'static str {
    match d {
        None => "no data",
        Some(D::BoolData(_)) => "bool_data",
        Some(D::IntData(_)) => "int_data",
        Some(D::LongData(_)) => "long_data",
        Some(D::FloatData(_)) => "float_data",
        Some(D::DoubleData(_)) => "double_data",
        Some(D::StringData(_)) => "string_data",
        Some(D::BytesData(_)) => "bytes_data",
        Some(D::ArrayData(_)) => "array_data",
        Some(D::JsonData(_)) => "json_data",
        Some(D::GeometryData(_)) => "geometry_data",
        Some(D::TimestamptzData(_)) => "timestamptz_data",
        Some(D::GeometryWktData(_)) => "geometry_wkt_data",
        Some(D::MolData(_)) => "mol_data",
        Some(D::MolSmilesData(_)) => "mol_smiles_data",
        Some(D::DateData(_)) => "date_data",
        Some(D::TimeData(_)) => "time_data",
    }
}

/// The proto name of whatever a `FieldData` column carries.
pub(super) fn column_kind(fd: &FieldData) -> &'static str {
    use vector_field::Data as V;
    match &fd.field {
        None => "no data",
        Some(field_data::Field::Scalars(s)) => scalar_kind(&s.data),
        Some(field_data::Field::StructArrays(_)) => "struct_arrays",
        Some(field_data::Field::Vectors(v)) => match &v.data {
            None => "no vector data",
            Some(V::FloatVector(_)) => "float_vector",
            Some(V::BinaryVector(_)) => "binary_vector",
            Some(V::Float16Vector(_)) => "float16_vector",
            Some(V::Bfloat16Vector(_)) => "bfloat16_vector",
            Some(V::SparseFloatVector(_)) => "sparse_float_vector",
            Some(V::Int8Vector(_)) => "int8_vector",
            Some(V::VectorArray(_)) => "vector_array",
        },
    }
}

/// `type mismatch for field x: expected Int64, got float_data`.
pub(super) fn mismatch(
    name: &str,
    expected: DataType,
    got: &str,
) -> quiver_engine::error::QuiverError {
    invalid(format!(
        "type mismatch for field {name}: expected {}, got {got}",
        type_name(expected)
    ))
}

/// Takes the scalar oneof out of a column (None when the column carries none).
pub(super) fn take_scalars(fd: &mut FieldData) -> Option<Option<scalar_field::Data>> {
    match fd.field.take() {
        Some(field_data::Field::Scalars(ScalarField { data })) => Some(data),
        other => {
            fd.field = other;
            None
        }
    }
}

/// Rejects NaN and infinities (`what` names the column in the message).
pub(super) fn check_finite<T: Copy + Into<f64>>(name: &str, values: &[T]) -> Result<()> {
    if let Some(pos) = values.iter().position(|&v| !v.into().is_finite()) {
        let v: f64 = values[pos].into();
        return Err(invalid(format!(
            "the value ({v}) at position {pos} of field ({name}) is not a finite number (NaN and infinity are not allowed)"
        )));
    }
    Ok(())
}

/// Rejects a VARCHAR field's strings longer than `max_length` bytes, in
/// Milvus 2.6's words (`checkVarCharFieldData`; the row counts sent values).
pub(super) fn check_varchar(
    name: &str,
    max_length: Option<usize>,
    values: &[String],
) -> Result<()> {
    if let Some(max) = max_length {
        if let Some((row, s)) = values.iter().enumerate().find(|(_, s)| s.len() > max) {
            return Err(parameter_invalid_msg(format!(
                "length of varchar field {name} exceeds max length, row number: {row}, \
                 length: {}, max length: {max}",
                s.len()
            )));
        }
    }
    Ok(())
}

/// Rejects VARCHAR elements of one ARRAY value longer than `max_length` bytes.
pub(super) fn check_varchar_elements(
    name: &str,
    max_length: Option<usize>,
    values: &[String],
) -> Result<()> {
    if let Some(max) = max_length {
        if let Some(s) = values.iter().find(|s| s.len() > max) {
            return Err(invalid(format!(
                "the length ({}) of varchar field ({name}) exceeds max length ({max})",
                s.len()
            )));
        }
    }
    Ok(())
}

/// The element type of an ARRAY field (Int64 when the schema leaves it unset, as
/// `FieldSchema::arrow_type` does).
pub(super) fn element_type(field: &FieldSchema) -> DataType {
    field.element_type.unwrap_or(DataType::Int64)
}

/// The column header (type, name, id) of a column for `field`.
pub(super) fn header(field: &FieldSchema) -> FieldData {
    FieldData {
        r#type: field.data_type.milvus_code(),
        field_name: field.name.clone(),
        field_id: field.id,
        ..Default::default()
    }
}

/// A column's `field` holding the scalar oneof `data`.
pub(super) fn scalars(data: D) -> Option<field_data::Field> {
    Some(field_data::Field::Scalars(ScalarField { data: Some(data) }))
}

/// A column's `field` holding sparse rows in the wire format; `dim` (here and
/// in the array) is one more than the largest index, as Milvus reports it.
pub(super) fn sparse_vectors(contents: Vec<Vec<u8>>) -> Option<field_data::Field> {
    let dim = contents
        .iter()
        .map(|r| quiver_index::sparse::row_dim(r))
        .max()
        .unwrap_or(0) as i64;
    Some(field_data::Field::Vectors(VectorField {
        dim,
        data: Some(vector_field::Data::SparseFloatVector(
            crate::proto::schema::SparseFloatArray { contents, dim },
        )),
    }))
}

/// A column's `field` holding `data` as float vectors of `dim` elements.
pub(super) fn float_vectors(dim: usize, data: Vec<f32>) -> Option<field_data::Field> {
    Some(field_data::Field::Vectors(VectorField {
        dim: dim as i64,
        data: Some(vector_field::Data::FloatVector(FloatArray { data })),
    }))
}

/// An empty, typed column for `field` (scalar oneof set, `dim` on vectors): an empty
/// result column, and the starting point for a field an insert left out.
pub fn empty_field_data(field: &FieldSchema) -> FieldData {
    let mut fd = header(field);
    fd.field = match field.data_type {
        DataType::Bool => scalars(D::BoolData(BoolArray::default())),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => {
            scalars(D::IntData(IntArray::default()))
        }
        DataType::Int64 => scalars(D::LongData(LongArray::default())),
        DataType::Float => scalars(D::FloatData(FloatArray::default())),
        DataType::Double => scalars(D::DoubleData(DoubleArray::default())),
        DataType::VarChar => scalars(D::StringData(PbStrings::default())),
        DataType::Json => scalars(D::JsonData(JsonArray::default())),
        DataType::Array => scalars(D::ArrayData(ArrayArray {
            data: Vec::new(),
            element_type: element_type(field).milvus_code(),
        })),
        DataType::FloatVector => float_vectors(field.dim.unwrap_or(0), Vec::new()),
        DataType::SparseFloatVector => sparse_vectors(Vec::new()),
    };
    fd
}
