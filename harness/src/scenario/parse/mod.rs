//! The scenario parser: text in, a validated scenario out, or an error naming line and column.
//!
//! One file per part of the grammar:
//!
//! - `lexer.rs`: a line's words with their columns, quoting and escapes, `S:`/`C:` text,
//!   durations;
//! - `settings.rs`: `name`, `hostname`, `certificate`, `implicit-tls`, `timeout`, `size`,
//!   `role`, `wording` (and the role, read before anything else);
//! - `script.rs`: the linear script's steps, for either role, and `S:` lines grouped into
//!   replies;
//! - `rules.rs`: `when` rules and `default` blocks with their indented bodies;
//! - `expectations.rs`: `expect` lines (and a client's effects on its receiver);
//! - `cases.rs`: a file split at its `case NAME` lines, and what a case may hold;
//! - `blocks.rs`: the dispatcher: each line to its part, and the one [`Block`] that is open.
//!
//! The role is known before the first line is read (see [`settings::role_of`]), so each line
//! is read for its role: a step or setting of the other role is refused where it stands.

mod blocks;
mod cases;
mod expectations;
mod lexer;
mod rules;
mod script;
mod settings;

use super::{
    AnyScenario, AnyScenarioFile, ClientScenario, Header, ScenarioError, ScenarioFile,
    ServerScenario,
};
use blocks::Block;
use cases::CaseState;
pub(crate) use lexer::parse_duration;
use settings::Role;

/// Where errors point: the file (or `<inline>`, `<builder>` …) being read.
#[derive(Clone, Copy, Debug)]
struct Origin<'a>(&'a str);

impl Origin<'_> {
    /// "expected EXPECTED, found FOUND" at a line and column (`found` empty: the end of the line).
    fn syntax(self, line: usize, column: usize, expected: &str, found: &str) -> ScenarioError {
        ScenarioError::Syntax {
            path: self.0.to_owned(),
            line,
            column,
            expected: expected.to_owned(),
            found: if found.is_empty() {
                "the end of the line".to_owned()
            } else {
                format!("{found:?}")
            },
        }
    }

    /// A line that parses but cannot be played, and why.
    fn invalid(self, line: usize, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            path: self.0.to_owned(),
            line,
            message: message.into(),
        }
    }
}

/// The scenario being read, already of its role.
#[derive(Clone, Debug)]
enum Draft {
    Server(ServerScenario),
    Client(ClientScenario),
}

impl Draft {
    fn new(role: Role) -> Self {
        match role {
            Role::Server => Draft::Server(ServerScenario {
                header: Header::default(),
                ..ServerScenario::accept_all()
            }),
            Role::Client => Draft::Client(ClientScenario::empty()),
        }
    }

    fn header_mut(&mut self) -> &mut Header {
        match self {
            Draft::Server(s) => &mut s.header,
            Draft::Client(c) => &mut c.header,
        }
    }
}

/// The parser's state while it walks the lines.
#[derive(Clone, Debug)]
struct Parser<'a> {
    origin: Origin<'a>,
    draft: Draft,
    /// What is open and takes the next lines.
    block: Block,
    /// A `when` or `default` was read: no more script steps or settings.
    seen_rule: bool,
    /// A script step was read: no more settings.
    seen_step: bool,
    /// Set while the lines of a `case` section are read.
    case: Option<CaseState>,
    /// How many of the rules, from the first, are a case's own (moved before the persona's).
    case_rules: usize,
}

impl<'a> Parser<'a> {
    fn new(origin: &'a str, role: Role) -> Self {
        Parser {
            origin: Origin(origin),
            draft: Draft::new(role),
            block: Block::None,
            seen_rule: false,
            seen_step: false,
            case: None,
            case_rules: 0,
        }
    }

    fn lines(&mut self, lines: &[(usize, &str)]) -> Result<(), ScenarioError> {
        lines.iter().try_for_each(|&(n, raw)| self.line(n, raw))
    }

    /// Closes what is open and validates the scenario.
    fn finish(mut self) -> Result<AnyScenario, ScenarioError> {
        self.close_block()?;
        Ok(match self.draft {
            Draft::Server(s) => {
                super::validate::server(&s, self.origin.0, self.case_rules)?;
                AnyScenario::Server(s)
            }
            Draft::Client(c) => {
                super::validate::client(&c, self.origin.0)?;
                AnyScenario::Client(c)
            }
        })
    }
}

