//! Never-panic checks: random bytes, random token soup, pathological nesting,
//! and random structurally valid expressions (deep, long, mixed) through parse,
//! bind and evaluate on a 2 MiB stack with a time bound per case; every
//! rejection must be a well-formed user error. Also: folded equality chains
//! agree with their terms evaluated one by one.

use std::collections::HashMap;

use quiver_filter::Filter;

use crate::{batch, schema};

/// xorshift64*: deterministic, dependency-free.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
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
        match Filter::parse(expr, &schema(dynamic), &templates) {
            Ok(f) => {
                let _ = f.primary_key_values();
                let _ = f.field_equality_values("name");
                if dynamic {
                    let _ = f.evaluate(&batch());
                }
            }
            Err(e) => assert_proper(&e, expr),
        }
    }
}

/// A rejection is a user error in Milvus's format, of bounded size.
fn assert_proper(e: &quiver_filter::FilterError, expr: &str) {
    let m = e.to_string();
    assert!(e.is_user_error(), "`{expr}`: {m}");
    assert!(
        (m.starts_with("cannot parse expression: ") && m.contains(", error: "))
            || m.starts_with("predicate is not a boolean expression: "),
        "`{expr}`: {m}"
    );
    assert!(m.len() < 1024, "`{expr}`: {} byte message", m.len());
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

const LEAVES: &[&str] = &[
    "id == 3",
    "age > 30",
    "name like \"a%\"",
    "flag",
    "meta[\"a\"] == 1",
    "color in [\"red\", \"blue\"]",
    "score * 2 >= 3",
    "n is null",
    "json_contains(meta[\"arr\"], 2)",
    "-id < -2",
];

/// A random valid-looking expression: nesting up to `depth` (possibly past the
/// limit), chains up to `width` operands.
fn gen_big(rng: &mut Rng, depth: usize, width: usize) -> String {
    if depth == 0 || rng.below(4) == 0 {
        return LEAVES[rng.below(LEAVES.len())].to_string();
    }
    match rng.below(6) {
        0 | 1 => {
            let op = if rng.below(2) == 0 { " and " } else { " or " };
            let n = 2 + rng.below(width);
            let items: Vec<String> = (0..n)
                .map(|_| gen_big(rng, depth / 4, width / 4 + 1))
                .collect();
            format!("({})", items.join(op))
        }
        2 => format!("not ({})", gen_big(rng, depth - 1, width)),
        3 => format!("({})", gen_big(rng, depth - 1, width)),
        4 => {
            let k = 1 + rng.below(depth);
            format!(
                "{}({}){}",
                "(".repeat(k),
                gen_big(rng, depth / 2, width),
                ")".repeat(k)
            )
        }
        _ => {
            let n = 1 + rng.below(width * 10);
            let vals: Vec<String> = (0..n).map(|i| (i * 7).to_string()).collect();
            format!("id in [{}]", vals.join(","))
        }
    }
}

#[test]
fn random_big_expressions_are_bounded() {
    let handle = std::thread::Builder::new().stack_size(2 << 20).spawn(|| {
        let mut rng = Rng(0xDEAD_BEEF);
        let b = batch();
        for _ in 0..iters(60) {
            let depth = 1 + rng.below(400);
            let width = 1 + rng.below(300);
            let e = gen_big(&mut rng, depth, width);
            let t = std::time::Instant::now();
            match Filter::parse(&e, &schema(true), &HashMap::new()) {
                Ok(f) => {
                    assert!(f.evaluate(&b).is_ok(), "{}", &e[..e.len().min(200)]);
                    let _ = f.primary_key_values();
                }
                Err(err) => assert_proper(&err, &e[..e.len().min(200)]),
            }
            let took = t.elapsed();
            assert!(
                took < std::time::Duration::from_secs(5),
                "{} bytes took {took:?}",
                e.len()
            );
        }
    });
    assert!(handle
        .unwrap_or_else(|e| panic!("spawn: {e}"))
        .join()
        .is_ok());
}

/// `f == a or f == b ...` (folded into one set) matches the OR of each term
/// evaluated alone, and `f != a and ...` the AND; for every field kind.
#[test]
fn folded_chains_agree_with_their_terms() {
    let fields: &[(&str, &[&str])] = &[
        ("id", &["1", "3", "3", "2.0", "9", "-4"]),
        ("age", &["30", "25", "40.0", "31"]),
        ("small", &["1", "-2", "127", "5.5"]),
        ("score", &["1.5", "2.5", "3", "0", "-1.0"]),
        ("price", &["10", "20.5", "99.99", "5"]),
        ("name", &["\"alice\"", "\"bob\"", "'carol'", "\"zed\""]),
        ("flag", &["true", "false"]),
        ("meta[\"a\"]", &["1", "2.5", "\"str\"", "10", "true"]),
        ("color", &["\"red\"", "\"green\"", "5", "\"blue\""]),
        ("n", &["5", "7", "\"five\"", "6.0"]),
        ("tags[0]", &["\"red\"", "\"x\"", "\"blue\""]),
        ("nums[1]", &["5", "8", "3.0"]),
    ];
    let mut rng = Rng(99);
    for _ in 0..iters(200) {
        let (f, lits) = fields[rng.below(fields.len())];
        let k = 1 + rng.below(lits.len());
        let chosen: Vec<&str> = (0..k).map(|_| lits[rng.below(lits.len())]).collect();
        for (op, join, is_or) in [("==", " or ", true), ("!=", " and ", false)] {
            let terms: Vec<String> = chosen.iter().map(|l| format!("{f} {op} {l}")).collect();
            let mut want = vec![!is_or; 6];
            let mut unknown_free = true;
            for t in &terms {
                let r = eval(t);
                let neg = eval(&format!("not ({t})"));
                unknown_free &= r.iter().zip(&neg).all(|(a, b)| a ^ b);
                for (w, x) in want.iter_mut().zip(&r) {
                    *w = if is_or { *w || *x } else { *w && *x };
                }
            }
            let expr = terms.join(join);
            assert_eq!(eval(&expr), want, "{expr}");
            // With an `in` list too, and the negation keeps three-valued logic.
            if is_or {
                let list = format!("{f} in [{}]", chosen.join(", "));
                assert_eq!(eval(&list), want, "{list}");
            }
            if unknown_free {
                let not: Vec<bool> = want.iter().map(|w| !w).collect();
                assert_eq!(eval(&format!("not ({expr})")), not, "not ({expr})");
            }
        }
    }
}
