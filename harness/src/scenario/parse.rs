//! The scenario parser: text in, a validated [`Scenario`] out, or an error naming line and column.

use std::time::Duration;

use super::keyword_line::{KeywordLine, LineWord};
use super::{
    Action, Atom, DefaultReply, Expectation, ExpectationKind, Role, Rule, Scenario, ScenarioError,
    Situation, Step, StepKind, Wording,
};
use crate::certs::CertVariant;
use crate::pattern::Pattern;
use crate::reply::Reply;
use crate::transcript::Closer;
use crate::wire::Verb;

/// SASL mechanisms whose exchange the server can run itself.
pub(crate) const SASL_MECHANISMS: &[&str] = &crate::wire::sasl::Mechanism::NAMES;

/// One whitespace-separated word of a line, with its 1-based column.
#[derive(Clone, Debug)]
struct Word<'a> {
    column: usize,
    text: &'a str,
    quoted: bool,
}

/// The parser's state while it walks the lines.
#[derive(Clone)]
struct Parser<'a> {
    origin: &'a str,
    scenario: Scenario,
    /// `S:` lines waiting to be grouped into replies: (line number, text).
    pending_lines: Vec<(usize, String)>,
    /// The rule whose indented body is being read.
    open_rule: Option<Rule>,
    /// The open rule is a `default SITUATION` block (its body is one reply).
    open_default: Option<Situation>,
    /// The `sender` block being read.
    open_sender: bool,
    /// The `receiver` block being read.
    open_receiver: bool,
    open_rule_lines: Vec<(usize, String)>,
    seen_rule: bool,
    seen_step: bool,
    /// Set while the lines of a `case` section are read.
    case: Option<CaseState>,
    /// How many of the rules, from the first, are a case's own (moved before the persona's).
    case_rules: usize,
}

/// What the parser keeps while it reads one `case` section on top of the persona.
#[derive(Clone)]
struct CaseState {
    /// Rules before this index are the persona's; the case's own come after and are moved
    /// in front of them when the case ends.
    persona_rules: usize,
    /// The case gave its own `sender` line.
    sender_seen: bool,
    /// The case gave its own `outcome` line.
    outcome_seen: bool,
}

/// Parses and validates scenario text; `origin` names the source in errors.
///
/// # Errors
/// [`ScenarioError::Syntax`] or [`ScenarioError::Invalid`], naming line (and column).
pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    let sections = sections(text, origin)?;
    let mut parser = Parser::new(origin);
    parser.lines(&sections.persona)?;
    parser.finish()
}

/// Parses a file that may hold `case` sections: the persona (everything before the first
/// `case` line) and each case combined with it. Every part is validated.
///
/// # Errors
/// [`ScenarioError::Syntax`] or [`ScenarioError::Invalid`], naming line (and column).
pub fn parse_cases(text: &str, origin: &str) -> Result<super::ScenarioFile, ScenarioError> {
    let sections = sections(text, origin)?;
    // The persona is read once; each case goes on in a copy of the parser as it stands there.
    let mut base = Parser::new(origin);
    base.lines(&sections.persona)?;
    base.flush_script_lines()?;
    base.close_rule()?;
    base.open_sender = false;
    base.open_receiver = false;
    let persona = base.clone().finish()?;
    let mut cases = Vec::new();
    for section in &sections.cases {
        let mut parser = base.clone();
        parser.case = Some(CaseState {
            persona_rules: parser.scenario.rules.len(),
            sender_seen: false,
            outcome_seen: false,
        });
        parser.lines(&section.lines)?;
        parser.close_rule()?;
        let state = parser.case.take().expect("set above");
        if !state.outcome_seen {
            return Err(parser.invalid(
                section.line,
                format!(
                    "case `{}` has no `outcome` line: say what the sender must conclude (`outcome failure at AUTH 535`)",
                    section.name
                ),
            ));
        }
        let own = parser.scenario.rules.split_off(state.persona_rules);
        parser.case_rules = own.len();
        parser.scenario.rules.splice(0..0, own);
        parser.scenario.case = Some(section.name.clone());
        cases.push(parser.finish()?);
    }
    Ok(super::ScenarioFile { persona, cases })
}

/// A file's lines, split at its `case` lines.
struct Sections<'t> {
    persona: Vec<(usize, &'t str)>,
    cases: Vec<CaseSection<'t>>,
}

/// The lines of one `case NAME` section.
struct CaseSection<'t> {
    line: usize,
    name: String,
    lines: Vec<(usize, &'t str)>,
}

