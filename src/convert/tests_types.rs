//! Tests for `insert_batch` on nullable, default-valued and ARRAY columns: pymilvus's
//! compacted layout, dense layout, absent columns, and their dense result columns.

use arrow::array::Array;
use quiver_storage::{DataType, ScalarValue};

use super::tests_insert::{base, expected, field, round_trip, run, sc, schema};
use super::*;
use crate::proto::schema::{
    scalar_field::Data as D, ArrayArray, BoolArray, DoubleArray, FloatArray, IntArray, JsonArray,
    LongArray, ScalarField, StringArray,
};

#[test]
fn nullable_compacted_and_dense_round_trip() {
    let cases: Vec<(DataType, D, D, D)> = vec![
        (
            DataType::Bool,
            D::BoolData(BoolArray { data: vec![true] }),
            D::BoolData(BoolArray {
                data: vec![true, true, true],
            }),
            D::BoolData(BoolArray {
                data: vec![true, false, false],
            }),
        ),
        (
            DataType::Int8,
            D::IntData(IntArray { data: vec![7] }),
            D::IntData(IntArray {
                data: vec![7, 9, 9],
            }),
            D::IntData(IntArray {
                data: vec![7, 0, 0],
            }),
        ),
        (
            DataType::Int32,
            D::IntData(IntArray { data: vec![7] }),
            D::IntData(IntArray {
                data: vec![7, 9, 9],
            }),
            D::IntData(IntArray {
                data: vec![7, 0, 0],
            }),
        ),
        (
            DataType::Int64,
            D::LongData(LongArray { data: vec![7] }),
            D::LongData(LongArray {
                data: vec![7, 9, 9],
            }),
            D::LongData(LongArray {
                data: vec![7, 0, 0],
            }),
        ),
        (
            DataType::Float,
            D::FloatData(FloatArray { data: vec![7.0] }),
            D::FloatData(FloatArray {
                data: vec![7.0, 9.0, 9.0],
            }),
            D::FloatData(FloatArray {
                data: vec![7.0, 0.0, 0.0],
            }),
        ),
        (
            DataType::Double,
            D::DoubleData(DoubleArray { data: vec![7.0] }),
            D::DoubleData(DoubleArray {
                data: vec![7.0, 9.0, 9.0],
            }),
            D::DoubleData(DoubleArray {
                data: vec![7.0, 0.0, 0.0],
            }),
        ),
        (
            DataType::VarChar,
            D::StringData(StringArray {
                data: vec!["a".into()],
            }),
            D::StringData(StringArray {
                data: vec!["a".into(), "b".into(), "c".into()],
            }),
            D::StringData(StringArray {
                data: vec!["a".into(), "".into(), "".into()],
            }),
        ),
        (
            DataType::Json,
            D::JsonData(JsonArray {
                data: vec![b"1".to_vec()],
            }),
            D::JsonData(JsonArray {
                data: vec![b"1".to_vec(), b"2".to_vec(), b"2".to_vec()],
            }),
            D::JsonData(JsonArray {
                data: vec![b"1".to_vec(), b"null".to_vec(), b"null".to_vec()],
            }),
        ),
    ];
    let valid = vec![true, false, false];
    for (t, compact, dense, want) in cases {
        let mut f = field(102, "x", t);
        f.nullable = true;
        let s = schema(vec![f.clone()], false);
        let exp = expected(&f, want, valid.clone());
        assert_eq!(
            round_trip(&s, sc(t, "x", compact, valid.clone()), 3),
            exp,
            "compact {t:?}"
        );
        assert_eq!(
            round_trip(&s, sc(t, "x", dense, valid.clone()), 3),
            exp,
            "dense {t:?}"
        );
        // Absent nullable column: every row null.
        let batch = run(&s, base(3), 3).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(batch.column(2).null_count(), 3, "{t:?}");
    }
}

#[test]
fn defaults_fill_nulls_and_absent_columns() {
    let mut f = field(102, "x", DataType::Int32);
    f.default_value = Some(ScalarValue::Int(5));
    let mut g = field(103, "s", DataType::VarChar);
    g.nullable = true;
    g.default_value = Some(ScalarValue::String("dft".into()));
    let mut h = field(104, "d", DataType::Double);
    h.default_value = Some(ScalarValue::Float(2.5));
    let s = schema(vec![f.clone(), g.clone(), h.clone()], false);
    let mut cols = base(3);
    cols.push(sc(
        DataType::Int32,
        "x",
        D::IntData(IntArray { data: vec![1] }),
        vec![false, true, false],
    ));
    cols.push(sc(
        DataType::VarChar,
        "s",
        D::StringData(StringArray {
            data: vec!["q".into()],
        }),
        vec![true, false, false],
    ));
    let batch = run(&s, cols, 3).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        column_to_field_data(&f, batch.column(2).as_ref()),
        expected(
            &f,
            D::IntData(IntArray {
                data: vec![5, 1, 5]
            }),
            vec![]
        )
    );
    assert_eq!(
        column_to_field_data(&g, batch.column(3).as_ref()),
        expected(
            &g,
            D::StringData(StringArray {
                data: vec!["q".into(), "dft".into(), "dft".into()]
            }),
            vec![true; 3]
        )
    );
    assert_eq!(
        column_to_field_data(&h, batch.column(4).as_ref()),
        expected(
            &h,
            D::DoubleData(DoubleArray { data: vec![2.5; 3] }),
            vec![]
        )
    );
}

