//! The reference log format (the appliance's `unicorn.log`): `Connection opened:`, server lines
//! `-> "…"`, client lines `<- "…"` (Ruby `inspect` strings), `TLS connection started`.
//! The harness's own transcripts add to those lines (`Connection opened: connection 2 with
//! 127.0.0.1:40512`, `TLS connection started: TLSv1.3 TLS13_AES_256_GCM_SHA384`) and write
//! events of their own, which are read past. Several connections: the last one is imported.

use super::{Entry, ImportError, Item, numbered, wire_lines};

/// `true` if the line is one the reference log writes.
pub(super) fn recognises(line: &str) -> bool {
    is_opened(line)
        || is_tls_started(line)
        || line.starts_with("-> \"")
        || line.starts_with("<- \"")
}

/// `Connection opened:`, alone (the reference) or with the harness's connection and peer.
fn is_opened(line: &str) -> bool {
    line.strip_prefix("Connection opened:")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

/// `TLS connection started`, alone (the reference) or with the harness's version and cipher.
fn is_tls_started(line: &str) -> bool {
    line.strip_prefix("TLS connection started")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
}

pub(super) fn parse(text: &str, path: &str) -> Result<Vec<Entry>, ImportError> {
    let mut entries = Vec::new();
    for (n, line) in numbered(text) {
        let line = line.trim_end();
        if is_opened(line) {
            // A new connection: keep only the last one.
            entries.clear();
        } else if is_tls_started(line) {
            entries.push(Entry::new(n, Item::TlsStarted));
        } else if let Some(quoted) = line.strip_prefix("-> ") {
            for l in wire_lines(&unquote(quoted, path, n)?) {
                entries.push(Entry::new(n, Item::Server(l)));
            }
        } else if let Some(quoted) = line.strip_prefix("<- ") {
            if quoted.starts_with("[message:") {
                continue; // the harness's own log: message content, summarised
            }
            for l in wire_lines(&unquote(quoted, path, n)?) {
                entries.push(Entry::new(n, Item::Client(l)));
            }
        } else if line.starts_with("TLS handshake failed")
            || line.starts_with("TLS refused by the client")
            || line.starts_with("Scenario diverged")
            || (line.starts_with('[') && line.contains(" events left out"))
            || line.starts_with("Discarded ")
            || line.starts_with("Client sent ")
            || line.starts_with("Message captured")
            || line.starts_with("Connection closed")
        {
            // Events the harness's own transcripts add: nothing to replay.
        } else {
            return Err(ImportError::line(
                path,
                n,
                format!(
                    "expected `Connection opened:`, `-> \"…\"`, `<- \"…\"` or `TLS connection started`, found {}",
                    crate::transcript::quote(line.as_bytes())
                ),
            ));
        }
    }
    Ok(entries)
}

/// Notes for the scenario's header: which connection was imported when there are several.
pub(super) fn notes(text: &str) -> Vec<String> {
    let opened: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| is_opened(l.trim_end()))
        .map(|(i, _)| i + 1)
        .collect();
    match opened.as_slice() {
        [_, .., last] => vec![format!(
            "The log holds {} connections; the last one (from line {last}) is imported.",
            opened.len()
        )],
        _ => Vec::new(),
    }
}

/// Undoes Ruby's `inspect`: `"220 ok\r\n"` → `220 ok\r\n` (also `\e` and `\#`).
pub(super) fn unquote(quoted: &str, path: &str, n: usize) -> Result<String, ImportError> {
    let bad = |what: &str| ImportError::line(path, n, format!("{what} in {quoted}"));
    let body = quoted
        .strip_prefix('"')
        .ok_or_else(|| bad("expected a quoted string"))?;
    let decoded = crate::escape::unescape(
        body,
        Some(b'"'),
        &[(b'"', b'"'), (b'e', 0x1b), (b'#', b'#')],
    )
    .map_err(|e| bad(super::escape_problem(&e)))?;
    if decoded.rest != Some("") {
        return Err(bad("expected a quoted string"));
    }
    Ok(String::from_utf8_lossy(&decoded.bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquotes_ruby_inspect_strings() {
        assert_eq!(
            unquote(r#""a\r\n\t\\\"\x41""#, "f", 1).expect("ok"),
            "a\r\n\t\\\"A"
        );
        assert!(unquote(r#""\x4""#, "f", 1).is_err());
        assert!(unquote("no quotes", "f", 1).is_err());
    }
}
