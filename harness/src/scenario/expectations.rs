//! Expectations: what a connection's transcript must show (`expect STARTTLS before AUTH`), and,
//! for a client scenario, what the receiver must have done (`expect files …`, `expect line …`).

use crate::pattern::Pattern;

/// Something the client must (or must not) have done in a connection.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Expectation {
    /// 1-based line of the `expect`.
    pub line: usize,
    /// The expectation as written, for reports.
    pub text: String,
    /// What it checks.
    pub kind: ExpectationKind,
}

/// The kinds of expectation.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectationKind {
    /// The event happens at least once, or exactly `times` times.
    Occurs {
        /// What must happen.
        event: Atom,
        /// Exact count, if given.
        times: Option<u32>,
    },
    /// The event never happens.
    Never(Atom),
    /// If `later` happens, `first` happened before its first occurrence.
    Before {
        /// What must come first.
        first: Atom,
        /// What it must precede.
        later: Atom,
    },
    /// `anchor` happens, and `then` happens after it.
    After {
        /// What must follow.
        then: Atom,
        /// What it must follow.
        anchor: Atom,
    },
    /// Exactly this many messages were accepted in the connection.
    Messages(u32),
    /// The connection was closed by this side.
    ClosedBy(crate::transcript::Closer),
}

/// An event an expectation speaks of.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Atom {
    /// A TLS session started.
    Tls,
    /// The server sent a reply with this code.
    Reply(u16),
    /// The client sent a command with this verb.
    Verb(String),
    /// The client sent a command line matching this glob.
    Line(Pattern),
}

/// Client role: something the receiver must have done, looked for in its folder after the
/// conversation (`expect files "GLOB" N`, `expect line "FILE" "GLOB"`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Effect {
    /// 1-based line of the `expect`.
    pub line: usize,
    /// The expectation as written, for reports.
    pub text: String,
    /// What it checks.
    pub kind: EffectKind,
}

/// The kinds of effect on the receiver's side.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectKind {
    /// Exactly `count` files under the effects folder whose path (relative, `/`-separated)
    /// matches `glob`.
    Files {
        /// Glob over relative paths, e.g. `mail/reply/new/*`.
        glob: Pattern,
        /// How many such files there must be.
        count: u32,
    },
    /// Some line of `file` (relative to the effects folder, or a glob over such paths)
    /// matches `glob`.
    LogLine {
        /// The file, e.g. `logs/mail.log`.
        file: String,
        /// Glob one of its lines must match.
        glob: Pattern,
    },
}
