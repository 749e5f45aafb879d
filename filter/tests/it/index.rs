//! Scalar indexes narrow filters without changing a single result: random
//! expressions over random rows (mixed JSON types, ints past 2^53, FLOAT
//! rounding, nulls, unparsable documents) give the same rows with and without
//! every kind of index, and the indexes are really used.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, FixedSizeListArray, Float32Array, Float64Array,
    Int32Array, Int64Array, Int8Array, ListArray, ListBuilder, StringArray, StringBuilder,
};
use arrow::datatypes::{DataType as ArrowType, Field, Int64Type};
use arrow::record_batch::RecordBatch;
use quiver_filter::{Filter, IndexCast, IndexSpec, ScalarIndex};

use crate::fuzz::Rng;
use crate::schema;

const WORDS: &[&str] = &["red", "blue", "green", "Red", "", "a\"b", "zz"];

fn pick<'a, T>(rng: &mut Rng, xs: &'a [T]) -> &'a T {
    &xs[rng.below(xs.len())]
}

/// A JSON scalar of a random type, as text.
fn json_scalar(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => format!("{}", rng.below(20) as i64 - 5),
        1 => format!("{}", 9_007_199_254_740_992i64 + rng.below(3) as i64),
        2 => format!("{}.5", rng.below(10)),
        3 => serde_json::to_string(pick(rng, WORDS)).unwrap_or_default(),
        4 => "true".into(),
        5 => "false".into(),
        6 => "null".into(),
        _ => format!("{}", rng.below(20)),
    }
}

fn random_batch(rng: &mut Rng, n: usize) -> RecordBatch {
    let s = schema(true);
    let mut meta: Vec<Option<Vec<u8>>> = Vec::new();
    let mut dynamic: Vec<Vec<u8>> = Vec::new();
    for _ in 0..n {
        meta.push(match rng.below(10) {
            0 => None,
            1 => Some(b"not json".to_vec()),
            2 => Some(b"{}".to_vec()),
            _ => Some(
                format!(
                    r#"{{"a":{},"b":{{"c":{}}},"arr":[{},{}]}}"#,
                    json_scalar(rng),
                    json_scalar(rng),
                    json_scalar(rng),
                    json_scalar(rng)
                )
                .into_bytes(),
            ),
        });
        dynamic.push(
            format!(
                r#"{{"color":{},"n":{}}}"#,
                json_scalar(rng),
                json_scalar(rng)
            )
            .into_bytes(),
        );
    }
    let mut tags = ListBuilder::new(StringBuilder::new());
    for _ in 0..n {
        tags.values().append_value(pick(rng, WORDS));
        tags.append(true);
    }
    let nums = ListArray::from_iter_primitive::<Int64Type, _, _>(
        (0..n).map(|i| Some(vec![Some(i as i64)])),
    );
    let vec = FixedSizeListArray::new(
        Arc::new(Field::new("item", ArrowType::Float32, false)),
        2,
        Arc::new(Float32Array::from(vec![0.0f32; 2 * n])),
        None,
    );
    let opt = |rng: &mut Rng| rng.below(8) != 0;
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..n as i64)),
        Arc::new(StringArray::from_iter(
            (0..n).map(|_| opt(rng).then(|| pick(rng, WORDS).to_string())),
        )),
        Arc::new(Int32Array::from_iter(
            (0..n).map(|_| opt(rng).then(|| rng.below(60) as i32 - 10)),
        )),
        Arc::new(Float32Array::from_iter_values(
            (0..n).map(|_| [1.1f32, 2.5, -0.3, 7.0, f32::NAN][rng.below(5)]),
        )),
        Arc::new(Float64Array::from_iter_values(
            (0..n).map(|_| rng.below(1000) as f64 / 8.0),
        )),
        Arc::new(BooleanArray::from_iter(
            (0..n).map(|_| opt(rng).then(|| rng.below(2) == 0)),
        )),
        Arc::new(Int8Array::from_iter_values(
            (0..n).map(|_| rng.below(256) as i64 as i8),
        )),
        Arc::new(BinaryArray::from_iter(meta.iter().map(|m| m.as_deref()))),
        Arc::new(tags.finish()),
        Arc::new(nums),
        Arc::new(vec),
        Arc::new(BinaryArray::from_iter_values(dynamic.iter())),
    ];
    match RecordBatch::try_new(s.arrow_schema(), cols) {
        Ok(b) => b,
        Err(e) => panic!("bad test batch: {e}"),
    }
}

const TARGETS: &[&str] = &[
    "name",
    "age",
    "score",
    "price",
    "flag",
    "small",
    "meta[\"a\"]",
    "meta[\"b\"][\"c\"]",
    "meta[\"arr\"][0]",
    "color",
    "n",
];

fn literal(rng: &mut Rng) -> String {
    match rng.below(7) {
        0 => format!("{}", rng.below(30) as i64 - 8),
        1 => format!("{}", 9_007_199_254_740_992i64 + rng.below(3) as i64),
        2 => ["1.1", "2.5", "-0.3", "7.0", "12.375"][rng.below(5)].into(),
        3 | 4 => serde_json::to_string(pick(rng, WORDS)).unwrap_or_default(),
        5 => "true".into(),
        _ => "false".into(),
    }
}

fn leaf(rng: &mut Rng) -> String {
    let t = pick(rng, TARGETS);
    if rng.below(5) == 0 {
        let items: Vec<String> = (0..1 + rng.below(4)).map(|_| literal(rng)).collect();
        return format!("{t} in [{}]", items.join(", "));
    }
    let op = pick(rng, &["==", "<", "<=", ">", ">=", "!="]);
    let lit = literal(rng);
    if rng.below(6) == 0 {
        format!("{lit} {op} {t}")
    } else {
        format!("{t} {op} {lit}")
    }
}

