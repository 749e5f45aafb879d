//! Per-row values of the generic evaluation path and their comparison and
//! arithmetic rules: ints and floats compare numerically, strings
//! lexicographically, values of different types never compare equal, nulls
//! make the comparison unknown, and arithmetic never panics.

use std::cmp::Ordering;

use serde_json::Value;

use crate::parser::{BinOp, CmpOp};

/// One value borrowed from a column, a parsed JSON document or a literal.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Datum<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    /// A JSON array or object (arrays also stand for ARRAY-field rows).
    Json(&'a Value),
}

impl<'a> Datum<'a> {
    pub fn from_json(v: &'a Value) -> Datum<'a> {
        match v {
            Value::Null => Datum::Null,
            Value::Bool(b) => Datum::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Datum::Int(i),
                None => n.as_f64().map_or(Datum::Null, Datum::Float),
            },
            Value::String(s) => Datum::Str(s),
            Value::Array(_) | Value::Object(_) => Datum::Json(v),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Null)
    }
}

/// Applies a comparison operator to an ordering.
pub(crate) fn ord_matches(op: CmpOp, o: Ordering) -> bool {
    match op {
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Le => o != Ordering::Greater,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Ge => o != Ordering::Less,
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Ne => o != Ordering::Equal,
    }
}

/// Compares an int and a float exactly enough for filtering.
pub(crate) fn cmp_int_float(i: i64, f: f64) -> Option<Ordering> {
    (i as f64).partial_cmp(&f)
}

/// `a op b`: None when either side is null; different types are unequal.
pub(crate) fn compare(op: CmpOp, a: Datum<'_>, b: Datum<'_>) -> Option<bool> {
    let ord = match (a, b) {
        (Datum::Null, _) | (_, Datum::Null) => return None,
        (Datum::Int(x), Datum::Int(y)) => Some(x.cmp(&y)),
        (Datum::Int(x), Datum::Float(y)) => cmp_int_float(x, y),
        (Datum::Float(x), Datum::Int(y)) => cmp_int_float(y, x).map(Ordering::reverse),
        (Datum::Float(x), Datum::Float(y)) => x.partial_cmp(&y),
        (Datum::Str(x), Datum::Str(y)) => Some(x.cmp(y)),
        (Datum::Bool(x), Datum::Bool(y)) => Some(x.cmp(&y)),
        (Datum::Json(x), Datum::Json(y)) => match op {
            CmpOp::Eq => return Some(json_equal(x, y)),
            CmpOp::Ne => return Some(!json_equal(x, y)),
            _ => return Some(false),
        },
        _ => return Some(op == CmpOp::Ne),
    };
    Some(ord.is_some_and(|o| ord_matches(op, o)))
}

/// JSON equality where numbers compare by value (`1 == 1.0`).
pub(crate) fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => {
            compare(CmpOp::Eq, Datum::from_json(a), Datum::from_json(b)) == Some(true)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// True when datum `d` equals JSON element `v` (numbers by value).
pub(crate) fn datum_equals_json(d: Datum<'_>, v: &Value) -> bool {
    compare(CmpOp::Eq, d, Datum::from_json(v)) == Some(true)
}

/// Arithmetic on numbers; anything else, division by zero or NaN yields null.
/// Integer overflow falls back to floating point.
pub(crate) fn arith(op: BinOp, a: Datum<'_>, b: Datum<'_>) -> Datum<'static> {
    match (a, b) {
        (Datum::Int(x), Datum::Int(y)) => int_arith(op, x, y),
        (Datum::Int(x), Datum::Float(y)) => float_arith(op, x as f64, y),
        (Datum::Float(x), Datum::Int(y)) => float_arith(op, x, y as f64),
        (Datum::Float(x), Datum::Float(y)) => float_arith(op, x, y),
        _ => Datum::Null,
    }
}

fn int_arith(op: BinOp, x: i64, y: i64) -> Datum<'static> {
    let r = match op {
        BinOp::Add => x.checked_add(y),
        BinOp::Sub => x.checked_sub(y),
        BinOp::Mul => x.checked_mul(y),
        BinOp::Div => {
            if y == 0 {
                return Datum::Null;
            }
            x.checked_div(y)
        }
        BinOp::Mod => {
            if y == 0 {
                return Datum::Null;
            }
            Some(x.checked_rem(y).unwrap_or(0))
        }
        BinOp::Pow => u32::try_from(y).ok().and_then(|e| x.checked_pow(e)),
    };
    r.map_or_else(|| float_arith(op, x as f64, y as f64), Datum::Int)
}

fn float_arith(op: BinOp, x: f64, y: f64) -> Datum<'static> {
    let r = match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div if y == 0.0 => return Datum::Null,
        BinOp::Div => x / y,
        BinOp::Mod if y == 0.0 => return Datum::Null,
        BinOp::Mod => x % y,
        BinOp::Pow => x.powf(y),
    };
    if r.is_nan() {
        Datum::Null
    } else {
        Datum::Float(r)
    }
}

/// Unary minus.
pub(crate) fn negate(a: Datum<'_>) -> Datum<'static> {
    match a {
        Datum::Int(x) => x
            .checked_neg()
            .map_or(Datum::Float(-(x as f64)), Datum::Int),
        Datum::Float(x) => Datum::Float(-x),
        _ => Datum::Null,
    }
}

/// Owned copy of a number datum as JSON (for folding literals).
pub(crate) fn number_to_json(d: Datum<'_>) -> Option<Value> {
    match d {
        Datum::Int(i) => Some(Value::from(i)),
        Datum::Float(f) => serde_json::Number::from_f64(f).map(Value::Number),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_never_panics() {
        assert!(matches!(
            arith(BinOp::Div, Datum::Int(1), Datum::Int(0)),
            Datum::Null
        ));
        assert!(matches!(
            arith(BinOp::Mod, Datum::Int(i64::MIN), Datum::Int(-1)),
            Datum::Int(0)
        ));
        assert!(matches!(
            arith(BinOp::Mul, Datum::Int(i64::MAX), Datum::Int(2)),
            Datum::Float(_)
        ));
        assert!(matches!(
            arith(BinOp::Pow, Datum::Int(2), Datum::Int(-1)),
            Datum::Float(f) if f == 0.5
        ));
        assert!(matches!(negate(Datum::Int(i64::MIN)), Datum::Float(_)));
    }

    #[test]
    fn mixed_comparisons() {
        assert_eq!(
            compare(CmpOp::Eq, Datum::Int(1), Datum::Float(1.0)),
            Some(true)
        );
        assert_eq!(
            compare(CmpOp::Lt, Datum::Int(1), Datum::Float(1.5)),
            Some(true)
        );
        assert_eq!(
            compare(CmpOp::Eq, Datum::Str("1"), Datum::Int(1)),
            Some(false)
        );
        assert_eq!(
            compare(CmpOp::Ne, Datum::Str("1"), Datum::Int(1)),
            Some(true)
        );
        assert_eq!(compare(CmpOp::Eq, Datum::Null, Datum::Int(1)), None);
    }
}
