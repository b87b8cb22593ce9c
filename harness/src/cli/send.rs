//! `smtp-harness send`: the harness as a remote MTA, playing a `role client` scenario against
//! a server.

use std::path::PathBuf;

use anyhow::Context;
use smtp_harness::client::{self, ClientOptions};
use smtp_harness::{ClientScenario, Render};

use super::{CliError, Exit};

/// `smtp-harness send`.
#[derive(clap::Args, Debug)]
pub struct SendArgs {
    /// The `role client` scenario to play.
    scenario: PathBuf,
    /// The server, HOST:PORT.
    #[arg(long)]
    to: String,
    /// PEM CA certificates to trust for `tls` steps (default: the harness's test CA).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// The name to verify the server's certificate against.
    #[arg(long, default_value = "localhost")]
    tls_name: String,
    /// Show AUTH payloads instead of [redacted].
    #[arg(long)]
    show_secrets: bool,
    /// A template variable, NAME=VALUE: `{NAME}` in C: lines, raw bytes and message files.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// The receiver's folder, where `expect files` and `expect line` look.
    #[arg(long)]
    effects_dir: Option<PathBuf>,
}

/// Plays the scenario, prints the transcript and what was not met; exit code 1 if anything.
pub fn send(args: SendArgs) -> Result<Exit, CliError> {
    let scenario = ClientScenario::from_file(&args.scenario).map_err(CliError::usage)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    let target = match runtime
        .block_on(tokio::net::lookup_host(args.to.as_str()))
        .map(|mut a| a.next())
    {
        Ok(Some(addr)) => addr,
        _ => {
            return Err(CliError::usage(format!(
                "cannot resolve {:?} (expected HOST:PORT)",
                args.to
            )));
        }
    };
    let ca = match &args.ca {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        None => smtp_harness::certs::embedded_ca_pem().to_owned(),
    };
    let mut options = ClientOptions::trusting(&ca, &args.tls_name, scenario.header.idle_timeout)
        .context("cannot set up TLS")?;
    for var in &args.vars {
        let Some((name, value)) = var.split_once('=') else {
            return Err(CliError::usage(format!(
                "--var {var:?}: expected NAME=VALUE"
            )));
        };
        options = options.var(name, value);
    }
    if let Some(dir) = &args.effects_dir {
        options = options.effects_dir(dir);
    }
    let record = runtime.block_on(client::play(&scenario, target, &options));
    print!(
        "{}",
        record.transcript.to_log(Render {
            show_secrets: args.show_secrets,
            ..Render::default()
        })
    );
    for f in &record.failures {
        println!("FAILED {f}");
    }
    Ok(Exit::verdict(record.passed()))
}
