//! PHPMailer's debug output (`$mail->SMTPDebug = SMTP::DEBUG_SERVER`, see PHPMailer's
//! SMTP class and its `edebug`): `SERVER -> CLIENT: 220 …`, `CLIENT -> SERVER: EHLO …`, each
//! after an optional `2024-01-01 10:00:00` timestamp; a multi-line reply's further lines are
//! indented (or, from some wrappers, start with the code: `250-SIZE …`), or with `Debugoutput =
//! 'html'` run together on one line (`250-mx Hello250-SIZE 52428800250 HELP`) and are cut apart;
//! `Connection:`, `SMTP …` and `Mailer Error:` lines are PHPMailer's own.
//! A `220` answering `STARTTLS` is taken as the handshake.

use super::{Entry, ImportError, Item, numbered};
use crate::scenario::render::infer_tls;

const SERVER: &str = "SERVER -> CLIENT:";
const CLIENT: &str = "CLIENT -> SERVER:";

pub(super) fn recognises(line: &str) -> bool {
    line.contains(SERVER) || line.contains(CLIENT)
}

fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| {
        let rest = &line[i + marker.len()..];
        rest.strip_prefix(' ').unwrap_or(rest)
    })
}

pub(super) fn parse(text: &str, path: &str) -> Result<Vec<Entry>, ImportError> {
    let mut entries: Vec<Entry> = Vec::new();
    for (n, line) in numbered(text) {
        if let Some(rest) = after(line, SERVER) {
            for part in unflatten(rest.trim_end()) {
                entries.push(Entry::new(n, Item::Server(part.to_owned())));
            }
        } else if let Some(rest) = after(line, CLIENT) {
            entries.push(Entry::new(n, Item::Client(rest.trim_end().to_owned())));
        } else if continues_reply(line, entries.last()) {
            entries.push(Entry::new(n, Item::Server(line.trim().to_owned())));
        } else if [
            "Connection",
            "SMTP ",
            "Mailer Error",
            "Message could not",
            "Auth method",
            "Message has been",
        ]
        .iter()
        .any(|p| strip_stamp(line).starts_with(p))
        {
            // PHPMailer's own lines.
        } else {
            return Err(ImportError::line(
                path,
                n,
                format!(
                    "expected PHPMailer debug output (`SERVER -> CLIENT: …`, `CLIENT -> SERVER: …`), found {line:?}"
                ),
            ));
        }
    }
    Ok(infer_tls(entries))
}

/// Is `line` a further line of the multi-line reply the last entry began? PHPMailer indents
/// them; some wrappers (WP Mail SMTP) print them at the start of the line, as `250-SIZE …`.
fn continues_reply(line: &str, last: Option<&Entry>) -> bool {
    let Some(Entry {
        item: Item::Server(previous),
        ..
    }) = last
    else {
        return false;
    };
    if line.starts_with(char::is_whitespace) {
        return true;
    }
    // A reply still open: `NNN-…` (which also means it has its three-digit code).
    let open = previous.as_bytes().get(3) == Some(&b'-');
    open && line.len() >= 4
        && line.as_bytes()[..3] == previous.as_bytes()[..3]
        && matches!(line.as_bytes()[3], b'-' | b' ')
}

/// Splits a reply whose line breaks PHPMailer's `Debugoutput = 'html'` removed
/// (`250-mx Hello250-SIZE 52428800250 HELP`) back into its lines: a text that starts a
/// multi-line reply (`NNN-`) is cut before every later `NNN-` or `NNN ` with the same code.
/// (A reply line with its code and a dash or space inside its text would be cut too; a line
/// that really is one line, `250 ok`, is left alone.)
fn unflatten(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let multi = bytes.len() > 4 && bytes[..3].iter().all(u8::is_ascii_digit) && bytes[3] == b'-';
    if !multi {
        return vec![text];
    }
    let code = &text[..3];
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 4;
    while i + 4 <= bytes.len() {
        if &text[i..i + 3] == code && matches!(bytes[i + 3], b'-' | b' ') {
            parts.push(text[start..i].trim_end());
            start = i;
            i += 4;
        } else {
            i += 1;
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `2024-01-01 10:00:00\tConnection: …` → `Connection: …`.
fn strip_stamp(line: &str) -> &str {
    let bytes = line.as_bytes();
    if bytes.len() > 19 && bytes[4] == b'-' && bytes[13] == b':' {
        line[19..].trim_start()
    } else {
        line
    }
}
