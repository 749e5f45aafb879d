//! Sorted scalar indexes: one column, or one path inside a JSON column, of an
//! immutable batch (a sealed segment), as the `INVERTED` / `STL_SORT` /
//! JSON-path indexes Milvus users create.
//!
//! An index only ever *narrows* a filter: [`Filter::evaluate_indexed`] asks it
//! for candidate rows, a superset of the rows where the indexed comparison is
//! true, and then runs the ordinary evaluator on those rows alone (JSON
//! documents outside them are never parsed). Results are therefore the scan's
//! by construction; the index only has to never miss a row. That lets keys be
//! plain `f64`s (an i64 beyond 2^53 rounds, so strict bounds are looked up
//! inclusively) and lets a value outside the index's domain (a string under a
//! `double` cast) simply make the index unable to answer.
//!
//! [`Filter::evaluate_indexed`]: crate::Filter::evaluate_indexed

use std::cmp::Ordering;
use std::collections::HashSet;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::buffer::{BooleanBuffer, MutableBuffer};
use arrow::datatypes::DataType as ArrowType;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::columns::column_datums;
use crate::datum::Datum;
use crate::error::FilterError;
use crate::inset::InSet;
use crate::json::parse_doc;
use crate::parser::CmpOp;
use crate::plan::{PathElem, Val};

/// What values an index holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IndexCast {
    /// A typed scalar column: every non-null value.
    Field,
    /// JSON values that are booleans (`json_cast_type` BOOL).
    Bool,
    /// JSON values that are numbers (DOUBLE).
    Double,
    /// JSON values that are strings (VARCHAR).
    Varchar,
}

/// Which column (and which path inside it) an index covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IndexSpec {
    /// The column's name in the segment's batches (`$meta` for dynamic keys).
    pub column: String,
    /// Steps below the column's value: object keys, or array positions as
    /// decimal text. Empty for a typed column or a whole JSON value.
    pub path: Vec<String>,
    pub cast: IndexCast,
}

impl IndexSpec {
    /// A spec over a JSON pointer (`/a/b`, `~1` and `~0` escapes decoded).
    pub fn from_pointer(column: &str, pointer: &str, cast: IndexCast) -> IndexSpec {
        let path = pointer
            .split('/')
            .skip(1)
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        IndexSpec {
            column: column.to_string(),
            path,
            cast,
        }
    }

