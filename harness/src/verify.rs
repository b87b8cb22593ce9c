//! Checks a connection's transcript against the scenario's expectations and script.

use crate::scenario::{Atom, Expectation, ExpectationKind};
use crate::transcript::{Event, Transcript};

/// One expectation (or the script) that a connection did not meet.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// The scenario line of the expectation or script step.
    pub line: usize,
    /// What was expected, as written.
    pub expected: String,
    /// What happened instead.
    pub actual: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: expected {}, but {}",
            self.line, self.expected, self.actual
        )
    }
}

/// What an expectation can see: commands, reply codes, TLS starts and messages, in order.
#[derive(Debug)]
enum Fact {
    /// A command line (not a SASL answer) without its line ending, and its verb.
    Command {
        line: String,
        verb: String,
    },
    Reply(u16),
    Tls,
    Message,
}

fn facts(transcript: &Transcript) -> Vec<Fact> {
    let mut out = Vec::new();
    for event in &transcript.events {
        if let (Some(verb), Event::Client { line, .. }) = (event.command_verb(), event) {
            let line = String::from_utf8_lossy(line)
                .trim_end_matches(['\r', '\n'])
                .to_owned();
            out.push(Fact::Command { line, verb });
        } else if let Some(code) = event.reply_code() {
            out.push(Fact::Reply(code));
        } else if let Event::TlsStarted { .. } = event {
            out.push(Fact::Tls);
        } else if let Event::MessageCaptured { .. } = event {
            out.push(Fact::Message);
        }
    }
    out
}

fn is(atom: &Atom, fact: &Fact) -> bool {
    match (atom, fact) {
        (Atom::Tls, Fact::Tls) => true,
        (Atom::Reply(code), Fact::Reply(c)) => code == c,
        (Atom::Verb(verb), Fact::Command { verb: v, .. }) => v == verb,
        (Atom::Line(pattern), Fact::Command { line, .. }) => pattern.matches(line),
        _ => false,
    }
}

fn describe(atom: &Atom) -> String {
    match atom {
        Atom::Tls => "TLS".to_owned(),
        Atom::Reply(code) => format!("a {code} reply"),
        Atom::Verb(verb) => verb.clone(),
        Atom::Line(p) => format!("{:?}", p.as_str()),
    }
}

/// Checks every expectation against one transcript; returns those not met.
pub fn check(expectations: &[Expectation], transcript: &Transcript) -> Vec<Failure> {
    let facts = facts(transcript);
    let first = |atom: &Atom| facts.iter().position(|f| is(atom, f));
    let count = |atom: &Atom| facts.iter().filter(|f| is(atom, f)).count();
    let mut failures = Vec::new();
    for exp in expectations {
        let problem = match &exp.kind {
            ExpectationKind::Occurs { event, times: None } => {
                (count(event) == 0).then(|| format!("{} never happened", describe(event)))
            }
            ExpectationKind::Occurs {
                event,
                times: Some(n),
            } => {
                let got = count(event);
                (got != *n as usize).then(|| format!("{} happened {got} time(s)", describe(event)))
            }
            ExpectationKind::Never(event) => {
                let got = count(event);
                (got > 0).then(|| format!("{} happened {got} time(s)", describe(event)))
            }
            ExpectationKind::Before { first: a, later: b } => match (first(a), first(b)) {
                (_, None) => None,
                (Some(i), Some(j)) if i < j => None,
                (None, Some(_)) => Some(format!(
                    "{} came without {} before it",
                    describe(b),
                    describe(a)
                )),
                (Some(_), Some(_)) => Some(format!("{} came before {}", describe(b), describe(a))),
            },
            ExpectationKind::After { then: a, anchor: b } => match first(b) {
                None => Some(format!("{} never happened", describe(b))),
                Some(j) => (!facts[j + 1..].iter().any(|f| is(a, f)))
                    .then(|| format!("{} did not follow {}", describe(a), describe(b))),
            },
            ExpectationKind::Messages(n) => {
                let got = facts.iter().filter(|f| matches!(f, Fact::Message)).count();
                (got != *n as usize).then(|| format!("{got} message(s) were accepted"))
            }
            // Effects are checked by the client against the receiver's folder (`client::effects`).
            ExpectationKind::Files { .. } | ExpectationKind::LogLine { .. } => None,
            ExpectationKind::ClosedBy(side) => match transcript.closed_by() {
                Some(by) if by == *side => None,
                Some(by) => Some(format!("the {by} closed the connection")),
                None => Some("the connection is still open".to_owned()),
            },
        };
        if let Some(actual) = problem {
            failures.push(Failure {
                line: exp.line,
                expected: exp.text.clone(),
                actual,
            });
        }
    }
    for event in &transcript.events {
        if let Event::Diverged {
            step_line,
            expected,
        } = event
        {
            failures.push(Failure {
                line: *step_line,
                expected: format!("the client line {expected:?} of the script"),
                actual: "the client left the script there".to_owned(),
            });
        }
    }
    failures
}
