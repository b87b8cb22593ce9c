//! PHPMailer's debug output (`$mail->SMTPDebug = SMTP::DEBUG_SERVER`, see PHPMailer's
//! SMTP class and its `edebug`): `SERVER -> CLIENT: 220 …`, `CLIENT -> SERVER: EHLO …`, each
//! after an optional `2024-01-01 10:00:00` timestamp; a multi-line reply's further lines are
//! indented; `Connection:`, `SMTP …` and `Mailer Error:` lines are PHPMailer's own.
//! A `220` answering `STARTTLS` is taken as the handshake.

use super::{Entry, ImportError, Item, numbered};

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
            entries.push(Entry::new(n, Item::Server(rest.trim_end().to_owned())));
        } else if let Some(rest) = after(line, CLIENT) {
            entries.push(Entry::new(n, Item::Client(rest.trim_end().to_owned())));
        } else if line.starts_with(char::is_whitespace)
            && matches!(
                entries.last(),
                Some(Entry {
                    item: Item::Server(_),
                    ..
                })
            )
        {
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
    Ok(super::infer_tls(entries))
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
