//! One outbox entry on disk: a line of JSON (the envelope, attempts, times, the last error,
//! the outcome), a line feed, then the message bytes as they will be sent.

use std::fmt;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::smtp::{Reply, SendError};

/// An entry's id: `MILLISECONDS-PID-RANDOM` (sorts by creation time), e.g.
/// `1714564800123-4242-9f86d081`. Only digits, lower-case letters and hyphens.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntryId(String);

impl EntryId {
    pub(crate) fn generate(created_ms: u64) -> io::Result<EntryId> {
        let random = hex::encode(crate::fsutil::random_bytes::<4>()?);
        Ok(EntryId(format!(
            "{created_ms:013}-{}-{random}",
            std::process::id()
        )))
    }

    /// Reads an id typed by a person; `None` unless it is made of digits, lower-case letters
    /// and hyphens (so it can never name a path outside the outbox).
    pub fn parse(text: &str) -> Option<EntryId> {
        let ok = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'-');
        ok.then(|| EntryId(text.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A failed attempt, as recorded in the entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptError {
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The SMTP step that failed (`RCPT`).
    pub step: String,
    /// The reply code, if the server answered.
    pub code: Option<u16>,
    /// Every line of the server's reply.
    pub reply: Vec<String>,
    /// `permanent`, `temporary` or `configuration`.
    pub kind: String,
    /// The one-line explanation.
    pub detail: String,
}

impl AttemptError {
    /// Records a [`SendError`].
    pub fn from_send_error(e: &SendError, at_ms: u64) -> Self {
        AttemptError {
            at_ms,
            step: e.step.name().to_owned(),
            code: e.code(),
            reply: e
                .reply
                .as_ref()
                .map(|r| r.lines.clone())
                .unwrap_or_default(),
            kind: e.kind.to_string(),
            detail: e.detail.clone(),
        }
    }

    /// One line: `RCPT 451 4.3.0 try later`, or `CONNECT: connection refused …`.
    pub fn summary(&self) -> String {
        if self.reply.is_empty() {
            format!("{}: {}", self.step, self.detail)
        } else {
            format!("{} {}", self.step, self.reply.join(" / "))
        }
    }
}

/// The server's acceptance, as recorded in `sent/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The reply to the final dot, every line.
    pub reply: Vec<String>,
}

impl Acceptance {
    pub(crate) fn new(reply: &Reply, at_ms: u64) -> Self {
        Acceptance {
            at_ms,
            reply: reply.lines.clone(),
        }
    }
}

/// What an entry file says about its message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryMeta {
    /// The entry's id (also its file name).
    pub id: EntryId,
    /// `MAIL FROM`.
    pub from: String,
    /// `RCPT TO`, every recipient.
    pub to: Vec<String>,
    /// The message's Message-ID (for people and for finding it).
    #[serde(default)]
    pub message_id: Option<String>,
    /// What the message is, for people (`issue comment 123 on octo/widgets/issue/42`).
    #[serde(default)]
    pub label: Option<String>,
    /// When it was queued, in milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// Not to be tried before this time (milliseconds since the Unix epoch).
    pub next_attempt_ms: u64,
    /// The last failed attempt.
    #[serde(default)]
    pub last_error: Option<AttemptError>,
    /// Set once the server accepted it (in `sent/`).
    #[serde(default)]
    pub accepted: Option<Acceptance>,
    /// Set once it has failed for good, with the reason (in `failed/`, or on its way there).
    #[serde(default)]
    pub failed: Option<String>,
}

/// An entry: what it says, and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Envelope, attempts, times, errors.
    pub meta: EntryMeta,
    /// The message, as it will be sent.
    pub message: Vec<u8>,
}

impl Entry {
    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.meta).expect("entry metadata serializes");
        out.push(b'\n');
        out.extend_from_slice(&self.message);
        out
    }

    /// Reads an entry file's bytes.
    ///
    /// # Errors
    /// `InvalidData` when the first line is not the JSON metadata.
    pub fn from_bytes(bytes: &[u8]) -> io::Result<Entry> {
        let split = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no metadata line"))?;
        let meta = serde_json::from_slice(&bytes[..split])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(Entry {
            meta,
            message: bytes[split + 1..].to_vec(),
        })
    }

    /// Reads an entry file.
    ///
    /// # Errors
    /// The I/O error, or `InvalidData` for a damaged file.
    pub fn read(path: &Path) -> io::Result<Entry> {
        Entry::from_bytes(&std::fs::read(path)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_round_trip() {
        let id = EntryId::generate(1_714_564_800_123).unwrap();
        assert!(id.as_str().starts_with("1714564800123-"), "{id}");
        assert_eq!(EntryId::parse(id.as_str()), Some(id.clone()));
        for bad in ["", "../x", "a/b", "A", "x y", "x.y"] {
            assert_eq!(EntryId::parse(bad), None, "{bad:?}");
        }
        let entry = Entry {
            meta: EntryMeta {
                id,
                from: "a@b.example".into(),
                to: vec!["c@d.example".into()],
                message_id: Some("m@x".into()),
                label: None,
                created_ms: 1,
                attempts: 0,
                next_attempt_ms: 1,
                last_error: None,
                accepted: None,
                failed: None,
            },
            message: b"Subject: x\r\n\r\nline one\nline two\r\n".to_vec(),
        };
        assert_eq!(Entry::from_bytes(&entry.to_bytes()).unwrap(), entry);
        assert!(Entry::from_bytes(b"no newline").is_err());
        assert!(Entry::from_bytes(b"{not json}\nx").is_err());
    }
}
