//! The dispatcher: each line goes to the part of the grammar it belongs to, and [`Block`]
//! says what is open and takes the next (indented) lines.

use super::expectations::{self, Expected};
use super::lexer::{Word, split_words};
use super::rules::Body;
use super::{Draft, Origin, Parser, script, settings};
use crate::scenario::keyword_line::{KeywordLine, LineWord};
use crate::scenario::{Effect, Expectation, Outcome, Rule, ScenarioError, SenderSpec, Situation};

/// What is open while the lines are read: at most one thing at a time.
#[derive(Clone, Debug)]
pub(super) enum Block {
    /// Nothing: the next line starts something new.
    None,
    /// A run of top-level `S:` lines of the server's script, grouped into replies when the
    /// run ends (line number, text).
    Replies(Vec<(usize, String)>),
    /// The indented body of a `when` rule.
    Rule {
        /// The rule as its `when` line gave it.
        rule: Rule,
        /// Its actions, as read so far.
        body: Body,
    },
    /// The indented body of a `default SITUATION` block.
    Default {
        /// 1-based line of the `default`.
        line: usize,
        /// The situation it answers.
        situation: Situation,
        /// Its reply, as read so far.
        body: Body,
    },
    /// The indented settings of a `sender` block.
    Sender,
    /// The indented settings of a `receiver` block.
    Receiver,
}

/// The keywords a line can start with, for the error that names none of them.
const EXPECTED_KEYWORD: &str = "a setting (name, hostname, certificate, implicit-tls, timeout, size, role, wording), a step (S:, C:, raw, tls, pause, close, message, slow), `when`, `default`, `expect`, `sender` or `outcome`";

