//! `expect` lines: what the conversation must show (`STARTTLS before AUTH`, `no DATA`,
//! `messages 1`, `closed by client`, `535 times 1`), and a client's effects on its receiver
//! (`files "GLOB" N`, `line "FILE" "GLOB"`).

use super::Origin;
use super::lexer::Word;
use crate::pattern::Pattern;
use crate::scenario::{Atom, EffectKind, ExpectationKind, ScenarioError};
use crate::transcript::Closer;
use crate::wire::Verb;

/// What an `expect` line says.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Expected {
    /// Something about the conversation.
    Conversation(ExpectationKind),
    /// Something the receiver did (client scenarios only).
    Effect(EffectKind),
}

/// The words after `expect` (`keyword` is the `expect` word); `effects` allows a client's
/// `files` and `line` expectations.
pub(super) fn parse(
    origin: Origin<'_>,
    n: usize,
    keyword: &Word<'_>,
    words: &[Word<'_>],
    effects: bool,
) -> Result<Expected, ScenarioError> {
    const WHAT: &str = "an expectation: `messages N`, `closed by client|server`, `no X`, `X`, `X times N`, `X before Y` or `X after Y`";
    let first = words
        .first()
        .ok_or_else(|| origin.syntax(n, keyword.column + 7, WHAT, ""))?;
    if effects && !first.quoted && matches!(first.text, "files" | "line") {
        return effect(origin, n, words).map(Expected::Effect);
    }
    conversation(origin, n, words).map(Expected::Conversation)
}

/// Refuses words after the first `used` ones.
fn nothing_after<T>(
    origin: Origin<'_>,
    n: usize,
    words: &[Word<'_>],
    used: usize,
    value: T,
) -> Result<T, ScenarioError> {
    match words.get(used) {
        Some(extra) => Err(origin.syntax(n, extra.column, "the end of the line", extra.text)),
        None => Ok(value),
    }
}

/// `files "GLOB" N` or `line "FILE" "GLOB"`.
fn effect(origin: Origin<'_>, n: usize, words: &[Word<'_>]) -> Result<EffectKind, ScenarioError> {
    let arg = |i: usize, what: &str| -> Result<&Word<'_>, ScenarioError> {
        let prev = &words[i - 1];
        words
            .get(i)
            .ok_or_else(|| origin.syntax(n, prev.next_column(), what, ""))
    };
    let kind = if words[0].text == "files" {
        let glob = arg(1, "a quoted path glob such as \"mail/reply/new/*\"")?;
        let count = arg(2, "a number of files")?;
        let count = count
            .text
            .parse()
            .map_err(|_| origin.syntax(n, count.column, "a number of files", count.text))?;
        EffectKind::Files {
            glob: Pattern::new(glob.text),
            count,
        }
    } else {
        let file = arg(1, "a quoted file such as \"logs/mail.log\"")?;
        let glob = arg(2, "a quoted line glob")?;
        EffectKind::LogLine {
            file: file.text.to_owned(),
            glob: Pattern::new(glob.text),
        }
    };
    nothing_after(origin, n, words, 3, kind)
}

/// An expectation about the conversation.
fn conversation(
    origin: Origin<'_>,
    n: usize,
    words: &[Word<'_>],
) -> Result<ExpectationKind, ScenarioError> {
    let first = &words[0];
    let finish = |kind: ExpectationKind, used: usize| nothing_after(origin, n, words, used, kind);
    if !first.quoted {
        match first.text {
            "messages" => {
                let count = words.get(1).ok_or_else(|| {
                    origin.syntax(n, first.next_column(), "a number of messages", "")
                })?;
                let k = count.text.parse().map_err(|_| {
                    origin.syntax(n, count.column, "a number of messages", count.text)
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
                    (Some(b), _) => Err(origin.syntax(
                        n,
                        side.map_or(b.next_column(), |w| w.column),
                        "`client` or `server`",
                        side.map_or("", |w| w.text),
                    )),
                    (None, _) => Err(origin.syntax(
                        n,
                        words.get(1).map_or(first.next_column(), |w| w.column),
                        "`by client` or `by server`",
                        words.get(1).map_or("", |w| w.text),
                    )),
                };
            }
            "no" => {
                let atom_word = words.get(1).ok_or_else(|| {
                    origin.syntax(
                        n,
                        first.next_column(),
                        "what must never happen (a command, a reply code or tls)",
                        "",
                    )
                })?;
                return finish(ExpectationKind::Never(atom(origin, n, atom_word)?), 2);
            }
            _ => {}
        }
    }
    let event = atom(origin, n, first)?;
    match words.get(1) {
        None => Ok(ExpectationKind::Occurs { event, times: None }),
        Some(w) if w.text == "times" && !w.quoted => {
            let count = words
                .get(2)
                .ok_or_else(|| origin.syntax(n, w.next_column(), "a count", ""))?;
            let k = count
                .text
                .parse()
                .map_err(|_| origin.syntax(n, count.column, "a count", count.text))?;
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
                origin.syntax(n, w.next_column(), "a command, a reply code or tls", "")
            })?;
            let other = atom(origin, n, other_word)?;
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
        Some(w) => Err(origin.syntax(
            n,
            w.column,
            "`times N`, `before X`, `after X` or the end of the line",
            w.text,
        )),
    }
}

/// An event: a verb, a quoted command-line glob, a reply code or `tls`.
fn atom(origin: Origin<'_>, n: usize, word: &Word<'_>) -> Result<Atom, ScenarioError> {
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
        return Err(origin.syntax(n, word.column, "a reply code from 200 to 599", word.text));
    }
    let verb = word.text.to_ascii_uppercase();
    if Verb::of_rule(&verb).is_some() {
        return Ok(Atom::Verb(verb));
    }
    Err(origin.syntax(n, word.column, WHAT, word.text))
}

