//! The `appliance` command line: argument parsing and output. The work is done by the library
//! modules; this module only wires them to arguments, standard output and exit codes.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::datadir::{DEFAULT_DATA_DIR, DataDir};
use crate::settings::Settings;
use crate::{email_test, exit};

/// The appliance's email subsystem.
#[derive(Debug, Parser)]
#[command(name = "appliance", version, about)]
pub struct Cli {
    /// The appliance's data directory (settings.toml, logs/unicorn.log).
    #[arg(long, global = true, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The settings file.
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// Outbound email.
    #[command(subcommand)]
    Email(EmailCommand),
}

/// `appliance settings …`
#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Check a settings file and report every bad value (exit 78 if there is one).
    Validate {
        /// The file to check (default: DATA_DIR/settings.toml).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

/// `appliance email …`
#[derive(Debug, Subcommand)]
pub enum EmailCommand {
    /// Send a test email with candidate settings; save them only if it is accepted.
    Test {
        /// The address to send the test email to.
        #[arg(long, value_name = "ADDR")]
        to: String,
        /// The candidate settings (default: the active DATA_DIR/settings.toml).
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Parses the process's arguments and runs the command; returns the exit code.
pub fn main() -> u8 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("appliance: {e:#}");
            exit::SOFTWARE
        }
    }
}

/// Runs a parsed command; returns the exit code.
///
/// # Errors
/// Only for internal failures (the async runtime cannot start); every expected failure is an
/// exit code with its message already printed.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let data_dir = DataDir::new(cli.data_dir);
    match cli.command {
        Command::Settings(SettingsCommand::Validate { file }) => {
            let path = file.unwrap_or_else(|| data_dir.settings_file());
            Ok(match Settings::load(&path) {
                Ok(_) => {
                    println!("{}: the settings are valid", path.display());
                    exit::OK
                }
                Err(e) => {
                    eprintln!("{e}");
                    exit::CONFIG
                }
            })
        }
        Command::Email(EmailCommand::Test { to, settings, json }) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let report = runtime.block_on(email_test::run(&data_dir, settings.as_deref(), &to));
            if json {
                println!("{}", report.json());
            } else if report.succeeded() {
                print!("{}", report.human());
            } else {
                eprint!("{}", report.human());
            }
            Ok(report.exit_code())
        }
    }
}
