//! Three-valued logic over whole columns: the result type of every predicate.
//!
//! A filter is true, false or unknown (null) per row, and only definitely-true
//! rows match. Both the evaluator ([`crate::eval`]) and its typed column fast
//! paths ([`crate::columns`]) produce these results, so the type lives below
//! both of them here rather than in either: the fast paths then need nothing
//! from the evaluator that calls them.

use arrow::buffer::BooleanBuffer;

/// Result of a predicate: definitely-true and definitely-false rows. Rows in
/// neither bitmap are unknown; no row is in both.
pub(crate) struct Tri {
    pub t: BooleanBuffer,
    pub f: BooleanBuffer,
}

impl Tri {
    /// Every one of `n` rows true (`value`) or every one false.
    pub(crate) fn constant(n: usize, value: bool) -> Tri {
        Tri {
            t: bits(n, value),
            f: bits(n, !value),
        }
    }

    /// From one optional truth value per row (None = unknown).
    pub(crate) fn from_opts(v: &[Option<bool>]) -> Tri {
        Tri {
            t: BooleanBuffer::collect_bool(v.len(), |i| v[i] == Some(true)),
            f: BooleanBuffer::collect_bool(v.len(), |i| v[i] == Some(false)),
        }
    }

    /// From computed values for every row and an optional validity bitmap.
    pub(crate) fn from_values(vals: BooleanBuffer, valid: Option<&BooleanBuffer>) -> Tri {
        let not = !&vals;
        match valid {
            Some(valid) => Tri {
                t: &vals & valid,
                f: &not & valid,
            },
            None => Tri { t: vals, f: not },
        }
    }

    /// Logical `not`: true and false swap, unknown stays unknown.
    pub(crate) fn negate(self) -> Tri {
        Tri {
            t: self.f,
            f: self.t,
        }
    }

    /// Kleene `and` into `self`: true where both are, false where either is.
    pub(crate) fn and_with(&mut self, other: &Tri) {
        self.t = &self.t & &other.t;
        self.f = &self.f | &other.f;
    }

    /// Kleene `or` into `self`: true where either is, false where both are.
    pub(crate) fn or_with(&mut self, other: &Tri) {
        self.t = &self.t | &other.t;
        self.f = &self.f & &other.f;
    }
}

/// `n` bits, all set to `value`.
pub(crate) fn bits(n: usize, value: bool) -> BooleanBuffer {
    if value {
        BooleanBuffer::new_set(n)
    } else {
        BooleanBuffer::new_unset(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row truth values as `Some(true)`, `Some(false)`, `None`.
    fn rows(t: &Tri) -> Vec<Option<bool>> {
        (0..t.t.len())
            .map(|i| match (t.t.value(i), t.f.value(i)) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            })
            .collect()
    }

    const ALL: [Option<bool>; 3] = [Some(true), Some(false), None];

    /// Every pair of (true, false, unknown), as two columns of nine rows.
    fn pairs() -> (Tri, Tri) {
        let a: Vec<_> = ALL.iter().flat_map(|x| [*x; 3]).collect();
        let b: Vec<_> = (0..3).flat_map(|_| ALL).collect();
        (Tri::from_opts(&a), Tri::from_opts(&b))
    }

    #[test]
    fn kleene_truth_tables() {
        let (a, b) = pairs();
        let (t, f, u) = (Some(true), Some(false), None);
        let mut and = Tri::from_opts(&rows(&a));
        and.and_with(&b);
        assert_eq!(rows(&and), [t, f, u, f, f, f, u, f, u]);
        let mut or = Tri::from_opts(&rows(&a));
        or.or_with(&b);
        assert_eq!(rows(&or), [t, t, t, t, f, u, t, u, u]);
        assert_eq!(rows(&a.negate()), [f, f, f, t, t, t, u, u, u]);
    }

    #[test]
    fn nulls_are_unknown_and_constants_are_uniform() {
        let vals = BooleanBuffer::from(vec![true, false, true]);
        let valid = BooleanBuffer::from(vec![true, true, false]);
        let r = Tri::from_values(vals.clone(), Some(&valid));
        assert_eq!(rows(&r), [Some(true), Some(false), None]);
        assert_eq!(
            rows(&Tri::from_values(vals, None)),
            [Some(true), Some(false), Some(true)]
        );
        assert_eq!(rows(&Tri::constant(2, true)), [Some(true); 2]);
        assert_eq!(rows(&Tri::constant(2, false)), [Some(false); 2]);
    }
}
