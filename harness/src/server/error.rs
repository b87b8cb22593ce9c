//! What can go wrong with a fake server: it cannot start, a wait runs out of time, the
//! connections broke the scenario's expectations.

use std::time::Duration;

use crate::certs::CertError;
use crate::verify::ConversationRecord;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The scenario's certificate could not be loaded.
    #[error("cannot load the certificate for the scenario")]
    Certificate(#[from] CertError),
}

/// A wait on the server ran out of time.
#[derive(Debug, thiserror::Error)]
#[error("waited {waited:?} for {wanted} {what} but only {got} arrived")]
pub struct WaitError {
    /// What was awaited (`messages`, `connections`).
    pub what: &'static str,
    /// How many were wanted.
    pub wanted: usize,
    /// How many there were.
    pub got: usize,
    /// How long the wait lasted.
    pub waited: Duration,
}

/// Connections broke the scenario's expectations.
#[derive(Debug, thiserror::Error)]
#[error("{}", report(.scenario, .sessions, *.still_open))]
pub struct VerificationError {
    /// The scenario's name.
    pub scenario: String,
    /// The failing connections (an empty list: no connection has closed yet).
    pub sessions: Vec<ConversationRecord>,
    /// Connections still open when verifying (they are not judged until they close).
    pub still_open: usize,
}

fn report(scenario: &str, sessions: &[ConversationRecord], still_open: usize) -> String {
    if sessions.is_empty() && still_open > 0 {
        return format!(
            "scenario {scenario:?}: expectations were set but no connection has closed yet ({still_open} still open: call wait_for_sessions before verifying)"
        );
    }
    if sessions.is_empty() {
        return format!("scenario {scenario:?}: expectations were set but no connection was made");
    }
    let mut out = format!(
        "scenario {scenario:?}: {} connection(s) broke expectations",
        sessions.len()
    );
    for s in sessions {
        out.push_str(&format!("\n\nconnection {}:", s.transcript.session));
        for f in &s.failures {
            out.push_str(&format!("\n  - {f}"));
        }
        out.push_str("\ntranscript:\n");
        out.push_str(&s.transcript.to_string());
    }
    out
}
