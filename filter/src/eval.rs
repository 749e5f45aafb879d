//! Column-at-a-time evaluation with three-valued logic.
//!
//! Every predicate yields a [`Tri`]: two bitmaps, rows where it is definitely
//! true and rows where it is definitely false; rows in neither are unknown
//! (null). `not` swaps them, so `not (x > 1)` does not match rows where `x` is
//! null. Comparisons of a scalar column with a literal run as tight typed loops
//! over the Arrow buffers ([`crate::columns`]); everything else goes through
//! per-row [`Datum`]s.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{HashMap, HashSet};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::DataType as ArrowType;
use arrow::record_batch::RecordBatch;
use serde_json::Value;

use crate::columns::{column_datums, fast_cmp, fast_in, list_to_json};
use crate::datum::{self, Datum};
use crate::error::FilterError;
use crate::inset::InSet;
use crate::json::{parse_doc, JsonCol};
use crate::like::LikePattern;
use crate::parser::CmpOp;
use crate::plan::{Contains, PathElem, Pred, Val};
use crate::tri::{bits, Tri};
use memchr::memmem;

/// JSON documents of one column, parsed on first use (at most once per row).
struct Docs<'a> {
    /// The Binary/Utf8 column to parse from; None when `cells` were filled eagerly.
    src: Option<&'a ArrayRef>,
    /// Top-level keys to keep (None = whole document).
    keys: Option<&'a HashSet<String>>,
    cells: Vec<OnceCell<Option<Value>>>,
}

impl Docs<'_> {
    fn get(&self, i: usize) -> Option<&Value> {
        let cell = self.cells.get(i)?;
        cell.get_or_init(|| {
            let col = self.src?;
            if col.is_null(i) {
                return None;
            }
            if let Some(b) = col.as_binary_opt::<i32>() {
                return parse_doc(b.value(i), self.keys);
            }
            col.as_string_opt::<i32>()
                .and_then(|s| parse_doc(s.value(i).as_bytes(), self.keys))
        })
        .as_ref()
    }
}

/// Evaluation state for one batch.
pub(crate) struct Ctx<'a> {
    batch: &'a RecordBatch,
    n: usize,
    json: HashMap<&'a str, Docs<'a>>,
    /// Rows whose result still matters (inside `and`/`or`); None = all rows.
    /// Rows outside may get any result, so JSON documents there are not parsed.
    sel: RefCell<Option<BooleanBuffer>>,
    /// False below a `not`: there the false/unknown distinction matters, so
    /// the raw-bytes prefilter (which cannot tell them apart) is off.
    positive: Cell<bool>,
}

fn eval_err<T>(msg: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError::Eval(msg.into()))
}

impl<'a> Ctx<'a> {
    pub fn new(batch: &'a RecordBatch, json_cols: &'a [JsonCol]) -> Result<Self, FilterError> {
        let mut json = HashMap::new();
        for JsonCol { name, keys } in json_cols {
            // A segment written before the column existed reads as all-null.
            let Some(col) = batch.column_by_name(name) else {
                let cells = (0..batch.num_rows())
                    .map(|_| OnceCell::from(None))
                    .collect();
                let docs = Docs {
                    src: None,
                    keys: None,
                    cells,
                };
                json.insert(name.as_str(), docs);
                continue;
            };
            let docs = match col.data_type() {
                ArrowType::Binary | ArrowType::Utf8 => Docs {
                    src: Some(col),
                    keys: keys.as_ref(),
                    cells: (0..col.len()).map(|_| OnceCell::new()).collect(),
                },
                _ => Docs {
                    src: None,
                    keys: None,
                    cells: list_to_json(col)?.into_iter().map(OnceCell::from).collect(),
                },
            };
            json.insert(name.as_str(), docs);
        }
        Ok(Ctx {
            batch,
            n: batch.num_rows(),
            json,
            sel: RefCell::new(None),
            positive: Cell::new(true),
        })
    }

    /// Evaluates only `rows` from now on (others may get any result).
    pub fn restrict(&self, rows: BooleanBuffer) {
        *self.sel.borrow_mut() = Some(rows);
    }

