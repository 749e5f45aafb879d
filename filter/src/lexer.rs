//! Tokeniser for Milvus filter expressions.
//!
//! Works on `char`s so every position it reports is a 0-based *character*
//! offset, which is what the error messages promise to users.

use crate::FilterError;

/// One lexical token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Int(i64),
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
    Unsupported(String),
    Eof,
}

/// A token with its character position and the source text it came from.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
    pub text: String,
}

/// Splits `src` into tokens, ending with [`Tok::Eof`].
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = src.chars().collect();
    let mut lx = Lexer {
        chars: &chars,
        i: 0,
        src,
    };
    let mut out = Vec::new();
    loop {
        lx.skip_ws();
        let start = lx.i;
        let Some(c) = lx.peek(0) else {
            out.push(Token {
                tok: Tok::Eof,
                pos: start,
                text: String::new(),
            });
            return Ok(out);
        };
        let tok = lx.next_token(c)?;
        let text: String = chars[start..lx.i].iter().collect();
        out.push(Token {
            tok,
            pos: start,
            text,
        });
    }
}

struct Lexer<'a> {
    chars: &'a [char],
    i: usize,
    src: &'a str,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Lexer<'_> {
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek(0).is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }

    fn err(&self, pos: usize, what: &str) -> FilterError {
        crate::syntax_error(self.src, pos, what)
    }

    fn next_token(&mut self, c: char) -> Result<Tok, FilterError> {
        let start = self.i;
        if (c == 'r' || c == 'R') && matches!(self.peek(1), Some('"' | '\'')) {
            self.i += 1;
            return self.string(true);
        }
        if is_ident_start(c) {
            return Ok(self.word());
        }
        if c == '$' && self.peek(1).is_some_and(is_ident_start) {
            self.i += 1;
            let Tok::Ident(w) = self.word() else {
                return Err(self.err(start, "unexpected token '$'"));
            };
            return Ok(Tok::Ident(format!("${w}")));
        }
        if c.is_ascii_digit() || (c == '.' && self.peek(1).is_some_and(|d| d.is_ascii_digit())) {
            return self.number();
        }
        if c == '"' || c == '\'' {
            return self.string(false);
        }
        if c == '{' {
            return self.template();
        }
        self.punct(c)
    }

    fn punct(&mut self, c: char) -> Result<Tok, FilterError> {
        let start = self.i;
        let two: String = [Some(c), self.peek(1)].iter().flatten().collect();
        let tok2 = match two.as_str() {
            "**" => Some(Tok::Pow),
            "<=" => Some(Tok::Le),
            ">=" => Some(Tok::Ge),
            "==" => Some(Tok::Eq),
            "!=" => Some(Tok::Ne),
            "&&" => Some(Tok::And),
            "||" => Some(Tok::Or),
            "<<" | ">>" | "=~" | "!~" => Some(Tok::Unsupported(two.clone())),
            _ => None,
        };
        if let Some(t) = tok2 {
            self.i += 2;
            return Ok(t);
        }
        let tok = match c {
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            ',' => Tok::Comma,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '*' => Tok::Star,
            '/' => Tok::Slash,
            '%' => Tok::Percent,
            '<' => Tok::Lt,
            '>' => Tok::Gt,
            '!' => Tok::Not,
            '~' | '&' | '|' | '^' => Tok::Unsupported(c.to_string()),
            _ => return Err(self.err(start, &format!("unexpected character '{c}'"))),
        };
        self.i += 1;
        Ok(tok)
    }

    fn word(&mut self) -> Tok {
        let start = self.i;
        while self.peek(0).is_some_and(is_ident_char) {
            self.i += 1;
        }
        let w: String = self.chars[start..self.i].iter().collect();
        keyword(&w).unwrap_or(Tok::Ident(w))
    }

    fn template(&mut self) -> Result<Tok, FilterError> {
        let start = self.i;
        self.i += 1;
        self.skip_ws();
        let name_start = self.i;
        while self.peek(0).is_some_and(is_ident_char) {
            self.i += 1;
        }
        let name: String = self.chars[name_start..self.i].iter().collect();
        self.skip_ws();
        if name.is_empty() || self.peek(0) != Some('}') {
            return Err(self.err(start, "malformed template placeholder '{'"));
        }
        self.i += 1;
        Ok(Tok::Template(name))
    }

    fn number(&mut self) -> Result<Tok, FilterError> {
        let start = self.i;
        let radix_prefix = match (self.peek(0), self.peek(1)) {
            (Some('0'), Some('x' | 'X')) => Some(16),
            (Some('0'), Some('b' | 'B')) => Some(2),
            (Some('0'), Some('o' | 'O')) => Some(8),
            _ => None,
        };
        if let Some(radix) = radix_prefix {
            self.i += 2;
            let digits_start = self.i;
            while self.peek(0).is_some_and(|d| d.is_digit(radix) || d == '_') {
                self.i += 1;
            }
            let digits: String = self.chars[digits_start..self.i]
                .iter()
                .filter(|c| **c != '_')
                .collect();
            return self.finish_int(start, &digits, radix);
        }
        let mut is_float = false;
        while self.peek(0).is_some_and(|d| d.is_ascii_digit()) {
            self.i += 1;
        }
        if self.peek(0) == Some('.') {
            is_float = true;
            self.i += 1;
            while self.peek(0).is_some_and(|d| d.is_ascii_digit()) {
                self.i += 1;
            }
        }
        if matches!(self.peek(0), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.peek(1), Some('+' | '-')));
            if self.peek(1 + sign).is_some_and(|d| d.is_ascii_digit()) {
                is_float = true;
                self.i += 1 + sign;
                while self.peek(0).is_some_and(|d| d.is_ascii_digit()) {
                    self.i += 1;
                }
            }
        }
        if self.peek(0).is_some_and(is_ident_char) {
            return Err(self.err(start, "malformed number"));
        }
        let text: String = self.chars[start..self.i].iter().collect();
        if is_float {
            return text
                .parse::<f64>()
                .map(Tok::Float)
                .map_err(|_| self.err(start, &format!("malformed number '{text}'")));
        }
        if text.len() > 1 && text.starts_with('0') {
            return self.finish_int(start, &text[1..], 8);
        }
        self.finish_int(start, &text, 10)
    }

    fn finish_int(&mut self, start: usize, digits: &str, radix: u32) -> Result<Tok, FilterError> {
        if self.peek(0).is_some_and(is_ident_char) {
            return Err(self.err(start, "malformed number"));
        }
        let text: String = self.chars[start..self.i].iter().collect();
        if digits.is_empty() {
            return Err(self.err(start, &format!("malformed number '{text}'")));
        }
        match u64::from_str_radix(digits, radix) {
            Ok(v) if v <= i64::MAX as u64 => Ok(Tok::Int(v as i64)),
            // Only reachable as the operand of unary minus (i64::MIN); the parser folds it.
            Ok(v) if v == i64::MAX as u64 + 1 => Ok(Tok::Float(-(i64::MIN as f64))),
            _ => Err(self.err(start, &format!("integer literal out of range '{text}'"))),
        }
    }

    fn string(&mut self, raw: bool) -> Result<Tok, FilterError> {
        let start = if raw { self.i - 1 } else { self.i };
        let quote = self.peek(0).unwrap_or('"');
        self.i += 1;
        let mut s = String::new();
        loop {
            let Some(c) = self.peek(0) else {
                return Err(self.err(start, "unterminated string literal"));
            };
            self.i += 1;
            if c == quote {
                return Ok(Tok::Str(s));
            }
            if c != '\\' {
                s.push(c);
                continue;
            }
            let Some(e) = self.peek(0) else {
                return Err(self.err(start, "unterminated string literal"));
            };
            self.i += 1;
            if raw {
                s.push('\\');
                s.push(e);
                continue;
            }
            match e {
                'n' => s.push('\n'),
                't' => s.push('\t'),
                'r' => s.push('\r'),
                '0' => s.push('\0'),
                'a' => s.push('\u{7}'),
                'b' => s.push('\u{8}'),
                'f' => s.push('\u{c}'),
                'v' => s.push('\u{b}'),
                '\\' | '"' | '\'' | '/' => s.push(e),
                'u' | 'U' | 'x' => {
                    let n = match e {
                        'u' => 4,
                        'U' => 8,
                        _ => 2,
                    };
                    let hex: String = (0..n).filter_map(|k| self.peek(k)).collect();
                    let ch = (hex.len() == n)
                        .then(|| u32::from_str_radix(&hex, 16).ok())
                        .flatten()
                        .and_then(char::from_u32);
                    let Some(ch) = ch else {
                        return Err(self.err(self.i - 2, "invalid escape sequence in string"));
                    };
                    self.i += n;
                    s.push(ch);
                }
                // Unknown escapes (e.g. `\%` in LIKE patterns) are kept verbatim.
                other => {
                    s.push('\\');
                    s.push(other);
                }
            }
        }
    }
}

