//! Checks a connection's transcript against the scenario's expectations and script.

use crate::scenario::{Atom, Expectation, ExpectationKind};
use crate::transcript::{Closer, Event, Transcript};

/// One conversation as it went, from either side (a fake server's connection, the client
/// role's run): its transcript and what it broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationRecord {
    /// Both directions and the events, in order.
    pub transcript: Transcript,
    /// Expectations (and script steps) that were not met; empty when all went as written.
    pub failures: Vec<Failure>,
}

impl ConversationRecord {
    /// `true` if every step and expectation was met.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

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

impl Fact {
    fn of(event: &Event) -> Option<Fact> {
        if let (Some(verb), Event::Client { line, .. }) = (event.command_verb(), event) {
            let line = String::from_utf8_lossy(line)
                .trim_end_matches(['\r', '\n'])
                .to_owned();
            return Some(Fact::Command { line, verb });
        }
        if let Some(code) = event.reply_code() {
            return Some(Fact::Reply(code));
        }
        match event {
            Event::TlsStarted { .. } => Some(Fact::Tls),
            Event::MessageCaptured { .. } => Some(Fact::Message),
            _ => None,
        }
    }
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

/// What is known of one atom so far.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    count: usize,
    /// The number of the fact where it first happened.
    first: Option<u64>,
}

/// Checks expectations while the events happen, keeping only counts: a connection of any
/// length is judged in constant memory (the transcript itself may then be kept bounded).
#[derive(Clone, Debug)]
pub struct Tracker {
    expectations: Vec<Expectation>,
    /// For each expectation, what is known of its atoms (`[first, second]`).
    seen: Vec<[Seen; 2]>,
    /// For `X after Y`: X happened after the first Y.
    followed: Vec<bool>,
    facts: u64,
    messages: usize,
    closed_by: Option<Closer>,
    diverged: Vec<Failure>,
}

/// The atoms an expectation speaks of (at most two).
fn atoms(kind: &ExpectationKind) -> [Option<&Atom>; 2] {
    match kind {
        ExpectationKind::Occurs { event, .. } | ExpectationKind::Never(event) => {
            [Some(event), None]
        }
        ExpectationKind::Before { first, later } => [Some(first), Some(later)],
        ExpectationKind::After { then, anchor } => [Some(anchor), Some(then)],
        _ => [None, None],
    }
}

impl Tracker {
    /// A tracker for these expectations.
    pub fn new(expectations: &[Expectation]) -> Self {
        Tracker {
            expectations: expectations.to_vec(),
            seen: vec![[Seen::default(); 2]; expectations.len()],
            followed: vec![false; expectations.len()],
            facts: 0,
            messages: 0,
            closed_by: None,
            diverged: Vec::new(),
        }
    }

    /// `true` when there are expectations, so every command, reply and message matters; without
    /// them only the close and the script's divergence do.
    pub fn needs_facts(&self) -> bool {
        !self.expectations.is_empty()
    }

    /// Takes one event into account.
    pub fn observe(&mut self, event: &Event) {
        match event {
            Event::Closed { by, .. } => self.closed_by = Some(*by),
            Event::Diverged {
                step_line,
                expected,
            } => self.diverged.push(Failure {
                line: *step_line,
                expected: format!("the client line {expected:?} of the script"),
                actual: "the client left the script there".to_owned(),
            }),
            _ => {}
        }
        if self.expectations.is_empty() {
            return;
        }
        let Some(fact) = Fact::of(event) else { return };
        let n = self.facts;
        self.facts += 1;
        if let Fact::Message = fact {
            self.messages += 1;
        }
        for (i, exp) in self.expectations.iter().enumerate() {
            let [a, b] = atoms(&exp.kind);
            let anchored = self.seen[i][0].first.is_some_and(|f| f < n);
            for (k, atom) in [a, b].into_iter().enumerate() {
                if let Some(atom) = atom
                    && is(atom, &fact)
                {
                    let seen = &mut self.seen[i][k];
                    seen.count += 1;
                    seen.first.get_or_insert(n);
                    if k == 1 && anchored {
                        self.followed[i] = true;
                    }
                }
            }
        }
    }

    /// The expectations (and script steps) that were not met.
    pub fn finish(self) -> Vec<Failure> {
        let mut failures = Vec::new();
        for (i, exp) in self.expectations.iter().enumerate() {
            let [a, b] = self.seen[i];
            let problem = match &exp.kind {
                ExpectationKind::Occurs { event, times: None } => {
                    (a.count == 0).then(|| format!("{} never happened", describe(event)))
                }
                ExpectationKind::Occurs {
                    event,
                    times: Some(n),
                } => (a.count != *n as usize)
                    .then(|| format!("{} happened {} time(s)", describe(event), a.count)),
                ExpectationKind::Never(event) => (a.count > 0)
                    .then(|| format!("{} happened {} time(s)", describe(event), a.count)),
                ExpectationKind::Before { first: x, later: y } => match (a.first, b.first) {
                    (_, None) => None,
                    (Some(i), Some(j)) if i < j => None,
                    (None, Some(_)) => Some(format!(
                        "{} came without {} before it",
                        describe(y),
                        describe(x)
                    )),
                    (Some(_), Some(_)) => {
                        Some(format!("{} came before {}", describe(y), describe(x)))
                    }
                },
                ExpectationKind::After { then, anchor } => match a.first {
                    None => Some(format!("{} never happened", describe(anchor))),
                    Some(_) => (!self.followed[i])
                        .then(|| format!("{} did not follow {}", describe(then), describe(anchor))),
                },
                ExpectationKind::Messages(n) => (self.messages != *n as usize)
                    .then(|| format!("{} message(s) were accepted", self.messages)),
                ExpectationKind::ClosedBy(side) => match self.closed_by {
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
        failures.extend(self.diverged);
        failures
    }
}

/// Checks every expectation against one transcript; returns those not met.
pub fn check(expectations: &[Expectation], transcript: &Transcript) -> Vec<Failure> {
    let mut tracker = Tracker::new(expectations);
    for event in &transcript.events {
        tracker.observe(event);
    }
    tracker.finish()
}
