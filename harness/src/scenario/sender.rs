//! What drives a scenario from the client side: which senders (`sender appliance lettre curl
//! swaks`, or a `command`), with which settings (an indented block), and what the sender must
//! conclude (`outcome success`, `outcome failure at AUTH 535`).
//!
//! ```text
//! sender appliance lettre curl swaks
//!     encryption starttls          # none | starttls | starttls-opportunistic | tls
//!     auth login                   # none | plain | login | cram-md5
//!     user me@example.com
//!     password itreallywas
//!     from noreply@appliance.test
//!     to admin@example.com
//!     timeout 5s
//!     trust test-ca                # test-ca | self-signed
//!     known swaks: it checks the chain but not the host name
//! outcome failure at AUTH 535
//! ```
//!
//! Outcomes: `success` (the sender says so and a message was accepted), `failure [at STEP]
//! [CODE]` (the sender says it failed; the server's first refusal was at STEP with CODE),
//! `refused cleartext-auth` (it failed without sending AUTH in clear text) and `refused
//! certificate` (it gave up at the TLS handshake).

use std::fmt;
use std::time::Duration;

mod kind;

pub use kind::{AdapterName, SenderKind};

use super::ScenarioError;
use super::keyword_line::{KeywordLine, LineWord};

/// How the sender protects the connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encryption {
    /// Clear text throughout.
    None,
    /// STARTTLS, and give up if the server does not offer it.
    #[default]
    StartTls,
    /// STARTTLS when offered, clear text otherwise.
    StartTlsOpportunistic,
    /// TLS from the first byte (port-465 style).
    Tls,
}

impl Encryption {
    /// The name used in files.
    pub fn name(self) -> &'static str {
        match self {
            Encryption::None => "none",
            Encryption::StartTls => "starttls",
            Encryption::StartTlsOpportunistic => "starttls-opportunistic",
            Encryption::Tls => "tls",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [
            Encryption::None,
            Encryption::StartTls,
            Encryption::StartTlsOpportunistic,
            Encryption::Tls,
        ]
        .into_iter()
        .find(|e| e.name() == name)
    }
}

/// The SASL mechanism the sender is told to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMechanism {
    /// No authentication.
    #[default]
    None,
    /// AUTH PLAIN.
    Plain,
    /// AUTH LOGIN.
    Login,
    /// AUTH CRAM-MD5.
    CramMd5,
}

impl AuthMechanism {
    /// The name used in files and given to adapters (`{auth}`).
    pub fn name(self) -> &'static str {
        match self {
            AuthMechanism::None => "none",
            AuthMechanism::Plain => "plain",
            AuthMechanism::Login => "login",
            AuthMechanism::CramMd5 => "cram-md5",
        }
    }

    /// The SASL name (`PLAIN`, `LOGIN`, `CRAM-MD5`).
    pub fn sasl_name(self) -> &'static str {
        match self {
            AuthMechanism::None => "",
            AuthMechanism::Plain => "PLAIN",
            AuthMechanism::Login => "LOGIN",
            AuthMechanism::CramMd5 => "CRAM-MD5",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [
            AuthMechanism::None,
            AuthMechanism::Plain,
            AuthMechanism::Login,
            AuthMechanism::CramMd5,
        ]
        .into_iter()
        .find(|m| m.name() == name)
    }
}

/// The senders a scenario drives and the settings they all get.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SenderSpec {
    /// 1-based line of the `sender` line.
    pub line: usize,
    /// The senders, in the order written.
    pub senders: Vec<SenderKind>,
    /// Connection protection.
    pub encryption: Encryption,
    /// The mechanism to authenticate with.
    pub auth: AuthMechanism,
    /// User name for AUTH.
    pub user: String,
    /// Password for AUTH.
    #[serde(skip)]
    pub password: String,
    /// The envelope sender and From address.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// How long the sender may take, and its own timeout where it has one.
    pub timeout: Duration,
    /// The certificate the sender trusts.
    pub trust: Trust,
    /// The program for the `command` sender (the inline adapter), with the placeholders of
    /// the sender contract (`{host}`, `{port}`, `{ca}`, `{message}` …, see
    /// [`crate::run::adapters`]); words split like a shell would on spaces, `"…"` keeping
    /// spaces.
    pub command: Option<Vec<String>>,
    /// Senders known not to reach the outcome, each with the reason (`known swaks: …`). Their
    /// runs are reported as known failures, and fail if they start to behave.
    pub known: Vec<(SenderKind, String)>,
}

impl Default for SenderSpec {
    fn default() -> Self {
        SenderSpec {
            line: 0,
            senders: Vec::new(),
            encryption: Encryption::default(),
            auth: AuthMechanism::default(),
            user: String::new(),
            password: String::new(),
            from: "noreply@appliance.test".into(),
            to: vec!["admin@example.com".into()],
            timeout: Duration::from_secs(10),
            trust: Trust::TestCa,
            command: None,
            known: Vec::new(),
        }
    }
}

/// What the sender is told to trust.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trust {
    /// The harness's test CA (`certs/ca.pem`), which signed `valid`, `expired` and `wrong-host`.
    #[default]
    TestCa,
    /// The `self-signed` certificate itself, as an admin who added it to the trusted CA file.
    SelfSigned,
}

