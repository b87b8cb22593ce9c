//! `case NAME` sections: a file split at its `case` lines, what a case may hold (`when`,
//! `expect`, a `sender` override, its `outcome`), and a case combined with its persona.

use super::blocks::Block;
use super::lexer::{Word, split_words};
use super::settings::Role;
use super::{Draft, Origin, Parser};
use crate::scenario::{AnyScenario, ScenarioError};

/// A file's lines, split at its `case` lines.
#[derive(Debug)]
pub(super) struct Sections<'t> {
    /// The lines above the first `case` line: (line number, text without CR).
    pub persona: Vec<(usize, &'t str)>,
    /// Each `case` section, in file order.
    pub cases: Vec<CaseSection<'t>>,
}

/// The lines of one `case NAME` section.
#[derive(Debug)]
pub(super) struct CaseSection<'t> {
    /// 1-based line of the `case` line.
    pub line: usize,
    /// The case's name.
    pub name: String,
    /// Its lines (line number, text without CR).
    pub lines: Vec<(usize, &'t str)>,
}

/// What the parser keeps while it reads one `case` section on top of the persona.
#[derive(Clone, Debug)]
pub(super) struct CaseState {
    /// Rules before this index are the persona's; the case's own come after and are moved
    /// in front of them when the case ends.
    persona_rules: usize,
    /// The case gave its own `sender` line.
    sender_seen: bool,
    /// The case gave its own `outcome` line.
    pub outcome_seen: bool,
}

/// Splits the text at its `case NAME` lines (at the start of a line), checking the names.
pub(super) fn sections<'t>(text: &'t str, origin: &str) -> Result<Sections<'t>, ScenarioError> {
    let origin = Origin(origin);
    let mut out = Sections {
        persona: Vec::new(),
        cases: Vec::new(),
    };
    for (index, raw) in text.lines().enumerate() {
        let n = index + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let is_case = raw == "case" || raw.starts_with("case ") || raw.starts_with("case\t");
        if !is_case {
            match out.cases.last_mut() {
                Some(case) => case.lines.push((n, raw)),
                None => out.persona.push((n, raw)),
            }
            continue;
        }
        let words = split_words(origin, n, raw.trim_end(), 1)?;
        let name = match &words[1..] {
            [] => return Err(origin.syntax(n, 6, "a case name such as bad-password", "")),
            [w] if !w.quoted
                && w.text
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') =>
            {
                w.text
            }
            [w] => {
                return Err(origin.syntax(
                    n,
                    w.column,
                    "a case name of lower-case letters, digits and '-'",
                    w.text,
                ));
            }
            [_, extra, ..] => {
                return Err(origin.syntax(n, extra.column, "the end of the line", extra.text));
            }
        };
        if let Some(earlier) = out.cases.iter().find(|c| c.name == name) {
            return Err(origin.invalid(
                n,
                format!("case `{name}` is already defined on line {}", earlier.line),
            ));
        }
        out.cases.push(CaseSection {
            line: n,
            name: name.to_owned(),
            lines: Vec::new(),
        });
    }
    Ok(out)
}

/// A client scenario is one conversation: it has no `case` sections.
pub(super) fn refuse_client_cases(
    sections: &Sections<'_>,
    role: Role,
    origin: Origin<'_>,
) -> Result<(), ScenarioError> {
    match sections.cases.first() {
        Some(case) if role == Role::Client => Err(origin.invalid(
            case.line,
            "a client scenario (`role client`) has no `case` sections: write each conversation in its own file",
        )),
        _ => Ok(()),
    }
}

