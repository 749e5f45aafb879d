//! Milvus boolean filter expressions: parse, bind to a collection schema, and
//! evaluate column-at-a-time over a segment's Arrow `RecordBatch`.
//!
//! ```text
//! expr string ──lexer──▶ tokens ──parser──▶ Ast ──bind──▶ Pred ──eval──▶ row mask
//! ```
//! The grammar follows Milvus 2.4/2.5 `Plan.g4` (see
//! `shared/docs/milvus-protocol.md` §9). Nothing here panics on user input:
//! syntax errors name the character position, type errors are
//! [`FilterError::Invalid`], expressions over a [`Limits`] cap are
//! [`FilterError::Limit`], and arithmetic faults on row values (overflow, a
//! zero divisor computed from a field) only make the affected rows not match.
//! Messages follow Milvus: `cannot parse expression: <expr>, error: <reason>`.
//!
//! Cost: every stage is linear in the expression's size (lexing streams,
//! `and`/`or` are n-ary and folded, `in` lists are hash/sorted sets built once),
//! every recursion is bounded by [`Limits::max_depth`], and evaluation costs
//! one pass over the rows per predicate left after folding.
//!
//! Semantics worth knowing:
//! * Three-valued logic: a comparison with a null (a null cell, a missing or
//!   unparsable JSON key) is unknown, `not unknown` is unknown, and only rows
//!   that are definitely true match. `x != 1` and `not (x == 1)` skip null `x`.
//! * Values of different types (a JSON string vs a number) are unequal: `==`,
//!   `<`, ... are false and `!=` is true; this is never an error.
//! * Ints and floats compare numerically; FLOAT fields compare with the literal
//!   rounded to f32 (as Milvus does), so `score == 1.1` finds a stored 1.1f32.
//! * Integer arithmetic overflowing i64 continues in f64. Division or modulo by
//!   a literal zero is refused (as Milvus refuses it); by a zero computed from
//!   row values it yields null (the row does not match).
//! * ARRAY fields behave like JSON arrays (`tags[0]`, `tags == [..]`,
//!   `array_contains`, `array_length`).
//! * `not` binds looser than comparisons (`not x in [1]` == `not (x in [1])`),
//!   which agrees with Milvus on everything Milvus accepts.

mod ast;
mod bind;
mod columns;
mod datum;
mod error;
mod eval;
mod fold;
mod index;
mod inset;
mod json;
mod lexer;
mod like;
mod limits;
mod parser;
mod plan;
mod stack;
mod tri;

use std::collections::{HashMap, HashSet};

use arrow::buffer::BooleanBuffer;
use arrow::record_batch::RecordBatch;
use quiver_storage::{CollectionSchema, DataType};
use serde_json::Value;

use bind::Binder;
pub use error::FilterError;
pub use index::{IndexCast, IndexSpec, ScalarIndex};
pub use limits::Limits;
use parser::CmpOp;
use plan::{PathElem, Pred, Val};
/// Primary-key values, which [`Filter::primary_key_values`] extracts.
pub use quiver_types::PkValue;

/// A parsed, type-checked expression bound to a schema.
#[derive(Debug, Clone)]
pub struct Filter {
    pred: Pred,
    /// JSON / ARRAY columns the evaluator reads, and which keys.
    json_cols: Vec<json::JsonCol>,
    primary: Option<(String, DataType)>,
    empty: bool,
    /// Height of the syntax tree (bounds the evaluator's recursion).
    height: u32,
}

/// Expressions up to this many bytes cannot nest deeper than the caller's
/// stack allows (a level takes at least two bytes), so they skip
/// [`stack::on_big_stack`]; so do plans up to [`SHALLOW_HEIGHT`] levels.
const SHALLOW_BYTES: usize = 48;
const SHALLOW_HEIGHT: u32 = 24;

impl Filter {
    /// Parse + bind with the default [`Limits`]. `templates` holds values for
    /// `{name}` placeholders.
    pub fn parse(
        expr: &str,
        schema: &CollectionSchema,
        templates: &HashMap<String, Value>,
    ) -> Result<Filter, FilterError> {
        Filter::parse_with_limits(expr, schema, templates, &Limits::DEFAULT)
    }

    /// Parse + bind, refusing expressions over `limits`.
    pub fn parse_with_limits(
        expr: &str,
        schema: &CollectionSchema,
        templates: &HashMap<String, Value>,
        limits: &Limits,
    ) -> Result<Filter, FilterError> {
        Filter::build(expr, schema, templates, limits).map_err(|e| e.in_expr(expr))
    }

