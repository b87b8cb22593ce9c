//! The player: a `role client` scenario's steps against one connection, recorded as a
//! transcript from the client's side.
//!
//! `C:` lines and `raw` bytes are sent (one byte at a time under `slow`), each `S:` glob must
//! match the last line of the next reply, `message FILE` sends a message dot-stuffed with its
//! final `.` line, `tls` runs the client side of the handshake. The script stops at the first
//! reply that does not match; expectations are checked on the whole transcript.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::TcpStream;

use super::{ClientOptions, effects};
use crate::pattern::Pattern;
use crate::scenario::{ClientScenario, ClientStepKind};
use crate::transcript::{Closer, Event, Transcript};
use crate::verify::{ConversationRecord, Failure};
use crate::wire::{Connection, ReplyLineDecoder, WireError};

/// The client while it plays.
struct Player<'a> {
    scenario: &'a ClientScenario,
    options: &'a ClientOptions,
    conn: Connection,
    replies: ReplyLineDecoder,
    transcript: Transcript,
    failures: Vec<Failure>,
    /// Delay between single-byte writes (`slow`), if any.
    pace: Option<Duration>,
    /// The last reply was a 334: the next line sent is a secret.
    challenged: bool,
    closed_by: Option<Closer>,
}

/// Why the script stopped early.
struct Stop;

/// Plays a `role client` scenario against `target`; the record's transcript has `->` for what
/// the server sent and `<-` for what the client sent.
pub async fn play(
    scenario: &ClientScenario,
    target: SocketAddr,
    options: &ClientOptions,
) -> ConversationRecord {
    let mut transcript = Transcript::new(1);
    transcript.push(Event::Opened {
        peer: target.to_string(),
    });
    let conn = match tokio::time::timeout(options.timeout, TcpStream::connect(target)).await {
        Ok(Ok(tcp)) => Connection::new(tcp),
        Ok(Err(e)) => return unreachable_target(transcript, format!("cannot connect: {e}")),
        Err(_) => return unreachable_target(transcript, "the connection timed out".into()),
    };
    let mut player = Player {
        scenario,
        options,
        conn,
        replies: ReplyLineDecoder::default(),
        transcript,
        failures: Vec::new(),
        pace: None,
        challenged: false,
        closed_by: None,
    };
    let _ = player.run().await;
    player.finish().await
}

fn unreachable_target(mut transcript: Transcript, why: String) -> ConversationRecord {
    transcript.push(Event::Closed {
        by: Closer::Client,
        reason: Some(why.clone()),
    });
    let failures = vec![Failure {
        line: 1,
        expected: "a server to talk to".into(),
        actual: why,
    }];
    ConversationRecord {
        transcript,
        failures,
    }
}

