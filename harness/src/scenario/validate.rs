//! Checks that a parsed scenario can be played, so that it is refused when loaded rather than
//! halfway through a run.

use super::{Action, ClientScenario, ClientStepKind, ScenarioError, ServerScenario, StepKind};
use crate::wire::Verb;

/// SASL mechanisms whose exchange the server can run itself.
const SASL_MECHANISMS: &[&str] = &crate::wire::sasl::Mechanism::NAMES;

/// An error at a line of `origin`.
fn at(origin: &str) -> impl Fn(usize, String) -> ScenarioError + '_ {
    move |line, message| ScenarioError::Invalid {
        path: origin.to_owned(),
        line,
        message,
    }
}

/// Checks that a server scenario can be played. In a case combined with a persona, the first
/// `case_rules` rules are the case's: they may shadow the persona's (that is their point),
/// but not each other.
pub(super) fn server(
    scenario: &ServerScenario,
    origin: &str,
    case_rules: usize,
) -> Result<(), ScenarioError> {
    let invalid = at(origin);
    let needs_cert = |what: &str| {
        format!(
            "{what} needs a certificate: add `certificate valid` (or expired, wrong-host, self-signed, unknown-ca) before the script"
        )
    };
    if scenario.header.certificate.is_none() {
        if scenario.header.implicit_tls {
            return Err(invalid(1, needs_cert("`implicit-tls`")));
        }
        if let Some(step) = scenario.script.iter().find(|s| s.kind == StepKind::Tls) {
            return Err(invalid(step.line, needs_cert("`tls`")));
        }
        for rule in &scenario.rules {
            if rule.actions.contains(&Action::Tls) {
                return Err(invalid(rule.line, needs_cert("the `tls` in this rule")));
            }
            if rule.tls == Some(true) {
                return Err(invalid(
                    rule.line,
                    format!("this rule can never match: {}", needs_cert("a TLS session")),
                ));
            }
        }
    }
    if scenario.header.implicit_tls {
        for rule in &scenario.rules {
            if rule.tls == Some(false) {
                return Err(invalid(rule.line, "this rule can never match: with `implicit-tls` no command is sent in clear text".into()));
            }
        }
    }

    // The script: the server speaks first, and nothing follows a `close`.
    let first_active = scenario
        .script
        .iter()
        .find(|s| !matches!(s.kind, StepKind::Pause(_)));
    if let Some(step) = first_active
        && matches!(step.kind, StepKind::Expect(_))
    {
        return Err(invalid(
            step.line,
            "the script must start with the server's greeting (S: lines) before the first C: line"
                .into(),
        ));
    }
    let closes = scenario
        .script
        .iter()
        .map(|s| (s.line, s.kind == StepKind::Close));
    nothing_after_close(closes, &invalid)?;

    // A 220 to STARTTLS must be followed by the handshake (or a deliberate fault).
    let mut last_expect: Option<&crate::pattern::Pattern> = None;
    for (i, step) in scenario.script.iter().enumerate() {
        match &step.kind {
            StepKind::Expect(p) => last_expect = Some(p),
            StepKind::Send(reply)
                if reply.code() == 220 && last_expect.is_some_and(|p| p.matches("STARTTLS")) =>
            {
                let next = scenario.script.get(i + 1).map(|s| &s.kind);
                if !matches!(
                    next,
                    Some(StepKind::Tls | StepKind::Pause(_) | StepKind::Close)
                ) {
                    return Err(invalid(
                        step.line,
                        "a 220 to STARTTLS must be followed by `tls` (or `pause`/`close` to fake a stalled handshake)".into(),
                    ));
                }
                last_expect = None;
            }
            StepKind::Send(_) => last_expect = None,
            _ => {}
        }
    }

    // Senders: a `command` sender needs its program, and only it has one.
    if let Some(spec) = &scenario.sender {
        let is_command = spec.senders.contains(&super::SenderKind::Command);
        if is_command && spec.command.is_none() {
            return Err(invalid(
                spec.line,
                "the `command` sender needs a `run PROGRAM ARGS…` line in the sender block".into(),
            ));
        }
        if !is_command && spec.command.is_some() {
            return Err(invalid(
                spec.line,
                "a `run` line is only for the `command` sender: add `command` to the sender line"
                    .into(),
            ));
        }
        if spec.auth != super::AuthMechanism::None && spec.password.is_empty() {
            return Err(invalid(
                spec.line,
                format!(
                    "`auth {}` needs `user` and `password` lines",
                    spec.auth.name()
                ),
            ));
        }
    }

    // Rules: each must be able to match.
    for (i, rule) in scenario.rules.iter().enumerate() {
        if rule.verb == Verb::Auth
            && rule.auth.checks_credentials()
            && let Some(mechanism) = &rule.auth.mechanism
            && !SASL_MECHANISMS.contains(&mechanism.as_str())
        {
            return Err(invalid(
                rule.line,
                format!(
                    "this rule can never match: the server cannot check credentials sent with {mechanism} (it can with {})",
                    SASL_MECHANISMS.join(", ")
                ),
            ));
        }
        let rivals = if i >= case_rules { case_rules..i } else { 0..i };
        if let Some(earlier) = scenario.rules[rivals]
            .iter()
            .find(|e| e.verb == rule.verb && (e.is_catch_all() || same_conditions(e, rule)))
        {
            return Err(invalid(
                rule.line,
                format!(
                    "this rule can never match: the rule at line {} answers {} first (put the more specific rule first)",
                    earlier.line,
                    if earlier.is_catch_all() {
                        format!("every {}", rule.verb)
                    } else {
                        "the same commands".to_owned()
                    }
                ),
            ));
        }
        if rule.verb == Verb::StartTls {
            let first_reply = rule
                .actions
                .iter()
                .position(|a| matches!(a, Action::Reply(r) if r.code() == 220));
            if let Some(i) = first_reply
                && !matches!(
                    rule.actions.get(i + 1),
                    Some(Action::Tls | Action::Pause(_) | Action::Close)
                )
            {
                return Err(invalid(
                    rule.line,
                    "a 220 to STARTTLS must be followed by `tls` (or `pause`/`close` to fake a stalled handshake)".into(),
                ));
            }
        }
        if let Some(close) = rule.actions.iter().position(|a| *a == Action::Close)
            && close + 1 < rule.actions.len()
        {
            return Err(invalid(
                rule.line,
                "nothing can follow `close` in a rule".into(),
            ));
        }
    }
    Ok(())
}

