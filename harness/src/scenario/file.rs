//! Loading scenarios from text or files: for a role known in advance ([`ServerScenario`],
//! [`ClientScenario`]), or whichever the file has ([`AnyScenario`]); a persona with its `case`
//! sections ([`ScenarioFile`], [`AnyScenarioFile`]).

use std::path::Path;

use super::parse;
use super::{ClientScenario, Header, ScenarioError, ServerScenario};

/// Reads a scenario file's text, naming the file in the error.
fn read(path: &Path) -> Result<String, ScenarioError> {
    std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        path: path.display().to_string(),
        source,
    })
}

impl ServerScenario {
    /// Reads and validates a server scenario file (its persona, without its cases).
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file, line and column and what was expected; a client
    /// scenario (`role client`) is refused, naming its `role` line.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let path = path.as_ref();
        let mut scenario = parse::server(&read(path)?, &path.display().to_string())?;
        scenario.header.name_after(path);
        Ok(scenario)
    }

    /// Reads a file and returns its case `case` combined with the persona (the part above
    /// the first `case` line): "gmail, bad password" is
    /// `ServerScenario::from_file_case("scenarios/vendors/gmail.scn", "bad-password")`.
    ///
    /// # Errors
    /// [`ScenarioError`] for a broken file, or [`ScenarioError::Invalid`] if it has no such
    /// case (the message lists the cases it has).
    pub fn from_file_case(path: impl AsRef<Path>, case: &str) -> Result<Self, ScenarioError> {
        let path = path.as_ref();
        let file = ScenarioFile::from_file(path)?;
        let names = file.case_names().join(", ");
        file.cases
            .into_iter()
            .find(|c| c.header.case.as_deref() == Some(case))
            .ok_or_else(|| ScenarioError::Invalid {
                path: path.display().to_string(),
                line: 1,
                message: if names.is_empty() {
                    format!("no case `{case}`: the file has no `case` sections")
                } else {
                    format!("no case `{case}`: the file has {names}")
                },
            })
    }

    /// Parses and validates server scenario text (`origin` names it in errors, e.g.
    /// `<inline>`).
    ///
    /// # Errors
    /// [`ScenarioError`] naming the line and column and what was expected; a client scenario
    /// is refused.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        parse::server(text, origin)
    }
}

impl std::str::FromStr for ServerScenario {
    type Err = ScenarioError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse::server(text, "<inline>")
    }
}

impl ClientScenario {
    /// Reads and validates a client scenario file (`role client`).
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file, line and column and what was expected; a server
    /// scenario is refused.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let path = path.as_ref();
        let mut scenario = parse::client(&read(path)?, &path.display().to_string())?;
        scenario.header.name_after(path);
        Ok(scenario)
    }

    /// Parses and validates client scenario text (`origin` names it in errors).
    ///
    /// # Errors
    /// [`ScenarioError`] naming the line and column and what was expected; a server scenario
    /// (one without `role client`) is refused.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        parse::client(text, origin)
    }
}

impl std::str::FromStr for ClientScenario {
    type Err = ScenarioError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse::client(text, "<inline>")
    }
}

/// A scenario of either role, as a file whose role is not known in advance gives it.
#[derive(Clone, Debug, PartialEq)]
pub enum AnyScenario {
    /// What the fake server plays.
    Server(ServerScenario),
    /// What the harness plays as a remote MTA (`role client`).
    Client(ClientScenario),
}

impl AnyScenario {
    /// Reads and validates a scenario file of either role (a persona without its cases).
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file, line and column and what was expected.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let path = path.as_ref();
        let mut scenario = parse::persona(&read(path)?, &path.display().to_string(), None)?;
        scenario.header_mut().name_after(path);
        Ok(scenario)
    }

    /// Parses and validates scenario text of either role.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the line and column and what was expected.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        parse::persona(text, origin, None)
    }

    /// The settings both roles share.
    pub fn header(&self) -> &Header {
        match self {
            AnyScenario::Server(s) => &s.header,
            AnyScenario::Client(c) => &c.header,
        }
    }

    fn header_mut(&mut self) -> &mut Header {
        match self {
            AnyScenario::Server(s) => &mut s.header,
            AnyScenario::Client(c) => &mut c.header,
        }
    }
}

/// A server scenario file with `case` sections: a vendor persona and the failures it
/// combines with.
///
/// The part above the first `case NAME` line is the persona (greeting, EHLO lists, AUTH,
/// the vendor's replies); each case adds `when` rules that are tried before the persona's,
/// `expect` lines, a `sender` override and its `outcome`. A file without `case` lines is a
/// persona with no cases.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioFile {
    /// The scenario above the first `case` line, on its own.
    pub persona: ServerScenario,
    /// Each case combined with the persona, in file order.
    pub cases: Vec<ServerScenario>,
}

impl ScenarioFile {
    /// Reads and validates a server scenario file, its persona and every case.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file, line and column and what was expected; a client
    /// scenario is refused.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let path = path.as_ref();
        let mut file = parse::server_file(&read(path)?, &path.display().to_string())?;
        file.name_after(path);
        Ok(file)
    }

    /// Parses and validates the text of a server scenario file with its cases.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the line and column and what was expected.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        parse::server_file(text, origin)
    }

    /// The names of the cases, in file order.
    pub fn case_names(&self) -> Vec<&str> {
        self.cases
            .iter()
            .filter_map(|c| c.header.case.as_deref())
            .collect()
    }

    fn name_after(&mut self, path: &Path) {
        self.persona.header.name_after(path);
        for case in &mut self.cases {
            case.header.name_after(path);
        }
    }
}

/// A scenario file of either role, as `run` and `check` load it: a server persona with its
/// cases, or a client scenario (which has none).
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // one per file loaded, moved once: boxing buys nothing
pub enum AnyScenarioFile {
    /// A server scenario and its cases.
    Server(ScenarioFile),
    /// A client scenario (`role client`).
    Client(ClientScenario),
}

impl AnyScenarioFile {
    /// Reads and validates a scenario file of either role, with every case.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file, line and column and what was expected.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let path = path.as_ref();
        let mut file = parse::file(&read(path)?, &path.display().to_string(), None)?;
        match &mut file {
            AnyScenarioFile::Server(f) => f.name_after(path),
            AnyScenarioFile::Client(c) => c.header.name_after(path),
        }
        Ok(file)
    }

    /// Parses and validates the text of a scenario file of either role, with every case.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the line and column and what was expected.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        parse::file(text, origin, None)
    }

    /// The header of the persona (or of the client scenario).
    pub fn header(&self) -> &Header {
        match self {
            AnyScenarioFile::Server(f) => &f.persona.header,
            AnyScenarioFile::Client(c) => &c.header,
        }
    }

    /// The names of the cases, in file order (a client scenario has none).
    pub fn case_names(&self) -> Vec<&str> {
        match self {
            AnyScenarioFile::Server(f) => f.case_names(),
            AnyScenarioFile::Client(_) => Vec::new(),
        }
    }
}
