//! Scenario files: what the fake server plays, written by hand or made from a customer's log.
//!
//! A scenario has up to three parts, all optional:
//!
//! 1. **A linear script** of top-level steps, the shape a replayed log takes: `S:` lines the server
//!    sends verbatim (consecutive lines form one or more replies), `C:` lines it then waits for (glob
//!    patterns: `*` any text, `?` one character, case ignored), `tls` (the TLS handshake, after the
//!    `220` to `STARTTLS`), `pause 2s`, `close`, and `raw "…"` (bytes sent as they are, with
//!    `\r`, `\n`, `\t`, `\\`, `\"` and `\xNN` escapes: a non-SMTP server, a response injection).
//!    The first steps are the greeting.
//! 2. **Reactive rules**, `when VERB [args-glob] [#N] [connection=N] [tls|plain]
//!    [advertised|unadvertised]` with an indented body of `S:` lines
//!    (and `tls`, `pause`, `close`). AUTH rules may add `MECHANISM`, `user=…` and `password=…`; they
//!    are judged once the SASL exchange (the 334 challenges) is over. Rules answer what the script
//!    does not (after it ends, or once the client strays from it); the first matching rule wins.
//! 3. **Expectations** about the client: `expect STARTTLS before AUTH`, `expect QUIT after 535`,
//!    `expect no DATA`, `expect messages 1`, `expect AUTH times 1`, `expect closed by client`.
//!
//! With `role client` the scenario plays a remote MTA instead (`smtp-harness send`): `C:` lines
//! are sent, each `S:` line is a glob one reply (its last line) must match, `message FILE` sends
//! a message file dot-stuffed, `slow 5ms` writes byte by byte, and `raw`, `tls`, `pause` and
//! `close` work as for the server.
//!
//! For `smtp-harness run`, a `sender` block names the senders that drive the scenario and their
//! settings, and `outcome` what they must conclude (see [`SenderSpec`]).
//!
//! A file may end in `case NAME` sections (a vendor persona and its failures, see
//! [`ScenarioFile`]): each case adds rules tried before the ones above, expectations, a `sender`
//! override and its own `outcome`.
//!
//! Anything neither scripted nor ruled gets sane RFC 5321 behaviour from the server, in
//! Postfix's wording, or in RFC 5321's neutral wording with `wording rfc` (see [`Wording`]);
//! `default SITUATION` blocks give a scenario's own reply for a situation the server answers
//! by itself (`default unrecognized`, `default sequence`, … see [`Situation`]). Settings come
//! first: `name`, `hostname`, `certificate VARIANT` (see [`crate::certs::CertVariant`]),
//! `implicit-tls`, `timeout 30s` (idle timeout), `size N` (the SIZE limit) and `wording`.
//!
//! An `S:` line is sent as written, without trailing white space; to send a line with it (Postfix's
//! smtp-sink ends its EHLO list with `250 `), quote it: `S: "250 "` (with the escapes of `raw`).
//!
//! ```text
//! name Gmail rejects the password
//! certificate valid
//! S: 220 smtp.gmail.com ESMTP ready
//! when AUTH user=alice password=s3cret
//!     S: 235 2.7.0 Accepted
//! when AUTH
//!     S: 535 5.7.8 Username and Password not accepted.
//! expect STARTTLS before AUTH
//! ```

mod builder;
mod keyword_line;
mod parse;
mod receiver;
mod sender;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::certs::CertVariant;
use crate::pattern::Pattern;
use crate::reply::Reply;

pub use builder::{RuleBuilder, ScenarioBuilder};
pub(crate) use parse::parse_duration;
pub use parse::{parse, parse_cases};
pub use receiver::{ReceiverSetting, ReceiverSpec};
pub use sender::{
    AdapterName, AuthMechanism, Encryption, Outcome, OutcomeKind, SenderKind, SenderSpec, SmtpStep,
    Trust,
};

