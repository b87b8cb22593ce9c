//! Transcripts: both directions of one connection plus what happened around them (TLS, messages,
//! the close), rendered in the reference log format or as JSON lines.
//!
//! Secrets (AUTH initial responses and the lines answering `334` challenges) are stored but
//! rendered as `[redacted]` unless [`Render::show_secrets`] is set.

use std::fmt;

use serde_json::json;

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

/// How to render a transcript.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Render {
    /// Show AUTH payloads and passwords instead of `[redacted]`.
    pub show_secrets: bool,
    /// Leave the peer's port out (it changes from run to run): for snapshots.
    pub hide_ports: bool,
}

/// The placeholder written instead of a secret.
pub const REDACTED: &str = "[redacted]";

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

    /// The reference log format: `Connection opened:`, `-> "220 …\r\n"`, `<- "EHLO …\r\n"`,
    /// `TLS connection started`, one event per line; the harness adds the connection's number
    /// and the peer's address to the first, the TLS version and cipher to the last, the size
    /// of a message (`<- [message: N bytes]`) and what happened around the conversation.
    pub fn to_log(&self, render: Render) -> String {
        let mut out = String::new();
        for event in &self.events {
            out.push_str(&log_line(self.session, event, render));
            out.push('\n');
        }
        out
    }

    /// One JSON object per line, for tools: `{"session":1,"event":"server","line":"220 …\r\n"}`.
    pub fn to_json_lines(&self, render: Render) -> String {
        let mut out = String::new();
        for event in &self.events {
            let mut value = json_event(event, render);
            value["session"] = json!(self.session);
            out.push_str(&value.to_string());
            out.push('\n');
        }
        out
    }
}

/// A transcript being recorded: kept whole, or bounded to its first `limit / 2` and last
/// `limit / 2` events (what lies between is counted, and shown as [`Event::Omitted`]), so that
/// a connection carrying any number of messages takes bounded memory.
#[derive(Clone, Debug)]
pub struct Recording {
    transcript: Transcript,
    limit: Option<usize>,
    tail: std::collections::VecDeque<Event>,
    omitted: u64,
}

impl Recording {
    /// Records connection number `session`, keeping at most `limit` events (`None`: all).
    pub fn new(session: u64, limit: Option<usize>) -> Self {
        Recording {
            transcript: Transcript::new(session),
            limit,
            tail: std::collections::VecDeque::new(),
            omitted: 0,
        }
    }

    /// `false` when nothing is kept (a limit of 0): callers may skip making events.
    pub fn keeps_events(&self) -> bool {
        self.limit != Some(0)
    }

    /// Records an event (or counts it, once the head is full). The close is always kept.
    pub fn push(&mut self, event: Event) {
        let Some(limit) = self.limit else {
            self.transcript.push(event);
            return;
        };
        if let Event::Closed { .. } = event {
            self.tail.push_back(event);
            return;
        }
        let head = limit.div_ceil(2);
        if self.transcript.events.len() < head {
            self.transcript.push(event);
            return;
        }
        self.tail.push_back(event);
        if self.tail.len() > limit - head {
            self.tail.pop_front();
            self.omitted += 1;
        }
    }

    /// The transcript: the head, what was left out, the tail.
    pub fn finish(mut self) -> Transcript {
        if self.omitted > 0 {
            self.transcript.push(Event::Omitted {
                events: self.omitted,
            });
        }
        self.transcript.events.extend(self.tail);
        self.transcript
    }
}

impl fmt::Display for Transcript {
    /// The reference log format with secrets redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_log(Render::default()))
    }
}

