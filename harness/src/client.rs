//! The harness as a remote MTA: plays a `role client` scenario against any SMTP server (an
//! inbound MTA, Postfix, the appliance's receiver) and records the conversation from the
//! client's side, in the same [`Transcript`] form the fake server uses.
//!
//! `C:` lines and `raw` bytes are sent (one byte at a time under `slow`), each `S:` glob must
//! match the last line of the next reply, `message FILE` sends a message dot-stuffed with its
//! final `.` line, `tls` runs the client side of the handshake. The script stops at the first
//! reply that does not match; expectations are checked on the whole transcript, effects on the
//! receiver's folder (`effects.rs`).

mod effects;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::certs::CertError;
use crate::pattern::Pattern;
use crate::scenario::{ClientScenario, ClientStepKind};
use crate::transcript::{Closer, Event, Transcript};
use crate::verify::Failure;
use crate::wire::{Connection, ReplyLineDecoder, WireError};

/// How the client connects.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// TLS configuration for `tls` steps (whom to trust).
    pub tls: Arc<ClientConfig>,
    /// The name to verify the server's certificate against.
    pub tls_name: ServerName<'static>,
    /// Longest wait for the connection, a reply or a write.
    pub timeout: Duration,
    /// Template variables: `{name}` in `C:` lines, `raw` bytes and message files becomes the value.
    pub vars: Vec<(String, String)>,
    /// The receiver's folder, where `expect files …` and `expect line …` look.
    pub effects: Option<PathBuf>,
    /// How long effects may take to appear after the conversation (a processor running beside).
    pub effects_wait: Duration,
}

impl ClientOptions {
    /// Trusts the PEM CA certificates in `ca_pem` and verifies the server as `tls_name`.
    ///
    /// # Errors
    /// [`CertError`] when the CA cannot be read or the name is not a valid server name.
    pub fn trusting(ca_pem: &str, tls_name: &str, timeout: Duration) -> Result<Self, CertError> {
        let tls_name = ServerName::try_from(tls_name.to_owned()).map_err(|e| CertError::Pem {
            what: "the TLS server name".into(),
            detail: e.to_string(),
        })?;
        Ok(ClientOptions {
            tls: crate::tls::client_config_trusting(ca_pem)?,
            tls_name,
            timeout,
            vars: Vec::new(),
            effects: None,
            effects_wait: Duration::from_secs(2),
        })
    }

    /// Adds a template variable: `{name}` becomes `value`.
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the receiver's folder for effect expectations.
    pub fn effects_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.effects = Some(dir.into());
        self
    }

    /// Replaces `{name}` by each variable's value.
    fn fill(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for (name, value) in &self.vars {
            out = replace_all(&out, format!("{{{name}}}").as_bytes(), value.as_bytes());
        }
        out
    }

    /// Trusts the harness's own test CA and verifies the server as `localhost`.
    ///
    /// # Errors
    /// [`CertError`] if the built-in CA does not load (a broken build).
    pub fn test_ca(timeout: Duration) -> Result<Self, CertError> {
        Self::trusting(crate::certs::embedded_ca_pem(), "localhost", timeout)
    }
}

/// What a client run produced.
#[derive(Clone, Debug)]
pub struct ClientRecord {
    /// The conversation, `->` what the server sent, `<-` what the client sent.
    pub transcript: Transcript,
    /// Script steps and expectations that were not met (empty: all went as written).
    pub failures: Vec<Failure>,
}

impl ClientRecord {
    /// `true` if every step and expectation was met.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

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

/// Plays a `role client` scenario against `target`.
pub async fn play(
    scenario: &ClientScenario,
    target: SocketAddr,
    options: &ClientOptions,
) -> ClientRecord {
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

fn unreachable_target(mut transcript: Transcript, why: String) -> ClientRecord {
    transcript.push(Event::Closed {
        by: Closer::Client,
        reason: Some(why.clone()),
    });
    let failures = vec![Failure {
        line: 1,
        expected: "a server to talk to".into(),
        actual: why,
    }];
    ClientRecord {
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

    async fn finish(mut self) -> ClientRecord {
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
        ClientRecord {
            transcript: self.transcript,
            failures,
        }
    }
}

fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if !needle.is_empty() && haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// Message content as it goes after 354 (see [`crate::wire::data::dot_stuff`]).
pub use crate::wire::data::dot_stuff;
