//! [`ServerScenario`]: what the fake server plays.

use super::{
    Action, DEFAULT_MAX_SIZE, DefaultReply, Expectation, Header, Outcome, Rule, SenderSpec, Step,
    StepKind, Wording,
};

/// A validated server scenario, ready to be served by [`crate::FakeSmtpServer`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ServerScenario {
    /// Name, origin, host name, TLS, idle timeout, case.
    #[serde(flatten)]
    pub header: Header,
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
    /// Whose wording the built-in replies use (`wording postfix|rfc`).
    pub wording: Wording,
    /// Replies the scenario gives for situations the server answers by itself
    /// (`default unrecognized` …), in file order.
    pub defaults: Vec<DefaultReply>,
}

impl ServerScenario {
    /// A scenario with no script, rules or expectations: sane default behaviour throughout.
    pub fn accept_all() -> Self {
        ServerScenario {
            header: Header {
                name: "accept-all".into(),
                ..Header::default()
            },
            max_size: DEFAULT_MAX_SIZE,
            script: Vec::new(),
            rules: Vec::new(),
            expectations: Vec::new(),
            sender: None,
            outcome: None,
            wording: Wording::Postfix,
            defaults: Vec::new(),
        }
    }

    /// `true` if the scenario ever runs a TLS handshake.
    pub fn uses_tls(&self) -> bool {
        self.header.implicit_tls
            || self.script.iter().any(|s| s.kind == StepKind::Tls)
            || self.rules.iter().any(|r| r.actions.contains(&Action::Tls))
    }
}
