//! The session core: one connection's SMTP conversation as a state machine with no socket.
//! Bytes go in ([`SessionCore::receive`]); replies come out in its output buffer, transcript
//! events in its transcript, accepted messages in its captured list; what the connection must
//! do next (read more, run a TLS handshake, pause, close) is the [`Next`] it returns.
//!
//! One mode at a time decides what the input is: command lines, a SASL answer, message content
//! after `354`, or a BDAT chunk. A command is answered by the script while the client follows
//! it, else by the protocol checks (`checks.rs`), the scenario's rules (`rules.rs`) and the
//! built-in replies (`defaults.rs`), in that order. The rule or script being played is a
//! [`Program`] that can stop (for content, a handshake, a pause) and resume where it stopped.

use std::sync::Arc;
use std::time::Duration;

mod answer;
mod auth;
mod input;
mod reply;
mod script;

use super::checks;
use super::command::Command;
use super::defaults::Defaults;
use super::rules::{self, Query};
use super::state::{Envelope, Extensions, SessionState};
use crate::message::ReceivedMessage;
use crate::reply::Reply;
use crate::scenario::{Action, ServerScenario, StepKind};
use crate::transcript::{Closer, Event, Recording};
use crate::verify::ConversationRecord;
use crate::verify::{Failure, Tracker};
use crate::wire::sasl::{self, Credentials, Mechanism, SaslExchange, SaslStep};
use crate::wire::{
    ChunkDecoder, Content, DataDecoder, Line, LineDecoder, LineKind, Upgrade, Verb, bdat,
};

/// What the connection must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Send what is in the output buffer, then read and feed more input.
    Read,
    /// Send the output, then run the server side of a TLS handshake and report it with
    /// [`SessionCore::tls_upgraded`].
    StartTls,
    /// Send the output, wait this long (keeping what the client sends meanwhile for later),
    /// then call [`SessionCore::resume`].
    Pause(Duration),
    /// Send the output and close.
    Close(End),
}

/// Why a session ends: who closes, and why when it is not the ordinary end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct End {
    pub by: Closer,
    pub reason: Option<String>,
}

impl End {
    pub(crate) fn server(reason: Option<&str>) -> Self {
        End {
            by: Closer::Server,
            reason: reason.map(str::to_owned),
        }
    }

    pub(crate) fn client(reason: Option<String>) -> Self {
        End {
            by: Closer::Client,
            reason,
        }
    }
}

/// What the input is.
#[derive(Debug)]
enum Mode {
    /// Command lines (and the answers to scripted `334` challenges).
    Command,
    /// Answers to the challenges of a SASL exchange the server runs.
    Sasl(SaslExchange),
    /// Message content after `354`.
    Data(DataDecoder),
    /// The octets of a BDAT chunk; then the script goes on, or the command is answered.
    Chunk { last: bool, then: AfterChunk },
}

#[derive(Debug)]
enum AfterChunk {
    Script,
    Answer,
}

/// What is being played.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Program {
    /// Nothing: waiting for a command.
    Idle,
    /// The start of the session: the greeting (after implicit TLS).
    Start,
    /// The scenario's linear script.
    Script,
    /// A rule's actions, from `pos` on.
    Rule { index: usize, pos: usize },
}

/// Where the message content of the current transfer is.
#[derive(Debug, Default)]
enum ContentStage {
    #[default]
    None,
    /// `354` was sent: the content comes before the next reply.
    Expected,
    /// The content arrived: the next reply is the final one, which accepts or refuses it.
    Ready(Content),
}

/// The command the next reply answers.
#[derive(Clone, Debug)]
struct Answering {
    cmd: Command,
    /// Its number among the commands rules count for it (`#N`).
    nth: u32,
    /// For AUTH: the user the SASL exchange named.
    who: Option<String>,
    /// A reply was sent for it already (a `334` or `354`).
    answered: bool,
}

impl Answering {
    /// A command no reply has answered yet.
    fn new(cmd: Command, nth: u32) -> Self {
        Answering {
            cmd,
            nth,
            who: None,
            answered: false,
        }
    }
}

/// The linear script's position.
#[derive(Clone, Copy, Debug)]
struct Script {
    pos: usize,
    /// The client still follows it.
    live: bool,
}