fn trim_eol(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

/// The client line, with the secret part replaced unless secrets are shown.
fn client_bytes(line: &[u8], secret_from: Option<usize>, render: Render) -> Vec<u8> {
    match secret_from {
        Some(at) if !render.show_secrets => {
            let at = at.min(line.len());
            let body_end = line
                .iter()
                .rposition(|b| *b != b'\r' && *b != b'\n')
                .map_or(0, |p| p + 1);
            let mut out = line[..at].to_vec();
            if body_end > at {
                out.extend_from_slice(REDACTED.as_bytes());
            }
            out.extend_from_slice(&line[body_end.max(at)..]);
            out
        }
        _ => line.to_vec(),
    }
}

/// Text with every octet that is not part of valid UTF-8 written `\xNN` (never U+FFFD, which
/// would hide what was sent).
pub fn escape_invalid(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// The peer as the log shows it: without the port when ports are hidden.
fn peer_text(peer: &str, render: Render) -> &str {
    if !render.hide_ports {
        return peer;
    }
    match peer.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => peer,
    }
}

/// Quotes a line the way the reference log does (Ruby's `inspect`): `"220 ok\r\n"`.
pub fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\x1b' => out.push_str("\\e"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    out.push_str(&format!("\\x{:02X}", c as u32))
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

fn log_line(session: u64, event: &Event, render: Render) -> String {
    match event {
        Event::Opened { peer } if peer.is_empty() => {
            format!("Connection opened: connection {session}")
        }
        Event::Opened { peer } => format!(
            "Connection opened: connection {session} with {}",
            peer_text(peer, render)
        ),
        Event::Server(line) => format!("-> {}", quote(line)),
        Event::Client { line, secret_from } => {
            format!("<- {}", quote(&client_bytes(line, *secret_from, render)))
        }
        Event::TlsStarted { version, cipher } => {
            format!("TLS connection started: {version} {cipher}")
        }
        Event::TlsFailed { error } => format!("TLS handshake failed: {error}"),
        Event::TlsAbandoned { alert } => match alert {
            Some(alert) => format!(
                "TLS refused by the client after the handshake (alert {alert}): no command came inside TLS"
            ),
            None => "TLS refused by the client after the handshake: it closed before any command inside TLS".to_owned(),
        },
        Event::ClearTextDiscarded { bytes } => {
            format!("Discarded {bytes} bytes sent in clear text after STARTTLS")
        }
        Event::ClientSpokeEarly { bytes } => {
            format!("Client sent {bytes} bytes while the server paused")
        }
        Event::DataSent { bytes } => format!("<- [message: {bytes} bytes]"),
        Event::MessageCaptured {
            mail_from,
            rcpt_to,
            size,
        } => {
            let to: Vec<String> = rcpt_to.iter().map(|r| format!("<{r}>")).collect();
            format!(
                "Message captured: from=<{mail_from}> to={} size={size}",
                to.join(",")
            )
        }
        Event::Diverged {
            step_line,
            expected,
        } => {
            format!(
                "Scenario diverged: line {step_line} expected {}",
                quote(expected.as_bytes())
            )
        }
        Event::Omitted { events } => format!(
            "[{events} events left out: the transcript of a long connection keeps its first and last events]"
        ),
        Event::Closed { by, reason } => match reason {
            Some(reason) => format!("Connection closed by {by} ({reason})"),
            None => format!("Connection closed by {by}"),
        },
    }
}

fn json_event(event: &Event, render: Render) -> serde_json::Value {
    match event {
        Event::Opened { peer } => {
            json!({"event": "opened", "peer": peer_text(peer, render)})
        }
        Event::Server(line) => json!({"event": "server", "line": escape_invalid(line)}),
        Event::Client { line, secret_from } => json!({
            "event": "client",
            "line": escape_invalid(&client_bytes(line, *secret_from, render)),
            "redacted": secret_from.is_some() && !render.show_secrets,
        }),
        Event::TlsStarted { version, cipher } => {
            json!({"event": "tls_started", "version": version, "cipher": cipher})
        }
        Event::TlsFailed { error } => json!({"event": "tls_failed", "error": error}),
        Event::TlsAbandoned { alert } => json!({"event": "tls_abandoned", "alert": alert}),
        Event::ClearTextDiscarded { bytes } => {
            json!({"event": "clear_text_discarded", "bytes": bytes})
        }
        Event::ClientSpokeEarly { bytes } => json!({"event": "client_spoke_early", "bytes": bytes}),
        Event::DataSent { bytes } => json!({"event": "data_sent", "bytes": bytes}),
        Event::MessageCaptured {
            mail_from,
            rcpt_to,
            size,
        } => {
            json!({"event": "message_captured", "mail_from": mail_from, "rcpt_to": rcpt_to, "size": size})
        }
        Event::Diverged {
            step_line,
            expected,
        } => {
            json!({"event": "diverged", "step_line": step_line, "expected": expected})
        }
        Event::Omitted { events } => json!({"event": "omitted", "events": events}),
        Event::Closed { by, reason } => json!({"event": "closed", "by": by, "reason": reason}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Transcript {
        let mut t = Transcript::new(1);
        t.push(Event::Opened {
            peer: "127.0.0.1:5".into(),
        });
        t.push(Event::Server(b"220 ESMTP nt3sm2942435pbc.14\r\n".to_vec()));
        t.push(Event::Client {
            line: b"AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n".to_vec(),
            secret_from: Some(11),
        });
        t.push(Event::Client {
            line: b"dGhpc2lzbXlAYWRkcmVzcy5jb20=\r\n".to_vec(),
            secret_from: Some(0),
        });
        t.push(Event::TlsStarted {
            version: "TLSv1.3".into(),
            cipher: "X".into(),
        });
        t.push(Event::Closed {
            by: Closer::Client,
            reason: None,
        });
        t
    }

    #[test]
    fn log_format_matches_the_reference_and_redacts() {
        assert_eq!(
            sample().to_log(Render::default()),
            "Connection opened: connection 1 with 127.0.0.1:5\n-> \"220 ESMTP nt3sm2942435pbc.14\\r\\n\"\n<- \"AUTH PLAIN [redacted]\\r\\n\"\n<- \"[redacted]\\r\\n\"\nTLS connection started: TLSv1.3 X\nConnection closed by client\n"
        );
        let stable = sample().to_log(Render {
            hide_ports: true,
            ..Render::default()
        });
        assert!(stable.starts_with("Connection opened: connection 1 with 127.0.0.1\n"));
        let shown = sample().to_log(Render {
            show_secrets: true,
            ..Render::default()
        });
        assert!(shown.contains("AUTH PLAIN AGFsaWNlAHMzY3JldA=="), "{shown}");
        assert!(
            !sample()
                .to_json_lines(Render::default())
                .contains("AGFsaWNl")
        );
    }

    #[test]
    fn octets_that_are_not_utf8_are_written_as_hex_escapes() {
        let mut t = Transcript::new(2);
        t.push(Event::Client {
            line: b"MAIL FROM:<\xff\xfe@x>\r\n".to_vec(),
            secret_from: None,
        });
        t.push(Event::Client {
            line: b"AUTH PLAIN \xff\r\n".to_vec(),
            secret_from: Some(11),
        });
        let log = t.to_log(Render::default());
        assert!(log.contains(r#"<- "MAIL FROM:<\xFF\xFE@x>\r\n""#), "{log}");
        assert!(!log.contains('\u{FFFD}'));
        assert!(log.contains(r#"<- "AUTH PLAIN [redacted]\r\n""#), "{log}");
        let json = t.to_json_lines(Render::default());
        assert!(json.contains(r#"MAIL FROM:<\\xFF\\xFE@x>"#), "{json}");
        assert_eq!(t.client_lines()[0], r"MAIL FROM:<\xFF\xFE@x>");
    }

    #[test]
    fn a_bounded_recording_keeps_the_first_and_last_events_and_counts_the_rest() {
        let mut r = Recording::new(1, Some(4));
        for i in 0..100u8 {
            r.push(Event::Server(vec![i]));
        }
        let t = r.finish();
        let kept: Vec<Event> = t.events;
        assert_eq!(
            kept,
            [
                Event::Server(vec![0]),
                Event::Server(vec![1]),
                Event::Omitted { events: 96 },
                Event::Server(vec![98]),
                Event::Server(vec![99]),
            ]
        );
        let mut none = Recording::new(1, Some(0));
        assert!(!none.keeps_events());
        none.push(Event::Server(vec![1]));
        let closed = Event::Closed {
            by: Closer::Client,
            reason: None,
        };
        none.push(closed.clone());
        let t = none.finish();
        assert_eq!(t.events, [Event::Omitted { events: 1 }, closed]);
        assert_eq!(t.closed_by(), Some(Closer::Client));
        let mut all = Recording::new(1, None);
        (0..10u8).for_each(|i| all.push(Event::Server(vec![i])));
        assert_eq!(all.finish().events.len(), 10);
    }

    #[test]
    fn quote_escapes_like_ruby_inspect() {
        assert_eq!(
            quote(b"a\"b\\\x01\xff\r\n"),
            "\"a\\\"b\\\\\\x01\\xFF\\r\\n\""
        );
        assert_eq!(quote("é".as_bytes()), "\"é\"");
    }
}
