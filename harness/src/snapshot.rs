//! Stable snapshot text: a transcript with nothing that changes from run to run (no ports, peer
//! addresses or clock times are ever written into the log format), plus the captured envelope.

use crate::server::SessionRecord;
use crate::transcript::Render;

/// The text to snapshot for a set of connections: each transcript in the reference log format
/// (secrets redacted), followed by the failures of its expectations, if any.
pub fn sessions_text(records: &[SessionRecord]) -> String {
    let mut out = String::new();
    for record in records {
        out.push_str(&format!("# connection {}\n", record.transcript.session));
        out.push_str(&record.transcript.to_log(Render::default()));
        if record.failures.is_empty() {
            out.push_str("# expectations: met\n");
        } else {
            for f in &record.failures {
                out.push_str(&format!("# FAILED {f}\n"));
            }
        }
    }
    out
}