impl Parser<'_> {
    /// Reads one line (`n` is its 1-based number).
    pub(super) fn line(&mut self, n: usize, raw: &str) -> Result<(), ScenarioError> {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return Ok(());
        }
        let indent = raw.len() - trimmed.len();
        if indent > 0 {
            return self.indented(n, indent + 1, trimmed);
        }
        let line = raw.trim_end();
        let is_reply = line.starts_with("S:");
        // A run of `S:` lines stays open; anything else ends what was open.
        if !(is_reply && matches!(self.block, Block::Replies(_))) {
            self.close_block()?;
        }
        if self.case.is_some() {
            self.case_line_allowed(n, line)?;
        }
        if is_reply {
            return self.script_reply_line(n, line);
        }
        let origin = self.origin;
        let words = split_words(origin, n, line, 1)?;
        let keyword = &words[0];
        let rest = &words[1..];
        // The keyword's end in bytes (a quoted keyword also has its two quotes).
        let keyword_end = keyword.column - 1 + keyword.text.len() + 2 * usize::from(keyword.quoted);
        let rest_text = line.get(keyword_end..).unwrap_or("").trim();
        match keyword.text {
            "C:" => self.script_client_line(n, line),
            k if script::KEYWORDS.contains(&k) => self.script_step(n, keyword, rest),
            "default" => self.default_line(n, keyword, rest),
            "when" => self.when_line(n, rest),
            "receiver" => self.receiver_line(n, keyword, rest),
            "sender" => self.sender_block(n, keyword, rest),
            "outcome" => self.outcome_line(n, keyword, rest),
            "expect" => self.expect_line(n, keyword, rest, rest_text),
            k if settings::KEYWORDS.contains(&k) => {
                if self.seen_step || self.seen_rule {
                    return Err(origin.invalid(
                        n,
                        format!("settings such as `{k}` must come before the script and the rules"),
                    ));
                }
                settings::apply(&mut self.draft, origin, n, keyword, rest, rest_text)
            }
            other => Err(origin.syntax(n, keyword.column, EXPECTED_KEYWORD, other)),
        }
    }

    /// An indented line (`column` is where `text` starts): it belongs to the open block.
    fn indented(&mut self, n: usize, column: usize, text: &str) -> Result<(), ScenarioError> {
        let origin = self.origin;
        match &mut self.block {
            Block::Sender => {
                let words = split_words(origin, n, text.trim_end(), column)?;
                let setting = keyword_line(origin, n, &words[0], &words[1..]);
                let Draft::Server(scenario) = &mut self.draft else {
                    unreachable!("only a server scenario opens a sender block");
                };
                let spec = scenario.sender.get_or_insert_with(Default::default);
                crate::scenario::sender::apply_setting(spec, &setting)
            }
            Block::Receiver => {
                let words = split_words(origin, n, text.trim_end(), column)?;
                let setting = keyword_line(origin, n, &words[0], &words[1..]);
                let Draft::Client(scenario) = &mut self.draft else {
                    unreachable!("only a client scenario opens a receiver block");
                };
                let spec = scenario.receiver.get_or_insert_with(Default::default);
                crate::scenario::receiver::apply_setting(spec, &setting)
            }
            Block::Rule { body, .. } => body.line(origin, n, column, text.trim_end(), false),
            Block::Default { body, .. } => body.line(origin, n, column, text.trim_end(), true),
            Block::None | Block::Replies(_) => Err(origin.syntax(
                n,
                1,
                "a setting, step, `when`, `expect`, `sender` or `outcome` at the start of the line (only the bodies of `when` and `sender` are indented)",
                text,
            )),
        }
    }

    /// Ends what is open: groups its replies, closes its rule or default.
    pub(super) fn close_block(&mut self) -> Result<(), ScenarioError> {
        let origin = self.origin;
        match std::mem::replace(&mut self.block, Block::None) {
            Block::None | Block::Sender | Block::Receiver => Ok(()),
            Block::Replies(lines) => self.flush_script_replies(&lines),
            Block::Rule { rule, body } => {
                let rule = body.close_rule(origin, rule)?;
                if let Draft::Server(s) = &mut self.draft {
                    s.rules.push(rule);
                }
                Ok(())
            }
            Block::Default {
                line,
                situation,
                body,
            } => {
                let default = body.close_default(origin, line, situation)?;
                if let Draft::Server(s) = &mut self.draft {
                    s.defaults.push(default);
                }
                Ok(())
            }
        }
    }

    /// `receiver NAME`: a client scenario's receiver (an adapter), its settings indented below.
    fn receiver_line(
        &mut self,
        n: usize,
        keyword: &Word<'_>,
        rest: &[Word<'_>],
    ) -> Result<(), ScenarioError> {
        let origin = self.origin;
        let Draft::Client(scenario) = &mut self.draft else {
            return Err(origin.invalid(
                n,
                "`receiver` is for client scenarios: add `role client` to the settings",
            ));
        };
        let line = keyword_line(origin, n, keyword, rest);
        scenario.receiver = Some(crate::scenario::receiver::parse_receiver(&line)?);
        self.block = Block::Receiver;
        Ok(())
    }

    /// `sender NAMES`: the senders that drive a server scenario, their settings indented below.
    fn sender_block(
        &mut self,
        n: usize,
        keyword: &Word<'_>,
        rest: &[Word<'_>],
    ) -> Result<(), ScenarioError> {
        let origin = self.origin;
        if self.case.is_some() {
            return self.case_sender(n, keyword, rest);
        }
        let Draft::Server(scenario) = &mut self.draft else {
            return Err(origin.invalid(
                n,
                "a client scenario plays the sender itself: it has no `sender` line",
            ));
        };
        if scenario.sender.is_some() {
            return Err(origin.invalid(
                n,
                "a scenario has one `sender` line (list every sender on it)",
            ));
        }
        scenario.sender = Some(sender_line(origin, n, keyword, rest)?);
        self.block = Block::Sender;
        Ok(())
    }

    /// `outcome …`: what the senders of a server scenario must conclude.
    fn outcome_line(
        &mut self,
        n: usize,
        keyword: &Word<'_>,
        rest: &[Word<'_>],
    ) -> Result<(), ScenarioError> {
        let origin = self.origin;
        if matches!(self.draft, Draft::Client(_)) {
            return Err(origin.invalid(
                n,
                "a client scenario has no `outcome`: it passes when its script and its `expect` lines hold",
            ));
        }
        self.case_outcome_seen(n)?;
        let Draft::Server(scenario) = &mut self.draft else {
            unreachable!("checked above");
        };
        if scenario.outcome.is_some() {
            return Err(origin.invalid(n, "a scenario has one `outcome` line"));
        }
        let kind = crate::scenario::sender::parse_outcome(&keyword_line(origin, n, keyword, rest))?;
        scenario.outcome = Some(Outcome { line: n, kind });
        Ok(())
    }

    /// `expect …`: an expectation, or a client scenario's effect on its receiver.
    fn expect_line(
        &mut self,
        n: usize,
        keyword: &Word<'_>,
        rest: &[Word<'_>],
        rest_text: &str,
    ) -> Result<(), ScenarioError> {
        let client = matches!(self.draft, Draft::Client(_));
        let expected = expectations::parse(self.origin, n, keyword, rest, client)?;
        let text = rest_text.to_owned();
        match (&mut self.draft, expected) {
            (Draft::Server(s), Expected::Conversation(kind)) => {
                s.expectations.push(Expectation {
                    line: n,
                    text,
                    kind,
                });
            }
            (Draft::Client(c), Expected::Conversation(kind)) => {
                c.expectations.push(Expectation {
                    line: n,
                    text,
                    kind,
                });
            }
            (Draft::Client(c), Expected::Effect(kind)) => {
                c.effects.push(Effect {
                    line: n,
                    text,
                    kind,
                });
            }
            (Draft::Server(_), Expected::Effect(_)) => {
                unreachable!("effects are read only for client scenarios")
            }
        }
        Ok(())
    }
}

/// A `sender NAMES` line: a new sender block with default settings.
pub(super) fn sender_line(
    origin: Origin<'_>,
    n: usize,
    keyword: &Word<'_>,
    rest: &[Word<'_>],
) -> Result<SenderSpec, ScenarioError> {
    let senders = crate::scenario::sender::parse_senders(&keyword_line(origin, n, keyword, rest))?;
    Ok(SenderSpec {
        line: n,
        senders,
        ..Default::default()
    })
}

/// A `KEYWORD WORD…` line for the readers of the `sender` and `receiver` blocks and `outcome`,
/// which report their errors themselves.
fn keyword_line<'w>(
    origin: Origin<'w>,
    n: usize,
    keyword: &Word<'w>,
    rest: &[Word<'w>],
) -> KeywordLine<'w> {
    let word = |w: &Word<'w>| LineWord {
        column: w.column,
        text: w.text,
    };
    KeywordLine {
        origin: origin.0,
        number: n,
        keyword: word(keyword),
        values: rest.iter().map(word).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::settings::Role;
    use super::*;
    use crate::reply::Reply;
    use crate::scenario::{Action, ClientStepKind, StepKind};

    /// Reads `text` line by line as `role` and closes what is left open.
    fn read(role: Role, text: &str) -> Result<Draft, String> {
        let mut parser = Parser::new("t.scn", role);
        for (i, line) in text.lines().enumerate() {
            parser.line(i + 1, line).map_err(|e| e.to_string())?;
        }
        parser.close_block().map_err(|e| e.to_string())?;
        Ok(parser.draft)
    }

    fn server(text: &str) -> crate::scenario::ServerScenario {
        match read(Role::Server, text) {
            Ok(Draft::Server(s)) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_run_of_s_lines_stays_open_across_blank_lines_and_comments() {
        let s = server("S: 250-a\n\n# between\nS: 250 b\nC: EHLO*\nS: 250 c\n");
        let kinds: Vec<&StepKind> = s.script.iter().map(|step| &step.kind).collect();
        assert_eq!(
            kinds,
            [
                &StepKind::Send(Reply::multi(250, ["a", "b"])),
                &StepKind::Expect(crate::pattern::Pattern::new("EHLO*")),
                &StepKind::Send(Reply::new(250, "c")),
            ]
        );
        assert_eq!((s.script[0].line, s.script[2].line), (1, 6));
    }

    #[test]
    fn an_indented_line_goes_to_the_open_block() {
        let s = server(
            "when RCPT\n    S: 550 no\n    close\nsender lettre\n    auth login\n    user u\n    password p\ndefault queued\n    S: 250 ok\n",
        );
        assert_eq!(
            s.rules[0].actions,
            [Action::Reply(Reply::new(550, "no")), Action::Close]
        );
        let sender = s.sender.expect("sender");
        assert_eq!((sender.user.as_str(), sender.password.as_str()), ("u", "p"));
        assert_eq!(s.defaults[0].situation, Situation::Queued);
        // A top-level line closes the block: the next indented line has no block to go to.
        let error = read(
            Role::Server,
            "sender lettre\nexpect no DATA\n    auth login\n",
        );
        assert_eq!(
            error.err().as_deref(),
            Some(
                r#"t.scn:3:1: expected a setting, step, `when`, `expect`, `sender` or `outcome` at the start of the line (only the bodies of `when` and `sender` are indented), found "auth login""#
            )
        );
    }

    #[test]
    fn a_client_scenario_reads_its_own_steps_and_blocks() {
        let Ok(Draft::Client(c)) = read(
            Role::Client,
            "receiver appliance\n    tls on\nS: 220*\nC: EHLO me\nraw \"x\\r\\n\"\nexpect files \"a/*\" 2\nexpect 250\n",
        ) else {
            panic!("a client draft");
        };
        assert!(c.receiver.expect("receiver").tls);
        let kinds: Vec<&ClientStepKind> = c.script.iter().map(|s| &s.kind).collect();
        assert_eq!(
            kinds,
            [
                &ClientStepKind::Expect(crate::pattern::Pattern::new("220*")),
                &ClientStepKind::Send(b"EHLO me\r\n".to_vec()),
                &ClientStepKind::Send(b"x\r\n".to_vec()),
            ]
        );
        assert_eq!((c.effects.len(), c.expectations.len()), (1, 1));
    }

    #[test]
    fn an_unknown_keyword_lists_what_a_line_can_start_with() {
        let error = read(Role::Server, "frobnicate now\n")
            .err()
            .unwrap_or_default();
        assert_eq!(
            error,
            format!(r#"t.scn:1:1: expected {EXPECTED_KEYWORD}, found "frobnicate""#)
        );
    }
}
