//! The situations the server answers by itself, and the `default SITUATION` blocks that give a
//! scenario's own reply for one.

use crate::reply::Reply;

/// A situation the server answers by itself, whose reply a `default` block can give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Situation {
    /// A command the server does not know (`500`).
    Unrecognized,
    /// A command the server knows but does not offer (`502`).
    NotImplemented,
    /// Arguments that do not parse (`501`).
    Syntax,
    /// A command out of order (`503`): MAIL before HELO, RCPT before MAIL, DATA before RCPT …
    /// (the finer situations below, when given, win for their case).
    Sequence,
    /// MAIL (or AUTH) before HELO/EHLO.
    NeedHelo,
    /// RCPT before MAIL.
    NeedMail,
    /// DATA or BDAT without an accepted recipient (Postfix: `554 … no valid recipients`).
    NeedRcpt,
    /// MAIL inside a transaction.
    NestedMail,
    /// A MAIL or RCPT parameter the EHLO reply did not advertise (`555`).
    Parameter,
    /// A command line over 512 octets (`500`).
    LineTooLong,
    /// The client was silent for the idle timeout (`421`, then the server closes).
    Timeout,
    /// The server is shutting down (`421`).
    Shutdown,
    /// The final reply to an accepted message (`250 … queued as …`).
    Queued,
}

impl Situation {
    /// Every situation, in the order the docs list them.
    pub const ALL: [Situation; 13] = [
        Situation::Unrecognized,
        Situation::NotImplemented,
        Situation::Syntax,
        Situation::Sequence,
        Situation::NeedHelo,
        Situation::NeedMail,
        Situation::NeedRcpt,
        Situation::NestedMail,
        Situation::Parameter,
        Situation::LineTooLong,
        Situation::Timeout,
        Situation::Shutdown,
        Situation::Queued,
    ];

    /// The name a `default` block uses.
    pub fn name(self) -> &'static str {
        match self {
            Situation::Unrecognized => "unrecognized",
            Situation::NotImplemented => "not-implemented",
            Situation::Syntax => "syntax",
            Situation::Sequence => "sequence",
            Situation::NeedHelo => "need-helo",
            Situation::NeedMail => "need-mail",
            Situation::NeedRcpt => "need-rcpt",
            Situation::NestedMail => "nested-mail",
            Situation::Parameter => "parameter",
            Situation::LineTooLong => "line-too-long",
            Situation::Timeout => "timeout",
            Situation::Shutdown => "shutdown",
            Situation::Queued => "queued",
        }
    }

    /// The situation a `default` block names.
    pub fn from_name(name: &str) -> Option<Situation> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// `default SITUATION` with its reply: what the scenario says instead of the built-in text.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DefaultReply {
    /// 1-based line of the `default`.
    pub line: usize,
    /// When it is used.
    pub situation: Situation,
    /// What is sent.
    pub reply: Reply,
}
