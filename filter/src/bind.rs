//! Binding: resolves names against the collection schema, type-checks, and
//! turns the syntax tree into the plan the evaluator runs.
//!
//! Recursion follows the tree's height, which the parser bounded; `and`/`or`
//! operands are bound in a loop (see [`crate::fold`]). Literal divisors of zero
//! and constant arithmetic without a finite result are refused here, with the
//! messages Milvus uses.

use quiver_storage::{CollectionSchema, DataType, FieldSchema, META_FIELD};
use serde_json::Value;

use crate::datum::{self, Datum};
use crate::error::FilterError;
use crate::fold::{self, Merger};
use crate::inset::InSet;
use crate::like::LikePattern;
use crate::limits::Limits;
use crate::parser::{Ast, BinOp, CmpOp, Kind};
use crate::plan::{Contains, PathElem, Pred, Val};

/// Static type of a value expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Bool,
    Int,
    Float,
    Str,
    /// Type known only per row (JSON / dynamic fields).
    Json,
    List,
    Vector,
}

impl Ty {
    fn numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Float | Ty::Json)
    }
}

pub(crate) struct Binder<'a> {
    /// The expression's text, for messages that quote it whole.
    pub src: &'a str,
    pub schema: &'a CollectionSchema,
    pub limits: &'a Limits,
    /// Predicates in the plan so far (see [`Binder::count_predicate`]).
    pub predicates: usize,
}

fn invalid<T>(msg: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError::Invalid(msg.into()))
}

fn lit_ty(v: &Value) -> Result<Ty, FilterError> {
    Ok(match v {
        Value::Bool(_) => Ty::Bool,
        Value::Number(n) if n.is_i64() => Ty::Int,
        Value::Number(_) => Ty::Float,
        Value::String(_) => Ty::Str,
        Value::Array(_) => Ty::List,
        Value::Null => return invalid("null literal is not supported; use `is null`"),
        Value::Object(_) => return invalid("object literals are not supported"),
    })
}

fn scalar_ty(t: DataType) -> Ty {
    match t {
        DataType::Bool => Ty::Bool,
        DataType::Float | DataType::Double => Ty::Float,
        DataType::VarChar => Ty::Str,
        DataType::Json => Ty::Json,
        DataType::Array => Ty::List,
        DataType::FloatVector | DataType::SparseFloatVector => Ty::Vector,
        _ => Ty::Int,
    }
}

/// True when values of the two types can be compared with `op`.
fn comparable(op: CmpOp, a: Ty, b: Ty) -> bool {
    let eq_only = matches!(op, CmpOp::Eq | CmpOp::Ne);
    match (a, b) {
        (Ty::Vector, _) | (_, Ty::Vector) => false,
        (Ty::Json, _) | (_, Ty::Json) => true,
        (Ty::Int | Ty::Float, Ty::Int | Ty::Float) => true,
        (Ty::Str, Ty::Str) | (Ty::Bool, Ty::Bool) => true,
        (Ty::List, Ty::List) => eq_only,
        _ => false,
    }
}

fn ty_name(t: Ty) -> &'static str {
    match t {
        Ty::Bool => "Bool",
        Ty::Int => "Int64",
        Ty::Float => "Double",
        Ty::Str => "VarChar",
        Ty::Json => "JSON",
        Ty::List => "Array",
        Ty::Vector => "FloatVector",
    }
}

impl<'a> Binder<'a> {
    pub fn new(src: &'a str, schema: &'a CollectionSchema, limits: &'a Limits) -> Self {
        Binder {
            src,
            schema,
            limits,
            predicates: 0,
        }
    }

