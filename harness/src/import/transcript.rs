//! A plain transcript: `S: 220 …` server lines, `C: EHLO …` client lines, and `tls` (or
//! `TLS started`) for the handshake; `#` comments. Lines may be indented (as in RFC 5321's
//! examples); the text after `S: ` is kept as it is.

use super::{Entry, ImportError, Item, numbered};

pub(super) fn recognises(line: &str) -> bool {
    // Transcripts quoted from RFCs and mails are often indented.
    let line = line.trim_start();
    line.starts_with("S: ") || line.starts_with("C: ") || line == "S:" || line == "C:"
}

pub(super) fn parse(text: &str, path: &str) -> Result<Vec<Entry>, ImportError> {
    let mut entries = Vec::new();
    for (n, line) in numbered(text) {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("S:") {
            entries.push(Entry::new(n, Item::Server(strip_one_space(rest))));
        } else if let Some(rest) = trimmed.strip_prefix("C:") {
            entries.push(Entry::new(n, Item::Client(strip_one_space(rest))));
        } else if trimmed.eq_ignore_ascii_case("tls") || trimmed.eq_ignore_ascii_case("TLS started")
        {
            entries.push(Entry::new(n, Item::TlsStarted));
        } else {
            return Err(ImportError::line(
                path,
                n,
                format!("expected `S: …`, `C: …` or `tls`, found {:?}", line),
            ));
        }
    }
    Ok(entries)
}

fn strip_one_space(rest: &str) -> String {
    rest.strip_prefix(' ').unwrap_or(rest).to_owned()
}