    fn column(&self, name: &str) -> Result<&'a ArrayRef, FilterError> {
        match self.batch.column_by_name(name) {
            Some(c) => Ok(c),
            None => eval_err(format!("column {name} missing from segment")),
        }
    }

    pub fn pred(&self, p: &Pred) -> Result<Tri, FilterError> {
        if self.positive.get() {
            if let Some((col, needles)) = raw_needles(p) {
                return self.prefiltered(col, &needles, p);
            }
        }
        self.pred_inner(p)
    }

    /// Evaluates `p` only on rows whose raw JSON bytes contain one of
    /// `needles` (or contain a backslash, i.e. may hold escapes): a string
    /// value without escapes appears verbatim in its document, so elsewhere
    /// `p` cannot be true. Saves parsing most documents for selective filters.
    fn prefiltered(&self, col: &str, needles: &[&str], p: &Pred) -> Result<Tri, FilterError> {
        let Some(src) = self.docs(col)?.src else {
            return self.pred_inner(p);
        };
        let bin = src.as_binary_opt::<i32>();
        let utf = src.as_string_opt::<i32>();
        let bytes = |i: usize| -> &[u8] {
            match (bin, utf) {
                (Some(b), _) => b.value(i),
                (_, Some(s)) => s.value(i).as_bytes(),
                _ => &[],
            }
        };
        let finders: Vec<memmem::Finder<'_>> = needles
            .iter()
            .map(|n| memmem::Finder::new(n.as_bytes()))
            .collect();
        let outer = self.sel.borrow().clone();
        let hits = BooleanBuffer::collect_bool(self.n, |i| {
            if outer.as_ref().is_some_and(|s| !s.value(i)) || src.is_null(i) {
                return false;
            }
            let b = bytes(i);
            memchr::memchr(b'\\', b).is_some() || finders.iter().any(|f| f.find(b).is_some())
        });
        *self.sel.borrow_mut() = Some(hits.clone());
        let r = self.pred_inner(p);
        self.sel.borrow_mut().clone_from(&outer);
        let mut r = r?;
        r.t = &r.t & &hits;
        Ok(r)
    }

    fn pred_inner(&self, p: &Pred) -> Result<Tri, FilterError> {
        match p {
            Pred::Const(b) => Ok(Tri::constant(self.n, *b)),
            Pred::Not(inner) => {
                let was = self.positive.replace(false);
                let r = self.pred(inner);
                self.positive.set(was);
                Ok(r?.negate())
            }
            Pred::And(items) => self.fold(items, true),
            Pred::Or(items) => self.fold(items, false),
            Pred::Cmp(op, l, r) => self.cmp(*op, l, r),
            Pred::In(v, list, negated) => self.term_in(v, list, *negated),
            Pred::Like(v, pat) => self.like(v, pat),
            Pred::IsNull(v, negated) => {
                let nulls = self.null_mask(v)?;
                let notn = !&nulls;
                Ok(if *negated {
                    Tri { t: notn, f: nulls }
                } else {
                    Tri { t: nulls, f: notn }
                })
            }
            Pred::Exists(v) => {
                let t = match v {
                    Val::Path { col, path, .. } => {
                        let docs = self.docs(col)?;
                        let sel = self.sel.borrow().clone();
                        BooleanBuffer::collect_bool(self.n, |i| {
                            sel.as_ref().is_none_or(|s| s.value(i))
                                && docs.get(i).and_then(|d| resolve(d, path)).is_some()
                        })
                    }
                    _ => bits(self.n, false),
                };
                let f = !&t;
                Ok(Tri { t, f })
            }
            Pred::Contains(kind, v, set) => {
                let vals = self.datums(v)?;
                let out: Vec<Option<bool>> =
                    vals.iter().map(|d| contains(*kind, *d, set)).collect();
                Ok(Tri::from_opts(&out))
            }
            Pred::Truthy(v) => {
                let vals = self.datums(v)?;
                let out: Vec<Option<bool>> = vals
                    .iter()
                    .map(|d| match d {
                        Datum::Null => None,
                        Datum::Bool(b) => Some(*b),
                        _ => Some(false),
                    })
                    .collect();
                Ok(Tri::from_opts(&out))
            }
        }
    }

    fn fold(&self, items: &[Pred], is_and: bool) -> Result<Tri, FilterError> {
        let mut acc = Tri::constant(self.n, is_and);
        let outer = self.sel.borrow().clone();
        for (k, p) in items.iter().enumerate() {
            if k > 0 {
                // Rows already decided by earlier operands need no more work.
                let open = if is_and { !&acc.f } else { !&acc.t };
                let open = match &outer {
                    Some(o) => &open & o,
                    None => open,
                };
                if open.count_set_bits() == 0 {
                    break;
                }
                *self.sel.borrow_mut() = Some(open);
            }
            let r = self.pred(p);
            if k > 0 {
                self.sel.borrow_mut().clone_from(&outer);
            }
            let r = r?;
            if is_and {
                acc.and_with(&r);
            } else {
                acc.or_with(&r);
            }
        }
        Ok(acc)
    }

    fn cmp(&self, op: CmpOp, l: &Val, r: &Val) -> Result<Tri, FilterError> {
        match (l, r) {
            (Val::Col(c), Val::Lit(v)) => {
                if let Some(t) = fast_cmp(self.column(c)?, op, Datum::from_json(v)) {
                    return Ok(t);
                }
            }
            (Val::Lit(v), Val::Col(c)) => {
                if let Some(t) = fast_cmp(self.column(c)?, op.flip(), Datum::from_json(v)) {
                    return Ok(t);
                }
            }
            _ => {}
        }
        let out: Vec<Option<bool>> = match (l, r) {
            (_, Val::Lit(y)) => {
                let y = Datum::from_json(y);
                let a = self.datums(l)?;
                a.iter().map(|x| datum::compare(op, *x, y)).collect()
            }
            (Val::Lit(x), _) => {
                let x = Datum::from_json(x);
                let b = self.datums(r)?;
                b.iter().map(|y| datum::compare(op, x, *y)).collect()
            }
            _ => {
                let a = self.datums(l)?;
                let b = self.datums(r)?;
                a.iter()
                    .zip(&b)
                    .map(|(x, y)| datum::compare(op, *x, *y))
                    .collect()
            }
        };
        Ok(Tri::from_opts(&out))
    }

    fn term_in(&self, v: &Val, set: &InSet, negated: bool) -> Result<Tri, FilterError> {
        if let Val::Col(c) = v {
            if let Some(t) = fast_in(self.column(c)?, set) {
                return Ok(if negated { t.negate() } else { t });
            }
        }
        let vals = self.datums(v)?;
        let out: Vec<Option<bool>> = vals
            .iter()
            .map(|d| set.contains(*d).map(|found| found != negated))
            .collect();
        Ok(Tri::from_opts(&out))
    }

    fn like(&self, v: &Val, pat: &LikePattern) -> Result<Tri, FilterError> {
        if let Val::Col(c) = v {
            if let Some(s) = self.column(c)?.as_string_opt::<i32>() {
                let vals = BooleanBuffer::collect_bool(s.len(), |i| pat.matches(s.value(i)));
                return Ok(Tri::from_values(vals, s.nulls().map(|n| n.inner())));
            }
        }
        let vals = self.datums(v)?;
        let out: Vec<Option<bool>> = vals
            .iter()
            .map(|d| match d {
                Datum::Null => None,
                Datum::Str(s) => Some(pat.matches(s)),
                _ => Some(false),
            })
            .collect();
        Ok(Tri::from_opts(&out))
    }

    /// Rows where the value is null (for `is null`).
    fn null_mask(&self, v: &Val) -> Result<BooleanBuffer, FilterError> {
        if let Val::Col(c) = v {
            let col = self.column(c)?;
            return Ok(match col.nulls() {
                Some(n) => !n.inner(),
                None => bits(self.n, false),
            });
        }
        let vals = self.datums(v)?;
        Ok(BooleanBuffer::collect_bool(vals.len(), |i| {
            vals[i].is_null()
        }))
    }

    fn docs(&self, col: &str) -> Result<&Docs<'a>, FilterError> {
        match self.json.get(col) {
            Some(d) => Ok(d),
            None => eval_err(format!("column {col} was not prepared")),
        }
    }

    /// Materialises a value expression as one datum per row.
    fn datums<'s>(&'s self, v: &'s Val) -> Result<Vec<Datum<'s>>, FilterError> {
        Ok(match v {
            Val::Lit(l) => vec![Datum::from_json(l); self.n],
            Val::Col(c) => column_datums(self.column(c)?)?,
            Val::Path { col, path, .. } => {
                let docs = self.docs(col)?;
                let sel = self.sel.borrow().clone();
                (0..self.n)
                    .map(|i| {
                        if sel.as_ref().is_some_and(|s| !s.value(i)) {
                            return Datum::Null;
                        }
                        docs.get(i)
                            .and_then(|d| resolve(d, path))
                            .map_or(Datum::Null, Datum::from_json)
                    })
                    .collect()
            }
            Val::Neg(inner) => self.datums(inner)?.into_iter().map(datum::negate).collect(),
            Val::Arith(op, l, r) => {
                if let Val::Lit(y) = r.as_ref() {
                    let y = Datum::from_json(y);
                    return Ok(self
                        .datums(l)?
                        .into_iter()
                        .map(|x| datum::arith(*op, x, y))
                        .collect());
                }
                let a = self.datums(l)?;
                let b = self.datums(r)?;
                a.into_iter()
                    .zip(b)
                    .map(|(x, y)| datum::arith(*op, x, y))
                    .collect()
            }
            Val::Len(inner) => self
                .datums(inner)?
                .into_iter()
                .map(|d| match d {
                    Datum::Json(Value::Array(a)) => Datum::Int(a.len() as i64),
                    _ => Datum::Null,
                })
                .collect(),
        })
    }
}

