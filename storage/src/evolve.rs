//! Schema evolution: reading rows written before a field was added.
//!
//! `AddCollectionField` appends a field to a live collection without
//! rewriting anything already stored: sealed Parquet segments and WAL records
//! keep the columns they were written with. Whoever brings such a batch into
//! memory (segment load, WAL replay, the schema change itself) passes it
//! through [`CollectionSchema::conform`], which lays it out in the current
//! column order and fills each column the batch lacks with the field's
//! default value, or nulls (added fields are nullable, as Milvus requires).
//! Columns are matched by name: fields are never renamed or dropped.

use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, BinaryArray, BooleanArray, FixedSizeListArray, Float32Array,
    Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, RecordBatch, StringArray,
    UInt32Array,
};
use arrow::buffer::NullBuffer;
use arrow::compute::take;
use arrow::datatypes::DataType as ArrowType;

use crate::error::{Result, StorageError};
use crate::schema::{CollectionSchema, DataType, FieldSchema, ScalarValue, META_FIELD};

impl FieldSchema {
    /// `rows` values for rows stored before this field existed: the default
    /// value repeated, else nulls.
    pub fn backfill(&self, rows: usize) -> Result<ArrayRef> {
        if let (ArrowType::FixedSizeList(item, dim), true) = (self.arrow_type(), self.is_vector()) {
            // Null rows of a vector column hold zeros, so the values stay one
            // contiguous, null-free f32 buffer that scans and builds read as is.
            let width = usize::try_from(dim).unwrap_or(0);
            let zeros = Float32Array::from(vec![0.0f32; rows.saturating_mul(width)]);
            let nulls = NullBuffer::new_null(rows);
            return FixedSizeListArray::try_new(item, dim, Arc::new(zeros), Some(nulls))
                .map(|a| Arc::new(a) as ArrayRef)
                .map_err(|e| StorageError::Arrow(e.to_string()));
        }
        let Some(one) = self.default_array() else {
            return Ok(new_null_array(&self.arrow_type(), rows));
        };
        let zeros = UInt32Array::from(vec![0u32; rows]);
        take(one.as_ref(), &zeros, None).map_err(|e| StorageError::Arrow(e.to_string()))
    }

    /// A one-row array holding the default value (None when there is none or
    /// it does not fit the type, which CreateCollection/AddField refuse).
    fn default_array(&self) -> Option<ArrayRef> {
        let v = self.default_value.as_ref()?;
        let int = match v {
            ScalarValue::Int(i) => Some(*i),
            _ => None,
        };
        let float = match v {
            ScalarValue::Float(x) => Some(*x),
            ScalarValue::Int(i) => Some(*i as f64),
            _ => None,
        };
        Some(match (self.data_type, v) {
            (DataType::Bool, ScalarValue::Bool(b)) => Arc::new(BooleanArray::from(vec![*b])),
            (DataType::Int8, _) => Arc::new(Int8Array::from(vec![i8::try_from(int?).ok()?])),
            (DataType::Int16, _) => Arc::new(Int16Array::from(vec![i16::try_from(int?).ok()?])),
            (DataType::Int32, _) => Arc::new(Int32Array::from(vec![i32::try_from(int?).ok()?])),
            (DataType::Int64, _) => Arc::new(Int64Array::from(vec![int?])),
            (DataType::Float, _) => Arc::new(Float32Array::from(vec![float? as f32])),
            (DataType::Double, _) => Arc::new(Float64Array::from(vec![float?])),
            (DataType::VarChar, ScalarValue::String(s)) => {
                Arc::new(StringArray::from(vec![s.as_str()]))
            }
            _ => return None,
        })
    }
}

