//! Tokeniser for Milvus filter expressions.
//!
//! Streams tokens on demand (the parser keeps at most two of lookahead), works
//! on bytes, and reports byte offsets; [`crate::error::syntax_error`] turns an offset
//! into the 0-based *character* position the error messages promise. Every
//! byte is looked at a bounded number of times, so lexing is linear in the
//! input, and numeric literals that do not fit their type are errors that name
//! the literal (never an infinite float or a silently wrapped integer).

use crate::error::FilterError;

/// One lexical token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// Magnitude of an integer literal: at most `i64::MAX`, or exactly
    /// `2^63` (only valid as the operand of unary minus; the parser checks).
    Int(u64),
    /// A finite float literal.
    Float(f64),
    Str(String),
    Bool(bool),
    Ident(String),
    Template(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Not,
    And,
    Or,
    In,
    Like,
    Is,
    Null,
    Exists,
    /// Operators Milvus has but Quiver does not evaluate (`~ & | ^ << >> =~`).
    Unsupported(&'static str),
    Eof,
}

/// A token and the byte range of the source it came from.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

/// The largest magnitude an integer token may have (`-9223372036854775808`).
pub(crate) const INT_MIN_MAGNITUDE: u64 = 1 << 63;

pub(crate) struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    i: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer {
            src,
            b: src.as_bytes(),
            i: 0,
        }
    }

    /// The next token; [`Tok::Eof`] (repeatedly) at the end.
    pub fn next_token(&mut self) -> Result<Token, FilterError> {
        self.skip_ws();
        let start = self.i;
        let tok = match self.peek(0) {
            None => Tok::Eof,
            Some(c) => self.token(c)?,
        };
        Ok(Token {
            tok,
            start,
            end: self.i,
        })
    }

    fn peek(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }

    /// The character starting at byte `at` (callers only pass char boundaries).
    fn char_at(&self, at: usize) -> Option<char> {
        self.src.get(at..).and_then(|s| s.chars().next())
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek(0) {
            if c.is_ascii() {
                if !c.is_ascii_whitespace() && c != 0x0b {
                    return;
                }
                self.i += 1;
            } else {
                match self.char_at(self.i) {
                    Some(ch) if ch.is_whitespace() => self.i += ch.len_utf8(),
                    _ => return,
                }
            }
        }
    }

    fn err(&self, pos: usize, what: &str) -> FilterError {
        crate::error::syntax_error(self.src, pos, what)
    }

    fn text(&self, start: usize) -> &'a str {
        self.src.get(start..self.i).unwrap_or_default()
    }

    fn token(&mut self, c: u8) -> Result<Tok, FilterError> {
        let start = self.i;
        if (c == b'r' || c == b'R') && matches!(self.peek(1), Some(b'"' | b'\'')) {
            self.i += 1;
            return self.string(start, true);
        }
        if is_ident_start(c) {
            let w = self.word();
            return Ok(keyword(w).unwrap_or_else(|| Tok::Ident(w.to_string())));
        }
        if c == b'$' && self.peek(1).is_some_and(is_ident_start) {
            self.i += 1;
            let w = self.word();
            return Ok(Tok::Ident(format!("${w}")));
        }
        if c.is_ascii_digit() || (c == b'.' && self.peek(1).is_some_and(|d| d.is_ascii_digit())) {
            return self.number();
        }
        if c == b'"' || c == b'\'' {
            return self.string(start, false);
        }
        if c == b'{' {
            return self.template();
        }
        self.punct(c)
    }

    fn punct(&mut self, c: u8) -> Result<Tok, FilterError> {
        let two = match (c, self.peek(1)) {
            (b'*', Some(b'*')) => Some(Tok::Pow),
            (b'<', Some(b'=')) => Some(Tok::Le),
            (b'>', Some(b'=')) => Some(Tok::Ge),
            (b'=', Some(b'=')) => Some(Tok::Eq),
            (b'!', Some(b'=')) => Some(Tok::Ne),
            (b'&', Some(b'&')) => Some(Tok::And),
            (b'|', Some(b'|')) => Some(Tok::Or),
            (b'<', Some(b'<')) => Some(Tok::Unsupported("<<")),
            (b'>', Some(b'>')) => Some(Tok::Unsupported(">>")),
            (b'=', Some(b'~')) => Some(Tok::Unsupported("=~")),
            (b'!', Some(b'~')) => Some(Tok::Unsupported("!~")),
            _ => None,
        };
        if let Some(t) = two {
            self.i += 2;
            return Ok(t);
        }
        let tok = match c {
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b',' => Tok::Comma,
            b'+' => Tok::Plus,
            b'-' => Tok::Minus,
            b'*' => Tok::Star,
            b'/' => Tok::Slash,
            b'%' => Tok::Percent,
            b'<' => Tok::Lt,
            b'>' => Tok::Gt,
            b'!' => Tok::Not,
            b'~' => Tok::Unsupported("~"),
            b'&' => Tok::Unsupported("&"),
            b'|' => Tok::Unsupported("|"),
            b'^' => Tok::Unsupported("^"),
            _ => {
                let ch = self.char_at(self.i).unwrap_or(char::REPLACEMENT_CHARACTER);
                return Err(self.err(self.i, &format!("unexpected character '{ch}'")));
            }
        };
        self.i += 1;
        Ok(tok)
    }

    fn word(&mut self) -> &'a str {
        let start = self.i;
        while self.peek(0).is_some_and(is_ident_char) {
            self.i += 1;
        }
        self.text(start)
    }

    fn template(&mut self) -> Result<Tok, FilterError> {
        let start = self.i;
        self.i += 1;
        self.skip_ws();
        let name = self.word();
        self.skip_ws();
        if name.is_empty() || self.peek(0) != Some(b'}') {
            return Err(self.err(start, "malformed template placeholder '{'"));
        }
        self.i += 1;
        Ok(Tok::Template(name.to_string()))
    }

    fn digits(&mut self, ok: impl Fn(u8) -> bool) {
        while self.peek(0).is_some_and(&ok) {
            self.i += 1;
        }
    }

    fn number(&mut self) -> Result<Tok, FilterError> {
        let start = self.i;
        let radix = match (self.peek(0), self.peek(1)) {
            (Some(b'0'), Some(b'x' | b'X')) => Some(16),
            (Some(b'0'), Some(b'b' | b'B')) => Some(2),
            (Some(b'0'), Some(b'o' | b'O')) => Some(8),
            _ => None,
        };
        if let Some(radix) = radix {
            self.i += 2;
            let digits_start = self.i;
            self.digits(|d| char::from(d).is_digit(radix) || d == b'_');
            let digits: String = self
                .text(digits_start)
                .chars()
                .filter(|c| *c != '_')
                .collect();
            return self.finish_int(start, &digits, radix);
        }
        let mut is_float = false;
        self.digits(|d| d.is_ascii_digit());
        if self.peek(0) == Some(b'.') {
            is_float = true;
            self.i += 1;
            self.digits(|d| d.is_ascii_digit());
        }
        if matches!(self.peek(0), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.peek(1), Some(b'+' | b'-')));
            if self.peek(1 + sign).is_some_and(|d| d.is_ascii_digit()) {
                is_float = true;
                self.i += 1 + sign;
                self.digits(|d| d.is_ascii_digit());
            }
        }
        if self.peek(0).is_some_and(is_ident_char) {
            return Err(self.err(start, "malformed number"));
        }
        let text = self.text(start);
        if is_float {
            return match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Tok::Float(f)),
                Ok(_) => Err(self.err(
                    start,
                    &format!("floating-point literal {text} is out of range for a 64-bit float"),
                )),
                Err(_) => Err(self.err(start, &format!("malformed number '{text}'"))),
            };
        }
        match text.strip_prefix('0') {
            Some(octal) if !octal.is_empty() => self.finish_int(start, octal, 8),
            _ => self.finish_int(start, text, 10),
        }
    }

    fn finish_int(&mut self, start: usize, digits: &str, radix: u32) -> Result<Tok, FilterError> {
        if self.peek(0).is_some_and(is_ident_char) {
            return Err(self.err(start, "malformed number"));
        }
        let text = self.text(start);
        if digits.is_empty() {
            return Err(self.err(start, &format!("malformed number '{text}'")));
        }
        match u64::from_str_radix(digits, radix) {
            Ok(v) if v <= INT_MIN_MAGNITUDE => Ok(Tok::Int(v)),
            Ok(_) => Err(int_range_error(self.src, start, text)),
            Err(e) if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) => {
                Err(int_range_error(self.src, start, text))
            }
            Err(_) => Err(self.err(start, &format!("malformed number '{text}'"))),
        }
    }

    /// A quoted string; `start` is where the token began (before any `r`).
    fn string(&mut self, start: usize, raw: bool) -> Result<Tok, FilterError> {
        let quote = self.peek(0).unwrap_or(b'"');
        self.i += 1;
        let mut s = String::new();
        loop {
            let run = self.i;
            // Quote and backslash are ASCII, so they never occur inside a
            // multi-byte UTF-8 sequence: scanning bytes is safe.
            let Some(off) = memchr::memchr2(quote, b'\\', self.b.get(run..).unwrap_or_default())
            else {
                return Err(self.err(start, "unterminated string literal"));
            };
            self.i = run + off;
            s.push_str(self.src.get(run..self.i).unwrap_or_default());
            let c = self.peek(0).unwrap_or(quote);
            self.i += 1;
            if c == quote {
                return Ok(Tok::Str(s));
            }
            let Some(e) = self.char_at(self.i) else {
                return Err(self.err(start, "unterminated string literal"));
            };
            self.i += e.len_utf8();
            if raw {
                s.push('\\');
                s.push(e);
                continue;
            }
            self.escape(e, &mut s)?;
        }
    }

    /// Appends the character escape `\e` stands for (the backslash and `e`
    /// are consumed).
    fn escape(&mut self, e: char, s: &mut String) -> Result<(), FilterError> {
        let ch = match e {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            '0' => '\0',
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'v' => '\u{b}',
            '\\' | '"' | '\'' | '/' => e,
            'u' | 'U' | 'x' => {
                let n = match e {
                    'u' => 4,
                    'U' => 8,
                    _ => 2,
                };
                let hex = self.b.get(self.i..self.i + n).unwrap_or_default();
                let ch = std::str::from_utf8(hex)
                    .ok()
                    .filter(|h| h.len() == n && h.bytes().all(|d| d.is_ascii_hexdigit()))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32);
                let Some(ch) = ch else {
                    return Err(self.err(self.i - 2, "invalid escape sequence in string"));
                };
                self.i += n;
                ch
            }
            // Unknown escapes (e.g. `\%` in LIKE patterns) are kept verbatim.
            other => {
                s.push('\\');
                other
            }
        };
        s.push(ch);
        Ok(())
    }
}