/// Parses and validates the text of a scenario (its persona: `case` sections are not read)
/// of the role `want`, or of whichever role it has.
pub(super) fn persona(
    text: &str,
    origin: &str,
    want: Option<Role>,
) -> Result<AnyScenario, ScenarioError> {
    let sections = cases::sections(text, origin)?;
    let role = settings::role_of(&sections.persona, Origin(origin), want)?;
    cases::refuse_client_cases(&sections, role, Origin(origin))?;
    let mut parser = Parser::new(origin, role);
    parser.lines(&sections.persona)?;
    parser.finish()
}

/// Parses a file that may hold `case` sections: the persona (everything before the first
/// `case` line) and each case combined with it, every part validated; a client scenario
/// has no cases.
pub(super) fn file(
    text: &str,
    origin: &str,
    want: Option<Role>,
) -> Result<AnyScenarioFile, ScenarioError> {
    let sections = cases::sections(text, origin)?;
    let role = settings::role_of(&sections.persona, Origin(origin), want)?;
    cases::refuse_client_cases(&sections, role, Origin(origin))?;
    // The persona is read once; each case goes on in a copy of the parser as it stands there.
    let mut base = Parser::new(origin, role);
    base.lines(&sections.persona)?;
    base.close_block()?;
    let persona = match base.clone().finish()? {
        AnyScenario::Client(client) => return Ok(AnyScenarioFile::Client(client)),
        AnyScenario::Server(persona) => persona,
    };
    let mut cases = Vec::new();
    for section in &sections.cases {
        match base.clone().case(section)? {
            AnyScenario::Server(case) => cases.push(case),
            AnyScenario::Client(_) => unreachable!("a client scenario has no cases"),
        }
    }
    Ok(AnyScenarioFile::Server(ScenarioFile { persona, cases }))
}

/// The persona of a text that must be a server scenario.
pub(super) fn server(text: &str, origin: &str) -> Result<ServerScenario, ScenarioError> {
    match persona(text, origin, Some(Role::Server))? {
        AnyScenario::Server(s) => Ok(s),
        AnyScenario::Client(_) => unreachable!("the role was checked"),
    }
}

/// A text that must be a client scenario.
pub(super) fn client(text: &str, origin: &str) -> Result<ClientScenario, ScenarioError> {
    match persona(text, origin, Some(Role::Client))? {
        AnyScenario::Client(c) => Ok(c),
        AnyScenario::Server(_) => unreachable!("the role was checked"),
    }
}

/// A file that must be a server scenario, with its cases.
pub(super) fn server_file(text: &str, origin: &str) -> Result<ScenarioFile, ScenarioError> {
    match file(text, origin, Some(Role::Server))? {
        AnyScenarioFile::Server(f) => Ok(f),
        AnyScenarioFile::Client(_) => unreachable!("the role was checked"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "name Acme\nS: 220 acme\nwhen AUTH\n    S: 535 persona\n\
        case bad-password\nwhen AUTH\n    S: 535 case\noutcome failure at AUTH 535\n\
        case success\noutcome success\n";

    #[test]
    fn a_file_gives_its_persona_and_each_case_on_top_of_it() {
        let AnyScenarioFile::Server(file) = file(FILE, "t.scn", None).expect("parses") else {
            panic!("a server file");
        };
        assert_eq!(file.persona.rules.len(), 1);
        assert_eq!(file.persona.header.case, None);
        let bad = &file.cases[0];
        assert_eq!(bad.header.case.as_deref(), Some("bad-password"));
        assert_eq!(bad.header.name, "Acme");
        assert_eq!(
            bad.rules.iter().map(|r| r.line).collect::<Vec<_>>(),
            [6, 3],
            "the case's rule is tried first"
        );
        assert_eq!(file.cases[1].rules.len(), 1);
        // The persona alone does not read the cases.
        let persona = server(FILE, "t.scn").expect("parses");
        assert_eq!(persona, file.persona);
    }

    #[test]
    fn the_role_decides_the_type() {
        assert!(matches!(
            persona("role client\nS: 220*\n", "t.scn", None),
            Ok(AnyScenario::Client(_))
        ));
        assert!(matches!(
            persona("S: 220 hi\n", "t.scn", None),
            Ok(AnyScenario::Server(_))
        ));
        assert!(client("role client\nS: 220*\n", "t.scn").is_ok());
        assert!(server("role client\nS: 220*\n", "t.scn").is_err());
        assert!(server_file("role client\n", "t.scn").is_err());
        assert!(matches!(
            file("role client\nC: QUIT\n", "t.scn", None),
            Ok(AnyScenarioFile::Client(c)) if c.script.len() == 1
        ));
    }
}
