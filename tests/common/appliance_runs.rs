//! Running every scenario of a folder with the appliance (as sender or receiver) through
//! `smtp_harness::run`, for the outbound and inbound snapshot tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use smtp_harness::Scenario;
use smtp_harness::run::{Adapters, Job, JobResult, RunContext, run_job};
use smtp_harness::scenario::SenderKind;

/// The appliance binary of this workspace build.
pub fn appliance() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| crate::common::repo("target"), PathBuf::from);
    let path = target.join("debug").join("appliance");
    assert!(
        path.is_file(),
        "{} is missing: build the workspace (cargo build --workspace)",
        path.display()
    );
    path
}

/// The appliance as a sender or receiver: the adapter the repository's smtp-harness.toml names.
pub fn sender() -> SenderKind {
    SenderKind::adapter("appliance")
}

/// A run context with the repository's adapters (smtp-harness.toml), whose appliance adapter
/// runs this build's appliance.
pub fn context() -> RunContext {
    let adapters = Adapters::load(&crate::common::repo("smtp-harness.toml"))
        .expect("the repository's smtp-harness.toml loads")
        .with_env("APPLIANCE_BIN", &appliance().display().to_string());
    RunContext {
        adapters,
        ..RunContext::default()
    }
}

/// The `*.scn` files of `scenarios/FOLDER`, sorted, with their scenarios.
pub fn scenarios(folder: &str) -> Vec<(String, Scenario)> {
    let mut names: Vec<String> =
        std::fs::read_dir(crate::common::repo(&format!("scenarios/{folder}")))
            .expect("the scenario folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".scn"))
            .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| (n.clone(), crate::common::shipped(&format!("{folder}/{n}"))))
        .collect()
}

/// Runs every scenario with the appliance, all at once; results sorted by file name.
pub async fn run_all(scenarios: Vec<(String, Scenario)>) -> Vec<(String, JobResult)> {
    let ctx = Arc::new(context());
    let mut runs = tokio::task::JoinSet::new();
    for (name, scenario) in scenarios {
        let ctx = ctx.clone();
        runs.spawn(async move {
            let job = Job {
                name: name.clone(),
                scenario: Arc::new(scenario),
                sender: sender(),
            };
            (name, run_job(&job, &ctx).await)
        });
    }
    let mut results = Vec::new();
    while let Some(done) = runs.join_next().await {
        results.push(done.expect("run did not panic"));
    }
    results.sort_by(|a, b| a.0.cmp(&b.0));
    results
}

/// Checks that every `snapshots/PREFIX__*.snap` has its `scenarios/FOLDER/*.scn`.
pub fn assert_every_snapshot_has_its_scenario(prefix: &str, folder: &str) {
    for entry in std::fs::read_dir(crate::common::repo("snapshots")).expect("snapshots/") {
        let file = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some(stem) = file
            .strip_prefix(&format!("{prefix}__"))
            .and_then(|f| f.strip_suffix(".snap"))
        {
            let scenario = crate::common::repo(&format!("scenarios/{folder}/{stem}.scn"));
            assert!(scenario.is_file(), "snapshot {file} has no scenario");
        }
    }
}