#[cfg(test)]
mod tests {
    use super::super::lexer::split_words;
    use super::*;

    const AT: Origin<'static> = Origin("t.scn");

    fn expect(line: &str, effects: bool) -> Result<Expected, String> {
        let words = split_words(AT, 1, line, 1).expect("words");
        parse(AT, 1, &words[0], &words[1..], effects).map_err(|e| e.to_string())
    }

    fn conv(line: &str) -> ExpectationKind {
        match expect(line, false) {
            Ok(Expected::Conversation(kind)) => kind,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn every_form_of_expectation_reads() {
        assert_eq!(
            conv("expect STARTTLS before auth"),
            ExpectationKind::Before {
                first: Atom::Verb("STARTTLS".into()),
                later: Atom::Verb("AUTH".into())
            }
        );
        assert_eq!(
            conv("expect QUIT after 535"),
            ExpectationKind::After {
                then: Atom::Verb("QUIT".into()),
                anchor: Atom::Reply(535)
            }
        );
        assert_eq!(
            conv("expect no DATA"),
            ExpectationKind::Never(Atom::Verb("DATA".into()))
        );
        assert_eq!(conv("expect messages 1"), ExpectationKind::Messages(1));
        assert_eq!(
            conv("expect closed by client"),
            ExpectationKind::ClosedBy(Closer::Client)
        );
        assert_eq!(
            conv("expect tls times 2"),
            ExpectationKind::Occurs {
                event: Atom::Tls,
                times: Some(2)
            }
        );
        assert_eq!(
            conv("expect \"MAIL FROM:<*>*\""),
            ExpectationKind::Occurs {
                event: Atom::Line(Pattern::new("MAIL FROM:<*>*")),
                times: None
            }
        );
    }

    #[test]
    fn bad_expectations_name_the_column_and_what_was_expected() {
        let error = |line| expect(line, false).expect_err("refused");
        assert_eq!(
            error("expect"),
            "t.scn:1:8: expected an expectation: `messages N`, `closed by client|server`, `no X`, `X`, `X times N`, `X before Y` or `X after Y`, found the end of the line"
        );
        assert_eq!(
            error("expect 600"),
            r#"t.scn:1:8: expected a reply code from 200 to 599, found "600""#
        );
        assert_eq!(
            error("expect closed"),
            "t.scn:1:15: expected `by client` or `by server`, found the end of the line"
        );
        assert_eq!(
            error("expect no"),
            "t.scn:1:11: expected what must never happen (a command, a reply code or tls), found the end of the line"
        );
        assert_eq!(
            error("expect AUTH before"),
            "t.scn:1:20: expected a command, a reply code or tls, found the end of the line"
        );
        assert_eq!(
            error("expect messages 1 2"),
            r#"t.scn:1:19: expected the end of the line, found "2""#
        );
    }

    #[test]
    fn effects_are_read_only_where_allowed() {
        assert_eq!(
            expect("expect files \"mail/new/*\" 1", true),
            Ok(Expected::Effect(EffectKind::Files {
                glob: Pattern::new("mail/new/*"),
                count: 1
            }))
        );
        assert_eq!(
            expect("expect line \"logs/mail.log\" \"*sent*\"", true),
            Ok(Expected::Effect(EffectKind::LogLine {
                file: "logs/mail.log".into(),
                glob: Pattern::new("*sent*")
            }))
        );
        assert_eq!(
            expect("expect files \"x\"", true),
            Err("t.scn:1:18: expected a number of files, found the end of the line".into())
        );
        // In a server scenario `files` is no verb.
        assert!(
            expect("expect files \"x\" 1", false)
                .unwrap_err()
                .starts_with("t.scn:1:8: expected a command verb (AUTH)")
        );
    }
}