impl Parser<'_> {
    /// Reads one case on top of the persona this parser holds, and returns the persona
    /// combined with it: the case's rules first, its expectations added, its sender and outcome.
    pub(super) fn case(mut self, section: &CaseSection<'_>) -> Result<AnyScenario, ScenarioError> {
        let persona_rules = match &self.draft {
            Draft::Server(s) => s.rules.len(),
            Draft::Client(_) => 0,
        };
        self.case = Some(CaseState {
            persona_rules,
            sender_seen: false,
            outcome_seen: false,
        });
        self.lines(&section.lines)?;
        self.close_block()?;
        let state = self.case.take().expect("set above");
        if !state.outcome_seen {
            return Err(self.origin.invalid(
                section.line,
                format!(
                    "case `{}` has no `outcome` line: say what the sender must conclude (`outcome failure at AUTH 535`)",
                    section.name
                ),
            ));
        }
        if let Draft::Server(s) = &mut self.draft {
            let own = s.rules.split_off(state.persona_rules);
            self.case_rules = own.len();
            s.rules.splice(0..0, own);
        }
        self.draft.header_mut().case = Some(section.name.clone());
        self.finish()
    }

    /// In a `case` section only rules, expectations, a `sender` override and the outcome
    /// are allowed: the persona above the first `case` has the settings and the script.
    pub(super) fn case_line_allowed(&self, n: usize, line: &str) -> Result<(), ScenarioError> {
        let keyword = line.split_whitespace().next().unwrap_or("");
        if matches!(keyword, "when" | "expect" | "sender" | "outcome") {
            return Ok(());
        }
        Err(self.origin.invalid(
            n,
            format!(
                "a case holds `when` rules, `expect` lines, a `sender` override and its `outcome`; `{keyword}` belongs to the persona, above the first `case` line"
            ),
        ))
    }

    /// A `sender` line inside a case: without names it overrides settings of the persona's
    /// sender block; with names it replaces the block.
    pub(super) fn case_sender(
        &mut self,
        n: usize,
        keyword: &Word<'_>,
        rest: &[Word<'_>],
    ) -> Result<(), ScenarioError> {
        let origin = self.origin;
        let case = self.case.as_mut().expect("only called in a case");
        if case.sender_seen {
            return Err(origin.invalid(n, "a case has one `sender` line"));
        }
        case.sender_seen = true;
        let Draft::Server(scenario) = &mut self.draft else {
            unreachable!("a client scenario has no cases");
        };
        if rest.is_empty() {
            if scenario.sender.is_none() {
                return Err(origin.invalid(
                    n,
                    "this `sender` line overrides the persona's sender block, but the persona has none: name the senders (`sender appliance`)",
                ));
            }
        } else {
            scenario.sender = Some(super::blocks::sender_line(origin, n, keyword, rest)?);
        }
        self.block = Block::Sender;
        Ok(())
    }

    /// An `outcome` line inside a case replaces the persona's; a case has one.
    pub(super) fn case_outcome_seen(&mut self, n: usize) -> Result<(), ScenarioError> {
        let Some(case) = self.case.as_mut() else {
            return Ok(());
        };
        if case.outcome_seen {
            return Err(self.origin.invalid(n, "a case has one `outcome` line"));
        }
        case.outcome_seen = true;
        if let Draft::Server(s) = &mut self.draft {
            s.outcome = None;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_splits_at_its_case_lines() {
        let text = "name Acme\r\nS: 220 hi\ncase success\noutcome success\n\ncase bad-password\nwhen AUTH\n";
        let s = sections(text, "t.scn").expect("splits");
        assert_eq!(s.persona, [(1, "name Acme"), (2, "S: 220 hi")]);
        let cases: Vec<(usize, &str, usize)> = s
            .cases
            .iter()
            .map(|c| (c.line, c.name.as_str(), c.lines.len()))
            .collect();
        assert_eq!(cases, [(3, "success", 2), (6, "bad-password", 1)]);
        // `cases` or an indented `case` is no case line.
        let s = sections("cases 1\n    case x\n", "t.scn").expect("splits");
        assert_eq!((s.persona.len(), s.cases.len()), (2, 0));
    }

    #[test]
    fn case_names_are_checked() {
        let error = |text| sections(text, "t.scn").expect_err("refused").to_string();
        assert_eq!(
            error("case\n"),
            "t.scn:1:6: expected a case name such as bad-password, found the end of the line"
        );
        assert_eq!(
            error("case a b\n"),
            r#"t.scn:1:8: expected the end of the line, found "b""#
        );
        assert_eq!(
            error("case \"a\"\n"),
            r#"t.scn:1:6: expected a case name of lower-case letters, digits and '-', found "a""#
        );
        assert_eq!(
            error("case a\ncase a\n"),
            "t.scn:2: case `a` is already defined on line 1"
        );
    }

    #[test]
    fn a_client_scenario_has_no_cases() {
        let s = sections("role client\ncase a\n", "t.scn").expect("splits");
        assert_eq!(
            refuse_client_cases(&s, Role::Client, Origin("t.scn"))
                .unwrap_err()
                .to_string(),
            "t.scn:2: a client scenario (`role client`) has no `case` sections: write each conversation in its own file"
        );
        assert!(refuse_client_cases(&s, Role::Server, Origin("t.scn")).is_ok());
    }
}