/// Most needles the raw-bytes prefilter searches for; longer lists would cost
/// more than the parsing they save.
const MAX_NEEDLES: usize = 16;

/// For string-equality-like predicates on a JSON path: the column and the
/// strings one of which must appear in a matching document.
fn raw_needles(p: &Pred) -> Option<(&str, Vec<&str>)> {
    fn json_col(v: &Val) -> Option<&str> {
        match v {
            Val::Path {
                col,
                is_array: false,
                path,
            } if !path.is_empty() => Some(col),
            _ => None,
        }
    }
    let (col, needles) = match p {
        Pred::Cmp(CmpOp::Eq, v, Val::Lit(lit)) | Pred::Cmp(CmpOp::Eq, Val::Lit(lit), v) => {
            (json_col(v)?, vec![lit.as_str().filter(|s| !s.is_empty())?])
        }
        Pred::In(v, set, false) | Pred::Contains(_, v, set) if set.len() <= MAX_NEEDLES => {
            (json_col(v)?, set.strings()?)
        }
        Pred::Like(v, pat) => (
            json_col(v)?,
            vec![pat.longest_piece().filter(|s| !s.is_empty())?],
        ),
        _ => return None,
    };
    (!needles.is_empty()).then_some((col, needles))
}

/// Follows a JSON path; None when a key or index is missing.
pub(crate) fn resolve<'v>(mut v: &'v Value, path: &[PathElem]) -> Option<&'v Value> {
    for p in path {
        v = match (p, v) {
            (PathElem::Key(k), Value::Object(m)) => m.get(k)?,
            (PathElem::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

fn contains(kind: Contains, d: Datum<'_>, set: &InSet) -> Option<bool> {
    let arr = match d {
        Datum::Null => return None,
        Datum::Json(Value::Array(a)) => a,
        _ => return Some(false),
    };
    Some(match kind {
        // One probe of the set per element.
        Contains::One | Contains::Any => arr
            .iter()
            .any(|e| set.contains(Datum::from_json(e)) == Some(true)),
        // Stops at the first value the row lacks.
        Contains::All => set.values().iter().all(|item| {
            arr.iter()
                .any(|e| datum::datum_equals_json(Datum::from_json(e), item))
        }),
    })
}