impl Trust {
    /// The name used in files.
    pub fn name(self) -> &'static str {
        match self {
            Trust::TestCa => "test-ca",
            Trust::SelfSigned => "self-signed",
        }
    }
}

/// A step of a client's conversation, as the server saw it fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SmtpStep {
    /// The server's greeting (or its absence).
    Greeting,
    /// EHLO or HELO.
    Ehlo,
    /// The STARTTLS command.
    StartTls,
    /// The TLS handshake (certificate refused, protocol error).
    Tls,
    /// AUTH and its exchange.
    Auth,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA, the message and the reply after the final dot (or BDAT).
    Data,
    /// Any other command.
    Other,
}

impl SmtpStep {
    /// The name used in files.
    pub fn name(self) -> &'static str {
        match self {
            SmtpStep::Greeting => "GREETING",
            SmtpStep::Ehlo => "EHLO",
            SmtpStep::StartTls => "STARTTLS",
            SmtpStep::Tls => "TLS",
            SmtpStep::Auth => "AUTH",
            SmtpStep::Mail => "MAIL",
            SmtpStep::Rcpt => "RCPT",
            SmtpStep::Data => "DATA",
            SmtpStep::Other => "OTHER",
        }
    }

    /// The step a command verb belongs to.
    pub fn of_verb(verb: &str) -> Self {
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" | "LHLO" => SmtpStep::Ehlo,
            "STARTTLS" => SmtpStep::StartTls,
            "AUTH" => SmtpStep::Auth,
            "MAIL" => SmtpStep::Mail,
            "RCPT" => SmtpStep::Rcpt,
            "DATA" | "BDAT" => SmtpStep::Data,
            _ => SmtpStep::Other,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [
            SmtpStep::Greeting,
            SmtpStep::Ehlo,
            SmtpStep::StartTls,
            SmtpStep::Tls,
            SmtpStep::Auth,
            SmtpStep::Mail,
            SmtpStep::Rcpt,
            SmtpStep::Data,
        ]
        .into_iter()
        .find(|s| s.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for SmtpStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the sender must conclude.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    /// 1-based line of the `outcome`.
    pub line: usize,
    /// Success, or failure (optionally at a step, with a reply code).
    pub kind: OutcomeKind,
}

/// Success or failure.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// The sender reports success and the server accepted a message.
    Success,
    /// The sender reports failure without ever sending AUTH in clear text
    /// (`outcome refused cleartext-auth`).
    RefusedCleartextAuth,
    /// The sender gave up at the TLS handshake, on the certificate (`outcome refused certificate`).
    RefusedCertificate,
    /// The sender reports failure; if given, the server's first refusal was at `step` with `code`.
    Failure {
        /// Where the server said no (or the handshake failed).
        step: Option<SmtpStep>,
        /// The reply code it said no with.
        code: Option<u16>,
    },
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutcomeKind::Success => f.write_str("success"),
            OutcomeKind::RefusedCleartextAuth => f.write_str("refused cleartext-auth"),
            OutcomeKind::RefusedCertificate => f.write_str("refused certificate"),
            OutcomeKind::Failure {
                step: None,
                code: None,
            } => f.write_str("failure"),
            OutcomeKind::Failure { step, code } => {
                f.write_str("failure")?;
                if let Some(step) = step {
                    write!(f, " at {step}")?;
                }
                if let Some(code) = code {
                    write!(f, " {code}")?;
                }
                Ok(())
            }
        }
    }
}

/// What may follow `sender`.
const SENDER_NAMES: &str =
    "a sender: lettre, curl, swaks, command, or an adapter's name from smtp-harness.toml";

/// Reads the sender names after `sender`.
pub(super) fn parse_senders(line: &KeywordLine<'_>) -> Result<Vec<SenderKind>, ScenarioError> {
    if line.values.is_empty() {
        return Err(line.missing(SENDER_NAMES));
    }
    line.values
        .iter()
        .map(|w| SenderKind::from_name(w.text).ok_or_else(|| line.expected(w, SENDER_NAMES)))
        .collect()
}

