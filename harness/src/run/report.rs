//! How a run is told: one line per scenario and sender, a readable account of a failure (the
//! script step by step against what happened, the broken expectations, what the sender said,
//! the transcript), a matrix when several senders ran, a summary, and JUnit XML for CI.

use std::fmt::Write as _;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::scenario::{Header, SenderKind, ServerScenario, StepKind};
use crate::transcript::{Event, Render, Transcript, quote};

/// The verdict of one scenario driven by one sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Everything as expected.
    Pass,
    /// Something was not as expected (the reasons are in the result).
    Fail,
    /// The sender cannot play this scenario (e.g. lettre and CRAM-MD5).
    Skip(String),
    /// The sender missed the outcome, as the scenario's `known` line says it does.
    Known(String),
}

/// The result of one scenario driven by one sender.
#[derive(Clone, Debug)]
pub struct JobResult {
    /// The scenario file, as given (`FILE#CASE` for a case of a persona).
    pub scenario: String,
    /// The persona and case, for a scenario made from a `case` section.
    pub case: Option<CaseLabel>,
    /// The sender.
    pub sender: SenderKind,
    /// Pass, fail or skip.
    pub verdict: Verdict,
    /// The observed outcome, in the words of an `outcome` line.
    pub observed: String,
    /// Why it failed (empty when it passed).
    pub problems: Vec<String>,
    /// The account of a failure: script diff, sender output, transcripts.
    pub details: String,
    /// How long it took.
    pub elapsed: std::time::Duration,
    /// The server's record of every connection the sender made.
    pub records: Vec<crate::verify::ConversationRecord>,
}

/// Which persona and case a scenario was made from (a row and a column of the
/// compatibility matrix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseLabel {
    /// The persona's name (its `name` setting, or the file stem): `Gmail`.
    pub persona: String,
    /// The case: `bad-password`.
    pub case: String,
}

impl CaseLabel {
    /// The label of a scenario made from a `case` section, `None` for any other.
    pub fn of(header: &Header) -> Option<Self> {
        header.case.as_ref().map(|case| CaseLabel {
            persona: header.name.clone(),
            case: case.clone(),
        })
    }
}

impl JobResult {
    /// The one line printed for the job.
    pub fn line(&self) -> String {
        let ms = self.elapsed.as_millis();
        match &self.verdict {
            Verdict::Pass => format!(
                "PASS  {}  [{}]  {} ({ms} ms)",
                self.scenario, self.sender, self.observed
            ),
            Verdict::Fail => format!(
                "FAIL  {}  [{}]  {} ({ms} ms)",
                self.scenario, self.sender, self.observed
            ),
            Verdict::Skip(why) => format!("SKIP  {}  [{}]  {why}", self.scenario, self.sender),
            Verdict::Known(why) => format!(
                "KNOWN {}  [{}]  {} ({ms} ms): {why}",
                self.scenario, self.sender, self.observed
            ),
        }
    }

    /// The line and, for a failure, its account, indented.
    pub fn full(&self) -> String {
        let mut out = self.line();
        if self.verdict == Verdict::Fail {
            for p in &self.problems {
                let _ = write!(out, "\n      {p}");
            }
            for l in self.details.lines() {
                let _ = write!(out, "\n      {l}");
            }
        }
        out
    }
}

/// The script, step by step, against what happened on the first connection: `ok`, the first
/// step that went otherwise (`!!`), and the steps never reached (`--`).
pub fn script_diff(scenario: &ServerScenario, transcript: &Transcript) -> String {
    let mut out = String::new();
    let events = &transcript.events;
    let mut at = 0usize;
    let mut broken = false;
    let render = Render::default();
    for step in &scenario.script {
        let (wrote, ok, actual) = if broken {
            (describe_step(&step.kind), None, String::new())
        } else {
            match &step.kind {
                StepKind::Send(reply) => {
                    let mut ok = true;
                    let mut got = Vec::new();
                    for line in reply.lines() {
                        match next(events, &mut at, |e| matches!(e, Event::Server(_))) {
                            Some(Event::Server(bytes)) => {
                                ok &= bytes.strip_suffix(b"\r\n") == Some(line.as_bytes());
                                got.push(quote(bytes));
                            }
                            _ => {
                                ok = false;
                                got.push("nothing".into());
                            }
                        }
                    }
                    (
                        describe_step(&step.kind),
                        Some(ok),
                        format!("-> {}", got.join(" ")),
                    )
                }
                StepKind::Expect(pattern) => {
                    match next(events, &mut at, |e| matches!(e, Event::Client { .. })) {
                        Some(Event::Client { line, secret_from }) => {
                            let text = String::from_utf8_lossy(line);
                            let ok = pattern.matches(text.trim_end_matches(['\r', '\n']));
                            let shown = client_line(line, *secret_from, render);
                            (describe_step(&step.kind), Some(ok), format!("<- {shown}"))
                        }
                        _ => (
                            describe_step(&step.kind),
                            Some(false),
                            "the client sent nothing more".into(),
                        ),
                    }
                }
                StepKind::Tls => match next(events, &mut at, |e| {
                    matches!(e, Event::TlsStarted { .. } | Event::TlsFailed { .. })
                }) {
                    Some(Event::TlsStarted { version, cipher }) => {
                        ("tls".into(), Some(true), format!("{version} {cipher}"))
                    }
                    Some(Event::TlsFailed { error }) => (
                        "tls".into(),
                        Some(false),
                        format!("handshake failed: {error}"),
                    ),
                    _ => ("tls".into(), Some(false), "no handshake".into()),
                },
                StepKind::Raw(bytes) => {
                    let mut got = Vec::new();
                    for _ in bytes.split_inclusive(|b| *b == b'\n') {
                        match next(events, &mut at, |e| matches!(e, Event::Server(_))) {
                            Some(Event::Server(line)) => got.extend_from_slice(line),
                            _ => break,
                        }
                    }
                    let ok = got == *bytes;
                    (
                        describe_step(&step.kind),
                        Some(ok),
                        format!("-> {}", quote(&got)),
                    )
                }
                StepKind::Pause(_) | StepKind::Close => {
                    (describe_step(&step.kind), Some(true), String::new())
                }
            }
        };
        let mark = match ok {
            Some(true) => "ok",
            Some(false) => {
                broken = true;
                "!!"
            }
            None => "--",
        };
        let _ = writeln!(out, "{mark} line {:>3}  {wrote:<48} {actual}", step.line);
    }
    out
}

