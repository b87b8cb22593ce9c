//! The linear script: `S:` and `C:` lines, `raw`, `tls`, `pause`, `close` (both roles),
//! `message` and `slow` (the client's); consecutive `S:` lines of a server grouped into replies.

use super::blocks::Block;
use super::lexer::{Word, duration, raw_bytes, reply_text, strip_marker};
use super::{Draft, Origin, Parser};
use crate::pattern::Pattern;
use crate::reply::Reply;
use crate::scenario::{Action, ClientStep, ClientStepKind, ScenarioError, Step, StepKind};

/// The keywords of script steps other than `S:` and `C:`.
pub(super) const KEYWORDS: [&str; 6] = ["tls", "pause", "close", "raw", "message", "slow"];

impl Parser<'_> {
    /// A top-level `S:` line: a reply line of the server's script (grouped into replies when
    /// the run of `S:` lines ends), or a glob the client's next reply must match.
    pub(super) fn script_reply_line(&mut self, n: usize, line: &str) -> Result<(), ScenarioError> {
        self.script_started(n)?;
        match &mut self.draft {
            Draft::Client(c) => c.script.push(ClientStep {
                line: n,
                kind: ClientStepKind::Expect(Pattern::new(strip_marker(line))),
            }),
            Draft::Server(_) => {
                let text = reply_text(self.origin, n, line)?;
                match &mut self.block {
                    Block::Replies(lines) => lines.push((n, text)),
                    _ => self.block = Block::Replies(vec![(n, text)]),
                }
            }
        }
        Ok(())
    }

    /// A top-level `C:` line: a line the server waits for, or one the client sends.
    pub(super) fn script_client_line(&mut self, n: usize, line: &str) -> Result<(), ScenarioError> {
        self.script_started(n)?;
        let text = strip_marker(line);
        match &mut self.draft {
            Draft::Server(s) => s.script.push(Step {
                line: n,
                kind: StepKind::Expect(Pattern::new(text)),
            }),
            Draft::Client(c) => c.script.push(ClientStep {
                line: n,
                kind: ClientStepKind::Send(format!("{text}\r\n").into_bytes()),
            }),
        }
        Ok(())
    }

    /// A step named by its keyword (one of [`KEYWORDS`]).
    pub(super) fn script_step(
        &mut self,
        n: usize,
        keyword: &Word<'_>,
        rest: &[Word<'_>],
    ) -> Result<(), ScenarioError> {
        let origin = self.origin;
        if matches!(keyword.text, "message" | "slow") {
            if !matches!(self.draft, Draft::Client(_)) {
                return Err(origin.invalid(
                    n,
                    format!(
                        "`{}` is a client step: add `role client` to the settings",
                        keyword.text
                    ),
                ));
            }
            self.script_started(n)?;
            let kind = client_only_step(origin, n, keyword, rest)?;
            if let Draft::Client(client) = &mut self.draft {
                client.script.push(ClientStep { line: n, kind });
            }
            return Ok(());
        }
        self.script_started(n)?;
        let action = action(origin, n, keyword, rest)?;
        match &mut self.draft {
            Draft::Server(s) => {
                let kind = match action {
                    Action::Tls => StepKind::Tls,
                    Action::Pause(d) => StepKind::Pause(d),
                    Action::Close => StepKind::Close,
                    Action::Raw(bytes) => StepKind::Raw(bytes),
                    Action::Reply(_) => unreachable!("replies are S: lines"),
                };
                s.script.push(Step { line: n, kind });
            }
            Draft::Client(c) => {
                let kind = match action {
                    Action::Tls => ClientStepKind::Tls,
                    Action::Pause(d) => ClientStepKind::Pause(d),
                    Action::Close => ClientStepKind::Close,
                    Action::Raw(bytes) => ClientStepKind::Send(bytes),
                    Action::Reply(_) => unreachable!("replies are S: lines"),
                };
                c.script.push(ClientStep { line: n, kind });
            }
        }
        Ok(())
    }

    /// A script step at line `n`: refused after the first rule.
    fn script_started(&mut self, n: usize) -> Result<(), ScenarioError> {
        if self.seen_rule {
            return Err(self.origin.invalid(
                n,
                "script steps must come before the first `when` rule (indent this line to make it part of the rule above)",
            ));
        }
        self.seen_step = true;
        Ok(())
    }

    /// Groups the pending `S:` lines of the server's script into replies.
    pub(super) fn flush_script_replies(
        &mut self,
        lines: &[(usize, String)],
    ) -> Result<(), ScenarioError> {
        let replies = group_replies(self.origin, lines)?;
        if let Draft::Server(s) = &mut self.draft {
            s.script
                .extend(replies.into_iter().map(|(line, reply)| Step {
                    line,
                    kind: StepKind::Send(reply),
                }));
        }
        Ok(())
    }
}

