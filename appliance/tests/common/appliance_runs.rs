//! Running every scenario of a folder with the appliance (as sender or receiver) through
//! `smtp_harness::run`, for the outbound and inbound snapshot tests and the replay of imported
//! logs. The appliance is this package's own binary (`CARGO_BIN_EXE_appliance`), whatever the
//! build profile.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use smtp_harness::AnyScenario;
use smtp_harness::run::{self, Adapters, Job, JobResult, Plan, Progress, RunContext};
use smtp_harness::scenario::SenderKind;

/// A path relative to the repository root.
fn repo(path: &str) -> PathBuf {
    PathBuf::from(super::repo(path))
}

/// The appliance binary Cargo built for these tests.
pub fn appliance() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_appliance"))
}

/// The appliance as a sender or receiver: the adapter the repository's smtp-harness.toml names.
pub fn sender() -> SenderKind {
    SenderKind::adapter("appliance")
}

/// A run context with the repository's adapters (smtp-harness.toml), whose appliance adapter
/// runs this build's appliance.
pub fn context() -> RunContext {
    let adapters = Adapters::load(&repo("smtp-harness.toml"))
        .expect("the repository's smtp-harness.toml loads")
        .with_env("APPLIANCE_BIN", &appliance().display().to_string());
    RunContext {
        adapters,
        ..RunContext::default()
    }
}

/// The `*.scn` files of `scenarios/FOLDER`, sorted, with their scenarios.
pub fn scenarios(folder: &str) -> Vec<(String, AnyScenario)> {
    let mut names: Vec<String> = std::fs::read_dir(repo(&format!("scenarios/{folder}")))
        .expect("the scenario folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".scn"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| (n.clone(), super::shipped_any(&format!("{folder}/{n}"))))
        .collect()
}

/// Runs every scenario with the appliance, all at once (through `run::execute`, as
/// `smtp-harness run` does); results sorted by file name.
pub async fn run_all(scenarios: Vec<(String, AnyScenario)>) -> Vec<(String, JobResult)> {
    let jobs: Vec<Job> = scenarios
        .into_iter()
        .map(|(name, scenario)| Job {
            name,
            scenario: Arc::new(scenario),
            sender: sender(),
        })
        .collect();
    let parallel = jobs.len();
    let outcome = run::execute(Plan::of_jobs(jobs), context(), parallel, |event| {
        if let Progress::Crashed(e) = event {
            panic!("a run panicked: {e}");
        }
    })
    .await;
    outcome
        .results
        .into_iter()
        .map(|result| (result.scenario.clone(), result))
        .collect()
}

/// Checks that every `snapshots/PREFIX__*.snap` has its `scenarios/FOLDER/*.scn`.
pub fn assert_every_snapshot_has_its_scenario(prefix: &str, folder: &str) {
    for entry in std::fs::read_dir(repo("snapshots")).expect("snapshots/") {
        let file = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some(stem) = file
            .strip_prefix(&format!("{prefix}__"))
            .and_then(|f| f.strip_suffix(".snap"))
        {
            let scenario = repo(&format!("scenarios/{folder}/{stem}.scn"));
            assert!(scenario.is_file(), "snapshot {file} has no scenario");
        }
    }
}
