//! Rules and defaults: `when VERB [conditions]` and `default SITUATION` lines, and the indented
//! bodies that answer (`S:` lines grouped into replies, `raw`, `tls`, `pause`, `close`).

use super::blocks::Block;
use super::lexer::{Word, reply_text, split_words};
use super::script::{action, group_replies};
use super::{Draft, Origin, Parser};
use crate::pattern::Pattern;
use crate::scenario::{Action, DefaultReply, Rule, ScenarioError, Situation};
use crate::wire::Verb;

/// The indented body of a `when` or `default` block, as it is read.
#[derive(Clone, Debug, Default)]
pub(super) struct Body {
    /// `S:` lines not yet grouped into replies: (line number, text).
    pending: Vec<(usize, String)>,
    /// What it does so far.
    actions: Vec<Action>,
}

impl Body {
    /// One indented line (`text` trimmed, starting at `column`). A `default` block holds one
    /// reply and nothing else.
    pub(super) fn line(
        &mut self,
        origin: Origin<'_>,
        n: usize,
        column: usize,
        text: &str,
        default: bool,
    ) -> Result<(), ScenarioError> {
        if text.starts_with("S:") {
            let reply = reply_text(origin, n, text)?;
            self.pending.push((n, reply));
            return Ok(());
        }
        self.flush(origin)?;
        let words = split_words(origin, n, text, column)?;
        match words[0].text {
            "tls" | "pause" | "close" | "raw" if default => Err(origin.invalid(
                n,
                "a `default` block holds one reply (`S:` lines) and nothing else",
            )),
            "tls" | "pause" | "close" | "raw" => {
                self.actions
                    .push(action(origin, n, &words[0], &words[1..])?);
                Ok(())
            }
            other => Err(origin.syntax(
                n,
                column,
                "a rule action: S:, raw, tls, pause or close",
                other,
            )),
        }
    }

    /// Groups the pending `S:` lines into replies.
    fn flush(&mut self, origin: Origin<'_>) -> Result<(), ScenarioError> {
        let lines = std::mem::take(&mut self.pending);
        let replies = group_replies(origin, &lines)?;
        self.actions
            .extend(replies.into_iter().map(|(_, r)| Action::Reply(r)));
        Ok(())
    }

    /// The finished rule: it must do something.
    pub(super) fn close_rule(
        mut self,
        origin: Origin<'_>,
        mut rule: Rule,
    ) -> Result<Rule, ScenarioError> {
        self.flush(origin)?;
        if self.actions.is_empty() {
            return Err(origin.invalid(
                rule.line,
                "this rule has no body: indent its replies under the `when` line (`    S: 250 OK`)",
            ));
        }
        rule.actions = self.actions;
        Ok(rule)
    }

    /// The finished `default` block written at `line`: exactly one reply.
    pub(super) fn close_default(
        mut self,
        origin: Origin<'_>,
        line: usize,
        situation: Situation,
    ) -> Result<DefaultReply, ScenarioError> {
        self.flush(origin)?;
        match self.actions.as_slice() {
            [Action::Reply(reply)] => Ok(DefaultReply {
                line,
                situation,
                reply: reply.clone(),
            }),
            [] => Err(origin.invalid(
                line,
                "this `default` has no reply: indent it under the `default` line (`    S: 500 5.5.2 Unknown command`)",
            )),
            _ => Err(origin.invalid(
                line,
                "a `default` block holds exactly one reply (its lines `S: 500-…` then `S: 500 …`)",
            )),
        }
    }
}