/// `message FILE` or `slow DELAY`.
fn client_only_step(
    origin: Origin<'_>,
    n: usize,
    keyword: &Word<'_>,
    rest: &[Word<'_>],
) -> Result<ClientStepKind, ScenarioError> {
    let slow = keyword.text == "slow";
    let word = match rest {
        [w] => w,
        [] => {
            return Err(origin.syntax(
                n,
                keyword.column + keyword.text.len() + 1,
                if slow {
                    "a delay such as 5ms"
                } else {
                    "a message file"
                },
                "",
            ));
        }
        [_, extra, ..] => {
            return Err(origin.syntax(n, extra.column, "the end of the line", extra.text));
        }
    };
    Ok(if slow {
        ClientStepKind::Slow(duration(origin, n, word)?)
    } else {
        ClientStepKind::Message(word.text.to_owned())
    })
}

/// `tls`, `close`, `pause DURATION` or `raw "BYTES"`: in a script or a rule's body.
pub(super) fn action(
    origin: Origin<'_>,
    n: usize,
    keyword: &Word<'_>,
    rest: &[Word<'_>],
) -> Result<Action, ScenarioError> {
    let action = match keyword.text {
        "tls" => Action::Tls,
        "close" => Action::Close,
        "pause" => {
            let word = rest.first().ok_or_else(|| {
                origin.syntax(
                    n,
                    keyword.column + 6,
                    "a duration such as 500ms, 2s or 1m",
                    "",
                )
            })?;
            Action::Pause(duration(origin, n, word)?)
        }
        "raw" => {
            const WHAT: &str = "a quoted string of bytes, as in raw \"220 hi\\r\\n\"";
            let word = rest
                .first()
                .ok_or_else(|| origin.syntax(n, keyword.column + 4, WHAT, ""))?;
            if !word.quoted {
                return Err(origin.syntax(n, word.column, WHAT, word.text));
            }
            Action::Raw(raw_bytes(origin, n, word)?)
        }
        _ => unreachable!("only called for actions"),
    };
    let extra = if matches!(keyword.text, "pause" | "raw") {
        rest.get(1)
    } else {
        rest.first()
    };
    if let Some(word) = extra {
        return Err(origin.syntax(n, word.column, "the end of the line", word.text));
    }
    Ok(action)
}

/// Groups `S:` lines (line number, text) into replies: a reply ends at a line whose code is
/// followed by a space or nothing; each reply comes with the line it starts on.
pub(super) fn group_replies(
    origin: Origin<'_>,
    lines: &[(usize, String)],
) -> Result<Vec<(usize, Reply)>, ScenarioError> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, (n, text)) in lines.iter().enumerate() {
        if !crate::reply::is_reply_line(text) {
            return Err(origin.syntax(
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
                origin.invalid(
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
        return Err(origin.syntax(
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

#[cfg(test)]
mod tests {
    use super::super::lexer::split_words;
    use super::*;
    use std::time::Duration;

    const AT: Origin<'static> = Origin("t.scn");

    fn numbered(lines: &[&str]) -> Vec<(usize, String)> {
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| (i + 1, (*l).to_owned()))
            .collect()
    }

    #[test]
    fn consecutive_lines_group_into_replies_at_their_first_line() {
        let replies =
            group_replies(AT, &numbered(&["220 hi", "250-one", "250 two", "354"])).expect("groups");
        let got: Vec<(usize, u16, usize)> = replies
            .iter()
            .map(|(n, r)| (*n, r.code(), r.lines().len()))
            .collect();
        assert_eq!(got, [(1, 220, 1), (2, 250, 2), (4, 354, 1)]);
    }

    #[test]
    fn a_reply_left_open_or_a_bad_line_is_named() {
        let error = |lines: &[&str]| {
            group_replies(AT, &numbered(lines))
                .expect_err("refused")
                .to_string()
        };
        assert_eq!(
            error(&["250-one", "250-two"]),
            r#"t.scn:2:4: expected a last line `250 text` to end the reply begun at line 1, found "250-two""#
        );
        assert_eq!(
            error(&["220 hi", "hello"]),
            r#"t.scn:2:4: expected a reply line: a code from 200 to 599, then '-', ' ' or the end of the line, found "hello""#
        );
        assert!(error(&["250-one", "251 two"]).starts_with("t.scn:1: lines 1-2 are not one reply"));
    }

    fn act(line: &str) -> Result<Action, String> {
        let words = split_words(AT, 1, line, 1).expect("words");
        action(AT, 1, &words[0], &words[1..]).map_err(|e| e.to_string())
    }

    #[test]
    fn actions_take_their_argument_and_nothing_more() {
        assert_eq!(act("tls"), Ok(Action::Tls));
        assert_eq!(act("close"), Ok(Action::Close));
        assert_eq!(act("pause 2s"), Ok(Action::Pause(Duration::from_secs(2))));
        assert_eq!(act(r#"raw "hi\r\n""#), Ok(Action::Raw(b"hi\r\n".to_vec())));
        assert_eq!(
            act("pause"),
            Err(
                "t.scn:1:7: expected a duration such as 500ms, 2s or 1m, found the end of the line"
                    .into()
            )
        );
        assert_eq!(
            act("raw hi"),
            Err(r#"t.scn:1:5: expected a quoted string of bytes, as in raw "220 hi\r\n", found "hi""#.into())
        );
        assert_eq!(
            act("close now"),
            Err(r#"t.scn:1:7: expected the end of the line, found "now""#.into())
        );
        assert_eq!(
            act("pause 1s 2s"),
            Err(r#"t.scn:1:10: expected the end of the line, found "2s""#.into())
        );
    }

    #[test]
    fn client_steps_take_one_word() {
        let step = |line: &str| {
            let words = split_words(AT, 1, line, 1).expect("words");
            client_only_step(AT, 1, &words[0], &words[1..]).map_err(|e| e.to_string())
        };
        assert_eq!(
            step("message messages/hello.eml"),
            Ok(ClientStepKind::Message("messages/hello.eml".into()))
        );
        assert_eq!(
            step("slow 5ms"),
            Ok(ClientStepKind::Slow(Duration::from_millis(5)))
        );
        assert_eq!(
            step("slow"),
            Err("t.scn:1:6: expected a delay such as 5ms, found the end of the line".into())
        );
        assert_eq!(
            step("message a b"),
            Err(r#"t.scn:1:11: expected the end of the line, found "b""#.into())
        );
    }
}
