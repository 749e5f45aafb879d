//! Typed loops over Arrow columns: the fast paths of the evaluator
//! (`column op literal`, `column in [..]`) and the conversions of columns into
//! per-row [`Datum`]s and JSON values for the generic path.

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, GenericListArray, PrimitiveArray, StringArray,
};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{
    ArrowPrimitiveType, DataType as ArrowType, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type,
};
use serde_json::Value;

use crate::datum::{self, ord_matches, Datum};
use crate::error::FilterError;
use crate::inset::InSet;
use crate::parser::CmpOp;
use crate::tri::Tri;

fn eval_err<T>(msg: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError::Eval(msg.into()))
}

/// Converts each row of a List column to a JSON array.
pub(crate) fn list_to_json(col: &ArrayRef) -> Result<Vec<Option<Value>>, FilterError> {
    let Some(l) = col.as_any().downcast_ref::<GenericListArray<i32>>() else {
        return eval_err(format!(
            "column of type {} is not JSON or ARRAY",
            col.data_type()
        ));
    };
    let values = column_json_values(l.values())?;
    let offsets = l.value_offsets();
    Ok((0..l.len())
        .map(|i| {
            l.is_valid(i).then(|| {
                let (s, e) = (offsets[i] as usize, offsets[i + 1] as usize);
                Value::Array(values.get(s..e).map(<[Value]>::to_vec).unwrap_or_default())
            })
        })
        .collect())
}

/// Converts a flat scalar array into JSON values (nulls become `Value::Null`).
pub(crate) fn column_json_values(col: &ArrayRef) -> Result<Vec<Value>, FilterError> {
    let d = column_datums(col)?;
    Ok(d.into_iter()
        .map(|x| match x {
            Datum::Bool(b) => Value::Bool(b),
            Datum::Int(i) => Value::from(i),
            Datum::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            Datum::Str(s) => Value::String(s.to_string()),
            _ => Value::Null,
        })
        .collect())
}

fn prim_datums<T: ArrowPrimitiveType>(
    col: &ArrayRef,
    f: impl Fn(T::Native) -> Datum<'static>,
) -> Vec<Datum<'static>> {
    let a: &PrimitiveArray<T> = col.as_primitive();
    (0..a.len())
        .map(|i| {
            if a.is_valid(i) {
                f(a.value(i))
            } else {
                Datum::Null
            }
        })
        .collect()
}

/// One datum per row of a scalar column.
pub(crate) fn column_datums(col: &ArrayRef) -> Result<Vec<Datum<'_>>, FilterError> {
    Ok(match col.data_type() {
        ArrowType::Int8 => prim_datums::<Int8Type>(col, |v| Datum::Int(v.into())),
        ArrowType::Int16 => prim_datums::<Int16Type>(col, |v| Datum::Int(v.into())),
        ArrowType::Int32 => prim_datums::<Int32Type>(col, |v| Datum::Int(v.into())),
        ArrowType::Int64 => prim_datums::<Int64Type>(col, Datum::Int),
        ArrowType::Float32 => prim_datums::<Float32Type>(col, |v| Datum::Float(v.into())),
        ArrowType::Float64 => prim_datums::<Float64Type>(col, Datum::Float),
        ArrowType::Boolean => {
            let a: &BooleanArray = col.as_boolean();
            (0..a.len())
                .map(|i| {
                    if a.is_valid(i) {
                        Datum::Bool(a.value(i))
                    } else {
                        Datum::Null
                    }
                })
                .collect()
        }
        ArrowType::Utf8 => {
            let a: &StringArray = col.as_string();
            (0..a.len())
                .map(|i| {
                    if a.is_valid(i) {
                        Datum::Str(a.value(i))
                    } else {
                        Datum::Null
                    }
                })
                .collect()
        }
        other => return eval_err(format!("cannot filter on a column of type {other}")),
    })
}

fn int_values(col: &ArrayRef) -> Option<(Vec<i64>, Option<&BooleanBuffer>)> {
    fn widen<T: ArrowPrimitiveType>(col: &ArrayRef) -> Vec<i64>
    where
        T::Native: Into<i64>,
    {
        col.as_primitive::<T>()
            .values()
            .iter()
            .map(|v| (*v).into())
            .collect()
    }
    let v = match col.data_type() {
        ArrowType::Int8 => widen::<Int8Type>(col),
        ArrowType::Int16 => widen::<Int16Type>(col),
        ArrowType::Int32 => widen::<Int32Type>(col),
        _ => return None,
    };
    Some((v, col.nulls().map(|n| n.inner())))
}

fn prim_cmp<T: ArrowPrimitiveType>(col: &ArrayRef, pred: impl Fn(T::Native) -> bool) -> Tri {
    let a: &PrimitiveArray<T> = col.as_primitive();
    let vals = a.values();
    let bits = BooleanBuffer::collect_bool(vals.len(), |i| pred(vals[i]));
    Tri::from_values(bits, a.nulls().map(|n| n.inner()))
}

