//! One connection: reads the client's lines, plays the scenario's script, answers the rest from
//! its rules or the built-in defaults, records the transcript and captures messages.
//!
//! Order of judgement for a command outside the script: line length, then protocol sequence
//! (503 "send HELO first", "need MAIL" …), then the scenario's rules, then the defaults.

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

    // ----- the script -------------------------------------------------------------------

    /// Runs script steps until the next `C:` step (or the end of the script).
    async fn run_script(&mut self) -> Flow {
        let scenario = self.scenario.clone();
        while self.script_live {
            let Some(step) = scenario.script.get(self.script_pos) else {
                self.script_live = false;
                break;
            };
            // Content after a scripted 354 is read when the script next speaks or listens.
            if self.script_data_pending
                && matches!(step.kind, StepKind::Send(_) | StepKind::Expect(_))
            {
                self.script_data_pending = false;
                self.script_data = Some(self.read_data().await?);
            }
            match &step.kind {
                StepKind::Expect(_) => return Ok(()),
                StepKind::Send(reply) => {
                    self.script_pos += 1;
                    self.send(reply);
                    self.after_script_reply(reply);
                }
                StepKind::Raw(bytes) => {
                    self.script_pos += 1;
                    self.send_raw(bytes);
                }
                StepKind::Tls => {
                    self.script_pos += 1;
                    self.start_tls().await?;
                }
                StepKind::Pause(d) => {
                    self.script_pos += 1;
                    self.pause(*d).await?;
                }
                StepKind::Close => {
                    self.script_pos += 1;
                    self.script_live = false;
                    return Err(End::Server(Some("scripted close".into())));
                }
            }
        }
        if std::mem::take(&mut self.script_data_pending) {
            // The script ended right after a 354: the defaults finish the message.
            self.script_command = None;
            self.finish_data_by_default().await?;
        }
        Ok(())
    }

    /// Lets a scripted reply have its protocol effect on the command it answers.
    fn after_script_reply(&mut self, reply: &Reply) {
        let Some(cmd) = self.script_command.take() else {
            return;
        };
        if cmd.verb == "DATA" && reply.code() == 354 && self.script_data.is_none() {
            self.script_data_pending = true;
            self.script_command = Some(cmd);
        } else if let Some(content) = self.script_data.take() {
            self.finish_message(content, reply);
        } else {
            self.note_exchange(&cmd, reply, None);
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

    // ----- rules and defaults ------------------------------------------------------------

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

    /// RFC 5321 sequence checks that come before any rule.
    fn sequence_error(&self, cmd: &Command) -> Option<Reply> {
        let s = &self.state;
        match cmd.verb.as_str() {
            "MAIL" if s.helo.is_none() => Some(defaults::need_helo()),
            "MAIL" if s.envelope.is_some() => Some(defaults::nested_mail()),
            "RCPT" if s.envelope.is_none() => Some(defaults::need_mail()),
            "DATA" | "BDAT" if s.envelope.is_none() => Some(defaults::need_mail()),
            "DATA" | "BDAT" if s.envelope.as_ref().is_some_and(|e| e.rcpt_to.is_empty()) => {
                Some(defaults::need_rcpt())
            }
            "AUTH" if s.helo.is_none() => Some(defaults::need_helo()),
            "AUTH" if s.authenticated_as.is_some() => Some(defaults::already_authenticated()),
            "AUTH" if s.envelope.is_some() => Some(defaults::auth_in_transaction()),
            _ => None,
        }
    }

    /// The first rule for this command whose conditions hold.
    fn find_rule<'s>(
        &self,
        scenario: &'s Scenario,
        cmd: &Command,
        nth: u32,
        credentials: Option<&Credentials>,
    ) -> Option<&'s Rule> {
        let tls = self.stream.is_tls();
        scenario.rules.iter().find(|rule| {
            rule.verb == cmd.verb
                && rule.nth.is_none_or(|n| n == nth)
                && rule.tls.is_none_or(|t| t == tls)
                && rule.args.as_ref().is_none_or(|p| p.matches(&cmd.args))
                && (cmd.verb != "AUTH" || auth_rule_applies(rule, cmd, credentials))
        })
    }

    fn default_actions(&self, cmd: &Command) -> Vec<Action> {
        let reply = self.default_reply(cmd);
        let handshake = cmd.verb == "STARTTLS" && reply.code() == 220;
        let mut actions = vec![Action::Reply(reply)];
        if handshake {
            actions.push(Action::Tls);
        }
        actions
    }

    fn default_reply(&self, cmd: &Command) -> Reply {
        let scenario = &self.scenario;
        let parsed = smtp_proto::Request::parse(&mut cmd.raw.iter());
        if let Err(e) = &parsed
            && !matches!(cmd.verb.as_str(), "BDAT")
        {
            return defaults::parse_error(e);
        }
        match cmd.verb.as_str() {
            "EHLO" => defaults::ehlo(scenario, &cmd.args, self.stream.is_tls()),
            "HELO" => defaults::ok(&scenario.hostname),
            "MAIL" => {
                let limit = self.size_limit();
                // A SIZE too large for a u64 is larger than any limit.
                match param_of(&cmd.args, "SIZE").map(|s| s.parse::<u64>().unwrap_or(u64::MAX)) {
                    Some(size) if size > limit => {
                        Reply::new(552, "5.3.4 Message size exceeds fixed limit")
                    }
                    _ => defaults::ok("2.1.0 Ok"),
                }
            }
            "RCPT" => defaults::ok("2.1.5 Ok"),
            "DATA" => defaults::start_data(),
            "BDAT" => {
                if !self.state.extensions.has("CHUNKING") {
                    defaults::not_implemented()
                } else if self.bdat.as_ref().is_some_and(|b| b.too_big) {
                    defaults::too_big()
                } else if bdat_is_last(&cmd.args) {
                    defaults::queued(&self.queue_id())
                } else {
                    let size = bdat_size(&cmd.args).unwrap_or(0);
                    defaults::ok(&format!("2.0.0 {size} octets received"))
                }
            }
            "RSET" | "NOOP" => defaults::ok("2.0.0 Ok"),
            "VRFY" => Reply::new(
                252,
                "2.0.0 Cannot VRFY user, but will accept message and attempt delivery",
            ),
            "HELP" => Reply::new(
                214,
                "2.0.0 See RFC 5321: https://www.rfc-editor.org/rfc/rfc5321",
            ),
            "QUIT" => defaults::bye(),
            "STARTTLS" => {
                if !cmd.args.is_empty() {
                    defaults::syntax("STARTTLS")
                } else if self.stream.is_tls() {
                    defaults::tls_active()
                } else if scenario.certificate.is_none() || !self.state.extensions.has("STARTTLS") {
                    defaults::not_implemented()
                } else {
                    defaults::tls_ready()
                }
            }
            "EXPN" | "ETRN" | "LHLO" | "ATRN" | "BURL" => defaults::not_implemented(),
            _ => defaults::not_recognized(),
        }
    }

    fn size_limit(&self) -> u64 {
        self.state.extensions.size.unwrap_or(self.scenario.max_size)
    }

    fn queue_id(&self) -> String {
        format!(
            "{:04X}{:04X}",
            self.transcript.session,
            self.state.messages + 1
        )
    }

    /// Carries out a rule's (or the defaults') actions for `cmd`.
    async fn perform(&mut self, cmd: &Command, actions: &[Action], who: Option<&str>) -> Flow {
        // After a 354 the content is read only when the next reply is due, so that a rule can
        // pause or close in the middle of the client's content.
        let mut data = DataStage::Command;
        for action in actions {
            match action {
                Action::Reply(reply) => {
                    if let DataStage::Pending = data {
                        data = DataStage::Read(self.read_data().await?);
                    }
                    self.send(reply);
                    data = match data {
                        DataStage::Command if cmd.verb == "DATA" && reply.code() == 354 => {
                            DataStage::Pending
                        }
                        DataStage::Read(content) => {
                            self.finish_message(content, reply);
                            DataStage::Done
                        }
                        other => {
                            self.note_exchange(cmd, reply, who);
                            other
                        }
                    };
                }
                Action::Raw(bytes) => self.send_raw(bytes),
                Action::Tls => self.start_tls().await?,
                Action::Pause(d) => self.pause(*d).await?,
                Action::Close => return Err(End::Server(Some("scripted close".into()))),
            }
        }
        if let DataStage::Pending = data {
            self.finish_data_by_default().await?;
        }
        Ok(())
    }

    /// Reads the content after a 354 and gives the default final reply.
    async fn finish_data_by_default(&mut self) -> Flow {
        let content = self.read_data().await?;
        let reply = if content.too_big {
            defaults::too_big()
        } else if content.long_line {
            defaults::text_line_too_long()
        } else {
            defaults::queued(&self.queue_id())
        };
        self.send(&reply);
        self.finish_message(content, &reply);
        Ok(())
    }

    /// Updates the session state after `reply` answered `cmd`.
    fn note_exchange(&mut self, cmd: &Command, reply: &Reply, who: Option<&str>) {
        let positive = (200..300).contains(&reply.code());
        match cmd.verb.as_str() {
            "EHLO" if positive => {
                self.state.helo = Some(cmd.args.clone());
                self.state.extensions = Extensions::from_ehlo_reply(reply);
                self.state.envelope = None;
            }
            "HELO" if positive => {
                self.state.helo = Some(cmd.args.clone());
                self.state.extensions = Extensions::default();
                self.state.envelope = None;
            }
            "MAIL" if positive => {
                self.state.envelope = Some(super::state::Envelope {
                    mail_from: path_of(&cmd.args),
                    rcpt_to: Vec::new(),
                });
                self.bdat = None;
            }
            "RCPT" if positive => {
                if let Some(env) = self.state.envelope.as_mut() {
                    env.rcpt_to.push(path_of(&cmd.args));
                }
            }
            "RSET" if positive => {
                self.state.envelope = None;
                self.bdat = None;
            }
            "AUTH" if reply.code() == 235 => {
                self.state.authenticated_as = Some(who.unwrap_or_default().to_owned());
            }
            "BDAT" => {
                if positive && bdat_is_last(&cmd.args) {
                    let content = self.bdat.take().unwrap_or_default();
                    self.finish_message(content, reply);
                } else if !positive {
                    self.bdat = None;
                    self.state.envelope = None;
                }
            }
            _ => {}
        }
    }

    /// Ends the mail transaction; a positive final reply captures the message.
    fn finish_message(&mut self, content: Content, reply: &Reply) {
        let envelope = self.state.envelope.take().unwrap_or_default();
        if !(200..300).contains(&reply.code()) {
            return;
        }
        self.state.messages += 1;
        self.transcript.push(Event::MessageCaptured {
            mail_from: envelope.mail_from.clone(),
            rcpt_to: envelope.rcpt_to.clone(),
            size: content.bytes.len(),
        });
        self.shared.capture(ReceivedMessage {
            session: self.transcript.session,
            helo: self.state.helo.clone(),
            mail_from: envelope.mail_from,
            rcpt_to: envelope.rcpt_to,
            data: content.bytes,
            tls: self.stream.is_tls(),
            authenticated_as: self.state.authenticated_as.clone(),
        });
    }

    // ----- AUTH ---------------------------------------------------------------------------

    /// AUTH: advertisement checks, rules that answer at once, the SASL exchange, then the
    /// rules that judge credentials (or the default: accept).
    async fn authenticate(&mut self, cmd: &Command, nth: u32) -> Flow {
        let mechanism = cmd
            .args
            .split_ascii_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let initial = cmd.args.split_ascii_whitespace().nth(1).map(str::to_owned);
        if self.state.extensions.auth.is_empty() {
            self.send(&defaults::auth_not_enabled());
            return Ok(());
        }
        if mechanism.is_empty() {
            self.send(&defaults::syntax("AUTH mechanism"));
            return Ok(());
        }
        if !self.state.extensions.auth.contains(&mechanism) {
            self.send(&defaults::unknown_mechanism());
            return Ok(());
        }
        let scenario = self.scenario.clone();
        if let Some(rule) = self.find_rule(&scenario, cmd, nth, None) {
            return self.perform(cmd, &rule.actions, None).await;
        }
        if !SASL_MECHANISMS.contains(&mechanism.as_str()) {
            self.send(&defaults::unknown_mechanism());
            return Ok(());
        }
        let credentials = match self.sasl_exchange(&mechanism, initial.as_deref()).await? {
            Ok(c) => c,
            Err(reply) => {
                self.send(&reply);
                return Ok(());
            }
        };
        let actions = match self.find_rule(&scenario, cmd, nth, Some(&credentials)) {
            Some(rule) => rule.actions.clone(),
            None => vec![Action::Reply(defaults::auth_ok())],
        };
        self.perform(cmd, &actions, Some(&credentials.user)).await
    }

    /// Runs the SASL exchange for a mechanism the server knows.
    async fn sasl_exchange(
        &mut self,
        mechanism: &str,
        initial: Option<&str>,
    ) -> Flow<Result<Credentials, Reply>> {
        let decoded = |line: &str| auth::decode(line);
        Ok(match mechanism {
            "PLAIN" | "XOAUTH2" => {
                let response = match initial {
                    Some(ir) => decoded(ir),
                    None => self.challenge("").await?,
                };
                response.and_then(|r| {
                    if mechanism == "PLAIN" {
                        auth::plain(&r)
                    } else {
                        auth::xoauth2(&r)
                    }
                })
            }
            "LOGIN" => {
                let user = match initial {
                    Some(ir) => decoded(ir),
                    None => self.challenge(auth::LOGIN_USERNAME).await?,
                };
                match user {
                    Err(reply) => Err(reply),
                    Ok(user) => {
                        self.challenge(auth::LOGIN_PASSWORD)
                            .await?
                            .map(|password| Credentials {
                                user: String::from_utf8_lossy(&user).into_owned(),
                                secret: auth::Secret::Password(
                                    String::from_utf8_lossy(&password).into_owned(),
                                ),
                            })
                    }
                }
            }
            "CRAM-MD5" => {
                self.challenges += 1;
                let challenge = format!(
                    "<{}.{}@{}>",
                    self.transcript.session, self.challenges, self.scenario.hostname
                );
                let encoded = auth::encode(&challenge);
                self.challenge(&encoded)
                    .await?
                    .and_then(|r| auth::cram_md5(&r, &challenge))
            }
            _ => Err(defaults::unknown_mechanism()),
        })
    }

    /// Sends `334 text` and reads the client's (secret) answer, decoded.
    async fn challenge(&mut self, text: &str) -> Flow<Result<Vec<u8>, Reply>> {
        let reply =
            Reply::from_lines([format!("334 {text}")]).unwrap_or_else(|_| Reply::new(334, text));
        self.send(&reply);
        let (raw, too_long) = self.read_line().await?;
        let cmd = Command::new(raw);
        self.record_client(&cmd, true);
        if too_long {
            return Ok(Err(Reply::new(
                500,
                "5.5.6 Authentication exchange line is too long",
            )));
        }
        Ok(auth::decode(&cmd.text))
    }

    // ----- TLS ----------------------------------------------------------------------------

    /// Runs the server side of a TLS handshake. Bytes the client sent in clear text behind
    /// STARTTLS are thrown away (never executed), and the session forgets what it learnt.
    async fn start_tls(&mut self) -> Flow {
        self.flush().await?;
        if !self.inbuf.is_empty() {
            self.transcript.push(Event::ClearTextDiscarded {
                bytes: self.inbuf.len(),
            });
            self.inbuf.clear();
        }
        let Some(config) = self.shared.tls.clone() else {
            return Err(End::Server(Some("no certificate for TLS".into())));
        };
        let tcp = match std::mem::replace(&mut self.stream, Stream::Gone) {
            Stream::Plain(tcp) => tcp,
            other => {
                self.stream = other;
                return Err(End::Server(Some("TLS requested inside TLS".into())));
            }
        };
        let accept = TlsAcceptor::from(config).accept(tcp);
        match tokio::time::timeout(self.scenario.idle_timeout, accept).await {
            Ok(Ok(tls)) => {
                let (version, cipher) = crate::tls::describe(tls.get_ref().1);
                self.transcript.push(Event::TlsStarted { version, cipher });
                self.stream = Stream::Tls(Box::new(tls));
                self.state.reset_for_tls();
                Ok(())
            }
            Ok(Err(e)) => {
                let error = e.to_string();
                self.transcript.push(Event::TlsFailed {
                    error: error.clone(),
                });
                Err(End::Client(Some("TLS handshake failed".into())))
            }
            Err(_) => {
                self.transcript.push(Event::TlsFailed {
                    error: "handshake timed out".into(),
                });
                Err(End::Server(Some("TLS handshake timed out".into())))
            }
        }
    }

    // ----- reading and writing ------------------------------------------------------------

    /// Records a client line; for AUTH the initial response, for SASL answers all of it, is a
    /// secret.
    fn record_client(&mut self, cmd: &Command, sasl: bool) {
        let secret_from = if sasl {
            Some(0)
        } else if cmd.verb == "AUTH" {
            // "AUTH MECH initial-response": the secret starts at the third word.
            word_starts(&cmd.text).get(2).copied()
        } else {
            None
        };
        self.transcript.push(Event::Client {
            line: cmd.raw.clone(),
            secret_from,
        });
    }

    /// Sends bytes exactly as the scenario gives them (no reply syntax), one transcript line per
    /// line of them.
    fn send_raw(&mut self, bytes: &[u8]) {
        self.outbuf.extend_from_slice(bytes);
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            self.transcript.push(Event::Server(line.to_vec()));
        }
    }

    fn send(&mut self, reply: &Reply) {
        for line in reply.lines() {
            let mut bytes = Vec::with_capacity(line.len() + 2);
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(b"\r\n");
            self.outbuf.extend_from_slice(&bytes);
            self.transcript.push(Event::Server(bytes));
        }
        self.sasl_next = reply.code() == 334;
    }

    async fn flush(&mut self) -> Flow {
        if self.outbuf.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.outbuf);
        match tokio::time::timeout(WRITE_TIMEOUT, self.stream.write_all(&out)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Client(Some("connection lost while writing".into()))),
            Err(_) => Err(End::Server(Some("client stopped reading".into()))),
        }
    }

    /// Waits for more bytes from the client, flushing pending replies first.
    async fn fill(&mut self) -> Flow {
        self.flush().await?;
        let idle = self.scenario.idle_timeout;
        let result = tokio::select! {
            r = tokio::time::timeout(idle, self.stream.read_buf(&mut self.inbuf)) => r,
            _ = self.shutdown.changed() => {
                let reply = defaults::shutting_down(&self.scenario);
                self.send(&reply);
                return Err(End::Server(Some("shutdown".into())));
            }
        };
        match result {
            Ok(Ok(0)) => Err(End::Client(None)),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(End::Client(None)),
            Ok(Err(e)) => Err(End::Client(Some(e.to_string()))),
            Err(_) => {
                let reply = defaults::idle_timeout(&self.scenario);
                self.send(&reply);
                Err(End::Server(Some("idle timeout".into())))
            }
        }
    }

    /// Waits `d` while still listening: what the client sends meanwhile is kept for later (an
    /// early talker), and a client that hangs up ends the session at once.
    async fn pause(&mut self, d: Duration) -> Flow {
        self.flush().await?;
        let before = self.inbuf.len();
        let result = self.listen_while_paused(d).await;
        let early = self.inbuf.len().saturating_sub(before);
        if early > 0 {
            self.transcript
                .push(Event::ClientSpokeEarly { bytes: early });
        }
        result
    }

    async fn listen_while_paused(&mut self, d: Duration) -> Flow {
        let deadline = tokio::time::sleep(d);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return Ok(()),
                _ = self.shutdown.changed() => return Err(End::Server(Some("shutdown".into()))),
                r = self.stream.read_buf(&mut self.inbuf) => match r {
                    Ok(0) => return Err(End::Client(None)),
                    Ok(_) if self.inbuf.len() > MAX_AUTH_LINE * 4 => {
                        return Err(End::Server(Some("client sent too much during a pause".into())));
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(End::Client(None)),
                    Err(e) => return Err(End::Client(Some(e.to_string()))),
                },
            }
        }
    }

    /// Reads one line (with its line ending). Lines over the limit are consumed to their end and
    /// reported as too long (the bytes kept are the first `MAX_COMMAND_LINE`).
    async fn read_line(&mut self) -> Flow<(Vec<u8>, bool)> {
        let mut overflow: Option<Vec<u8>> = None;
        loop {
            if let Some(pos) = self.inbuf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.inbuf.drain(..=pos).collect();
                if let Some(head) = overflow {
                    return Ok((head, true));
                }
                let limit = if self.sasl_next || starts_with_auth(&line) {
                    MAX_AUTH_LINE
                } else {
                    MAX_COMMAND_LINE
                };
                if line.len() > limit {
                    return Ok((line[..MAX_COMMAND_LINE].to_vec(), true));
                }
                return Ok((line, false));
            }
            if self.inbuf.len() > MAX_AUTH_LINE {
                if overflow.is_none() {
                    overflow = Some(self.inbuf[..MAX_COMMAND_LINE].to_vec());
                }
                self.inbuf.clear();
            }
            self.fill().await?;
        }
    }

    /// Reads message content after `354` up to `CRLF.CRLF`, undoing dot-stuffing, enforcing the
    /// size limit and the 1000-octet text line limit (the content is still read to its end).
    async fn read_data(&mut self) -> Flow<Content> {
        let limit = usize::try_from(self.size_limit()).unwrap_or(usize::MAX);
        let mut content = Content::default();
        let mut at_line_start = true;
        let mut line_len = 0usize;
        let mut prev_crlf = true;
        loop {
            while let Some(pos) = self.inbuf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.inbuf.drain(..=pos).collect();
                if at_line_start && prev_crlf && line == b".\r\n" {
                    return Ok(content);
                }
                // Dot-stuffing applies at the start of a CRLF-terminated line only.
                let stuffed = at_line_start && prev_crlf && line.first() == Some(&b'.');
                let body = if stuffed { &line[1..] } else { &line[..] };
                line_len += line.len();
                content.long_line |= line_len > MAX_TEXT_LINE;
                append_limited(&mut content, body, limit);
                at_line_start = true;
                line_len = 0;
                prev_crlf = line.ends_with(b"\r\n");
            }
            if self.inbuf.len() > MAX_TEXT_LINE {
                // A partial line already over the limit: keep reading, do not hold it all.
                let chunk = std::mem::take(&mut self.inbuf);
                let stuffed = at_line_start && prev_crlf && chunk.first() == Some(&b'.');
                let body = if stuffed { &chunk[1..] } else { &chunk[..] };
                line_len += chunk.len();
                content.long_line = true;
                append_limited(&mut content, body, limit);
                at_line_start = false;
            }
            self.fill().await?;
        }
    }

    /// Reads a BDAT chunk into the transaction's content. Returns `false` (after replying) when
    /// the command cannot be used.
    async fn receive_bdat(&mut self, cmd: &Command) -> Flow<bool> {
        let Some(size) = bdat_size(&cmd.args) else {
            self.send(&defaults::syntax("BDAT chunk-size [LAST]"));
            return Ok(false);
        };
        let limit = usize::try_from(self.size_limit()).unwrap_or(usize::MAX);
        let mut content = self.bdat.take().unwrap_or_default();
        let mut left = size;
        while left > 0 {
            if self.inbuf.is_empty() {
                self.fill().await?;
            }
            let take = left.min(self.inbuf.len());
            let chunk: Vec<u8> = self.inbuf.drain(..take).collect();
            append_limited(&mut content, &chunk, limit);
            left -= take;
        }
        self.bdat = Some(content);
        Ok(true)
    }
}

