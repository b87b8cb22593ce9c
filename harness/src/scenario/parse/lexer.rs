//! The words of a line with their columns, quoted words and their escapes, the text after
//! `S:` and `C:`, and durations.

use std::time::Duration;

use super::Origin;
use crate::scenario::ScenarioError;

/// One whitespace-separated word of a line, with its 1-based column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Word<'a> {
    /// 1-based column of its first character (the opening quote of a quoted word).
    pub column: usize,
    /// The word, without its quotes (escapes are left as written).
    pub text: &'a str,
    /// It was written `"…"`.
    pub quoted: bool,
}

impl Word<'_> {
    /// The column just after the word and one space: where the next word would start.
    pub fn next_column(&self) -> usize {
        self.column + self.text.len() + usize::from(self.quoted) * 2 + 1
    }
}

/// Splits a line into words; `"…"` keeps spaces (with `\"` and `\\` escapes). Columns are
/// 1-based, counted from `first_column`; line `n` is named in the error for an unclosed quote.
pub(super) fn split_words<'l>(
    origin: Origin<'_>,
    n: usize,
    line: &'l str,
    first_column: usize,
) -> Result<Vec<Word<'l>>, ScenarioError> {
    let mut words = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            if i >= bytes.len() {
                return Err(origin.syntax(n, first_column + start, "a closing '\"'", ""));
            }
            words.push(Word {
                column: first_column + start,
                text: &line[start + 1..i],
                quoted: true,
            });
            i += 1;
        } else {
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            words.push(Word {
                column: first_column + start,
                text: &line[start..i],
                quoted: false,
            });
        }
    }
    Ok(words)
}

/// The text after `S:` or `C:`: one optional space is dropped, the rest is kept verbatim.
pub(super) fn strip_marker(line: &str) -> String {
    let rest = &line[2..];
    rest.strip_prefix(' ').unwrap_or(rest).to_owned()
}

/// The reply line of an `S:` line: the text after `S:` and one optional space, or, when that
/// is a quoted string, its bytes (`S: "250 "` keeps the trailing space).
pub(super) fn reply_text(
    origin: Origin<'_>,
    n: usize,
    line: &str,
) -> Result<String, ScenarioError> {
    let text = strip_marker(line);
    let Some(quoted) = text.strip_prefix('"') else {
        return Ok(text);
    };
    let column = line.len() - text.len() + 2;
    let unescaped =
        crate::escape::unescape(quoted, Some(b'"'), &[(b'"', b'"')]).map_err(|bad| {
            origin.syntax(
                n,
                column + bad.offset,
                "an escape: \\t, \\\\, \\\" or \\xNN",
                bad.escape,
            )
        })?;
    match unescaped.rest {
        Some("") => {}
        Some(extra) => {
            return Err(origin.syntax(
                n,
                line.len() - extra.len() + 1,
                "the end of the line after the closing quote",
                extra,
            ));
        }
        None => return Err(origin.syntax(n, line.len() + 1, "a closing `\"`", "")),
    }
    let text = String::from_utf8(unescaped.bytes).map_err(|_| {
        origin.invalid(
            n,
            "a reply line must be UTF-8 (a \\xNN escape made it something else)",
        )
    })?;
    if text.contains(['\r', '\n']) {
        return Err(origin.invalid(
            n,
            "a quoted reply line cannot hold \\r or \\n: one S: line is one line (use `raw` for bytes that break lines)",
        ));
    }
    Ok(text)
}

/// The bytes of a quoted `raw` word, its escapes (`\r`, `\n`, `\t`, `\\`, `\"`, `\xNN`)
/// resolved.
pub(super) fn raw_bytes(
    origin: Origin<'_>,
    n: usize,
    word: &Word<'_>,
) -> Result<Vec<u8>, ScenarioError> {
    crate::escape::unescape(word.text, None, &[(b'"', b'"')])
        .map(|unescaped| unescaped.bytes)
        .map_err(|bad| {
            origin.syntax(
                n,
                word.column + 1 + bad.offset,
                "an escape: \\r, \\n, \\t, \\\\, \\\" or \\xNN",
                bad.escape,
            )
        })
}

