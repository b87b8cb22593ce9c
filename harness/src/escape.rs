//! Backslash escapes in quoted strings. The scenario language's `raw "…"`, Ruby's `inspect`
//! (the reference log) and Python's `repr` (smtplib debug output) share `\r`, `\n`, `\t`, `\\`
//! and `\xNN`, and differ in a few single-character escapes, which each caller names.

/// A decoded string and what followed it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unescaped<'t> {
    /// The bytes the escapes stand for.
    pub bytes: Vec<u8>,
    /// The text after the closing quote, or `None` if the string had no closing quote (or
    /// none was looked for).
    pub rest: Option<&'t str>,
}

/// An escape that is not one of those known, or a `\x` without two hex digits.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadEscape<'t> {
    /// Byte offset of the backslash in the text.
    pub offset: usize,
    /// The escape as written (up to `\xNN`).
    pub escape: &'t str,
}

impl BadEscape<'_> {
    /// `true` for a `\x` escape without two hex digits.
    pub fn is_hex(&self) -> bool {
        self.escape.starts_with("\\x")
    }
}

/// Decodes `text` up to the first unescaped `end` (when given; the quote that closes the
/// string), knowing `\r`, `\n`, `\t`, `\\`, `\xNN` and the `extra` escapes (`('"', b'"')`).
pub(crate) fn unescape<'t>(
    text: &'t str,
    end: Option<u8>,
    extra: &[(u8, u8)],
) -> Result<Unescaped<'t>, BadEscape<'t>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if Some(bytes[i]) == end {
            return Ok(Unescaped {
                bytes: out,
                rest: Some(&text[i + 1..]),
            });
        }
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let bad = |len: usize| BadEscape {
            offset: i,
            escape: text.get(i..(i + len).min(text.len())).unwrap_or("\\"),
        };
        let (byte, len) = match bytes.get(i + 1).copied() {
            Some(b'r') => (b'\r', 2),
            Some(b'n') => (b'\n', 2),
            Some(b't') => (b'\t', 2),
            Some(b'\\') => (b'\\', 2),
            Some(b'x') => match text
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => (b, 4),
                None => return Err(bad(4)),
            },
            Some(c) => match extra.iter().find(|(e, _)| *e == c) {
                Some((_, b)) => (*b, 2),
                None => return Err(bad(2)),
            },
            None => return Err(bad(2)),
        };
        out.push(byte);
        i += len;
    }
    Ok(Unescaped {
        bytes: out,
        rest: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_shared_escapes_and_the_callers_own() {
        let u = unescape(r#"a\r\n\t\\\"\x41\e"#, None, &[(b'"', b'"'), (b'e', 0x1b)]).expect("ok");
        assert_eq!(u.bytes, b"a\r\n\t\\\"A\x1b");
        assert_eq!(u.rest, None);
    }

    #[test]
    fn stops_at_the_closing_quote_and_gives_what_follows() {
        let u = unescape(r"250 ok\r\n'   # note", Some(b'\''), &[(b'\'', b'\'')]).expect("ok");
        assert_eq!(u.bytes, b"250 ok\r\n");
        assert_eq!(u.rest, Some("   # note"));
        let escaped_quote = unescape(r"it\'s'", Some(b'\''), &[(b'\'', b'\'')]).expect("ok");
        assert_eq!(escaped_quote.bytes, b"it's");
        assert_eq!(escaped_quote.rest, Some(""));
    }

    #[test]
    fn names_a_bad_escape_and_where_it_is() {
        let e = unescape(r"ab\x4", None, &[]).expect_err("short hex");
        assert_eq!((e.offset, e.escape, e.is_hex()), (2, r"\x4", true));
        let e = unescape(r"ab\q", None, &[]).expect_err("unknown");
        assert_eq!((e.offset, e.escape, e.is_hex()), (2, r"\q", false));
        assert!(unescape("ends in \\", None, &[]).is_err());
    }
}
