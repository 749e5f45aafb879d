//! Integration tests for `quiver-filter`: a table of expressions evaluated over a
//! small segment with every field type, syntax/semantic errors, API helpers,
//! and never-panic checks on random input.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, FixedSizeListArray, Float32Array, Float64Array,
    Int32Array, Int64Array, Int8Array, ListArray, ListBuilder, StringArray, StringBuilder,
};
use arrow::datatypes::{DataType as ArrowType, Field, Int64Type};
use arrow::record_batch::RecordBatch;
use quiver_filter::{Filter, FilterError, PkValue};
use quiver_storage::{CollectionSchema, DataType, FieldSchema};
use serde_json::{json, Value};

mod fuzz;
mod index;
mod limits;
mod scale;

fn field(id: i64, name: &str, t: DataType, nullable: bool) -> FieldSchema {
    let mut f = FieldSchema::new(id, name, t);
    f.nullable = nullable;
    f
}

pub fn schema(dynamic: bool) -> CollectionSchema {
    let mut id = field(100, "id", DataType::Int64, false);
    id.is_primary = true;
    let mut tags = field(108, "tags", DataType::Array, false);
    tags.element_type = Some(DataType::VarChar);
    let mut nums = field(109, "nums", DataType::Array, false);
    nums.element_type = Some(DataType::Int64);
    let mut vec = field(110, "vec", DataType::FloatVector, false);
    vec.dim = Some(2);
    CollectionSchema {
        name: "c".into(),
        description: String::new(),
        fields: vec![
            id,
            field(101, "name", DataType::VarChar, true),
            field(102, "age", DataType::Int32, true),
            field(103, "score", DataType::Float, false),
            field(104, "price", DataType::Double, false),
            field(105, "flag", DataType::Bool, true),
            field(106, "small", DataType::Int8, false),
            field(107, "meta", DataType::Json, true),
            tags,
            nums,
            vec,
        ],
        enable_dynamic_field: dynamic,
    }
}

fn list_str(rows: &[&[&str]]) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for s in *r {
            b.values().append_value(s);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

pub fn batch() -> RecordBatch {
    let s = schema(true);
    let meta: Vec<Option<&[u8]>> = vec![
        Some(br#"{"a":1,"b":{"c":"x"},"arr":[1,2,3],"s":"hello"}"#),
        Some(br#"{"a":2.5,"b":{"c":"y"},"arr":[4],"s":"world"}"#),
        Some(br#"{"a":"str","arr":[]}"#),
        None,
        Some(b"not json"),
        Some(br#"{"a":10,"b":{"c":"x"},"s":"help"}"#),
    ];
    let dynamic: Vec<&[u8]> = vec![
        br#"{"color":"red","n":5}"#,
        br#"{"color":"blue","n":7,"ok":true}"#,
        b"{}",
        br#"{"color":"red","n":"five"}"#,
        br#"{"n":null}"#,
        br#"{"color":"green","n":6}"#,
    ];
    let nums = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
        Some(vec![Some(1), Some(2), Some(3)]),
        Some(vec![Some(4), Some(5)]),
        Some(vec![]),
        Some(vec![Some(7), Some(8), Some(9), Some(10)]),
        Some(vec![Some(3)]),
        Some(vec![Some(2), Some(3)]),
    ]);
    let vec = FixedSizeListArray::new(
        Arc::new(Field::new("item", ArrowType::Float32, false)),
        2,
        Arc::new(Float32Array::from(vec![0.0f32; 12])),
        None,
    );
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5, 6])),
        Arc::new(StringArray::from(vec![
            Some("alice"),
            Some("bob"),
            None,
            Some("carol"),
            Some("dave's \"x\""),
            Some("alina"),
        ])),
        Arc::new(Int32Array::from(vec![
            Some(30),
            None,
            Some(40),
            Some(25),
            Some(50),
            Some(35),
        ])),
        Arc::new(Float32Array::from(vec![1.5, 2.5, -1.0, 3.0, 0.0, 4.5])),
        Arc::new(Float64Array::from(vec![10.0, 20.5, 0.0, 99.99, 5.0, 1e10])),
        Arc::new(BooleanArray::from(vec![
            Some(true),
            Some(false),
            None,
            Some(true),
            Some(false),
            Some(true),
        ])),
        Arc::new(Int8Array::from(vec![1, -2, 127, 0, 5, -128])),
        Arc::new(BinaryArray::from(meta)),
        list_str(&[
            &["red", "blue"],
            &["green"],
            &[],
            &["red"],
            &["blue", "red", "green"],
            &["x"],
        ]),
        Arc::new(nums),
        Arc::new(vec),
        Arc::new(BinaryArray::from(dynamic)),
    ];
    match RecordBatch::try_new(s.arrow_schema(), cols) {
        Ok(b) => b,
        Err(e) => panic!("bad test batch: {e}"),
    }
}