fn keyword(w: &str) -> Option<Tok> {
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
        tokenize(s)
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn numbers() {
        assert_eq!(toks("0x1F")[0], Tok::Int(31));
        assert_eq!(toks("0b101")[0], Tok::Int(5));
        assert_eq!(toks("017")[0], Tok::Int(15));
        assert_eq!(toks("0")[0], Tok::Int(0));
        assert_eq!(toks("1.5e3")[0], Tok::Float(1500.0));
        assert_eq!(toks(".5")[0], Tok::Float(0.5));
        assert!(tokenize("99999999999999999999").is_err());
        assert!(tokenize("09").is_err());
    }

    #[test]
    fn strings_and_keywords() {
        assert_eq!(toks(r#""a\"b\n\u0041""#)[0], Tok::Str("a\"b\nA".into()));
        assert_eq!(toks(r"'it\'s'")[0], Tok::Str("it's".into()));
        assert_eq!(toks(r#"r"a\d""#)[0], Tok::Str("a\\d".into()));
        assert_eq!(
            toks("True TRUE false AND and And")[..5],
            [
                Tok::Bool(true),
                Tok::Bool(true),
                Tok::Bool(false),
                Tok::And,
                Tok::And
            ]
        );
        assert_eq!(toks("And")[0], Tok::Ident("And".into()));
        assert_eq!(toks("$meta")[0], Tok::Ident("$meta".into()));
        assert_eq!(toks("{ name }")[0], Tok::Template("name".into()));
    }
}
