//! Stable snapshot text: transcripts with nothing that changes from run to run (the peer's
//! port is left out; no clock time is ever written into the log format), with their verdicts.

use crate::transcript::{Render, Transcript};
use crate::verify::ConversationRecord;
use crate::verify::Failure;

/// The text to snapshot for a set of connections: each transcript in the reference log format
/// (secrets redacted), followed by the failures of its expectations, if any.
pub fn sessions_text(records: &[ConversationRecord]) -> String {
    let mut out = String::new();
    for record in records {
        out.push_str(&format!("# connection {}\n", record.transcript.session));
        push_record(&mut out, &record.transcript, &record.failures);
    }
    out
}

/// The text to snapshot for a client run (`role client`): its transcript and verdicts.
pub fn client_text(record: &ConversationRecord) -> String {
    let mut out = String::from("# client\n");
    push_record(&mut out, &record.transcript, &record.failures);
    out
}

fn push_record(out: &mut String, transcript: &Transcript, failures: &[Failure]) {
    out.push_str(&transcript.to_log(Render {
        hide_ports: true,
        ..Render::default()
    }));
    if failures.is_empty() {
        out.push_str("# expectations: met\n");
    }
    for f in failures {
        out.push_str(&format!("# FAILED {f}\n"));
    }
}
