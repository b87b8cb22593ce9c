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

use super::checks;
use super::command::Command;
use super::defaults::Defaults;
use super::rules::{self, Query};
use super::state::{Envelope, Extensions, SessionState};
use crate::message::ReceivedMessage;
use crate::reply::Reply;
use crate::scenario::{Action, Scenario, StepKind};
use crate::server::SessionRecord;
use crate::transcript::{Closer, Event, Recording};
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
    scenario: Arc<Scenario>,
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
        scenario: Arc<Scenario>,
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
        if self.scenario.implicit_tls {
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
        self.scenario.idle_timeout
    }

    /// Ends the session and judges it against the scenario's expectations.
    pub(crate) fn finish(mut self, end: End) -> SessionRecord {
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
        SessionRecord {
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

    /// A script the client left before its end is a failure, unless it already diverged.
    fn unfinished_script(&self) -> Option<Failure> {
        if !self.script.live {
            return None;
        }
        let step = self.scenario.script.get(self.script.pos)?;
        let StepKind::Expect(pattern) = &step.kind else {
            return None;
        };
        Some(Failure {
            line: step.line,
            expected: format!("the client line {:?} of the script", pattern.as_str()),
            actual: "the connection closed before it".to_owned(),
        })
    }

    // ----- output -------------------------------------------------------------------------

    /// Sends a reply without effect on the conversation (a 421, say).
    fn send(&mut self, reply: &Reply) {
        for line in reply.lines() {
            let start = self.out.len();
            self.out.extend_from_slice(line.as_bytes());
            self.out.extend_from_slice(b"\r\n");
            if self.wants_lines() {
                self.note(Event::Server(self.out[start..].to_vec()));
            }
        }
    }

    /// Sends bytes as they are (`raw "…"`), one transcript line per line of them.
    fn send_raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        if self.wants_lines() {
            for line in bytes.split_inclusive(|b| *b == b'\n') {
                self.note(Event::Server(line.to_vec()));
            }
        }
    }

    /// Sends a reply to the command being answered, with its effect on the session.
    fn reply(&mut self, reply: &Reply) {
        self.send(reply);
        self.sasl_next = reply.code() == 334;
        if self.sasl_next {
            self.lines.expect(LineKind::SaslResponse);
        }
        let Some(answering) = self.answering.as_mut() else {
            return;
        };
        answering.answered = true;
        if answering.cmd.verb == Verb::Data
            && reply.code() == 354
            && matches!(self.content, ContentStage::None)
        {
            self.content = ContentStage::Expected;
            return;
        }
        if let ContentStage::Ready(content) = std::mem::take(&mut self.content) {
            self.answering = None;
            self.finish_message(content, reply);
            return;
        }
        if reply.code() == 334 {
            return;
        }
        if let Some(answering) = self.answering.take() {
            self.note_exchange(&answering, reply);
        }
    }

    /// Carries out one action of a rule; `Some` when the connection must act first.
    fn perform(&mut self, action: &Action) -> Option<Next> {
        match action {
            Action::Reply(reply) => self.reply(reply),
            Action::Raw(bytes) => self.send_raw(bytes),
            Action::Tls => return Some(Next::StartTls),
            Action::Pause(d) => return Some(Next::Pause(*d)),
            Action::Close => return Some(Next::Close(End::server(Some("scripted close")))),
        }
        None
    }

    /// Records a client line; what is secret (an AUTH payload, a SASL answer) is marked.
    fn record_client(&mut self, line: &[u8], verb: Verb, sasl_answer: bool) {
        let secret_from = if sasl_answer {
            Some(0)
        } else if verb == Verb::Auth {
            sasl::secret_offset(line)
        } else if self.sasl_guard && verb == Verb::Unknown {
            // A SASL payload pipelined behind an AUTH that was refused (530, 503, 504 …):
            // never shown, even though no challenge asked for it.
            Some(0)
        } else {
            None
        };
        if verb != Verb::Unknown {
            self.sasl_guard = false;
        }
        if !self.wants_lines() {
            return;
        }
        self.note(Event::Client {
            line: line.to_vec(),
            secret_from,
        });
    }

    // ----- input --------------------------------------------------------------------------

    fn on_line(&mut self, line: Line) -> Next {
        if let Mode::Sasl(_) = self.mode {
            return self.on_sasl_answer(line);
        }
        let sasl_answer = std::mem::take(&mut self.sasl_next);
        self.lines.expect(LineKind::Command);
        let verb = if sasl_answer {
            Verb::Unknown
        } else {
            Verb::parse(first_word(&line.bytes))
        };
        self.record_client(&line.bytes, verb, sasl_answer);
        if self.script.live
            && let Some(step) = self.scenario.script.get(self.script.pos)
            && let StepKind::Expect(pattern) = &step.kind
        {
            let text = String::from_utf8_lossy(&line.bytes);
            if !line.too_long && pattern.matches(text.trim_end_matches(['\r', '\n'])) {
                self.script.pos += 1;
                return self.follow_script(line, sasl_answer);
            }
            self.note(Event::Diverged {
                step_line: step.line,
                expected: pattern.as_str().to_owned(),
            });
            self.script.live = false;
        }
        if line.too_long {
            let reply = self.defaults.line_too_long();
            self.send(&reply);
            return Next::Read;
        }
        self.respond(Command::new(&line.bytes))
    }

    fn on_content(&mut self, content: Content) -> Next {
        self.mode = Mode::Command;
        self.note(Event::DataSent {
            bytes: content.wire_octets,
        });
        self.content = ContentStage::Ready(content);
        self.resume()
    }

    fn on_chunk(&mut self) -> Next {
        let Mode::Chunk { last, then } = std::mem::replace(&mut self.mode, Mode::Command) else {
            unreachable!("called in chunk mode");
        };
        let Some(answering) = self.answering.take() else {
            return Next::Read;
        };
        let size = bdat::parse_args(&answering.cmd.args).map_or(0, |(size, _)| size);
        self.note(Event::DataSent { bytes: size });
        match then {
            AfterChunk::Script => {
                if last {
                    let content = self.chunks.take().unwrap_or_default().take();
                    self.content = ContentStage::Ready(content);
                }
                self.answering = Some(answering);
                self.resume()
            }
            AfterChunk::Answer => self.answer(answering.cmd, answering.nth),
        }
    }

    /// Switches to reading message content; the program goes on once it is in.
    fn expect_content(&mut self) -> Next {
        let limit = usize::try_from(self.size_limit()).unwrap_or(usize::MAX);
        self.mode = Mode::Data(DataDecoder::new(limit));
        Next::Read
    }

    /// Starts reading a BDAT chunk of `size` octets.
    fn begin_chunk(&mut self, size: usize, last: bool, then: AfterChunk) -> Next {
        let limit = usize::try_from(self.size_limit()).unwrap_or(usize::MAX);
        self.chunks
            .get_or_insert_with(|| ChunkDecoder::new(limit))
            .begin(size);
        self.mode = Mode::Chunk { last, then };
        if size == 0 {
            return self.on_chunk();
        }
        Next::Read
    }

    // ----- the script ---------------------------------------------------------------------

    /// The client line matched the script's next `C:` step.
    fn follow_script(&mut self, line: Line, sasl_answer: bool) -> Next {
        self.program = Program::Script;
        if sasl_answer {
            // The AUTH being answered goes on.
            return self.resume();
        }
        let cmd = Command::new(&line.bytes);
        let nth = self.count(&cmd);
        if cmd.verb == Verb::Auth {
            self.skip_prompts_answered_by(&cmd);
        }
        let chunk = (cmd.verb == Verb::Bdat)
            .then(|| bdat::parse_args(&cmd.args))
            .flatten();
        self.answering = Some(Answering::new(cmd, nth));
        if let Some((size, last)) = chunk {
            return self.begin_chunk(size, last, AfterChunk::Script);
        }
        self.resume()
    }

    /// RFC 4954 section 4: an initial response answers the first challenge, so a real server
    /// never sends it. A script written for a client without one (`C: AUTH LOGIN*`,
    /// `S: 334 VXNlcm5hbWU6`, `C: *`) skips that challenge and its answer for a client with
    /// one (`AUTH LOGIN dXNlcg==`).
    fn skip_prompts_answered_by(&mut self, cmd: &Command) {
        let mut words = cmd.args.split_ascii_whitespace();
        let (Some(mechanism), Some(_initial)) = (words.next(), words.next()) else {
            return;
        };
        let steps = &self.scenario.script;
        let pos = self.script.pos;
        if let (Some(StepKind::Send(challenge)), Some(StepKind::Expect(_))) = (
            steps.get(pos).map(|s| &s.kind),
            steps.get(pos + 1).map(|s| &s.kind),
        ) && challenge.code() == 334
            && challenge.lines().len() == 1
            && sasl::initial_response_answers(mechanism, challenge.texts().next().unwrap_or(""))
        {
            self.script.pos += 2;
        }
    }

    /// Plays script steps until the next `C:` step, a handshake, a pause or the end.
    fn run_script(&mut self) -> Next {
        let scenario = Arc::clone(&self.scenario);
        while self.script.live {
            let Some(step) = scenario.script.get(self.script.pos) else {
                self.script.live = false;
                break;
            };
            // Content after a scripted 354 is read when the script next speaks or listens.
            if matches!(self.content, ContentStage::Expected)
                && matches!(step.kind, StepKind::Send(_) | StepKind::Expect(_))
            {
                return self.expect_content();
            }
            match &step.kind {
                StepKind::Expect(_) => return Next::Read,
                StepKind::Send(reply) => {
                    self.script.pos += 1;
                    self.reply(reply);
                }
                StepKind::Raw(bytes) => {
                    self.script.pos += 1;
                    self.send_raw(bytes);
                }
                StepKind::Tls => {
                    self.script.pos += 1;
                    return Next::StartTls;
                }
                StepKind::Pause(d) => {
                    self.script.pos += 1;
                    return Next::Pause(*d);
                }
                // Client steps: a server scenario never holds them (the parser refuses them).
                StepKind::Message(_) | StepKind::Slow(_) => self.script.pos += 1,
                StepKind::Close => {
                    self.script.pos += 1;
                    self.script.live = false;
                    return Next::Close(End::server(Some("scripted close")));
                }
            }
        }
        self.program = Program::Idle;
        // The script ended on a C: line: the rules or the defaults answer it.
        if let Some(unanswered) = self.answering.take_if(|a| !a.answered) {
            return self.answer(unanswered.cmd, unanswered.nth);
        }
        self.idle()
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

    // ----- answering a command ------------------------------------------------------------

    /// Counts the command for `#N`: its number among commands with its verb (for DATA, among
    /// message transfers, which BDAT LAST also begins).
    fn count(&mut self, cmd: &Command) -> u32 {
        let n = self.state.count(cmd.verb);
        if cmd.verb == Verb::Data {
            self.state.transfers += 1;
            return self.state.transfers;
        }
        n
    }

    /// A command outside the script.
    fn respond(&mut self, cmd: Command) -> Next {
        let nth = self.count(&cmd);
        if cmd.verb == Verb::Bdat {
            // The chunk is read before the command is judged, so the stream stays in step.
            let Some((size, last)) = bdat::parse_args(&cmd.args) else {
                // Without a size the chunk's end is unknown: Postfix says 521 and closes.
                let reply = self.defaults.bdat_syntax();
                self.send(&reply);
                return Next::Close(End::server(Some("BDAT without a chunk size")));
            };
            self.answering = Some(Answering::new(cmd, nth));
            return self.begin_chunk(size, last, AfterChunk::Answer);
        }
        self.answer(cmd, nth)
    }

    /// The protocol checks, then the rules, then the defaults.
    fn answer(&mut self, cmd: Command, nth: u32) -> Next {
        let check = checks::sequence(&self.state, &cmd, &self.defaults)
            .or_else(|| checks::parameters(&self.state, &cmd, &self.defaults));
        if let Some(reply) = check {
            return self.refuse(cmd, nth, &reply);
        }
        match cmd.verb {
            Verb::Auth => return self.authenticate(cmd, nth),
            Verb::Bdat => return self.answer_chunk(cmd, nth),
            _ => {}
        }
        let query = self.query(&cmd, cmd.verb, nth);
        match rules::find(&self.scenario, &query) {
            Some(index) => self.run_rule(index, 0, cmd, nth, None),
            None => self.answer_by_default(cmd, nth),
        }
    }

    /// Answers a command with a refusal the server decides by itself.
    fn refuse(&mut self, cmd: Command, nth: u32, reply: &Reply) -> Next {
        if cmd.verb == Verb::Bdat {
            // The chunk was read; it belongs to no message.
            self.chunks = None;
            self.state.chunking = self.state.envelope.is_some();
        }
        self.answering = Some(Answering::new(cmd, nth));
        self.reply(reply);
        self.idle()
    }

    fn query<'a>(&self, cmd: &'a Command, verb: Verb, nth: u32) -> Query<'a> {
        Query {
            verb,
            args: &cmd.args,
            nth,
            connection: self.connection,
            tls: self.tls,
            advertised: self.advertised(cmd.verb),
            credentials: None,
        }
    }

    /// Was the extension `verb` belongs to in the last EHLO reply (true for base commands)?
    fn advertised(&self, verb: Verb) -> bool {
        let ext = &self.state.extensions;
        match verb {
            Verb::StartTls => ext.has("STARTTLS"),
            Verb::Auth => !ext.auth.is_empty(),
            Verb::Bdat => ext.has("CHUNKING"),
            Verb::Etrn => ext.has("ETRN"),
            _ => true,
        }
    }

    fn run_rule(
        &mut self,
        index: usize,
        pos: usize,
        cmd: Command,
        nth: u32,
        who: Option<String>,
    ) -> Next {
        self.answering = Some(Answering {
            who,
            ..Answering::new(cmd, nth)
        });
        self.program = Program::Rule { index, pos };
        self.resume()
    }

    fn answer_by_default(&mut self, cmd: Command, nth: u32) -> Next {
        let reply = self.default_reply(&cmd);
        let handshake = cmd.verb == Verb::StartTls && reply.code() == 220;
        self.answering = Some(Answering::new(cmd, nth));
        self.reply(&reply);
        if handshake {
            return Next::StartTls;
        }
        self.idle()
    }

    /// The built-in answer to a command no rule answers.
    fn default_reply(&self, cmd: &Command) -> Reply {
        let d = &self.defaults;
        if let Err(e) = &cmd.request {
            return d.parse_error(e);
        }
        match cmd.verb {
            Verb::Ehlo => d.ehlo(&cmd.args, self.tls),
            Verb::Helo => d.helo(),
            Verb::Mail => {
                // RFC 1870 section 6: a declared size over the limit is refused at MAIL.
                // A SIZE too large for a u64 is larger than any limit.
                let declared = cmd
                    .param("SIZE")
                    .map(|s| s.parse::<u64>().unwrap_or(u64::MAX));
                match declared {
                    Some(size) if size > self.size_limit() => d.size_exceeded(),
                    _ => d.mail_ok(),
                }
            }
            Verb::Rcpt => d.rcpt_ok(),
            Verb::Data => d.start_data(),
            Verb::Rset | Verb::Noop => d.ok(),
            Verb::Vrfy => d.vrfy(),
            Verb::Help => d.help(),
            Verb::Quit => d.bye(),
            Verb::StartTls => {
                if !cmd.args.is_empty() {
                    // Postfix 3.7: "501 5.5.4 Syntax: STARTTLS".
                    d.syntax("STARTTLS")
                } else if self.tls {
                    d.tls_active()
                } else if self.scenario.certificate.is_none()
                    || (self.state.esmtp && !self.state.extensions.has("STARTTLS"))
                {
                    // A list that left STARTTLS out means the server does not offer it.
                    d.not_implemented()
                } else {
                    // Postfix 3.7 starts TLS after HELO, or before any greeting, too.
                    d.tls_ready()
                }
            }
            Verb::Expn => match self.scenario.wording {
                // Postfix 3.7 does not know EXPN.
                crate::scenario::Wording::Postfix => d.not_recognized(),
                crate::scenario::Wording::Rfc => d.not_implemented(),
            },
            Verb::Unknown => d.not_recognized(),
            _ => d.not_implemented(),
        }
    }

    /// The default final reply to a message's content.
    fn final_reply(&self, content: &Content) -> Reply {
        let d = &self.defaults;
        let id = self.queue_id();
        let bdat = self
            .answering
            .as_ref()
            .is_some_and(|a| a.cmd.verb == Verb::Bdat);
        if content.too_big {
            d.too_big()
        } else if bdat {
            d.chunks_queued(content.bytes.len(), &id)
        } else if content.long_line {
            d.text_line_too_long()
        } else {
            d.queued(&id)
        }
    }

    /// A BDAT chunk is in: rules for BDAT, then (for the last chunk) the DATA rules answer
    /// the end of the transfer, then the defaults.
    fn answer_chunk(&mut self, cmd: Command, nth: u32) -> Next {
        let (size, last) = bdat::parse_args(&cmd.args).unwrap_or((0, true));
        self.state.chunking = true;
        let too_big = self.chunks.as_ref().is_some_and(ChunkDecoder::too_big);
        if last {
            let content = self.chunks.take().unwrap_or_default().take();
            self.content = ContentStage::Ready(content);
        }
        let query = self.query(&cmd, Verb::Bdat, nth);
        if let Some(index) = rules::find(&self.scenario, &query) {
            return self.run_rule(index, 0, cmd, nth, None);
        }
        if !self.advertised(Verb::Bdat) {
            self.content = ContentStage::None;
            self.chunks = None;
            let reply = self.defaults.not_implemented();
            return self.refuse(cmd, nth, &reply);
        }
        if !last {
            let reply = if too_big {
                self.defaults.too_big()
            } else {
                self.defaults.chunk_received(size)
            };
            self.answering = Some(Answering::new(cmd, nth));
            self.reply(&reply);
            return self.idle();
        }
        // The end of a transfer: DATA rules answer it as they answer the content after 354,
        // and their `#N` counts transfers.
        self.state.transfers += 1;
        let data_query = Query {
            nth: self.state.transfers,
            args: "",
            ..self.query(&cmd, Verb::Data, nth)
        };
        match rules::find(&self.scenario, &data_query) {
            Some(index) => {
                let pos = rules::after_start_of_data(&self.scenario.rules[index]);
                self.run_rule(index, pos, cmd, nth, None)
            }
            None => {
                self.answering = Some(Answering::new(cmd, nth));
                self.idle()
            }
        }
    }

    // ----- AUTH ---------------------------------------------------------------------------

    /// AUTH: rules that answer at once, the advertisement checks, the SASL exchange, then
    /// the rules that judge credentials (or the default: accept).
    fn authenticate(&mut self, cmd: Command, nth: u32) -> Next {
        let mut words = cmd.args.split_ascii_whitespace();
        let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
        let initial = words.next().map(str::to_owned);
        let query = self.query(&cmd, Verb::Auth, nth);
        if let Some(index) = rules::find(&self.scenario, &query) {
            return self.run_rule(index, 0, cmd, nth, None);
        }
        let offered = &self.state.extensions.auth;
        let refusal = if offered.is_empty() {
            Some(self.defaults.auth_not_enabled())
        } else if mechanism.is_empty() {
            Some(self.defaults.syntax("AUTH mechanism"))
        } else if !offered.contains(&mechanism) {
            Some(self.defaults.unknown_mechanism())
        } else {
            None
        };
        if let Some(reply) = refusal {
            return self.refuse(cmd, nth, &reply);
        }
        let Some(mech) = Mechanism::parse(&mechanism) else {
            let reply = self.defaults.unknown_mechanism();
            return self.refuse(cmd, nth, &reply);
        };
        self.challenges += 1;
        let challenge = format!(
            "<{}.{}@{}>",
            self.connection, self.challenges, self.scenario.hostname
        );
        let (exchange, step) = SaslExchange::start(mech, initial.as_deref(), || challenge);
        self.answering = Some(Answering::new(cmd, nth));
        self.sasl_step(exchange, step)
    }

    fn on_sasl_answer(&mut self, line: Line) -> Next {
        self.sasl_next = false;
        self.lines.expect(LineKind::Command);
        self.record_client(&line.bytes, Verb::Unknown, true);
        let Mode::Sasl(exchange) = std::mem::replace(&mut self.mode, Mode::Command) else {
            unreachable!("called in SASL mode");
        };
        if line.too_long {
            let reply = Reply::new(500, "5.5.6 Authentication exchange line is too long");
            self.reply(&reply);
            return self.idle();
        }
        let answer = trim_line_end(&line.bytes);
        let (exchange, step) = exchange.respond(answer);
        self.sasl_step(exchange, step)
    }

    fn sasl_step(&mut self, exchange: Option<SaslExchange>, step: SaslStep) -> Next {
        match (exchange, step) {
            (Some(exchange), SaslStep::Challenge(text)) => {
                let reply = Reply::from_lines([format!("334 {text}")])
                    .unwrap_or_else(|_| Reply::new(334, &text));
                self.reply(&reply);
                self.mode = Mode::Sasl(exchange);
                Next::Read
            }
            (_, SaslStep::Done(Ok(credentials))) => self.judge_credentials(&credentials),
            (_, SaslStep::Done(Err(reply))) => {
                self.reply(&reply);
                self.idle()
            }
            (None, SaslStep::Challenge(_)) => unreachable!("a challenge goes on"),
        }
    }

    fn judge_credentials(&mut self, credentials: &Credentials) -> Next {
        let Some(answering) = self.answering.take() else {
            return Next::Read;
        };
        let query = Query {
            credentials: Some(credentials),
            ..self.query(&answering.cmd, Verb::Auth, answering.nth)
        };
        let who = Some(credentials.user.clone());
        match rules::find(&self.scenario, &query) {
            Some(index) => self.run_rule(index, 0, answering.cmd, answering.nth, who),
            None => {
                self.answering = Some(Answering { who, ..answering });
                let reply = self.defaults.auth_ok();
                self.reply(&reply);
                self.idle()
            }
        }
    }

    // ----- effects of replies -------------------------------------------------------------

    /// Updates the session state after `reply` answered a command.
    fn note_exchange(&mut self, answering: &Answering, reply: &Reply) {
        let cmd = &answering.cmd;
        let positive = (200..300).contains(&reply.code());
        match cmd.verb {
            Verb::Ehlo if positive => {
                self.state.helo = Some(cmd.args.clone());
                self.state.esmtp = true;
                self.state.extensions = Extensions::from_ehlo_reply(reply);
                self.state.end_transaction();
                self.chunks = None;
            }
            Verb::Helo if positive => {
                self.state.helo = Some(cmd.args.clone());
                self.state.esmtp = false;
                self.state.extensions = Extensions::default();
                self.state.end_transaction();
                self.chunks = None;
            }
            Verb::Mail if positive => {
                self.state.envelope = Some(Envelope {
                    mail_from: cmd.path(),
                    rcpt_to: Vec::new(),
                    smtputf8: cmd
                        .param_words()
                        .iter()
                        .any(|w| w.eq_ignore_ascii_case("SMTPUTF8")),
                });
                self.state.chunking = false;
                self.chunks = None;
            }
            Verb::Rcpt if positive => {
                if let Some(envelope) = self.state.envelope.as_mut() {
                    envelope.rcpt_to.push(cmd.path());
                }
            }
            Verb::Rset if positive => {
                self.state.end_transaction();
                self.chunks = None;
            }
            Verb::Auth if reply.code() == 235 => {
                self.state.authenticated_as = Some(answering.who.clone().unwrap_or_default());
            }
            Verb::Auth if reply.code() >= 400 => self.sasl_guard = true,
            // RFC 3030 section 2: after a refused chunk the transaction has failed.
            Verb::Bdat if !positive => {
                self.state.end_transaction();
                self.chunks = None;
            }
            Verb::Quit => self.quit = true,
            _ => {}
        }
    }

    /// Ends the mail transaction; a positive final reply captures the message.
    fn finish_message(&mut self, content: Content, reply: &Reply) {
        let envelope = self.state.envelope.take().unwrap_or_default();
        self.state.end_transaction();
        self.chunks = None;
        if !(200..300).contains(&reply.code()) {
            return;
        }
        self.state.messages += 1;
        self.note(Event::MessageCaptured {
            mail_from: envelope.mail_from.clone(),
            rcpt_to: envelope.rcpt_to.clone(),
            size: content.bytes.len(),
        });
        self.captured.push(ReceivedMessage {
            session: self.connection,
            helo: self.state.helo.clone(),
            mail_from: envelope.mail_from,
            rcpt_to: envelope.rcpt_to,
            data: content.bytes,
            tls: self.tls,
            authenticated_as: self.state.authenticated_as.clone(),
        });
    }

    fn size_limit(&self) -> u64 {
        self.state.extensions.size.unwrap_or(self.scenario.max_size)
    }

    fn queue_id(&self) -> String {
        format!("{:04X}{:04X}", self.connection, self.state.messages + 1)
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
