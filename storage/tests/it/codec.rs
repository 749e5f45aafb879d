//! Segment encoding of every column type a collection schema produces.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, FixedSizeListArray, Float32Array,
    Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, ListArray, ListBuilder,
    RecordBatch, StringArray, StringBuilder,
};
use arrow::datatypes::{DataType as ArrowType, Int64Type};
use quiver_storage::{
    batch_to_ipc, batch_to_parquet, ipc_to_batch, parquet_to_batch, CollectionSchema, DataType,
    FieldSchema,
};

use crate::ok;

const DIM: usize = 8;

fn field(id: i64, name: &str, t: DataType, nullable: bool) -> FieldSchema {
    let mut f = FieldSchema::new(id, name, t);
    f.nullable = nullable;
    f
}

/// A schema with one field of every type, some nullable, plus `$meta`.
pub fn full_schema(dim: usize) -> CollectionSchema {
    let mut pk = field(100, "id", DataType::Int64, false);
    pk.is_primary = true;
    let mut v = field(110, "vec", DataType::FloatVector, false);
    v.dim = Some(dim);
    let mut arr_i = field(111, "arr_i", DataType::Array, true);
    arr_i.element_type = Some(DataType::Int64);
    let mut arr_s = field(112, "arr_s", DataType::Array, false);
    arr_s.element_type = Some(DataType::VarChar);
    CollectionSchema {
        name: "everything".into(),
        description: String::new(),
        fields: vec![
            pk,
            field(101, "b", DataType::Bool, true),
            field(102, "i8", DataType::Int8, false),
            field(103, "i16", DataType::Int16, true),
            field(104, "i32", DataType::Int32, false),
            field(105, "f", DataType::Float, false),
            field(106, "d", DataType::Double, true),
            field(107, "s", DataType::VarChar, true),
            field(108, "j", DataType::Json, true),
            v,
            arr_i,
            arr_s,
        ],
        enable_dynamic_field: true,
    }
}

/// `n` rows following [`full_schema`], with nulls in every nullable column.
pub fn full_batch(schema: &CollectionSchema, n: usize) -> RecordBatch {
    let dim = schema.field("vec").and_then(|f| f.dim).unwrap_or(DIM);
    let ni = n as i64;
    let mut arr_s = ListBuilder::new(StringBuilder::new());
    for i in 0..n {
        for k in 0..i % 3 {
            arr_s.values().append_value(format!("t{k}"));
        }
        arr_s.append(true);
    }
    let vec_field = match schema.field("vec").map(FieldSchema::arrow_type) {
        Some(ArrowType::FixedSizeList(f, _)) => f,
        other => panic!("unexpected vector type {other:?}"),
    };
    let values: Vec<f32> = (0..n * dim).map(|x| x as f32 * 0.5).collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..ni)),
        Arc::new(BooleanArray::from_iter(
            (0..n).map(|i| (i % 4 != 0).then_some(i % 2 == 0)),
        )),
        Arc::new(Int8Array::from_iter_values((0..n).map(|i| i as i8))),
        Arc::new(Int16Array::from_iter(
            (0..n).map(|i| (i % 5 != 0).then_some(i as i16)),
        )),
        Arc::new(Int32Array::from_iter_values((0..n).map(|i| i as i32 * -3))),
        Arc::new(Float32Array::from_iter_values(
            (0..n).map(|i| i as f32 / 3.0),
        )),
        Arc::new(Float64Array::from_iter(
            (0..n).map(|i| (i % 3 != 0).then_some(i as f64)),
        )),
        Arc::new(StringArray::from_iter(
            (0..n).map(|i| (i % 6 != 1).then(|| format!("row-{i}"))),
        )),
        Arc::new(BinaryArray::from_iter((0..n).map(|i| {
            (i % 7 != 2).then(|| format!("{{\"k\":{i}}}").into_bytes())
        }))),
        Arc::new(
            FixedSizeListArray::try_new(
                vec_field,
                dim as i32,
                Arc::new(Float32Array::from(values)),
                None,
            )
            .unwrap_or_else(|e| panic!("{e}")),
        ),
        Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(
            (0..n).map(|i| (i % 4 != 3).then(|| (0..i as i64 % 4).map(Some).collect::<Vec<_>>())),
        )),
        Arc::new(arr_s.finish()),
        Arc::new(BinaryArray::from_iter_values(
            (0..n).map(|i| format!("{{\"dyn\":{i}}}").into_bytes()),
        )),
    ];
    RecordBatch::try_new(schema.arrow_schema(), cols).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn parquet_round_trip_preserves_everything() {
    let schema = full_schema(DIM);
    let batch = full_batch(&schema, 1000);
    let bytes = ok(batch_to_parquet(&batch));
    let back = ok(parquet_to_batch(bytes, None));
    assert_eq!(back.schema(), schema.arrow_schema());
    assert_eq!(back, batch);
    assert!(back.column(1).null_count() > 0);
}

#[test]
fn parquet_projection_keeps_selected_columns() {
    let schema = full_schema(DIM);
    let batch = full_batch(&schema, 300);
    let bytes = ok(batch_to_parquet(&batch));
    let cols = [0usize, 9, 12];
    let back = ok(parquet_to_batch(bytes.clone(), Some(&cols)));
    assert_eq!(
        back,
        ok(batch
            .project(&cols)
            .map_err(quiver_storage::StorageError::from))
    );
    assert!(parquet_to_batch(bytes, Some(&[99])).is_err());
}

