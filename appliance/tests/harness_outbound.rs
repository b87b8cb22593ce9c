//! Every scenario in `scenarios/outbound/` driven by the appliance's own sender (`appliance
//! email test`, through its adapter in smtp-harness.toml), with its outcome judged and its conversation snapshotted in
//! `snapshots/outbound__*.snap`. The appliance binary comes from the same workspace build.

mod common;

use common::appliance_runs;

use smtp_harness::AnyScenario;
use smtp_harness::run::Verdict;

#[tokio::test]
async fn every_outbound_scenario_with_the_appliance_meets_its_outcome_and_snapshot() {
    // Arrange and act: every scenario, each with its own server, all at once.
    let scenarios = appliance_runs::scenarios("outbound");
    for (name, scenario) in &scenarios {
        let lists_appliance = matches!(
            scenario,
            AnyScenario::Server(s) if s.sender.as_ref().is_some_and(|s| s.senders.contains(&appliance_runs::sender()))
        );
        assert!(lists_appliance, "{name} does not list the appliance");
    }
    let results = appliance_runs::run_all(scenarios).await;
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
            (r"\[message: \d+ bytes\]", "[message: [size] bytes]"),
        ];
        let snapshot = format!("outbound__{}", name.trim_end_matches(".scn"));
        let description = format!("scenarios/outbound/{name}, driven by the appliance");
        common::snapshot::assert_snapshot(&snapshot, &description, &filters, text);
    }
}

#[test]
fn every_outbound_snapshot_has_its_scenario() {
    appliance_runs::assert_every_snapshot_has_its_scenario("outbound", "outbound");
}
