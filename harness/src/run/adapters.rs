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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::scenario::{AdapterName, Scenario, SenderKind};

/// The configuration file's name.
pub const CONFIG_FILE: &str = "smtp-harness.toml";
/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "SMTP_HARNESS_CONFIG";

/// The placeholders of the sender contract.
pub const SENDER_PLACEHOLDERS: [&str; 13] = [
    "host",
    "port",
    "ca",
    "user",
    "password",
    "from",
    "to",
    "message",
    "encryption",
    "auth",
    "timeout",
    "trust",
    "work",
];
/// The placeholders of the receiver contract (`{settings}` only as a whole word).
pub const RECEIVER_PLACEHOLDERS: [&str; 6] = ["work", "tls", "cert", "key", "ca", "settings"];

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

/// Where the adapters came from, for error messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Origin {
    /// No configuration was looked for.
    #[default]
    NotLoaded,
    /// Read from this file.
    File(PathBuf),
    /// Searched for in these places, not found.
    NotFound(Vec<PathBuf>),
}

/// The adapters of a run: the configuration file's `[sender.NAME]` and `[receiver.NAME]`
/// tables, and the environment their programs get.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Adapters {
    origin: Origin,
    senders: BTreeMap<String, AdapterCommand>,
    receivers: BTreeMap<String, AdapterCommand>,
    env: Vec<(String, String)>,
}

/// The file as TOML.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    sender: BTreeMap<String, AdapterEntry>,
    #[serde(default)]
    receiver: BTreeMap<String, AdapterEntry>,
}

/// One `[sender.NAME]` or `[receiver.NAME]` table.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AdapterEntry {
    run: Vec<String>,
}

impl Adapters {
    /// No adapters: only the built-in senders.
    pub fn none() -> Self {
        Adapters::default()
    }

