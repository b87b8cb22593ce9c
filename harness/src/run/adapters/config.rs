//! The configuration file: finding it, reading its `[sender.NAME]` and `[receiver.NAME]`
//! tables, and looking adapters up by name with errors that say where was looked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::placeholders::{RECEIVER_PLACEHOLDERS, SENDER_PLACEHOLDERS, placeholders_in};
use super::{AdapterCommand, AdapterError, CONFIG_ENV, CONFIG_FILE, Role};
use crate::scenario::{AdapterName, AnyScenario, SenderKind};

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
    pub fn check_scenario(&self, scenario: &AnyScenario) -> Result<(), AdapterError> {
        let origin = scenario.header().origin();
        match scenario {
            AnyScenario::Server(server) => {
                if let Some(spec) = &server.sender {
                    for kind in &spec.senders {
                        self.check_sender(*kind, &format!("{origin}:{}", spec.line))?;
                    }
                }
            }
            AnyScenario::Client(client) => {
                if let Some(receiver) = &client.receiver {
                    self.receiver(&receiver.name, &format!("{origin}:{}", receiver.line))?;
                }
            }
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
