//! The conversation log: every SMTP conversation the appliance has, appended to
//! `DATA_DIR/logs/unicorn.log` in the reference format (what a support bundle carries; the
//! requirements are in `docs/email-subsystem.md`):
//!
//! ```text
//! Connection opened: smtp.gmail.com:587
//! -> "220 ESMTP nt3sm2942435pbc.14\r\n"
//! <- "EHLO appliance.example.com\r\n"
//! <- "STARTTLS\r\n"
//! -> "220 2.0.0 Ready to start TLS\r\n"
//! TLS connection started
//! <- "AUTH LOGIN\r\n"
//! -> "334 VXNlcm5hbWU6\r\n"
//! <- "[redacted]\r\n"
//! <- [message: 512 bytes]
//! Connection closed
//! ```
//!
//! `->` is the server speaking, `<-` the appliance; each line is quoted as Ruby's `inspect`
//! does, byte for byte as it went over the wire. Secrets (AUTH payloads) are written as
//! `[redacted]`, and message content as its size. A [`Conversation`] is collected in memory
//! and appended with one write, under a lock, so concurrent senders never interleave.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The placeholder written instead of a secret.
pub const REDACTED: &str = "[redacted]";

/// The log file's path inside the data directory.
pub const LOG_PATH: &str = "logs/unicorn.log";

/// One SMTP conversation, as log text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conversation {
    text: String,
}

impl Conversation {
    /// An empty conversation.
    pub fn new() -> Self {
        Self::default()
    }

    /// `Connection opened: HOST:PORT`.
    pub fn opened(&mut self, target: &str) {
        self.event(&format!("Connection opened: {target}"));
    }

    /// A line the server sent (with its line ending): `-> "…"`.
    pub fn server(&mut self, line: &[u8]) {
        self.line("->", &inspect(line));
    }

    /// A line the appliance sent (with its line ending): `<- "…"`.
    pub fn client(&mut self, line: &[u8]) {
        self.line("<-", &inspect(line));
    }

    /// A line the appliance sent whose end is a secret: `prefix` is logged, the secret becomes
    /// `[redacted]` (`<- "AUTH PLAIN [redacted]\r\n"`, or `<- "[redacted]\r\n"` with no prefix).
    pub fn client_secret(&mut self, prefix: &[u8]) {
        let mut shown = prefix.to_vec();
        shown.extend_from_slice(REDACTED.as_bytes());
        shown.extend_from_slice(b"\r\n");
        self.client(&shown);
    }

    /// Message content the appliance sent after `354`: `<- [message: N bytes]`.
    pub fn message(&mut self, bytes: usize) {
        self.line("<-", &format!("[message: {bytes} bytes]"));
    }

    /// An event line without an arrow (`TLS connection started`, `Connection closed`).
    pub fn event(&mut self, text: &str) {
        // One event is one line, whatever an error message contains.
        for (i, part) in text.lines().enumerate() {
            if i > 0 {
                self.text.push_str("  ");
            }
            self.text.push_str(part);
            self.text.push('\n');
        }
    }

    fn line(&mut self, arrow: &str, quoted: &str) {
        self.text.push_str(arrow);
        self.text.push(' ');
        self.text.push_str(quoted);
        self.text.push('\n');
    }

    /// The log text so far.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Why the log could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot append to the conversation log {}: {source}", path.display())]
pub struct LogError {
    /// The log file.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// The conversation log file. Appending takes a process-wide lock and an exclusive `flock` on
/// the file, so conversations from threads and from other processes (the CLI beside the
/// daemon) stay whole.
#[derive(Debug)]
pub struct ConversationLog {
    path: Option<PathBuf>,
    lock: Mutex<()>,
}

impl ConversationLog {
    /// A log appending to `path` (its directory is created when first written).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ConversationLog {
            path: Some(path.into()),
            lock: Mutex::new(()),
        }
    }

    /// The log of a data directory: `DATA_DIR/logs/unicorn.log`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self::new(data_dir.join(LOG_PATH))
    }

    /// A log that keeps nothing (for callers that do not want one).
    pub fn discard() -> Self {
        ConversationLog {
            path: None,
            lock: Mutex::new(()),
        }
    }

    /// The file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Appends one conversation with a single write, then flushes it to disk.
    ///
    /// # Errors
    /// [`LogError`] when the directory or file cannot be created or written.
    pub fn append(&self, conversation: &Conversation) -> Result<(), LogError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let error = |source| LogError {
            path: path.clone(),
            source,
        };
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(error)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(error)?;
        file.lock().map_err(error)?;
        let written = file
            .write_all(conversation.as_str().as_bytes())
            .and_then(|()| file.sync_data());
        let _ = file.unlock();
        written.map_err(error)
    }
}

/// Quotes bytes the way Ruby's `String#inspect` does: `"220 ok\r\n"`, with `\"`, `\\`, the
/// named escapes (`\t \n \r \f \v \b \a \e`), `\#` before `{`, `$` and `@`, and `\xNN` for
/// other control characters and for bytes that are not valid UTF-8.
pub fn inspect(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        let mut chars = chunk.valid().chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\x0c' => out.push_str("\\f"),
                '\x0b' => out.push_str("\\v"),
                '\x08' => out.push_str("\\b"),
                '\x07' => out.push_str("\\a"),
                '\x1b' => out.push_str("\\e"),
                '#' if matches!(chars.peek(), Some('{' | '$' | '@')) => out.push_str("\\#"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{b:02X}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_quotes_like_ruby() {
        assert_eq!(inspect(b"220 ok\r\n"), r#""220 ok\r\n""#);
        assert_eq!(inspect(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(inspect(b"\x00\x7f\x1b\t"), r#""\x00\x7F\e\t""#);
        assert_eq!(inspect(b"\xff\xfe ok"), r#""\xFF\xFE ok""#);
        assert_eq!(inspect("café".as_bytes()), "\"café\"");
        assert_eq!(inspect(b"#{x} #$y #@z # x"), r##""\#{x} \#$y \#@z # x""##);
    }

    #[test]
    fn conversation_lines() {
        let mut c = Conversation::new();
        c.opened("smtp.gmail.com:587");
        c.server(b"220 ESMTP nt3sm2942435pbc.14\r\n");
        c.client(b"EHLO appliance.example.com\r\n");
        c.client_secret(b"AUTH PLAIN ");
        c.client_secret(b"");
        c.message(42);
        c.event("TLS handshake failed: one\ntwo");
        assert_eq!(
            c.as_str(),
            "Connection opened: smtp.gmail.com:587\n\
             -> \"220 ESMTP nt3sm2942435pbc.14\\r\\n\"\n\
             <- \"EHLO appliance.example.com\\r\\n\"\n\
             <- \"AUTH PLAIN [redacted]\\r\\n\"\n\
             <- \"[redacted]\\r\\n\"\n\
             <- [message: 42 bytes]\n\
             TLS handshake failed: one\n  two\n"
        );
    }

    #[test]
    fn appends_whole_conversations() {
        let dir = std::env::temp_dir().join(format!("appliance-convlog-{}", std::process::id()));
        let log = ConversationLog::in_data_dir(&dir);
        let mut c = Conversation::new();
        c.opened("a:1");
        log.append(&c).unwrap();
        log.append(&c).unwrap();
        let text = fs::read_to_string(dir.join(LOG_PATH)).unwrap();
        assert_eq!(text, "Connection opened: a:1\nConnection opened: a:1\n");
        fs::remove_dir_all(dir).unwrap();
        ConversationLog::discard().append(&c).unwrap();
    }
}
