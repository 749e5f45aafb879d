//! The caps of `Limits` and the literal checks: clear user errors in Milvus's
//! format, found early, and deep inputs that never overflow a 2 MiB stack.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Float32Array, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use quiver_filter::{Filter, FilterError, Limits};
use quiver_storage::{CollectionSchema, DataType, FieldSchema};

use crate::{batch, schema};

fn parse(expr: &str) -> Result<Filter, FilterError> {
    Filter::parse(expr, &schema(true), &HashMap::new())
}

fn err(expr: &str) -> String {
    match parse(expr) {
        Ok(_) => panic!("`{}` should be refused", &expr[..expr.len().min(80)]),
        Err(e) => {
            assert!(e.is_user_error(), "{e}");
            let m = e.to_string();
            assert!(m.starts_with("cannot parse expression: "), "{m}");
            assert!(m.contains(", error: "), "{m}");
            assert!(
                m.len() < 1024,
                "error echoes the whole expression: {} bytes",
                m.len()
            );
            m
        }
    }
}

/// Every deep shape, at and past the default depth, on a 2 MiB thread (what
/// tokio's blocking pool and the test harness give): refused or evaluated,
/// never a stack overflow.
#[test]
fn deep_inputs_fit_a_2mb_stack() {
    let d = Limits::DEFAULT.max_depth;
    let shapes = |n: usize| -> Vec<String> {
        let mut andor = String::from("id == 0");
        for i in 0..n {
            let op = if i % 2 == 0 { "and" } else { "or" };
            andor = format!("(id == {i} {op} {andor})");
        }
        vec![
            format!("{}id == 1{}", "(".repeat(n), ")".repeat(n)),
            "(".repeat(n),
            format!("{}1 > 0", "-".repeat(n)),
            format!("{}flag", "not ".repeat(n)),
            format!("{}flag", "!".repeat(n)),
            format!("{}1 > 0", "1 + ".repeat(n)),
            format!("id in {}", "[".repeat(n)),
            format!("id in {}1{}", "[".repeat(n), "]".repeat(n)),
            format!("2{} > 1", " ** 2".repeat(n)),
            format!("meta{} == 1", "[\"a\"]".repeat(n)),
            format!("{}id == 1", "exists ".repeat(n)),
            format!("{}flag{}", "not (".repeat(n), ")".repeat(n)),
            andor,
            format!("{}meta{} == 1", "array_length(".repeat(n), ")".repeat(n)),
            format!("meta{}1{} == 1", "[".repeat(n), "]".repeat(n)),
        ]
    };
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let mut accepted = 0;
            for n in [d / 2, d - 1, d, d + 1, 100_000] {
                for e in shapes(n) {
                    match parse(&e) {
                        Ok(f) => {
                            accepted += 1;
                            assert!(n <= d, "depth {n} accepted");
                            assert!(f.evaluate(&batch()).is_ok());
                            let _ = f.primary_key_values();
                            drop(f.clone());
                        }
                        Err(e) => assert!(e.is_user_error(), "{e}"),
                    }
                }
            }
            accepted
        });
    let accepted = handle
        .unwrap_or_else(|e| panic!("spawn: {e}"))
        .join()
        .unwrap_or_else(|_| panic!("deep input panicked"));
    assert!(accepted >= 10, "only {accepted} deep shapes accepted");
    // Past the limit the message says why, like Milvus ("nesting depth").
    let m = err(&format!(
        "{}id == 1{}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    ));
    assert!(m.contains("nesting depth exceeds the limit of 256"), "{m}");
    // Milvus parses 100 levels of parentheses and of `not` by default.
    assert!(parse(&format!("{}id == 1{}", "(".repeat(100), ")".repeat(100))).is_ok());
    assert!(parse(&format!("{}(id == 1)", "not ".repeat(100))).is_ok());
}

#[test]
fn length_cap_is_checked_before_parsing() {
    let lim = Limits {
        max_expr_bytes: 1000,
        ..Limits::DEFAULT
    };
    let long = format!("id == 1 or {}", "(".repeat(1 << 22));
    let t = Instant::now();
    let e = Filter::parse_with_limits(&long, &schema(true), &HashMap::new(), &lim);
    assert!(t.elapsed() < Duration::from_millis(200));
    match e {
        Err(FilterError::Limit(m)) => {
            assert!(m.contains("more than the limit of 1000 bytes"), "{m}");
            assert!(m.len() < 1024, "{}", m.len());
        }
        other => panic!("expected Limit, got {other:?}"),
    }
    // The default accepts a 4 MiB `in` list of UUID-sized strings.
    let list: Vec<String> = (0..100_000).map(|i| format!("\"{i:036}\"")).collect();
    assert!(parse(&format!("name in [{}]", list.join(","))).is_ok());
}

#[test]
fn node_and_predicate_caps() {
    let lim = Limits {
        max_nodes: 1000,
        max_predicates: 10,
        ..Limits::DEFAULT
    };
    let p = |e: &str| Filter::parse_with_limits(e, &schema(true), &HashMap::new(), &lim);
    let ids: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
    match p(&format!("id in [{}]", ids.join(","))) {
        Err(FilterError::Limit(m)) => assert!(m.contains("more than 1000 terms"), "{m}"),
        other => panic!("expected Limit, got {other:?}"),
    }
    // Equality chains on one field fold into one predicate; ranges do not.
    let eq: Vec<String> = (0..200).map(|i| format!("age == {i}")).collect();
    assert!(p(&eq.join(" or ")).is_ok());
    let ne: Vec<String> = (0..200).map(|i| format!("name != \"{i}\"")).collect();
    assert!(p(&ne.join(" and ")).is_ok());
    let gt: Vec<String> = (0..11).map(|i| format!("age > {i}")).collect();
    match p(&gt.join(" or ")) {
        Err(FilterError::Limit(m)) => assert!(m.contains("more than 10 predicates"), "{m}"),
        other => panic!("expected Limit, got {other:?}"),
    }
    // A 600k-term chain is found over the default node cap early, or accepted.
    let big: Vec<String> = (0..700_000).map(|i| format!("id == {i}")).collect();
    let t = Instant::now();
    assert!(parse(&big.join(" or ")).is_err());
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
}

#[test]
fn out_of_range_literals_are_named() {
    for (expr, needle, pos) in [
        (
            "id > 1e400",
            "floating-point literal 1e400 is out of range",
            5,
        ),
        (
            "id < -1e400",
            "floating-point literal 1e400 is out of range",
            6,
        ),
        ("id in [1, 1e400]", "1e400", 10),
        (
            "id > 99999999999999999999",
            "integer literal 99999999999999999999 is out of range",
            5,
        ),
        (
            "id == 9223372036854775808",
            "integer literal 9223372036854775808 is out",
            6,
        ),
        ("9223372036854775808 - 1 < id", "9223372036854775808", 0),
        ("id > -9223372036854775808 ** 2", "9223372036854775808", 6),
        ("id > 0xFFFFFFFFFFFFFFFFF", "0xFFFFFFFFFFFFFFFFF", 5),
    ] {
        let m = err(expr);
        assert!(m.contains(needle), "{m}");
        assert!(m.contains(&format!("at position {pos}")), "{m}");
        assert!(!m.contains("null"), "{m}");
    }
    assert!(err("id > 1e300 * 1e300").contains("no finite"));
    // In range: the extremes work and mean what they say.
    assert!(parse("id > -9223372036854775808 and id < 9223372036854775807").is_ok());
    assert!(parse("id > 1e-400 and price < 1e308").is_ok());
    let f = parse("id >= -9223372036854775808").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.evaluate(&batch()).ok(), Some(vec![true; 6]));
}