fn arr_row(d: D) -> ScalarField {
    ScalarField { data: Some(d) }
}

#[test]
fn arrays_round_trip() {
    let mut f = field(102, "tags", DataType::Array);
    f.element_type = Some(DataType::VarChar);
    f.max_capacity = Some(3);
    f.max_length = Some(5);
    f.nullable = true;
    let s = schema(vec![f.clone()], false);
    let strs = |v: &[&str]| {
        arr_row(D::StringData(StringArray {
            data: v.iter().map(|x| x.to_string()).collect(),
        }))
    };
    let input = ArrayArray {
        data: vec![strs(&["a", "b"]), strs(&[])],
        element_type: 21,
    };
    let got = round_trip(
        &s,
        sc(
            DataType::Array,
            "tags",
            D::ArrayData(input),
            vec![true, false, true],
        ),
        3,
    );
    let want = ArrayArray {
        data: vec![strs(&["a", "b"]), strs(&[]), strs(&[])],
        element_type: 21,
    };
    assert_eq!(
        got,
        expected(&f, D::ArrayData(want), vec![true, false, true])
    );

    for (elem, row) in [
        (DataType::Int8, D::IntData(IntArray { data: vec![1, -2] })),
        (DataType::Int16, D::IntData(IntArray { data: vec![1, -2] })),
        (DataType::Int32, D::IntData(IntArray { data: vec![1, -2] })),
        (
            DataType::Int64,
            D::LongData(LongArray { data: vec![1, -2] }),
        ),
        (
            DataType::Bool,
            D::BoolData(BoolArray {
                data: vec![true, false],
            }),
        ),
        (
            DataType::Float,
            D::FloatData(FloatArray {
                data: vec![1.0, -2.0],
            }),
        ),
        (
            DataType::Double,
            D::DoubleData(DoubleArray {
                data: vec![1.0, -2.0],
            }),
        ),
    ] {
        let mut f = field(102, "a", DataType::Array);
        f.element_type = Some(elem);
        f.max_capacity = Some(4);
        let s = schema(vec![f.clone()], false);
        let rows = ArrayArray {
            data: vec![arr_row(row.clone()); 2],
            element_type: elem.milvus_code(),
        };
        let got = round_trip(
            &s,
            sc(DataType::Array, "a", D::ArrayData(rows.clone()), vec![]),
            2,
        );
        assert_eq!(got, expected(&f, D::ArrayData(rows), vec![]), "{elem:?}");
    }
}

fn sparse_row(p: &[(u32, f32)]) -> Vec<u8> {
    p.iter()
        .flat_map(|(i, v)| i.to_le_bytes().into_iter().chain(v.to_le_bytes()))
        .collect()
}

fn sparse_col(name: &str, rows: Vec<Vec<u8>>, valid: Vec<bool>) -> crate::proto::schema::FieldData {
    use crate::proto::schema::{vector_field, SparseFloatArray, VectorField};
    crate::proto::schema::FieldData {
        r#type: DataType::SparseFloatVector.milvus_code(),
        field_name: name.into(),
        field: Some(crate::proto::schema::field_data::Field::Vectors(
            VectorField {
                dim: 0,
                data: Some(vector_field::Data::SparseFloatVector(SparseFloatArray {
                    contents: rows,
                    dim: 0,
                })),
            },
        )),
        valid_data: valid,
        ..Default::default()
    }
}

#[test]
fn sparse_vectors_round_trip_with_nulls_and_milvus_dim() {
    let mut f = field(102, "sv", DataType::SparseFloatVector);
    f.nullable = true;
    let s = schema(vec![f], false);
    let a = sparse_row(&[(3, 0.5), (90, 2.0)]);
    let b = sparse_row(&[(7, 1.0)]);
    // pymilvus's compacted layout: data for the two valid rows of three
    let out = round_trip(
        &s,
        sparse_col("sv", vec![a.clone(), b.clone()], vec![true, false, true]),
        3,
    );
    assert_eq!(out.valid_data, vec![true, false, true]);
    let Some(crate::proto::schema::field_data::Field::Vectors(v)) = out.field else {
        panic!("not a vector column");
    };
    assert_eq!(
        v.dim, 91,
        "one more than the largest index, as Milvus reports"
    );
    let Some(crate::proto::schema::vector_field::Data::SparseFloatVector(sv)) = v.data else {
        panic!("not sparse");
    };
    assert_eq!(sv.contents, vec![a, b]);
}

#[test]
fn invalid_sparse_rows_are_refused_with_milvus_texts() {
    let s = schema(vec![field(102, "sv", DataType::SparseFloatVector)], false);
    for (row, text) in [
        (
            sparse_row(&[(5, 1.0), (2, 1.0)]),
            "unsorted or same indices in sparse float vector",
        ),
        (
            sparse_row(&[(5, -1.0)]),
            "negative value in sparse float vector",
        ),
        (
            sparse_row(&[(5, f32::NAN)]),
            "value 'NaN' is not a number or infinity",
        ),
        (
            vec![1, 2, 3],
            "invalid data length in sparse float vector: 3",
        ),
    ] {
        let mut cols = base(1);
        cols.push(sparse_col("sv", vec![row], Vec::new()));
        match run(&s, cols, 1) {
            Ok(_) => panic!("{text}: accepted"),
            Err(e) => {
                assert_eq!(e.status_parts().0, 1100, "{e}");
                assert!(e.to_string().contains(text), "{e}");
            }
        }
    }
}
