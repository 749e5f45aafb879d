//! Tests for `insert_batch`: round trips through `column_to_field_data` for every type,
//! pymilvus's wire shapes (compacted nullable, `$meta`, arrays, auto_id), and every
//! validation error.

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use quiver_storage::{CollectionSchema, DataType, FieldSchema};

use super::*;
use crate::proto::schema::{
    field_data, scalar_field::Data as D, vector_field, BoolArray, DoubleArray, FieldData,
    FloatArray, IntArray, JsonArray, LongArray, ScalarField, StringArray, VectorField,
};

pub(super) fn field(id: i64, name: &str, t: DataType) -> FieldSchema {
    FieldSchema::new(id, name, t)
}

/// pk Int64 `id`, FloatVector `v` (dim 2), plus `extra`.
pub(super) fn schema(extra: Vec<FieldSchema>, dynamic: bool) -> CollectionSchema {
    let mut pk = field(100, "id", DataType::Int64);
    pk.is_primary = true;
    let mut v = field(101, "v", DataType::FloatVector);
    v.dim = Some(2);
    let mut fields = vec![pk, v];
    fields.extend(extra);
    CollectionSchema {
        name: "c".into(),
        description: String::new(),
        fields,
        enable_dynamic_field: dynamic,
    }
}

pub(super) fn sc(t: DataType, name: &str, data: D, valid: Vec<bool>) -> FieldData {
    FieldData {
        r#type: t.milvus_code(),
        field_name: name.into(),
        field: Some(field_data::Field::Scalars(ScalarField { data: Some(data) })),
        valid_data: valid,
        ..Default::default()
    }
}

pub(super) fn longs(name: &str, v: Vec<i64>) -> FieldData {
    sc(
        DataType::Int64,
        name,
        D::LongData(LongArray { data: v }),
        vec![],
    )
}

pub(super) fn vecs(name: &str, dim: i64, v: Vec<f32>) -> FieldData {
    FieldData {
        r#type: 101,
        field_name: name.into(),
        field: Some(field_data::Field::Vectors(VectorField {
            dim,
            data: Some(vector_field::Data::FloatVector(FloatArray { data: v })),
        })),
        ..Default::default()
    }
}

fn meta(docs: &[&str]) -> FieldData {
    let mut fd = sc(
        DataType::Json,
        "$meta",
        D::JsonData(JsonArray {
            data: docs.iter().map(|d| d.as_bytes().to_vec()).collect(),
        }),
        vec![],
    );
    fd.is_dynamic = true;
    fd
}

pub(super) fn base(n: usize) -> Vec<FieldData> {
    vec![
        longs("id", (0..n as i64).collect()),
        vecs("v", 2, (0..2 * n).map(|x| x as f32).collect()),
    ]
}

fn no_ids() -> impl FnMut() -> i64 {
    || panic!("next_id must not be called")
}

pub(super) fn run(
    s: &CollectionSchema,
    cols: Vec<FieldData>,
    n: usize,
) -> quiver_engine::error::Result<arrow::array::RecordBatch> {
    insert_batch(s, cols, n, false, &mut no_ids())
}

fn err(s: &CollectionSchema, cols: Vec<FieldData>, n: usize) -> String {
    match run(s, cols, n) {
        Ok(_) => panic!("expected an error"),
        Err(e) => {
            assert_eq!(e.status_parts().0, 1100, "{e}");
            e.to_string()
        }
    }
}

/// Inserts `col` (plus pk and vector) and returns the dense result column for field 2.
pub(super) fn round_trip(s: &CollectionSchema, col: FieldData, n: usize) -> FieldData {
    let mut cols = base(n);
    cols.push(col);
    let batch = run(s, cols, n).unwrap_or_else(|e| panic!("{e}"));
    column_to_field_data(&s.fields[2], batch.column(2).as_ref())
}

pub(super) fn expected(f: &FieldSchema, data: D, valid: Vec<bool>) -> FieldData {
    let mut fd = sc(f.data_type, &f.name, data, valid);
    fd.field_id = f.id;
    fd
}

