//! Transcripts: both directions of one connection plus what happened around them (TLS, messages,
//! the close), rendered in the reference log format or as JSON lines.
//!
//! Secrets (AUTH initial responses and the lines answering `334` challenges) are stored but
//! rendered as `[redacted]` unless [`Render::show_secrets`] is set.
//!
//! - `render.rs`: the log and JSON renderers, redaction, quoting.
//! - `bounded.rs`: a transcript being recorded, kept whole or bounded.

mod bounded;
mod render;

use std::fmt;

pub use bounded::Recording;
pub use render::{REDACTED, Render, escape_invalid, quote};
use render::{client_bytes, trim_eol};

/// Which side closed the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Closer {
    /// The client hung up (EOF or reset).
    Client,
    /// The server closed (after QUIT, a scripted `close`, a timeout or shutdown).
    Server,
}

impl fmt::Display for Closer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Closer::Client => "client",
            Closer::Server => "server",
        })
    }
}

/// One thing that happened on a connection, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The connection was accepted.
    Opened {
        /// The client's address.
        peer: String,
    },
    /// The server sent one line (with its line ending).
    Server(Vec<u8>),
    /// The client sent one line (with its line ending). From `secret_from` on, the bytes are a
    /// secret (an AUTH payload) and are redacted when rendered.
    Client {
        /// The line as received.
        line: Vec<u8>,
        /// Offset where the secret part starts, if any.
        secret_from: Option<usize>,
    },
    /// A TLS session started.
    TlsStarted {
        /// Protocol version, e.g. `TLSv1.3`.
        version: String,
        /// Cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
        cipher: String,
    },
    /// The TLS handshake failed.
    TlsFailed {
        /// Why, as rustls says it.
        error: String,
    },
    /// The handshake completed, then the client closed without sending anything inside TLS:
    /// it refused what it saw (a TLS 1.3 client checks the certificate after the handshake
    /// has finished on the server's side, as do clients that check host names themselves).
    TlsAbandoned {
        /// The TLS alert the client sent, if any (`BadCertificate`, `UnknownCA` …).
        alert: Option<String>,
    },
    /// Bytes the client sent in clear text behind `STARTTLS` were thrown away, not executed.
    ClearTextDiscarded {
        /// How many.
        bytes: usize,
    },
    /// The client sent bytes while the server was pausing (before the greeting: an early
    /// talker, or a client that gave up waiting). They are kept and read afterwards.
    ClientSpokeEarly {
        /// How many bytes arrived during the pause.
        bytes: usize,
    },
    /// The client sent a message's content (after 354), shown as its size.
    DataSent {
        /// Octets sent, dot-stuffing and the final `.` line included.
        bytes: usize,
    },
    /// A message was accepted and captured.
    MessageCaptured {
        /// The reverse path.
        mail_from: String,
        /// The forward paths.
        rcpt_to: Vec<String>,
        /// Size of the content in octets (after dot-unstuffing).
        size: usize,
    },
    /// The client left the scenario's script.
    Diverged {
        /// Line of the script step that was expected.
        step_line: usize,
        /// The pattern that was expected.
        expected: String,
    },
    /// Events left out of a long connection's transcript kept bounded (the first and the
    /// last events are kept).
    Omitted {
        /// How many.
        events: u64,
    },
    /// The connection ended.
    Closed {
        /// Who closed it.
        by: Closer,
        /// Why, when it was not the ordinary end (`idle timeout`, `shutdown`, an I/O error).
        reason: Option<String>,
    },
}

impl Event {
    /// The verb of a client command line, upper case (`None` for SASL answers and other events).
    pub fn command_verb(&self) -> Option<String> {
        match self {
            Event::Client {
                secret_from: Some(0),
                ..
            } => None,
            Event::Client { line, .. } => String::from_utf8_lossy(line)
                .split_ascii_whitespace()
                .next()
                .map(str::to_ascii_uppercase),
            _ => None,
        }
    }

    /// The code of a server line that ends a reply (`None` for `250-` lines and other events).
    pub fn reply_code(&self) -> Option<u16> {
        match self {
            Event::Server(line) if line.get(3) != Some(&b'-') => {
                std::str::from_utf8(line.get(..3)?).ok()?.parse().ok()
            }
            _ => None,
        }
    }
}

/// Everything recorded on one connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transcript {
    /// Connection number on its server, counted from 1.
    pub session: u64,
    /// What happened, in order.
    pub events: Vec<Event>,
}

impl Transcript {
    /// An empty transcript for connection number `session`.
    pub fn new(session: u64) -> Self {
        Transcript {
            session,
            events: Vec::new(),
        }
    }

    /// Records an event.
    pub fn push(&mut self, event: Event) {
        self.events.push(event);
    }

    /// The client lines as text (secrets redacted), without line endings; octets that are
    /// not UTF-8 are written `\xNN`.
    pub fn client_lines(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Client { line, secret_from } => {
                    let bytes = client_bytes(line, *secret_from, Render::default());
                    Some(trim_eol(&escape_invalid(&bytes)).to_owned())
                }
                _ => None,
            })
            .collect()
    }

    /// The server lines as text, without line endings (octets that are not UTF-8 as `\xNN`).
    pub fn server_lines(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Server(line) => Some(trim_eol(&escape_invalid(line)).to_owned()),
                _ => None,
            })
            .collect()
    }

    /// Who closed the connection, once it is closed.
    pub fn closed_by(&self) -> Option<Closer> {
        self.events.iter().rev().find_map(|e| match e {
            Event::Closed { by, .. } => Some(*by),
            _ => None,
        })
    }
}

impl fmt::Display for Transcript {
    /// The reference log format with secrets redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_log(Render::default()))
    }
}