/// `column op literal` over a scalar column, or None when no fast path applies.
pub(crate) fn fast_cmp(col: &ArrayRef, op: CmpOp, lit: Datum<'_>) -> Option<Tri> {
    let ordf = move |x: f64, y: f64| x.partial_cmp(&y).is_some_and(|o| ord_matches(op, o));
    Some(match (col.data_type(), lit) {
        (ArrowType::Int64, Datum::Int(y)) => {
            prim_cmp::<Int64Type>(col, |x| ord_matches(op, x.cmp(&y)))
        }
        (ArrowType::Int64, Datum::Float(y)) => prim_cmp::<Int64Type>(col, |x| {
            datum::cmp_int_float(x, y).is_some_and(|o| ord_matches(op, o))
        }),
        (ArrowType::Int8 | ArrowType::Int16 | ArrowType::Int32, Datum::Int(y)) => {
            let (v, valid) = int_values(col)?;
            let bits = BooleanBuffer::collect_bool(v.len(), |i| ord_matches(op, v[i].cmp(&y)));
            Tri::from_values(bits, valid)
        }
        (ArrowType::Int8 | ArrowType::Int16 | ArrowType::Int32, Datum::Float(y)) => {
            let (v, valid) = int_values(col)?;
            let bits = BooleanBuffer::collect_bool(v.len(), |i| ordf(v[i] as f64, y));
            Tri::from_values(bits, valid)
        }
        // Like Milvus, float fields compare against the literal cast to f32,
        // so `score == 1.1` matches the stored 1.1f32.
        (ArrowType::Float32, Datum::Int(y)) => {
            let y = y as f32;
            prim_cmp::<Float32Type>(col, |x| {
                x.partial_cmp(&y).is_some_and(|o| ord_matches(op, o))
            })
        }
        (ArrowType::Float32, Datum::Float(y)) => {
            let y = y as f32;
            prim_cmp::<Float32Type>(col, |x| {
                x.partial_cmp(&y).is_some_and(|o| ord_matches(op, o))
            })
        }
        (ArrowType::Float64, Datum::Int(y)) => prim_cmp::<Float64Type>(col, |x| ordf(x, y as f64)),
        (ArrowType::Float64, Datum::Float(y)) => prim_cmp::<Float64Type>(col, |x| ordf(x, y)),
        (ArrowType::Utf8, Datum::Str(y)) => {
            let a: &StringArray = col.as_string();
            let bits = match op {
                CmpOp::Eq => BooleanBuffer::collect_bool(a.len(), |i| a.value(i) == y),
                CmpOp::Ne => BooleanBuffer::collect_bool(a.len(), |i| a.value(i) != y),
                _ => BooleanBuffer::collect_bool(a.len(), |i| ord_matches(op, a.value(i).cmp(y))),
            };
            Tri::from_values(bits, a.nulls().map(|n| n.inner()))
        }
        (ArrowType::Boolean, Datum::Bool(y)) => {
            let a: &BooleanArray = col.as_boolean();
            let bits =
                BooleanBuffer::collect_bool(a.len(), |i| ord_matches(op, a.value(i).cmp(&y)));
            Tri::from_values(bits, a.nulls().map(|n| n.inner()))
        }
        _ => return None,
    })
}

/// `column in set` over a string or numeric column.
pub(crate) fn fast_in(col: &ArrayRef, set: &InSet) -> Option<Tri> {
    fn prim<T: ArrowPrimitiveType>(col: &ArrayRef, test: impl Fn(T::Native) -> bool) -> Tri {
        let a: &PrimitiveArray<T> = col.as_primitive();
        let vals = a.values();
        let bits = BooleanBuffer::collect_bool(vals.len(), |i| test(vals[i]));
        Tri::from_values(bits, a.nulls().map(|n| n.inner()))
    }
    let numbers = set.only_numbers();
    Some(match col.data_type() {
        ArrowType::Utf8 if set.only_strs() => {
            let a: &StringArray = col.as_string();
            let bits = BooleanBuffer::collect_bool(a.len(), |i| set.contains_str(a.value(i)));
            Tri::from_values(bits, a.nulls().map(|n| n.inner()))
        }
        ArrowType::Int64 if numbers => prim::<Int64Type>(col, |v| set.contains_i64(v)),
        ArrowType::Int32 if numbers => prim::<Int32Type>(col, |v| set.contains_i64(v.into())),
        ArrowType::Int16 if numbers => prim::<Int16Type>(col, |v| set.contains_i64(v.into())),
        ArrowType::Int8 if numbers => prim::<Int8Type>(col, |v| set.contains_i64(v.into())),
        ArrowType::Float32 if numbers => prim::<Float32Type>(col, |v| set.contains_f32(v)),
        ArrowType::Float64 if numbers => prim::<Float64Type>(col, |v| set.contains_f64(v)),
        _ => return None,
    })
}
