//! Carrying out a [`Plan`]: every job on its own task, at most `parallel` at once, each result
//! reported as it comes; then what the run gives back ([`Outcome`]): the results in a stable
//! order, the failures, the matrices and the files they are written to.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};

use super::compat::{self, CompatMatrix};
use super::{JobResult, Plan, RunContext, Verdict, report, run_job};
use crate::scenario::SenderKind;

/// What [`execute`] tells as it goes.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A job finished (in the order jobs finish, not the plan's).
    Finished(&'a JobResult),
    /// A job's task panicked; it has no result.
    Crashed(&'a JoinError),
}

/// How many jobs run at once by default: twice the CPUs (a job mostly waits on a sender).
pub fn default_parallelism() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get() * 2)
}

/// Runs every job of `plan` with `ctx`, at most `parallel` at once (at least one), telling
/// `progress` about each as it finishes. The plan's skipped pairs are part of the outcome.
pub async fn execute(
    plan: Plan,
    ctx: RunContext,
    parallel: usize,
    mut progress: impl FnMut(Progress<'_>),
) -> Outcome {
    let limit = Arc::new(Semaphore::new(parallel.clamp(1, Semaphore::MAX_PERMITS)));
    let ctx = Arc::new(ctx);
    let mut set = JoinSet::new();
    for job in plan.jobs {
        let (limit, ctx) = (limit.clone(), ctx.clone());
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            run_job(&job, &ctx).await
        });
    }
    let mut results = plan.skipped;
    while let Some(done) = set.join_next().await {
        match done {
            Ok(result) => {
                progress(Progress::Finished(&result));
                results.push(result);
            }
            Err(e) => progress(Progress::Crashed(&e)),
        }
    }
    results.sort_by(|a, b| (a.scenario.as_str(), a.sender).cmp(&(b.scenario.as_str(), b.sender)));
    Outcome {
        results,
        case_order: plan.case_order,
    }
}

/// A finished run.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Every result, skipped pairs included, sorted by scenario, then sender.
    pub results: Vec<JobResult>,
    /// The persona cases' column order (from the plan).
    pub case_order: Vec<String>,
}

/// A report file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The folder could not be made.
    #[error("cannot create {}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The JUnit XML could not be made.
    #[error("cannot write the JUnit report")]
    Junit(#[source] quick_junit::SerializeError),
}

impl Outcome {
    /// The results that failed, in order.
    pub fn failures(&self) -> Vec<&JobResult> {
        self.results
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .collect()
    }

    /// `true` when nothing failed.
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.verdict != Verdict::Fail)
    }

    /// The scenario × sender matrix, when more than one sender took part.
    pub fn sender_matrix(&self) -> Option<String> {
        let senders: BTreeSet<SenderKind> = self
            .results
            .iter()
            .filter(|r| !matches!(r.verdict, Verdict::Skip(_)) || r.observed.is_empty())
            .map(|r| r.sender)
            .collect();
        (senders.len() > 1).then(|| report::matrix(&self.results))
    }

    /// The vendor × case matrices of the persona cases that ran (empty without any).
    pub fn compatibility(&self) -> Vec<CompatMatrix> {
        compat::matrices(&self.results, &self.case_order)
    }

    /// The line closing a run: `N passed, N failed, N skipped`.
    pub fn summary(&self) -> String {
        report::summary(&self.results)
    }

    /// Writes the JUnit XML report to `path`.
    ///
    /// # Errors
    /// [`ReportError`] when it cannot be made or written.
    pub fn write_junit(&self, path: &Path) -> Result<(), ReportError> {
        let xml = report::junit(&self.results).map_err(ReportError::Junit)?;
        write(path, &xml)
    }
}

/// Writes the compatibility matrices into `dir` as `compatibility.md` and
/// `compatibility.html`; returns the two files.
///
/// # Errors
/// [`ReportError`] when the folder cannot be made or a file cannot be written.
pub fn write_compatibility(
    matrices: &[CompatMatrix],
    dir: &Path,
) -> Result<(PathBuf, PathBuf), ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let (md, html) = (dir.join("compatibility.md"), dir.join("compatibility.html"));
    write(&md, &compat::markdown(matrices))?;
    write(&html, &compat::html(matrices))?;
    Ok((md, html))
}

fn write(path: &Path, text: &str) -> Result<(), ReportError> {
    std::fs::write(path, text).map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    })
}