    fn build(
        expr: &str,
        schema: &CollectionSchema,
        templates: &HashMap<String, Value>,
        limits: &Limits,
    ) -> Result<Filter, FilterError> {
        if expr.len() > limits.max_expr_bytes {
            return Err(FilterError::Limit(format!(
                "expression is {} bytes long, more than the limit of {} bytes",
                expr.len(),
                limits.max_expr_bytes
            )));
        }
        let primary = schema.primary().map(|f| (f.name.clone(), f.data_type));
        if expr.trim().is_empty() {
            return Ok(Filter {
                pred: Pred::Const(true),
                json_cols: Vec::new(),
                primary,
                empty: true,
                height: 1,
            });
        }
        let compile = || {
            let ast = parser::Parser::new(expr, templates, limits).parse_all()?;
            let pred = Binder::new(expr, schema, limits).pred(&ast)?;
            Ok((json::projection(&pred), pred, ast.height))
        };
        let (json_cols, pred, height) = if expr.len() <= SHALLOW_BYTES {
            compile()?
        } else {
            stack::on_big_stack(compile)?
        };
        Ok(Filter {
            json_cols,
            pred,
            primary,
            empty: false,
            height,
        })
    }

    /// Evaluates over every row: `result[i]` is true iff row `i` matches.
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<Vec<bool>, FilterError> {
        let mask = self.evaluate_mask(batch)?;
        let mut out = vec![false; mask.len()];
        for i in mask.set_indices() {
            if let Some(slot) = out.get_mut(i) {
                *slot = true;
            }
        }
        Ok(out)
    }

    /// Like [`Filter::evaluate`], as a bitmap.
    pub fn evaluate_mask(&self, batch: &RecordBatch) -> Result<BooleanBuffer, FilterError> {
        if let Pred::Const(b) = self.pred {
            return Ok(if b {
                BooleanBuffer::new_set(batch.num_rows())
            } else {
                BooleanBuffer::new_unset(batch.num_rows())
            });
        }
        let run = || {
            let ctx = eval::Ctx::new(batch, &self.json_cols)?;
            Ok(ctx.pred(&self.pred)?.t)
        };
        if self.height <= SHALLOW_HEIGHT {
            run()
        } else {
            stack::on_big_stack(run)
        }
    }

