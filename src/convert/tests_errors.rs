//! Tests for every client mistake `insert_batch` rejects (all Milvus code 1100).

use quiver_storage::DataType;

use super::tests_insert::{field, longs, run, sc, schema, vecs};
use crate::proto::schema::{
    scalar_field::Data as D, ArrayArray, DoubleArray, FieldData, FloatArray, IntArray, JsonArray,
    LongArray, ScalarField, StringArray,
};

fn err(s: &quiver_storage::CollectionSchema, cols: Vec<FieldData>, n: usize) -> String {
    match run(s, cols, n) {
        Ok(_) => panic!("expected an error"),
        Err(e) => {
            assert_eq!(e.status_parts().0, 1100, "{e}");
            e.to_string()
        }
    }
}

fn with(extra: FieldData, n: usize) -> Vec<FieldData> {
    vec![
        longs("id", (0..n as i64).collect()),
        vecs("v", 2, vec![0.5; 2 * n]),
        extra,
    ]
}

#[test]
fn wrong_dim_and_counts() {
    let s = schema(vec![], false);
    let e = err(
        &s,
        vec![longs("id", vec![1]), vecs("v", 3, vec![0.0; 3])],
        1,
    );
    assert!(
        e.contains("the length(3) of float data should divide the dim(2)"),
        "{e}"
    );
    let e = err(
        &s,
        vec![longs("id", vec![1]), vecs("v", 4, vec![0.0; 4])],
        1,
    );
    assert!(
        e.contains(
            "the dim (4) of field data(v) is not equal to schema dim (2): invalid parameter\
             [expected=2][actual=4]"
        ),
        "{e}"
    );
    let e = err(
        &s,
        vec![longs("id", vec![1]), vecs("v", 0, vec![0.0; 3])],
        1,
    );
    // No declared dim: the length is still checked against the schema's.
    assert!(
        e.contains("the length(3) of float data should divide the dim(2)"),
        "{e}"
    );
    let e = err(
        &s,
        vec![longs("id", vec![1, 2, 3]), vecs("v", 2, vec![0.0; 8])],
        4,
    );
    assert!(
        e.contains("the num_rows (3) of field (id) is not equal to passed num_rows (4)"),
        "{e}"
    );
    let e = err(
        &s,
        vec![longs("id", vec![1]), vecs("v", 2, vec![0.0; 4])],
        1,
    );
    assert!(e.contains("the num_rows (2) of field (v)"), "{e}");
    assert!(err(&s, vec![], 0).contains("num_rows"));
}

#[test]
fn missing_unknown_duplicate_fields() {
    let s = schema(vec![field(102, "x", DataType::Int64)], false);
    let e = err(
        &s,
        vec![longs("id", vec![1]), vecs("v", 2, vec![0.0; 2])],
        1,
    );
    assert!(e.contains("field (x) not passed"), "{e}");
    let e = err(&s, with(longs("nope", vec![1]), 1), 1);
    assert!(e.contains("field (nope) does not exist"), "{e}");
    let mut cols = with(longs("x", vec![1]), 1);
    cols.push(longs("x", vec![1]));
    assert!(err(&s, cols, 1).contains("duplicated field name (x)"));
    let mut anon = longs("", vec![1]);
    assert!(err(&s, with(anon.clone(), 1), 1).contains("field id not passed"));
    // Routed by id when the name is empty.
    anon.field_id = 102;
    assert!(run(&s, with(anon, 1), 1).is_ok());
}

#[test]
fn type_mismatches() {
    let s = schema(vec![field(102, "x", DataType::Int64)], false);
    let e = err(
        &s,
        with(
            sc(
                DataType::Float,
                "x",
                D::FloatData(FloatArray { data: vec![1.0] }),
                vec![],
            ),
            1,
        ),
        1,
    );
    assert!(
        e.contains("type mismatch for field x: expected Int64, got float_data"),
        "{e}"
    );
    let s = schema(vec![field(102, "x", DataType::Int32)], false);
    let e = err(&s, with(longs("x", vec![1]), 1), 1);
    assert!(e.contains("expected Int32, got long_data"), "{e}");
    let s = schema(vec![], false);
    let e = err(&s, vec![longs("id", vec![1]), longs("v", vec![1])], 1);
    assert!(e.contains("expected FloatVector, got long_data"), "{e}");
    let e = err(
        &s,
        vec![vecs("id", 2, vec![0.0; 2]), vecs("v", 2, vec![0.0; 2])],
        1,
    );
    assert!(e.contains("expected Int64, got float_vector"), "{e}");
}

