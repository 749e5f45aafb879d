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
//! The binder also counts the predicates left after folding and stops at
//! [`crate::Limits::max_predicates`], since each one costs a pass over the rows.
//!
//! Constant sub-expressions fold too (`1 == 1`, `not false`, `x > 1 or true`),
//! so that a filter that matches every row whatever the data is recognised as
//! such: Milvus refuses such a delete expression rather than emptying the
//! collection, and a search need not evaluate it per row. Literals are never
//! null, so folding cannot change the three-valued result.

use std::collections::HashMap;

use serde_json::Value;

use crate::bind::{Binder, PathElem, Pred, Val};
use crate::datum::{self, Datum};
use crate::inset::InSet;
use crate::parser::{Ast, CmpOp};
use crate::FilterError;

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

impl Binder<'_> {
    /// Binds `and`/`or` operands, folding equality chains, cheap operands
    /// first: later operands only run on rows the earlier ones left undecided.
    pub(crate) fn operands(
        &mut self,
        items: &[Ast],
        is_or: bool,
    ) -> Result<Vec<Pred>, FilterError> {
        let mut out = Vec::new();
        let mut groups: Vec<Group> = Vec::new();
        let mut index: HashMap<FieldKey, usize> = HashMap::new();
        for item in items {
            let p = self.pred(item)?;
            let Some((v, lits)) = mergeable(&p, is_or) else {
                out.push(p);
                continue;
            };
            let Some(key) = FieldKey::of(v) else {
                out.push(p);
                continue;
            };
            match index.get(&key) {
                Some(&g) => {
                    if let Some(group) = groups.get_mut(g) {
                        group.single = None;
                        group.values.extend(lits);
                        // Two predicates became one.
                        self.predicates = self.predicates.saturating_sub(1);
                    }
                }
                None => {
                    index.insert(key, groups.len());
                    groups.push(Group {
                        val: v.clone(),
                        values: lits,
                        single: Some(p),
                    });
                }
            }
        }
        for g in groups {
            out.push(match g.single {
                Some(p) => p,
                None => Pred::In(g.val, InSet::new(g.values), !is_or),
            });
        }
        out.sort_by_cached_key(crate::bind::pred_cost);
        Ok(out)
    }

    /// Counts one more predicate the evaluator will run per row.
    pub(crate) fn count_predicate(&mut self) -> Result<(), FilterError> {
        self.predicates += 1;
        if self.predicates > self.limits.max_predicates {
            return Err(FilterError::Limit(format!(
                "expression has more than {} predicates after simplification (each one is a \
                 pass over the data); combine equality tests on one field into `in` lists",
                self.limits.max_predicates
            )));
        }
        Ok(())
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