fn templates() -> HashMap<String, Value> {
    HashMap::from([
        ("a".to_string(), json!(1)),
        ("b".to_string(), json!(6)),
        ("n".to_string(), json!("bob")),
        ("ids".to_string(), json!([2, 3])),
        ("pat".to_string(), json!("al%")),
    ])
}

/// Ids (1-based, = the `id` column) of the rows `expr` matches.
fn matching(expr: &str) -> Vec<i64> {
    let f = Filter::parse(expr, &schema(true), &templates())
        .unwrap_or_else(|e| panic!("parse `{expr}`: {e}"));
    let mask = f
        .evaluate(&batch())
        .unwrap_or_else(|e| panic!("eval `{expr}`: {e}"));
    assert_eq!(mask.len(), 6);
    mask.iter()
        .enumerate()
        .filter(|(_, m)| **m)
        .map(|(i, _)| i as i64 + 1)
        .collect()
}

const ALL: &[i64] = &[1, 2, 3, 4, 5, 6];

#[test]
fn expression_table() {
    let cases: &[(&str, &[i64])] = &[
        ("", ALL),
        ("   ", ALL),
        ("id == 1", &[1]),
        ("id in [2, 4, 99]", &[2, 4]),
        ("id not in [1,2]", &[3, 4, 5, 6]),
        ("not id in [1,2]", &[3, 4, 5, 6]),
        ("id in [1, 2,]", &[1, 2]),
        ("id in []", &[]),
        ("id not in []", ALL),
        ("id == +3", &[3]),
        ("name == \"alice\"", &[1]),
        ("name != \"alice\"", &[2, 4, 5, 6]),
        ("name > \"b\"", &[2, 4, 5]),
        ("name like \"al%\"", &[1, 6]),
        ("name LIKE \"%ol\"", &[4]),
        ("name like \"%li%\"", &[1, 6]),
        ("name like \"b_b\"", &[2]),
        ("name like {pat}", &[1, 6]),
        ("name like \"%\"", &[1, 2, 4, 5, 6]),
        ("name in [\"bob\", \"carol\"]", &[2, 4]),
        (r#"name == 'dave\'s "x"'"#, &[5]),
        (r#"name == "dave's \"x\"""#, &[5]),
        (r#"name == r"alice""#, &[1]),
        ("name == \"\\u0061lice\"", &[1]),
        ("age > 30", &[3, 5, 6]),
        ("age >= 30 and age < 50", &[1, 3, 6]),
        ("25 < age <= 40", &[1, 3, 6]),
        ("40 > age >= 30", &[1, 6]),
        ("age is null", &[2]),
        ("age IS NOT NULL", &[1, 3, 4, 5, 6]),
        ("not (age > 30)", &[1, 4]),
        ("age == 30.0", &[1]),
        ("age > id * 10", &[1, 3]),
        ("score > 1.5", &[2, 4, 6]),
        ("score == 3", &[4]),
        ("score < price", ALL),
        ("price > 1.5e3", &[6]),
        ("price * 2 > 100", &[4, 6]),
        ("id % 2 == 0", &[2, 4, 6]),
        ("id + small > 5", &[3, 5]),
        ("id ** 2 > 20", &[5, 6]),
        ("-id < -4", &[5, 6]),
        ("id == 9223372036854775807 + 1", &[]),
        ("small < 0", &[2, 6]),
        ("small == 300", &[]),
        ("small > -200 and small <= 127", ALL),
        ("flag", &[1, 4, 6]),
        ("flag == false", &[2, 5]),
        ("not flag", &[2, 5]),
        ("!flag", &[2, 5]),
        ("flag is null", &[3]),
        ("TRUE", ALL),
        ("false", &[]),
        ("id == 0x2 or id == 0b11 or id == 04", &[2, 3, 4]),
        ("id > 1 AND id < 4", &[2, 3]),
        ("id < 2 OR id > 5", &[1, 6]),
        ("id > 1 && id < 3 || id == 6", &[2, 6]),
        ("(id < 3 or id > 5) and not (name == \"bob\")", &[1, 6]),
        ("name == \"alice\" and age > 25 and flag", &[1]),
        ("id in [{a}, {b}]", &[1, 6]),
        ("name == {n}", &[2]),
        ("id in {ids}", &[2, 3]),
        ("meta[\"a\"] == 1", &[1]),
        ("meta[\"a\"] > 2", &[2, 6]),
        ("meta[\"a\"] != 1", &[2, 3, 6]),
        ("not (meta[\"a\"] == 1)", &[2, 3, 6]),
        ("meta[\"a\"] + 1 > 3", &[2, 6]),
        ("meta[\"b\"][\"c\"] == \"x\"", &[1, 6]),
        ("meta['arr'][0] == 4", &[2]),
        ("meta[\"arr\"] == [1, 2, 3]", &[1]),
        ("meta[\"s\"] like \"hel%\"", &[1, 6]),
        ("meta[\"a\"] in [1, \"str\"]", &[1, 3]),
        ("json_contains(meta[\"arr\"], 2)", &[1]),
        ("JSON_CONTAINS_ALL(meta[\"arr\"], [1, 3])", &[1]),
        ("json_contains_any(meta[\"arr\"], [4, 3])", &[1, 2]),
        ("array_length(meta[\"arr\"]) == 0", &[3]),
        ("exists meta[\"b\"]", &[1, 2, 6]),
        ("EXISTS meta[\"b\"][\"c\"]", &[1, 2, 6]),
        ("meta[\"b\"] is null", &[3, 4, 5]),
        ("meta[\"b\"] is not null", &[1, 2, 6]),
        ("meta is null", &[4, 5]),
        ("array_contains(tags, \"red\")", &[1, 4, 5]),
        ("ARRAY_CONTAINS_ALL(tags, [\"red\", \"blue\"])", &[1, 5]),
        ("array_contains_any(tags, [\"green\", \"x\"])", &[2, 5, 6]),
        ("tags[0] == \"red\"", &[1, 4]),
        ("tags == [\"green\"]", &[2]),
        ("array_length(tags) == 1", &[2, 4, 6]),
        ("array_length(nums) >= 3", &[1, 4]),
        ("nums == [2, 3]", &[6]),
        ("nums[1] > 4", &[2, 4]),
        ("nums[10] == 1", &[]),
        ("array_contains(nums, 3)", &[1, 5, 6]),
        ("color == \"red\"", &[1, 4]),
        ("$meta[\"color\"] == \"blue\"", &[2]),
        ("n > 5", &[2, 6]),
        ("n is null", &[3, 5]),
        ("exists n", &[1, 2, 4, 5, 6]),
        ("exists $meta[\"ok\"]", &[2]),
        ("ok == true", &[2]),
        ("color in [\"red\", \"green\"] && n == 6", &[6]),
        ("color == \"red\" || id == 3", &[1, 3, 4]),
        (
            "id >= 2 and (color == \"red\" or color == \"green\")",
            &[4, 6],
        ),
        ("color like \"r%\"", &[1, 4]),
        ("score in [1.5, 4.5]", &[1, 6]),
        ("small in [1, -2, 300]", &[1, 2]),
        ("age in [30, 40]", &[1, 3]),
        ("age not in [30, 40]", &[4, 5, 6]),
        ("1 == 1", ALL),
        ("2 > id", &[1]),
        ("\"b\" < name", &[2, 4, 5]),
        ("not (age > 30 and flag)", &[1, 2, 4, 5]),
        ("not (age > 30 or flag)", &[]),
        ("age > 100 or flag is null", &[3]),
        ("meta[\"a\"] == 1 and id == 1", &[1]),
        ("id == 2 and meta[\"a\"] == 1", &[]),
        ("id == 1 or meta[\"a\"] == 10", &[1, 6]),
        ("not (id > 1 and meta[\"a\"] > 2)", &[1, 3]),
    ];
    let mut failures = Vec::new();
    for (expr, want) in cases {
        let got = matching(expr);
        if got != *want {
            failures.push(format!("`{expr}`: want {want:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn parse_err(expr: &str) -> FilterError {
    match Filter::parse(expr, &schema(true), &templates()) {
        Ok(_) => panic!("`{expr}` should not parse"),
        Err(e) => e,
    }
}

#[test]
fn syntax_errors_name_the_position() {
    let cases: &[(&str, usize)] = &[
        ("id >", 4),
        ("id > > 1", 5),
        ("((id == 1)", 10),
        ("id === 1", 5),
        ("\"unterminated", 0),
        ("name == 'abc", 8),
        ("id in [1,", 9),
        ("foo(1)", 0),
        ("name like 3", 10),
        ("name like", 9),
        ("name like name", 10),
        ("name like {a}", 10),
        ("id == 1 )", 8),
        ("id == 1 id", 8),
        ("id == #", 6),
        ("1 < id < 3 < 4", 11),
        ("meta[\"a\"", 8),
        ("id is nul", 6),
        ("99999999999999999999 == id", 0),
        ("{} == 1", 0),
        ("id == 1 and", 11),
    ];
    for (expr, pos) in cases {
        match parse_err(expr) {
            FilterError::Syntax { pos: p, message } => {
                assert_eq!(p, *pos, "`{expr}`: {message}");
                assert!(message.contains(&format!("at position {pos}")), "{message}");
                assert!(message.contains(expr), "{message}");
            }
            other => panic!("`{expr}`: expected syntax error, got {other:?}"),
        }
    }
    let FilterError::Syntax { message, .. } = parse_err("id > > 1") else {
        panic!("expected syntax error");
    };
    assert_eq!(
        message,
        "cannot parse expression: id > > 1, error: unexpected token '>' at position 5"
    );
    let FilterError::Syntax { message, .. } = parse_err("id & 1 == 1") else {
        panic!("expected syntax error");
    };
    assert!(
        message.contains("operator '&' is not supported"),
        "{message}"
    );
    // Positions count characters, not bytes.
    let FilterError::Syntax { pos, .. } = parse_err("name == \"é\" ) ") else {
        panic!("expected syntax error");
    };
    assert_eq!(pos, 12);
}

#[test]
fn semantic_errors() {
    for expr in [
        "name > 3",
        "vec == 1",
        "id == \"a\"",
        "id in [1, \"a\"]",
        "id in 3",
        "array_contains(tags, 1)",
        "array_contains_any(nums, [\"a\"])",
        "text_match(name, \"x\")",
        "random_sample(0.1)",
        "json_contains(id, 1)",
        "array_contains(tags)",
        "json_contains_all(meta, 1)",
        "name + 1 > 2",
        "{missing} == 1",
        "tags[\"a\"] == 1",
        "tags[0] > 3",
        "id",
        "1 + 2",
        "exists id",
        "name like \"a%\" == true",
        "array_length(id) == 1",
        "id / 0 > 1 + 1 / 0",
        "id / 0 == 1",
        "id % 0.0 == 1",
        "5 % 0 == id",
    ] {
        match parse_err(expr) {
            FilterError::Invalid(msg) | FilterError::Plan(msg) => assert!(!msg.is_empty()),
            other => panic!("`{expr}`: expected Invalid, got {other:?}"),
        }
    }
    // Milvus 2.6 runs only Bool-typed predicates: a bare JSON value (here a
    // dynamic key) is refused in its words, not read as per-row truthiness.
    for (expr, ty) in [
        ("ok", "JSON"),
        ("meta[\"a\"]", "JSON"),
        ("id", "Int64"),
        ("name", "VarChar"),
    ] {
        match parse_err(expr) {
            FilterError::Plan(msg) => assert_eq!(
                msg,
                format!("predicate is not a boolean expression: {expr}, data type: {ty}")
            ),
            other => panic!("`{expr}`: expected Plan, got {other:?}"),
        }
    }
    // Without the dynamic field, unknown names are errors.
    match Filter::parse("x == 1", &schema(false), &HashMap::new()) {
        Err(FilterError::Invalid(msg)) => assert!(msg.contains("field x not exist"), "{msg}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(Filter::parse("$meta[\"x\"] == 1", &schema(false), &HashMap::new()).is_err());
}

fn pk(expr: &str) -> Option<Vec<PkValue>> {
    Filter::parse(expr, &schema(true), &templates())
        .unwrap_or_else(|e| panic!("{e}"))
        .primary_key_values()
}

#[test]
fn primary_key_values() {
    use PkValue::Int;
    assert_eq!(pk("id in [3, 1, 3]"), Some(vec![Int(1), Int(3)]));
    assert_eq!(pk("id == 5 and name == \"x\""), Some(vec![Int(5)]));
    assert_eq!(pk("name == \"x\" and (id == 5)"), Some(vec![Int(5)]));
    assert_eq!(pk("5 == id"), Some(vec![Int(5)]));
    assert_eq!(
        pk("id == 1 or id in [2, 3]"),
        Some(vec![Int(1), Int(2), Int(3)])
    );
    assert_eq!(pk("id in [1, 2] and id in [2, 3]"), Some(vec![Int(2)]));
    assert_eq!(pk("id > 5"), None);
    assert_eq!(pk("id != 5"), None);
    assert_eq!(pk("id not in [1]"), None);
    assert_eq!(pk("id == 1 or name == \"x\""), None);
    assert_eq!(pk("not (id == 1)"), None);
    assert_eq!(pk(""), None);

    let mut s = schema(true);
    for f in &mut s.fields {
        f.is_primary = f.name == "name";
    }
    let f =
        Filter::parse("name in ['a', 'b']", &s, &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        f.primary_key_values(),
        Some(vec![PkValue::Str("a".into()), PkValue::Str("b".into())])
    );
}

fn eq_values(expr: &str, name: &str) -> Option<Vec<Value>> {
    Filter::parse(expr, &schema(true), &templates())
        .unwrap_or_else(|e| panic!("{e}"))
        .field_equality_values(name)
}

#[test]
fn field_equality_values() {
    assert_eq!(
        eq_values("name == \"acme\"", "name"),
        Some(vec![json!("acme")])
    );
    assert_eq!(
        eq_values("\"acme\" == name", "name"),
        Some(vec![json!("acme")])
    );
    assert_eq!(
        eq_values("name in [\"a\", \"b\"] and id > 1", "name"),
        Some(vec![json!("a"), json!("b")])
    );
    assert_eq!(
        eq_values("name == \"acme\" and meta[\"source\"] == \"faq\"", "name"),
        Some(vec![json!("acme")])
    );
    assert_eq!(
        eq_values("color == \"red\"", "color"),
        Some(vec![json!("red")])
    );
    assert_eq!(eq_values("name != \"a\"", "name"), None);
    assert_eq!(eq_values("name == \"a\" or id == 1", "name"), None);
    assert_eq!(eq_values("name like \"a%\"", "name"), None);
    assert_eq!(eq_values("id == 1", "name"), None);
    assert_eq!(eq_values("", "name"), None);
}

#[test]
fn always_true() {
    let s = schema(true);
    let h = HashMap::new();
    assert!(Filter::parse("", &s, &h).is_ok_and(|f| f.is_always_true()));
    assert!(Filter::parse(" \n\t", &s, &h).is_ok_and(|f| f.is_always_true()));
    assert!(Filter::parse("id > 1", &s, &h).is_ok_and(|f| !f.is_always_true()));
}

/// Constant sub-expressions fold, so a filter that matches every row whatever
/// the data is known to do so (an always-true delete is refused upstream), and
/// folding never changes which rows match (three-valued logic included: `age`
/// is null in row 2).
#[test]
fn constants_fold() {
    let s = schema(true);
    let h = templates();
    let always = [
        "true",
        "1 == 1",
        "not false",
        "not (1 > 2)",
        "1 + 1 == 2",
        "\"a\" == \"a\"",
        "2 in [1, 2]",
        "3 not in [1, 2]",
        "age > 30 or true",
        "(1 < 2) and (2.5 >= 2)",
        "not (false or 1 != 1)",
        "true and true and not false",
        "{a} == 1",
    ];
    for e in always {
        let f = Filter::parse(e, &s, &h).unwrap_or_else(|err| panic!("parse `{e}`: {err}"));
        assert!(f.is_always_true(), "`{e}` should be always true");
        assert_eq!(matching(e), ALL, "`{e}`");
    }
    let not_always = [
        "age > 30 and true",
        "age > 30 or false",
        "1 == 2",
        "id in [1, 2] or 1 > 2",
    ];
    for e in not_always {
        let f = Filter::parse(e, &s, &h).unwrap_or_else(|err| panic!("parse `{e}`: {err}"));
        assert!(!f.is_always_true(), "`{e}` is not always true");
    }
    assert_eq!(matching("age > 30 and true"), matching("age > 30"));
    assert_eq!(matching("age > 30 or false"), matching("age > 30"));
    assert_eq!(
        matching("not (age > 30 and true)"),
        matching("not (age > 30)")
    );
    assert_eq!(matching("1 == 2"), Vec::<i64>::new());
    assert_eq!(matching("age > 30 and 1 > 2"), Vec::<i64>::new());
    assert_eq!(matching("id in [1, 2] or 1 > 2"), vec![1, 2]);
}

#[test]
fn tenant_filter_over_many_rows() {
    let mut tenant = field(101, "tenant_id", DataType::VarChar, false);
    tenant.max_length = Some(64);
    let mut id = field(100, "id", DataType::Int64, false);
    id.is_primary = true;
    let s = CollectionSchema {
        name: "t".into(),
        description: String::new(),
        fields: vec![id, tenant],
        enable_dynamic_field: false,
    };
    let n = 100_000;
    let tenants = ["acme", "globex", "initech", "umbrella"];
    let ids: Vec<i64> = (0..n).collect();
    let names: Vec<&str> = (0..n as usize).map(|i| tenants[i % 4]).collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids)),
        Arc::new(StringArray::from(names)),
    ];
    let b = RecordBatch::try_new(s.arrow_schema(), cols).unwrap_or_else(|e| panic!("{e}"));
    let f = Filter::parse("tenant_id == \"acme\"", &s, &HashMap::new())
        .unwrap_or_else(|e| panic!("{e}"));
    let m = f.evaluate_mask(&b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.count_set_bits(), n as usize / 4);
    let v = f.evaluate(&b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.iter().filter(|x| **x).count(), n as usize / 4);
    assert!(v[0] && !v[1] && v[4]);
    let f = Filter::parse("tenant_id in [\"acme\", \"initech\"]", &s, &HashMap::new())
        .unwrap_or_else(|e| panic!("{e}"));
    let m = f.evaluate(&b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.iter().filter(|x| **x).count(), n as usize / 2);
}

#[test]
fn json_conjunct_only_parses_open_rows() {
    let mut id = field(100, "id", DataType::Int64, false);
    id.is_primary = true;
    let s = CollectionSchema {
        name: "t".into(),
        description: String::new(),
        fields: vec![
            id,
            field(101, "tenant_id", DataType::VarChar, false),
            field(102, "metadata", DataType::Json, false),
        ],
        enable_dynamic_field: true,
    };
    let n = 100_000usize;
    let tenants = ["acme", "globex", "initech", "umbrella"];
    let docs: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"source":"{}","page":{i}}}"#,
                if i % 3 == 0 { "faq" } else { "blog" }
            )
        })
        .collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from((0..n as i64).collect::<Vec<_>>())),
        Arc::new(StringArray::from(
            (0..n).map(|i| tenants[i % 4]).collect::<Vec<_>>(),
        )),
        Arc::new(BinaryArray::from(
            docs.iter().map(|d| d.as_bytes()).collect::<Vec<_>>(),
        )),
        Arc::new(BinaryArray::from(vec![b"{}".as_slice(); n])),
    ];
    let b = RecordBatch::try_new(s.arrow_schema(), cols).unwrap_or_else(|e| panic!("{e}"));
    let expr = "metadata[\"source\"] == \"faq\" and tenant_id == \"acme\"";
    let f = Filter::parse(expr, &s, &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    let t = std::time::Instant::now();
    let m = f.evaluate(&b).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("seed query over {n} rows: {:?}", t.elapsed());
    let want = (0..n).filter(|i| i % 4 == 0 && i % 3 == 0).count();
    assert_eq!(m.iter().filter(|x| **x).count(), want);
}