/// Splits the text at its `case NAME` lines (at the start of a line), checking the names.
fn sections<'t>(text: &'t str, origin: &str) -> Result<Sections<'t>, ScenarioError> {
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
        let syntax = |column: usize, expected: &str, found: &str| ScenarioError::Syntax {
            path: origin.to_owned(),
            line: n,
            column,
            expected: expected.to_owned(),
            found: if found.is_empty() {
                "the end of the line".to_owned()
            } else {
                format!("{found:?}")
            },
        };
        let words = split_words(raw.trim_end(), 1).map_err(|(col, msg)| syntax(col, msg, ""))?;
        let name = match &words[1..] {
            [] => return Err(syntax(6, "a case name such as bad-password", "")),
            [w] if !w.quoted
                && w.text
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') =>
            {
                w.text
            }
            [w] => {
                return Err(syntax(
                    w.column,
                    "a case name of lower-case letters, digits and '-'",
                    w.text,
                ));
            }
            [_, extra, ..] => return Err(syntax(extra.column, "the end of the line", extra.text)),
        };
        if let Some(earlier) = out.cases.iter().find(|c| c.name == name) {
            return Err(ScenarioError::Invalid {
                path: origin.to_owned(),
                line: n,
                message: format!("case `{name}` is already defined on line {}", earlier.line),
            });
        }
        out.cases.push(CaseSection {
            line: n,
            name: name.to_owned(),
            lines: Vec::new(),
        });
    }
    Ok(out)
}

impl<'a> Parser<'a> {
    fn new(origin: &'a str) -> Self {
        Parser {
            origin,
            scenario: Scenario {
                name: String::new(),
                ..Scenario::accept_all()
            },
            pending_lines: Vec::new(),
            open_rule: None,
            open_default: None,
            open_sender: false,
            open_receiver: false,
            open_rule_lines: Vec::new(),
            seen_rule: false,
            seen_step: false,
            case: None,
            case_rules: 0,
        }
    }

    fn lines(&mut self, lines: &[(usize, &str)]) -> Result<(), ScenarioError> {
        lines.iter().try_for_each(|&(n, raw)| self.line(n, raw))
    }

