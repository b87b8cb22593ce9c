//! Scenario text made from a conversation (a list of [`Entry`]s: server lines, client lines,
//! TLS started), as `import` and `record` write it:
//!
//! - server lines become `S:` lines, verbatim (multi-line replies byte for byte; a line with
//!   trailing white space or control characters is quoted, see [`reply_line_text`]); a server
//!   line that was cut so badly that it is no reply line any more is repaired (its code taken
//!   from its neighbours) with a comment saying so;
//! - client lines become `C:` globs: the verb is kept, arguments that vary are `*`
//!   (`EHLO*`, `MAIL FROM:<*>*`, `RCPT TO:<*>*`, `AUTH LOGIN*`); AUTH payloads and every line
//!   answering a `334` become `C: *`, so credentials never reach the scenario;
//! - TLS started becomes `tls` (and `certificate valid`), or `implicit-tls` before the greeting.
//!
//! The text made is loaded back before it is returned: it always passes `smtp-harness check`.
//! How each line is written (quoting, repairs, globs) is in `lines.rs`.

mod lines;

use std::fmt::Write as _;

use super::ScenarioError;
pub use lines::reply_line_text;
use lines::{REPAIRED_HOST, client_glob, is_mechanism, repair_run};

/// One thing that happened in a conversation to render (imported or recorded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A line the server sent (without CRLF).
    Server(String),
    /// A line the client sent (without CRLF).
    Client(String),
    /// The TLS handshake completed.
    TlsStarted,
}

/// An [`Item`] with the 1-based input line it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line of the input (or event of the recording).
    pub line: usize,
    /// What happened.
    pub item: Item,
}

impl Entry {
    /// What happened at `line`.
    pub fn new(line: usize, item: Item) -> Self {
        Entry { line, item }
    }
}

/// Why a conversation could not be made into a scenario.
#[derive(Debug)]
pub enum RenderError {
    /// The conversation holds no server line.
    NoServerLine {
        /// The conversation (a file, an upstream).
        origin: String,
    },
    /// A server line is no reply line, and no neighbour has a code to repair it with.
    Unrepairable {
        /// The conversation.
        origin: String,
        /// Its line (or event).
        line: usize,
        /// The line, quoted.
        quoted: String,
    },
    /// The text made does not load (a bug in the renderer).
    DoesNotLoad {
        /// The conversation.
        origin: String,
        /// Why the text made does not load.
        error: ScenarioError,
    },
}

impl RenderError {
    /// The conversation the error is about.
    pub fn origin(&self) -> &str {
        match self {
            RenderError::NoServerLine { origin }
            | RenderError::Unrepairable { origin, .. }
            | RenderError::DoesNotLoad { origin, .. } => origin,
        }
    }

