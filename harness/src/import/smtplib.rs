//! Python smtplib debug output (`SMTP.set_debuglevel(1)`, see the smtplib documentation):
//! `send: b'EHLO x\r\n'`, `reply: b'250-…\r\n'`, and the summaries `reply: retcode (250); Msg:
//! b'…'`, `data: (250, b'…')`, `connect: …` (ignored). Level 2 prefixes a timestamp.
//! smtplib logs no TLS event: a `220` answering `STARTTLS` is taken as the handshake.

use super::{Entry, ImportError, Item, numbered, wire_lines};

fn body(line: &str) -> &str {
    // Level 2: "12:00:00.123456 send: …".
    match line.split_once(' ') {
        Some((stamp, rest))
            if stamp.contains(':')
                && stamp
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ':' || c == '.') =>
        {
            rest
        }
        _ => line,
    }
}

pub(super) fn recognises(line: &str) -> bool {
    let b = body(line);
    b.starts_with("send: b'")
        || b.starts_with("send: b\"")
        || b.starts_with("send: '")
        || b.starts_with("reply: b'")
        || b.starts_with("reply: b\"")
        || b.starts_with("reply: '")
}

pub(super) fn parse(text: &str, path: &str) -> Result<Vec<Entry>, ImportError> {
    let mut entries = Vec::new();
    for (n, line) in numbered(text) {
        let b = body(line);
        if let Some(lit) = b.strip_prefix("send: ") {
            for l in wire_lines(&unquote_bytes(lit, path, n)?) {
                entries.push(Entry::new(n, Item::Client(l)));
            }
        } else if let Some(lit) = b.strip_prefix("reply: ") {
            if lit.starts_with("retcode") {
                continue;
            }
            for l in wire_lines(&unquote_bytes(lit, path, n)?) {
                entries.push(Entry::new(n, Item::Server(l)));
            }
        } else if b.starts_with("data: ") || b.starts_with("connect: ") || b.starts_with("send: ") {
            // Summaries smtplib adds.
        } else {
            return Err(ImportError::line(
                path,
                n,
                format!(
                    "expected smtplib debug output (`send: b'…'`, `reply: b'…'`), found {line:?}"
                ),
            ));
        }
    }
    Ok(super::infer_tls(entries))
}

/// Undoes Python's `repr` of bytes or str: `b'250 ok\r\n'`.
fn unquote_bytes(lit: &str, path: &str, n: usize) -> Result<String, ImportError> {
    let bad = |what: &str| ImportError::line(path, n, format!("{what} in {lit}"));
    let lit = lit.strip_prefix('b').unwrap_or(lit);
    let quote = lit
        .chars()
        .next()
        .filter(|c| *c == '\'' || *c == '"')
        .ok_or_else(|| bad("expected a quoted string"))?;
    let inner = lit[1..]
        .strip_suffix(quote)
        .ok_or_else(|| bad("an unterminated string"))?;
    let mut bytes = Vec::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('r') => bytes.push(b'\r'),
            Some('n') => bytes.push(b'\n'),
            Some('t') => bytes.push(b'\t'),
            Some('\\') => bytes.push(b'\\'),
            Some('\'') => bytes.push(b'\''),
            Some('"') => bytes.push(b'"'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                if hex.len() != 2 {
                    return Err(bad("a bad \\x escape (two hex digits expected)"));
                }
                bytes.push(u8::from_str_radix(&hex, 16).map_err(|_| bad("a bad \\x escape"))?);
            }
            _ => return Err(bad("an unknown escape")),
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