/// Checks that a client scenario can be played: no server settings that could not apply,
/// nothing after `close`.
pub(super) fn client(scenario: &ClientScenario, origin: &str) -> Result<(), ScenarioError> {
    let invalid = at(origin);
    if scenario.header.certificate.is_some() || scenario.header.implicit_tls {
        return Err(invalid(1, "`certificate` and `implicit-tls` are server settings; a client scenario gets its TLS trust from `smtp-harness send --ca`".into()));
    }
    let closes = scenario
        .script
        .iter()
        .map(|s| (s.line, s.kind == ClientStepKind::Close));
    nothing_after_close(closes, &invalid)
}

/// Refuses script steps after a `close` (`steps`: each step's line and whether it closes):
/// they could never run.
fn nothing_after_close(
    mut steps: impl Iterator<Item = (usize, bool)>,
    invalid: &dyn Fn(usize, String) -> ScenarioError,
) -> Result<(), ScenarioError> {
    let Some((close, _)) = steps.by_ref().find(|(_, closes)| *closes) else {
        return Ok(());
    };
    match steps.next() {
        Some((after, _)) => Err(invalid(
            after,
            format!("this step can never run: the script closes the connection at line {close}"),
        )),
        None => Ok(()),
    }
}

fn same_conditions(a: &super::Rule, b: &super::Rule) -> bool {
    a.args == b.args
        && a.nth == b.nth
        && a.connection == b.connection
        && a.tls == b.tls
        && a.advertised == b.advertised
        && a.auth == b.auth
}
