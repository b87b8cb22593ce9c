//! swaks output (see swaks(1), "OUTPUT"): ` -> ` what swaks sent, `<-  ` what it received,
//! ` ~> ` / `<~  ` the same inside TLS, `<** ` / `<~* ` a received error, `=== ` information
//! (`=== TLS started …` marks the handshake), `*** ` swaks' own errors.

use super::{Entry, ImportError, Item, numbered};

pub(super) fn recognises(line: &str) -> bool {
    line.starts_with("=== ")
        || line.starts_with("<-  ")
        || line.starts_with("<~  ")
        || line.starts_with("<** ")
        || line.starts_with("<~* ")
        || line.starts_with(" -> ")
        || line.starts_with(" ~> ")
}

pub(super) fn parse(text: &str, path: &str) -> Result<Vec<Entry>, ImportError> {
    let mut entries = Vec::new();
    for (n, line) in numbered(text) {
        if let Some(info) = line.strip_prefix("=== ") {
            if info.starts_with("TLS started") {
                entries.push(Entry::new(n, Item::TlsStarted));
            }
        } else if line.starts_with("***") {
            // swaks' own complaint ("*** No authentication type succeeded"), or a line a
            // reporter masked in swaks' style ("****credentials removed****").
        } else if let Some(rest) = ["<-  ", "<~  ", "<** ", "<~* "]
            .iter()
            .find_map(|p| line.strip_prefix(p))
        {
            entries.push(Entry::new(n, Item::Server(rest.to_owned())));
        } else if let Some(rest) = [" -> ", " ~> "].iter().find_map(|p| line.strip_prefix(p)) {
            entries.push(Entry::new(n, Item::Client(rest.to_owned())));
        } else if line == " ->" || line == " ~>" {
            // An empty line of message content.
            entries.push(Entry::new(n, Item::Client(String::new())));
        } else if line.starts_with("    ") {
            // "    -> 21 lines sent" and similar summaries of message content.
        } else {
            return Err(ImportError::line(
                path,
                n,
                format!(
                    "expected swaks output (` -> `, `<-  `, ` ~> `, `<~  `, `<** `, `=== `, `*** `), found {line:?}"
                ),
            ));
        }
    }
    Ok(entries)
}
