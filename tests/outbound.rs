//! Every scenario in `scenarios/outbound/` driven by the appliance's own sender (`appliance
//! email test`, run as a program), with its outcome judged and its conversation snapshotted in
//! `snapshots/outbound__*.snap`. The appliance binary comes from the same workspace build.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use smtp_harness::Scenario;
use smtp_harness::run::{Job, RunContext, Tools, Verdict, run_job};
use smtp_harness::scenario::SenderKind;

/// The appliance binary of this workspace build.
fn appliance() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| common::repo("target"), PathBuf::from);
    let path = target.join("debug").join("appliance");
    assert!(
        path.is_file(),
        "{} is missing: build the workspace (cargo build --workspace)",
        path.display()
    );
    path
}

fn outbound_scenarios() -> Vec<(String, Scenario)> {
    let mut names: Vec<String> = std::fs::read_dir(common::repo("scenarios/outbound"))
        .expect("scenarios/outbound")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".scn"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| (n.clone(), common::shipped(&format!("outbound/{n}"))))
        .collect()
}

#[tokio::test]
async fn every_outbound_scenario_with_the_appliance_meets_its_outcome_and_snapshot() {
    // Arrange: every scenario, each with its own server, all at once.
    let ctx = Arc::new(RunContext {
        tools: Tools {
            appliance: appliance(),
        },
        ..RunContext::default()
    });
    let mut runs = tokio::task::JoinSet::new();
    for (name, scenario) in outbound_scenarios() {
        assert!(
            scenario
                .sender
                .as_ref()
                .is_some_and(|s| s.senders.contains(&SenderKind::Appliance)),
            "{name} does not list the appliance"
        );
        let ctx = ctx.clone();
        runs.spawn(async move {
            let job = Job {
                name: name.clone(),
                scenario: Arc::new(scenario),
                sender: SenderKind::Appliance,
            };
            (name, run_job(&job, &ctx).await)
        });
    }
    let mut results = Vec::new();
    while let Some(done) = runs.join_next().await {
        results.push(done.expect("run did not panic"));
    }
    results.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        results.len() >= 17,
        "only {} outbound scenarios",
        results.len()
    );

    // Assert: every outcome met, every conversation as snapshotted.
    let failures: Vec<String> = results
        .iter()
        .filter(|(_, r)| r.verdict != Verdict::Pass)
        .map(|(_, r)| r.full())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    for (name, result) in &results {
        let text = format!(
            "# observed: {}\n{}",
            result.observed,
            smtp_harness::snapshot::sessions_text(&result.records)
        );
        // The appliance's own Date and Message-ID change the message's size from run to run.
        let filters = [
            (r"size=\d+", "size=[size]"),
            (r"SIZE=\d+", "SIZE=[size]"),
            (r"Client sent \d+ bytes", "Client sent [size] bytes"),
        ];
        let snapshot = format!("outbound__{}", name.trim_end_matches(".scn"));
        let description = format!("scenarios/outbound/{name}, driven by the appliance");
        common::assert_snapshot(&snapshot, &description, &filters, text);
    }
}

#[test]
fn every_outbound_snapshot_has_its_scenario() {
    let names: Vec<String> = outbound_scenarios().into_iter().map(|(n, _)| n).collect();
    for entry in std::fs::read_dir(common::repo("snapshots")).expect("snapshots/") {
        let file = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some(stem) = file
            .strip_prefix("outbound__")
            .and_then(|f| f.strip_suffix(".snap"))
        {
            assert!(
                names.contains(&format!("{stem}.scn")),
                "snapshot {file} has no scenario"
            );
        }
    }
}
