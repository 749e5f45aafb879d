//! Tests for the result side (`empty_field_data`, `meta_to_field_data`, ids), placeholder
//! decoding, and the large-insert fast path.

use std::sync::Arc;

use arrow::array::{Array, BinaryArray, Int32Array, Int64Array, StringArray as ArrowStrings};
use prost::Message;
use quiver_filter::PkValue;
use quiver_storage::DataType;

use super::ingest::f16_to_f32;
use super::tests_insert::{field, longs, schema, vecs};
use super::*;
use crate::proto::common::{PlaceholderGroup, PlaceholderType, PlaceholderValue};
use crate::proto::schema::{
    field_data, i_ds::IdField, scalar_field::Data as D, vector_field, LongArray, StringArray,
};

#[test]
fn empty_columns_are_typed() {
    let mut v = field(101, "v", DataType::FloatVector);
    v.dim = Some(8);
    match empty_field_data(&v).field {
        Some(field_data::Field::Vectors(vf)) => {
            assert_eq!(vf.dim, 8);
            assert!(matches!(vf.data, Some(vector_field::Data::FloatVector(_))));
        }
        other => panic!("{other:?}"),
    }
    let mut a = field(102, "a", DataType::Array);
    a.element_type = Some(DataType::VarChar);
    for (f, want) in [
        (field(1, "b", DataType::Bool), "bool"),
        (field(1, "i", DataType::Int16), "int"),
        (field(1, "l", DataType::Int64), "long"),
        (field(1, "s", DataType::VarChar), "string"),
        (field(1, "j", DataType::Json), "json"),
        (a, "array"),
    ] {
        let fd = empty_field_data(&f);
        assert_eq!(fd.r#type, f.data_type.milvus_code());
        assert_eq!(fd.field_name, f.name);
        let got = match fd.field {
            Some(field_data::Field::Scalars(s)) => match s.data {
                Some(D::BoolData(_)) => "bool",
                Some(D::IntData(_)) => "int",
                Some(D::LongData(_)) => "long",
                Some(D::StringData(_)) => "string",
                Some(D::JsonData(_)) => "json",
                Some(D::ArrayData(a)) => {
                    assert_eq!(a.element_type, 21);
                    "array"
                }
                _ => "other",
            },
            _ => "none",
        };
        assert_eq!(got, want);
    }
}

#[test]
fn column_of_other_width_is_cast() {
    let f = field(102, "x", DataType::Int64);
    let fd = column_to_field_data(&f, &Int32Array::from(vec![1, 2]));
    assert!(matches!(
        fd.field,
        Some(field_data::Field::Scalars(s)) if s.data == Some(D::LongData(LongArray { data: vec![1, 2] }))
    ));
}

fn json_of(fd: &crate::proto::schema::FieldData) -> Vec<String> {
    match &fd.field {
        Some(field_data::Field::Scalars(s)) => match &s.data {
            Some(D::JsonData(j)) => j
                .data
                .iter()
                .map(|d| String::from_utf8_lossy(d).into_owned())
                .collect(),
            _ => panic!("not json"),
        },
        _ => panic!("not scalars"),
    }
}

#[test]
fn meta_projection() {
    let col = BinaryArray::from(vec![
        &b"{\"a\":1,\"b\":\"x\",\"c\":[1]}"[..],
        &b"{\"c\":2}"[..],
    ]);
    let all = meta_to_field_data(&col, None);
    assert!(all.is_dynamic);
    assert_eq!(all.field_name, "$meta");
    assert_eq!(all.r#type, 23);
    assert_eq!(
        json_of(&all),
        vec!["{\"a\":1,\"b\":\"x\",\"c\":[1]}", "{\"c\":2}"]
    );
    let keys = vec!["b".to_string(), "c".to_string(), "zz".to_string()];
    let some = meta_to_field_data(&col, Some(&keys));
    let rows: Vec<serde_json::Value> = json_of(&some)
        .iter()
        .map(|s| serde_json::from_str(s).unwrap_or_default())
        .collect();
    assert_eq!(rows[0], serde_json::json!({"b": "x", "c": [1]}));
    assert_eq!(rows[1], serde_json::json!({"c": 2}));
    // Slices keep their own rows.
    assert_eq!(
        json_of(&meta_to_field_data(&col.slice(1, 1), None)),
        vec!["{\"c\":2}"]
    );
}

#[test]
fn ids_both_ways() {
    let ids = pks_to_ids(&Int64Array::from(vec![3, 1]));
    assert_eq!(ids_to_pks(&ids), vec![PkValue::Int(3), PkValue::Int(1)]);
    let ids = pks_to_ids(&ArrowStrings::from(vec!["a", "b"]));
    assert!(
        matches!(&ids.id_field, Some(IdField::StrId(StringArray { data })) if data == &["a", "b"])
    );
    assert_eq!(
        ids_to_pks(&ids),
        vec![PkValue::Str("a".into()), PkValue::Str("b".into())]
    );
    let sliced = Int64Array::from(vec![1, 2, 3]).slice(1, 2);
    assert!(
        matches!(pks_to_ids(&sliced).id_field, Some(IdField::IntId(LongArray { data })) if data == [2, 3])
    );
    assert!(ids_to_pks(&crate::proto::schema::IDs { id_field: None }).is_empty());
}

fn group(t: PlaceholderType, values: Vec<Vec<u8>>) -> Vec<u8> {
    PlaceholderGroup {
        placeholders: vec![PlaceholderValue {
            tag: "$0".into(),
            r#type: t as i32,
            values,
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn placeholder_groups() {
    let bytes = group(
        PlaceholderType::FloatVector,
        vec![f32s(&[1.0, 2.0]), f32s(&[-3.5, 0.25])],
    );
    assert_eq!(
        decode_placeholder_group(&bytes, 2).unwrap_or_default(),
        vec![vec![1.0, 2.0], vec![-3.5, 0.25]]
    );
    let e = decode_placeholder_group(&bytes, 3)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("the dim (2) of search data is not equal to schema dim (3)"),
        "{e}"
    );
    // float16: 1.0 = 0x3c00, -2.0 = 0xc000; bfloat16: upper half of the f32 bits.
    let h = group(
        PlaceholderType::Float16Vector,
        vec![vec![0x00, 0x3c, 0x00, 0xc0]],
    );
    assert_eq!(
        decode_placeholder_group(&h, 2).unwrap_or_default(),
        vec![vec![1.0, -2.0]]
    );
    let bf = group(
        PlaceholderType::BFloat16Vector,
        vec![vec![0x80, 0x3f, 0x40, 0xc0]],
    );
    assert_eq!(
        decode_placeholder_group(&bf, 2).unwrap_or_default(),
        vec![vec![1.0, -3.0]]
    );
    for bad in [
        group(PlaceholderType::BinaryVector, vec![vec![0u8; 2]]),
        group(PlaceholderType::FloatVector, vec![]),
        PlaceholderGroup::default().encode_to_vec(),
        vec![0xff, 0xff, 0xff],
    ] {
        let e = decode_placeholder_group(&bad, 2)
            .err()
            .map(|e| e.status_parts().0);
        assert_eq!(e, Some(1100));
    }
    assert!(
        decode_placeholder_group(&group(PlaceholderType::BinaryVector, vec![vec![0u8; 2]]), 2)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("unsupported placeholder type")
    );
}

#[test]
fn half_precision_conversion() {
    assert_eq!(f16_to_f32(0x0000), 0.0);
    assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
    assert_eq!(f16_to_f32(0x7bff), 65504.0);
    assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
    assert!(f16_to_f32(0x7c00).is_infinite());
    assert!(f16_to_f32(0x7e00).is_nan());
    assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
}

#[test]
fn large_float_insert_is_fast() {
    let mut s = schema(vec![], false);
    s.fields[1].dim = Some(1536);
    let n = 1000;
    let data: Vec<f32> = (0..n * 1536).map(|i| (i % 97) as f32).collect();
    let ptr = data.as_ptr();
    let cols = vec![longs("id", (0..n as i64).collect()), vecs("v", 1536, data)];
    let t = std::time::Instant::now();
    let batch = super::tests_insert::run(&s, cols, n).unwrap_or_else(|e| panic!("{e}"));
    let took = t.elapsed();
    let fsl = batch
        .column(1)
        .as_any()
        .downcast_ref::<arrow::array::FixedSizeListArray>()
        .map(|a| Arc::clone(a.values()));
    let values = fsl.and_then(|v| {
        v.as_any()
            .downcast_ref::<arrow::array::Float32Array>()
            .map(|a| a.values().as_ptr())
    });
    assert_eq!(values, Some(ptr), "vector buffer must be moved, not copied");
    assert!(took.as_millis() < 50, "took {took:?}");
    eprintln!("1000 x 1536 insert_batch: {took:?}");
}

#[test]
fn foreign_child_names_are_read_without_cast() {
    use arrow::array::{FixedSizeListArray, Float32Array};
    use arrow::datatypes::{DataType as ArrowType, Field};
    let child = Arc::new(Field::new("element", ArrowType::Float32, true));
    let values = Arc::new(Float32Array::from(vec![1.0, 2.0, 3.0, 4.0]));
    let fsl = FixedSizeListArray::new(child, 2, values, None);
    let mut v = field(101, "v", DataType::FloatVector);
    v.dim = Some(2);
    let mut want = vecs("v", 2, vec![3.0, 4.0]);
    want.field_id = 101;
    assert_eq!(column_to_field_data(&v, &fsl.slice(1, 1)), want);
}

#[test]
fn dense_json_placeholders_are_not_parsed() {
    let mut f = field(102, "j", DataType::Json);
    f.nullable = true;
    let s = schema(vec![f], false);
    let mut j = super::tests_insert::sc(
        DataType::Json,
        "j",
        D::JsonData(crate::proto::schema::JsonArray {
            data: vec![b"{}".to_vec(), Vec::new()],
        }),
        vec![true, false],
    );
    j.field_id = 0;
    let cols = vec![longs("id", vec![1, 2]), vecs("v", 2, vec![0.0; 4]), j];
    let batch = super::tests_insert::run(&s, cols, 2).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(batch.column(2).null_count(), 1);
}
