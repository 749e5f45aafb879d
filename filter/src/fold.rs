//! Binding the operands of `and` / `or`, folding long equality chains.
//!
//! Clients build filters such as `id == 3 or id == 7 or ...` with hundreds of
//! thousands of terms. Evaluated one comparison at a time that is
//! terms x rows work; folded into one `id in [3, 7, ...]` it is one set probe
//! per row. So, among the operands of an `or`, every `field == literal` and
//! `field in [..]` on the same field merges into one `in`; among the operands
//! of an `and`, every `field != literal` and `field not in [..]` merges into
//! one `not in`. Three-valued logic is unchanged: a null field is unknown in
//! both forms, and a value of another type is unequal to every literal in both.
//!
//! The binder ([`crate::bind`]) feeds each operand to a [`Merger`] as soon as it
//! is bound, counts the predicates left after merging and stops at
//! [`crate::Limits::max_predicates`], since each one costs a pass over the rows.
//! Nothing here knows the binder: this pass works on the plan alone.
//!
//! Constant sub-expressions fold too (`1 == 1`, `not false`, `x > 1 or true`),
//! so that a filter that matches every row whatever the data is recognised as
//! such: Milvus refuses such a delete expression rather than emptying the
//! collection, and a search need not evaluate it per row. Literals are never
//! null, so folding cannot change the three-valued result.

use std::collections::HashMap;

use serde_json::Value;

use crate::datum::{self, Datum};
use crate::inset::InSet;
use crate::parser::CmpOp;
use crate::plan::{pred_cost, PathElem, Pred, Val};

/// Identity of a field operand, for grouping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FieldKey {
    Col(String),
    Path(String, bool, Vec<PathElem>),
}

impl FieldKey {
    fn of(v: &Val) -> Option<FieldKey> {
        match v {
            Val::Col(c) => Some(FieldKey::Col(c.clone())),
            Val::Path {
                col,
                is_array,
                path,
            } => Some(FieldKey::Path(col.clone(), *is_array, path.clone())),
            _ => None,
        }
    }
}

/// Operands merged into one membership test.
struct Group {
    val: Val,
    values: Vec<Value>,
    /// The operand itself while it is the group's only member (kept as is).
    single: Option<Pred>,
}

fn scalar(v: &Value) -> bool {
    matches!(v, Value::Number(_) | Value::String(_) | Value::Bool(_))
}

/// The field and literals of an operand that can merge: `field == lit` /
/// `field in [..]` under `or`, `field != lit` / `field not in [..]` under `and`.
fn mergeable(p: &Pred, is_or: bool) -> Option<(&Val, Vec<Value>)> {
    let op = if is_or { CmpOp::Eq } else { CmpOp::Ne };
    let (v, lits) = match p {
        Pred::Cmp(o, v, Val::Lit(l)) | Pred::Cmp(o, Val::Lit(l), v) if *o == op && scalar(l) => {
            (v, vec![l.clone()])
        }
        Pred::In(v, set, negated) if *negated != is_or => (v, set.values().to_vec()),
        _ => return None,
    };
    matches!(v, Val::Col(_) | Val::Path { .. }).then_some((v, lits))
}

/// Collects the bound operands of one `and` / `or`, merging equality tests on
/// the same field into one membership test as they arrive, so the binder can
/// count predicates after merging and stop at the limit without first binding
/// every operand.
pub(crate) struct Merger {
    is_or: bool,
    /// Operands that do not merge, in order.
    out: Vec<Pred>,
    groups: Vec<Group>,
    index: HashMap<FieldKey, usize>,
}

impl Merger {
    /// A merger for the operands of an `or` (`is_or`) or an `and`.
    pub(crate) fn new(is_or: bool) -> Merger {
        Merger {
            is_or,
            out: Vec::new(),
            groups: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Adds one operand; true when it merged into an earlier operand's group
    /// (two predicates became one).
    pub(crate) fn push(&mut self, p: Pred) -> bool {
        let Some((v, lits)) = mergeable(&p, self.is_or) else {
            self.out.push(p);
            return false;
        };
        let Some(key) = FieldKey::of(v) else {
            self.out.push(p);
            return false;
        };
        match self.index.get(&key) {
            Some(&g) => match self.groups.get_mut(g) {
                Some(group) => {
                    group.single = None;
                    group.values.extend(lits);
                    true
                }
                None => false,
            },
            None => {
                self.index.insert(key, self.groups.len());
                self.groups.push(Group {
                    val: v.clone(),
                    values: lits,
                    single: Some(p),
                });
                false
            }
        }
    }

    /// The operands, cheap ones first: later operands only run on rows the
    /// earlier ones left undecided.
    pub(crate) fn finish(self) -> Vec<Pred> {
        let mut out = self.out;
        for g in self.groups {
            out.push(match g.single {
                Some(p) => p,
                None => Pred::In(g.val, InSet::new(g.values), !self.is_or),
            });
        }
        out.sort_by_cached_key(pred_cost);
        out
    }
}

/// `and` (`is_or` false) or `or` of bound operands, with constant operands
/// folded away: `false` decides an `and`, `true` an `or`, the other constant
/// is the identity and drops out.
pub(crate) fn junction(ops: Vec<Pred>, is_or: bool) -> Pred {
    let mut kept = Vec::with_capacity(ops.len());
    for p in ops {
        match p {
            Pred::Const(b) if b == is_or => return Pred::Const(is_or),
            Pred::Const(_) => {}
            p => kept.push(p),
        }
    }
    match kept.len() {
        0 => Pred::Const(!is_or),
        1 => kept.pop().unwrap_or(Pred::Const(!is_or)),
        _ if is_or => Pred::Or(kept),
        _ => Pred::And(kept),
    }
}

/// A comparison or membership test between literals, evaluated now.
pub(crate) fn constant(p: Pred) -> Pred {
    let folded = match &p {
        Pred::Cmp(op, Val::Lit(a), Val::Lit(b)) => {
            datum::compare(*op, Datum::from_json(a), Datum::from_json(b))
        }
        Pred::In(Val::Lit(a), set, negated) => {
            set.contains(Datum::from_json(a)).map(|c| c != *negated)
        }
        _ => None,
    };
    folded.map_or(p, Pred::Const)
}