    fn finish(mut self) -> Result<Scenario, ScenarioError> {
        self.flush_script_lines()?;
        self.close_rule()?;
        super::validate::validate(&self.scenario, self.origin, self.case_rules)?;
        Ok(self.scenario)
    }
    fn syntax(&self, line: usize, column: usize, expected: &str, found: &str) -> ScenarioError {
        ScenarioError::Syntax {
            path: self.origin.to_owned(),
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

    /// A `KEYWORD WORD…` line for the readers of the `sender` and `receiver` blocks.
    fn keyword_line<'w>(&self, n: usize, keyword: &Word<'w>, rest: &[Word<'w>]) -> KeywordLine<'w>
    where
        'a: 'w,
    {
        let word = |w: &Word<'w>| LineWord {
            column: w.column,
            text: w.text,
        };
        KeywordLine {
            origin: self.origin,
            number: n,
            keyword: word(keyword),
            values: rest.iter().map(word).collect(),
        }
    }

    fn invalid(&self, line: usize, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            path: self.origin.to_owned(),
            line,
            message: message.into(),
        }
    }

    fn line(&mut self, n: usize, raw: &str) -> Result<(), ScenarioError> {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return Ok(());
        }
        let indent = raw.len() - trimmed.len();
        if indent > 0 && (self.open_sender || self.open_receiver) {
            let words = split_words(trimmed.trim_end(), indent + 1)
                .map_err(|(col, msg)| self.syntax(n, col, msg, ""))?;
            let setting = self.keyword_line(n, &words[0], &words[1..]);
            if self.open_sender {
                let spec = self.scenario.sender.get_or_insert_with(Default::default);
                return super::sender::apply_setting(spec, &setting);
            }
            let spec = self.scenario.receiver.get_or_insert_with(Default::default);
            return super::receiver::apply_setting(spec, &setting);
        }
        self.open_sender = false;
        self.open_receiver = false;
        if indent > 0 {
            if self.open_rule.is_none() {
                return Err(self.syntax(
                    n,
                    1,
                    "a setting, step, `when`, `expect`, `sender` or `outcome` at the start of the line (only the bodies of `when` and `sender` are indented)",
                    trimmed,
                ));
            }
            return self.rule_body_line(n, indent + 1, trimmed.trim_end());
        }
        self.close_rule()?;
        let line = raw.trim_end();
        if self.case.is_some() {
            self.case_line_allowed(n, line)?;
        }
        if line.starts_with("S:") {
            self.script_started(n)?;
            if self.scenario.role == Role::Client {
                self.push_step(n, StepKind::Expect(Pattern::new(strip_marker(line))));
            } else {
                let text = self.reply_text(n, line)?;
                self.pending_lines.push((n, text));
            }
            return Ok(());
        }
        self.flush_script_lines()?;
        let words = split_words(line, 1).map_err(|(col, msg)| self.syntax(n, col, msg, ""))?;
        let keyword = &words[0];
        let rest = &words[1..];
        // The keyword's end in bytes (a quoted keyword also has its two quotes).
        let keyword_end = keyword.column - 1 + keyword.text.len() + 2 * usize::from(keyword.quoted);
        let rest_text = line.get(keyword_end..).unwrap_or("").trim();
        match keyword.text {
            "C:" => {
                self.script_started(n)?;
                let text = strip_marker(line);
                if self.scenario.role == Role::Client {
                    self.push_step(n, StepKind::Raw(format!("{text}\r\n").into_bytes()));
                } else {
                    self.push_step(n, StepKind::Expect(Pattern::new(text)));
                }
            }
            "message" | "slow" => {
                if self.scenario.role != Role::Client {
                    return Err(self.invalid(
                        n,
                        format!(
                            "`{}` is a client step: add `role client` to the settings",
                            keyword.text
                        ),
                    ));
                }
                self.script_started(n)?;
                let word = match rest {
                    [w] => w,
                    [] => {
                        return Err(self.syntax(
                            n,
                            keyword.column + keyword.text.len() + 1,
                            if keyword.text == "slow" {
                                "a delay such as 5ms"
                            } else {
                                "a message file"
                            },
                            "",
                        ));
                    }
                    [_, extra, ..] => {
                        return Err(self.syntax(
                            n,
                            extra.column,
                            "the end of the line",
                            extra.text,
                        ));
                    }
                };
                let kind = if keyword.text == "slow" {
                    StepKind::Slow(self.duration(n, word)?)
                } else {
                    StepKind::Message(word.text.to_owned())
                };
                self.push_step(n, kind);
            }
            "tls" | "pause" | "close" | "raw" => {
                self.script_started(n)?;
                let action = self.action(n, keyword, rest)?;
                let kind = match action {
                    Action::Tls => StepKind::Tls,
                    Action::Pause(d) => StepKind::Pause(d),
                    Action::Close => StepKind::Close,
                    Action::Raw(bytes) => StepKind::Raw(bytes),
                    Action::Reply(_) => unreachable!("replies are S: lines"),
                };
                self.push_step(n, kind);
            }
            "default" => {
                if self.scenario.role == Role::Client {
                    return Err(self.invalid(n, "a client scenario has no `default` replies"));
                }
                const WHAT: &str = "a situation: unrecognized, not-implemented, syntax, sequence, need-helo, need-mail, need-rcpt, nested-mail, parameter, line-too-long, timeout, shutdown or queued";
                let situation = match rest {
                    [w] => Situation::from_name(w.text)
                        .ok_or_else(|| self.syntax(n, w.column, WHAT, w.text))?,
                    [] => return Err(self.syntax(n, keyword.column + 8, WHAT, "")),
                    [_, extra, ..] => {
                        return Err(self.syntax(
                            n,
                            extra.column,
                            "the end of the line",
                            extra.text,
                        ));
                    }
                };
                if let Some(earlier) = self
                    .scenario
                    .defaults
                    .iter()
                    .find(|d| d.situation == situation)
                {
                    return Err(self.invalid(
                        n,
                        format!(
                            "`default {}` is already given at line {}",
                            situation.name(),
                            earlier.line
                        ),
                    ));
                }
                self.seen_rule = true;
                self.open_default = Some(situation);
                self.open_rule = Some(Rule::new(n, Verb::Unknown));
            }
            "when" => {
                if self.scenario.role == Role::Client {
                    return Err(self.invalid(
                        n,
                        "a client scenario has no `when` rules: it plays its script",
                    ));
                }
                self.seen_rule = true;
                let rule = self.rule_header(n, rest)?;
                self.open_rule = Some(rule);
            }
            "receiver" => {
                if self.scenario.role != Role::Client {
                    return Err(self.invalid(
                        n,
                        "`receiver` is for client scenarios: add `role client` to the settings",
                    ));
                }
                let line = self.keyword_line(n, keyword, rest);
                self.scenario.receiver = Some(super::receiver::parse_receiver(&line)?);
                self.open_receiver = true;
            }
            "sender" if self.case.is_some() => self.case_sender(n, keyword, rest)?,
            "sender" => {
                if self.scenario.sender.is_some() {
                    return Err(self.invalid(
                        n,
                        "a scenario has one `sender` line (list every sender on it)",
                    ));
                }
                self.scenario.sender = Some(self.sender_line(n, keyword, rest)?);
                self.open_sender = true;
            }
            "outcome" => {
                if let Some(case) = self.case.as_mut() {
                    if case.outcome_seen {
                        return Err(self.invalid(n, "a case has one `outcome` line"));
                    }
                    case.outcome_seen = true;
                    self.scenario.outcome = None;
                }
                if self.scenario.outcome.is_some() {
                    return Err(self.invalid(n, "a scenario has one `outcome` line"));
                }
                let kind = super::sender::parse_outcome(&self.keyword_line(n, keyword, rest))?;
                self.scenario.outcome = Some(super::Outcome { line: n, kind });
            }
            "expect" => {
                let kind = self.expectation(n, keyword, rest)?;
                self.scenario.expectations.push(Expectation {
                    line: n,
                    text: rest_text.to_owned(),
                    kind,
                });
            }
            "name" | "hostname" | "certificate" | "implicit-tls" | "timeout" | "size" | "role"
            | "wording" => {
                if self.seen_step || self.seen_rule {
                    return Err(self.invalid(
                        n,
                        format!(
                            "settings such as `{}` must come before the script and the rules",
                            keyword.text
                        ),
                    ));
                }
                self.setting(n, keyword, rest, rest_text)?;
            }
            other => {
                return Err(self.syntax(
                    n,
                    keyword.column,
                    "a setting (name, hostname, certificate, implicit-tls, timeout, size, role, wording), a step (S:, C:, raw, tls, pause, close, message, slow), `when`, `default`, `expect`, `sender` or `outcome`",
                    other,
                ));
            }
        }
        Ok(())
    }