#[test]
fn empty_batch_round_trips() {
    let schema = full_schema(DIM);
    let batch = RecordBatch::new_empty(schema.arrow_schema());
    let back = ok(parquet_to_batch(ok(batch_to_parquet(&batch)), None));
    assert_eq!(back.num_rows(), 0);
    assert_eq!(back.schema(), schema.arrow_schema());
    let back = ok(ipc_to_batch(&ok(batch_to_ipc(&batch))));
    assert_eq!(back, batch);
}

#[test]
fn ipc_round_trip_preserves_everything() {
    let schema = full_schema(DIM);
    let batch = full_batch(&schema, 257);
    let back = ok(ipc_to_batch(&ok(batch_to_ipc(&batch))));
    assert_eq!(back, batch);
    assert!(ipc_to_batch(b"not arrow").is_err());
}

/// Vectors are stored as fixed-length byte strings, not Parquet lists (see
/// `storage/src/codec.rs`), and come back as the same `FixedSizeList<f32>`.
#[test]
fn vectors_are_stored_as_fixed_length_bytes() {
    use parquet::basic::Type as Physical;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let schema = full_schema(DIM);
    let batch = full_batch(&schema, 50);
    let bytes = ok(batch_to_parquet(&batch));
    let reader = SerializedFileReader::new(bytes.clone()).unwrap_or_else(|e| panic!("{e}"));
    let descr = reader.metadata().file_metadata().schema_descr_ptr();
    let vec_cols: Vec<_> = descr
        .columns()
        .iter()
        .filter(|c| c.path().parts()[0] == "vec")
        .collect();
    assert_eq!(vec_cols.len(), 1);
    assert_eq!(vec_cols[0].physical_type(), Physical::FIXED_LEN_BYTE_ARRAY);
    assert_eq!(vec_cols[0].type_length(), (DIM * 4) as i32);
    assert_eq!(
        vec_cols[0].max_rep_level(),
        0,
        "no repetition level per component"
    );
    // A slice (non-zero offset) round-trips too.
    let part = batch.slice(7, 20);
    assert_eq!(
        ok(parquet_to_batch(ok(batch_to_parquet(&part)), None)),
        part
    );
}

/// Segment files written before vectors were stored as bytes (a Parquet list per
/// row, plain Arrow writer) still read back unchanged.
#[test]
fn list_encoded_vector_files_still_read() {
    let schema = full_schema(DIM);
    let batch = full_batch(&schema, 64);
    let mut out = Vec::new();
    {
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None)
            .unwrap_or_else(|e| panic!("{e}"));
        w.write(&batch).unwrap_or_else(|e| panic!("{e}"));
        w.close().unwrap_or_else(|e| panic!("{e}"));
    }
    let back = ok(parquet_to_batch(bytes::Bytes::from(out), None));
    assert_eq!(back, batch);
}

/// A nullable vector column keeps which rows are null.
#[test]
fn nullable_vectors_round_trip() {
    let mut schema = full_schema(DIM);
    if let Some(f) = schema.fields.iter_mut().find(|f| f.name == "vec") {
        f.nullable = true;
    }
    let batch = full_batch(&schema, 10);
    let vec_idx = 9;
    let list = batch.column(vec_idx).as_fixed_size_list().clone();
    let nulls = arrow::buffer::NullBuffer::from((0..10).map(|i| i % 3 != 0).collect::<Vec<_>>());
    let (field, dim, values, _) = list.into_parts();
    let with_nulls = FixedSizeListArray::try_new(field, dim, values, Some(nulls))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut cols = batch.columns().to_vec();
    cols[vec_idx] = Arc::new(with_nulls);
    let batch = RecordBatch::try_new(schema.arrow_schema(), cols).unwrap_or_else(|e| panic!("{e}"));
    let back = ok(parquet_to_batch(ok(batch_to_parquet(&batch)), None));
    assert_eq!(back, batch);
    assert_eq!(back.column(vec_idx).null_count(), 4);
}

#[test]
fn garbage_parquet_is_an_error() {
    assert!(parquet_to_batch(bytes::Bytes::from_static(b"PAR1garbagePAR1"), None).is_err());
}

/// 100k x 1536 encode/decode timing; run with `--ignored --nocapture`.
#[test]
#[ignore]
fn parquet_speed_100k_by_1536() {
    let schema = full_schema(1536);
    let batch = full_batch(&schema, 100_000);
    let t = Instant::now();
    let bytes = ok(batch_to_parquet(&batch));
    let enc = t.elapsed();
    let t = Instant::now();
    let back = ok(parquet_to_batch(bytes.clone(), None));
    let dec = t.elapsed();
    let t = Instant::now();
    let vec_only = ok(parquet_to_batch(bytes.clone(), Some(&[0, 9])));
    let dec_vec = t.elapsed();
    assert_eq!(back.num_rows(), 100_000);
    assert_eq!(vec_only.num_columns(), 2);
    println!(
        "parquet 100k x 1536: {} MB, encode {enc:?}, decode {dec:?}, decode id+vector {dec_vec:?}",
        bytes.len() >> 20
    );
}