impl CollectionSchema {
    /// `batch` laid out as [`Self::arrow_schema`]: its columns matched by name,
    /// missing fields back-filled ([`FieldSchema::backfill`]), a missing
    /// `$meta` as empty objects. A batch already in the current layout is
    /// returned as is (the common case: one pass over the column names).
    pub fn conform(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let target = self.arrow_schema();
        let same_layout = batch.num_columns() == target.fields().len()
            && batch
                .schema()
                .fields()
                .iter()
                .zip(target.fields())
                .all(|(a, b)| a.name() == b.name());
        if same_layout {
            return Ok(batch);
        }
        let rows = batch.num_rows();
        let have = batch.schema();
        let mut columns = Vec::with_capacity(target.fields().len());
        for (i, field) in target.fields().iter().enumerate() {
            let col = match have.index_of(field.name()) {
                Ok(j) => batch.column(j).clone(),
                Err(_) if field.name() == META_FIELD => Arc::new(BinaryArray::from_iter_values(
                    std::iter::repeat_n(b"{}", rows),
                )),
                Err(_) => self.fields[i].backfill(rows)?,
            };
            if col.data_type() != field.data_type() {
                return Err(StorageError::Corrupt(format!(
                    "stored column {} is {}, the schema says {}",
                    field.name(),
                    col.data_type(),
                    field.data_type()
                )));
            }
            columns.push(col);
        }
        RecordBatch::try_new(target, columns).map_err(|e| StorageError::Arrow(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;

    fn schema(extra: Vec<FieldSchema>) -> CollectionSchema {
        let mut pk = FieldSchema::new(100, "id", DataType::Int64);
        pk.is_primary = true;
        let mut fields = vec![pk];
        fields.extend(extra);
        CollectionSchema {
            name: "c".into(),
            description: String::new(),
            fields,
            enable_dynamic_field: true,
        }
    }

    fn old_batch() -> RecordBatch {
        let s = schema(Vec::new());
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(BinaryArray::from_iter_values([
                &b"{\"a\":1}"[..],
                b"{}",
                b"{}",
            ])),
        ];
        RecordBatch::try_new(s.arrow_schema(), cols).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn added_fields_read_as_default_or_null_before_meta() {
        let mut with_default = FieldSchema::new(101, "n", DataType::Int32);
        with_default.nullable = true;
        with_default.default_value = Some(ScalarValue::Int(7));
        let mut plain = FieldSchema::new(102, "s", DataType::VarChar);
        plain.nullable = true;
        let s = schema(vec![with_default, plain]);
        let b = s.conform(old_batch()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.schema(), s.arrow_schema());
        assert_eq!(
            b.column(1)
                .as_primitive::<arrow::datatypes::Int32Type>()
                .values(),
            &[7, 7, 7]
        );
        assert_eq!(b.column(2).null_count(), 3);
        assert_eq!(b.column(3).as_binary::<i32>().value(0), b"{\"a\":1}");
        assert_eq!(b.column(0).as_primitive::<Int64Type>().values(), &[1, 2, 3]);
    }

    #[test]
    fn added_vector_fields_read_as_null_rows_over_zeros() {
        let mut v = FieldSchema::new(101, "v2", DataType::FloatVector);
        v.dim = Some(4);
        v.nullable = true;
        let s = schema(vec![v]);
        let b = s.conform(old_batch()).unwrap_or_else(|e| panic!("{e}"));
        let list = b.column(1).as_fixed_size_list();
        assert_eq!(list.null_count(), 3);
        assert_eq!(list.values().null_count(), 0);
        assert_eq!(list.values().len(), 12);
    }

    #[test]
    fn current_batches_pass_untouched_and_wrong_types_are_refused() {
        let s = schema(Vec::new());
        let b = old_batch();
        let same = s.conform(b.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert!(Arc::ptr_eq(same.column(0), b.column(0)));
        let mut wrong = FieldSchema::new(101, "id2", DataType::Int64);
        wrong.nullable = true;
        let mut s2 = schema(vec![wrong]);
        s2.fields[0].data_type = DataType::VarChar;
        assert!(s2.conform(b).is_err());
    }
}