#[test]
fn scalars_round_trip() {
    let cases: Vec<(DataType, D, D)> = vec![
        (
            DataType::Bool,
            D::BoolData(BoolArray {
                data: vec![true, false, true],
            }),
            D::BoolData(BoolArray {
                data: vec![true, false, true],
            }),
        ),
        (
            DataType::Int8,
            D::IntData(IntArray {
                data: vec![-128, 0, 127],
            }),
            D::IntData(IntArray {
                data: vec![-128, 0, 127],
            }),
        ),
        (
            DataType::Int16,
            D::IntData(IntArray {
                data: vec![-300, 0, 300],
            }),
            D::IntData(IntArray {
                data: vec![-300, 0, 300],
            }),
        ),
        (
            DataType::Int32,
            D::IntData(IntArray {
                data: vec![i32::MIN, 1, i32::MAX],
            }),
            D::IntData(IntArray {
                data: vec![i32::MIN, 1, i32::MAX],
            }),
        ),
        (
            DataType::Int64,
            D::LongData(LongArray {
                data: vec![i64::MIN, 1, i64::MAX],
            }),
            D::LongData(LongArray {
                data: vec![i64::MIN, 1, i64::MAX],
            }),
        ),
        (
            DataType::Float,
            D::FloatData(FloatArray {
                data: vec![1.5, -2.0, 0.0],
            }),
            D::FloatData(FloatArray {
                data: vec![1.5, -2.0, 0.0],
            }),
        ),
        (
            DataType::Double,
            D::DoubleData(DoubleArray {
                data: vec![1.5, -2.0, 1e300],
            }),
            D::DoubleData(DoubleArray {
                data: vec![1.5, -2.0, 1e300],
            }),
        ),
        (
            DataType::VarChar,
            D::StringData(StringArray {
                data: vec!["a".into(), "".into(), "héllo".into()],
            }),
            D::StringData(StringArray {
                data: vec!["a".into(), "".into(), "héllo".into()],
            }),
        ),
        (
            DataType::Json,
            D::JsonData(JsonArray {
                data: vec![b"{\"a\":1}".to_vec(), b"[1,2]".to_vec(), b"3".to_vec()],
            }),
            D::JsonData(JsonArray {
                data: vec![b"{\"a\":1}".to_vec(), b"[1,2]".to_vec(), b"3".to_vec()],
            }),
        ),
    ];
    for (t, input, want) in cases {
        let mut f = field(102, "x", t);
        f.max_length = Some(16);
        let s = schema(vec![f.clone()], false);
        let got = round_trip(&s, sc(t, "x", input, vec![]), 3);
        assert_eq!(got, expected(&f, want, vec![]), "{t:?}");
    }
}

#[test]
fn vectors_round_trip_without_copy_semantics_change() {
    let s = schema(vec![], false);
    let batch = run(&s, base(3), 3).unwrap_or_else(|e| panic!("{e}"));
    let got = column_to_field_data(&s.fields[1], batch.column(1).as_ref());
    let mut want = vecs("v", 2, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    want.field_id = 101;
    assert_eq!(got, want);
    // A slice keeps only its rows.
    let got = column_to_field_data(&s.fields[1], batch.column(1).slice(1, 2).as_ref());
    let mut want = vecs("v", 2, vec![2.0, 3.0, 4.0, 5.0]);
    want.field_id = 101;
    assert_eq!(got, want);
    // Unset wire dim is inferred.
    assert!(run(
        &s,
        vec![longs("id", vec![1]), vecs("v", 0, vec![1.0, 2.0])],
        1
    )
    .is_ok());
}

#[test]
fn nullable_vectors_stay_compacted_in_results() {
    let mut s = schema(vec![], false);
    s.fields[1].nullable = true;
    let mut v = vecs("v", 2, vec![1.0, 2.0]);
    v.valid_data = vec![false, true];
    let batch =
        run(&s, vec![longs("id", vec![1, 2]), v.clone()], 2).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(batch.column(1).null_count(), 1);
    let mut want = v;
    want.field_id = 101;
    assert_eq!(
        column_to_field_data(&s.fields[1], batch.column(1).as_ref()),
        want
    );
}

#[test]
fn auto_id_and_upsert() {
    let mut s = schema(vec![], false);
    s.fields[0].auto_id = true;
    let mut next = 1000;
    let mut gen = || {
        next += 1;
        next
    };
    let batch = insert_batch(&s, vec![vecs("v", 2, vec![0.0; 4])], 2, false, &mut gen)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        batch
            .column(0)
            .as_primitive::<Int64Type>()
            .values()
            .to_vec(),
        vec![1001, 1002]
    );
    let e = insert_batch(&s, base(2), 2, false, &mut gen)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("auto_id"), "{e}");
    assert!(insert_batch(&s, base(2), 2, true, &mut gen).is_ok());
    let e = insert_batch(&s, vec![vecs("v", 2, vec![0.0; 4])], 2, true, &mut gen)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("must be passed on upsert"), "{e}");
}

#[test]
fn dynamic_meta() {
    let s = schema(vec![], true);
    let mut cols = base(2);
    cols.push(meta(&["{\"k\":1}", "{}"]));
    let batch = run(&s, cols, 2).unwrap_or_else(|e| panic!("{e}"));
    let m = batch.column(2).as_binary::<i32>();
    assert_eq!(m.value(0), b"{\"k\":1}");
    // Absent → "{}".
    let batch = run(&s, base(2), 2).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(batch.column(2).as_binary::<i32>().value(1), b"{}");
    // By name only (is_dynamic unset) is accepted too.
    let mut cols = base(1);
    let mut m = meta(&["{}"]);
    m.is_dynamic = false;
    cols.push(m);
    assert!(run(&s, cols, 1).is_ok());
    // Errors.
    let mut cols = base(1);
    cols.push(meta(&["[1]"]));
    assert!(err(&s, cols, 1).contains("must be a JSON object"));
    let mut cols = base(1);
    cols.push(meta(&["{\"id\":1}"]));
    assert!(err(&s, cols, 1).contains("static field name: id"));
    let mut cols = base(1);
    cols.push(meta(&["{}"]));
    assert!(err(&schema(vec![], false), cols, 1).contains("not enabled"));
}
