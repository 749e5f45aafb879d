//! Scalar indexes against scans at 1 % selectivity on 100k rows (issue 9):
//! a JSON number path (`meta["price"] == 42`, every document parsed by a
//! scan), a JSON number range, a JSON string path (the scan's raw-bytes
//! prefilter already skips most parsing), a dynamic-field key, and typed
//! INT64 / VARCHAR columns (tight typed loops). Also the one-off build cost
//! per sealed segment. Run: `cargo bench -p quiver-filter --bench filter_index`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryArray, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use quiver_filter::{Filter, IndexCast, IndexSpec, ScalarIndex};
use quiver_storage::{CollectionSchema, DataType, FieldSchema, META_FIELD};

const ROWS: usize = 100_000;

fn schema() -> CollectionSchema {
    let mut id = FieldSchema::new(100, "id", DataType::Int64);
    id.is_primary = true;
    CollectionSchema {
        name: "bench".into(),
        description: String::new(),
        fields: vec![
            id,
            FieldSchema::new(101, "category", DataType::VarChar),
            FieldSchema::new(102, "bucket", DataType::Int64),
            FieldSchema::new(103, "meta", DataType::Json),
        ],
        enable_dynamic_field: true,
    }
}

/// Documents shaped like RAG chunk metadata; each value of `price`, `source`,
/// `bucket`, `category` and the dynamic `tenant` covers 1 % of the rows.
fn batch() -> RecordBatch {
    let meta: Vec<Vec<u8>> = (0..ROWS)
        .map(|i| {
            format!(
                r#"{{"price":{},"source":"doc-{}","page":{},"title":"chunk {} of a long document","tags":["a","b"]}}"#,
                (i * 7) % 100,
                (i * 13) % 100,
                i % 500,
                i
            )
            .into_bytes()
        })
        .collect();
    let dynamic: Vec<Vec<u8>> = (0..ROWS)
        .map(|i| format!(r#"{{"tenant":"t{}","lang":"en"}}"#, (i * 31) % 100).into_bytes())
        .collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..ROWS as i64)),
        Arc::new(StringArray::from_iter_values(
            (0..ROWS).map(|i| format!("cat-{}", (i * 17) % 100)),
        )),
        Arc::new(Int64Array::from_iter_values(
            (0..ROWS).map(|i| ((i * 3) % 100) as i64),
        )),
        Arc::new(BinaryArray::from_iter_values(meta.iter())),
        Arc::new(BinaryArray::from_iter_values(dynamic.iter())),
    ];
    match RecordBatch::try_new(schema().arrow_schema(), cols) {
        Ok(b) => b,
        Err(e) => panic!("bench batch: {e}"),
    }
}

fn spec(column: &str, pointer: Option<&str>, cast: IndexCast) -> IndexSpec {
    match pointer {
        Some(p) => IndexSpec::from_pointer(column, p, cast),
        None => IndexSpec {
            column: column.into(),
            path: Vec::new(),
            cast,
        },
    }
}

fn bench(c: &mut Criterion) {
    let b = batch();
    let s = schema();
    let cases = [
        (
            "json_number_eq",
            r#"meta["price"] == 42"#,
            spec("meta", Some("/price"), IndexCast::Double),
        ),
        (
            "json_number_range",
            r#"meta["price"] >= 10 and meta["price"] < 11"#,
            spec("meta", Some("/price"), IndexCast::Double),
        ),
        (
            "json_string_eq",
            r#"meta["source"] == "doc-42""#,
            spec("meta", Some("/source"), IndexCast::Varchar),
        ),
        (
            "dynamic_key_eq",
            r#"tenant == "t42""#,
            spec(META_FIELD, Some("/tenant"), IndexCast::Varchar),
        ),
        (
            "int64_eq",
            "bucket == 42",
            spec("bucket", None, IndexCast::Field),
        ),
        (
            "varchar_eq",
            r#"category == "cat-42""#,
            spec("category", None, IndexCast::Field),
        ),
    ];
    let mut g = c.benchmark_group("filter_100k_1pct");
    g.sample_size(20);
    for (name, expr, sp) in cases {
        let f = match Filter::parse(expr, &s, &HashMap::new()) {
            Ok(f) => f,
            Err(e) => panic!("{expr}: {e}"),
        };
        let col = b.column_by_name(&sp.column).cloned();
        let Some(ix) = col.and_then(|c| ScalarIndex::build(&c, &sp).ok().flatten()) else {
            panic!("{name}: index not built");
        };
        let scan = f.evaluate_mask(&b).map(|m| m.count_set_bits()).unwrap_or(0);
        let indexed = f
            .evaluate_indexed(&b, &[(&sp, &ix)])
            .map(|m| m.count_set_bits())
            .unwrap_or(0);
        assert_eq!(scan, indexed, "{name}");
        assert_eq!(scan, ROWS / 100, "{name}: 1 % selectivity");
        g.bench_function(format!("{name}/scan"), |bn| {
            bn.iter(|| f.evaluate_mask(black_box(&b)))
        });
        g.bench_function(format!("{name}/index"), |bn| {
            bn.iter(|| f.evaluate_indexed(black_box(&b), &[(&sp, &ix)]))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("index_build_100k");
    g.sample_size(10);
    for (name, sp) in [
        (
            "json_number",
            spec("meta", Some("/price"), IndexCast::Double),
        ),
        (
            "json_string",
            spec("meta", Some("/source"), IndexCast::Varchar),
        ),
        ("int64", spec("bucket", None, IndexCast::Field)),
    ] {
        let Some(col) = b.column_by_name(&sp.column).cloned() else {
            panic!("{name}: no column");
        };
        g.bench_function(name, |bn| {
            bn.iter(|| ScalarIndex::build(black_box(&col), &sp))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
