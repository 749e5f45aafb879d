//! Recursive-descent parser producing an untyped syntax tree.
//!
//! Precedence follows Milvus's `Plan.g4` (tightest first): postfix (`[..]`,
//! `like`, `is null`), `**`, unary `+ -`, `* / %`, `+ -`, `in`, relational
//! (with chained ranges), equality, `not`, `and`, `or`. `not` binds looser than
//! comparisons (as in SQL), which agrees with Milvus on every expression Milvus
//! accepts and also accepts the common `not x in [..]`.

use serde_json::Value;

use crate::lexer::{Tok, Token};
use crate::FilterError;

/// Nesting limit: keeps recursion (parser, binder, evaluator, drop) shallow.
const MAX_DEPTH: usize = 96;

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

/// An untyped syntax-tree node with the character position it starts at.
#[derive(Debug, Clone)]
pub(crate) struct Ast {
    pub kind: Kind,
    pub pos: usize,
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

/// Known function names (lower case).
const FUNCTIONS: &[&str] = &[
    "json_contains",
    "json_contains_all",
    "json_contains_any",
    "array_contains",
    "array_contains_all",
    "array_contains_any",
    "array_length",
];

/// Milvus functions Quiver recognises but does not evaluate.
const UNSUPPORTED_FUNCTIONS: &[&str] = &[
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

pub(crate) struct Parser<'a> {
    toks: Vec<Token>,
    i: usize,
    src: &'a str,
    depth: usize,
    templates: &'a std::collections::HashMap<String, Value>,
}

impl<'a> Parser<'a> {
    pub fn new(
        toks: Vec<Token>,
        src: &'a str,
        templates: &'a std::collections::HashMap<String, Value>,
    ) -> Self {
        Parser {
            toks,
            i: 0,
            src,
            depth: 0,
            templates,
        }
    }

    /// Parses a whole expression; trailing tokens are an error.
    pub fn parse_all(&mut self) -> Result<Ast, FilterError> {
        let e = self.or()?;
        if self.peek() != &Tok::Eof {
            return Err(self.unexpected());
        }
        Ok(e)
    }

    fn peek(&self) -> &Tok {
        self.peek_at(0)
    }

    fn peek_at(&self, k: usize) -> &Tok {
        self.toks
            .get(self.i + k)
            .or_else(|| self.toks.last())
            .map_or(&Tok::Eof, |t| &t.tok)
    }

