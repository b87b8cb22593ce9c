//! `appliance harness-adapter send|receive`: the appliance as smtp-harness drives it, through
//! the harness's adapter contract (`smtp-harness.toml` at the repository root runs this through
//! the `appliance/harness-adapter` script). This module alone turns the harness's words
//! (`{host}`, `{encryption}`, `--set notify=…`) into the appliance's settings file and
//! commands, so that the harness knows neither.
//!
//! - `send`: writes candidate settings for the fake server into `--work` and runs `email test`
//!   with them (the admin's "send test email"); its exit code and output are the verdict.
//! - `receive`: the inbound side on the data folder `--work`: `inbound serve` and `replies
//!   process --watch`, each as a child of this process, after an optional notification whose
//!   addresses it prints as `var` lines; then `listening on ADDR`, and on SIGTERM it stops both
//!   and prints what they did (see [`receive`]).

mod effects;
mod receive;

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{Cli, Command, EmailCommand};
use crate::exit;

/// `appliance harness-adapter …`
#[derive(Debug, Subcommand)]
pub enum HarnessAdapterCommand {
    /// Send the test email to the harness's fake server (the sender contract).
    Send(SendArgs),
    /// Run the inbound side for the harness's client scenarios until SIGTERM (the receiver
    /// contract).
    Receive(ReceiveArgs),
}

/// `harness-adapter send`: the sender contract's placeholders.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The fake server's host.
    #[arg(long)]
    pub host: String,
    /// Its port.
    #[arg(long)]
    pub port: u16,
    /// The PEM file with the certificate to trust.
    #[arg(long, value_name = "FILE")]
    pub ca: PathBuf,
    /// none, starttls, starttls-opportunistic or tls.
    #[arg(long)]
    pub encryption: String,
    /// none, plain, login or cram-md5.
    #[arg(long)]
    pub auth: String,
    /// The user name for AUTH.
    #[arg(long, default_value = "")]
    pub user: String,
    /// The password for AUTH.
    #[arg(long, default_value = "")]
    pub password: String,
    /// The no-reply address the test email comes from.
    #[arg(long)]
    pub from: String,
    /// The recipients, joined by commas (the test email goes to the first).
    #[arg(long)]
    pub to: String,
    /// The SMTP timeout, in seconds.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// A private, empty directory for this run.
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,
}

/// `harness-adapter receive`: the receiver contract's placeholders.
#[derive(Debug, Args)]
pub struct ReceiveArgs {
    /// The data folder (empty at the start; the harness reads the effects there).
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,
    /// The certificate chain to offer with STARTTLS (empty: no STARTTLS).
    #[arg(long, value_name = "FILE", default_value = "")]
    pub cert: String,
    /// Its private key.
    #[arg(long, value_name = "FILE", default_value = "")]
    pub key: String,
    /// A setting of the scenario's receiver block, as KEY=VALUE: hostname NAME,
    /// discard-to-noreply on|off, size OCTETS, notify KIND REPO NUMBER USER ADDRESS,
    /// token-age DURATION.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
}

/// Runs `harness-adapter send|receive`; returns the exit code.
pub(super) fn run(command: HarnessAdapterCommand) -> anyhow::Result<u8> {
    match command {
        HarnessAdapterCommand::Send(args) => send(&args),
        HarnessAdapterCommand::Receive(args) => receive::run(&args),
    }
}

/// Writes the candidate settings and runs `email test` with them, in this process.
fn send(args: &SendArgs) -> anyhow::Result<u8> {
    let candidate = args.work.join("candidate.toml");
    if let Err(e) = std::fs::write(&candidate, candidate_settings(args)) {
        eprintln!(
            "appliance harness-adapter: cannot write {}: {e}",
            candidate.display()
        );
        return Ok(exit::IOERR);
    }
    let to = args.to.split(',').next().unwrap_or_default().to_owned();
    super::run(Cli {
        data_dir: args.work.join("appliance"),
        command: Command::Email(EmailCommand::Test {
            to,
            settings: Some(candidate),
            json: false,
        }),
    })
}

/// The settings an admin would enter for the harness's fake server.
fn candidate_settings(args: &SendArgs) -> String {
    let mut settings = format!(
        "hostname = \"appliance.test\"\n\n[email]\nenabled = true\naddress = {host:?}\nport = {port}\ndomain = \"appliance.test\"\n\
         encryption = {enc:?}\nauthentication = {auth:?}\nca_file = {ca:?}\nnoreply_address = {from:?}\n\
         discard_to_noreply = true\nsupport = \"https://support.appliance.test\"\ntimeout_secs = {timeout}\n",
        host = args.host,
        port = args.port,
        enc = args.encryption,
        auth = args.auth,
        ca = path_text(&args.ca),
        from = args.from,
        timeout = args.timeout.max(1),
    );
    if args.auth != "none" {
        settings.push_str(&format!(
            "username = {:?}\npassword = {:?}\n",
            args.user, args.password
        ));
    }
    settings
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}
