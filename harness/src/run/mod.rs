//! `smtp-harness run`: every scenario gets its own fake server on an ephemeral port and is
//! driven by real senders, in parallel; each (scenario, sender) pair is judged from the sender's
//! own verdict and the server's transcripts.
//!
//! - `load.rs`: the scenario files under the paths given, loaded and paired with senders
//!   ([`load`] → [`Plan`]).
//! - `execute.rs`: the plan's jobs in parallel, their results as they come ([`execute`] →
//!   [`Outcome`]), the matrix and report files.
//! - `senders.rs`: the drivers (lettre, curl, swaks, a scenario's own command, the adapters).
//! - `adapters.rs`: the adapter contract and the configuration file that declares adapters.
//! - `receiver.rs`: client scenarios against a receiver started through its adapter.
//! - `judge.rs`: where the conversation failed, and whether that is the expected outcome.
//! - `report.rs`: pass/fail lines, the step-by-step account of a failure, matrix, JUnit.
//! - `compat.rs`: the vendor × case compatibility matrix (text, Markdown, HTML).
//! - `redact.rs`: credentials out of what senders print.

pub mod adapters;
pub mod compat;
mod execute;
pub mod judge;
mod load;
pub mod receiver;
mod redact;
pub mod report;
pub mod senders;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::certs::{CertSource, CertVariant};
use crate::scenario::{AnyScenario, SenderKind, ServerScenario, Trust};
use crate::server::FakeSmtpServer;
use crate::transcript::Render;
pub use adapters::{AdapterError, Adapters};
pub use execute::{
    Outcome, Progress, ReportError, default_parallelism, execute, write_compatibility,
};
pub use load::{LoadError, LoadProblem, Plan, load, scenario_files};
pub use receiver::{AdapterReceiver, ReceiverError};
pub use report::{CaseLabel, JobResult, Verdict};
pub use senders::SenderError;

/// One scenario to drive with one sender.
#[derive(Clone, Debug)]
pub struct Job {
    /// The scenario file as given (for reports).
    pub name: String,
    /// The scenario.
    pub scenario: Arc<AnyScenario>,
    /// The sender.
    pub sender: SenderKind,
}

/// Pairs each scenario with its senders: the ones its `sender` line lists, or with `only`, that
/// sender if the line lists it. A scenario without a `sender` line runs only with `only` (and
/// default sender settings); a client scenario runs with the receiver its `receiver` block
/// names (reported under that name). The pairs left out come back as skipped results.
pub fn plan(
    scenarios: Vec<(String, AnyScenario)>,
    only: Option<SenderKind>,
) -> (Vec<Job>, Vec<JobResult>) {
    let mut jobs = Vec::new();
    // Skips are labelled with `only`, or else with the first sender the run drives.
    let mut skipped: Vec<(String, Arc<AnyScenario>, String)> = Vec::new();
    for (name, scenario) in scenarios {
        let listed: Vec<SenderKind> = match &scenario {
            AnyScenario::Server(s) => s.sender.as_ref().map(|s| s.senders.clone()),
            AnyScenario::Client(_) => None,
        }
        .unwrap_or_default();
        let scenario = Arc::new(scenario);
        let mut skip = |why: String| skipped.push((name.clone(), scenario.clone(), why));
        if let AnyScenario::Client(client) = &*scenario {
            let receiver = client
                .receiver
                .as_ref()
                .map(|r| SenderKind::adapter(&r.name));
            match receiver {
                Some(kind) if only.is_none_or(|k| k == kind) => jobs.push(Job {
                    name: name.clone(),
                    scenario: scenario.clone(),
                    sender: kind,
                }),
                Some(kind) => skip(format!(
                    "the scenario is for the receiver {kind}, not for {}",
                    only.map_or("", SenderKind::name)
                )),
                None => skip(
                    "a client scenario without a `receiver` block: play it with `smtp-harness send`"
                        .into(),
                ),
            }
            continue;
        }
        let senders = match only {
            Some(kind) if listed.is_empty() || listed.contains(&kind) => vec![kind],
            Some(kind) => {
                skip(format!(
                    "the scenario is not for {kind} (its sender line leaves it out)"
                ));
                continue;
            }
            None if listed.is_empty() => {
                skip("no `sender` line (use --sender to drive it anyway)".into());
                continue;
            }
            None => listed,
        };
        for sender in senders {
            jobs.push(Job {
                name: name.clone(),
                scenario: scenario.clone(),
                sender,
            });
        }
    }
    let label = only
        .or_else(|| jobs.iter().map(|j| j.sender).min())
        .unwrap_or(SenderKind::Lettre);
    let skipped = skipped
        .into_iter()
        .map(|(name, scenario, why)| JobResult {
            scenario: name,
            case: CaseLabel::of(scenario.header()),
            sender: label,
            verdict: Verdict::Skip(why),
            observed: String::new(),
            problems: Vec::new(),
            details: String::new(),
            elapsed: Duration::ZERO,
            records: Vec::new(),
        })
        .collect();
    (jobs, skipped)
}