    /// In a `case` section only rules, expectations, a `sender` override and the outcome
    /// are allowed: the persona above the first `case` has the settings and the script.
    fn case_line_allowed(&self, n: usize, line: &str) -> Result<(), ScenarioError> {
        let keyword = line.split_whitespace().next().unwrap_or("");
        let allowed = matches!(keyword, "when" | "expect" | "sender" | "outcome");
        if allowed {
            return Ok(());
        }
        Err(self.invalid(
            n,
            format!(
                "a case holds `when` rules, `expect` lines, a `sender` override and its `outcome`; `{keyword}` belongs to the persona, above the first `case` line"
            ),
        ))
    }

    /// A `sender` line inside a case: without names it overrides settings of the persona's
    /// sender block; with names it replaces the block.
    fn case_sender(
        &mut self,
        n: usize,
        keyword: &Word<'_>,
        rest: &[Word<'_>],
    ) -> Result<(), ScenarioError> {
        let case = self.case.as_mut().expect("only called in a case");
        if case.sender_seen {
            return Err(self.invalid(n, "a case has one `sender` line"));
        }
        case.sender_seen = true;
        if rest.is_empty() {
            if self.scenario.sender.is_none() {
                return Err(self.invalid(
                    n,
                    "this `sender` line overrides the persona's sender block, but the persona has none: name the senders (`sender appliance`)",
                ));
            }
        } else {
            self.scenario.sender = Some(self.sender_line(n, keyword, rest)?);
        }
        self.open_sender = true;
        Ok(())
    }

    /// A `sender NAMES` line: a new sender block with default settings.
    fn sender_line(
        &self,
        n: usize,
        keyword: &Word<'_>,
        rest: &[Word<'_>],
    ) -> Result<super::SenderSpec, ScenarioError> {
        let senders = super::sender::parse_senders(&self.keyword_line(n, keyword, rest))?;
        Ok(super::SenderSpec {
            line: n,
            senders,
            ..Default::default()
        })
    }

    fn script_started(&mut self, n: usize) -> Result<(), ScenarioError> {
        if self.seen_rule {
            return Err(self.invalid(
                n,
                "script steps must come before the first `when` rule (indent this line to make it part of the rule above)",
            ));
        }
        self.seen_step = true;
        Ok(())
    }

    fn push_step(&mut self, line: usize, kind: StepKind) {
        self.scenario.script.push(Step { line, kind });
    }

    /// Groups the pending `S:` lines of the script into replies.
    fn flush_script_lines(&mut self) -> Result<(), ScenarioError> {
        let lines = std::mem::take(&mut self.pending_lines);
        for (line, reply) in self.group_replies(&lines)? {
            self.push_step(line, StepKind::Send(reply));
        }
        Ok(())
    }

    fn group_replies(
        &self,
        lines: &[(usize, String)],
    ) -> Result<Vec<(usize, Reply)>, ScenarioError> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, (n, text)) in lines.iter().enumerate() {
            if !crate::reply::is_reply_line(text) {
                return Err(self.syntax(
                    *n,
                    4,
                    "a reply line: a code from 200 to 599, then '-', ' ' or the end of the line",
                    text,
                ));
            }
            let continues = text.as_bytes().get(3) == Some(&b'-');
            if !continues {
                let group: Vec<String> = lines[start..=i].iter().map(|(_, t)| t.clone()).collect();
                let reply = Reply::from_lines(group).map_err(|e| {
                    self.invalid(
                        lines[start].0,
                        format!("lines {}-{} are not one reply: {e}", lines[start].0, n),
                    )
                })?;
                out.push((lines[start].0, reply));
                start = i + 1;
            }
        }
        if let Some((n, text)) = lines.get(start) {
            let last = &lines[lines.len() - 1];
            return Err(self.syntax(
                last.0,
                4,
                &format!(
                    "a last line `{} text` to end the reply begun at line {n}",
                    &text[..3]
                ),
                &last.1,
            ));
        }
        Ok(out)
    }