    /// The line of the conversation the error is about, if it is about one.
    pub fn line(&self) -> Option<usize> {
        match self {
            RenderError::Unrepairable { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// What is wrong, without the origin and line.
    pub fn message(&self) -> String {
        match self {
            RenderError::NoServerLine { .. } => {
                "no server line found: there is no conversation to import".to_owned()
            }
            RenderError::Unrepairable { quoted, .. } => format!(
                "a server line that is no reply and has no neighbour to take a code from: {quoted}"
            ),
            RenderError::DoesNotLoad { error, .. } => {
                // Positions in this error are the made scenario's, not the input's: say so.
                format!(
                    "the scenario made from it does not load ({error}); please report this input"
                )
            }
        }
    }
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line() {
            Some(line) => write!(f, "{}:{line}: {}", self.origin(), self.message()),
            None => write!(f, "{}: {}", self.origin(), self.message()),
        }
    }
}

impl std::error::Error for RenderError {}

/// What a rendered scenario starts with, and the heading of the expectations it ends with.
#[derive(Clone, Debug)]
pub struct Preamble {
    /// Comment lines (without `# `) at the top.
    pub comments: Vec<String>,
    /// The scenario's `name`.
    pub name: String,
    /// The comment above the expectations about the client (without `# `).
    pub client_heading: String,
}

/// Makes the scenario text from a conversation, under `preamble`: the renderer shared by
/// `import` and `record`. `source` names the conversation in errors.
///
/// # Errors
/// [`RenderError`] when there is no server line, or one cannot be repaired.
pub fn render_scenario(
    entries: &[Entry],
    source: &str,
    preamble: &Preamble,
) -> Result<String, RenderError> {
    if !entries.iter().any(|e| matches!(e.item, Item::Server(_))) {
        return Err(RenderError::NoServerLine {
            origin: source.to_owned(),
        });
    }
    let tls = entries.iter().any(|e| e.item == Item::TlsStarted);
    // TLS before the greeting: implicit TLS (port 465), a setting rather than a step.
    let implicit_tls = entries.first().is_some_and(|e| e.item == Item::TlsStarted);
    let entries = if implicit_tls { &entries[1..] } else { entries };
    let mut out = String::new();
    for comment in &preamble.comments {
        let _ = writeln!(out, "# {comment}");
    }
    let _ = writeln!(out, "name {}", preamble.name.replace('\n', " "));
    if tls {
        out.push_str("certificate valid\n");
    }
    if implicit_tls {
        out.push_str("implicit-tls\n");
    }
    out.push('\n');

    if matches!(
        entries.first(),
        Some(Entry {
            item: Item::Client(_),
            ..
        })
    ) {
        // Debug output often starts after the greeting (smtplib logs nothing before its first
        // command when the level is set after connecting).
        out.push_str(
            "# added: the input starts after the server's greeting; a scenario starts with one\n",
        );
        let _ = writeln!(out, "S: 220 {REPAIRED_HOST} ESMTP");
    }
    let mut last_code: Option<u16> = None;
    let mut in_sasl = false;
    let mut in_data = false;
    let mut advertised_auth = false;
    let mut starttls_seen = false;
    let mut auth_seen = false;
    let mut auth_before_starttls = false;
    let mut quit_after: Option<u16> = None;
    let mut last_verb = String::new();
    let mut i = 0;
    while i < entries.len() {
        match &entries[i].item {
            Item::TlsStarted => {
                out.push_str("tls\n");
                advertised_auth = false;
                i += 1;
            }
            Item::Client(line) => {
                if in_data {
                    // Message content between 354 and the final dot: the server reads it
                    // itself before the next reply.
                    if line == "." {
                        in_data = false;
                    }
                    i += 1;
                    continue;
                }
                let verb = line
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                last_verb.clone_from(&verb);
                let glob = if in_sasl || last_code == Some(334) {
                    "*".to_owned()
                } else {
                    client_glob(line)
                };
                if verb == "QUIT" && !in_sasl && quit_after.is_none() {
                    quit_after = last_code.filter(|c| *c >= 400);
                }
                if verb == "STARTTLS" && !in_sasl {
                    starttls_seen = true;
                }
                if verb == "AUTH" && !in_sasl {
                    if !auth_seen && !starttls_seen {
                        auth_before_starttls = true;
                    }
                    auth_seen = true;
                    in_sasl = true;
                }
                let _ = writeln!(out, "C: {glob}");
                i += 1;
            }
            Item::Server(_) => {
                // A reply after 354 means the content is over (curl does not show its dot).
                in_data = false;
                // One run of consecutive server lines: one or more replies.
                let start = i;
                while i < entries.len() && matches!(entries[i].item, Item::Server(_)) {
                    i += 1;
                }
                let run: Vec<(usize, &str)> = entries[start..i]
                    .iter()
                    .map(|e| match &e.item {
                        Item::Server(s) => (e.line, s.as_str()),
                        _ => unreachable!("the run holds server lines only"),
                    })
                    .collect();
                let lines = repair_run(&run, source)?;
                // An EHLO list without the AUTH the client then used: add it, so that clients
                // that only use advertised mechanisms take the same path.
                let next_auth = entries[i..]
                    .iter()
                    .find_map(|e| match &e.item {
                        Item::Client(c) => Some(c.as_str()),
                        _ => None,
                    })
                    .filter(|c| {
                        c.split_whitespace()
                            .next()
                            .is_some_and(|v| v.eq_ignore_ascii_case("AUTH"))
                    })
                    .and_then(|c| c.split_whitespace().nth(1))
                    .filter(|m| is_mechanism(m))
                    .map(str::to_ascii_uppercase);
                for (_, l, _) in &lines {
                    if l.len() > 4 && l[4..].to_ascii_uppercase().starts_with("AUTH") {
                        advertised_auth = true;
                    }
                }
                let ehlo_reply = last_verb == "EHLO"
                    && lines.len() > 1
                    && lines.iter().all(|(_, l, _)| l.starts_with("250"));
                let mut added_auth = None;
                if let (true, false, Some(mech)) = (ehlo_reply, advertised_auth, &next_auth) {
                    added_auth = Some(format!("250-AUTH {mech}"));
                }
                let count = lines.len();
                for (k, (line_no, text, repaired)) in lines.iter().enumerate() {
                    if let Some(original) = repaired {
                        let _ = writeln!(
                            out,
                            "# line {line_no} of the input, {}, is no reply line (it was cut): repaired, its code taken from its neighbours",
                            crate::transcript::quote(original.as_bytes())
                        );
                    }
                    if let (true, Some(auth)) = (k + 1 == count, &added_auth) {
                        let _ = writeln!(
                            out,
                            "# added: the client sent AUTH {} although this list did not offer it; clients that only use advertised mechanisms need it",
                            next_auth.as_deref().unwrap_or("")
                        );
                        let _ = writeln!(out, "S: {auth}");
                    }
                    let _ = writeln!(out, "S: {}", reply_line_text(text));
                }
                let last = &lines[count - 1].1;
                let code: u16 = last[..3].parse().unwrap_or(0);
                last_code = Some(code);
                if in_sasl && code != 334 {
                    in_sasl = false;
                }
                if code == 354 {
                    in_data = true;
                }
            }
        }
    }
    let mut expectations = Vec::new();
    if starttls_seen && auth_seen && !auth_before_starttls {
        expectations.push("expect STARTTLS before AUTH".to_owned());
    }
    if let Some(code) = quit_after {
        expectations.push(format!("expect QUIT after {code}"));
    }
    if !expectations.is_empty() {
        let _ = writeln!(out, "\n# {}", preamble.client_heading);
        for e in expectations {
            let _ = writeln!(out, "{e}");
        }
    }

    // Positions in this error are the made scenario's, not the input's: say so.
    super::ServerScenario::parse(&out, "the made scenario").map_err(|error| {
        RenderError::DoesNotLoad {
            origin: source.to_owned(),
            error,
        }
    })?;
    Ok(out)
}

/// For formats that log no TLS event: a `220` answering `STARTTLS` is followed by the handshake.
pub(crate) fn infer_tls(entries: Vec<Entry>) -> Vec<Entry> {
    let mut out = Vec::with_capacity(entries.len() + 1);
    let mut after_starttls = false;
    let mut iter = entries.into_iter().peekable();
    while let Some(entry) = iter.next() {
        let line = entry.line;
        let ends_reply = match &entry.item {
            Item::Server(s) => {
                let done = s.as_bytes().get(3) != Some(&b'-');
                after_starttls && done && s.starts_with("220")
            }
            _ => false,
        };
        match &entry.item {
            Item::Client(c) => after_starttls = c.trim().eq_ignore_ascii_case("STARTTLS"),
            Item::TlsStarted => after_starttls = false,
            Item::Server(_) => {}
        }
        out.push(entry);
        if ends_reply
            && !matches!(
                iter.peek(),
                Some(Entry {
                    item: Item::TlsStarted,
                    ..
                })
            )
        {
            out.push(Entry::new(line, Item::TlsStarted));
            after_starttls = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(items: Vec<Item>) -> Vec<Entry> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| Entry::new(i + 1, item))
            .collect()
    }

    fn preamble() -> Preamble {
        Preamble {
            comments: vec!["Made in a test.".into()],
            name: "test\nconversation".into(),
            client_heading: "What the client did.".into(),
        }
    }

    #[test]
    fn a_conversation_renders_as_a_scenario_that_loads() {
        let conversation = entries(vec![
            Item::Server("220 mx ESMTP".into()),
            Item::Client("EHLO me.example".into()),
            Item::Server("250-mx".into()),
            Item::Server("250 STARTTLS".into()),
            Item::Client("STARTTLS".into()),
            Item::Server("220 go".into()),
            Item::TlsStarted,
            Item::Client("AUTH PLAIN AGFsaWNlAHMzY3JldA==".into()),
            Item::Server("535 5.7.8 no ".into()),
            Item::Client("QUIT".into()),
            Item::Server("221 bye".into()),
        ]);
        let text = render_scenario(&conversation, "t.log", &preamble()).expect("renders");
        assert_eq!(
            text,
            "# Made in a test.\nname test conversation\ncertificate valid\n\n\
             S: 220 mx ESMTP\nC: EHLO*\nS: 250-mx\nS: 250 STARTTLS\n\
             C: STARTTLS\nS: 220 go\ntls\nC: AUTH PLAIN*\nS: \"535 5.7.8 no \"\nC: QUIT\nS: 221 bye\n\
             \n# What the client did.\nexpect STARTTLS before AUTH\nexpect QUIT after 535\n"
        );
    }

    #[test]
    fn tls_before_the_greeting_is_implicit_tls_and_no_server_line_is_an_error() {
        let implicit = entries(vec![Item::TlsStarted, Item::Server("220 hi".into())]);
        let text = render_scenario(&implicit, "t.log", &preamble()).expect("renders");
        assert!(text.contains("certificate valid\nimplicit-tls\n"), "{text}");
        let silent = entries(vec![Item::Client("EHLO x".into())]);
        let error = render_scenario(&silent, "t.log", &preamble()).expect_err("refused");
        assert_eq!(
            error.to_string(),
            "t.log: no server line found: there is no conversation to import"
        );
    }
}