    /// Positions in `specs` of the indexes [`Filter::evaluate_indexed`]
    /// would narrow this filter with: those covering a comparison with a
    /// literal or an `in` list that every row must pass (a conjunct, or every
    /// branch of a disjunction). Empty when an index would not help.
    pub fn usable_indexes(&self, specs: &[IndexSpec]) -> Vec<usize> {
        let mut out = Vec::new();
        if self.is_always_true() || !needs_indexes(&self.pred, specs, &mut out) {
            return Vec::new();
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Like [`Filter::evaluate_mask`], evaluating only the rows the given
    /// indexes (built over this same batch) leave as candidates; the result is
    /// identical, the work proportional to the candidates.
    pub fn evaluate_indexed(
        &self,
        batch: &RecordBatch,
        indexes: &[(&IndexSpec, &ScalarIndex)],
    ) -> Result<BooleanBuffer, FilterError> {
        let Some((cands, exact)) = candidates(&self.pred, indexes) else {
            return self.evaluate_mask(batch);
        };
        if cands.len() != batch.num_rows() {
            return self.evaluate_mask(batch);
        }
        // The indexes answered the whole filter: nothing left to evaluate.
        if exact || cands.count_set_bits() == 0 {
            return Ok(cands);
        }
        let run = || {
            let ctx = eval::Ctx::new(batch, &self.json_cols)?;
            ctx.restrict(cands.clone());
            Ok(&ctx.pred(&self.pred)?.t & &cands)
        };
        if self.height <= SHALLOW_HEIGHT {
            run()
        } else {
            stack::on_big_stack(run)
        }
    }

    /// The primary-key values when the filter is (a conjunction containing)
    /// `pk == v` / `pk in [..]`, or a disjunction of such terms.
    pub fn primary_key_values(&self) -> Option<Vec<PkValue>> {
        let (name, ty) = self.primary.as_ref()?;
        let vals = self.field_equality_values(name)?;
        let mut out: Vec<PkValue> = vals
            .into_iter()
            .filter_map(|v| match (ty, v) {
                (DataType::VarChar, Value::String(s)) => Some(PkValue::Str(s)),
                (DataType::Int64, Value::Number(n)) => n.as_i64().map(PkValue::Int).or_else(|| {
                    // An integral float literal (`pk == 3.0`) names an int key.
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
                        .map(|f| PkValue::Int(f as i64))
                }),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        Some(out)
    }

    /// The literal values field `name` is restricted to at the top level
    /// (`f == "x"`, `f in [..]`, AND-ed with anything, or OR-ed such terms).
    pub fn field_equality_values(&self, name: &str) -> Option<Vec<Value>> {
        equality_values(&self.pred, name)
    }

    /// True for the empty expression.
    pub fn is_always_true(&self) -> bool {
        self.empty || matches!(self.pred, Pred::Const(true))
    }
}

fn is_field(v: &Val, name: &str) -> bool {
    match v {
        Val::Col(c) => c == name,
        Val::Path { col, path, .. } => {
            col == name && path.is_empty()
                || (col == quiver_storage::META_FIELD
                    && matches!(path.as_slice(), [PathElem::Key(k)] if k == name))
        }
        _ => false,
    }
}

fn equality_values(p: &Pred, name: &str) -> Option<Vec<Value>> {
    match p {
        Pred::Cmp(CmpOp::Eq, l, Val::Lit(v)) | Pred::Cmp(CmpOp::Eq, Val::Lit(v), l)
            if is_field(l, name) =>
        {
            Some(vec![v.clone()])
        }
        Pred::In(l, set, false) if is_field(l, name) => Some(set.values().to_vec()),
        Pred::And(items) => {
            // Intersect the restrictions of every restricting conjunct.
            let mut acc: Option<Vec<Value>> = None;
            for it in items {
                if let Some(vs) = equality_values(it, name) {
                    acc = Some(match acc {
                        None => vs,
                        Some(prev) => {
                            let keep: HashSet<String> = vs.iter().map(Value::to_string).collect();
                            prev.into_iter()
                                .filter(|v| keep.contains(&v.to_string()))
                                .collect()
                        }
                    });
                }
            }
            acc
        }
        Pred::Or(items) => {
            let mut out = Vec::new();
            let mut seen = HashSet::new();
            for it in items {
                for v in equality_values(it, name)? {
                    if seen.insert(v.to_string()) {
                        out.push(v);
                    }
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// The spec covering value `v`, if any.
fn covering(specs: &[IndexSpec], v: &Val) -> Option<usize> {
    specs.iter().position(|s| s.covers(v))
}

/// An indexable leaf: (the value read, the comparison or set it must pass).
enum Leaf<'p> {
    Cmp(CmpOp, &'p Val, &'p Value),
    In(&'p Val, &'p inset::InSet),
}

fn leaf(p: &Pred) -> Option<Leaf<'_>> {
    match p {
        Pred::Cmp(op, v, Val::Lit(l)) => Some(Leaf::Cmp(*op, v, l)),
        Pred::Cmp(op, Val::Lit(l), v) => Some(Leaf::Cmp(op.flip(), v, l)),
        Pred::In(v, set, false) => Some(Leaf::In(v, set)),
        _ => None,
    }
}

/// True when `p` can be narrowed by the indexes among `specs`; collects them.
fn needs_indexes(p: &Pred, specs: &[IndexSpec], out: &mut Vec<usize>) -> bool {
    match p {
        Pred::And(items) => {
            let mut any = false;
            for it in items {
                any |= needs_indexes(it, specs, out);
            }
            any
        }
        Pred::Or(items) => {
            let mut mine = Vec::new();
            if items.iter().all(|it| needs_indexes(it, specs, &mut mine)) {
                out.extend(mine);
                true
            } else {
                false
            }
        }
        _ => match leaf(p) {
            Some(Leaf::Cmp(CmpOp::Ne, _, _)) | None => false,
            Some(Leaf::Cmp(_, v, _) | Leaf::In(v, _)) => match covering(specs, v) {
                Some(i) => {
                    out.push(i);
                    true
                }
                None => false,
            },
        },
    }
}

/// Rows that may satisfy `p` according to `indexes` (a superset of the rows
/// that do) and whether they are exactly those rows, or None when the
/// indexes cannot narrow it. Only definite truth matters here: `p` is the
/// filter's root or sits below `and`/`or` only, never below `not`.
fn candidates(p: &Pred, indexes: &[(&IndexSpec, &ScalarIndex)]) -> Option<(BooleanBuffer, bool)> {
    match p {
        Pred::And(items) => {
            let mut acc: Option<(BooleanBuffer, bool)> = None;
            let mut all = true;
            for it in items {
                match candidates(it, indexes) {
                    Some((c, exact)) => {
                        acc = Some(match acc {
                            None => (c, exact),
                            Some((a, e)) => (&a & &c, e && exact),
                        });
                    }
                    None => all = false,
                }
            }
            acc.map(|(c, exact)| (c, exact && all))
        }
        Pred::Or(items) => {
            let mut acc: Option<(BooleanBuffer, bool)> = None;
            for it in items {
                let (c, exact) = candidates(it, indexes)?;
                acc = Some(match acc {
                    None => (c, exact),
                    Some((a, e)) => (&a | &c, e && exact),
                });
            }
            acc
        }
        _ => {
            let l = leaf(p)?;
            let (Leaf::Cmp(_, v, _) | Leaf::In(v, _)) = &l;
            let (spec, ix) = indexes.iter().find(|(s, _)| s.covers(v))?;
            let (c, exact) = match l {
                Leaf::Cmp(op, _, lit) => ix.candidates_cmp(op, lit)?,
                Leaf::In(_, set) => ix.candidates_in(set)?,
            };
            Some((c, exact && spec.walks_like_filters()))
        }
    }
}
