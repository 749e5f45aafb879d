//! Membership sets for `in` lists, `json_contains_any`-style functions and
//! folded `x == a or x == b ...` chains.
//!
//! Built once when the filter is bound, so each row costs a hash probe or a
//! binary search instead of a scan of the list: a 100k-element `in` list over
//! a 100k-row segment is 10^5 lookups, not 10^10 comparisons. Membership
//! agrees exactly with [`datum::compare`]`(Eq, ..)`: ints and floats meet by
//! value (`1 == 1.0`), FLOAT columns compare with the literal rounded to f32,
//! values of different types never match, and arrays/objects compare
//! structurally (those few are kept in a list).

use std::collections::HashSet;

use serde_json::Value;

use crate::datum::{self, Datum};

/// A set of literal values with typed lookups.
#[derive(Debug, Clone, Default)]
pub(crate) struct InSet {
    /// Distinct literals in first-seen order (what the user wrote).
    values: Vec<Value>,
    /// Integer literals, sorted.
    ints: Vec<i64>,
    /// The integer literals as f64, sorted (probed with float data).
    ints_f: Vec<f64>,
    /// Non-integer numeric literals, sorted by `total_cmp`, -0.0 folded to 0.0.
    floats: Vec<f64>,
    /// Every numeric literal rounded to f32, sorted (probed with FLOAT columns).
    f32s: Vec<f32>,
    strs: HashSet<String>,
    has_true: bool,
    has_false: bool,
    /// Arrays and objects.
    others: Vec<Value>,
}

/// Folds -0.0 into 0.0 so `total_cmp` agrees with `==`.
fn norm(f: f64) -> f64 {
    f + 0.0
}

fn find_f64(sorted: &[f64], x: f64) -> bool {
    !x.is_nan() && !sorted.is_empty() && sorted.binary_search_by(|p| p.total_cmp(&norm(x))).is_ok()
}

impl InSet {
    /// Builds the set (values of any type; nulls are ignored since they
    /// never compare equal).
    pub fn new(items: impl IntoIterator<Item = Value>) -> InSet {
        let mut s = InSet::default();
        let mut seen_ints = HashSet::new();
        let mut seen_floats = HashSet::new();
        for v in items {
            if s.insert(&v, &mut seen_ints, &mut seen_floats) {
                s.values.push(v);
            }
        }
        s.ints.sort_unstable();
        s.ints_f = s.ints.iter().map(|i| *i as f64).collect();
        s.ints_f.sort_by(f64::total_cmp);
        s.floats.sort_by(f64::total_cmp);
        s.f32s.sort_by(f32::total_cmp);
        s.f32s.dedup();
        s
    }

    /// Records `v`; false when it is a duplicate (or null).
    fn insert(
        &mut self,
        v: &Value,
        seen_ints: &mut HashSet<i64>,
        seen_floats: &mut HashSet<u64>,
    ) -> bool {
        match Datum::from_json(v) {
            Datum::Null => false,
            Datum::Int(i) => {
                let new = seen_ints.insert(i);
                if new {
                    self.ints.push(i);
                    self.f32s.push(i as f32);
                }
                new
            }
            Datum::Float(f) => {
                let f = norm(f);
                let new = seen_floats.insert(f.to_bits());
                if new {
                    self.floats.push(f);
                    self.f32s.push((f as f32) + 0.0);
                }
                new
            }
            Datum::Str(x) => self.strs.insert(x.to_string()),
            Datum::Bool(b) => {
                let slot = if b {
                    &mut self.has_true
                } else {
                    &mut self.has_false
                };
                !std::mem::replace(slot, true)
            }
            Datum::Json(j) => {
                let new = !self.others.iter().any(|o| o == j);
                if new {
                    self.others.push(j.clone());
                }
                new
            }
        }
    }

    /// The distinct literals, in the order written.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// The literals when every one is a non-empty string.
    pub fn strings(&self) -> Option<Vec<&str>> {
        self.values
            .iter()
            .map(|v| v.as_str().filter(|s| !s.is_empty()))
            .collect()
    }

    /// True when the set holds only string literals.
    pub fn only_strs(&self) -> bool {
        self.strs.len() == self.values.len()
    }

    /// True when the set holds only numbers.
    pub fn only_numbers(&self) -> bool {
        self.ints.len() + self.floats.len() == self.values.len()
    }

    pub fn contains_i64(&self, x: i64) -> bool {
        self.ints.binary_search(&x).is_ok() || find_f64(&self.floats, x as f64)
    }

    pub fn contains_f64(&self, x: f64) -> bool {
        find_f64(&self.floats, x) || find_f64(&self.ints_f, x)
    }

    /// Membership for a FLOAT (f32) column: literals are rounded to f32.
    pub fn contains_f32(&self, x: f32) -> bool {
        !x.is_nan()
            && self
                .f32s
                .binary_search_by(|p| p.total_cmp(&(x + 0.0)))
                .is_ok()
    }

    pub fn contains_str(&self, x: &str) -> bool {
        self.strs.contains(x)
    }

    /// `d in set`: None when `d` is null (unknown), else whether some member
    /// equals it.
    pub fn contains(&self, d: Datum<'_>) -> Option<bool> {
        Some(match d {
            Datum::Null => return None,
            Datum::Int(i) => self.contains_i64(i),
            Datum::Float(f) => self.contains_f64(f),
            Datum::Str(s) => self.contains_str(s),
            Datum::Bool(true) => self.has_true,
            Datum::Bool(false) => self.has_false,
            Datum::Json(j) => self.others.iter().any(|o| datum::json_equal(j, o)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Membership equals "some element compares equal", for every pairing.
    #[test]
    fn agrees_with_compare() {
        let lits = vec![
            json!(1),
            json!(2.5),
            json!(-0.0),
            json!(9007199254740993i64),
            json!("a"),
            json!(true),
            json!([1, 2]),
            json!(1),
        ];
        let set = InSet::new(lits.clone());
        assert_eq!(set.len(), 7);
        let probes = [
            json!(1),
            json!(1.0),
            json!(0),
            json!(0.0),
            json!(2.5),
            json!(2),
            json!(9007199254740992.0),
            json!(9007199254740992i64),
            json!("a"),
            json!("b"),
            json!(true),
            json!(false),
            json!([1.0, 2]),
            json!([2, 1]),
            json!({"a": 1}),
        ];
        for p in &probes {
            let d = Datum::from_json(p);
            let want = lits.iter().any(|l| {
                datum::compare(crate::ast::CmpOp::Eq, d, Datum::from_json(l)) == Some(true)
            });
            assert_eq!(set.contains(d), Some(want), "{p}");
        }
        assert_eq!(set.contains(Datum::Null), None);
        assert!(set.contains_f32(2.5) && set.contains_f32(1.0) && !set.contains_f32(2.0));
        assert!(InSet::new(vec![json!(1.1)]).contains_f32(1.1f32));
    }
}