/// One connection's conversation, without the connection.
pub(crate) struct SessionCore {
    scenario: Arc<ServerScenario>,
    defaults: Arc<Defaults>,
    connection: u64,
    tls: bool,
    mode: Mode,
    lines: LineDecoder,
    /// The BDAT chunks of the current transaction.
    chunks: Option<ChunkDecoder>,
    state: SessionState,
    script: Script,
    program: Program,
    answering: Option<Answering>,
    content: ContentStage,
    /// The last reply was a `334`: the next line is a SASL answer (a secret).
    sasl_next: bool,
    /// An AUTH was refused: lines that are no command after it are SASL payloads a client
    /// pipelined behind it (secrets, never shown).
    sasl_guard: bool,
    /// TLS started and the client has sent nothing inside it yet.
    tls_unused: bool,
    /// QUIT was answered: the session ends when the program does.
    quit: bool,
    /// CRAM-MD5 challenges issued, for unique challenge texts.
    challenges: u32,
    out: Vec<u8>,
    /// The transcript, kept whole or bounded.
    recording: Recording,
    /// The expectations, judged as the events happen.
    tracker: Tracker,
    captured: Vec<ReceivedMessage>,
}

impl SessionCore {
    /// A session for connection number `connection` from `peer`, keeping at most
    /// `transcript_limit` events of its transcript (`None`: all).
    pub(crate) fn new(
        scenario: Arc<ServerScenario>,
        defaults: Arc<Defaults>,
        connection: u64,
        peer: String,
        transcript_limit: Option<usize>,
    ) -> Self {
        let mut recording = Recording::new(connection, transcript_limit);
        recording.push(Event::Opened { peer });
        let tracker = Tracker::new(&scenario.expectations);
        let live = !scenario.script.is_empty();
        SessionCore {
            scenario,
            defaults,
            connection,
            tls: false,
            mode: Mode::Command,
            lines: LineDecoder::default(),
            chunks: None,
            state: SessionState::default(),
            script: Script { pos: 0, live },
            program: Program::Start,
            answering: None,
            content: ContentStage::None,
            sasl_next: false,
            sasl_guard: false,
            tls_unused: false,
            quit: false,
            challenges: 0,
            out: Vec::new(),
            recording,
            tracker,
            captured: Vec::new(),
        }
    }

    // ----- the interface to the connection ----------------------------------------------

    /// Starts the session: the greeting, or first the handshake of implicit TLS.
    pub(crate) fn start(&mut self) -> Next {
        self.program = Program::Start;
        if self.scenario.header.implicit_tls {
            return Next::StartTls;
        }
        self.resume()
    }

    /// Feeds what the client sent. Returns how many octets were used and what to do next;
    /// octets not used (after a STARTTLS, a pause or a close) are not this session's yet.
    pub(crate) fn receive(&mut self, input: &[u8]) -> (usize, Next) {
        if !input.is_empty() {
            self.tls_unused = false;
        }
        let mut used = 0;
        while used < input.len() {
            let rest = &input[used..];
            let (n, next) = match &mut self.mode {
                Mode::Command | Mode::Sasl(_) => {
                    let (n, line) = self.lines.feed(rest);
                    (n, line.map(|l| self.on_line(l)))
                }
                Mode::Data(decoder) => {
                    let (n, content) = decoder.feed(rest);
                    (n, content.map(|c| self.on_content(c)))
                }
                Mode::Chunk { .. } => {
                    let chunks = self.chunks.get_or_insert_with(ChunkDecoder::default);
                    let (n, complete) = chunks.feed(rest);
                    (n, complete.then(|| self.on_chunk()))
                }
            };
            used += n;
            match next {
                None | Some(Next::Read) => {}
                Some(other) => return (used, other),
            }
        }
        (used, Next::Read)
    }

    /// Reports the TLS handshake [`Next::StartTls`] asked for.
    pub(crate) fn tls_upgraded(&mut self, upgrade: Upgrade) -> Next {
        if upgrade.discarded > 0 {
            self.note(Event::ClearTextDiscarded {
                bytes: upgrade.discarded,
            });
        }
        match upgrade.result {
            Ok(session) => {
                self.note(Event::TlsStarted {
                    version: session.version,
                    cipher: session.cipher,
                });
                self.tls = true;
                self.tls_unused = true;
                // RFC 3207 section 4.2: the server discards what it knew from the client.
                self.state.reset_for_tls();
                self.chunks = None;
                self.lines = LineDecoder::default();
                self.sasl_next = false;
                self.resume()
            }
            Err(e) => {
                self.note(Event::TlsFailed {
                    error: e.error.clone(),
                });
                Next::Close(if e.timed_out {
                    End::server(Some("TLS handshake timed out"))
                } else {
                    End::client(Some("TLS handshake failed".into()))
                })
            }
        }
    }

