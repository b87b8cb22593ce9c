//! Rendering a transcript: the reference log format (`-> "220 …\r\n"`), JSON lines, with
//! secrets (AUTH payloads, answers to `334`) redacted unless asked, and octets that are not
//! UTF-8 written `\xNN`.

use serde_json::json;

use super::{Event, Transcript};

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

impl Transcript {
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

/// The text without its line ending.
pub(super) fn trim_eol(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

/// The client line, with the secret part replaced unless secrets are shown.
pub(super) fn client_bytes(line: &[u8], secret_from: Option<usize>, render: Render) -> Vec<u8> {
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
    use crate::transcript::Closer;

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
    fn quote_escapes_like_ruby_inspect() {
        assert_eq!(
            quote(b"a\"b\\\x01\xff\r\n"),
            "\"a\\\"b\\\\\\x01\\xFF\\r\\n\""
        );
        assert_eq!(quote("é".as_bytes()), "\"é\"");
    }
}
