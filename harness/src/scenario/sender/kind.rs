//! Who drives a scenario: a sender built into the harness, or an adapter by name.

use std::fmt;

/// A sender the harness can drive: one built into it, or an adapter named in the
/// configuration file (`smtp-harness.toml`, see [`crate::run::adapters`]).
///
/// `Copy`, like the built-in names, because every report line and matrix cell carries one:
/// an adapter's name is interned ([`AdapterName`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SenderKind {
    /// A program declared as `[sender.NAME]` in the configuration file, such as the
    /// appliance's own adapter. Adapters sort before the built-in senders, by name.
    Adapter(AdapterName),
    /// lettre, in process.
    Lettre,
    /// curl, with an `smtp://` or `smtps://` URL.
    Curl,
    /// swaks.
    Swaks,
    /// A program given by the scenario's `run` line (the inline adapter).
    Command,
}

impl SenderKind {
    /// The senders built into the harness, in matrix order.
    pub const BUILT_IN: [SenderKind; 4] = [
        SenderKind::Lettre,
        SenderKind::Curl,
        SenderKind::Swaks,
        SenderKind::Command,
    ];

    /// The sender named `name` in files and on the command line: a built-in sender, or an
    /// adapter (to be found in the configuration file when the scenario is run). `None` when
    /// the name cannot be an adapter's (see [`AdapterName::is_valid`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::BUILT_IN
            .into_iter()
            .find(|k| k.name() == name)
            .or_else(|| AdapterName::is_valid(name).then(|| Self::adapter(name)))
    }

    /// The adapter named `name` (which should pass [`AdapterName::is_valid`]).
    pub fn adapter(name: &str) -> Self {
        SenderKind::Adapter(AdapterName::new(name))
    }

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SenderKind::Adapter(name) => name.as_str(),
            SenderKind::Lettre => "lettre",
            SenderKind::Curl => "curl",
            SenderKind::Swaks => "swaks",
            SenderKind::Command => "command",
        }
    }
}

impl fmt::Display for SenderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for SenderKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The name of an adapter (`appliance`), interned: the same name is always the same
/// `&'static str`, so a [`SenderKind`] stays `Copy`. A run names a handful of adapters; each
/// distinct name is kept once for the life of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdapterName(&'static str);

impl AdapterName {
    /// The interned name.
    pub fn new(name: &str) -> Self {
        static NAMES: std::sync::Mutex<std::collections::BTreeSet<&'static str>> =
            std::sync::Mutex::new(std::collections::BTreeSet::new());
        let mut names = NAMES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(known) = names.get(name) {
            return AdapterName(known);
        }
        let kept: &'static str = Box::leak(name.to_owned().into_boxed_str());
        names.insert(kept);
        AdapterName(kept)
    }

    /// Whether `name` can name an adapter: 1 to 64 ASCII letters, digits, `-`, `_` and `.`,
    /// starting with a letter or a digit.
    pub fn is_valid(name: &str) -> bool {
        name.len() <= 64
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    }

    /// The name.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for AdapterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