    /// The client sent `bytes` while the server paused (kept for later, not fed yet).
    pub(crate) fn spoke_early(&mut self, bytes: usize) {
        if bytes > 0 {
            self.note(Event::ClientSpokeEarly { bytes });
        }
    }

    /// Goes on with what was being played after a pause, a handshake or content.
    pub(crate) fn resume(&mut self) -> Next {
        loop {
            match self.program {
                Program::Idle => return self.idle(),
                Program::Start => {
                    if self.script.live {
                        self.program = Program::Script;
                    } else {
                        self.program = Program::Idle;
                        let greeting = self.defaults.greeting();
                        self.send(&greeting);
                    }
                }
                Program::Script => return self.run_script(),
                Program::Rule { index, pos } => {
                    let scenario = Arc::clone(&self.scenario);
                    let Some(action) = scenario.rules[index].actions.get(pos) else {
                        self.program = Program::Idle;
                        continue;
                    };
                    if matches!(action, Action::Reply(_))
                        && matches!(self.content, ContentStage::Expected)
                    {
                        return self.expect_content();
                    }
                    self.program = Program::Rule {
                        index,
                        pos: pos + 1,
                    };
                    if let Some(next) = self.perform(action) {
                        return next;
                    }
                }
            }
        }
    }

    /// The client was silent for the idle timeout: `421`, and the server closes.
    pub(crate) fn timed_out(&mut self) -> End {
        let reply = self.defaults.idle_timeout();
        self.send(&reply);
        End::server(Some("idle timeout"))
    }

    /// The server shuts down: `421`, and it closes.
    pub(crate) fn shutting_down(&mut self) -> End {
        let reply = self.defaults.shutting_down();
        self.send(&reply);
        End::server(Some("shutdown"))
    }

    /// The client went away (end of stream, reset, or a TLS alert).
    pub(crate) fn client_gone(&mut self, reason: Option<String>, alert: Option<String>) -> End {
        if self.tls_unused {
            // A client that completed the handshake and left without a word refused what
            // it saw (a certificate checked after the handshake, as TLS 1.3 clients and
            // curl do with host names).
            self.note(Event::TlsAbandoned { alert });
        }
        End::client(reason)
    }

    /// Takes the octets to send.
    pub(crate) fn output(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Takes the messages accepted since the last call.
    pub(crate) fn take_captured(&mut self) -> Vec<ReceivedMessage> {
        std::mem::take(&mut self.captured)
    }

    /// The scenario's idle timeout.
    pub(crate) fn idle_timeout(&self) -> Duration {
        self.scenario.header.idle_timeout
    }

    /// Ends the session and judges it against the scenario's expectations.
    pub(crate) fn finish(mut self, end: End) -> ConversationRecord {
        self.note(Event::Closed {
            by: end.by,
            reason: end.reason,
        });
        let unfinished = self.unfinished_script();
        let failures = self
            .tracker
            .finish()
            .into_iter()
            .chain(unfinished)
            .collect();
        ConversationRecord {
            transcript: self.recording.finish(),
            failures,
        }
    }

    /// Records an event and lets the expectations see it.
    fn note(&mut self, event: Event) {
        self.tracker.observe(&event);
        self.recording.push(event);
    }

    /// Are the conversation's lines wanted (for the transcript or the expectations)? A sink
    /// that keeps no transcript and checks nothing skips making them.
    fn wants_lines(&self) -> bool {
        self.recording.keeps_events() || self.tracker.needs_facts()
    }

    /// Nothing is being played: finish what the last program left.
    fn idle(&mut self) -> Next {
        match std::mem::take(&mut self.content) {
            ContentStage::Expected => {
                self.content = ContentStage::Expected;
                return self.expect_content();
            }
            ContentStage::Ready(content) => {
                // The program gave no final reply: the defaults judge the content.
                let reply = self.final_reply(&content);
                self.content = ContentStage::Ready(content);
                self.reply(&reply);
            }
            ContentStage::None => {}
        }
        if self.quit {
            return Next::Close(End::server(None));
        }
        Next::Read
    }
}

/// The first word of a line (the verb), after any leading white space.
fn first_word(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let rest = &line[start..];
    let end = rest
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The line without its CRLF or LF.
fn trim_line_end(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    &line[..end]
}