/// Host name used in default replies when a scenario names none.
pub const DEFAULT_HOSTNAME: &str = "smtp.harness.test";
/// Idle timeout when a scenario sets none: a silent client gets `421` after this long.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// SIZE limit advertised and enforced by default (10 MiB).
pub const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024;

/// A validated scenario, ready to be served.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Scenario {
    /// A short human name (the `name` setting, or the file stem).
    pub name: String,
    /// The file it came from, if any.
    pub path: Option<PathBuf>,
    /// Host name used in default replies.
    pub hostname: String,
    /// The certificate presented for STARTTLS and implicit TLS, if any.
    pub certificate: Option<CertVariant>,
    /// TLS from the first byte (the port-465 style) instead of STARTTLS.
    pub implicit_tls: bool,
    /// How long the server waits for the client before `421` and closing.
    pub idle_timeout: Duration,
    /// The message size limit (advertised in the default EHLO reply and enforced).
    pub max_size: u64,
    /// The linear script, in order.
    pub script: Vec<Step>,
    /// Reactive rules, in file order (the first match wins).
    pub rules: Vec<Rule>,
    /// Expectations about the client, checked per connection.
    pub expectations: Vec<Expectation>,
    /// The senders that drive this scenario in `smtp-harness run`, and their settings.
    pub sender: Option<SenderSpec>,
    /// What the sender must conclude.
    pub outcome: Option<Outcome>,
    /// Which side the scenario plays: the server (default) or the client (`role client`).
    pub role: Role,
    /// Client role: what `smtp-harness run` starts to receive the conversation.
    pub receiver: Option<ReceiverSpec>,
    /// The `case` section this scenario was made from (a persona combined with a failure,
    /// `bad-password`), if any.
    pub case: Option<String>,
    /// Whose wording the built-in replies use (`wording postfix|rfc`).
    pub wording: Wording,
    /// Replies the scenario gives for situations the server answers by itself
    /// (`default unrecognized` …), in file order.
    pub defaults: Vec<DefaultReply>,
}

/// Whose wording the server's built-in replies use, for whatever a scenario does not script.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Wording {
    /// Postfix's texts (`500 5.5.2 Error: command not recognized`), checked against Debian's
    /// Postfix 3.7: the harness's default, a familiar server for any client.
    #[default]
    Postfix,
    /// The neutral texts of RFC 5321 section 4.2 (`500 5.5.2 Syntax error, command
    /// unrecognized`): for a persona of a server whose own texts were not published, so that
    /// it never speaks with another vendor's words.
    Rfc,
}

/// A situation the server answers by itself, whose reply a `default` block can give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Situation {
    /// A command the server does not know (`500`).
    Unrecognized,
    /// A command the server knows but does not offer (`502`).
    NotImplemented,
    /// Arguments that do not parse (`501`).
    Syntax,
    /// A command out of order (`503`): MAIL before HELO, RCPT before MAIL, DATA before RCPT …
    /// (the finer situations below, when given, win for their case).
    Sequence,
    /// MAIL (or AUTH) before HELO/EHLO.
    NeedHelo,
    /// RCPT before MAIL.
    NeedMail,
    /// DATA or BDAT without an accepted recipient (Postfix: `554 … no valid recipients`).
    NeedRcpt,
    /// MAIL inside a transaction.
    NestedMail,
    /// A MAIL or RCPT parameter the EHLO reply did not advertise (`555`).
    Parameter,
    /// A command line over 512 octets (`500`).
    LineTooLong,
    /// The client was silent for the idle timeout (`421`, then the server closes).
    Timeout,
    /// The server is shutting down (`421`).
    Shutdown,
    /// The final reply to an accepted message (`250 … queued as …`).
    Queued,
}

impl Situation {
    /// Every situation, in the order the docs list them.
    pub const ALL: [Situation; 13] = [
        Situation::Unrecognized,
        Situation::NotImplemented,
        Situation::Syntax,
        Situation::Sequence,
        Situation::NeedHelo,
        Situation::NeedMail,
        Situation::NeedRcpt,
        Situation::NestedMail,
        Situation::Parameter,
        Situation::LineTooLong,
        Situation::Timeout,
        Situation::Shutdown,
        Situation::Queued,
    ];