    fn rule_body_line(&mut self, n: usize, column: usize, text: &str) -> Result<(), ScenarioError> {
        if text.starts_with("S:") {
            let reply = self.reply_text(n, text)?;
            self.open_rule_lines.push((n, reply));
            return Ok(());
        }
        self.flush_rule_lines()?;
        let words = split_words(text, column).map_err(|(col, msg)| self.syntax(n, col, msg, ""))?;
        match words[0].text {
            "tls" | "pause" | "close" | "raw" if self.open_default.is_some() => Err(self.invalid(
                n,
                "a `default` block holds one reply (`S:` lines) and nothing else",
            )),
            "tls" | "pause" | "close" | "raw" => {
                let action = self.action(n, &words[0], &words[1..])?;
                if let Some(rule) = self.open_rule.as_mut() {
                    rule.actions.push(action);
                }
                Ok(())
            }
            other => Err(self.syntax(
                n,
                column,
                "a rule action: S:, raw, tls, pause or close",
                other,
            )),
        }
    }

    fn flush_rule_lines(&mut self) -> Result<(), ScenarioError> {
        let lines = std::mem::take(&mut self.open_rule_lines);
        let replies = self.group_replies(&lines)?;
        if let Some(rule) = self.open_rule.as_mut() {
            rule.actions
                .extend(replies.into_iter().map(|(_, r)| Action::Reply(r)));
        }
        Ok(())
    }

    fn close_rule(&mut self) -> Result<(), ScenarioError> {
        self.flush_rule_lines()?;
        if let Some(situation) = self.open_default.take() {
            let rule = self
                .open_rule
                .take()
                .expect("a default block is an open rule");
            return match rule.actions.as_slice() {
                [Action::Reply(reply)] => {
                    self.scenario.defaults.push(DefaultReply {
                        line: rule.line,
                        situation,
                        reply: reply.clone(),
                    });
                    Ok(())
                }
                [] => Err(self.invalid(
                    rule.line,
                    "this `default` has no reply: indent it under the `default` line (`    S: 500 5.5.2 Unknown command`)",
                )),
                _ => Err(self.invalid(
                    rule.line,
                    "a `default` block holds exactly one reply (its lines `S: 500-…` then `S: 500 …`)",
                )),
            };
        }
        if let Some(rule) = self.open_rule.take() {
            if rule.actions.is_empty() {
                return Err(self.invalid(
                    rule.line,
                    "this rule has no body: indent its replies under the `when` line (`    S: 250 OK`)",
                ));
            }
            self.scenario.rules.push(rule);
        }
        Ok(())
    }