    /// Finds the configuration as `run` does without `--config`: `$SMTP_HARNESS_CONFIG`, else
    /// the first `smtp-harness.toml` in the current directory or its parents. Finding none is
    /// not an error (the built-in senders need none).
    ///
    /// # Errors
    /// When the file found cannot be read or is invalid.
    pub fn discover() -> Result<Self, AdapterError> {
        if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
            return Self::load(Path::new(&path));
        }
        let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Self::discover_from(&here)
    }

    /// The first `smtp-harness.toml` in `dir` or one of its parents.
    ///
    /// # Errors
    /// When the file found cannot be read or is invalid.
    pub fn discover_from(dir: &Path) -> Result<Self, AdapterError> {
        let mut searched = Vec::new();
        for folder in dir.ancestors() {
            let candidate = folder.join(CONFIG_FILE);
            if candidate.is_file() {
                return Self::load(&candidate);
            }
            searched.push(candidate);
        }
        Ok(Adapters {
            origin: Origin::NotFound(searched),
            ..Adapters::default()
        })
    }

    /// Reads a configuration file.
    ///
    /// # Errors
    /// When it cannot be read, is not TOML of the expected shape, declares a built-in sender,
    /// an adapter without a program, or a placeholder its contract does not have.
    pub fn load(path: &Path) -> Result<Self, AdapterError> {
        let text = std::fs::read_to_string(path).map_err(|source| AdapterError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Reads the text of a configuration file found at `path` (relative programs are taken
    /// from its folder).
    ///
    /// # Errors
    /// As [`Adapters::load`].
    pub fn parse(text: &str, path: &Path) -> Result<Self, AdapterError> {
        let invalid = |message: String| AdapterError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let file: ConfigFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let folder = path.parent().unwrap_or(Path::new("."));
        let mut adapters = Adapters {
            origin: Origin::File(path.to_path_buf()),
            ..Adapters::default()
        };
        for (role, entries) in [(Role::Sender, file.sender), (Role::Receiver, file.receiver)] {
            for (name, entry) in entries {
                let command = adapter_command(role, &name, entry, folder).map_err(invalid)?;
                match role {
                    Role::Sender => adapters.senders.insert(name, command),
                    Role::Receiver => adapters.receivers.insert(name, command),
                };
            }
        }
        Ok(adapters)
    }

    /// Adds a variable to the environment of every adapter program (a test points the
    /// appliance's adapter at its build this way: `APPLIANCE_BIN`).
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The environment added to every adapter program.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// The configuration file the adapters came from, if one was read.
    pub fn file(&self) -> Option<&Path> {
        match &self.origin {
            Origin::File(path) => Some(path),
            _ => None,
        }
    }

    /// The sender adapter `name`; `at` says who asked, for the error.
    ///
    /// # Errors
    /// [`AdapterError::Unknown`] when the configuration does not declare it.
    pub fn sender(&self, name: AdapterName, at: &str) -> Result<&AdapterCommand, AdapterError> {
        self.senders
            .get(name.as_str())
            .ok_or_else(|| self.unknown(Role::Sender, name.as_str(), at))
    }

    /// The receiver adapter `name`; `at` says who asked, for the error.
    ///
    /// # Errors
    /// [`AdapterError::Unknown`] when the configuration does not declare it.
    pub fn receiver(&self, name: &str, at: &str) -> Result<&AdapterCommand, AdapterError> {
        self.receivers
            .get(name)
            .ok_or_else(|| self.unknown(Role::Receiver, name, at))
    }

    /// Checks that a sender (from `--sender`, say) is built in or declared.
    ///
    /// # Errors
    /// [`AdapterError::Unknown`] naming `at`.
    pub fn check_sender(&self, kind: SenderKind, at: &str) -> Result<(), AdapterError> {
        match kind {
            SenderKind::Adapter(name) => self.sender(name, at).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Checks that every adapter a scenario names (on its `sender` line, in its `receiver`
    /// block) is declared: run before anything starts, so that a typo stops the run at once.
    ///
    /// # Errors
    /// [`AdapterError::Unknown`] naming the scenario's file and line.
    pub fn check_scenario(&self, scenario: &Scenario) -> Result<(), AdapterError> {
        let origin = scenario
            .path
            .as_ref()
            .map_or_else(|| "<inline>".to_owned(), |p| p.display().to_string());
        if let Some(spec) = &scenario.sender {
            for kind in &spec.senders {
                self.check_sender(*kind, &format!("{origin}:{}", spec.line))?;
            }
        }
        if let Some(receiver) = &scenario.receiver {
            self.receiver(&receiver.name, &format!("{origin}:{}", receiver.line))?;
        }
        Ok(())
    }

    fn unknown(&self, role: Role, name: &str, at: &str) -> AdapterError {
        let declared: Vec<String> = match role {
            Role::Sender => self.senders.keys(),
            Role::Receiver => self.receivers.keys(),
        }
        .map(|n| format!("[{}.{n}]", role.name()))
        .collect();
        let searched = match &self.origin {
            Origin::NotLoaded => "no configuration file was read".to_owned(),
            Origin::NotFound(searched) => format!(
                "no {CONFIG_FILE} was found (searched {}; give one with --config FILE or ${CONFIG_ENV})",
                searched
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Origin::File(path) if declared.is_empty() => {
                format!("{} declares no {} adapters", path.display(), role.name())
            }
            Origin::File(path) => {
                format!("{} declares only {}", path.display(), declared.join(", "))
            }
        };
        let why = match role {
            Role::Sender => format!("not built in (lettre, curl, swaks, command), and {searched}"),
            Role::Receiver => searched,
        };
        AdapterError::Unknown {
            at: at.to_owned(),
            role,
            name: name.to_owned(),
            why,
        }
    }
}

/// Checks one table and resolves its program.
fn adapter_command(
    role: Role,
    name: &str,
    entry: AdapterEntry,
    folder: &Path,
) -> Result<AdapterCommand, String> {
    let table = format!("[{}.{name}]", role.name());
    if !AdapterName::is_valid(name) {
        return Err(format!(
            "{table}: an adapter's name is made of letters, digits, `-`, `_` and `.`"
        ));
    }
    if role == Role::Sender
        && SenderKind::from_name(name).is_some_and(|k| !matches!(k, SenderKind::Adapter(_)))
    {
        return Err(format!(
            "{table}: `{name}` is a built-in sender; give the adapter another name"
        ));
    }
    let (program, args) = entry
        .run
        .split_first()
        .ok_or_else(|| format!("{table}: `run` needs the program, then its arguments"))?;
    let known: &[&str] = match role {
        Role::Sender => &SENDER_PLACEHOLDERS,
        Role::Receiver => &RECEIVER_PLACEHOLDERS,
    };
    for arg in args {
        for placeholder in placeholders_in(arg) {
            if !known.contains(&placeholder) {
                return Err(format!(
                    "{table}: unknown placeholder {{{placeholder}}} in {arg:?} (a {} has {})",
                    role.name(),
                    known
                        .iter()
                        .map(|p| format!("{{{p}}}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
            if placeholder == "settings" && arg != "{settings}" {
                return Err(format!(
                    "{table}: {{settings}} stands alone as a word (it becomes `--set=KEY=VALUE` words), not inside {arg:?}"
                ));
            }
        }
    }
    let program = PathBuf::from(program);
    let program = if program.is_relative() && program.components().count() > 1 {
        folder.join(program)
    } else {
        program
    };
    Ok(AdapterCommand {
        name: name.to_owned(),
        program,
        args: args.to_vec(),
    })
}

/// The `{name}` placeholders of a word (lower-case letters, digits, `-` and `_` between braces).
fn placeholders_in(word: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = word;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_placeholder_name(&after[..close]) => {
                found.push(&after[..close]);
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    found
}

fn is_placeholder_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
}

/// Fills in the `{name}` placeholders of a word in one pass (a value is never expanded
/// again); a `{…}` that names no value is kept as written.
pub fn expand(word: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (v, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