    /// The name a `default` block uses.
    pub fn name(self) -> &'static str {
        match self {
            Situation::Unrecognized => "unrecognized",
            Situation::NotImplemented => "not-implemented",
            Situation::Syntax => "syntax",
            Situation::Sequence => "sequence",
            Situation::NeedHelo => "need-helo",
            Situation::NeedMail => "need-mail",
            Situation::NeedRcpt => "need-rcpt",
            Situation::NestedMail => "nested-mail",
            Situation::Parameter => "parameter",
            Situation::LineTooLong => "line-too-long",
            Situation::Timeout => "timeout",
            Situation::Shutdown => "shutdown",
            Situation::Queued => "queued",
        }
    }

    /// The situation a `default` block names.
    pub fn from_name(name: &str) -> Option<Situation> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// `default SITUATION` with its reply: what the scenario says instead of the built-in text.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DefaultReply {
    /// 1-based line of the `default`.
    pub line: usize,
    /// When it is used.
    pub situation: Situation,
    /// What is sent.
    pub reply: Reply,
}

/// Which side of the conversation a scenario plays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The fake server: `S:` lines are sent, `C:` lines are awaited.
    #[default]
    Server,
    /// A remote MTA (`smtp-harness send`): `C:` lines are sent, `S:` lines are globs the
    /// server's replies must match (each `S:` one reply, matched on its last line).
    Client,
}

/// One step of the linear script, with the line it was written on.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Step {
    /// 1-based line in the scenario file.
    pub line: usize,
    /// What the step does.
    pub kind: StepKind,
}

/// What a script step does.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Send one reply, verbatim.
    Send(Reply),
    /// Send these bytes as they are, reply syntax or not (`raw "…"`).
    Raw(Vec<u8>),
    /// Wait for one client line matching the pattern.
    Expect(Pattern),
    /// Run the server side of a TLS handshake.
    Tls,
    /// Wait before the next step.
    Pause(Duration),
    /// Close the connection.
    Close,
    /// Client role: send the message in this file (relative to the scenario's folder),
    /// dot-stuffed, then the final `.` line.
    Message(String),
    /// Client role: from now on write one byte at a time with this delay between bytes
    /// (`slow 0ms` stops it).
    Slow(Duration),
}

/// What a rule (or the script) does in reply.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send this reply.
    Reply(Reply),
    /// Send these bytes as they are (`raw "…"`).
    Raw(Vec<u8>),
    /// Run the server side of a TLS handshake.
    Tls,
    /// Wait this long.
    Pause(Duration),
    /// Close the connection.
    Close,
}

/// A reactive rule: `when VERB …` and its actions.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Rule {
    /// 1-based line of the `when`.
    pub line: usize,
    /// The command verb (`RCPT`).
    pub verb: crate::wire::Verb,
    /// A glob over the command's arguments (the text after the verb), if given.
    pub args: Option<Pattern>,
    /// Match only the Nth command with this verb in the connection (1-based).
    pub nth: Option<u32>,
    /// Match only on the Nth connection to the server (from 1): `connection=2`.
    pub connection: Option<u64>,
    /// `Some(true)`: only inside TLS; `Some(false)`: only in clear text.
    pub tls: Option<bool>,
    /// `Some(false)` (`unadvertised`): only when the last EHLO reply did not offer the command's
    /// extension (STARTTLS, AUTH, CHUNKING for BDAT …), or after HELO; `Some(true)`
    /// (`advertised`): only when it did.
    pub advertised: Option<bool>,
    /// Conditions on AUTH (mechanism and credentials).
    pub auth: AuthCondition,
    /// What to do, in order.
    pub actions: Vec<Action>,
}

