//! `msmtp --debug` output (see msmtp(1), `--debug`): `<-- 220 …` received, `--> EHLO …` sent;
//! everything else (configuration, `TLS session parameters:`, certificate information, msmtp's
//! own errors) is msmtp talking. A `220` answering `STARTTLS` is taken as the handshake.

use super::{Entry, ImportError, Item, numbered};
use crate::scenario::render::infer_tls;

pub(super) fn recognises(line: &str) -> bool {
    line.starts_with("<-- ") || line.starts_with("--> ")
}

pub(super) fn parse(text: &str, path: &str) -> Result<Vec<Entry>, ImportError> {
    let mut entries = Vec::new();
    for (n, line) in numbered(text) {
        if let Some(rest) = line.strip_prefix("<-- ") {
            entries.push(Entry::new(n, Item::Server(rest.to_owned())));
        } else if let Some(rest) = line.strip_prefix("--> ") {
            entries.push(Entry::new(n, Item::Client(rest.to_owned())));
        } else if line.starts_with("<--") || line.starts_with("-->") {
            return Err(ImportError::line(
                path,
                n,
                format!("expected `<-- ` or `--> ` and a line, found {line:?}"),
            ));
        }
    }
    Ok(infer_tls(entries))
}