#[test]
fn value_checks() {
    let s = schema(vec![field(102, "x", DataType::Float)], false);
    for bad in [f32::NAN, f32::INFINITY] {
        let e = err(
            &s,
            with(
                sc(
                    DataType::Float,
                    "x",
                    D::FloatData(FloatArray { data: vec![bad] }),
                    vec![],
                ),
                1,
            ),
            1,
        );
        assert!(e.contains("not a finite number"), "{e}");
    }
    let s = schema(vec![field(102, "x", DataType::Double)], false);
    let e = err(
        &s,
        with(
            sc(
                DataType::Double,
                "x",
                D::DoubleData(DoubleArray {
                    data: vec![f64::NEG_INFINITY],
                }),
                vec![],
            ),
            1,
        ),
        1,
    );
    assert!(e.contains("not a finite number"), "{e}");
    let s = schema(vec![], false);
    let e = err(
        &s,
        vec![longs("id", vec![1]), vecs("v", 2, vec![0.0, f32::NAN])],
        1,
    );
    assert!(e.contains("not a finite number"), "{e}");

    let s = schema(vec![field(102, "x", DataType::Int8)], false);
    let e = err(
        &s,
        with(
            sc(
                DataType::Int8,
                "x",
                D::IntData(IntArray { data: vec![128] }),
                vec![],
            ),
            1,
        ),
        1,
    );
    assert!(e.contains("out of range for Int8"), "{e}");

    let mut f = field(102, "name", DataType::VarChar);
    f.max_length = Some(64);
    let s = schema(vec![f], false);
    let long = "é".repeat(35);
    let e = err(
        &s,
        with(
            sc(
                DataType::VarChar,
                "name",
                D::StringData(StringArray { data: vec![long] }),
                vec![],
            ),
            1,
        ),
        1,
    );
    assert!(
        e.contains("length of varchar field name exceeds max length, row number: 0, length: 70, max length: 64"),
        "{e}"
    );

    let s = schema(vec![field(102, "j", DataType::Json)], false);
    let e = err(
        &s,
        with(
            sc(
                DataType::Json,
                "j",
                D::JsonData(JsonArray {
                    data: vec![b"{oops".to_vec()],
                }),
                vec![],
            ),
            1,
        ),
        1,
    );
    assert!(e.contains("invalid JSON"), "{e}");
}

#[test]
fn json_no_client_can_read_back_is_refused() {
    let s = schema(vec![field(102, "j", DataType::Json)], false);
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    for doc in [
        br#"{"a": "\ud800"}"#.to_vec(),
        br#"{"a": 1e999}"#.to_vec(),
        deep.into_bytes(),
    ] {
        let col = sc(
            DataType::Json,
            "j",
            D::JsonData(JsonArray { data: vec![doc] }),
            vec![],
        );
        let e = err(&s, with(col, 1), 1);
        assert!(e.contains("invalid JSON in field (j)"), "{e}");
    }
    // The dynamic field is held to the same rule.
    let s = schema(vec![], true);
    let meta = FieldData {
        field_name: "$meta".into(),
        is_dynamic: true,
        ..sc(
            DataType::Json,
            "$meta",
            D::JsonData(JsonArray {
                data: vec![br#"{"a": 1e999}"#.to_vec()],
            }),
            vec![],
        )
    };
    let e = err(&s, with(meta, 1), 1);
    assert!(e.contains("must be a JSON object"), "{e}");
}

#[test]
fn num_rows_beyond_the_data_is_refused_before_allocating() {
    let s = schema(vec![], false);
    let e = err(
        &s,
        vec![longs("id", vec![1]), vecs("v", 2, vec![0.0; 2])],
        usize::MAX / 2,
    );
    assert!(e.contains("is not equal to passed num_rows"), "{e}");
    assert!(err(&s, vec![], 5).contains("no field data passed"));
}

#[test]
fn nullability_checks() {
    let s = schema(vec![field(102, "x", DataType::Int64)], false);
    let e = err(
        &s,
        with(
            sc(
                DataType::Int64,
                "x",
                D::LongData(LongArray { data: vec![] }),
                vec![false],
            ),
            1,
        ),
        1,
    );
    assert!(e.contains("not nullable"), "{e}");
    let mut f = field(102, "x", DataType::Int64);
    f.nullable = true;
    let s = schema(vec![f], false);
    // valid_data of the wrong length, and data matching neither layout.
    let e = err(
        &s,
        with(
            sc(
                DataType::Int64,
                "x",
                D::LongData(LongArray { data: vec![1] }),
                vec![true, false],
            ),
            1,
        ),
        1,
    );
    assert!(e.contains("the num_rows (2) of field (x)"), "{e}");
    let e = err(
        &s,
        with(
            sc(
                DataType::Int64,
                "x",
                D::LongData(LongArray { data: vec![1, 2] }),
                vec![true, false, false],
            ),
            3,
        ),
        3,
    );
    assert!(e.contains("valid rows"), "{e}");
}

#[test]
fn array_checks() {
    let mut f = field(102, "a", DataType::Array);
    f.element_type = Some(DataType::Int64);
    f.max_capacity = Some(2);
    let s = schema(vec![f], false);
    let arr = |rows: Vec<ScalarField>, et: i32| {
        sc(
            DataType::Array,
            "a",
            D::ArrayData(ArrayArray {
                data: rows,
                element_type: et,
            }),
            vec![],
        )
    };
    let longs_row = |v: Vec<i64>| ScalarField {
        data: Some(D::LongData(LongArray { data: v })),
    };
    let e = err(&s, with(arr(vec![longs_row(vec![1, 2, 3])], 5), 1), 1);
    assert!(e.contains("exceeds max capacity (2)"), "{e}");
    let e = err(&s, with(arr(vec![longs_row(vec![1])], 21), 1), 1);
    assert!(e.contains("expected array elements of type Int64"), "{e}");
    let bad = ScalarField {
        data: Some(D::IntData(IntArray { data: vec![1] })),
    };
    let e = err(&s, with(arr(vec![bad], 0), 1), 1);
    assert!(e.contains("got int_data in row 0"), "{e}");
    // An empty ScalarField is an empty row.
    assert!(run(&s, with(arr(vec![ScalarField { data: None }], 5), 1), 1).is_ok());

    let mut f = field(102, "a", DataType::Array);
    f.element_type = Some(DataType::VarChar);
    f.max_capacity = Some(4);
    f.max_length = Some(2);
    let s = schema(vec![f], false);
    let row = ScalarField {
        data: Some(D::StringData(StringArray {
            data: vec!["abc".into()],
        })),
    };
    let e = err(&s, with(arr(vec![row], 21), 1), 1);
    assert!(
        e.contains("the length (3) of varchar field (a) exceeds max length (2)"),
        "{e}"
    );
}
