//! Linearity: parse + bind + evaluate (+ the primary-key extraction the proxy
//! does) of 4x the terms takes about 4x the time. Asserted by ratio, best of
//! three runs, with an absolute floor, so a loaded 2-core machine does not fail
//! it; a quadratic stage (16x) still does.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use quiver_filter::{Filter, Limits};

use crate::{batch, schema};

fn run(expr: &str, limits: &Limits) -> Duration {
    let s = schema(true);
    let b = batch();
    (0..3)
        .map(|_| {
            let t = Instant::now();
            let f = Filter::parse_with_limits(expr, &s, &HashMap::new(), limits);
            if let Ok(f) = f {
                let _ = f.primary_key_values();
                let _ = f.field_equality_values("name");
                assert!(f.evaluate(&b).is_ok());
            }
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn linear(name: &str, make: impl Fn(usize) -> String) {
    let lim = Limits {
        max_predicates: usize::MAX,
        ..Limits::DEFAULT
    };
    let small = run(&make(20_000), &lim);
    let large = run(&make(80_000), &lim);
    let floor = Duration::from_millis(150);
    eprintln!("{name}: 20k {small:?}, 80k {large:?}");
    assert!(
        large <= small * 8 || large <= floor,
        "{name}: 20k terms {small:?}, 80k terms {large:?} (not linear)"
    );
}

fn chain(n: usize, op: &str, term: impl Fn(usize) -> String) -> String {
    (0..n).map(term).collect::<Vec<_>>().join(op)
}

#[test]
fn every_stage_is_linear() {
    linear("or on pk", |n| chain(n, " or ", |i| format!("id == {i}")));
    linear("or on json", |n| {
        chain(n, " or ", |i| format!("meta[\"a\"] == {i}"))
    });
    linear("and of !=", |n| {
        chain(n, " and ", |i| format!("age != {i}"))
    });
    linear("or of ranges", |n| {
        chain(n / 4, " or ", |i| {
            format!("(age > {i} and name like \"a%\")")
        })
    });
    linear("in list", |n| {
        format!("id in [{}]", chain(n, ",", |i| i.to_string()))
    });
    linear("string in list", |n| {
        format!("name in [{}]", chain(n, ",", |i| format!("'s{i}'")))
    });
    linear("string literal", |n| {
        format!("name == \"{}\"", "x".repeat(n * 50))
    });
    linear("json key", |n| {
        format!("meta[\"{}\"] == 1", "k".repeat(n * 50))
    });
    linear("like pattern", |n| {
        format!("name like \"%{}_%\"", "ab".repeat(n * 10))
    });
    // Deep or long nested input is refused after a bounded prefix.
    linear("refused parens", |n| {
        format!("{}id == 1{}", "(".repeat(n * 10), ")".repeat(n * 10))
    });
    linear("refused arithmetic", |n| {
        format!("id {} > 1", "+ 1 ".repeat(n * 10))
    });
}
