//! Never-panic checks: random bytes, random token soup, and pathological nesting.

use std::collections::HashMap;

use quiver_filter::Filter;

use crate::{batch, schema};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const VOCAB: &[&str] = &[
    "id",
    "name",
    "age",
    "score",
    "price",
    "flag",
    "small",
    "meta",
    "tags",
    "nums",
    "vec",
    "color",
    "$meta",
    "n",
    "(",
    ")",
    "[",
    "]",
    ",",
    "+",
    "-",
    "*",
    "/",
    "%",
    "**",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "!=",
    "!",
    "not",
    "and",
    "or",
    "&&",
    "||",
    "in",
    "not in",
    "like",
    "is",
    "null",
    "is not null",
    "exists",
    "1",
    "0",
    "-3",
    "2.5",
    "1e3",
    "0x1f",
    "\"a%\"",
    "'b'",
    "\"x\"",
    "true",
    "FALSE",
    "[1,2]",
    "[]",
    "json_contains",
    "array_contains_all",
    "array_length",
    "JSON_CONTAINS_ANY",
    "{a}",
    "{zz}",
    "\"\\u00e9\"",
    "r\"raw\"",
    "~",
    "&",
    "<<",
    "9223372036854775807",
];

/// Iterations; raise with `QUIVER_FUZZ_ITERS` for a longer soak.
fn iters(default: usize) -> usize {
    std::env::var("QUIVER_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn try_expr(expr: &str) {
    let templates = HashMap::from([("a".to_string(), serde_json::json!(1))]);
    for dynamic in [true, false] {
        if let Ok(f) = Filter::parse(expr, &schema(dynamic), &templates) {
            let _ = f.primary_key_values();
            let _ = f.field_equality_values("name");
            if dynamic {
                let _ = f.evaluate(&batch());
            }
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..iters(3000) {
        let len = rng.below(40);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                // Bias towards the interesting ASCII range.
                if rng.below(4) == 0 {
                    rng.next() as u8
                } else {
                    b" ()[],.+-*/%<>=!&|^~\"'\\{}$_aeinrstx019"[rng.below(38)]
                }
            })
            .collect();
        try_expr(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn random_tokens_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..iters(5000) {
        let len = 1 + rng.below(12);
        let expr: Vec<&str> = (0..len).map(|_| VOCAB[rng.below(VOCAB.len())]).collect();
        try_expr(&expr.join(" "));
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = [
        "(".repeat(100_000),
        format!("{}id == 1{}", "(".repeat(5000), ")".repeat(5000)),
        format!("{}1 > 0", "-".repeat(100_000)),
        format!("{}flag", "not ".repeat(50_000)),
        format!("{}flag", "!".repeat(50_000)),
        format!("{}1 > 0", "1 + ".repeat(50_000)),
        format!("id in {}", "[".repeat(100_000)),
        format!("2{} > 1", " ** 2".repeat(50_000)),
        format!("meta{} == 1", "[\"a\"]".repeat(50_000)),
        format!("{}id == 1", "exists ".repeat(50_000)),
    ];
    for e in &deep {
        assert!(Filter::parse(e, &schema(true), &HashMap::new()).is_err());
    }
    // Long flat chains are fine.
    let wide = vec!["id == 1"; 20_000].join(" or ");
    let f = Filter::parse(&wide, &schema(true), &HashMap::new());
    assert!(f.is_ok_and(|f| f.evaluate(&batch()).is_ok()));
}

const ATOMS: &[&str] = &[
    "id > 3",
    "age <= 35",
    "age is null",
    "name like \"al%\"",
    "name != \"bob\"",
    "flag",
    "score * 2 >= 3",
    "meta[\"a\"] == 1",
    "meta[\"a\"] > 2",
    "meta[\"b\"][\"c\"] == \"x\"",
    "meta[\"s\"] like \"hel%\"",
    "meta[\"s\"] in [\"world\", \"help\"]",
    "json_contains(meta[\"arr\"], 2)",
    "exists meta[\"b\"]",
    "array_contains(tags, \"red\")",
    "tags[0] == \"red\"",
    "color == \"red\"",
    "color in [\"blue\", \"green\"]",
    "n > 5",
    "n is null",
    "id % 2 == 0",
];

fn gen(rng: &mut Rng, depth: usize) -> String {
    if depth == 0 || rng.below(3) == 0 {
        return ATOMS[rng.below(ATOMS.len())].to_string();
    }
    match rng.below(3) {
        0 => format!("({} and {})", gen(rng, depth - 1), gen(rng, depth - 1)),
        1 => format!("({} or {})", gen(rng, depth - 1), gen(rng, depth - 1)),
        _ => format!("not ({})", gen(rng, depth - 1)),
    }
}

fn eval(expr: &str) -> Vec<bool> {
    let f = Filter::parse(expr, &schema(true), &HashMap::new())
        .unwrap_or_else(|e| panic!("`{expr}`: {e}"));
    f.evaluate(&batch())
        .unwrap_or_else(|e| panic!("`{expr}`: {e}"))
}

/// Boolean identities that every evaluation path (fast kernels, generic rows,
/// raw-bytes prefilter, short-circuiting) must agree on.
#[test]
fn random_expressions_obey_boolean_identities() {
    let mut rng = Rng(7);
    for _ in 0..iters(400) {
        let a = gen(&mut rng, 3);
        let b = gen(&mut rng, 3);
        let ra = eval(&a);
        let rb = eval(&b);
        // `not not a` runs below a `not`, where the prefilter is off.
        assert_eq!(eval(&format!("not (not ({a}))")), ra, "{a}");
        let and: Vec<bool> = ra.iter().zip(&rb).map(|(x, y)| *x && *y).collect();
        let or: Vec<bool> = ra.iter().zip(&rb).map(|(x, y)| *x || *y).collect();
        assert_eq!(eval(&format!("({a}) and ({b})")), and, "{a} AND {b}");
        assert_eq!(eval(&format!("({b}) and ({a})")), and, "{b} AND {a}");
        assert_eq!(eval(&format!("({a}) or ({b})")), or, "{a} OR {b}");
        let na = eval(&format!("not ({a})"));
        assert!(ra.iter().zip(&na).all(|(x, y)| !(*x && *y)), "{a}");
    }
}
