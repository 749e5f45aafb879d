//! `LIKE` patterns: `%` matches any run of characters, `_` exactly one, and a
//! backslash makes the next character literal (`\%`, `\_`, `\\`), as in
//! Milvus; a pattern ending in a lone backslash is refused.
//!
//! Patterns without `_` (the common prefix/suffix/infix cases) compile to plain
//! substring checks; the rest use a backtracking wildcard matcher.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Atom {
    Char(char),
    One,
    Any,
}

/// A compiled LIKE pattern.
#[derive(Debug, Clone)]
pub(crate) enum LikePattern {
    /// Only `%` wildcards: literal pieces that must appear in order; the first is a
    /// prefix unless the pattern starts with `%`, the last a suffix unless it ends with `%`.
    Pieces {
        pieces: Vec<String>,
        anchored_start: bool,
        anchored_end: bool,
    },
    /// Contains `_`: general matcher; `min_chars` counts the non-`%` atoms.
    General { atoms: Vec<Atom>, min_chars: usize },
}

impl LikePattern {
    /// Compiles a pattern; the error is the reason it is invalid.
    pub fn compile(pattern: &str) -> Result<LikePattern, String> {
        let mut atoms = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e) => atoms.push(Atom::Char(e)),
                    None => {
                        return Err(
                            "Invalid LIKE pattern: trailing backslash with nothing to escape"
                                .to_string(),
                        )
                    }
                },
                '%' => {
                    if atoms.last() != Some(&Atom::Any) {
                        atoms.push(Atom::Any);
                    }
                }
                '_' => atoms.push(Atom::One),
                other => atoms.push(Atom::Char(other)),
            }
        }
        if atoms.contains(&Atom::One) {
            let min_chars = atoms.iter().filter(|a| **a != Atom::Any).count();
            return Ok(LikePattern::General { atoms, min_chars });
        }
        let anchored_start = atoms.first() != Some(&Atom::Any);
        let anchored_end = atoms.last() != Some(&Atom::Any);
        let mut pieces = vec![String::new()];
        for a in &atoms {
            match a {
                Atom::Char(c) => {
                    if let Some(p) = pieces.last_mut() {
                        p.push(*c);
                    }
                }
                _ => pieces.push(String::new()),
            }
        }
        pieces.retain(|p| !p.is_empty());
        Ok(LikePattern::Pieces {
            pieces,
            anchored_start,
            anchored_end,
        })
    }

    /// The longest literal piece every match must contain, if any.
    pub fn longest_piece(&self) -> Option<&str> {
        match self {
            LikePattern::Pieces { pieces, .. } => {
                pieces.iter().max_by_key(|p| p.len()).map(String::as_str)
            }
            LikePattern::General { .. } => None,
        }
    }

    pub fn matches(&self, s: &str) -> bool {
        match self {
            LikePattern::Pieces {
                pieces,
                anchored_start,
                anchored_end,
            } => match_pieces(pieces, *anchored_start, *anchored_end, s),
            LikePattern::General { atoms, min_chars } => match_general(atoms, *min_chars, s),
        }
    }
}

fn match_pieces(pieces: &[String], start: bool, end: bool, s: &str) -> bool {
    if pieces.is_empty() {
        // "" matches only ""; "%" matches anything.
        return !(start && end) || s.is_empty();
    }
    if pieces.len() == 1 && start && end {
        return s == pieces[0];
    }
    let mut rest = s;
    let mut middle = pieces;
    if start {
        match rest.strip_prefix(pieces[0].as_str()) {
            Some(r) => rest = r,
            None => return false,
        }
        middle = &middle[1..];
    }
    let mut last: Option<&str> = None;
    if end {
        if let Some((l, m)) = middle.split_last() {
            last = Some(l.as_str());
            middle = m;
        }
    }
    for p in middle {
        match rest.find(p.as_str()) {
            Some(at) => rest = &rest[at + p.len()..],
            None => return false,
        }
    }
    match last {
        Some(l) => rest.ends_with(l),
        None => true,
    }
}

/// Wildcard match with one remembered `%` (linear for one `%`, at worst
/// pattern x text); works on byte offsets, so it allocates nothing.
fn match_general(atoms: &[Atom], min_chars: usize, s: &str) -> bool {
    // Every non-`%` atom consumes a character, and a character is >= 1 byte.
    if s.len() < min_chars {
        return false;
    }
    let char_at = |t: usize| s.get(t..).and_then(|r| r.chars().next());
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while let Some(c) = char_at(t) {
        match atoms.get(p) {
            Some(Atom::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Atom::One) => {
                p += 1;
                t += c.len_utf8();
            }
            Some(Atom::Char(a)) if *a == c => {
                p += 1;
                t += c.len_utf8();
            }
            _ => match star {
                Some((sp, st)) => {
                    let next = st + char_at(st).map_or(1, char::len_utf8);
                    p = sp + 1;
                    t = next;
                    star = Some((sp, next));
                }
                None => return false,
            },
        }
    }
    atoms
        .get(p..)
        .unwrap_or_default()
        .iter()
        .all(|a| *a == Atom::Any)
}

#[cfg(test)]
mod tests {
    use super::LikePattern;

    fn m(p: &str, s: &str) -> bool {
        LikePattern::compile(p).is_ok_and(|l| l.matches(s))
    }

    #[test]
    fn like_cases() {
        assert!(m("ab%", "abc"));
        assert!(!m("ab%", "xab"));
        assert!(m("%bc", "abc"));
        assert!(m("%b%", "abc"));
        assert!(!m("%d%", "abc"));
        assert!(m("%", ""));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abcd"));
        assert!(m("a%c%e", "abcde"));
        assert!(!m("a%c%e", "abcd"));
        assert!(m("a%a", "aa"));
        assert!(!m("a%a", "a"));
        assert!(m("a_c", "abc"));
        assert!(m("a_c", "aéc"));
        assert!(!m("a_c", "ac"));
        assert!(m("%_b", "xxb"));
        assert!(m(r"100\%", "100%"));
        assert!(!m(r"100\%", "1000"));
        assert!(m(r"a\_b", "a_b"));
        assert!(!m(r"a\_b", "axb"));
        assert!(m(r"a\\%", r"a\xyz"));
        assert!(m(r"a\x", "ax"));
        assert!(LikePattern::compile(r"abc\").is_err());
        assert!(LikePattern::compile(r"abc\\").is_ok());
    }
}
