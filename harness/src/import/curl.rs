//! `curl -v` output for smtp:// URLs (see curl(1), `--verbose`): `< 250 …` received,
//! `> EHLO …` sent, `* …` curl's information, `{ [5 bytes data]` / `} […]` data markers.
//! curl logs the handshake only as `* TLS…`/`* SSL…` lines: a `220` answering `STARTTLS` is
//! taken as the handshake.

use super::{Entry, ImportError, Item, numbered};
use crate::scenario::render::infer_tls;

pub(super) fn recognises(line: &str) -> bool {
    line.starts_with("< ") || line.starts_with("> ") || line.starts_with("* ")
}

pub(super) fn parse(text: &str, path: &str) -> Result<Vec<Entry>, ImportError> {
    let mut entries = Vec::new();
    for (n, line) in numbered(text) {
        if let Some(rest) = line.strip_prefix("< ") {
            entries.push(Entry::new(n, Item::Server(rest.to_owned())));
        } else if let Some(rest) = line.strip_prefix("> ") {
            entries.push(Entry::new(n, Item::Client(rest.to_owned())));
        } else if line.starts_with('*')
            || line.starts_with("{ ")
            || line.starts_with("} ")
            || line.starts_with("curl: ")
            || line.starts_with(' ')
        {
            // curl's information, data markers, its final error, the progress meter.
        } else {
            return Err(ImportError::line(
                path,
                n,
                format!("expected curl -v output (`< …`, `> …`, `* …`), found {line:?}"),
            ));
        }
    }
    Ok(infer_tls(entries))
}
