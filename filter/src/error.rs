//! The crate's one error type, and the helpers that word its messages.
//!
//! It lives apart from `lib.rs` so that every stage (lexer, parser, binder,
//! evaluator) can name it without importing from the crate root that in turn
//! imports them: the module graph stays acyclic. Messages follow Milvus:
//! `cannot parse expression: <expr>, error: <reason>` (see [`crate::limits`]).

use crate::limits;

/// Errors from parsing, binding or evaluating a filter.
#[derive(thiserror::Error, Debug)]
pub enum FilterError {
    /// Syntax error at a 0-based character position (user error).
    #[error("{message}")]
    Syntax { pos: usize, message: String },
    /// Unknown field, type mismatch, bad function arguments, a literal zero
    /// divisor, ... (user error).
    #[error("{0}")]
    Invalid(String),
    /// The expression exceeds a [`Limits`](crate::Limits) cap: too long, too deeply nested,
    /// too many terms (user error: an invalid parameter).
    #[error("{0}")]
    Limit(String),
    /// The whole expression is not a predicate Milvus runs (user error),
    /// reported in Milvus's words without the parse-error wrapping.
    #[error("{0}: query plan failed")]
    Plan(String),
    /// The segment's data does not fit the plan (system error; rare).
    #[error("cannot evaluate expression: {0}")]
    Eval(String),
}

impl FilterError {
    /// True when the client's expression is at fault (syntax, semantics or
    /// size), false for evaluation failures caused by stored data.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, FilterError::Eval(_))
    }

    /// Quotes the expression in a bare reason (syntax errors already do).
    pub(crate) fn in_expr(self, src: &str) -> FilterError {
        match self {
            FilterError::Invalid(r) => FilterError::Invalid(limits::message(src, &r)),
            FilterError::Limit(r) => FilterError::Limit(limits::message(src, &r)),
            other => other,
        }
    }
}

/// The 0-based character position of byte offset `byte` in `src`.
pub(crate) fn char_pos(src: &str, byte: usize) -> usize {
    src.get(..byte)
        .map_or_else(|| src.chars().count(), |s| s.chars().count())
}

/// A syntax error at byte offset `byte`, reported by character position.
pub(crate) fn syntax_error(src: &str, byte: usize, what: &str) -> FilterError {
    let pos = char_pos(src, byte);
    FilterError::Syntax {
        pos,
        message: limits::message(src, &format!("{what} at position {pos}")),
    }
}
