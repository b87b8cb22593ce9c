//! `smtp-harness import`: a customer's log or a client's debug output into a scenario.

use std::path::PathBuf;

use smtp_harness::import::{self, Format};

use super::output::{print_whole, write_whole};
use super::{CliError, Exit};

/// `smtp-harness import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The evidence: a log, a support bundle (.tar.gz) or a client's debug output.
    file: PathBuf,
    /// Write the scenario here instead of printing it.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The input format (default: detected): log, bundle, swaks, transcript, smtplib, curl,
    /// phpmailer, msmtp.
    #[arg(long, value_parser = parse_format)]
    format: Option<Format>,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

/// Prints the scenario, or writes it whole to `-o` and says so on stderr.
pub fn import(args: &ImportArgs) -> Result<Exit, CliError> {
    let imported = import::import_file(&args.file, args.format).map_err(CliError::usage)?;
    match &args.output {
        None => print_whole(&imported.scenario)?,
        Some(path) => {
            write_whole(path, &imported.scenario)?;
            eprintln!(
                "imported {} ({}) into {}",
                args.file.display(),
                imported.format.name(),
                path.display()
            );
        }
    }
    Ok(Exit::Success)
}