    /// True when the index's pointer walk reads what the filter's path reads
    /// on every document: a decimal step may be an array position or a key
    /// to the pointer, but is one of the two to the filter.
    pub(crate) fn walks_like_filters(&self) -> bool {
        !self
            .path
            .iter()
            .any(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
    }

    /// True when this spec indexes exactly the value `v` reads.
    pub(crate) fn covers(&self, v: &Val) -> bool {
        match v {
            Val::Col(c) => {
                self.cast == IndexCast::Field && self.path.is_empty() && *c == self.column
            }
            Val::Path {
                col,
                is_array: false,
                path,
            } => {
                self.cast != IndexCast::Field
                    && *col == self.column
                    && path.len() == self.path.len()
                    && path.iter().zip(&self.path).all(|(p, s)| match p {
                        PathElem::Key(k) => k == s,
                        PathElem::Index(i) => i.to_string() == *s,
                    })
            }
            _ => false,
        }
    }
}

/// Sorted (key, row) pairs per value domain of one indexed column or path.
#[derive(Debug, Default)]
pub struct ScalarIndex {
    rows: usize,
    /// Domains this index holds; a literal of another domain is unanswerable.
    has_nums: bool,
    has_strs: bool,
    has_bools: bool,
    /// The column is FLOAT: literals compare after rounding to f32, as the
    /// scan compares them.
    f32_keys: bool,
    /// Every integer key was within ±2^53, so its f64 key is exact.
    nums_exact: bool,
    nums: Vec<(f64, u32)>,
    strs: Vec<(Box<str>, u32)>,
    /// Rows holding false, then rows holding true.
    bools: [Vec<u32>; 2],
}

impl ScalarIndex {
    /// Builds the index of `spec` over `col`, the column `spec.column` of one
    /// batch; None when that column cannot be indexed this way (an ARRAY
    /// column, a typed column under a JSON cast) and filters must scan.
    pub fn build(col: &ArrayRef, spec: &IndexSpec) -> Result<Option<ScalarIndex>, FilterError> {
        let rows = col.len();
        if u32::try_from(rows).is_err() {
            return Ok(None);
        }
        let mut ix = ScalarIndex {
            rows,
            nums_exact: true,
            ..ScalarIndex::default()
        };
        match (spec.cast, col.data_type()) {
            (IndexCast::Field, ArrowType::Binary | ArrowType::List(_)) => return Ok(None),
            (IndexCast::Field, ty) => {
                ix.f32_keys = *ty == ArrowType::Float32;
                match ty {
                    ArrowType::Utf8 => ix.has_strs = true,
                    ArrowType::Boolean => ix.has_bools = true,
                    _ => ix.has_nums = true,
                }
                for (row, d) in column_datums(col)?.into_iter().enumerate() {
                    ix.push(d, row as u32);
                }
            }
            (cast, ArrowType::Binary | ArrowType::Utf8) => {
                match cast {
                    IndexCast::Bool => ix.has_bools = true,
                    IndexCast::Double => ix.has_nums = true,
                    _ => ix.has_strs = true,
                }
                let first: Option<HashSet<String>> =
                    spec.path.first().map(|k| HashSet::from([k.clone()]));
                for row in 0..rows {
                    if col.is_null(row) {
                        continue;
                    }
                    let bytes = match col.as_binary_opt::<i32>() {
                        Some(b) => b.value(row),
                        None => col.as_string::<i32>().value(row).as_bytes(),
                    };
                    let Some(doc) = parse_doc(bytes, first.as_ref()) else {
                        continue;
                    };
                    if let Some(v) = walk(&doc, &spec.path) {
                        let d = Datum::from_json(v);
                        let wanted = matches!(
                            (cast, d),
                            (IndexCast::Bool, Datum::Bool(_))
                                | (IndexCast::Double, Datum::Int(_) | Datum::Float(_))
                                | (IndexCast::Varchar, Datum::Str(_))
                        );
                        if wanted {
                            ix.push(d, row as u32);
                        }
                    }
                }
            }
            _ => return Ok(None),
        }
        ix.nums.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        ix.strs.sort_unstable();
        Ok(Some(ix))
    }

    fn push(&mut self, d: Datum<'_>, row: u32) {
        match d {
            Datum::Int(i) => {
                self.nums_exact &= i.unsigned_abs() <= EXACT_INT;
                self.nums.push((i as f64, row))
            }
            // NaN compares false with everything: never a candidate.
            Datum::Float(f) if !f.is_nan() => self.nums.push((f, row)),
            Datum::Str(s) => self.strs.push((s.into(), row)),
            Datum::Bool(b) => self.bools[usize::from(b)].push(row),
            _ => {}
        }
    }

    /// Indexed values (for memory accounting and tests).
    pub fn len(&self) -> usize {
        self.nums.len() + self.strs.len() + self.bools[0].len() + self.bools[1].len()
    }

    /// True when no row holds an indexed value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate heap bytes.
    pub fn memory_bytes(&self) -> usize {
        self.nums.capacity() * 16
            + self.strs.iter().map(|(s, _)| s.len() + 24).sum::<usize>()
            + (self.bools[0].capacity() + self.bools[1].capacity()) * 4
    }

    /// Rows where `value op lit` may be true, and whether exactly those rows
    /// make it true; None when the index cannot tell (`!=`, which also holds
    /// for values outside the index; a literal of a domain it does not hold).
    pub(crate) fn candidates_cmp(&self, op: CmpOp, lit: &Value) -> Option<(BooleanBuffer, bool)> {
        let mut out = RowSet::new(self.rows);
        let exact = self.add_cmp(op, lit, &mut out)?;
        Some((out.finish(), exact))
    }

