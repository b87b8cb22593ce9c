//! Why a message could not be sent: the step, the server's reply if there was one, whether
//! trying again later can help, and a hint for the administrator.

use std::fmt;

use super::reply::Reply;
use super::step::Step;

/// How a failure should be treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The server refused for good (5xx), or broke the protocol: retrying will not help.
    Permanent,
    /// A 4xx reply, a refused or lost connection, a timeout: retrying later may help.
    Temporary,
    /// The server cannot be used with these settings (certificate, TLS, STARTTLS or the
    /// authentication mechanism not offered, no encryption for the password): the settings or
    /// the server must change. Permanent.
    Configuration,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Permanent => "permanent",
            ErrorKind::Temporary => "temporary",
            ErrorKind::Configuration => "configuration",
        })
    }
}

/// What exactly went wrong; the hint is chosen from it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// The server's reply (in [`SendError::reply`]) was a refusal or not the one expected.
    Reply,
    /// The server's address did not resolve.
    Resolve,
    /// Nothing accepted the connection.
    ConnectionRefused,
    /// The connection could not be made for another reason (no route, network down).
    Unreachable,
    /// The server did not answer in time.
    Timeout,
    /// The server closed the connection, or it broke, in the middle of the conversation.
    ConnectionLost,
    /// The server sent something that is not SMTP.
    Malformed,
    /// `encryption = "starttls"`, but the server does not advertise STARTTLS.
    StartTlsNotOffered,
    /// Authentication is configured, but the server advertises no AUTH at all.
    AuthNotOffered,
    /// The configured mechanism is not among those the server advertises.
    MechanismNotOffered {
        /// What the server offers.
        offered: Vec<String>,
    },
    /// `starttls-opportunistic` found no STARTTLS, and a password would go in clear text.
    ClearTextRefused,
    /// The server's certificate failed verification.
    Certificate(CertificateProblem),
    /// The TLS handshake failed for a reason other than the certificate.
    TlsHandshake,
    /// The `ca_file` cannot be used.
    CaFile,
}

/// Why a certificate was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateProblem {
    /// It has expired.
    Expired,
    /// It is not valid yet.
    NotYetValid,
    /// It is not valid for the server address the appliance connected to.
    NameMismatch {
        /// The names it is valid for (when known).
        presented: Vec<String>,
    },
    /// It is not signed by a trusted authority (this includes self-signed certificates).
    UnknownIssuer,
    /// It has been revoked.
    Revoked,
    /// Another verification failure (bad signature, wrong purpose …).
    Other,
}

/// A failed send.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("sending failed at the {step} step ({}): {detail}", step.description())]
pub struct SendError {
    /// The step that failed.
    pub step: Step,
    /// The server's reply at that step, every line, if it gave one.
    pub reply: Option<Reply>,
    /// Whether retrying can help.
    pub kind: ErrorKind,
    /// What exactly went wrong.
    pub cause: Cause,
    /// A one-line explanation (the reply's text, or the I/O or TLS error).
    pub detail: String,
}

impl SendError {
    /// A failure stated by the server's reply: 4xx is temporary, anything else permanent.
    pub(crate) fn from_reply(step: Step, reply: Reply) -> Self {
        let kind = if reply.is_transient() {
            ErrorKind::Temporary
        } else {
            ErrorKind::Permanent
        };
        let detail = format!("the server answered {}", reply.lines.join(" / "));
        SendError {
            step,
            reply: Some(reply),
            kind,
            cause: Cause::Reply,
            detail,
        }
    }

    /// A failure without a reply.
    pub(crate) fn new(
        step: Step,
        kind: ErrorKind,
        cause: Cause,
        detail: impl Into<String>,
    ) -> Self {
        SendError {
            step,
            reply: None,
            kind,
            cause,
            detail: detail.into(),
        }
    }

    /// Retrying will not help: a 5xx, a protocol violation or a configuration problem.
    pub fn is_permanent(&self) -> bool {
        self.kind != ErrorKind::Temporary
    }

    /// Retrying later may help: a 4xx, a refused or lost connection, a timeout.
    pub fn is_temporary(&self) -> bool {
        self.kind == ErrorKind::Temporary
    }

    /// The reply code, if the server answered.
    pub fn code(&self) -> Option<u16> {
        self.reply.as_ref().map(|r| r.code)
    }

    /// What the administrator should check or change.
    pub fn hint(&self) -> String {
        super::hint::hint(self)
    }
}
