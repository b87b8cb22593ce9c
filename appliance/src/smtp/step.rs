//! The steps of an SMTP conversation, in order; an error names the step it happened in.

use std::fmt;

use serde::Serialize;

/// A step of the conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "&'static str")]
pub enum Step {
    /// Resolving the address and opening the TCP connection.
    Connect,
    /// The server's first reply (`220`).
    Greeting,
    /// `EHLO` (or `HELO` when the server refuses EHLO).
    Ehlo,
    /// The `STARTTLS` command, and whether the server offers it at all.
    StartTls,
    /// The TLS handshake (after STARTTLS, or at once for implicit TLS).
    TlsHandshake,
    /// Verifying the server's certificate during the handshake.
    Certificate,
    /// `AUTH` and its exchange.
    Auth,
    /// `MAIL FROM`.
    Mail,
    /// `RCPT TO`.
    Rcpt,
    /// `DATA`, the content, and the reply after the final dot.
    Data,
    /// `QUIT`.
    Quit,
}

impl Step {
    /// The step's short name, as printed and in JSON: `AUTH`, `TLS_HANDSHAKE`.
    pub fn name(self) -> &'static str {
        match self {
            Step::Connect => "CONNECT",
            Step::Greeting => "GREETING",
            Step::Ehlo => "EHLO",
            Step::StartTls => "STARTTLS",
            Step::TlsHandshake => "TLS_HANDSHAKE",
            Step::Certificate => "CERTIFICATE",
            Step::Auth => "AUTH",
            Step::Mail => "MAIL",
            Step::Rcpt => "RCPT",
            Step::Data => "DATA",
            Step::Quit => "QUIT",
        }
    }

    /// What the step does, for people: `authentication`.
    pub fn description(self) -> &'static str {
        match self {
            Step::Connect => "connecting to the server",
            Step::Greeting => "the server's greeting",
            Step::Ehlo => "introducing the appliance with EHLO/HELO",
            Step::StartTls => "starting encryption with STARTTLS",
            Step::TlsHandshake => "the TLS handshake",
            Step::Certificate => "verifying the server's certificate",
            Step::Auth => "authentication",
            Step::Mail => "the sender, MAIL FROM",
            Step::Rcpt => "the recipient, RCPT TO",
            Step::Data => "sending the message, DATA",
            Step::Quit => "closing the session, QUIT",
        }
    }
}

impl From<Step> for &'static str {
    fn from(step: Step) -> Self {
        step.name()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
