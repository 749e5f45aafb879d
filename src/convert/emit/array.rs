//! Outgoing ARRAY fields: the rows of an Arrow `List<elem>` → one typed `ScalarField`
//! per row, as `array_data` carries them.
//!
//! Results are best-effort by construction: the segment's column already passed the
//! insert checks, so a row whose values do not downcast to the element type (which
//! cannot happen for data Quiver wrote) comes back empty rather than failing the whole
//! response. The way in (with its checks) is in `ingest::array`.

use arrow::array::{Array, BooleanArray, Int64Array, StringArray};
use quiver_storage::DataType;

use crate::proto::schema::{
    scalar_field::Data as D, BoolArray, DoubleArray, FloatArray, IntArray, LongArray, ScalarField,
    StringArray as PbStrings,
};

/// One list row → the typed `ScalarField` a result carries for it.
pub(super) fn row_to_scalar(elem: DataType, values: &dyn Array) -> ScalarField {
    fn prim<T: arrow::datatypes::ArrowPrimitiveType>(
        v: &dyn Array,
    ) -> Option<&arrow::array::PrimitiveArray<T>> {
        v.as_any().downcast_ref()
    }
    let data = match elem {
        DataType::Bool => D::BoolData(BoolArray {
            data: values
                .as_any()
                .downcast_ref::<BooleanArray>()
                .map(|a| a.iter().map(|x| x.unwrap_or(false)).collect())
                .unwrap_or_default(),
        }),
        DataType::Int8 => D::IntData(IntArray {
            data: prim::<arrow::datatypes::Int8Type>(values)
                .map(|a| a.values().iter().map(|&x| x as i32).collect())
                .unwrap_or_default(),
        }),
        DataType::Int16 => D::IntData(IntArray {
            data: prim::<arrow::datatypes::Int16Type>(values)
                .map(|a| a.values().iter().map(|&x| x as i32).collect())
                .unwrap_or_default(),
        }),
        DataType::Int32 => D::IntData(IntArray {
            data: prim::<arrow::datatypes::Int32Type>(values)
                .map(|a| a.values().to_vec())
                .unwrap_or_default(),
        }),
        DataType::Int64 => D::LongData(LongArray {
            data: prim::<arrow::datatypes::Int64Type>(values)
                .map(|a| a.values().to_vec())
                .unwrap_or_default(),
        }),
        DataType::Float => D::FloatData(FloatArray {
            data: prim::<arrow::datatypes::Float32Type>(values)
                .map(|a| a.values().to_vec())
                .unwrap_or_default(),
        }),
        DataType::Double => D::DoubleData(DoubleArray {
            data: prim::<arrow::datatypes::Float64Type>(values)
                .map(|a| a.values().to_vec())
                .unwrap_or_default(),
        }),
        DataType::VarChar => D::StringData(PbStrings {
            data: values
                .as_any()
                .downcast_ref::<StringArray>()
                .map(|a| a.iter().map(|s| s.unwrap_or("").to_string()).collect())
                .unwrap_or_default(),
        }),
        // Not valid element types; schemas never hold them.
        DataType::Array | DataType::Json | DataType::FloatVector | DataType::SparseFloatVector => {
            D::LongData(LongArray::default())
        }
    };
    ScalarField { data: Some(data) }
}

/// An empty row of the element type (placeholder for null rows, and empty columns).
pub(super) fn empty_row(elem: DataType) -> ScalarField {
    row_to_scalar(elem, &Int64Array::from(Vec::<i64>::new()))
}