    fn action(
        &self,
        n: usize,
        keyword: &Word<'_>,
        rest: &[Word<'_>],
    ) -> Result<Action, ScenarioError> {
        let action = match keyword.text {
            "tls" => Action::Tls,
            "close" => Action::Close,
            "pause" => {
                let word = rest.first().ok_or_else(|| {
                    self.syntax(
                        n,
                        keyword.column + 6,
                        "a duration such as 500ms, 2s or 1m",
                        "",
                    )
                })?;
                Action::Pause(self.duration(n, word)?)
            }
            "raw" => {
                const WHAT: &str = "a quoted string of bytes, as in raw \"220 hi\\r\\n\"";
                let word = rest
                    .first()
                    .ok_or_else(|| self.syntax(n, keyword.column + 4, WHAT, ""))?;
                if !word.quoted {
                    return Err(self.syntax(n, word.column, WHAT, word.text));
                }
                let bytes =
                    crate::escape::unescape(word.text, None, &[(b'"', b'"')]).map_err(|bad| {
                        self.syntax(
                            n,
                            word.column + 1 + bad.offset,
                            "an escape: \\r, \\n, \\t, \\\\, \\\" or \\xNN",
                            bad.escape,
                        )
                    })?;
                Action::Raw(bytes.bytes)
            }
            _ => unreachable!("only called for actions"),
        };
        let extra = if matches!(keyword.text, "pause" | "raw") {
            rest.get(1)
        } else {
            rest.first()
        };
        if let Some(word) = extra {
            return Err(self.syntax(n, word.column, "the end of the line", word.text));
        }
        Ok(action)
    }

    fn duration(&self, n: usize, word: &Word<'_>) -> Result<Duration, ScenarioError> {
        parse_duration(word.text).ok_or_else(|| {
            self.syntax(
                n,
                word.column,
                "a duration such as 500ms, 2s or 1m",
                word.text,
            )
        })
    }

    fn setting(
        &mut self,
        n: usize,
        keyword: &Word<'_>,
        rest: &[Word<'_>],
        rest_text: &str,
    ) -> Result<(), ScenarioError> {
        let end = keyword.column + keyword.text.len() + 1;
        let one = |what: &str| -> Result<&Word<'_>, ScenarioError> {
            match rest {
                [w] => Ok(w),
                [] => Err(self.syntax(n, end, what, "")),
                [_, extra, ..] => {
                    Err(self.syntax(n, extra.column, "the end of the line", extra.text))
                }
            }
        };
        match keyword.text {
            "name" => {
                if rest_text.is_empty() {
                    return Err(self.syntax(n, end, "a name for the scenario", ""));
                }
                self.scenario.name = rest_text.to_owned();
            }
            "hostname" => self.scenario.hostname = one("a host name")?.text.to_owned(),
            "certificate" => {
                let w = one(
                    "a certificate variant (valid, expired, wrong-host, self-signed, unknown-ca)",
                )?;
                let variant = CertVariant::from_name(w.text).ok_or_else(|| {
                    self.syntax(n, w.column, "a certificate variant (valid, expired, wrong-host, self-signed, unknown-ca)", w.text)
                })?;
                self.scenario.certificate = Some(variant);
            }
            "role" => {
                let w = one("`server` or `client`")?;
                self.scenario.role = match w.text {
                    "server" => Role::Server,
                    "client" => Role::Client,
                    other => return Err(self.syntax(n, w.column, "`server` or `client`", other)),
                };
            }
            "implicit-tls" => {
                if let Some(w) = rest.first() {
                    return Err(self.syntax(n, w.column, "the end of the line", w.text));
                }
                self.scenario.implicit_tls = true;
            }
            "timeout" => {
                let w = one("a duration such as 30s")?;
                self.scenario.idle_timeout = self.duration(n, w)?;
            }
            "wording" => {
                const WHAT: &str = "`postfix` or `rfc` (whose texts the built-in replies use)";
                let w = one(WHAT)?;
                self.scenario.wording = match w.text {
                    "postfix" => Wording::Postfix,
                    "rfc" => Wording::Rfc,
                    other => return Err(self.syntax(n, w.column, WHAT, other)),
                };
            }
            "size" => {
                let w = one("a size limit in octets")?;
                self.scenario.max_size = w.text.parse().map_err(|_| {
                    self.syntax(n, w.column, "a size limit in octets (digits only)", w.text)
                })?;
            }
            _ => unreachable!("only called for settings"),
        }
        Ok(())
    }

    fn rule_header(&self, n: usize, words: &[Word<'_>]) -> Result<Rule, ScenarioError> {
        let verb_word = words.first().ok_or_else(|| {
            self.syntax(
                n,
                6,
                "an SMTP command after `when` (EHLO, MAIL, RCPT, AUTH, …)",
                "",
            )
        })?;
        let verb_text = verb_word.text.to_ascii_uppercase();
        let Some(verb) = Verb::of_rule(&verb_text) else {
            return Err(self.syntax(
                n,
                verb_word.column,
                &format!(
                    "an SMTP command after `when` ({})",
                    Verb::RULE_VERBS.map(Verb::as_str).join(", ")
                ),
                verb_word.text,
            ));
        };
        let mut rule = Rule::new(n, verb);
        let mut args: Vec<&str> = Vec::new();
        for w in &words[1..] {
            let t = w.text;
            if let Some(number) = t.strip_prefix('#').filter(|_| !w.quoted) {
                let nth: u32 = number.parse().ok().filter(|k| *k > 0).ok_or_else(|| {
                    self.syntax(n, w.column, "a count from 1 after '#', as in `#2`", t)
                })?;
                rule.nth = Some(nth);
            } else if let Some(number) = t.strip_prefix("connection=").filter(|_| !w.quoted) {
                let connection: u64 = number.parse().ok().filter(|k| *k > 0).ok_or_else(|| {
                    self.syntax(
                        n,
                        w.column,
                        "a connection number from 1, as in `connection=2`",
                        t,
                    )
                })?;
                rule.connection = Some(connection);
            } else if (t == "tls" || t == "plain") && !w.quoted {
                rule.tls = Some(t == "tls");
            } else if (t == "advertised" || t == "unadvertised") && !w.quoted {
                rule.advertised = Some(t == "advertised");
            } else if verb == Verb::Auth {
                if let Some(user) = t.strip_prefix("user=") {
                    rule.auth.user = Some(user.to_owned());
                } else if let Some(password) = t.strip_prefix("password=") {
                    rule.auth.password = Some(password.to_owned());
                } else if rule.auth.mechanism.is_none() && !t.contains('=') {
                    rule.auth.mechanism = Some(t.to_ascii_uppercase());
                } else {
                    return Err(self.syntax(n, w.column, "an AUTH condition: a mechanism, user=NAME, password=SECRET, #N, tls or plain", t));
                }
            } else {
                args.push(t);
            }
        }
        if !args.is_empty() {
            rule.args = Some(Pattern::new(args.join(" ")));
        }
        Ok(rule)
    }

    fn expectation(
        &self,
        n: usize,
        keyword: &Word<'_>,
        words: &[Word<'_>],
    ) -> Result<ExpectationKind, ScenarioError> {
        const WHAT: &str = "an expectation: `messages N`, `closed by client|server`, `no X`, `X`, `X times N`, `X before Y` or `X after Y`";
        let first = words
            .first()
            .ok_or_else(|| self.syntax(n, keyword.column + 7, WHAT, ""))?;
        let end_of = |w: &Word<'_>| w.column + w.text.len() + usize::from(w.quoted) * 2 + 1;
        let finish = |kind: ExpectationKind,
                      used: usize|
         -> Result<ExpectationKind, ScenarioError> {
            match words.get(used) {
                Some(extra) => Err(self.syntax(n, extra.column, "the end of the line", extra.text)),
                None => Ok(kind),
            }
        };
        if !first.quoted
            && self.scenario.role == Role::Client
            && matches!(first.text, "files" | "line")
        {
            // Effects on the receiver's side: `expect files "GLOB" N`, `expect line "FILE" "GLOB"`.
            let arg = |i: usize, what: &str| -> Result<&Word<'_>, ScenarioError> {
                let prev = &words[i - 1];
                words
                    .get(i)
                    .ok_or_else(|| self.syntax(n, end_of(prev), what, ""))
            };
            if first.text == "files" {
                let glob = arg(1, "a quoted path glob such as \"mail/reply/new/*\"")?;
                let count = arg(2, "a number of files")?;
                let count = count
                    .text
                    .parse()
                    .map_err(|_| self.syntax(n, count.column, "a number of files", count.text))?;
                return finish(
                    ExpectationKind::Files {
                        glob: Pattern::new(glob.text),
                        count,
                    },
                    3,
                );
            }
            let file = arg(1, "a quoted file such as \"logs/mail.log\"")?;
            let glob = arg(2, "a quoted line glob")?;
            return finish(
                ExpectationKind::LogLine {
                    file: file.text.to_owned(),
                    glob: Pattern::new(glob.text),
                },
                3,
            );
        }
        if !first.quoted {
            match first.text {
                "messages" => {
                    let count = words
                        .get(1)
                        .ok_or_else(|| self.syntax(n, end_of(first), "a number of messages", ""))?;
                    let k = count.text.parse().map_err(|_| {
                        self.syntax(n, count.column, "a number of messages", count.text)
                    })?;
                    return finish(ExpectationKind::Messages(k), 2);
                }
                "closed" => {
                    let by = words.get(1).filter(|w| w.text == "by");
                    let side = words.get(2);
                    return match (by, side.map(|w| w.text)) {
                        (Some(_), Some("client")) => {
                            finish(ExpectationKind::ClosedBy(Closer::Client), 3)
                        }
                        (Some(_), Some("server")) => {
                            finish(ExpectationKind::ClosedBy(Closer::Server), 3)
                        }
                        (Some(b), _) => Err(self.syntax(
                            n,
                            side.map_or(end_of(b), |w| w.column),
                            "`client` or `server`",
                            side.map_or("", |w| w.text),
                        )),
                        (None, _) => Err(self.syntax(
                            n,
                            words.get(1).map_or(end_of(first), |w| w.column),
                            "`by client` or `by server`",
                            words.get(1).map_or("", |w| w.text),
                        )),
                    };
                }
                "no" => {
                    let atom_word = words.get(1).ok_or_else(|| {
                        self.syntax(
                            n,
                            end_of(first),
                            "what must never happen (a command, a reply code or tls)",
                            "",
                        )
                    })?;
                    return finish(ExpectationKind::Never(self.atom(n, atom_word)?), 2);
                }
                _ => {}
            }
        }
        let event = self.atom(n, first)?;
        match words.get(1) {
            None => Ok(ExpectationKind::Occurs { event, times: None }),
            Some(w) if w.text == "times" && !w.quoted => {
                let count = words
                    .get(2)
                    .ok_or_else(|| self.syntax(n, end_of(w), "a count", ""))?;
                let k = count
                    .text
                    .parse()
                    .map_err(|_| self.syntax(n, count.column, "a count", count.text))?;
                finish(
                    ExpectationKind::Occurs {
                        event,
                        times: Some(k),
                    },
                    3,
                )
            }
            Some(w) if (w.text == "before" || w.text == "after") && !w.quoted => {
                let other_word = words.get(2).ok_or_else(|| {
                    self.syntax(n, end_of(w), "a command, a reply code or tls", "")
                })?;
                let other = self.atom(n, other_word)?;
                let kind = if w.text == "before" {
                    ExpectationKind::Before {
                        first: event,
                        later: other,
                    }
                } else {
                    ExpectationKind::After {
                        then: event,
                        anchor: other,
                    }
                };
                finish(kind, 3)
            }
            Some(w) => Err(self.syntax(
                n,
                w.column,
                "`times N`, `before X`, `after X` or the end of the line",
                w.text,
            )),
        }
    }

    fn atom(&self, n: usize, word: &Word<'_>) -> Result<Atom, ScenarioError> {
        const WHAT: &str = "a command verb (AUTH), a quoted command line glob (\"MAIL FROM:<*>\"), a reply code (535) or tls";
        if word.quoted {
            return Ok(Atom::Line(Pattern::new(word.text)));
        }
        if word.text == "tls" {
            return Ok(Atom::Tls);
        }
        if word.text.len() == 3 && word.text.bytes().all(|b| b.is_ascii_digit()) {
            let code: u16 = word.text.parse().unwrap_or(0);
            if (200..=599).contains(&code) {
                return Ok(Atom::Reply(code));
            }
            return Err(self.syntax(n, word.column, "a reply code from 200 to 599", word.text));
        }
        let verb = word.text.to_ascii_uppercase();
        if Verb::of_rule(&verb).is_some() {
            return Ok(Atom::Verb(verb));
        }
        Err(self.syntax(n, word.column, WHAT, word.text))
    }
}

impl Parser<'_> {
    /// The reply line of an `S:` line: the text after `S:` and one optional space, or, when
    /// that is a quoted string, its bytes (`S: "250 "` keeps the trailing space).
    fn reply_text(&self, n: usize, line: &str) -> Result<String, ScenarioError> {
        let text = strip_marker(line);
        let Some(quoted) = text.strip_prefix('"') else {
            return Ok(text);
        };
        let column = line.len() - text.len() + 2;
        let unescaped =
            crate::escape::unescape(quoted, Some(b'"'), &[(b'"', b'"')]).map_err(|bad| {
                self.syntax(
                    n,
                    column + bad.offset,
                    "an escape: \\t, \\\\, \\\" or \\xNN",
                    bad.escape,
                )
            })?;
        match unescaped.rest {
            Some("") => {}
            Some(extra) => {
                return Err(self.syntax(
                    n,
                    line.len() - extra.len() + 1,
                    "the end of the line after the closing quote",
                    extra,
                ));
            }
            None => return Err(self.syntax(n, line.len() + 1, "a closing `\"`", "")),
        }
        let text = String::from_utf8(unescaped.bytes).map_err(|_| {
            self.invalid(
                n,
                "a reply line must be UTF-8 (a \\xNN escape made it something else)",
            )
        })?;
        if text.contains(['\r', '\n']) {
            return Err(self.invalid(
                n,
                "a quoted reply line cannot hold \\r or \\n: one S: line is one line (use `raw` for bytes that break lines)",
            ));
        }
        Ok(text)
    }
}

/// The text after `S:` or `C:`: one optional space is dropped, the rest is kept verbatim.
fn strip_marker(line: &str) -> String {
    let rest = &line[2..];
    rest.strip_prefix(' ').unwrap_or(rest).to_owned()
}

/// Splits a line into words; `"…"` keeps spaces (with `\"` and `\\` escapes). Columns are
/// 1-based, counted from `first_column`.
fn split_words(line: &str, first_column: usize) -> Result<Vec<Word<'_>>, (usize, &'static str)> {
    let mut words = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            if i >= bytes.len() {
                return Err((first_column + start, "a closing '\"'"));
            }
            words.push(Word {
                column: first_column + start,
                text: &line[start + 1..i],
                quoted: true,
            });
            i += 1;
        } else {
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            words.push(Word {
                column: first_column + start,
                text: &line[start..i],
                quoted: false,
            });
        }
    }
    Ok(words)
}

/// Parses `500ms`, `2s`, `1m`, `3h`, `40d`.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let value: u64 = digits.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(value)),
        "s" => Some(Duration::from_secs(value)),
        "m" => Some(Duration::from_secs(value.checked_mul(60)?)),
        "h" => Some(Duration::from_secs(value.checked_mul(3600)?)),
        "d" => Some(Duration::from_secs(value.checked_mul(86_400)?)),
        _ => None,
    }
}