/// A duration word (`500ms`, `2s`, `1m`), or an error at its column.
pub(super) fn duration(
    origin: Origin<'_>,
    n: usize,
    word: &Word<'_>,
) -> Result<Duration, ScenarioError> {
    parse_duration(word.text).ok_or_else(|| {
        origin.syntax(
            n,
            word.column,
            "a duration such as 500ms, 2s or 1m",
            word.text,
        )
    })
}

/// Parses `500ms`, `2s`, `1m`, `3h`, `40d`.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let value: u64 = digits.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(value)),
        "s" => Some(Duration::from_secs(value)),
        "m" => Some(Duration::from_secs(value.checked_mul(60)?)),
        "h" => Some(Duration::from_secs(value.checked_mul(3600)?)),
        "d" => Some(Duration::from_secs(value.checked_mul(86_400)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Origin<'static> = Origin("t.scn");

    fn words(line: &str) -> Vec<(usize, &str, bool)> {
        split_words(AT, 1, line, 1)
            .expect("splits")
            .into_iter()
            .map(|w| (w.column, w.text, w.quoted))
            .collect()
    }

    #[test]
    fn words_carry_their_columns_and_quotes_keep_spaces() {
        assert_eq!(
            words("expect  \"MAIL FROM:<*>\" times 2"),
            [
                (1, "expect", false),
                (9, "MAIL FROM:<*>", true),
                (25, "times", false),
                (31, "2", false)
            ]
        );
        // An escaped quote does not end the word; the escape is left for the caller.
        assert_eq!(
            words(r#"raw "a\"b""#),
            [(1, "raw", false), (5, r#"a\"b"#, true)]
        );
    }

    #[test]
    fn columns_count_from_the_indentation() {
        let w = split_words(AT, 3, "auth login", 5).expect("splits");
        assert_eq!((w[0].column, w[1].column), (5, 10));
        assert_eq!(w[0].next_column(), 10);
    }

    #[test]
    fn an_unclosed_quote_is_named_at_its_column() {
        let e = split_words(AT, 7, "expect \"MAIL", 1).expect_err("unclosed");
        assert_eq!(
            e.to_string(),
            r#"t.scn:7:8: expected a closing '"', found the end of the line"#
        );
    }

    #[test]
    fn reply_text_drops_one_space_and_unquotes_with_escapes() {
        assert_eq!(reply_text(AT, 1, "S: 250 ok").unwrap(), "250 ok");
        assert_eq!(reply_text(AT, 1, "S:250 ok").unwrap(), "250 ok");
        assert_eq!(reply_text(AT, 1, "S:  250").unwrap(), " 250");
        assert_eq!(reply_text(AT, 1, r#"S: "250 ""#).unwrap(), "250 ");
        assert_eq!(reply_text(AT, 1, r#"S: "250 \x41\t""#).unwrap(), "250 A\t");
    }

    #[test]
    fn reply_text_refuses_what_is_not_one_line() {
        let error = |line| reply_text(AT, 2, line).expect_err("refused").to_string();
        assert_eq!(
            error(r#"S: "250 ok"x"#),
            r#"t.scn:2:12: expected the end of the line after the closing quote, found "x""#
        );
        assert_eq!(
            error(r#"S: "250 ok"#),
            "t.scn:2:11: expected a closing `\"`, found the end of the line"
        );
        assert_eq!(
            error(r#"S: "250 \q""#),
            r#"t.scn:2:9: expected an escape: \t, \\, \" or \xNN, found "\\q""#
        );
        assert!(error(r#"S: "250 a\r\n""#).contains("cannot hold \\r or \\n"));
        assert!(error(r#"S: "250 \xff""#).contains("must be UTF-8"));
    }

    #[test]
    fn raw_bytes_resolve_escapes() {
        let w = &split_words(AT, 1, r#"raw "hi\r\n\x00""#, 1).unwrap()[1];
        assert_eq!(raw_bytes(AT, 1, w).unwrap(), b"hi\r\n\x00");
        let w = &split_words(AT, 1, r#"raw "\q""#, 1).unwrap()[1];
        assert!(
            raw_bytes(AT, 1, w)
                .unwrap_err()
                .to_string()
                .starts_with("t.scn:1:6: expected an escape")
        );
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("3h"), Some(Duration::from_secs(10_800)));
        assert_eq!(parse_duration("40d"), Some(Duration::from_secs(3_456_000)));
        for bad in ["", "5", "s", "5x", "-1s", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