    fn pos(&self) -> usize {
        self.toks
            .get(self.i)
            .or_else(|| self.toks.last())
            .map_or(0, |t| t.pos)
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == t {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: &Tok) -> Result<(), FilterError> {
        if self.eat(t) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn unexpected(&self) -> FilterError {
        let pos = self.pos();
        match self.toks.get(self.i) {
            Some(Token {
                tok: Tok::Unsupported(op),
                ..
            }) => crate::syntax_error(self.src, pos, &format!("operator '{op}' is not supported")),
            Some(t) if t.tok != Tok::Eof => {
                crate::syntax_error(self.src, pos, &format!("unexpected token '{}'", t.text))
            }
            _ => crate::syntax_error(self.src, pos, "unexpected end of expression"),
        }
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(crate::syntax_error(
                self.src,
                self.pos(),
                "expression nested too deeply",
            ));
        }
        Ok(())
    }

    /// Guards left-assoc chains (`1+1+1+...`) that grow the tree without recursion.
    fn chain_guard(&self, n: usize) -> Result<(), FilterError> {
        if n > MAX_DEPTH {
            return Err(crate::syntax_error(
                self.src,
                self.pos(),
                "expression nested too deeply",
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Ast, FilterError> {
        let pos = self.pos();
        let mut items = vec![self.and()?];
        while self.eat(&Tok::Or) {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Ast {
                kind: Kind::Or(items),
                pos,
            }
        })
    }

    fn and(&mut self) -> Result<Ast, FilterError> {
        let pos = self.pos();
        let mut items = vec![self.not()?];
        while self.eat(&Tok::And) {
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Ast {
                kind: Kind::And(items),
                pos,
            }
        })
    }

    fn not(&mut self) -> Result<Ast, FilterError> {
        let pos = self.pos();
        if self.peek() == &Tok::Not && self.peek_at(1) != &Tok::In {
            self.bump();
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Ast {
                kind: Kind::Not(Box::new(inner)),
                pos,
            });
        }
        self.equality()
    }

    fn equality(&mut self) -> Result<Ast, FilterError> {
        let pos = self.pos();
        let mut left = self.relational()?;
        let mut n = 0;
        loop {
            let op = match self.peek() {
                Tok::Eq => CmpOp::Eq,
                Tok::Ne => CmpOp::Ne,
                _ => return Ok(left),
            };
            self.bump();
            n += 1;
            self.chain_guard(n)?;
            let right = self.relational()?;
            left = Ast {
                kind: Kind::Cmp(op, Box::new(left), Box::new(right)),
                pos,
            };
        }
    }

    /// Relational comparisons; `a < b <= c` becomes `a < b and b <= c`.
    fn relational(&mut self) -> Result<Ast, FilterError> {
        let pos = self.pos();
        let first = self.term_in()?;
        let mut operands = vec![first];
        let mut ops = Vec::new();
        loop {
            let op = match self.peek() {
                Tok::Lt => CmpOp::Lt,
                Tok::Le => CmpOp::Le,
                Tok::Gt => CmpOp::Gt,
                Tok::Ge => CmpOp::Ge,
                _ => break,
            };
            if ops.len() == 2 {
                return Err(self.unexpected());
            }
            self.bump();
            ops.push(op);
            operands.push(self.term_in()?);
        }
        if ops.is_empty() {
            return Ok(operands.remove(0));
        }
        let mut cmps = Vec::new();
        for (k, op) in ops.iter().enumerate() {
            cmps.push(Ast {
                kind: Kind::Cmp(
                    *op,
                    Box::new(operands[k].clone()),
                    Box::new(operands[k + 1].clone()),
                ),
                pos: if k == 0 { pos } else { operands[k].pos },
            });
        }
        Ok(if cmps.len() == 1 {
            cmps.remove(0)
        } else {
            Ast {
                kind: Kind::And(cmps),
                pos,
            }
        })
    }

    fn term_in(&mut self) -> Result<Ast, FilterError> {
        let pos = self.pos();
        let left = self.additive()?;
        let negated = if self.peek() == &Tok::Not && self.peek_at(1) == &Tok::In {
            self.bump();
            true
        } else {
            false
        };
        if !self.eat(&Tok::In) {
            return Ok(left);
        }
        let right = self.additive()?;
        Ok(Ast {
            kind: Kind::In(Box::new(left), Box::new(right), negated),
            pos,
        })
    }

    fn additive(&mut self) -> Result<Ast, FilterError> {
        let pos = self.pos();
        let mut left = self.multiplicative()?;
        let mut n = 0;
        loop {
            let op = match self.peek() {
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                _ => return Ok(left),
            };
            self.bump();
            n += 1;
            self.chain_guard(n)?;
            let right = self.multiplicative()?;
            left = Ast {
                kind: Kind::Arith(op, Box::new(left), Box::new(right)),
                pos,
            };
        }
    }

    fn multiplicative(&mut self) -> Result<Ast, FilterError> {
        let pos = self.pos();
        let mut left = self.unary()?;
        let mut n = 0;
        loop {
            let op = match self.peek() {
                Tok::Star => BinOp::Mul,
                Tok::Slash => BinOp::Div,
                Tok::Percent => BinOp::Mod,
                _ => return Ok(left),
            };
            self.bump();
            n += 1;
            self.chain_guard(n)?;
            let right = self.unary()?;
            left = Ast {
                kind: Kind::Arith(op, Box::new(left), Box::new(right)),
                pos,
            };
        }
    }

    fn unary(&mut self) -> Result<Ast, FilterError> {
        let pos = self.pos();
        self.enter()?;
        let out = match self.peek() {
            Tok::Plus => {
                self.bump();
                self.unary()
            }
            Tok::Minus => {
                self.bump();
                self.unary().map(|inner| negate(inner, pos))
            }
            Tok::Not => {
                self.bump();
                self.unary().map(|inner| Ast {
                    kind: Kind::Not(Box::new(inner)),
                    pos,
                })
            }
            _ => self.power(),
        };
        self.depth -= 1;
        out
    }

    fn power(&mut self) -> Result<Ast, FilterError> {
        let pos = self.pos();
        let base = self.postfix()?;
        if !self.eat(&Tok::Pow) {
            return Ok(base);
        }
        // Right-associative; the exponent may carry a sign.
        let exp = self.unary()?;
        Ok(Ast {
            kind: Kind::Arith(BinOp::Pow, Box::new(base), Box::new(exp)),
            pos,
        })
    }

    fn postfix(&mut self) -> Result<Ast, FilterError> {
        let pos = self.pos();
        let mut e = self.primary()?;
        let mut n = 0;
        loop {
            n += 1;
            self.chain_guard(n)?;
            match self.peek() {
                Tok::LBracket => {
                    self.bump();
                    let key = self.or()?;
                    self.expect(&Tok::RBracket)?;
                    e = Ast {
                        kind: Kind::Index(Box::new(e), Box::new(key)),
                        pos,
                    };
                }
                Tok::Like => {
                    self.bump();
                    let Tok::Str(p) = self.peek().clone() else {
                        return Err(self.unexpected());
                    };
                    self.bump();
                    e = Ast {
                        kind: Kind::Like(Box::new(e), p),
                        pos,
                    };
                }
                Tok::Is => {
                    self.bump();
                    let negated = self.eat(&Tok::Not);
                    self.expect(&Tok::Null)?;
                    e = Ast {
                        kind: Kind::IsNull(Box::new(e), negated),
                        pos,
                    };
                }
                _ => return Ok(e),
            }
        }
    }

    fn primary(&mut self) -> Result<Ast, FilterError> {
        let pos = self.pos();
        let lit = |v: Value| Ast {
            kind: Kind::Lit(v),
            pos,
        };
        match self.peek().clone() {
            Tok::Int(v) => {
                self.bump();
                Ok(lit(Value::from(v)))
            }
            Tok::Float(v) => {
                self.bump();
                Ok(lit(float_value(v)))
            }
            Tok::Str(s) => {
                self.bump();
                Ok(lit(Value::String(s)))
            }
            Tok::Bool(b) => {
                self.bump();
                Ok(lit(Value::Bool(b)))
            }
            Tok::Template(name) => {
                self.bump();
                match self.templates.get(&name) {
                    Some(v) => Ok(lit(v.clone())),
                    None => Err(FilterError::Invalid(format!(
                        "template variable {{{name}}} has no value in expr_template_values"
                    ))),
                }
            }
            Tok::LParen => {
                self.bump();
                self.enter()?;
                let e = self.or()?;
                self.expect(&Tok::RParen)?;
                self.depth -= 1;
                Ok(e)
            }
            Tok::LBracket => self.array(),
            Tok::Exists => {
                self.bump();
                self.enter()?;
                let e = self.postfix()?;
                self.depth -= 1;
                Ok(Ast {
                    kind: Kind::Exists(Box::new(e)),
                    pos,
                })
            }
            Tok::Ident(name) => {
                self.bump();
                if self.peek() == &Tok::LParen {
                    return self.call(name, pos);
                }
                Ok(Ast {
                    kind: Kind::Ident(name),
                    pos,
                })
            }
            _ => Err(self.unexpected()),
        }
    }

    fn array(&mut self) -> Result<Ast, FilterError> {
        let pos = self.pos();
        self.expect(&Tok::LBracket)?;
        self.enter()?;
        let mut items = Vec::new();
        while self.peek() != &Tok::RBracket {
            items.push(self.or()?);
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        self.expect(&Tok::RBracket)?;
        self.depth -= 1;
        let lits: Option<Vec<Value>> = items
            .iter()
            .map(|a| match &a.kind {
                Kind::Lit(v) => Some(v.clone()),
                _ => None,
            })
            .collect();
        Ok(Ast {
            kind: match lits {
                Some(vs) => Kind::Lit(Value::Array(vs)),
                None => Kind::NonLiteralArray,
            },
            pos,
        })
    }

    fn call(&mut self, name: String, pos: usize) -> Result<Ast, FilterError> {
        let lower = name.to_ascii_lowercase();
        if UNSUPPORTED_FUNCTIONS.contains(&lower.as_str()) || lower.starts_with("st_") {
            return Err(FilterError::Invalid(format!(
                "function {name}() is not supported by Quiver"
            )));
        }
        if !FUNCTIONS.contains(&lower.as_str()) {
            return Err(crate::syntax_error(
                self.src,
                pos,
                &format!("unknown function '{name}'"),
            ));
        }
        self.expect(&Tok::LParen)?;
        self.enter()?;
        let mut args = Vec::new();
        while self.peek() != &Tok::RParen {
            args.push(self.or()?);
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        self.expect(&Tok::RParen)?;
        self.depth -= 1;
        Ok(Ast {
            kind: Kind::Call(lower, args),
            pos,
        })
    }
}

fn float_value(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// Unary minus; folds numeric literals so `-5` is a literal.
fn negate(inner: Ast, pos: usize) -> Ast {
    if let Kind::Lit(Value::Number(n)) = &inner.kind {
        let folded = if let Some(i) = n.as_i64() {
            Some(
                i.checked_neg()
                    .map_or(float_value(-(i as f64)), Value::from),
            )
        } else {
            n.as_f64().map(|f| {
                if f == -(i64::MIN as f64) {
                    Value::from(i64::MIN)
                } else {
                    float_value(-f)
                }
            })
        };
        if let Some(v) = folded {
            return Ast {
                kind: Kind::Lit(v),
                pos,
            };
        }
    }
    Ast {
        kind: Kind::Neg(Box::new(inner)),
        pos,
    }
}
