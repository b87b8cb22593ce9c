//! `smtp-harness run`: the arguments, the progress bar and the printing around the library's
//! [`run::load`] and [`run::execute`].

use std::path::PathBuf;

use anyhow::Context;
use smtp_harness::run::{self, Adapters, LoadError, Progress, RunContext};
use smtp_harness::scenario::SenderKind;

use super::{CliError, Exit};

/// `smtp-harness run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Scenario files or directories (searched for *.scn); FILE#CASE runs one case of a
    /// persona, as the result lines name it.
    #[arg(default_value = "scenarios")]
    paths: Vec<PathBuf>,
    /// Drive every scenario with this sender only (lettre, curl, swaks, command, or an
    /// adapter of smtp-harness.toml such as appliance).
    #[arg(long)]
    sender: Option<String>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// How many scenarios run at once (default: twice the CPUs).
    #[arg(long)]
    jobs: Option<usize>,
    /// The configuration file that declares the adapters (default: $SMTP_HARNESS_CONFIG, or
    /// the first smtp-harness.toml in the current directory or its parents).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the compatibility matrix of persona cases (vendor × case) is written, as
    /// compatibility.md and compatibility.html.
    #[arg(long, default_value = "smtp-harness-report")]
    matrix_dir: PathBuf,
}

/// Loads the plan, runs it with a progress bar, prints the results, the failures, the
/// matrices and the summary; exit code 1 if anything failed.
pub fn run(args: RunArgs) -> Result<Exit, CliError> {
    let adapters = match &args.config {
        Some(path) => Adapters::load(path),
        None => Adapters::discover(),
    }
    .map_err(CliError::usage)?;
    let only = match args.sender.as_deref() {
        None => None,
        Some(name) => {
            let kind = SenderKind::from_name(name).ok_or_else(|| {
                CliError::usage(format!(
                    "unknown sender {name:?} (expected lettre, curl, swaks, command or an adapter's name)"
                ))
            })?;
            adapters
                .check_sender(kind, "--sender")
                .map_err(CliError::usage)?;
            Some(kind)
        }
    };
    let plan = match run::load(&args.paths, only, &adapters) {
        Ok(plan) => plan,
        Err(LoadError::Broken { problems }) => return Err(CliError::usage_each(problems)),
        Err(e @ LoadError::NoFiles { .. }) => return Err(CliError::usage(e)),
        Err(e) => return Err(anyhow::Error::new(e).into()),
    };
    let ctx = RunContext {
        adapters,
        ..RunContext::default()
    };
    for s in &plan.skipped {
        println!("{}", s.line());
    }
    let parallel = args.jobs.unwrap_or_else(run::default_parallelism);

    let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    let progress = progress_bar(plan.jobs.len() as u64);
    let outcome = runtime.block_on(run::execute(plan, ctx, parallel, |event| match event {
        Progress::Finished(result) => {
            progress.suspend(|| println!("{}", result.line()));
            progress.inc(1);
        }
        Progress::Crashed(e) => {
            progress.suspend(|| eprintln!("error: a scenario run crashed: {e}"))
        }
    }));
    progress.finish_and_clear();

    let failures = outcome.failures();
    if !failures.is_empty() {
        println!("\nfailures:");
        for f in &failures {
            println!("\n{}", f.full());
        }
    }
    if let Some(matrix) = outcome.sender_matrix() {
        println!("\n{matrix}");
    }
    let compat = outcome.compatibility();
    if !compat.is_empty() {
        for m in &compat {
            println!("\n{}{}", m.to_text(), m.summary());
        }
        let (md, html) =
            run::write_compatibility(&compat, &args.matrix_dir).map_err(anyhow::Error::new)?;
        println!(
            "compatibility matrix written to {} and {}",
            md.display(),
            html.display()
        );
    }
    if let Some(path) = &args.junit {
        outcome.write_junit(path).map_err(anyhow::Error::new)?;
    }
    println!("\n{}", outcome.summary());
    Ok(Exit::verdict(failures.is_empty()))
}

/// A progress bar on stderr for long runs in a terminal (hidden under CI or when piped).
fn progress_bar(len: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let interactive = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    if !interactive {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} scenarios {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