/// Conditions of an AUTH rule, judged after the SASL exchange.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuthCondition {
    /// The SASL mechanism, upper case.
    pub mechanism: Option<String>,
    /// The user name the client must give.
    pub user: Option<String>,
    /// The password (or XOAUTH2 token) the client must prove.
    #[serde(skip)]
    pub password: Option<String>,
}

impl AuthCondition {
    /// `true` if the rule looks at the credentials.
    pub fn checks_credentials(&self) -> bool {
        self.user.is_some() || self.password.is_some()
    }
}

impl Rule {
    /// A rule for `verb` written at `line`, with no condition and no action yet.
    pub fn new(line: usize, verb: crate::wire::Verb) -> Self {
        Rule {
            line,
            verb,
            args: None,
            nth: None,
            connection: None,
            tls: None,
            advertised: None,
            auth: AuthCondition::default(),
            actions: Vec::new(),
        }
    }

    /// `true` if the rule matches every command with its verb.
    pub fn is_catch_all(&self) -> bool {
        self.args.as_ref().is_none_or(Pattern::matches_everything)
            && self.nth.is_none()
            && self.connection.is_none()
            && self.tls.is_none()
            && self.advertised.is_none()
            && self.auth == AuthCondition::default()
    }
}

/// Something the client must (or must not) have done in a connection.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Expectation {
    /// 1-based line of the `expect`.
    pub line: usize,
    /// The expectation as written, for reports.
    pub text: String,
    /// What it checks.
    pub kind: ExpectationKind,
}

/// The kinds of expectation.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectationKind {
    /// The event happens at least once, or exactly `times` times.
    Occurs {
        /// What must happen.
        event: Atom,
        /// Exact count, if given.
        times: Option<u32>,
    },
    /// The event never happens.
    Never(Atom),
    /// If `later` happens, `first` happened before its first occurrence.
    Before {
        /// What must come first.
        first: Atom,
        /// What it must precede.
        later: Atom,
    },
    /// `anchor` happens, and `then` happens after it.
    After {
        /// What must follow.
        then: Atom,
        /// What it must follow.
        anchor: Atom,
    },
    /// Exactly this many messages were accepted in the connection.
    Messages(u32),
    /// The connection was closed by this side.
    ClosedBy(crate::transcript::Closer),
    /// Client role, an effect on the receiver's side: exactly `count` files under the effects
    /// folder whose path (relative, `/`-separated) matches `glob`.
    Files {
        /// Glob over relative paths, e.g. `mail/reply/new/*`.
        glob: Pattern,
        /// How many such files there must be.
        count: u32,
    },
    /// Client role, an effect on the receiver's side: some line of `file` (relative to the
    /// effects folder) matches `glob`.
    LogLine {
        /// The file, e.g. `logs/mail.log`.
        file: String,
        /// Glob one of its lines must match.
        glob: Pattern,
    },
}