fn append_limited(content: &mut Content, bytes: &[u8], limit: usize) {
    if content.too_big {
        return;
    }
    if content.bytes.len() + bytes.len() > limit {
        content.too_big = true;
        content.bytes = Vec::new();
        return;
    }
    content.bytes.extend_from_slice(bytes);
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

fn starts_with_auth(line: &[u8]) -> bool {
    line.len() >= 5 && line[..5].eq_ignore_ascii_case(b"AUTH ")
}

fn bdat_size(args: &str) -> Option<usize> {
    args.split_ascii_whitespace().next()?.parse().ok()
}

fn bdat_is_last(args: &str) -> bool {
    args.split_ascii_whitespace()
        .nth(1)
        .is_some_and(|w| w.eq_ignore_ascii_case("LAST"))
}

/// Reply codes that answer the end of a SASL exchange (RFC 4954 section 6): rules replying with
/// these are judged once the client has answered the challenges.
const AUTH_OUTCOME_CODES: &[u16] = &[235, 432, 454, 534, 535];

/// `true` if the rule's first reply is an outcome of the exchange (so it waits for it).
pub(crate) fn answers_after_exchange(rule: &Rule) -> bool {
    rule.auth.checks_credentials()
        || rule.actions.iter().find_map(|a| match a {
            Action::Reply(r) => Some(AUTH_OUTCOME_CODES.contains(&r.code())),
            _ => None,
        }) == Some(true)
}

/// Does an AUTH rule apply, given what is known (credentials only after the exchange)?
fn auth_rule_applies(rule: &Rule, cmd: &Command, credentials: Option<&Credentials>) -> bool {
    let mechanism = cmd.args.split_ascii_whitespace().next().unwrap_or("");
    if rule
        .auth
        .mechanism
        .as_ref()
        .is_some_and(|m| !m.eq_ignore_ascii_case(mechanism))
    {
        return false;
    }
    match credentials {
        // Before the exchange: rules that answer at once, and for a mechanism the server
        // cannot run, any rule that does not look at credentials.
        None => {
            !rule.auth.checks_credentials()
                && (!answers_after_exchange(rule)
                    || !SASL_MECHANISMS.contains(&mechanism.to_ascii_uppercase().as_str()))
        }
        Some(c) => {
            answers_after_exchange(rule)
                && rule.auth.user.as_ref().is_none_or(|u| *u == c.user)
                && rule.auth.password.as_ref().is_none_or(|p| c.proves(p))
        }
    }
}
