//! Recursive-descent parser producing an untyped syntax tree.
//!
//! Precedence follows Milvus's `Plan.g4` (tightest first): postfix (`[..]`,
//! `like`, `is null`), `**`, unary `+ -`, `* / %`, `+ -`, `in`, relational
//! (with chained ranges), equality, `not`, `and`, `or`. `not` binds looser than
//! comparisons (as in SQL), which agrees with Milvus on every expression Milvus
//! accepts and also accepts the common `not x in [..]`.
//!
//! The parser pulls tokens from the lexer as it goes (two of lookahead), so its
//! memory is the tree it builds. [`Limits`] are enforced here, before any work
//! proportional to a violation: recursion depth when entering a nested
//! construct, tree height and node count whenever a node is built.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;

pub(crate) use crate::ast::{Ast, BinOp, CmpOp, Kind};
use crate::ast::{FUNCTIONS, UNSUPPORTED_FUNCTIONS};
use crate::error::FilterError;
use crate::lexer::{Lexer, Tok, Token, INT_MIN_MAGNITUDE};
use crate::limits::Limits;

pub(crate) struct Parser<'a> {
    lx: Lexer<'a>,
    look: VecDeque<Token>,
    /// The first lexer error; the token stream ends there.
    lex_err: Option<FilterError>,
    src: &'a str,
    limits: &'a Limits,
    depth: usize,
    nodes: usize,
    /// Positions of `9223372036854775808` literals not (yet) negated.
    unsigned: Vec<usize>,
    templates: &'a HashMap<String, Value>,
}

impl<'a> Parser<'a> {
    pub fn new(src: &'a str, templates: &'a HashMap<String, Value>, limits: &'a Limits) -> Self {
        Parser {
            lx: Lexer::new(src),
            look: VecDeque::with_capacity(2),
            lex_err: None,
            src,
            limits,
            depth: 0,
            nodes: 0,
            unsigned: Vec::new(),
            templates,
        }
    }

    /// Parses a whole expression; trailing tokens are an error.
    pub fn parse_all(mut self) -> Result<Ast, FilterError> {
        let r = self.or().and_then(|e| {
            if self.peek() != &Tok::Eof {
                return Err(self.unexpected());
            }
            match self.unsigned.first() {
                Some(&pos) => Err(self.err(
                    pos,
                    &format!("integer literal {INT_MIN_MAGNITUDE} is out of range for Int64"),
                )),
                None => Ok(e),
            }
        });
        // A lexer error explains a parse error it caused (the tokens stopped).
        match self.lex_err.take() {
            Some(e) => Err(e),
            None => r,
        }
    }

    fn fill(&mut self, n: usize) {
        while self.look.len() < n {
            let end = self.src.len();
            let t = if self.lex_err.is_some() {
                None
            } else {
                match self.lx.next_token() {
                    Ok(t) => Some(t),
                    Err(e) => {
                        self.lex_err = Some(e);
                        None
                    }
                }
            };
            self.look.push_back(t.unwrap_or(Token {
                tok: Tok::Eof,
                start: end,
                end,
            }));
        }
    }

    fn peek(&mut self) -> &Tok {
        self.peek_at(0)
    }

    fn peek_at(&mut self, k: usize) -> &Tok {
        self.fill(k + 1);
        self.look.get(k).map_or(&Tok::Eof, |t| &t.tok)
    }

    /// Byte offset of the current token.
    fn pos(&mut self) -> usize {
        self.fill(1);
        self.look.front().map_or(self.src.len(), |t| t.start)
    }

    fn bump(&mut self) -> Tok {
        self.fill(1);
        self.look.pop_front().map_or(Tok::Eof, |t| t.tok)
    }

    fn eat(&mut self, t: &Tok) -> bool {
        let hit = self.peek() == t;
        if hit {
            self.bump();
        }
        hit
    }

