//! Milvus boolean filter expressions: parse, bind to a collection schema, and
//! evaluate column-at-a-time over a segment's Arrow `RecordBatch`.
//!
//! ```text
//! expr string ──lexer──▶ tokens ──parser──▶ Ast ──bind──▶ Pred ──eval──▶ row mask
//! ```
//! The grammar follows Milvus 2.4/2.5 `Plan.g4` (see
//! `shared/docs/milvus-protocol.md` §9). Nothing here panics on user input:
//! syntax errors name the character position, type errors are
//! [`FilterError::Invalid`], and arithmetic faults (overflow, division by zero)
//! only make the affected rows not match.
//!
//! Semantics worth knowing:
//! * Three-valued logic: a comparison with a null (a null cell, a missing or
//!   unparsable JSON key) is unknown, `not unknown` is unknown, and only rows
//!   that are definitely true match. `x != 1` and `not (x == 1)` skip null `x`.
//! * Values of different types (a JSON string vs a number) are unequal: `==`,
//!   `<`, ... are false and `!=` is true; this is never an error.
//! * Ints and floats compare numerically; FLOAT fields compare with the literal
//!   rounded to f32 (as Milvus does), so `score == 1.1` finds a stored 1.1f32.
//! * Integer arithmetic overflowing i64 continues in f64; division or modulo by
//!   zero yields null (the row does not match).
//! * ARRAY fields behave like JSON arrays (`tags[0]`, `tags == [..]`,
//!   `array_contains`, `array_length`).
//! * `not` binds looser than comparisons (`not x in [1]` == `not (x in [1])`),
//!   which agrees with Milvus on everything Milvus accepts.

mod bind;
mod columns;
mod datum;
mod eval;
mod json;
mod lexer;
mod like;
mod parser;

use std::collections::HashMap;

use arrow::buffer::BooleanBuffer;
use arrow::record_batch::RecordBatch;
use quiver_storage::{CollectionSchema, DataType};
use serde_json::Value;

use bind::{Binder, Pred, Val};
use parser::CmpOp;

/// Errors from parsing, binding or evaluating a filter.
#[derive(thiserror::Error, Debug)]
pub enum FilterError {
    /// Syntax error at a 0-based character position (user error).
    #[error("{message}")]
    Syntax { pos: usize, message: String },
    /// Unknown field, type mismatch, bad function arguments, ... (user error).
    #[error("invalid expression: {0}")]
    Invalid(String),
    /// The segment's data does not fit the plan (system error; rare).
    #[error("cannot evaluate expression: {0}")]
    Eval(String),
}

impl FilterError {
    /// True when the client's expression is at fault (syntax or semantics),
    /// false for evaluation failures caused by stored data.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, FilterError::Eval(_))
    }
}

/// A primary-key value, for point lookups.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PkValue {
    Int(i64),
    Str(String),
}

/// A parsed, type-checked expression bound to a schema.
#[derive(Debug, Clone)]
pub struct Filter {
    pred: Pred,
    /// JSON / ARRAY columns the evaluator reads, and which keys.
    json_cols: Vec<json::JsonCol>,
    primary: Option<(String, DataType)>,
    empty: bool,
}

pub(crate) fn syntax_error(src: &str, pos: usize, what: &str) -> FilterError {
    FilterError::Syntax {
        pos,
        message: format!("cannot parse expression: {what} at position {pos} in `{src}`"),
    }
}

impl Filter {
    /// Parse + bind. `templates` holds values for `{name}` placeholders.
    pub fn parse(
        expr: &str,
        schema: &CollectionSchema,
        templates: &HashMap<String, Value>,
    ) -> Result<Filter, FilterError> {
        let primary = schema.primary().map(|f| (f.name.clone(), f.data_type));
        if expr.trim().is_empty() {
            return Ok(Filter {
                pred: Pred::Const(true),
                json_cols: Vec::new(),
                primary,
                empty: true,
            });
        }
        let toks = lexer::tokenize(expr)?;
        let ast = parser::Parser::new(toks, expr, templates).parse_all()?;
        let pred = Binder { schema }.pred(&ast)?;
        Ok(Filter {
            json_cols: json::projection(&pred),
            pred,
            primary,
            empty: false,
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
        let ctx = eval::Ctx::new(batch, &self.json_cols)?;
        Ok(ctx.pred(&self.pred)?.t)
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
                    && matches!(path.as_slice(), [bind::PathElem::Key(k)] if k == name))
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
        Pred::In(l, list, false) if is_field(l, name) => Some(list.clone()),
        Pred::And(items) => {
            // Intersect the restrictions of every restricting conjunct.
            let mut acc: Option<Vec<Value>> = None;
            for it in items {
                if let Some(vs) = equality_values(it, name) {
                    acc = Some(match acc {
                        None => vs,
                        Some(prev) => prev.into_iter().filter(|v| vs.contains(v)).collect(),
                    });
                }
            }
            acc
        }
        Pred::Or(items) => {
            let mut out = Vec::new();
            for it in items {
                for v in equality_values(it, name)? {
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
            }
            Some(out)
        }
        _ => None,
    }
}
