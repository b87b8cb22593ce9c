//! Glob patterns for client lines: `*` matches any run of characters, `?` one character,
//! `\*` and `\?` the characters themselves. Matching ignores ASCII case, as SMTP verbs do.

use std::fmt;

/// A glob pattern over one client line (without its line ending).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Pattern {
    source: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Any,
    One,
    Char(char),
}

impl Pattern {
    /// Makes a pattern from its source text.
    pub fn new(source: impl Into<String>) -> Self {
        Pattern {
            source: source.into(),
        }
    }

    /// A pattern that matches only `text` (wildcards in it are escaped).
    pub fn literal(text: &str) -> Self {
        let mut source = String::with_capacity(text.len());
        for c in text.chars() {
            if matches!(c, '*' | '?' | '\\') {
                source.push('\\');
            }
            source.push(c);
        }
        Pattern { source }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// `true` if the pattern has no wildcard.
    pub fn is_literal(&self) -> bool {
        !self
            .tokens()
            .iter()
            .any(|t| matches!(t, Token::Any | Token::One))
    }

    /// `true` if the pattern matches every input.
    pub fn matches_everything(&self) -> bool {
        self.tokens().iter().all(|t| *t == Token::Any)
    }

    fn tokens(&self) -> Vec<Token> {
        let mut out = Vec::new();
        let mut chars = self.source.chars();
        while let Some(c) = chars.next() {
            out.push(match c {
                '*' => Token::Any,
                '?' => Token::One,
                '\\' => Token::Char(chars.next().unwrap_or('\\')),
                c => Token::Char(c),
            });
        }
        out
    }

    /// Does `text` match the whole pattern (ASCII case ignored)?
    pub fn matches(&self, text: &str) -> bool {
        let pat = self.tokens();
        let txt: Vec<char> = text.chars().collect();
        // Iterative glob matching with backtracking to the last `*`.
        let (mut p, mut t) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while t < txt.len() {
            match pat.get(p) {
                Some(Token::Any) => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(Token::One) => {
                    p += 1;
                    t += 1;
                }
                Some(Token::Char(c)) if c.eq_ignore_ascii_case(&txt[t]) => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        p = sp + 1;
                        t = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        pat[p..].iter().all(|t| *t == Token::Any)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_documented() {
        for (pat, text, expected) in [
            ("EHLO *", "EHLO client.example", true),
            ("EHLO *", "ehlo x", true),
            ("EHLO *", "EHLO", false),
            ("EHLO*", "EHLO", true),
            ("*", "", true),
            ("AUTH LOGIN", "AUTH LOGIN", true),
            ("AUTH LOGIN", "AUTH LOGIN x", false),
            (
                "MAIL FROM:<*@example.com>*",
                "MAIL FROM:<a@example.com> SIZE=10",
                true,
            ),
            (
                "MAIL FROM:<*@example.com>",
                "MAIL FROM:<a@example.org>",
                false,
            ),
            ("RCPT TO:<?@x>", "RCPT TO:<a@x>", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
        ] {
            assert_eq!(Pattern::new(pat).matches(text), expected, "{pat} ~ {text}");
        }
    }

    #[test]
    fn literal_escapes_wildcards() {
        let p = Pattern::literal("what?*");
        assert!(p.matches("WHAT?*"));
        assert!(!p.matches("whatx*"));
        assert!(p.is_literal());
        assert!(Pattern::new("**").matches_everything());
    }
}