    pub fn pred(&mut self, a: &Ast) -> Result<Pred, FilterError> {
        match &a.kind {
            Kind::Lit(Value::Bool(b)) => Ok(Pred::Const(*b)),
            Kind::Not(inner) => Ok(match self.pred(inner)? {
                Pred::Const(b) => Pred::Const(!b),
                p => Pred::Not(Box::new(p)),
            }),
            Kind::And(items) => {
                let ops = self.operands(items, false)?;
                Ok(fold::junction(ops, false))
            }
            Kind::Or(items) => {
                let ops = self.operands(items, true)?;
                Ok(fold::junction(ops, true))
            }
            _ => {
                let p = fold::constant(self.leaf(a)?);
                if !matches!(p, Pred::Const(_)) {
                    self.count_predicate()?;
                }
                Ok(p)
            }
        }
    }

    /// Binds `and`/`or` operands, folding equality chains as they are bound
    /// (see [`Merger`]), cheap operands first.
    fn operands(&mut self, items: &[Ast], is_or: bool) -> Result<Vec<Pred>, FilterError> {
        let mut merger = Merger::new(is_or);
        for item in items {
            let p = self.pred(item)?;
            if merger.push(p) {
                // Two predicates became one.
                self.predicates = self.predicates.saturating_sub(1);
            }
        }
        Ok(merger.finish())
    }