fn next<'e>(
    events: &'e [Event],
    at: &mut usize,
    want: impl Fn(&Event) -> bool,
) -> Option<&'e Event> {
    while let Some(e) = events.get(*at) {
        *at += 1;
        if want(e) {
            return Some(e);
        }
    }
    None
}

fn client_line(line: &[u8], secret_from: Option<usize>, render: Render) -> String {
    let t = Transcript {
        session: 0,
        events: vec![Event::Client {
            line: line.to_vec(),
            secret_from,
        }],
    };
    t.to_log(render)
        .trim_end()
        .trim_start_matches("<- ")
        .to_owned()
}

fn describe_step(kind: &StepKind) -> String {
    match kind {
        StepKind::Send(reply) => {
            let lines = reply.lines();
            if lines.len() == 1 {
                format!("S: {}", lines[0])
            } else {
                format!("S: {} (+{} lines)", lines[0], lines.len() - 1)
            }
        }
        StepKind::Expect(p) => format!("C: {p}"),
        StepKind::Raw(bytes) => format!("raw {}", quote(bytes)),
        StepKind::Tls => "tls".into(),
        StepKind::Pause(d) => format!("pause {d:?}"),
        StepKind::Close => "close".into(),
    }
}

/// `N passed, N failed, N skipped`, preceded by a line counting known failures if any.
pub fn summary(results: &[JobResult]) -> String {
    let count = |f: fn(&Verdict) -> bool| results.iter().filter(|r| f(&r.verdict)).count();
    let known = count(|v| matches!(v, Verdict::Known(_)));
    let mut out = String::new();
    if known > 0 {
        let _ = writeln!(
            out,
            "{known} known failure(s), as the scenarios' `known` lines say"
        );
    }
    let _ = write!(
        out,
        "{} passed, {} failed, {} skipped",
        count(|v| *v == Verdict::Pass),
        count(|v| *v == Verdict::Fail),
        count(|v| matches!(v, Verdict::Skip(_)))
    );
    out
}

/// A scenario × sender table (only worth printing when more than one sender ran).
pub fn matrix(results: &[JobResult]) -> String {
    let mut senders: Vec<SenderKind> = results.iter().map(|r| r.sender).collect();
    senders.sort();
    senders.dedup();
    let mut scenarios: Vec<&str> = Vec::new();
    for r in results {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    let width = scenarios.iter().map(|s| s.len()).max().unwrap_or(8).max(8);
    let mut out = format!("{:<width$}", "scenario");
    for s in &senders {
        let _ = write!(out, "  {:<9}", s.name());
    }
    out = out.trim_end().to_owned();
    out.push('\n');
    for scenario in scenarios {
        let _ = write!(out, "{scenario:<width$}");
        for sender in &senders {
            let cell = results
                .iter()
                .find(|r| r.scenario == scenario && r.sender == *sender)
                .map_or("", |r| match r.verdict {
                    Verdict::Pass => "pass",
                    Verdict::Fail => "FAIL",
                    Verdict::Skip(_) => "skip",
                    Verdict::Known(_) => "known",
                });
            let _ = write!(out, "  {cell:<9}");
        }
        out = out.trim_end().to_owned();
        out.push('\n');
    }
    out
}

/// JUnit XML: one test suite, one test case per scenario and sender.
///
/// # Errors
/// When the XML cannot be written (quick-junit's serializer).
pub fn junit(results: &[JobResult]) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("smtp-harness");
    let mut suite = TestSuite::new("smtp-harness run");
    for r in results {
        let status = match &r.verdict {
            Verdict::Pass => TestCaseStatus::success(),
            Verdict::Fail => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(r.problems.first().cloned().unwrap_or_default());
                status.set_description(format!("{}\n{}", r.problems.join("\n"), r.details));
                status
            }
            Verdict::Skip(why) => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(why.clone());
                status
            }
            Verdict::Known(why) => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(format!("known failure: {why}"));
                status
            }
        };
        let mut case = TestCase::new(format!("{} [{}]", r.scenario, r.sender), status);
        case.set_classname(r.scenario.clone());
        case.set_time(r.elapsed);
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);
    report.to_string()
}
