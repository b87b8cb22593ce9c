//! The placeholders of the adapter contracts, and filling them in.

/// The placeholders of the sender contract.
pub const SENDER_PLACEHOLDERS: [&str; 13] = [
    "host",
    "port",
    "ca",
    "user",
    "password",
    "from",
    "to",
    "message",
    "encryption",
    "auth",
    "timeout",
    "trust",
    "work",
];
/// The placeholders of the receiver contract (`{settings}` only as a whole word).
pub const RECEIVER_PLACEHOLDERS: [&str; 6] = ["work", "tls", "cert", "key", "ca", "settings"];

/// The `{name}` placeholders of a word (lower-case letters, digits, `-` and `_` between braces).
pub(super) fn placeholders_in(word: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = word;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_placeholder_name(&after[..close]) => {
                found.push(&after[..close]);
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    found
}

fn is_placeholder_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
}

/// Fills in the `{name}` placeholders of a word in one pass (a value is never expanded
/// again); a `{…}` that names no value is kept as written.
pub fn expand(word: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (v, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
