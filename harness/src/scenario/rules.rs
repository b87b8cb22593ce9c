//! Reactive rules: `when VERB …` with their conditions and the actions that answer.

use super::Action;
use crate::pattern::Pattern;
use crate::wire::Verb;

/// A reactive rule: `when VERB …` and its actions.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Rule {
    /// 1-based line of the `when`.
    pub line: usize,
    /// The command verb (`RCPT`).
    pub verb: Verb,
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
    pub fn new(line: usize, verb: Verb) -> Self {
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
