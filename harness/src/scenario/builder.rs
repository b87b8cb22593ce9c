//! Building a scenario in Rust instead of a file: the same model, checked by the same
//! validation when [`ScenarioBuilder::build`] is called.
//!
//! ```
//! use smtp_harness::scenario::{Rule, ServerScenario};
//! use smtp_harness::{CertVariant, Reply};
//!
//! let scenario = ServerScenario::builder()
//!     .name("gmail, bad password")
//!     .certificate(CertVariant::Valid)
//!     .send(Reply::new(220, "smtp.gmail.com ESMTP ready"))
//!     .rule(Rule::when("AUTH").user("alice").password("s3cret").reply(Reply::new(235, "2.7.0 Accepted")))
//!     .rule(Rule::when("AUTH").reply(Reply::multi(535, ["5.7.8 Username and Password not accepted.", "5.7.8 Learn more"])))
//!     .rule(Rule::when("RCPT").nth(2).reply(Reply::new(452, "4.5.3 Too many recipients")))
//!     .expect("STARTTLS before AUTH")
//!     .build()?;
//! assert_eq!(scenario.rules.len(), 3);
//! # Ok::<(), smtp_harness::ScenarioError>(())
//! ```

use std::time::Duration;

use super::{Action, Rule, ScenarioError, ServerScenario, Step, StepKind};
use crate::certs::CertVariant;
use crate::pattern::Pattern;
use crate::reply::Reply;
use crate::wire::Verb;

/// Where errors of built scenarios point (there is no file).
const ORIGIN: &str = "<builder>";

/// Builds a [`ServerScenario`] step by step; see the module docs.
#[derive(Debug)]
#[must_use = "call .build() to get the scenario"]
pub struct ScenarioBuilder {
    scenario: ServerScenario,
    expectations: Vec<String>,
}

impl ServerScenario {
    /// A builder for a scenario made in Rust (everything optional: defaults throughout).
    pub fn builder() -> ScenarioBuilder {
        let mut scenario = ServerScenario::accept_all();
        scenario.header.name = "built in Rust".into();
        ScenarioBuilder {
            scenario,
            expectations: Vec::new(),
        }
    }
}

impl ScenarioBuilder {
    /// A short human name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.scenario.header.name = name.into();
        self
    }

    /// The host name used in default replies.
    pub fn hostname(mut self, hostname: impl Into<String>) -> Self {
        self.scenario.header.hostname = hostname.into();
        self
    }

    /// The certificate presented for STARTTLS and implicit TLS.
    pub fn certificate(mut self, variant: CertVariant) -> Self {
        self.scenario.header.certificate = Some(variant);
        self
    }

    /// TLS from the first byte (the port-465 style).
    pub fn implicit_tls(mut self) -> Self {
        self.scenario.header.implicit_tls = true;
        self
    }

    /// How long the server waits for the client before `421` and closing.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.scenario.header.idle_timeout = timeout;
        self
    }

    /// The message size limit.
    pub fn max_size(mut self, octets: u64) -> Self {
        self.scenario.max_size = octets;
        self
    }

    fn step(mut self, kind: StepKind) -> Self {
        self.scenario.script.push(Step { line: 0, kind });
        self
    }

    /// Script: send this reply (the first one is the greeting).
    pub fn send(self, reply: Reply) -> Self {
        self.step(StepKind::Send(reply))
    }

    /// Script: wait for a client line matching this glob (`*`, `?`, case ignored).
    pub fn expect_line(self, pattern: &str) -> Self {
        self.step(StepKind::Expect(Pattern::new(pattern)))
    }

    /// Script: run the TLS handshake.
    pub fn tls(self) -> Self {
        self.step(StepKind::Tls)
    }

    /// Script: wait before the next step.
    pub fn pause(self, duration: Duration) -> Self {
        self.step(StepKind::Pause(duration))
    }

    /// Script: close the connection.
    pub fn close(self) -> Self {
        self.step(StepKind::Close)
    }

    /// Adds a reactive rule (tried in the order added).
    pub fn rule(mut self, rule: impl Into<Rule>) -> Self {
        self.scenario.rules.push(rule.into());
        self
    }

    /// Adds an expectation written as in a file, without the `expect` keyword:
    /// `"STARTTLS before AUTH"`, `"no DATA"`, `"messages 1"`, `"QUIT after 535"`.
    pub fn expect(mut self, expectation: impl Into<String>) -> Self {
        self.expectations.push(expectation.into());
        self
    }

    /// Checks the scenario as a file would be checked.
    ///
    /// # Errors
    /// [`ScenarioError`] pointing at `<builder>`: a malformed expectation or a scenario that
    /// cannot be played (a rule without actions, TLS without a certificate …).
    pub fn build(mut self) -> Result<ServerScenario, ScenarioError> {
        for (i, text) in self.expectations.iter().enumerate() {
            let parsed = ServerScenario::parse(&format!("expect {text}\n"), ORIGIN)?;
            for mut exp in parsed.expectations {
                exp.line = i + 1;
                self.scenario.expectations.push(exp);
            }
        }
        if self.scenario.rules.iter().any(|r| r.verb == Verb::Unknown) {
            return Err(ScenarioError::Invalid {
                path: ORIGIN.into(),
                line: 0,
                message: format!(
                    "a rule names a command the server does not know (known: {})",
                    Verb::RULE_VERBS.map(Verb::as_str).join(", ")
                ),
            });
        }
        if let Some(rule) = self.scenario.rules.iter().find(|r| r.actions.is_empty()) {
            return Err(ScenarioError::Invalid {
                path: ORIGIN.into(),
                line: 0,
                message: format!("the rule for {} has no reply or action", rule.verb),
            });
        }
        super::validate::server(&self.scenario, ORIGIN, 0)?;
        Ok(self.scenario)
    }
}

