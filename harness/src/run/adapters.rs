//! Adapters: how `smtp-harness run` drives a sender or a receiver it does not know, such as
//! the system under test. An adapter is a command line with placeholders, declared by name in
//! the configuration file `smtp-harness.toml`; the harness fills in the placeholders, runs the
//! program and reads only its exit code and its output. The harness knows nothing else about
//! the program: its settings format and its commands stay behind the adapter.
//!
//! ```toml
//! # smtp-harness.toml
//! [sender.appliance]
//! run = ["appliance/harness-adapter", "send", "--host={host}", "--port={port}", "--ca={ca}",
//!        "--encryption={encryption}", "--auth={auth}", "--user={user}", "--work={work}", …]
//!
//! [receiver.appliance]
//! run = ["appliance/harness-adapter", "receive", "--work={work}", "--cert={cert}",
//!        "--key={key}", "{settings}"]
//! ```
//!
//! **Finding the file.** `run --config FILE`, else `$SMTP_HARNESS_CONFIG`, else the first
//! `smtp-harness.toml` in the current directory or one of its parents (as Cargo finds
//! `Cargo.toml`). A relative program path with a `/` is taken from the file's folder; a bare
//! name is looked up on `PATH`. `lettre`, `curl`, `swaks` and `command` are built in and cannot
//! be declared; any other name a scenario gives (`sender appliance lettre`, `receiver
//! appliance`, `run --sender appliance`) must be declared, or the run stops before it starts,
//! naming the scenario's line and the files searched.
//!
//! **Sender contract.** The program is run once per scenario with these placeholders filled in
//! (anywhere in a word): `{host}` and `{port}` (the fake server), `{ca}` (a PEM file with the
//! certificate to trust), `{user}`, `{password}`, `{from}`, `{to}` (the recipients, joined by
//! commas), `{message}` (a file with the message to send), `{encryption}` (`none`, `starttls`,
//! `starttls-opportunistic` or `tls`), `{auth}` (`none`, `plain`, `login` or `cram-md5`),
//! `{timeout}` (the scenario's timeout in whole seconds), `{trust}` (`test-ca` or
//! `self-signed`: what `{ca}` holds) and `{work}` (an empty directory of its own for the run).
//! Exit status 0 means the sender believes the message went out, anything else that it did not;
//! what it prints on standard output and standard error is shown, with the credentials
//! redacted, when the run fails. It is killed if it outlives the scenario's timeout by 5 s.
//! The inline adapter, a scenario's `sender command` with its `run` line, gets the same
//! placeholders.
//!
//! **Receiver contract.** For a client scenario (`role client`) with `receiver NAME`, the
//! program is started with `{work}` (an empty data folder: the files that `expect files …` and
//! `expect line …` look at are read there), `{tls}` (`on` or `off`), `{cert}` and `{key}`
//! (PEM files of the harness's `valid` certificate and its key, for `tls on`; empty otherwise),
//! `{ca}` (the test CA that signed it) and `{settings}`: a word that is exactly `{settings}`
//! becomes one word `--set=KEY=VALUE` for every other line of the receiver block, in file order
//! (`notify issue octo/widgets 42 bob bob@example.com` gives `--set=notify=issue octo/widgets
//! 42 bob bob@example.com`; VALUE is the words after the key, joined by one space). On standard output it prints `var NAME VALUE` lines (template variables
//! for the script: `C: RCPT TO:<{reply_to}>`), then `listening on ADDR` when it accepts
//! connections there, within 20 s. It runs until the harness sends SIGTERM, then stops what it
//! started and exits; whatever it printed after `listening on` (what it did, say) is shown under
//! the scenario's result. An adapter still running 15 s after SIGTERM is killed.
//!
//! Python's smtplib as a sender (`sender smtplib` in a scenario, `run --sender smtplib`):
//!
//! ```toml
//! [sender.smtplib]
//! run = ["python3", "scripts/senders/smtplib-send.py", "{host}", "{port}", "{ca}",
//!        "{encryption}", "{auth}", "{user}", "{password}", "{from}", "{to}", "{message}"]
//! ```
//!
//! (A bare program name is looked up on `PATH`; the other words are passed as they are, so
//! the script's path is relative to the directory `run` runs in.)

mod config;
mod placeholders;

use std::path::PathBuf;

pub use config::Adapters;
pub use placeholders::{RECEIVER_PLACEHOLDERS, SENDER_PLACEHOLDERS, expand};

/// The configuration file's name.
pub const CONFIG_FILE: &str = "smtp-harness.toml";
/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "SMTP_HARNESS_CONFIG";

/// Whether an adapter sends mail to the fake server or receives it from the harness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `[sender.NAME]`.
    Sender,
    /// `[receiver.NAME]`.
    Receiver,
}

impl Role {
    /// `sender` or `receiver`, as in the file.
    pub fn name(self) -> &'static str {
        match self {
            Role::Sender => "sender",
            Role::Receiver => "receiver",
        }
    }
}

/// Why the adapters cannot be read or an adapter cannot be found.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The configuration file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not what it should be.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
    /// A scenario or the command line names an adapter the configuration does not declare.
    #[error("{at}: no {} adapter `{name}`: {why}", role.name())]
    Unknown {
        /// The scenario's file and line, or `--sender`.
        at: String,
        /// Sender or receiver.
        role: Role,
        /// The name.
        name: String,
        /// What was searched, and what is there.
        why: String,
    },
}

/// One adapter: a program and its arguments, with placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterCommand {
    /// Its name (`appliance`).
    pub name: String,
    /// The program, resolved against the configuration file's folder if it is relative.
    pub program: PathBuf,
    /// The arguments, placeholders unfilled.
    pub args: Vec<String>,
}

impl AdapterCommand {
    /// The command line with the placeholders filled in from `values`; a word that is exactly
    /// `{NAME}` of a list in `lists` becomes that list's words.
    pub fn argv(&self, values: &[(&str, String)], lists: &[(&str, Vec<String>)]) -> Vec<String> {
        let mut argv = vec![self.program.display().to_string()];
        for arg in &self.args {
            match lists.iter().find(|(name, _)| arg == &format!("{{{name}}}")) {
                Some((_, words)) => argv.extend(words.iter().cloned()),
                None => argv.push(expand(arg, values)),
            }
        }
        argv
    }
}

#[cfg(test)]
mod tests;