#[test]
fn float_fields_compare_as_f32() {
    let mut id = field(100, "id", DataType::Int64, false);
    id.is_primary = true;
    let s = CollectionSchema {
        name: "f".into(),
        description: String::new(),
        fields: vec![id, field(101, "f", DataType::Float, false)],
        enable_dynamic_field: false,
    };
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2])),
        Arc::new(Float32Array::from(vec![1.1f32, 2.0])),
    ];
    let b = RecordBatch::try_new(s.arrow_schema(), cols).unwrap_or_else(|e| panic!("{e}"));
    for (expr, want) in [
        ("f == 1.1", vec![true, false]),
        ("f > 1.1", vec![false, true]),
        ("f in [1.1, 3]", vec![true, false]),
        ("f == 2", vec![false, true]),
    ] {
        let f = Filter::parse(expr, &s, &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            f.evaluate(&b).unwrap_or_else(|e| panic!("{e}")),
            want,
            "{expr}"
        );
    }
}

#[test]
fn filter_is_send_and_sync() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<Filter>();
}

#[test]
fn raw_prefilter_respects_escapes_and_negation() {
    let mut id = field(100, "id", DataType::Int64, false);
    id.is_primary = true;
    let s = CollectionSchema {
        name: "j".into(),
        description: String::new(),
        fields: vec![id, field(101, "m", DataType::Json, true)],
        enable_dynamic_field: false,
    };
    let docs: Vec<Option<&[u8]>> = vec![
        Some(br#"{"k":"abc"}"#),
        Some(br#"{"k":"\u0061bc"}"#),
        Some(br#"{"k":"xyz","t":["abc"]}"#),
        Some(br#"{"j":"abc"}"#),
        None,
        Some(br#"{"k":"caf\u00e9","t":["a\"b"]}"#),
    ];
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5, 6])),
        Arc::new(BinaryArray::from(docs)),
    ];
    let b = RecordBatch::try_new(s.arrow_schema(), cols).unwrap_or_else(|e| panic!("{e}"));
    for (expr, want) in [
        ("m[\"k\"] == \"abc\"", vec![1, 2]),
        ("\"abc\" == m[\"k\"]", vec![1, 2]),
        ("not (m[\"k\"] == \"abc\")", vec![3, 6]),
        ("not (m[\"k\"] != \"abc\")", vec![1, 2]),
        ("m[\"k\"] in [\"abc\", \"q\"]", vec![1, 2]),
        ("m[\"k\"] not in [\"abc\"]", vec![3, 6]),
        ("m[\"k\"] like \"ab%\"", vec![1, 2]),
        ("m[\"k\"] == \"café\"", vec![6]),
        ("m[\"k\"] == \"abc\" or m[\"k\"] == \"xyz\"", vec![1, 2, 3]),
        ("json_contains(m[\"t\"], \"abc\")", vec![3]),
        ("json_contains(m[\"t\"], \"a\\\"b\")", vec![6]),
        ("id > 1 and m[\"k\"] == \"abc\"", vec![2]),
        ("not (id > 1 and m[\"k\"] == \"abc\")", vec![1, 3, 6]),
    ] {
        let f = Filter::parse(expr, &s, &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<i64> = f
            .evaluate(&b)
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .enumerate()
            .filter(|(_, m)| **m)
            .map(|(i, _)| i as i64 + 1)
            .collect();
        assert_eq!(got, want, "{expr}");
    }
}
