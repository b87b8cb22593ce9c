//! One connection: reads the client's lines, plays the scenario's script, answers the rest from
//! its rules or the built-in defaults, records the transcript and captures messages.
//!
//! Order of judgement for a command outside the script: line length, then protocol sequence
//! (503 "send HELO first", "need MAIL" …), then the scenario's rules, then the defaults.
//!
//! - `mod.rs`: the session, its main loop, and where each line goes (script or answer).
//! - `script.rs`: playing the scenario's linear script.
//! - `answer.rs`: sequence checks, rules, the defaults, and their effect on the state.
//! - `sasl.rs`: AUTH and its exchange.
//! - `io.rs`: reading lines, message content and BDAT chunks with their limits; writing
//!   replies; pauses; the TLS upgrade.

mod answer;
mod io;
mod sasl;
mod script;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::auth::{self, Credentials};
use super::defaults;
use super::state::{Extensions, SessionState, param_of, path_of};
use super::stream::Stream;
use super::{SessionRecord, Shared};
use crate::message::ReceivedMessage;
use crate::reply::Reply;
use crate::scenario::SASL_MECHANISMS;
use crate::scenario::{Action, Rule, Scenario, StepKind};
use crate::transcript::{Closer, Event, Transcript};

/// RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its CRLF.
const MAX_COMMAND_LINE: usize = 512;
/// RFC 4954 4: AUTH lines and SASL responses may be up to 12288 octets.
const MAX_AUTH_LINE: usize = 12288;
/// RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with its CRLF.
const MAX_TEXT_LINE: usize = 1000;
/// How long a write to a client that does not read may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a session ends.
enum End {
    /// The client closed (EOF, reset, failed handshake).
    Client(Option<String>),
    /// The server closed (QUIT, scripted close, timeout, shutdown).
    Server(Option<String>),
}

type Flow<T = ()> = Result<T, End>;

/// A client command line, split for matching.
#[derive(Clone, Debug)]
struct Command {
    raw: Vec<u8>,
    /// The line without its line ending.
    text: String,
    /// The verb, upper case.
    verb: String,
    /// Everything after the verb, trimmed.
    args: String,
}

impl Command {
    fn new(raw: Vec<u8>) -> Self {
        let text = String::from_utf8_lossy(&raw)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        let trimmed = text.trim_start();
        let (verb, args) = match trimmed.split_once([' ', '\t']) {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_owned()),
            None => (trimmed.to_ascii_uppercase(), String::new()),
        };
        Command {
            raw,
            text,
            verb,
            args,
        }
    }
}

/// A message body read after `354` (or from BDAT chunks).
#[derive(Default)]
struct Content {
    bytes: Vec<u8>,
    too_big: bool,
    long_line: bool,
}

/// Where a DATA command is in its two replies.
enum DataStage {
    /// No `354` sent yet.
    Command,
    /// `354` sent; the content is read when the next reply is due.
    Pending,
    /// The content was read; the reply being sent is the final one.
    Read(Content),
    /// The final reply was sent.
    Done,
}

pub(super) struct Session {
    scenario: Arc<Scenario>,
    shared: Arc<Shared>,
    stream: Stream,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    transcript: Transcript,
    state: SessionState,
    shutdown: watch::Receiver<bool>,
    /// Index of the next script step; the script is live until it ends or the client strays.
    script_pos: usize,
    script_live: bool,
    /// The command the script matched, waiting for the reply that judges it.
    script_command: Option<Command>,
    /// The script's AUTH command, so the final 235 is understood.
    script_auth: Option<Command>,
    /// Content read after a scripted `354`.
    script_data: Option<Content>,
    /// A scripted `354` was sent and its content is still to be read.
    script_data_pending: bool,
    /// The last reply sent was a `334`: the next line is a SASL response (a secret).
    sasl_next: bool,
    /// BDAT chunks received so far in the transaction.
    bdat: Option<Content>,
    /// Number of CRAM-MD5 challenges issued, for unique challenge texts.
    challenges: u32,
}

impl Session {
    pub(super) fn new(
        id: u64,
        tcp: TcpStream,
        shared: Arc<Shared>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
        let mut transcript = Transcript::new(id);
        transcript.push(Event::Opened { peer });
        Session {
            scenario: shared.scenario.clone(),
            script_live: !shared.scenario.script.is_empty(),
            shared,
            stream: Stream::Plain(tcp),
            inbuf: Vec::new(),
            outbuf: Vec::new(),
            transcript,
            state: SessionState::default(),
            shutdown,
            script_pos: 0,
            script_command: None,
            script_auth: None,
            script_data: None,
            script_data_pending: false,
            sasl_next: false,
            bdat: None,
            challenges: 0,
        }
    }

