//! Command-line interface, one file per subcommand. Exit codes ([`Exit`]): 0 success; 1 a
//! scenario's expectations were broken, `check` found a broken file or `record` recorded
//! nothing; 2 bad usage, a scenario that cannot be loaded or input `import` cannot read; 3 the
//! environment failed (cannot listen, cannot write a file). Every subcommand returns its exit
//! code or a [`CliError`], printed here.

mod certs;
mod check;
mod error;
mod import;
mod output;
mod record;
mod run;
mod send;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use error::{CliError, Exit};

/// A scriptable fake SMTP server and conformance harness.
#[derive(Parser, Debug)]
#[command(name = "smtp-harness", version, about, long_about = None, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 success; 1 expectations broken (serve --once), broken files (check) \
or nothing recorded (record); 2 bad usage, a scenario that cannot be loaded or input import cannot read; 3 cannot listen or write.";

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve a scenario to every connection until SIGINT/SIGTERM (or after one with --once).
    ///
    /// The first line on stdout is `listening on ADDR`. Each connection's transcript is
    /// appended to --transcript when it closes; a one-line verdict per connection goes to stderr.
    Serve(serve::ServeArgs),
    /// Drive real senders through scenarios, each against its own fake server, in parallel.
    ///
    /// Prints one PASS/FAIL/SKIP line per scenario and sender (with a step-by-step account of
    /// each failure), a matrix when several senders ran, and `N passed, N failed, N skipped`.
    Run(run::RunArgs),
    /// Play a `role client` scenario against an SMTP server, as a remote MTA would.
    ///
    /// Prints the transcript (`->` what the server sent, `<-` what was sent to it) and the
    /// steps or expectations that were not met; exit code 1 if any.
    Send(send::SendArgs),
    /// Validate scenario files (directories are searched for *.scn).
    Check(check::CheckArgs),
    /// Turn a customer's evidence (the reference log, a support bundle, swaks, curl -v,
    /// smtplib, PHPMailer or msmtp debug output, an S:/C: transcript) into a scenario.
    ///
    /// Prints the scenario (or writes it with -o); exit code 2 on input it cannot read, with
    /// the line named.
    Import(import::ImportArgs),
    /// Record a real SMTP server: a proxy in front of it that writes a scenario replaying it.
    ///
    /// The first line on stdout is `listening on ADDR`. Each connection is relayed to the
    /// upstream (STARTTLS and implicit TLS terminated on both sides) and recorded; when it ends,
    /// the scenario of that connection is written to -o (replacing the last one), or printed
    /// when record exits. Runs until SIGINT/SIGTERM, or until the first connection ends with
    /// --once. AUTH payloads are never written.
    Record(record::RecordArgs),
    /// (Re)generate the test CA and certificate variants with rcgen.
    Certs(certs::CertsArgs),
}

/// Runs the CLI and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::Run(args) => run::run(args),
        Command::Send(args) => send::send(args),
        Command::Check(args) => check::check(&args),
        Command::Import(args) => import::import(&args),
        Command::Record(args) => record::record(args),
        Command::Certs(args) => certs::certs(&args),
    };
    match result {
        Ok(exit) => exit.into(),
        Err(error) => error.report(),
    }
}
