//! A finished recording: one proxied connection as recorded, its summary line, and the
//! scenario replaying the upstream's side of it (made by the renderer `import` uses).

use super::RecordError;
use crate::scenario::render::{Entry, Item, Preamble, render_scenario};
use crate::transcript::{Event, Transcript};

/// One proxied connection, as recorded.
#[derive(Clone, Debug)]
pub struct Recording {
    /// The upstream, `HOST:PORT`.
    pub upstream: String,
    /// When the client connected (UTC).
    pub started: time::OffsetDateTime,
    /// The conversation: server lines as sent, client lines with secrets already replaced
    /// by `[redacted]`, TLS events, message sizes, the close.
    pub transcript: Transcript,
    /// What the proxy did beyond relaying (a `421` it sent, a failed handshake), one line each.
    pub notes: Vec<String>,
}

impl Recording {
    /// The conversation in the model `import` renders: server lines, client lines (secrets
    /// redacted), TLS started (also after a `220` to STARTTLS whose handshake then failed);
    /// message contents are not part of it.
    pub fn entries(&self) -> Vec<Entry> {
        let mut entries = Vec::new();
        for (i, event) in self.transcript.events.iter().enumerate() {
            let item = match event {
                Event::Server(line) => Item::Server(trim_eol(line)),
                // Stored with the secret already replaced by `[redacted]`.
                Event::Client { line, .. } => Item::Client(trim_eol(line)),
                Event::TlsStarted { .. } => Item::TlsStarted,
                _ => continue,
            };
            entries.push(Entry { line: i + 1, item });
        }
        // A handshake that failed after the upstream's 220 to STARTTLS (the proxy's trust, or
        // the client's) is still the step the upstream offered: a scenario needs it there.
        crate::scenario::render::infer_tls(entries)
    }

    /// The number of server lines recorded.
    pub fn server_lines(&self) -> usize {
        self.transcript
            .events
            .iter()
            .filter(|e| matches!(e, Event::Server(_)))
            .count()
    }

    /// The scenario replaying the server's side of this connection.
    ///
    /// # Errors
    /// [`RecordError::Empty`] when the upstream sent nothing (there is nothing to replay).
    pub fn scenario(&self) -> Result<String, RecordError> {
        if self.server_lines() == 0 {
            return Err(RecordError::Empty);
        }
        let t = self.started;
        let when = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        let mut comments = vec![
            format!(
                "Recorded by `smtp-harness record` from {} at {when} (connection {}).",
                self.upstream, self.transcript.session
            ),
            "Server lines are as the server sent them; client lines are globs (arguments that"
                .to_owned(),
            "vary are `*`); credentials (AUTH payloads, answers to 334) are `*` and were never"
                .to_owned(),
            "written; message contents were relayed, not kept. TLS is replayed with the harness's"
                .to_owned(),
            "own `valid` certificate, not the server's.".to_owned(),
            "Add a `sender` block and an `outcome` line to drive it with `smtp-harness run`."
                .to_owned(),
        ];
        comments.extend(
            self.notes
                .iter()
                .map(|n| format!("The proxy {}.", n.replace(['\r', '\n'], " "))),
        );
        let preamble = Preamble {
            comments,
            name: format!("Recorded from {}", self.upstream),
            client_heading: "What the recorded client did.".to_owned(),
        };
        render_scenario(&self.entries(), &self.upstream, &preamble).map_err(RecordError::Scenario)
    }

    /// One line for a log: the connection, what was recorded, how it ended.
    pub fn summary(&self) -> String {
        let clients = self
            .transcript
            .events
            .iter()
            .filter(|e| matches!(e, Event::Client { .. }))
            .count();
        let tls = if self
            .transcript
            .events
            .iter()
            .any(|e| matches!(e, Event::TlsStarted { .. }))
        {
            ", TLS"
        } else {
            ""
        };
        let closed = match self.transcript.events.iter().rev().find_map(|e| match e {
            Event::Closed { by, reason } => Some((*by, reason.clone())),
            _ => None,
        }) {
            Some((by, Some(reason))) => format!("closed by {by} ({reason})"),
            Some((by, None)) => format!("closed by {by}"),
            None => "open".to_owned(),
        };
        format!(
            "connection {}: {} server line(s), {clients} client line(s){tls}; {closed}",
            self.transcript.session,
            self.server_lines()
        )
    }
}

fn trim_eol(line: &[u8]) -> String {
    String::from_utf8_lossy(line)
        .trim_end_matches(['\r', '\n'])
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Transcript;

    #[test]
    fn a_recording_renders_with_credentials_hidden() {
        let mut t = Transcript::new(1);
        let server = |s: &str| Event::Server(format!("{s}\r\n").into_bytes());
        let client = |s: &str, secret_from| Event::Client {
            line: format!("{s}\r\n").into_bytes(),
            secret_from,
        };
        t.push(server("220 up.example ESMTP"));
        t.push(client("EHLO me", None));
        t.push(server("250-up.example"));
        t.push(server("250 AUTH PLAIN LOGIN"));
        t.push(client("AUTH PLAIN [redacted]", Some(11)));
        t.push(server("535 5.7.8 Authentication credentials invalid"));
        t.push(client("QUIT", None));
        t.push(server("221 Bye"));
        let recording = Recording {
            upstream: "127.0.0.1:2525".into(),
            started: time::OffsetDateTime::UNIX_EPOCH,
            transcript: t,
            notes: vec![],
        };
        let text = recording.scenario().expect("renders");
        assert!(text.starts_with(
            "# Recorded by `smtp-harness record` from 127.0.0.1:2525 at 1970-01-01 00:00:00 UTC"
        ));
        assert!(text.contains("C: AUTH PLAIN*\n"), "{text}");
        assert!(!text.contains("redacted"), "{text}");
        assert!(text.contains("S: 535 5.7.8 Authentication credentials invalid\n"));
        crate::scenario::ServerScenario::parse(&text, "<recorded>").expect("loads");
    }

    #[test]
    fn nothing_recorded_is_an_error() {
        let recording = Recording {
            upstream: "127.0.0.1:1".into(),
            started: time::OffsetDateTime::UNIX_EPOCH,
            transcript: Transcript::new(1),
            notes: vec![],
        };
        assert!(matches!(recording.scenario(), Err(RecordError::Empty)));
    }
}