/// Applies one indented line of a `sender` block (its key is the line's keyword).
pub(super) fn apply_setting(
    spec: &mut SenderSpec,
    line: &KeywordLine<'_>,
) -> Result<(), ScenarioError> {
    let values = &line.values;
    match line.keyword.text {
        "encryption" => {
            const WHAT: &str = "none, starttls, starttls-opportunistic or tls";
            let v = line.one_value(WHAT)?;
            spec.encryption =
                Encryption::from_name(v.text).ok_or_else(|| line.expected(&v, WHAT))?;
        }
        "auth" => {
            const WHAT: &str = "none, plain, login or cram-md5";
            let v = line.one_value(WHAT)?;
            spec.auth = AuthMechanism::from_name(v.text).ok_or_else(|| line.expected(&v, WHAT))?;
        }
        "user" => spec.user = line.one_value("a user name")?.text.to_owned(),
        "password" => spec.password = line.one_value("a password")?.text.to_owned(),
        "from" => spec.from = line.one_value("an address")?.text.to_owned(),
        "to" => {
            if values.is_empty() {
                return Err(line.missing("one or more addresses"));
            }
            spec.to = values.iter().map(|v| v.text.to_owned()).collect();
        }
        "timeout" => {
            let v = line.one_value("a duration such as 5s")?;
            spec.timeout = super::parse::parse_duration(v.text)
                .ok_or_else(|| line.expected(&v, "a duration such as 500ms, 2s or 1m"))?;
        }
        "trust" => {
            const WHAT: &str = "test-ca or self-signed";
            let v = line.one_value(WHAT)?;
            spec.trust = [Trust::TestCa, Trust::SelfSigned]
                .into_iter()
                .find(|t| t.name() == v.text)
                .ok_or_else(|| line.expected(&v, WHAT))?;
        }
        "known" => known(spec, line)?,
        "run" => {
            if values.is_empty() {
                return Err(line.missing("the program and its arguments"));
            }
            spec.command = Some(values.iter().map(|v| v.text.to_owned()).collect());
        }
        _ => {
            return Err(line.expected(
                &line.keyword,
                "a sender setting: encryption, auth, user, password, from, to, timeout, trust, known or run",
            ));
        }
    }
    Ok(())
}

/// `known swaks, curl: the reason`: the names (built-in senders, or adapters of the sender
/// line), up to the one that ends with `:`, then the reason.
fn known(spec: &mut SenderSpec, line: &KeywordLine<'_>) -> Result<(), ScenarioError> {
    let named = |word: &str| {
        let name = word.trim_end_matches([',', ':']);
        SenderKind::BUILT_IN
            .into_iter()
            .chain(spec.senders.iter().copied())
            .find(|k| k.name() == name)
    };
    let mut names = Vec::new();
    let mut rest = line.values.iter().peekable();
    while let Some(word) = rest.peek() {
        let Some(kind) = named(word.text) else {
            break;
        };
        names.push(kind);
        let last = word.text.ends_with(':');
        rest.next();
        if last {
            break;
        }
    }
    let reason: Vec<&str> = rest.map(|w| w.text).collect();
    if names.is_empty() {
        const WHAT: &str = "the senders that miss the outcome, then the reason: `known swaks: …`";
        return Err(match line.values.first() {
            Some(w) => line.expected(w, WHAT),
            None => line.missing(WHAT),
        });
    }
    if reason.is_empty() {
        return Err(line.missing("a reason after the sender names: `known swaks: …`"));
    }
    for kind in names {
        spec.known.push((kind, reason.join(" ")));
    }
    Ok(())
}

/// Reads the words after `outcome`.
pub(super) fn parse_outcome(line: &KeywordLine<'_>) -> Result<OutcomeKind, ScenarioError> {
    const EXPECTED: &str =
        "`success`, `failure [at STEP] [CODE]`, `refused cleartext-auth` or `refused certificate`";
    const REFUSED: &str = "`cleartext-auth` or `certificate`";
    let end = |w: &LineWord<'_>| w.column + w.text.len() + 1;
    let words: Vec<&str> = line.values.iter().map(|w| w.text).collect();
    let at = |i: usize| &line.values[i];
    match words.as_slice() {
        [] => Err(line.missing(EXPECTED)),
        ["refused", "cleartext-auth"] => Ok(OutcomeKind::RefusedCleartextAuth),
        ["refused", "certificate"] => Ok(OutcomeKind::RefusedCertificate),
        ["refused", what, ..] if !matches!(*what, "cleartext-auth" | "certificate") => {
            Err(line.expected(at(1), REFUSED))
        }
        ["refused", _, _, ..] => Err(line.expected(at(2), "the end of the line")),
        ["refused"] => Err(line.error_at(end(at(0)), REFUSED, "")),
        ["success"] => Ok(OutcomeKind::Success),
        ["success", ..] => Err(line.expected(at(1), "the end of the line")),
        ["failure", ..] => {
            let mut rest = line.values[1..].iter();
            let mut step = None;
            let mut code = None;
            let mut next = rest.next();
            if next.is_some_and(|w| w.text == "at") {
                let name = rest
                    .next()
                    .ok_or_else(|| line.error_at(line.after_keyword(), "a step after `at`", ""))?;
                step = Some(SmtpStep::from_name(name.text).ok_or_else(|| {
                    line.expected(
                        name,
                        "a step: GREETING, EHLO, STARTTLS, TLS, AUTH, MAIL, RCPT or DATA",
                    )
                })?);
                next = rest.next();
            }
            if let Some(w) = next {
                let parsed = w
                    .text
                    .parse::<u16>()
                    .ok()
                    .filter(|c| (400..=599).contains(c));
                code =
                    Some(parsed.ok_or_else(|| line.expected(w, "a reply code from 400 to 599"))?);
                if let Some(extra) = rest.next() {
                    return Err(line.expected(extra, "the end of the line"));
                }
            }
            Ok(OutcomeKind::Failure { step, code })
        }
        _ => Err(line.expected(at(0), EXPECTED)),
    }
}