/// Settings shared by every job of a run.
#[derive(Clone, Debug)]
pub struct RunContext {
    /// The adapters of the configuration file (the built-in senders need none).
    pub adapters: Adapters,
    /// Where the fake servers' certificates come from.
    pub certs: CertSource,
    /// How long to wait for the server to see every connection close after the sender ends.
    pub settle: Duration,
}

impl Default for RunContext {
    fn default() -> Self {
        RunContext {
            adapters: Adapters::none(),
            certs: CertSource::Embedded,
            settle: Duration::from_secs(5),
        }
    }
}

/// Runs one job: a fresh server, the sender, then the judgement (or, for a client scenario,
/// a fresh receiver and the harness as the sender).
pub async fn run_job(job: &Job, ctx: &RunContext) -> JobResult {
    let scenario = match &*job.scenario {
        AnyScenario::Client(client) => return receiver::run_receiver_job(job, client, ctx).await,
        AnyScenario::Server(server) => server,
    };
    let start = Instant::now();
    let fail = |problem: String| JobResult {
        scenario: job.name.clone(),
        case: CaseLabel::of(&scenario.header),
        sender: job.sender,
        verdict: Verdict::Fail,
        observed: "not run".into(),
        problems: vec![problem],
        details: String::new(),
        elapsed: start.elapsed(),
        records: Vec::new(),
    };
    let server = match FakeSmtpServer::builder(scenario.clone())
        .certificates(ctx.certs.clone())
        .verify_on_drop(false)
        .start()
        .await
    {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot start the fake server: {e}")),
    };
    let work = match tempfile::Builder::new()
        .prefix("smtp-harness-run-")
        .tempdir()
    {
        Ok(w) => w,
        Err(e) => return fail(format!("cannot make a work directory: {e}")),
    };
    let spec = scenario.sender.clone().unwrap_or_default();
    let ca = work.path().join("ca.pem");
    let trusted = match spec.trust {
        Trust::TestCa => ctx.certs.ca_pem(),
        Trust::SelfSigned => ctx
            .certs
            .bundle(CertVariant::SelfSigned)
            .map(|b| b.chain_pem),
    };
    let ca_written = trusted
        .map_err(|e| e.to_string())
        .and_then(|pem| std::fs::write(&ca, pem).map_err(|e| e.to_string()));
    if let Err(e) = ca_written {
        return fail(format!("cannot write the trusted certificate: {e}"));
    }
    let target = senders::Target {
        host: "127.0.0.1".into(),
        port: server.port(),
        ca,
        work: work.path().to_path_buf(),
    };
    let at = format!(
        "{}:{}",
        scenario
            .header
            .path
            .as_ref()
            .map_or_else(|| job.name.clone(), |p| p.display().to_string()),
        spec.line
    );
    let said = match senders::drive(job.sender, &spec, &target, &ctx.adapters, &at).await {
        Ok(report) => report,
        Err(SenderError::Unsupported { what, .. }) => {
            return JobResult {
                verdict: Verdict::Skip(format!("{} cannot {what}", job.sender)),
                observed: String::new(),
                problems: Vec::new(),
                ..fail(String::new())
            };
        }
        Err(e) => return fail(e.to_string()),
    };
    let records = server.wait_until_idle(ctx.settle).await;
    let observed = judge::Observed::new(said.succeeded, &records, server.messages().len());
    let mut problems = judge::problems(scenario, &observed, &records);
    let known = spec
        .known
        .iter()
        .find(|(kind, _)| *kind == job.sender)
        .map(|(_, why)| why.clone());
    let verdict = match (known, problems.is_empty()) {
        (None, true) => Verdict::Pass,
        (None, false) => Verdict::Fail,
        (Some(why), false) => Verdict::Known(why),
        (Some(why), true) => {
            problems.push(format!(
                "{} is listed as `known` ({why}) but now reaches the outcome: remove it from the `known` line",
                job.sender
            ));
            Verdict::Fail
        }
    };
    let details = if verdict == Verdict::Fail {
        account(job, scenario, &records, &redact::redact(&said.said, &spec))
    } else {
        String::new()
    };
    JobResult {
        scenario: job.name.clone(),
        case: CaseLabel::of(&scenario.header),
        sender: job.sender,
        verdict,
        observed: observed.describe(),
        problems,
        details,
        elapsed: start.elapsed(),
        records,
    }
}

/// The account of a failed job: the script against the first connection, what the sender said
/// (its last lines), and every transcript.
fn account(
    job: &Job,
    scenario: &ServerScenario,
    records: &[crate::verify::ConversationRecord],
    said: &str,
) -> String {
    let mut out = String::new();
    if !scenario.script.is_empty() {
        out.push_str("script, step by step:\n");
        match records.first() {
            Some(r) => out.push_str(&report::script_diff(scenario, &r.transcript)),
            None => out.push_str("   (no connection)\n"),
        }
    }
    let lines: Vec<&str> = said.lines().collect();
    let tail = &lines[lines.len().saturating_sub(25)..];
    out.push_str(&format!("{} said:\n", job.sender));
    for l in tail {
        out.push_str("   ");
        out.push_str(l);
        out.push('\n');
    }
    for r in records {
        out.push_str(&format!(
            "transcript of connection {}:\n",
            r.transcript.session
        ));
        for l in r.transcript.to_log(Render::default()).lines() {
            out.push_str("   ");
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}