fn int_range_error(src: &str, start: usize, text: &str) -> FilterError {
    crate::error::syntax_error(
        src,
        start,
        &format!("integer literal {text} is out of range for Int64"),
    )
}

fn keyword(w: &str) -> Option<Tok> {
    // The longest keyword is 6 letters; anything longer is an identifier.
    if w.len() > 6 {
        return None;
    }
    let lower = w.to_ascii_lowercase();
    // Keywords are accepted all-lower, all-upper, and (booleans) capitalised.
    let upper = w.to_ascii_uppercase();
    let is_bool_case = w == lower || w == upper || {
        let mut c = w.chars();
        c.next().is_some_and(|f| f.is_ascii_uppercase()) && c.as_str() == &lower[1..]
    };
    if w != lower && w != upper && !matches!(lower.as_str(), "true" | "false") {
        return None;
    }
    Some(match lower.as_str() {
        "true" if is_bool_case => Tok::Bool(true),
        "false" if is_bool_case => Tok::Bool(false),
        "and" => Tok::And,
        "or" => Tok::Or,
        "not" => Tok::Not,
        "in" => Tok::In,
        "like" => Tok::Like,
        "is" => Tok::Is,
        "null" => Tok::Null,
        "exists" => Tok::Exists,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let mut lx = Lexer::new(s);
        let mut out = Vec::new();
        while let Ok(t) = lx.next_token() {
            if t.tok == Tok::Eof {
                break;
            }
            out.push(t.tok);
        }
        out
    }

    fn lex_err(s: &str) -> String {
        let mut lx = Lexer::new(s);
        loop {
            match lx.next_token() {
                Ok(t) if t.tok == Tok::Eof => panic!("`{s}` lexed without error"),
                Ok(_) => {}
                Err(e) => return e.to_string(),
            }
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(toks("0x1F"), [Tok::Int(31)]);
        assert_eq!(toks("0b101"), [Tok::Int(5)]);
        assert_eq!(toks("017"), [Tok::Int(15)]);
        assert_eq!(toks("0"), [Tok::Int(0)]);
        assert_eq!(toks("1.5e3"), [Tok::Float(1500.0)]);
        assert_eq!(toks(".5"), [Tok::Float(0.5)]);
        assert_eq!(toks("9223372036854775808"), [Tok::Int(INT_MIN_MAGNITUDE)]);
        assert_eq!(toks("1e-400"), [Tok::Float(0.0)]);
        let e = lex_err("x > 99999999999999999999");
        assert!(
            e.contains("integer literal 99999999999999999999 is out of range"),
            "{e}"
        );
        assert!(e.contains("at position 4"), "{e}");
        let e = lex_err("x > 1e400");
        assert!(
            e.contains("floating-point literal 1e400 is out of range"),
            "{e}"
        );
        assert!(lex_err("0x").contains("malformed number"));
        assert!(lex_err("09").contains("malformed number"));
        assert!(lex_err("0xFFFFFFFFFFFFFFFFFF").contains("out of range"));
    }

    #[test]
    fn strings_and_keywords() {
        assert_eq!(toks(r#""a\"b\n\u0041""#), [Tok::Str("a\"b\nA".into())]);
        assert_eq!(toks(r"'it\'s'"), [Tok::Str("it's".into())]);
        assert_eq!(toks(r#"r"a\d""#), [Tok::Str("a\\d".into())]);
        assert_eq!(toks("\"é\\%\""), [Tok::Str("é\\%".into())]);
        assert_eq!(
            toks("True TRUE false AND and And"),
            [
                Tok::Bool(true),
                Tok::Bool(true),
                Tok::Bool(false),
                Tok::And,
                Tok::And,
                Tok::Ident("And".into()),
            ]
        );
        assert_eq!(toks("$meta"), [Tok::Ident("$meta".into())]);
        assert_eq!(toks("{ name }"), [Tok::Template("name".into())]);
        assert_eq!(toks("a\u{2003}<<b"), {
            [
                Tok::Ident("a".into()),
                Tok::Unsupported("<<"),
                Tok::Ident("b".into()),
            ]
        });
        assert!(lex_err("\"\\u12\"").contains("invalid escape"));
        assert!(lex_err("\"abc").contains("unterminated"));
        assert!(lex_err("é").contains("unexpected character 'é'"));
    }
}