    /// Counts one more predicate the evaluator will run per row.
    fn count_predicate(&mut self) -> Result<(), FilterError> {
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

    /// Binds a predicate that is not `not`/`and`/`or`/a boolean literal.
    fn leaf(&mut self, a: &Ast) -> Result<Pred, FilterError> {
        match &a.kind {
            Kind::Cmp(op, l, r) => self.cmp(*op, l, r),
            Kind::In(l, r, negated) => self.term_in(l, r, *negated),
            Kind::Like(e, pat) => {
                let (v, t) = self.val(e)?;
                if !matches!(t, Ty::Str | Ty::Json) || matches!(v, Val::Lit(_)) {
                    return invalid(format!(
                        "like needs a VarChar or JSON field, got {}",
                        ty_name(t)
                    ));
                }
                Ok(Pred::Like(
                    v,
                    LikePattern::compile(pat).map_err(FilterError::Invalid)?,
                ))
            }
            Kind::IsNull(e, negated) => {
                let (v, t) = self.val(e)?;
                if t == Ty::Vector {
                    return invalid(
                        "IsNull/IsNotNull operations are not supported on vector fields",
                    );
                }
                if !matches!(v, Val::Col(_) | Val::Path { .. }) {
                    return invalid("`is null` needs a field");
                }
                Ok(Pred::IsNull(v, *negated))
            }
            Kind::Exists(e) => {
                let (v, _) = self.val(e)?;
                match &v {
                    Val::Path {
                        is_array: false, ..
                    } => Ok(Pred::Exists(v)),
                    _ => invalid("exists needs a JSON path such as meta[\"key\"]"),
                }
            }
            Kind::Call(name, args) => self.call(name, args),
            _ => {
                // Milvus 2.6 runs only Bool-typed predicates: a bare JSON
                // value (a dynamic key that is not a field, `meta["flag"]`)
                // is refused like an integer, not read as per-row truthiness.
                let (v, t) = self.val(a)?;
                if matches!(v, Val::Lit(_)) || t != Ty::Bool {
                    return Err(FilterError::Plan(format!(
                        "predicate is not a boolean expression: {}, data type: {}",
                        self.src.trim(),
                        ty_name(t)
                    )));
                }
                Ok(Pred::Truthy(v))
            }
        }
    }

    fn cmp(&mut self, op: CmpOp, l: &Ast, r: &Ast) -> Result<Pred, FilterError> {
        // `flag == true`-style comparisons against a boolean sub-predicate are not values.
        let (lv, lt) = self.val(l)?;
        let (rv, rt) = self.val(r)?;
        if !comparable(op, lt, rt) {
            return invalid(format!(
                "type mismatch: cannot compare {} with {}",
                ty_name(lt),
                ty_name(rt)
            ));
        }
        Ok(Pred::Cmp(op, lv, rv))
    }

    fn term_in(&mut self, l: &Ast, r: &Ast, negated: bool) -> Result<Pred, FilterError> {
        let (lv, lt) = self.val(l)?;
        let Kind::Lit(Value::Array(items)) = &r.kind else {
            return invalid("the right side of `in` must be an array of literals");
        };
        for it in items {
            let t = lit_ty(it)?;
            if !comparable(CmpOp::Eq, lt, t) {
                return invalid(format!(
                    "type mismatch: `in` list element {it} does not match {}",
                    ty_name(lt)
                ));
            }
        }
        Ok(Pred::In(lv, InSet::new(items.iter().cloned()), negated))
    }

    fn call(&mut self, name: &str, args: &[Ast]) -> Result<Pred, FilterError> {
        let kind = match name
            .trim_start_matches("json_")
            .trim_start_matches("array_")
        {
            "contains" => Contains::One,
            "contains_all" => Contains::All,
            "contains_any" => Contains::Any,
            _ => return invalid(format!("{name}() is not a boolean condition")),
        };
        let [field, arg] = args else {
            return invalid(format!("{name}() takes 2 arguments, got {}", args.len()));
        };
        let (v, t) = self.val(field)?;
        if !matches!(t, Ty::List | Ty::Json) || matches!(v, Val::Lit(_)) {
            return invalid(format!(
                "{name}() needs an ARRAY or JSON field as first argument"
            ));
        }
        let Kind::Lit(lit) = &arg.kind else {
            return invalid(format!("{name}() needs a literal as second argument"));
        };
        let items = match (kind, lit) {
            (Contains::One, v) => {
                lit_ty(v)?;
                vec![v.clone()]
            }
            (_, Value::Array(items)) => items.clone(),
            _ => return invalid(format!("{name}() needs an array as second argument")),
        };
        if let Val::Path {
            col,
            is_array: true,
            ..
        } = &v
        {
            let elem = self.schema.field(col).and_then(|f| f.element_type);
            if let Some(elem) = elem.map(scalar_ty) {
                for it in &items {
                    if !comparable(CmpOp::Eq, elem, lit_ty(it)?) {
                        return invalid(format!(
                            "type mismatch: {name}() value {it} does not match elements of {col}"
                        ));
                    }
                }
            }
        }
        Ok(Pred::Contains(kind, v, InSet::new(items)))
    }

    /// Binds a value expression and returns its static type.
    pub fn val(&mut self, a: &Ast) -> Result<(Val, Ty), FilterError> {
        match &a.kind {
            Kind::Lit(v) => Ok((Val::Lit(v.clone()), lit_ty(v)?)),
            Kind::NonLiteralArray => invalid("array elements must be literals"),
            Kind::Ident(name) => self.ident(name),
            Kind::Index(base, key) => self.index(base, key),
            Kind::Neg(inner) => {
                let (v, t) = self.val(inner)?;
                if !t.numeric() {
                    return invalid(format!("cannot negate a {} value", ty_name(t)));
                }
                if let Val::Lit(lit) = &v {
                    if let Some(f) = datum::number_to_json(datum::negate(Datum::from_json(lit))) {
                        return Ok((Val::Lit(f), t));
                    }
                }
                Ok((Val::Neg(Box::new(v)), t))
            }
            Kind::Arith(op, l, r) => self.arith(*op, l, r),
            Kind::Call(name, args) if name == "array_length" => {
                let [arg] = args.as_slice() else {
                    return invalid("array_length() takes 1 argument");
                };
                let (v, t) = self.val(arg)?;
                if !matches!(t, Ty::List | Ty::Json) || matches!(v, Val::Lit(_)) {
                    return invalid("array_length() needs an ARRAY or JSON field");
                }
                Ok((Val::Len(Box::new(v)), Ty::Int))
            }
            _ => invalid("a boolean condition cannot be used as a value here"),
        }
    }

    fn arith(&mut self, op: BinOp, l: &Ast, r: &Ast) -> Result<(Val, Ty), FilterError> {
        let (lv, lt) = self.val(l)?;
        let (rv, rt) = self.val(r)?;
        if !lt.numeric() || !rt.numeric() {
            return invalid(format!(
                "arithmetic needs numeric operands, got {} and {}",
                ty_name(lt),
                ty_name(rt)
            ));
        }
        let ty = if lt == Ty::Json || rt == Ty::Json {
            Ty::Json
        } else if lt == Ty::Float || rt == Ty::Float || op == BinOp::Pow {
            Ty::Float
        } else {
            Ty::Int
        };
        if let Val::Lit(divisor) = &rv {
            let zero = divisor.as_f64() == Some(0.0);
            if zero && matches!(op, BinOp::Div | BinOp::Mod) {
                return invalid(match (&lv, op) {
                    (Val::Lit(_), BinOp::Div) => "cannot divide by zero",
                    (Val::Lit(_), _) => "cannot modulo by zero",
                    _ => "division or modulus by zero",
                });
            }
        }
        if let (Val::Lit(a), Val::Lit(b)) = (&lv, &rv) {
            let d = datum::arith(op, Datum::from_json(a), Datum::from_json(b));
            return match datum::number_to_json(d) {
                Some(v) => {
                    let t = lit_ty(&v)?;
                    Ok((Val::Lit(v), t))
                }
                None => invalid(format!(
                    "arithmetic on constants {a} and {b} has no finite 64-bit result"
                )),
            };
        }
        Ok((Val::Arith(op, Box::new(lv), Box::new(rv)), ty))
    }

    fn ident(&mut self, name: &str) -> Result<(Val, Ty), FilterError> {
        if name == META_FIELD {
            if !self.schema.enable_dynamic_field {
                return invalid("field $meta not exist: the dynamic field is not enabled");
            }
            return Ok((self.path(META_FIELD, false, Vec::new()), Ty::Json));
        }
        if let Some(f) = self.schema.field(name) {
            return Ok(self.field(f));
        }
        if self.schema.enable_dynamic_field {
            let path = vec![PathElem::Key(name.to_string())];
            return Ok((self.path(META_FIELD, false, path), Ty::Json));
        }
        invalid(format!("field {name} not exist"))
    }

    fn field(&mut self, f: &FieldSchema) -> (Val, Ty) {
        match f.data_type {
            DataType::Json => (self.path(&f.name, false, Vec::new()), Ty::Json),
            DataType::Array => (self.path(&f.name, true, Vec::new()), Ty::List),
            t => (Val::Col(f.name.clone()), scalar_ty(t)),
        }
    }

    fn path(&self, col: &str, is_array: bool, path: Vec<PathElem>) -> Val {
        Val::Path {
            col: col.to_string(),
            is_array,
            path,
        }
    }

    fn index(&mut self, base: &Ast, key: &Ast) -> Result<(Val, Ty), FilterError> {
        let (bv, _) = self.val(base)?;
        let Val::Path {
            col,
            is_array,
            mut path,
        } = bv
        else {
            return invalid("only JSON and ARRAY fields can be indexed with [..]");
        };
        let elem = match &key.kind {
            Kind::Lit(Value::String(s)) if !is_array => PathElem::Key(s.clone()),
            Kind::Lit(Value::Number(n)) => match n.as_u64().and_then(|u| usize::try_from(u).ok()) {
                Some(i) => PathElem::Index(i),
                None => {
                    return invalid(format!(
                        "invalid index [{n}]: must be a non-negative integer"
                    ))
                }
            },
            _ if is_array => {
                return invalid(format!("ARRAY field {col} must be indexed by an integer"))
            }
            _ => return invalid("JSON path keys must be string or integer literals"),
        };
        if is_array && !path.is_empty() {
            return invalid(format!("ARRAY field {col} has only one level of elements"));
        }
        path.push(elem);
        let ty = if is_array {
            self.schema
                .field(&col)
                .and_then(|f| f.element_type)
                .map_or(Ty::Json, scalar_ty)
        } else {
            Ty::Json
        };
        Ok((
            Val::Path {
                col,
                is_array,
                path,
            },
            ty,
        ))
    }
}
