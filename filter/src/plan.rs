//! The bound plan: what the binder produces and the evaluator runs.
//!
//! These types sit below both the binder ([`crate::bind`], with its folding
//! pass [`crate::fold`]) and the evaluator ([`crate::eval`], [`crate::json`]),
//! so each of those imports the plan without importing the others: the binder
//! and the folding pass no longer need each other's modules, and nothing that
//! runs a plan depends on the code that builds one.

use serde_json::Value;

use crate::inset::InSet;
use crate::like::LikePattern;
use crate::parser::{BinOp, CmpOp};

/// One step of a JSON path: a key of an object or an index into an array.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum PathElem {
    Key(String),
    Index(usize),
}

/// A value expression.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Lit(Value),
    /// A scalar column (Bool, ints, floats, VarChar) by name.
    Col(String),
    /// A path into a JSON column, or into an ARRAY column seen as a JSON array.
    Path {
        col: String,
        is_array: bool,
        path: Vec<PathElem>,
    },
    Neg(Box<Val>),
    Arith(BinOp, Box<Val>, Box<Val>),
    Len(Box<Val>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contains {
    One,
    All,
    Any,
}

/// A predicate.
#[derive(Debug, Clone)]
pub(crate) enum Pred {
    Const(bool),
    Cmp(CmpOp, Val, Val),
    In(Val, InSet, bool),
    Like(Val, LikePattern),
    IsNull(Val, bool),
    Exists(Val),
    Contains(Contains, Val, InSet),
    Truthy(Val),
    Not(Box<Pred>),
    And(Vec<Pred>),
    Or(Vec<Pred>),
}

/// Rough evaluation cost: 0 for scalar columns, higher when JSON is involved.
pub(crate) fn pred_cost(p: &Pred) -> u32 {
    match p {
        Pred::Const(_) => 0,
        Pred::Cmp(_, a, b) => val_cost(a) + val_cost(b),
        Pred::In(v, _, _)
        | Pred::Like(v, _)
        | Pred::IsNull(v, _)
        | Pred::Exists(v)
        | Pred::Contains(_, v, _)
        | Pred::Truthy(v) => val_cost(v),
        Pred::Not(p) => pred_cost(p),
        Pred::And(ps) | Pred::Or(ps) => ps.iter().map(pred_cost).fold(0, u32::saturating_add),
    }
}

fn val_cost(v: &Val) -> u32 {
    match v {
        Val::Lit(_) => 0,
        Val::Col(_) => 1,
        Val::Path { .. } => 10,
        Val::Neg(a) | Val::Len(a) => val_cost(a).saturating_add(1),
        Val::Arith(_, a, b) => val_cost(a).saturating_add(val_cost(b)).saturating_add(1),
    }
}