#[test]
fn zero_divisors_and_bad_like_patterns() {
    for (expr, needle) in [
        ("id / 0 > 1", "division or modulus by zero"),
        ("id % 0 == 1", "division or modulus by zero"),
        ("price / 0.0 > 1", "division or modulus by zero"),
        ("meta[\"a\"] / 0 > 1", "division or modulus by zero"),
        ("id > 1 / 0", "cannot divide by zero"),
        ("id > 5 % 0", "cannot modulo by zero"),
        ("name like \"ab\\\\\"", "trailing backslash"),
    ] {
        let m = err(expr);
        assert!(m.contains(needle), "`{expr}`: {m}");
    }
    // An escaped backslash is a literal one; `\x` is `x`, as in Milvus.
    assert!(parse("name like \"ab\\\\\\\\%\"").is_ok());
    assert!(parse("id / 2 > 1 and id % 3 == 0").is_ok());
}

fn big_batch(n: i64) -> (CollectionSchema, RecordBatch) {
    let mut id = FieldSchema::new(100, "id", DataType::Int64);
    id.is_primary = true;
    let s = CollectionSchema {
        name: "b".into(),
        description: String::new(),
        fields: vec![
            id,
            FieldSchema::new(101, "name", DataType::VarChar),
            FieldSchema::new(102, "score", DataType::Float),
        ],
        enable_dynamic_field: false,
    };
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from((0..n).collect::<Vec<_>>())),
        Arc::new(StringArray::from(
            (0..n).map(|i| format!("n{i}")).collect::<Vec<_>>(),
        )),
        Arc::new(Float32Array::from(
            (0..n).map(|i| i as f32 / 10.0).collect::<Vec<_>>(),
        )),
    ];
    let b = RecordBatch::try_new(s.arrow_schema(), cols).unwrap_or_else(|e| panic!("{e}"));
    (s, b)
}

fn count(s: &CollectionSchema, b: &RecordBatch, expr: &str) -> usize {
    let f = Filter::parse(expr, s, &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    let m = f.evaluate(b).unwrap_or_else(|e| panic!("{e}"));
    m.iter().filter(|x| **x).count()
}

/// 100k-element lists over 100k rows: correct, and set lookups (a scan per
/// row would take minutes in a debug build).
#[test]
fn large_in_lists_are_correct() {
    let (s, b) = big_batch(100_000);
    let evens: Vec<String> = (0..200_000).step_by(2).map(|i| i.to_string()).collect();
    let t = Instant::now();
    assert_eq!(
        count(&s, &b, &format!("id in [{}]", evens.join(","))),
        50_000
    );
    assert_eq!(
        count(&s, &b, &format!("id not in [{}]", evens.join(","))),
        50_000
    );
    let names: Vec<String> = (0..100_000)
        .step_by(4)
        .map(|i| format!("\"n{i}\""))
        .collect();
    assert_eq!(
        count(&s, &b, &format!("name in [{}]", names.join(","))),
        25_000
    );
    let or: Vec<String> = (0..100_000)
        .step_by(5)
        .map(|i| format!("id == {i}"))
        .collect();
    assert_eq!(count(&s, &b, &or.join(" or ")), 20_000);
    let and: Vec<String> = (0..100_000)
        .step_by(5)
        .map(|i| format!("id != {i}"))
        .collect();
    assert_eq!(count(&s, &b, &and.join(" and ")), 80_000);
    // FLOAT fields compare with literals rounded to f32, in lists too.
    assert_eq!(count(&s, &b, "score in [0.1, 0.2, 1.5, 7.5]"), 4);
    assert_eq!(
        count(&s, &b, "score == 0.1 or score == 0.2 or score == 0.3"),
        3
    );
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    let f = Filter::parse(&or.join(" or "), &s, &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.primary_key_values().map(|v| v.len()), Some(20_000));
}