    /// Runs the session to its end and hands the record to the server.
    pub(super) async fn run(mut self) {
        let end = match self.serve().await {
            Ok(()) => End::Server(None),
            Err(end) => end,
        };
        // Best effort: a client that has gone away cannot be told anything.
        let _ = self.flush().await;
        let _ = tokio::time::timeout(Duration::from_millis(200), self.stream.shutdown()).await;
        let (by, reason) = match end {
            End::Client(r) => (Closer::Client, r),
            End::Server(r) => (Closer::Server, r),
        };
        self.transcript.push(Event::Closed { by, reason });
        let failures = crate::verify::check(&self.scenario.expectations, &self.transcript)
            .into_iter()
            .chain(self.unfinished_script())
            .collect();
        self.shared.finish(SessionRecord {
            transcript: self.transcript,
            failures,
        });
    }

    /// A script the client left before its end is a failure, unless it already diverged.
    fn unfinished_script(&self) -> Option<crate::verify::Failure> {
        if !self.script_live {
            return None;
        }
        let step = self.scenario.script.get(self.script_pos)?;
        let StepKind::Expect(pattern) = &step.kind else {
            return None;
        };
        Some(crate::verify::Failure {
            line: step.line,
            expected: format!("the client line {:?} of the script", pattern.as_str()),
            actual: "the connection closed before it".to_owned(),
        })
    }

    async fn serve(&mut self) -> Flow {
        if self.scenario.implicit_tls {
            self.start_tls().await?;
        }
        if self.script_live {
            self.run_script().await?;
        } else {
            let greeting = defaults::greeting(&self.scenario);
            self.send(&greeting);
        }
        loop {
            let (raw, too_long) = self.read_line().await?;
            self.handle_line(raw, too_long).await?;
        }
    }

    async fn handle_line(&mut self, raw: Vec<u8>, too_long: bool) -> Flow {
        let cmd = Command::new(raw);
        let scenario = self.scenario.clone();
        if self.script_live
            && let Some(step) = scenario.script.get(self.script_pos)
            && let StepKind::Expect(pattern) = &step.kind
        {
            let sasl = std::mem::take(&mut self.sasl_next);
            self.record_client(&cmd, sasl);
            if !too_long && pattern.matches(&cmd.text) {
                self.script_pos += 1;
                if sasl {
                    self.script_command = self.script_auth.clone();
                } else {
                    self.state.count(&cmd.verb);
                    if cmd.verb == "AUTH" {
                        self.script_auth = Some(cmd.clone());
                    }
                    if cmd.verb == "BDAT" {
                        self.receive_bdat(&cmd).await?;
                    }
                    self.script_command = Some(cmd);
                }
                self.run_script().await?;
                if let Some(unanswered) = self.script_command.take().filter(|_| !self.script_live) {
                    // The script ended on a C: line: answer it from the rules or defaults.
                    return self.respond(unanswered, false, true).await;
                }
                if !self.script_live && self.state_quit() {
                    return Err(End::Server(None));
                }
                return Ok(());
            }
            self.transcript.push(Event::Diverged {
                step_line: step.line,
                expected: pattern.as_str().to_owned(),
            });
            self.script_live = false;
            return self.respond(cmd, too_long, true).await;
        }
        self.sasl_next = false;
        self.respond(cmd, too_long, false).await
    }

    fn state_quit(&self) -> bool {
        self.state.verb_counts.contains_key("QUIT")
    }

    /// Answers a command outside the script.
    async fn respond(&mut self, cmd: Command, too_long: bool, recorded: bool) -> Flow {
        if !recorded {
            self.record_client(&cmd, false);
        }
        if too_long {
            self.send(&defaults::line_too_long());
            return Ok(());
        }
        let nth = self.state.count(&cmd.verb);
        if cmd.verb == "BDAT" && !self.receive_bdat(&cmd).await? {
            return Ok(());
        }
        if let Some(reply) = self.sequence_error(&cmd) {
            self.send(&reply);
            return Ok(());
        }
        if cmd.verb == "AUTH" {
            return self.authenticate(&cmd, nth).await;
        }
        let scenario = self.scenario.clone();
        let actions = match self.find_rule(&scenario, &cmd, nth, None) {
            Some(rule) => rule.actions.clone(),
            None => self.default_actions(&cmd),
        };
        self.perform(&cmd, &actions, None).await?;
        if cmd.verb == "QUIT" {
            return Err(End::Server(None));
        }
        Ok(())
    }
}

/// Byte offsets where each whitespace-separated word of `text` starts.
fn word_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut prev_space = true;
    for (i, c) in text.char_indices() {
        if !c.is_ascii_whitespace() && prev_space {
            starts.push(i);
        }
        prev_space = c.is_ascii_whitespace();
    }
    starts
}