    /// Rows whose value may be one of `set`'s (see [`Self::candidates_cmp`]).
    pub(crate) fn candidates_in(&self, set: &InSet) -> Option<(BooleanBuffer, bool)> {
        let mut out = RowSet::new(self.rows);
        let mut exact = true;
        for v in set.values() {
            exact &= self.add_cmp(CmpOp::Eq, v, &mut out)?;
        }
        Some((out.finish(), exact))
    }

    /// Adds the candidate rows of `value op lit` to `out`; true when they are
    /// exactly the matching rows.
    fn add_cmp(&self, op: CmpOp, lit: &Value, out: &mut RowSet) -> Option<bool> {
        if op == CmpOp::Ne {
            return None;
        }
        let exact = match Datum::from_json(lit) {
            d @ (Datum::Int(_) | Datum::Float(_)) if self.has_nums => {
                let mut y = lit.as_f64()?;
                if self.f32_keys {
                    y = f64::from(y as f32);
                }
                let exact =
                    self.nums_exact && !matches!(d, Datum::Int(i) if i.unsigned_abs() > EXACT_INT);
                // Rounded keys or literal: strict bounds become inclusive, so
                // no row whose exact value lies inside them is dropped.
                let (lo, hi) = bounds(&self.nums, op, exact, |k| k.0.total_cmp(&y));
                out.extend(self.nums.get(lo..hi)?.iter().map(|k| k.1));
                exact
            }
            Datum::Str(y) if self.has_strs => {
                let (lo, hi) = bounds(&self.strs, op, true, |k| (*k.0).cmp(y));
                out.extend(self.strs.get(lo..hi)?.iter().map(|k| k.1));
                true
            }
            Datum::Bool(y) if self.has_bools => {
                for b in [false, true] {
                    if crate::datum::ord_matches(op, b.cmp(&y)) {
                        out.extend(self.bools[usize::from(b)].iter().copied());
                    }
                }
                true
            }
            _ => return None,
        };
        Some(exact)
    }
}

/// Integers up to this magnitude convert to f64 exactly.
const EXACT_INT: u64 = 1 << 53;

/// The range of sorted `keys` satisfying `key op literal`, where `ord` orders
/// a key against the literal; strict operators are inclusive unless `strict`.
fn bounds<K>(keys: &[K], op: CmpOp, strict: bool, ord: impl Fn(&K) -> Ordering) -> (usize, usize) {
    let below = keys.partition_point(|k| ord(k) == Ordering::Less);
    let through = keys.partition_point(|k| ord(k) != Ordering::Greater);
    match op {
        CmpOp::Eq => (below, through),
        CmpOp::Gt if strict => (through, keys.len()),
        CmpOp::Gt | CmpOp::Ge => (below, keys.len()),
        CmpOp::Lt if strict => (0, below),
        CmpOp::Lt | CmpOp::Le => (0, through),
        CmpOp::Ne => (0, keys.len()),
    }
}

/// The value at `path` below `v`, with JSON-pointer rules: a step is a key of
/// an object or a position in an array.
fn walk<'v>(mut v: &'v Value, path: &[String]) -> Option<&'v Value> {
    for step in path {
        v = match v {
            Value::Object(m) => m.get(step)?,
            Value::Array(a) => a.get(step.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// A row bitmap filled from row numbers.
struct RowSet {
    bits: MutableBuffer,
    rows: usize,
}

impl RowSet {
    fn new(rows: usize) -> Self {
        RowSet {
            bits: MutableBuffer::from_len_zeroed(rows.div_ceil(8)),
            rows,
        }
    }

    fn extend(&mut self, rows: impl Iterator<Item = u32>) {
        let bytes = self.bits.as_slice_mut();
        for r in rows {
            let r = r as usize;
            if let Some(b) = bytes.get_mut(r / 8) {
                *b |= 1 << (r % 8);
            }
        }
    }

    fn finish(self) -> BooleanBuffer {
        BooleanBuffer::new(self.bits.into(), 0, self.rows)
    }
}
