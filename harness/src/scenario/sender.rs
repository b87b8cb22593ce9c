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

/// A sender the harness can drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderKind {
    /// The appliance's own sender (`appliance email test`), run as a program.
    Appliance,
    /// lettre, in process.
    Lettre,
    /// curl, with an `smtp://` or `smtps://` URL.
    Curl,
    /// swaks.
    Swaks,
    /// A program given by the scenario's `run` line.
    Command,
}

impl SenderKind {
    /// Every sender, in matrix order.
    pub const ALL: [SenderKind; 5] = [
        SenderKind::Appliance,
        SenderKind::Lettre,
        SenderKind::Curl,
        SenderKind::Swaks,
        SenderKind::Command,
    ];

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SenderKind::Appliance => "appliance",
            SenderKind::Lettre => "lettre",
            SenderKind::Curl => "curl",
            SenderKind::Swaks => "swaks",
            SenderKind::Command => "command",
        }
    }

    /// The sender with this name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for SenderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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
    /// The name used in files (and in the appliance's settings).
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
    /// The senders, in the order written; the first is the default.
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
    /// The program for the `command` sender, with `{host}`, `{port}`, `{ca}`, `{user}`,
    /// `{password}`, `{from}`, `{to}` and `{message}` placeholders; words split like a shell
    /// would on spaces, `"…"` keeping spaces.
    pub command: Option<Vec<String>>,
    /// Senders known not to reach the outcome, each with the reason (`known swaks: …`). Their
    /// runs are reported as known failures, and fail if they start to behave.
    pub known: Vec<(SenderKind, String)>,
}