impl Parser<'_> {
    /// A `when …` line: opens a rule.
    pub(super) fn when_line(&mut self, n: usize, rest: &[Word<'_>]) -> Result<(), ScenarioError> {
        if matches!(self.draft, Draft::Client(_)) {
            return Err(self.origin.invalid(
                n,
                "a client scenario has no `when` rules: it plays its script",
            ));
        }
        self.seen_rule = true;
        let rule = header(self.origin, n, rest)?;
        self.block = Block::Rule {
            rule,
            body: Body::default(),
        };
        Ok(())
    }

    /// A `default SITUATION` line: opens a default block.
    pub(super) fn default_line(
        &mut self,
        n: usize,
        keyword: &Word<'_>,
        rest: &[Word<'_>],
    ) -> Result<(), ScenarioError> {
        let origin = self.origin;
        let Draft::Server(scenario) = &self.draft else {
            return Err(origin.invalid(n, "a client scenario has no `default` replies"));
        };
        const WHAT: &str = "a situation: unrecognized, not-implemented, syntax, sequence, need-helo, need-mail, need-rcpt, nested-mail, parameter, line-too-long, timeout, shutdown or queued";
        let situation = match rest {
            [w] => Situation::from_name(w.text)
                .ok_or_else(|| origin.syntax(n, w.column, WHAT, w.text))?,
            [] => return Err(origin.syntax(n, keyword.column + 8, WHAT, "")),
            [_, extra, ..] => {
                return Err(origin.syntax(n, extra.column, "the end of the line", extra.text));
            }
        };
        if let Some(earlier) = scenario.defaults.iter().find(|d| d.situation == situation) {
            return Err(origin.invalid(
                n,
                format!(
                    "`default {}` is already given at line {}",
                    situation.name(),
                    earlier.line
                ),
            ));
        }
        self.seen_rule = true;
        self.block = Block::Default {
            line: n,
            situation,
            body: Body::default(),
        };
        Ok(())
    }
}

/// The rule a `when` line opens: its verb and conditions (the words after `when`).
pub(super) fn header(
    origin: Origin<'_>,
    n: usize,
    words: &[Word<'_>],
) -> Result<Rule, ScenarioError> {
    let verb_word = words.first().ok_or_else(|| {
        origin.syntax(
            n,
            6,
            "an SMTP command after `when` (EHLO, MAIL, RCPT, AUTH, …)",
            "",
        )
    })?;
    let verb_text = verb_word.text.to_ascii_uppercase();
    let Some(verb) = Verb::of_rule(&verb_text) else {
        return Err(origin.syntax(
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
                origin.syntax(n, w.column, "a count from 1 after '#', as in `#2`", t)
            })?;
            rule.nth = Some(nth);
        } else if let Some(number) = t.strip_prefix("connection=").filter(|_| !w.quoted) {
            let connection: u64 = number.parse().ok().filter(|k| *k > 0).ok_or_else(|| {
                origin.syntax(
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
                return Err(origin.syntax(
                    n,
                    w.column,
                    "an AUTH condition: a mechanism, user=NAME, password=SECRET, #N, tls or plain",
                    t,
                ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Reply;

    const AT: Origin<'static> = Origin("t.scn");

    fn when(line: &str) -> Result<Rule, String> {
        let words = split_words(AT, 1, line, 1).expect("words");
        header(AT, 1, &words[1..]).map_err(|e| e.to_string())
    }

    #[test]
    fn a_when_line_gives_the_verb_and_its_conditions() {
        let rule = when("when rcpt TO:<*@other.example> #2 connection=3 tls unadvertised").unwrap();
        assert_eq!(rule.verb, Verb::Rcpt);
        assert_eq!(
            rule.args.as_ref().map(Pattern::as_str),
            Some("TO:<*@other.example>")
        );
        assert_eq!(
            (rule.nth, rule.connection, rule.tls, rule.advertised),
            (Some(2), Some(3), Some(true), Some(false))
        );
        let auth = when("when AUTH login user=alice password=s3cret plain").unwrap();
        assert_eq!(auth.auth.mechanism.as_deref(), Some("LOGIN"));
        assert_eq!(auth.auth.user.as_deref(), Some("alice"));
        assert_eq!(auth.auth.password.as_deref(), Some("s3cret"));
        assert_eq!(auth.tls, Some(false));
        // A quoted word is an argument glob, never a condition.
        let quoted = when("when EHLO \"tls\"").unwrap();
        assert_eq!(quoted.args.as_ref().map(Pattern::as_str), Some("tls"));
        assert_eq!(quoted.tls, None);
    }

    #[test]
    fn a_bad_when_line_is_named_at_its_word() {
        assert_eq!(
            when("when"),
            Err("t.scn:1:6: expected an SMTP command after `when` (EHLO, MAIL, RCPT, AUTH, …), found the end of the line".into())
        );
        assert_eq!(
            when("when RCPT connection=0"),
            Err(r#"t.scn:1:11: expected a connection number from 1, as in `connection=2`, found "connection=0""#.into())
        );
        assert_eq!(
            when("when AUTH PLAIN LOGIN"),
            Err(r#"t.scn:1:17: expected an AUTH condition: a mechanism, user=NAME, password=SECRET, #N, tls or plain, found "LOGIN""#.into())
        );
    }

    fn body(lines: &[&str], default: bool) -> Result<Body, String> {
        let mut body = Body::default();
        for (i, l) in lines.iter().enumerate() {
            body.line(AT, i + 2, 5, l, default)
                .map_err(|e| e.to_string())?;
        }
        Ok(body)
    }

    #[test]
    fn a_rule_body_keeps_its_actions_in_order() {
        let rule = body(
            &[
                "S: 220 go",
                "tls",
                "S: 250-a",
                "S: 250 b",
                "pause 1s",
                "close",
            ],
            false,
        )
        .unwrap()
        .close_rule(AT, Rule::new(1, Verb::StartTls))
        .unwrap();
        assert_eq!(
            rule.actions,
            [
                Action::Reply(Reply::new(220, "go")),
                Action::Tls,
                Action::Reply(Reply::multi(250, ["a", "b"])),
                Action::Pause(std::time::Duration::from_secs(1)),
                Action::Close,
            ]
        );
        let empty = Body::default().close_rule(AT, Rule::new(4, Verb::Rcpt));
        assert!(
            empty
                .unwrap_err()
                .to_string()
                .starts_with("t.scn:4: this rule has no body")
        );
        assert_eq!(
            body(&["frobnicate"], false).err().as_deref(),
            Some(
                r#"t.scn:2:5: expected a rule action: S:, raw, tls, pause or close, found "frobnicate""#
            )
        );
    }

    #[test]
    fn a_default_block_is_one_reply() {
        let reply = body(&["S: 500-a", "S: 500 b"], true)
            .unwrap()
            .close_default(AT, 1, Situation::Unrecognized)
            .unwrap();
        assert_eq!(reply.reply, Reply::multi(500, ["a", "b"]));
        assert_eq!(
            body(&["S: 500 a", "close"], true).err().as_deref(),
            Some("t.scn:3: a `default` block holds one reply (`S:` lines) and nothing else")
        );
        let two = body(&["S: 500 a", "S: 500 b"], true)
            .unwrap()
            .close_default(AT, 1, Situation::Unrecognized);
        assert!(two.unwrap_err().to_string().contains("exactly one reply"));
        let none = Body::default().close_default(AT, 1, Situation::Queued);
        assert!(none.unwrap_err().to_string().contains("has no reply"));
    }
}