/// An event an expectation speaks of.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Atom {
    /// A TLS session started.
    Tls,
    /// The server sent a reply with this code.
    Reply(u16),
    /// The client sent a command with this verb.
    Verb(String),
    /// The client sent a command line matching this glob.
    Line(Pattern),
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The text does not follow the scenario grammar.
    #[error("{path}:{line}:{column}: expected {expected}, found {found}")]
    Syntax {
        /// The file (or `<inline>`).
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected there.
        expected: String,
        /// What it found, quoted.
        found: String,
    },
    /// The scenario is well-formed but cannot be played.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file (or `<inline>`).
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong and how to mend it.
        message: String,
    },
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl Scenario {
    /// Reads and validates a scenario file.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file, line and column and what was expected.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let path = path.as_ref();
        let text = read(path)?;
        let mut scenario = parse(&text, &path.display().to_string())?;
        scenario.name_after(path);
        Ok(scenario)
    }

    /// Records the file a scenario came from, and names it after the file if it has no name.
    fn name_after(&mut self, path: &Path) {
        self.path = Some(path.to_path_buf());
        if self.name.is_empty() {
            self.name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
    }

    /// Reads a file and returns its case `case` combined with the persona (the part above
    /// the first `case` line): "gmail, bad password" is
    /// `Scenario::from_file_case("scenarios/vendors/gmail.scn", "bad-password")`.
    ///
    /// # Errors
    /// [`ScenarioError`] for a broken file, or [`ScenarioError::Invalid`] if it has no such
    /// case (the message lists the cases it has).
    pub fn from_file_case(path: impl AsRef<Path>, case: &str) -> Result<Self, ScenarioError> {
        let path = path.as_ref();
        let file = ScenarioFile::from_file(path)?;
        let names = file.case_names().join(", ");
        file.cases
            .into_iter()
            .find(|c| c.case.as_deref() == Some(case))
            .ok_or_else(|| ScenarioError::Invalid {
                path: path.display().to_string(),
                line: 1,
                message: if names.is_empty() {
                    format!("no case `{case}`: the file has no `case` sections")
                } else {
                    format!("no case `{case}`: the file has {names}")
                },
            })
    }

    /// Parses and validates scenario text (`origin` names it in errors, e.g. `<inline>`).
    ///
    /// # Errors
    /// [`ScenarioError`] naming the line and column and what was expected.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        parse(text, origin)
    }

    /// A scenario with no script, rules or expectations: sane default behaviour throughout.
    pub fn accept_all() -> Self {
        Scenario {
            name: "accept-all".into(),
            path: None,
            hostname: DEFAULT_HOSTNAME.into(),
            certificate: None,
            implicit_tls: false,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_size: DEFAULT_MAX_SIZE,
            script: Vec::new(),
            rules: Vec::new(),
            expectations: Vec::new(),
            sender: None,
            outcome: None,
            role: Role::Server,
            receiver: None,
            case: None,
            wording: Wording::Postfix,
            defaults: Vec::new(),
        }
    }

    /// `true` if the scenario ever runs a TLS handshake.
    pub fn uses_tls(&self) -> bool {
        self.implicit_tls
            || self.script.iter().any(|s| s.kind == StepKind::Tls)
            || self.rules.iter().any(|r| r.actions.contains(&Action::Tls))
    }
}

/// How a reply line is written after `S: ` so that it reads back byte for byte: as it is, or
/// quoted with escapes when it ends in white space or holds control characters (`"250 "`, as
/// Postfix's smtp-sink ends its EHLO list), or starts with a quote.
pub fn reply_line_text(line: &str) -> String {
    let plain =
        line.trim_end() == line && !line.starts_with('"') && !line.chars().any(char::is_control);
    if plain {
        return line.to_owned();
    }
    let mut out = String::from("\"");
    for c in line.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Reads a scenario file's text, naming the file in the error.
fn read(path: &Path) -> Result<String, ScenarioError> {
    std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// A scenario file with `case` sections: a vendor persona and the failures it combines with.
///
/// The part above the first `case NAME` line is the persona (greeting, EHLO lists, AUTH,
/// the vendor's replies); each case adds `when` rules that are tried before the persona's,
/// `expect` lines, a `sender` override and its `outcome`. A file without `case` lines is a
/// persona with no cases.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioFile {
    /// The scenario above the first `case` line, on its own.
    pub persona: Scenario,
    /// Each case combined with the persona, in file order.
    pub cases: Vec<Scenario>,
}

impl ScenarioFile {
    /// Reads and validates a file, its persona and every case.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file, line and column and what was expected.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let path = path.as_ref();
        let text = read(path)?;
        let mut file = parse_cases(&text, &path.display().to_string())?;
        file.persona.name_after(path);
        for case in &mut file.cases {
            case.name_after(path);
        }
        Ok(file)
    }

    /// The names of the cases, in file order.
    pub fn case_names(&self) -> Vec<&str> {
        self.cases
            .iter()
            .filter_map(|c| c.case.as_deref())
            .collect()
    }
}

impl std::str::FromStr for Scenario {
    type Err = ScenarioError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse(text, "<inline>")
    }
}
