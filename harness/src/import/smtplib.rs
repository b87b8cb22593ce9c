//! Python smtplib debug output (`SMTP.set_debuglevel(1)`, see the smtplib documentation):
//! `send: b'EHLO x\r\n'`, `reply: b'250-…\r\n'`, and the summaries `reply: retcode (250); Msg:
//! b'…'`, `data: (250, b'…')`, `connect: …` (ignored). Level 2 prefixes a timestamp.
//! smtplib logs no TLS event: a `220` answering `STARTTLS` is taken as the handshake.
//! Lines before the first `send:`/`reply:` (a shell prompt), a `# note` after a string, Python
//! 2's multi-line `retcode` summary and a closing traceback are passed over.

use super::{Entry, ImportError, Item, numbered, wire_lines};
use crate::scenario::render::infer_tls;

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
    let mut started = false;
    // Reply lines read since the last `retcode` summary: Python 2 prints that summary's
    // message over as many lines (`reply: retcode (250); Msg: mx Hello` then `SIZE 1000` …).
    let mut reply_lines = 0usize;
    let mut summary_lines_left = 0usize;
    let mut traceback = Traceback::None;
    for (n, line) in numbered(text) {
        let b = body(line);
        if !started {
            // What came before the output (a shell prompt, the command) is not smtplib's.
            started = recognises(line);
            if !started {
                continue;
            }
        }
        if summary_lines_left > 0 && !recognises(line) {
            summary_lines_left -= 1;
            continue;
        }
        summary_lines_left = 0;
        match traceback.next(line) {
            Traceback::None => {}
            state => {
                traceback = state;
                continue;
            }
        }
        if let Some(lit) = b.strip_prefix("send: ") {
            reply_lines = 0;
            for l in wire_lines(&unquote_bytes(lit, path, n)?) {
                entries.push(Entry::new(n, Item::Client(l)));
            }
        } else if let Some(lit) = b.strip_prefix("reply: ") {
            if lit.starts_with("retcode") {
                summary_lines_left = reply_lines.saturating_sub(1);
                reply_lines = 0;
                continue;
            }
            for l in wire_lines(&unquote_bytes(lit, path, n)?) {
                reply_lines += 1;
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
    Ok(infer_tls(entries))
}

/// Where the parser is in a Python traceback that ends the output (the exception smtplib
/// raised): the `Traceback …` line, its indented frames, then the exception's line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Traceback {
    None,
    Frames,
    Done,
}

impl Traceback {
    /// The state after `line`; anything but `None` means the line belongs to a traceback.
    fn next(self, line: &str) -> Traceback {
        match self {
            _ if line.starts_with("Traceback (most recent call last)") => Traceback::Frames,
            Traceback::Frames if line.starts_with(char::is_whitespace) => Traceback::Frames,
            // The exception's line (`smtplib.SMTPAuthenticationError: (535, …)`).
            Traceback::Frames => Traceback::Done,
            Traceback::None | Traceback::Done => Traceback::None,
        }
    }
}

/// Undoes Python's `repr` of bytes or str: `b'250 ok\r\n'`; only a `# note` may follow it.
fn unquote_bytes(lit: &str, path: &str, n: usize) -> Result<String, ImportError> {
    let bad = |what: &str| ImportError::line(path, n, format!("{what} in {lit}"));
    let lit = lit.strip_prefix('b').unwrap_or(lit);
    let quote = lit
        .bytes()
        .next()
        .filter(|c| *c == b'\'' || *c == b'"')
        .ok_or_else(|| bad("expected a quoted string"))?;
    let decoded = crate::escape::unescape(&lit[1..], Some(quote), &[(b'\'', b'\''), (b'"', b'"')])
        .map_err(|e| bad(super::escape_problem(&e)))?;
    // Only a note may follow the string (`reply: b'250 ok\\r\\n'   # this one`).
    let rest = decoded
        .rest
        .ok_or_else(|| bad("an unterminated string"))?
        .trim();
    if !rest.is_empty() && !rest.starts_with('#') {
        return Err(bad("text after the string"));
    }
    Ok(String::from_utf8_lossy(&decoded.bytes).into_owned())
}