impl Player<'_> {
    async fn run(&mut self) -> Result<(), Stop> {
        let scenario = self.scenario;
        for step in &scenario.script {
            match &step.kind {
                ClientStepKind::Expect(pattern) => self.expect(step.line, pattern).await?,
                ClientStepKind::Send(bytes) => {
                    let bytes = self.options.fill(bytes);
                    self.send_lines(&bytes).await?;
                }
                ClientStepKind::Message(path) => self.send_message(step.line, path).await?,
                ClientStepKind::Tls => self.start_tls(step.line).await?,
                ClientStepKind::Pause(d) => tokio::time::sleep(*d).await,
                ClientStepKind::Slow(d) => self.pace = (!d.is_zero()).then_some(*d),
                ClientStepKind::Close => {
                    self.close(Closer::Client, None).await;
                    return Err(Stop);
                }
            }
        }
        Ok(())
    }

    fn fail(&mut self, line: usize, expected: String, actual: String) -> Stop {
        self.failures.push(Failure {
            line,
            expected,
            actual,
        });
        Stop
    }

    /// Reads one whole reply and matches its last line against the step's glob.
    async fn expect(&mut self, line: usize, pattern: &Pattern) -> Result<(), Stop> {
        let last = match self.read_reply().await {
            Ok(last) => last,
            Err(why) => {
                return Err(self.fail(
                    line,
                    format!("a reply matching {:?}", pattern.as_str()),
                    why,
                ));
            }
        };
        self.challenged = last.starts_with("334");
        if pattern.matches(&last) {
            Ok(())
        } else {
            Err(self.fail(
                line,
                format!("a reply matching {:?}", pattern.as_str()),
                format!("the server said {last:?}"),
            ))
        }
    }

    /// Reads lines up to the last line of a reply (`code text`), recording each; returns it.
    async fn read_reply(&mut self) -> Result<String, String> {
        loop {
            let line = self.read_line().await?;
            let text = String::from_utf8_lossy(&line.bytes)
                .trim_end_matches(['\r', '\n'])
                .to_owned();
            self.transcript.push(Event::Server(line.bytes));
            if line.last || line.code.is_none() {
                return Ok(text);
            }
        }
    }

    /// The next reply line (a long one in bounded pieces), reading as needed.
    async fn read_line(&mut self) -> Result<crate::wire::ReplyLine, String> {
        loop {
            let (used, line) = self.replies.feed(self.conn.input());
            self.conn.consume(used);
            if let Some(line) = line {
                return Ok(line);
            }
            match self.conn.read_more_within(self.options.timeout).await {
                Ok(_) => {}
                Err(WireError::TimedOut(_)) => {
                    return Err(format!("no reply within {:?}", self.options.timeout));
                }
                Err(_) => {
                    self.closed_by.get_or_insert(Closer::Server);
                    return Err("the server closed the connection".into());
                }
            }
        }
    }

    /// Sends bytes, recording each line; AUTH payloads and answers to 334 are secrets.
    async fn send_lines(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            let secret_from = if std::mem::take(&mut self.challenged) {
                Some(0)
            } else if line.len() > 5 && line[..5].eq_ignore_ascii_case(b"AUTH ") {
                crate::wire::sasl::secret_offset(line)
            } else {
                None
            };
            self.transcript.push(Event::Client {
                line: line.to_vec(),
                secret_from,
            });
        }
        self.write(bytes).await
    }

    async fn send_message(&mut self, line: usize, path: &str) -> Result<(), Stop> {
        let file = self.message_path(path);
        let content = match std::fs::read(&file) {
            Ok(c) => c,
            Err(e) => {
                return Err(self.fail(
                    line,
                    format!("the message file {}", file.display()),
                    e.to_string(),
                ));
            }
        };
        let wire = crate::wire::data::dot_stuff(&self.options.fill(&content));
        self.transcript.push(Event::DataSent { bytes: wire.len() });
        self.write(&wire).await
    }

    fn message_path(&self, path: &str) -> PathBuf {
        let dir = self
            .scenario
            .header
            .path
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or(Path::new("."));
        dir.join(path)
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        let timeout = self.options.timeout;
        let result = match self.pace {
            None => {
                self.conn.queue(bytes);
                self.conn.flush(timeout).await
            }
            Some(delay) => {
                let mut outcome = Ok(());
                for byte in bytes {
                    self.conn.queue(std::slice::from_ref(byte));
                    outcome = self.conn.flush(timeout).await;
                    if outcome.is_err() {
                        break;
                    }
                    tokio::time::sleep(delay).await;
                }
                outcome
            }
        };
        match result {
            Ok(()) => Ok(()),
            Err(WireError::TimedOut(_)) => Err(self.fail(
                0,
                "to write to the server".into(),
                "the write timed out".into(),
            )),
            Err(e) => {
                self.closed_by.get_or_insert(Closer::Server);
                Err(self.fail(0, "to write to the server".into(), e.to_string()))
            }
        }
    }

    async fn start_tls(&mut self, line: usize) -> Result<(), Stop> {
        // A reply line begun in clear text is not finished inside TLS.
        self.replies = ReplyLineDecoder::default();
        let upgrade = match self
            .conn
            .connect_tls(
                self.options.tls.clone(),
                self.options.tls_name.clone(),
                self.options.timeout,
            )
            .await
        {
            Ok(upgrade) => upgrade,
            Err(_) => {
                return Err(self.fail(
                    line,
                    "a clear-text connection to upgrade".into(),
                    "TLS is already on".into(),
                ));
            }
        };
        if upgrade.discarded > 0 {
            // The server sent more behind its 220 (response injection): never read as TLS data.
            self.transcript.push(Event::ClearTextDiscarded {
                bytes: upgrade.discarded,
            });
        }
        match upgrade.result {
            Ok(session) => {
                self.transcript.push(Event::TlsStarted {
                    version: session.version,
                    cipher: session.cipher,
                });
                Ok(())
            }
            Err(e) if e.timed_out => {
                Err(self.fail(line, "a TLS handshake".into(), "it timed out".into()))
            }
            Err(e) => {
                self.transcript.push(Event::TlsFailed {
                    error: e.error.clone(),
                });
                Err(self.fail(line, "a TLS handshake".into(), e.error))
            }
        }
    }

    async fn close(&mut self, by: Closer, reason: Option<String>) {
        self.conn.shutdown(Duration::from_millis(500)).await;
        if self.closed_by.is_none() {
            self.closed_by = Some(by);
            self.transcript.push(Event::Closed { by, reason });
        }
    }

    async fn finish(mut self) -> ConversationRecord {
        match self.closed_by {
            Some(Closer::Server) => self.transcript.push(Event::Closed {
                by: Closer::Server,
                reason: None,
            }),
            Some(Closer::Client) => {}
            None => self.close(Closer::Client, None).await,
        }
        let mut failures = self.failures;
        failures.extend(crate::verify::check(
            &self.scenario.expectations,
            &self.transcript,
        ));
        failures.extend(effects::check(&self.scenario.effects, self.options).await);
        ConversationRecord {
            transcript: self.transcript,
            failures,
        }
    }
}
