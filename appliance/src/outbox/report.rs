//! The outbox for people and machines: `appliance outbox status` (text or JSON), the
//! summary in the support bundle, and one line per delivery attempt.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::deliver::{Attempt, AttemptResult, when};
use super::{EntryStatus, State, Status};
use crate::fsutil::{self, unix_ms};

impl Status {
    /// `outbox: 1 pending, 0 in flight, 2 sent, 1 failed`.
    pub fn summary(&self) -> String {
        format!(
            "outbox: {} pending, {} in flight, {} sent, {} failed",
            self.pending.len(),
            self.in_flight.len(),
            self.sent.len(),
            self.failed.len()
        )
    }

    /// The summary, then every entry by state (pending, in flight, failed, sent), each with
    /// its recipients, what it is, its attempts and its last error or verdict.
    pub fn text(&self, now: SystemTime) -> String {
        let mut out = self.summary();
        out.push('\n');
        for state in [State::Pending, State::InFlight, State::Failed, State::Sent] {
            for entry in self.list(state) {
                out.push_str(&entry_text(entry, now));
            }
        }
        out
    }

    /// Every entry as JSON: `{"summary": {...}, "entries": [...]}`.
    pub fn json(&self) -> Value {
        let entries: Vec<Value> = State::ALL
            .iter()
            .flat_map(|&s| self.list(s).iter().map(entry_json))
            .collect();
        json!({
            "summary": {
                "pending": self.pending.len(),
                "in_flight": self.in_flight.len(),
                "sent": self.sent.len(),
                "failed": self.failed.len(),
            },
            "entries": entries,
        })
    }
}

fn entry_text(e: &EntryStatus, now: SystemTime) -> String {
    let state = format!("{:<10}", e.state.name());
    let Some(m) = &e.meta else {
        return format!("{state} {}  (the file cannot be read)\n", e.file);
    };
    let mut first = format!("{state} {}  to {}", m.id, m.to.join(", "));
    if let Some(label) = &m.label {
        first.push_str(&format!("  ({label})"));
    }
    if let (State::InFlight, Some((_, owner))) = (e.state, e.file.split_once('@')) {
        let alive = match e.owner_alive {
            Some(true) => "alive",
            _ => "gone; recovered at the next pass",
        };
        first.push_str(&format!("  [owner {owner}, {alive}]"));
    }
    let mut second = format!("attempts {}", m.attempts);
    match e.state {
        State::Pending => {
            second.push_str(&format!("; next attempt {}", when(m.next_attempt_ms, now)));
            if let Some(err) = &m.last_error {
                second.push_str(&format!("; last error: {}", err.summary()));
            }
        }
        State::Failed => {
            if let Some(reason) = &m.failed {
                second.push_str(&format!("; {reason}"));
            } else if let Some(err) = &m.last_error {
                second.push_str(&format!("; last error: {}", err.summary()));
            }
        }
        State::Sent => {
            if let Some(a) = &m.accepted {
                second.push_str(&format!(
                    "; accepted {}: {}",
                    fsutil::rfc3339(a.at_ms),
                    a.reply.join(" / ")
                ));
            }
        }
        State::InFlight => {
            if let Some(err) = &m.last_error {
                second.push_str(&format!("; last error: {}", err.summary()));
            }
        }
    }
    format!("{first}\n{:<10} {second}\n", "")
}

fn entry_json(e: &EntryStatus) -> Value {
    let mut v = json!({
        "state": e.state.dir_name(),
        "file": e.file,
    });
    if let Some(m) = &e.meta {
        v["id"] = json!(m.id);
        v["from"] = json!(m.from);
        v["to"] = json!(m.to);
        v["message_id"] = json!(m.message_id);
        v["label"] = json!(m.label);
        v["attempts"] = json!(m.attempts);
        v["created"] = json!(fsutil::rfc3339(m.created_ms));
        v["next_attempt"] = json!(fsutil::rfc3339(m.next_attempt_ms));
        v["last_error"] = json!(m.last_error);
        v["failed"] = json!(m.failed);
        v["accepted"] = json!(m.accepted);
    }
    if let Some(alive) = e.owner_alive {
        v["owner_alive"] = json!(alive);
    }
    v
}

impl Attempt {
    /// One line: `sent ID to ADDR: 250 …`, `deferred ID (attempt 2): RCPT 451 …; next attempt
    /// in 1m0s (…)`, `failed ID: permanent failure: RCPT 550 …`.
    pub fn line(&self, now: SystemTime) -> String {
        let to = self.to.join(", ");
        let mut line = match &self.result {
            AttemptResult::Sent { reply } => {
                format!("sent {} to {to}: {}", self.id, reply.lines.join(" / "))
            }
            AttemptResult::Deferred {
                error,
                next_attempt_ms,
            } => format!(
                "deferred {} to {to} (attempt {}): {}; next attempt {}",
                self.id,
                self.attempts,
                super::AttemptError::from_send_error(error, unix_ms(now)).summary(),
                when(*next_attempt_ms, now)
            ),
            AttemptResult::Failed { reason, .. } => {
                format!(
                    "failed {} to {to} (attempt {}): {reason}",
                    self.id, self.attempts
                )
            }
        };
        if let Some(e) = &self.log_error {
            line.push_str(&format!(" (warning: {e})"));
        }
        line
    }
}
