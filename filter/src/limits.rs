//! Caps on the size and shape of a filter expression.
//!
//! A filter arrives from the network, so nothing about it may be allowed to
//! cost more than a bounded amount of time, memory or stack. Every stage of
//! the pipeline is linear in the expression's size, and these caps bound that
//! size: the byte length is checked before lexing, nesting depth and node count
//! while parsing (so a violation is found after work proportional to the cap,
//! not to the input), and the number of predicates the evaluator would run per
//! row after binding (long `x == a or x == b ...` chains fold into one set
//! lookup first, so they cost one predicate, not thousands).
//!
//! Milvus bounds nesting depth too (`proxy.maxExpressionDepth`, rejected with a
//! "nesting depth" error); it has no separate length cap below the gRPC message
//! limit. The defaults here accept everything realistic (100k-element `in`
//! lists of UUIDs, a few hundred thousand `or`-ed equalities) and refuse the rest
//! with a clear invalid-parameter error.

/// Limits applied by [`crate::Filter::parse_with_limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted expression, in bytes (checked before any parsing).
    pub max_expr_bytes: usize,
    /// Deepest accepted nesting: parentheses, unary operators, `not`, function
    /// calls, array literals, `[..]` paths and operator chains all count. Also
    /// bounds every recursion of the parser, binder and evaluator, so no input
    /// can overflow a 2 MiB thread stack.
    pub max_depth: usize,
    /// Most syntax-tree nodes (operators, operands, array elements) accepted.
    pub max_nodes: usize,
    /// Most predicates evaluated per row after simplification (equality chains
    /// over one field and `in` lists count as one).
    pub max_predicates: usize,
}

impl Limits {
    /// Defaults: 16 MiB, depth 256, 2 million nodes, 10 000 predicates.
    pub const DEFAULT: Limits = Limits {
        max_expr_bytes: 16 << 20,
        max_depth: 256,
        max_nodes: 2_000_000,
        max_predicates: 10_000,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Longest part of the expression echoed back in an error message.
const EXCERPT_CHARS: usize = 200;

/// The expression as quoted in error messages: whole when short, otherwise its
/// start and its size, so an 8 MB filter does not produce an 8 MB status.
pub(crate) fn excerpt(src: &str) -> String {
    match src.char_indices().nth(EXCERPT_CHARS) {
        None => src.to_string(),
        Some((cut, _)) => format!("{}... ({} bytes)", &src[..cut], src.len()),
    }
}

/// The Milvus-style message: `cannot parse expression: <expr>, error: <reason>`.
pub(crate) fn message(src: &str, reason: &str) -> String {
    format!("cannot parse expression: {}, error: {reason}", excerpt(src))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_expressions_are_abbreviated() {
        assert_eq!(excerpt("id > 1"), "id > 1");
        let long = "é".repeat(1000);
        let e = excerpt(&long);
        assert!(e.starts_with(&"é".repeat(EXCERPT_CHARS)), "{e}");
        assert!(e.ends_with("... (2000 bytes)"), "{e}");
        assert_eq!(
            message("id >", "boom"),
            "cannot parse expression: id >, error: boom"
        );
    }
}
