//! The untyped syntax tree the parser builds and the binder consumes.
//!
//! Every node records its height so the parser can refuse a tree deeper than
//! [`crate::Limits::max_depth`] the moment it would be built: the binder,
//! evaluator, `Clone` and `Drop` all recurse once per level, so bounding the
//! height bounds their stack use. `and`/`or` are n-ary (a chain of a million
//! `or`s is one node of height 2, not a million-level tree).

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    /// The operator with its operands swapped (`a < b` == `b > a`).
    pub fn flip(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }
}

/// An untyped syntax-tree node.
#[derive(Debug, Clone)]
pub(crate) struct Ast {
    pub kind: Kind,
    /// 1 for a leaf, else 1 + the height of the tallest child.
    pub height: u32,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A literal (number, string, bool, array of literals, or template value).
    Lit(Value),
    /// An array literal that contains non-literal elements.
    NonLiteralArray,
    Ident(String),
    Index(Box<Ast>, Box<Ast>),
    Neg(Box<Ast>),
    Arith(BinOp, Box<Ast>, Box<Ast>),
    Cmp(CmpOp, Box<Ast>, Box<Ast>),
    In(Box<Ast>, Box<Ast>, bool),
    Like(Box<Ast>, String),
    IsNull(Box<Ast>, bool),
    Exists(Box<Ast>),
    Call(String, Vec<Ast>),
    Not(Box<Ast>),
    And(Vec<Ast>),
    Or(Vec<Ast>),
}

impl Kind {
    /// Height of a node of this kind.
    pub fn height(&self) -> u32 {
        let max = |items: &[Ast]| items.iter().map(|a| a.height).max().unwrap_or(0);
        1 + match self {
            Kind::Lit(_) | Kind::NonLiteralArray | Kind::Ident(_) => 0,
            Kind::Index(a, b) | Kind::Arith(_, a, b) | Kind::Cmp(_, a, b) | Kind::In(a, b, _) => {
                a.height.max(b.height)
            }
            Kind::Neg(a)
            | Kind::Like(a, _)
            | Kind::IsNull(a, _)
            | Kind::Exists(a)
            | Kind::Not(a) => a.height,
            Kind::Call(_, items) | Kind::And(items) | Kind::Or(items) => max(items),
        }
    }
}

/// Known function names (lower case).
pub(crate) const FUNCTIONS: &[&str] = &[
    "json_contains",
    "json_contains_all",
    "json_contains_any",
    "array_contains",
    "array_contains_all",
    "array_contains_any",
    "array_length",
];

/// Milvus functions Quiver recognises but does not evaluate.
pub(crate) const UNSUPPORTED_FUNCTIONS: &[&str] = &[
    "text_match",
    "phrase_match",
    "random_sample",
    "match_all",
    "match_any",
    "match_least",
    "match_most",
    "match_exact",
    "element_filter",
];
