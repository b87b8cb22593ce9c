//! `smtp-harness check`: every scenario file under the paths given, loaded and judged.

use std::path::PathBuf;

use smtp_harness::run::{self, LoadError};
use smtp_harness::scenario::AnyScenarioFile;

use super::{CliError, Exit};

/// `smtp-harness check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Files or directories.
    #[arg(default_value = "scenarios")]
    paths: Vec<PathBuf>,
}

/// Prints `ok` or `broken` for each file, then a count; exit code 1 if any is broken.
pub fn check(args: &CheckArgs) -> Result<Exit, CliError> {
    let files = match run::scenario_files(&args.paths) {
        Ok(files) => files,
        Err(e @ LoadError::NoFiles { .. }) => return Err(CliError::usage(e)),
        Err(e) => return Err(anyhow::Error::new(e).into()),
    };
    let mut broken = 0;
    for file in &files {
        match AnyScenarioFile::from_file(file) {
            Ok(f) if f.case_names().is_empty() => {
                println!("ok      {}  ({})", file.display(), f.header().name);
            }
            Ok(f) => println!(
                "ok      {}  ({}; cases: {})",
                file.display(),
                f.header().name,
                f.case_names().join(", ")
            ),
            Err(e) => {
                broken += 1;
                println!("broken  {e}");
            }
        }
    }
    println!("{} file(s) checked, {} broken", files.len(), broken);
    Ok(Exit::verdict(broken == 0))
}
