//! Every scenario in `scenarios/inbound/`: the harness as the remote MTA against the
//! appliance's inbound side (its MTA and its reply processor, started from outside on a fresh
//! data folder), with the effects checked and the conversation and the maildir moves
//! snapshotted in `snapshots/inbound__*.snap`. The appliance binary comes from the same
//! workspace build.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use smtp_harness::run::{Job, RunContext, Tools, Verdict, run_job};
use smtp_harness::scenario::SenderKind;

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

#[tokio::test]
async fn every_inbound_scenario_meets_its_effects_and_snapshot() {
    // Arrange: every scenario, each with its own appliance, all at once.
    let ctx = Arc::new(RunContext {
        tools: Tools {
            appliance: appliance(),
        },
        ..RunContext::default()
    });
    let mut names: Vec<String> = std::fs::read_dir(common::repo("scenarios/inbound"))
        .expect("scenarios/inbound")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".scn"))
        .collect();
    names.sort();
    assert!(names.len() >= 12, "only {} inbound scenarios", names.len());
    let mut runs = tokio::task::JoinSet::new();
    for name in names {
        let scenario = common::shipped(&format!("inbound/{name}"));
        assert!(scenario.receiver.is_some(), "{name} names no receiver");
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

    // Assert: every step and effect met; the conversation and the moves as snapshotted.
    let failures: Vec<String> = results
        .iter()
        .filter(|(_, r)| r.verdict != Verdict::Pass)
        .map(|(_, r)| r.full())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    for (name, result) in &results {
        let effects: String = result
            .details
            .lines()
            .skip_while(|l| *l != "receiver effects:")
            .take_while(|l| *l == "receiver effects:" || l.starts_with("   "))
            .map(|l| format!("{l}\n"))
            .collect();
        let text = format!(
            "{}{effects}",
            smtp_harness::snapshot::sessions_text(&result.records)
        );
        // Reply tokens are signed with a key made for each run; queue ids and sizes follow.
        let filters = [
            (r"reply\+[a-z0-9]+@", "reply+[token]@"),
            (r"queued as [0-9A-F]+", "queued as [queue id]"),
            (r"\[message: \d+ bytes\]", "[message: [size] bytes]"),
        ];
        let snapshot = format!("inbound__{}", name.trim_end_matches(".scn"));
        let description = format!(
            "scenarios/inbound/{name}, the harness as the remote MTA against the appliance"
        );
        common::assert_snapshot(&snapshot, &description, &filters, text);
    }
}

#[test]
fn every_inbound_snapshot_has_its_scenario() {
    for entry in std::fs::read_dir(common::repo("snapshots")).expect("snapshots/") {
        let file = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some(stem) = file
            .strip_prefix("inbound__")
            .and_then(|f| f.strip_suffix(".snap"))
        {
            assert!(
                common::repo(&format!("scenarios/inbound/{stem}.scn")).is_file(),
                "snapshot {file} has no scenario"
            );
        }
    }
}
