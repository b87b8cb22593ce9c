//! The linear scripts: the server's ([`Step`]: replies sent, client lines awaited) and the
//! client's ([`ClientStep`]: lines sent, replies awaited), and what a rule does ([`Action`]).

use std::time::Duration;

use crate::pattern::Pattern;
use crate::reply::Reply;

/// One step of a server's linear script, with the line it was written on.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Step {
    /// 1-based line in the scenario file.
    pub line: usize,
    /// What the step does.
    pub kind: StepKind,
}

/// What a step of a server's script does.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Send one reply, verbatim.
    Send(Reply),
    /// Send these bytes as they are, reply syntax or not (`raw "…"`).
    Raw(Vec<u8>),
    /// Wait for one client line matching the pattern.
    Expect(Pattern),
    /// Run the server side of a TLS handshake.
    Tls,
    /// Wait before the next step.
    Pause(Duration),
    /// Close the connection.
    Close,
}

/// One step of a client's linear script (`role client`), with the line it was written on.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ClientStep {
    /// 1-based line in the scenario file.
    pub line: usize,
    /// What the step does.
    pub kind: ClientStepKind,
}

/// What a step of a client's script does.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientStepKind {
    /// Send these bytes: a `C:` line with its CRLF, or `raw "…"` as it is.
    Send(Vec<u8>),
    /// Wait for one reply whose last line matches the glob (an `S:` line).
    Expect(Pattern),
    /// Send the message in this file (relative to the scenario's folder), dot-stuffed, then
    /// the final `.` line.
    Message(String),
    /// From now on write one byte at a time with this delay between bytes (`slow 0ms` stops
    /// it).
    Slow(Duration),
    /// Run the client side of a TLS handshake.
    Tls,
    /// Wait before the next step.
    Pause(Duration),
    /// Close the connection.
    Close,
}

/// What a rule (or the script) does in reply.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send this reply.
    Reply(Reply),
    /// Send these bytes as they are (`raw "…"`).
    Raw(Vec<u8>),
    /// Run the server side of a TLS handshake.
    Tls,
    /// Wait this long.
    Pause(Duration),
    /// Close the connection.
    Close,
}