/// Builds a [`Rule`]: `Rule::when("RCPT").nth(2).reply(Reply::new(452, "…"))`.
#[derive(Debug, Clone)]
#[must_use = "give the rule to ScenarioBuilder::rule"]
pub struct RuleBuilder {
    rule: Rule,
}

impl Rule {
    /// A rule for commands with this verb (`"RCPT"`, `"AUTH"` …, any case); an unknown verb
    /// makes [`ScenarioBuilder::build`] fail.
    pub fn when(verb: &str) -> RuleBuilder {
        RuleBuilder {
            rule: Rule::new(
                0,
                Verb::of_rule(&verb.to_ascii_uppercase()).unwrap_or(Verb::Unknown),
            ),
        }
    }
}

impl RuleBuilder {
    /// Only commands whose arguments match this glob (`"TO:<*@other.example>"`).
    pub fn args(mut self, pattern: &str) -> Self {
        self.rule.args = Some(Pattern::new(pattern));
        self
    }

    /// Only the Nth command with this verb in a connection (from 1).
    pub fn nth(mut self, n: u32) -> Self {
        self.rule.nth = Some(n);
        self
    }

    /// Only on the Nth connection to the server (from 1).
    pub fn connection(mut self, n: u64) -> Self {
        self.rule.connection = Some(n);
        self
    }

    /// Only inside TLS (`true`) or only in clear text (`false`).
    pub fn tls(mut self, inside_tls: bool) -> Self {
        self.rule.tls = Some(inside_tls);
        self
    }

    /// AUTH: only this SASL mechanism.
    pub fn mechanism(mut self, mechanism: &str) -> Self {
        self.rule.auth.mechanism = Some(mechanism.to_ascii_uppercase());
        self
    }

    /// AUTH: only this user name.
    pub fn user(mut self, user: &str) -> Self {
        self.rule.auth.user = Some(user.to_owned());
        self
    }

    /// AUTH: only when the client proves this password (or XOAUTH2 token).
    pub fn password(mut self, password: &str) -> Self {
        self.rule.auth.password = Some(password.to_owned());
        self
    }

    /// Sends this reply.
    pub fn reply(mut self, reply: Reply) -> Self {
        self.rule.actions.push(Action::Reply(reply));
        self
    }

    /// Waits this long.
    pub fn pause(mut self, duration: Duration) -> Self {
        self.rule.actions.push(Action::Pause(duration));
        self
    }

    /// Runs the TLS handshake (after a `220` to STARTTLS).
    pub fn start_tls(mut self) -> Self {
        self.rule.actions.push(Action::Tls);
        self
    }

    /// Closes the connection.
    pub fn close(mut self) -> Self {
        self.rule.actions.push(Action::Close);
        self
    }
}

impl From<RuleBuilder> for Rule {
    fn from(builder: RuleBuilder) -> Rule {
        builder.rule
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_scenarios_are_validated_like_files() {
        let err = ServerScenario::builder()
            .tls()
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("<builder>:0: `tls` needs a certificate"),
            "{err}"
        );
        let err = ServerScenario::builder()
            .rule(Rule::when("RCPT"))
            .build()
            .unwrap_err()
            .to_string();
        assert_eq!(err, "<builder>:0: the rule for RCPT has no reply or action");
        let err = ServerScenario::builder()
            .expect("sometimes")
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("<builder>:1:8: expected a command verb"),
            "{err}"
        );
    }

    #[test]
    fn built_scenario_equals_the_parsed_one() {
        let built = ServerScenario::builder()
            .name("x")
            .send(Reply::new(220, "hi"))
            .rule(Rule::when("rcpt").nth(2).reply(Reply::new(452, "4.5.3 no")))
            .build()
            .unwrap();
        let parsed = ServerScenario::parse(
            "name x\nS: 220 hi\nwhen RCPT #2\n    S: 452 4.5.3 no\n",
            "<inline>",
        )
        .unwrap();
        assert_eq!(built.script[0].kind, parsed.script[0].kind);
        assert_eq!(built.rules[0].nth, parsed.rules[0].nth);
        assert_eq!(built.rules[0].actions, parsed.rules[0].actions);
        assert_eq!(built.rules[0].verb, parsed.rules[0].verb);
    }
}