fn expr(rng: &mut Rng, depth: usize) -> String {
    if depth == 0 || rng.below(3) == 0 {
        return leaf(rng);
    }
    match rng.below(5) {
        0 => format!("not ({})", expr(rng, depth - 1)),
        1 | 2 => format!("({}) and ({})", expr(rng, depth - 1), expr(rng, depth - 1)),
        _ => format!("({}) or ({})", expr(rng, depth - 1), expr(rng, depth - 1)),
    }
}

/// Every index a user could create on this schema, one cast per JSON path
/// (`cast` chooses which): a path holds one index per path.
fn specs(cast: IndexCast) -> Vec<IndexSpec> {
    let field = |c: &str| IndexSpec {
        column: c.into(),
        path: Vec::new(),
        cast: IndexCast::Field,
    };
    let mut out: Vec<IndexSpec> = ["name", "age", "score", "price", "flag", "small"]
        .into_iter()
        .map(field)
        .collect();
    for (col, ptr) in [
        ("meta", "/a"),
        ("meta", "/b/c"),
        ("meta", "/arr/0"),
        ("$meta", "/color"),
        ("$meta", "/n"),
    ] {
        out.push(IndexSpec::from_pointer(col, ptr, cast));
    }
    out
}

#[test]
fn indexed_results_equal_scans() {
    let mut rng = Rng(0x1D3C_5EED);
    let batch = random_batch(&mut rng, 3000);
    let s = schema(true);
    let mut used = 0;
    let mut narrowed = 0;
    for cast in [IndexCast::Double, IndexCast::Varchar, IndexCast::Bool] {
        let specs = specs(cast);
        let built: Vec<Option<ScalarIndex>> = specs
            .iter()
            .map(|sp| {
                let col = batch
                    .column_by_name(&sp.column)
                    .unwrap_or_else(|| panic!("no column {}", sp.column));
                ScalarIndex::build(col, sp).unwrap_or_else(|e| panic!("build {sp:?}: {e}"))
            })
            .collect();
        assert!(built.iter().all(Option::is_some), "every spec is buildable");
        for _ in 0..500 {
            let e = expr(&mut rng, 3);
            // Typed columns refuse literals of another type at bind time.
            let Ok(f) = Filter::parse(&e, &s, &HashMap::new()) else {
                continue;
            };
            let usable = f.usable_indexes(&specs);
            let ix: Vec<(&IndexSpec, &ScalarIndex)> = usable
                .iter()
                .filter_map(|&i| built[i].as_ref().map(|b| (&specs[i], b)))
                .collect();
            let scan = f
                .evaluate_mask(&batch)
                .unwrap_or_else(|err| panic!("eval `{e}`: {err}"));
            let indexed = f
                .evaluate_indexed(&batch, &ix)
                .unwrap_or_else(|err| panic!("indexed eval `{e}`: {err}"));
            assert_eq!(
                scan.iter().collect::<Vec<_>>(),
                indexed.iter().collect::<Vec<_>>(),
                "`{e}` with {cast:?} indexes"
            );
            if !usable.is_empty() {
                used += 1;
                if scan.count_set_bits() * 4 < batch.num_rows() {
                    narrowed += 1;
                }
            }
        }
    }
    assert!(
        used > 300,
        "indexes were usable for only {used} of 1500 filters"
    );
    assert!(narrowed > 150, "only {narrowed} selective indexed filters");
}

#[test]
fn what_an_index_can_and_cannot_answer() {
    let s = schema(true);
    let specs = vec![
        IndexSpec::from_pointer("meta", "/a", IndexCast::Double),
        IndexSpec {
            column: "age".into(),
            path: Vec::new(),
            cast: IndexCast::Field,
        },
    ];
    let usable = |e: &str| {
        Filter::parse(e, &s, &HashMap::new())
            .unwrap_or_else(|err| panic!("parse `{e}`: {err}"))
            .usable_indexes(&specs)
    };
    assert_eq!(usable(r#"meta["a"] > 1"#), vec![0]);
    assert_eq!(usable(r#"age in [1, 2] and meta["a"] == 3"#), vec![0, 1]);
    assert_eq!(usable(r#"age == 1 or meta["a"] < 2"#), vec![0, 1]);
    // A branch no index narrows, `!=`, `not`, another path: nothing to use.
    assert!(usable(r#"age == 1 or price > 2"#).is_empty());
    assert!(usable("age != 1").is_empty());
    assert!(usable("not (age == 1)").is_empty());
    assert!(usable(r#"meta["b"] == 1"#).is_empty());
    assert!(usable("").is_empty());
    // The pointer's escapes decode to the key they stand for.
    let sp = IndexSpec::from_pointer("meta", "/a~1b/c~0d", IndexCast::Varchar);
    assert_eq!(sp.path, vec!["a/b".to_string(), "c~d".to_string()]);
    // An ARRAY column or a typed column under a JSON cast is not indexed.
    let b = crate::batch();
    let tags = IndexSpec {
        column: "tags".into(),
        path: Vec::new(),
        cast: IndexCast::Field,
    };
    let col = b.column_by_name("tags").unwrap_or_else(|| panic!("tags"));
    assert!(ScalarIndex::build(col, &tags).map_or(true, |i| i.is_none()));
    let age_json = IndexSpec::from_pointer("age", "/x", IndexCast::Double);
    let col = b.column_by_name("age").unwrap_or_else(|| panic!("age"));
    assert!(ScalarIndex::build(col, &age_json).map_or(true, |i| i.is_none()));
}
