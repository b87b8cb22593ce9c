//! `smtp-harness import` meets the appliance: the reference log
//! (`harness/tests/fixtures/import/unicorn.log`, the published text, see
//! docs/email-subsystem.md) and a swaks transcript of the same failure are imported,
//! then replayed against the appliance's sender with the customer's settings, which must fail
//! as the customer's client did: at AUTH, with the two-line 535. The other replays (lettre,
//! swaks, curl, smtplib, msmtp) are the harness's own tests (`harness/tests/import.rs`).

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::appliance_runs;
use smtp_harness::import::{Imported, import_file};
use smtp_harness::run::{Job, JobResult, Verdict, run_job};
use smtp_harness::{AnyScenario, ServerScenario};

const REPLY_535: [&str; 2] = [
    "535-5.7.1 Username and Password not accepted. Learn more at",
    "535 5.7.1 nt3sm2942435pbc.14",
];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(common::repo(&format!(
        "harness/tests/fixtures/import/{name}"
    )))
}

fn import(name: &str) -> Imported {
    import_file(&fixture(name), None).unwrap_or_else(|e| panic!("{name} does not import: {e}"))
}

/// The imported text with the appliance's `sender` block and the outcome the customer saw.
fn with_appliance_sender(scenario: &str) -> ServerScenario {
    let text = format!(
        "{scenario}\nsender appliance\n    encryption starttls\n    auth login\n    user thisismy@address.com\n    password itreallywas\noutcome failure at AUTH 535\n"
    );
    ServerScenario::parse(&text, "<imported>").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The server sent both lines of the reference's 535.
fn assert_two_line_535(transcript: &smtp_harness::Transcript) {
    let lines = transcript.server_lines();
    let at = lines
        .iter()
        .position(|l| l == REPLY_535[0])
        .unwrap_or_else(|| panic!("no 535 in {lines:?}"));
    assert_eq!(lines[at..at + 2], REPLY_535);
}

/// The two-line 535, after a clear AUTH LOGIN and before any MAIL.
fn assert_535_after_auth(transcript: &smtp_harness::Transcript) {
    assert_two_line_535(transcript);
    let log = transcript.to_string();
    let before_535 = &log[..log.find("535-5.7.1").expect("535 in the log")];
    assert!(before_535.contains(r#"<- "AUTH LOGIN\r\n""#), "{log}");
    assert!(!before_535.contains(r#"<- "MAIL"#), "{log}");
}

/// Drives the appliance through the imported `fixture` as `smtp-harness run` does; the run
/// must pass, ending (as the customer's client did) with `failure at AUTH 535`.
async fn run_to_the_535(fixture: &str, scenario: ServerScenario) -> JobResult {
    let job = Job {
        name: format!("{fixture} (imported)"),
        scenario: Arc::new(AnyScenario::Server(scenario)),
        sender: appliance_runs::sender(),
    };
    let result = run_job(&job, &appliance_runs::context()).await;
    assert_eq!(
        result.verdict,
        Verdict::Pass,
        "{}\n{}",
        result.line(),
        result.details
    );
    assert!(
        result.observed.contains("failure at AUTH 535"),
        "{}",
        result.observed
    );
    result
}

/// Imports the fixture and drives the appliance's sender through it with the customer's
/// settings: `failure at AUTH 535`, as in the customer's log.
async fn replayed_to_the_appliance_fails_at_auth_with_the_two_line_535(fixture: &str) {
    // Arrange
    let scenario = with_appliance_sender(&import(fixture).scenario);

    // Act and assert
    let result = run_to_the_535(fixture, scenario).await;
    assert_535_after_auth(&result.records[0].transcript);
}

#[tokio::test]
async fn reference_log_replayed_to_the_appliance_fails_at_auth_with_the_two_line_535() {
    replayed_to_the_appliance_fails_at_auth_with_the_two_line_535("unicorn.log").await;
}

#[tokio::test]
async fn swaks_output_replayed_to_the_appliance_fails_at_auth_with_the_two_line_535() {
    replayed_to_the_appliance_fails_at_auth_with_the_two_line_535("swaks-auth-535.txt").await;
}