    fn expect(&mut self, t: &Tok) -> Result<(), FilterError> {
        if self.eat(t) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn err(&self, pos: usize, what: &str) -> FilterError {
        crate::error::syntax_error(self.src, pos, what)
    }

    fn unexpected(&mut self) -> FilterError {
        self.fill(1);
        let Some(t) = self.look.front() else {
            return self.err(self.src.len(), "unexpected end of expression");
        };
        match &t.tok {
            Tok::Unsupported(op) => self.err(t.start, &format!("operator '{op}' is not supported")),
            Tok::Eof => self.err(t.start, "unexpected end of expression"),
            _ => {
                let text = self.src.get(t.start..t.end).unwrap_or_default();
                let shown = crate::limits::excerpt(text);
                self.err(t.start, &format!("unexpected token '{shown}'"))
            }
        }
    }

    fn too_deep(&mut self) -> FilterError {
        let pos = self.pos();
        FilterError::Limit(format!(
            "expression nesting depth exceeds the limit of {} at position {}",
            self.limits.max_depth,
            crate::error::char_pos(self.src, pos)
        ))
    }

    /// Enters a nested construct (parenthesis, prefix operator, call, array, ...).
    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(self.too_deep());
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Builds a node, enforcing the height and node-count limits.
    fn node(&mut self, kind: Kind) -> Result<Ast, FilterError> {
        self.count(1)?;
        let height = kind.height();
        if height as usize > self.limits.max_depth {
            return Err(self.too_deep());
        }
        Ok(Ast { kind, height })
    }

    fn count(&mut self, n: usize) -> Result<(), FilterError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            let pos = self.pos();
            return Err(FilterError::Limit(format!(
                "expression has more than {} terms and operators (at position {})",
                self.limits.max_nodes,
                crate::error::char_pos(self.src, pos)
            )));
        }
        Ok(())
    }

    /// `op`-separated operands of `next`, one n-ary node (or the lone operand).
    fn chain(
        &mut self,
        op: &Tok,
        next: fn(&mut Self) -> Result<Ast, FilterError>,
        make: fn(Vec<Ast>) -> Kind,
    ) -> Result<Ast, FilterError> {
        let first = next(self)?;
        if self.peek() != op {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat(op) {
            items.push(next(self)?);
        }
        self.node(make(items))
    }

    fn or(&mut self) -> Result<Ast, FilterError> {
        self.chain(&Tok::Or, Self::and, Kind::Or)
    }

    fn and(&mut self) -> Result<Ast, FilterError> {
        self.chain(&Tok::And, Self::not, Kind::And)
    }

    fn not(&mut self) -> Result<Ast, FilterError> {
        if self.peek() == &Tok::Not && self.peek_at(1) != &Tok::In {
            self.bump();
            self.enter()?;
            let inner = self.not()?;
            self.leave();
            return self.node(Kind::Not(Box::new(inner)));
        }
        self.equality()
    }

    fn equality(&mut self) -> Result<Ast, FilterError> {
        let mut left = self.relational()?;
        loop {
            let op = match self.peek() {
                Tok::Eq => CmpOp::Eq,
                Tok::Ne => CmpOp::Ne,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.relational()?;
            left = self.node(Kind::Cmp(op, Box::new(left), Box::new(right)))?;
        }
    }

    /// Relational comparisons; `a < b <= c` becomes `a < b and b <= c`.
    fn relational(&mut self) -> Result<Ast, FilterError> {
        let first = self.term_in()?;
        let Some(op1) = self.rel_op() else {
            return Ok(first);
        };
        self.bump();
        let second = self.term_in()?;
        let Some(op2) = self.rel_op() else {
            return self.node(Kind::Cmp(op1, Box::new(first), Box::new(second)));
        };
        self.bump();
        let third = self.term_in()?;
        if self.rel_op().is_some() {
            return Err(self.unexpected());
        }
        let a = self.node(Kind::Cmp(op1, Box::new(first), Box::new(second.clone())))?;
        let b = self.node(Kind::Cmp(op2, Box::new(second), Box::new(third)))?;
        self.node(Kind::And(vec![a, b]))
    }

    fn rel_op(&mut self) -> Option<CmpOp> {
        Some(match self.peek() {
            Tok::Lt => CmpOp::Lt,
            Tok::Le => CmpOp::Le,
            Tok::Gt => CmpOp::Gt,
            Tok::Ge => CmpOp::Ge,
            _ => return None,
        })
    }

    fn term_in(&mut self) -> Result<Ast, FilterError> {
        let left = self.additive()?;
        let negated = self.peek() == &Tok::Not && self.peek_at(1) == &Tok::In;
        if negated {
            self.bump();
        }
        if !self.eat(&Tok::In) {
            return Ok(left);
        }
        let right = self.additive()?;
        self.node(Kind::In(Box::new(left), Box::new(right), negated))
    }

    fn additive(&mut self) -> Result<Ast, FilterError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.multiplicative()?;
            left = self.node(Kind::Arith(op, Box::new(left), Box::new(right)))?;
        }
    }

    fn multiplicative(&mut self) -> Result<Ast, FilterError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Star => BinOp::Mul,
                Tok::Slash => BinOp::Div,
                Tok::Percent => BinOp::Mod,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.unary()?;
            left = self.node(Kind::Arith(op, Box::new(left), Box::new(right)))?;
        }
    }

    fn unary(&mut self) -> Result<Ast, FilterError> {
        let op = self.peek().clone();
        if !matches!(op, Tok::Plus | Tok::Minus | Tok::Not) {
            return self.power();
        }
        self.bump();
        self.enter()?;
        let inner = self.unary();
        self.leave();
        let inner = inner?;
        match op {
            Tok::Minus => self.negate(inner),
            Tok::Not => self.node(Kind::Not(Box::new(inner))),
            _ => Ok(inner),
        }
    }

    fn power(&mut self) -> Result<Ast, FilterError> {
        let base = self.postfix()?;
        if !self.eat(&Tok::Pow) {
            return Ok(base);
        }
        // Right-associative; the exponent may carry a sign.
        self.enter()?;
        let exp = self.unary();
        self.leave();
        let exp = exp?;
        self.node(Kind::Arith(BinOp::Pow, Box::new(base), Box::new(exp)))
    }

    fn postfix(&mut self) -> Result<Ast, FilterError> {
        let mut e = self.primary()?;
        loop {
            match self.peek() {
                Tok::LBracket => {
                    self.bump();
                    self.enter()?;
                    let key = self.or();
                    self.leave();
                    let key = key?;
                    self.expect(&Tok::RBracket)?;
                    e = self.node(Kind::Index(Box::new(e), Box::new(key)))?;
                }
                Tok::Like => {
                    self.bump();
                    let p = match self.peek() {
                        Tok::Str(_) => match self.bump() {
                            Tok::Str(p) => p,
                            _ => return Err(self.unexpected()),
                        },
                        // `varchar like {pattern}` (Milvus 2.6): the template
                        // value must be a string.
                        Tok::Template(_) => {
                            let pos = self.pos();
                            let Tok::Template(name) = self.bump() else {
                                return Err(self.unexpected());
                            };
                            match self.template(&name)?.kind {
                                Kind::Lit(Value::String(p)) => p,
                                _ => {
                                    return Err(self.err(
                                        pos,
                                        &format!("the pattern of like must be a string, template {{{name}}} is not"),
                                    ))
                                }
                            }
                        }
                        _ => return Err(self.unexpected()),
                    };
                    e = self.node(Kind::Like(Box::new(e), p))?;
                }
                Tok::Is => {
                    self.bump();
                    let negated = self.eat(&Tok::Not);
                    self.expect(&Tok::Null)?;
                    e = self.node(Kind::IsNull(Box::new(e), negated))?;
                }
                _ => return Ok(e),
            }
        }
    }

    fn lit(&mut self, v: Value) -> Result<Ast, FilterError> {
        self.node(Kind::Lit(v))
    }

    fn primary(&mut self) -> Result<Ast, FilterError> {
        let pos = self.pos();
        match self.peek() {
            Tok::LParen => {
                self.bump();
                self.enter()?;
                let e = self.or();
                self.leave();
                let e = e?;
                self.expect(&Tok::RParen)?;
                Ok(e)
            }
            Tok::LBracket => self.array(),
            Tok::Exists => {
                self.bump();
                self.enter()?;
                let e = self.postfix();
                self.leave();
                let e = e?;
                self.node(Kind::Exists(Box::new(e)))
            }
            Tok::Int(_)
            | Tok::Float(_)
            | Tok::Str(_)
            | Tok::Bool(_)
            | Tok::Template(_)
            | Tok::Ident(_) => self.value(pos),
            _ => Err(self.unexpected()),
        }
    }

    /// A literal, template placeholder, identifier or function call.
    fn value(&mut self, pos: usize) -> Result<Ast, FilterError> {
        match self.bump() {
            Tok::Int(v) => {
                if v > i64::MAX as u64 {
                    self.unsigned.push(pos);
                }
                self.lit(Value::from(v))
            }
            Tok::Float(v) => match serde_json::Number::from_f64(v) {
                Some(n) => self.lit(Value::Number(n)),
                None => Err(self.err(pos, "floating-point literal is out of range")),
            },
            Tok::Str(s) => self.lit(Value::String(s)),
            Tok::Bool(b) => self.lit(Value::Bool(b)),
            Tok::Template(name) => self.template(&name),
            Tok::Ident(name) => {
                if self.peek() == &Tok::LParen {
                    return self.call(name, pos);
                }
                self.node(Kind::Ident(name))
            }
            _ => Err(self.err(pos, "unexpected token")),
        }
    }

    fn template(&mut self, name: &str) -> Result<Ast, FilterError> {
        let Some(v) = self.templates.get(name) else {
            return Err(FilterError::Invalid(format!(
                "template variable {{{name}}} has no value in expr_template_values"
            )));
        };
        let v = v.clone();
        self.count(v.as_array().map_or(0, Vec::len))?;
        self.lit(v)
    }

    /// An array literal; literal elements are taken straight from the token
    /// stream (a 100k-element `in` list builds no per-element tree).
    fn array(&mut self) -> Result<Ast, FilterError> {
        self.expect(&Tok::LBracket)?;
        self.enter()?;
        let items = self.array_items();
        self.leave();
        let items = items?;
        self.expect(&Tok::RBracket)?;
        self.count(items.len())?;
        let mut lits = Vec::with_capacity(items.len());
        let mut all_literal = true;
        for item in items {
            match item {
                Item::Lit(v) => lits.push(v),
                Item::Ast(Ast {
                    kind: Kind::Lit(v), ..
                }) => lits.push(v),
                Item::Ast(_) => all_literal = false,
            }
        }
        let kind = if all_literal {
            Kind::Lit(Value::Array(lits))
        } else {
            Kind::NonLiteralArray
        };
        self.node(kind)
    }

    fn array_items(&mut self) -> Result<Vec<Item>, FilterError> {
        let mut items = Vec::new();
        while self.peek() != &Tok::RBracket {
            items.push(self.array_item()?);
            self.count(1)?;
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        Ok(items)
    }

    fn array_item(&mut self) -> Result<Item, FilterError> {
        if matches!(self.peek_at(1), Tok::Comma | Tok::RBracket) {
            let v = match self.peek() {
                Tok::Int(v) if *v <= i64::MAX as u64 => Some(Value::from(*v)),
                Tok::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number),
                Tok::Bool(b) => Some(Value::Bool(*b)),
                Tok::Str(_) => match self.bump() {
                    Tok::Str(s) => return Ok(Item::Lit(Value::String(s))),
                    _ => None,
                },
                _ => None,
            };
            if let Some(v) = v {
                self.bump();
                return Ok(Item::Lit(v));
            }
        }
        self.or().map(Item::Ast)
    }

    fn call(&mut self, name: String, pos: usize) -> Result<Ast, FilterError> {
        let lower = name.to_ascii_lowercase();
        if UNSUPPORTED_FUNCTIONS.contains(&lower.as_str()) || lower.starts_with("st_") {
            return Err(FilterError::Invalid(format!(
                "function {name}() is not supported by Quiver"
            )));
        }
        if !FUNCTIONS.contains(&lower.as_str()) {
            return Err(self.err(pos, &format!("unknown function '{name}'")));
        }
        self.expect(&Tok::LParen)?;
        self.enter()?;
        let args = self.call_args();
        self.leave();
        let args = args?;
        self.expect(&Tok::RParen)?;
        self.node(Kind::Call(lower, args))
    }

    fn call_args(&mut self) -> Result<Vec<Ast>, FilterError> {
        let mut args = Vec::new();
        while self.peek() != &Tok::RParen {
            args.push(self.or()?);
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        Ok(args)
    }

    /// Unary minus; folds numeric literals so `-5` is a literal.
    fn negate(&mut self, inner: Ast) -> Result<Ast, FilterError> {
        if let Kind::Lit(Value::Number(n)) = &inner.kind {
            let folded = if let Some(i) = n.as_i64() {
                Some(
                    i.checked_neg()
                        .map_or_else(|| float_value(-(i as f64)), Value::from),
                )
            } else if n.as_u64() == Some(INT_MIN_MAGNITUDE) {
                self.unsigned.pop();
                Some(Value::from(i64::MIN))
            } else {
                n.as_f64().map(|f| float_value(-f))
            };
            if let Some(v) = folded {
                return Ok(Ast {
                    kind: Kind::Lit(v),
                    height: 1,
                });
            }
        }
        self.node(Kind::Neg(Box::new(inner)))
    }
}

/// One element of an array literal.
enum Item {
    Lit(Value),
    Ast(Ast),
}

fn float_value(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}