impl Default for SenderSpec {
    fn default() -> Self {
        SenderSpec {
            line: 0,
            senders: vec![SenderKind::Appliance],
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

/// A problem in a `sender` or `outcome` line: (column offset in words, expected, found).
pub(super) type Problem<'a> = (usize, String, &'a str);

/// Reads the sender names after `sender`.
pub(super) fn parse_senders<'a>(
    words: &[(usize, &'a str)],
) -> Result<Vec<SenderKind>, Problem<'a>> {
    const EXPECTED: &str = "a sender: appliance, lettre, curl, swaks or command";
    if words.is_empty() {
        return Err((0, EXPECTED.into(), ""));
    }
    words
        .iter()
        .map(|(col, w)| SenderKind::from_name(w).ok_or((*col, EXPECTED.into(), *w)))
        .collect()
}

/// Applies one indented line of a `sender` block.
pub(super) fn apply_setting<'a>(
    spec: &mut SenderSpec,
    words: &[(usize, &'a str)],
) -> Result<(), Problem<'a>> {
    let (col, key) = words[0];
    let values = &words[1..];
    let one = |what: &str| -> Result<(usize, &'a str), Problem<'a>> {
        match values {
            [v] => Ok(*v),
            [] => Err((col + key.len() + 1, what.to_owned(), "")),
            [_, extra, ..] => Err((extra.0, "the end of the line".into(), extra.1)),
        }
    };
    match key {
        "encryption" => {
            let (c, v) = one("none, starttls, starttls-opportunistic or tls")?;
            spec.encryption = Encryption::from_name(v).ok_or((
                c,
                "none, starttls, starttls-opportunistic or tls".into(),
                v,
            ))?;
        }
        "auth" => {
            let (c, v) = one("none, plain, login or cram-md5")?;
            spec.auth = AuthMechanism::from_name(v).ok_or((
                c,
                "none, plain, login or cram-md5".into(),
                v,
            ))?;
        }
        "user" => spec.user = one("a user name")?.1.to_owned(),
        "password" => spec.password = one("a password")?.1.to_owned(),
        "from" => spec.from = one("an address")?.1.to_owned(),
        "to" => {
            if values.is_empty() {
                return Err((col + 3, "one or more addresses".into(), ""));
            }
            spec.to = values.iter().map(|(_, v)| (*v).to_owned()).collect();
        }
        "timeout" => {
            let (c, v) = one("a duration such as 5s")?;
            spec.timeout = super::parse::parse_duration(v).ok_or((
                c,
                "a duration such as 500ms, 2s or 1m".into(),
                v,
            ))?;
        }
        "trust" => {
            let (c, v) = one("test-ca or self-signed")?;
            spec.trust = [Trust::TestCa, Trust::SelfSigned]
                .into_iter()
                .find(|t| t.name() == v)
                .ok_or((c, "test-ca or self-signed".into(), v))?;
        }
        "known" => {
            let mut names = Vec::new();
            let mut rest = values.iter().peekable();
            while let Some((_, word)) = rest.peek() {
                let Some(kind) = SenderKind::from_name(word.trim_end_matches([',', ':'])) else {
                    break;
                };
                names.push(kind);
                let last = word.ends_with(':');
                rest.next();
                if last {
                    break;
                }
            }
            let reason: Vec<&str> = rest.map(|(_, w)| *w).collect();
            if names.is_empty() {
                let (c, w) = values.first().copied().unwrap_or((col + 6, ""));
                return Err((
                    c,
                    "the senders that miss the outcome, then the reason: `known swaks: …`".into(),
                    w,
                ));
            }
            if reason.is_empty() {
                return Err((
                    col + key.len() + 1,
                    "a reason after the sender names: `known swaks: …`".into(),
                    "",
                ));
            }
            for kind in names {
                spec.known.push((kind, reason.join(" ")));
            }
        }
        "run" => {
            if values.is_empty() {
                return Err((col + 4, "the program and its arguments".into(), ""));
            }
            spec.command = Some(values.iter().map(|(_, v)| (*v).to_owned()).collect());
        }
        other => {
            return Err((
                col,
                "a sender setting: encryption, auth, user, password, from, to, timeout, trust, known or run"
                    .into(),
                other,
            ));
        }
    }
    Ok(())
}

/// Reads the words after `outcome`.
pub(super) fn parse_outcome<'a>(
    words: &[(usize, &'a str)],
    end: usize,
) -> Result<OutcomeKind, Problem<'a>> {
    const EXPECTED: &str =
        "`success`, `failure [at STEP] [CODE]`, `refused cleartext-auth` or `refused certificate`";
    match words {
        [] => Err((end, EXPECTED.into(), "")),
        [(_, "refused"), (_, "cleartext-auth")] => Ok(OutcomeKind::RefusedCleartextAuth),
        [(_, "refused"), (_, "certificate")] => Ok(OutcomeKind::RefusedCertificate),
        [(_, "refused"), (c, what), ..] if !matches!(*what, "cleartext-auth" | "certificate") => {
            Err((*c, "`cleartext-auth` or `certificate`".into(), what))
        }
        [(_, "refused"), _, (c, extra), ..] => Err((*c, "the end of the line".into(), extra)),
        [(_, "refused")] => Err((end + 8, "`cleartext-auth` or `certificate`".into(), "")),
        [(_, "success")] => Ok(OutcomeKind::Success),
        [(_, "success"), (c, extra), ..] => Err((*c, "the end of the line".into(), extra)),
        [(_, "failure"), rest @ ..] => {
            let mut rest = rest.iter();
            let mut step = None;
            let mut code = None;
            let mut next = rest.next();
            if let Some((_, "at")) = next {
                let (c, name) = rest
                    .next()
                    .ok_or((end, "a step after `at`".to_owned(), ""))?;
                step = Some(SmtpStep::from_name(name).ok_or((
                    *c,
                    "a step: GREETING, EHLO, STARTTLS, TLS, AUTH, MAIL, RCPT or DATA".to_owned(),
                    *name,
                ))?);
                next = rest.next();
            }
            if let Some((c, text)) = next {
                let parsed = text.parse::<u16>().ok().filter(|c| (400..=599).contains(c));
                code =
                    Some(parsed.ok_or((*c, "a reply code from 400 to 599".to_owned(), *text))?);
                if let Some((c, extra)) = rest.next() {
                    return Err((*c, "the end of the line".into(), extra));
                }
            }
            Ok(OutcomeKind::Failure { step, code })
        }
        [(c, other), ..] => Err((*c, EXPECTED.into(), other)),
    }
}
