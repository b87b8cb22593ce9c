//! Delivery passes: recover orphans, take the due entries, claim each, send it, record what
//! happened.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::entry::{Acceptance, AttemptError, Entry, EntryId};
use super::owner::Owner;
use super::{Outbox, Recovered, State, list_names};
use crate::convlog::{ConversationLog, LogError};
use crate::fsutil::{self, from_unix_ms, unix_ms};
use crate::settings::EmailSettings;
use crate::shutdown::Shutdown;
use crate::smtp::{self, Cause, Envelope, Reply, SendError, Step};

/// When to try again, and when to give up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failed attempt; it doubles after each further one.
    pub base: Duration,
    /// The longest wait between attempts.
    pub cap: Duration,
    /// Give up (failed) after this many attempts.
    pub max_attempts: u32,
    /// Give up (failed) when a temporary failure happens this long after the entry was queued.
    pub max_age: Duration,
}

impl Default for RetryPolicy {
    /// 30 s, 1 min, 2 min … capped at 1 h; give up after 30 attempts or 3 days.
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(3600),
            max_attempts: 30,
            max_age: Duration::from_secs(3 * 86400),
        }
    }
}

impl RetryPolicy {
    /// The wait after `attempts` failed attempts (1 or more): `base × 2^(attempts-1)`, at most
    /// `cap`.
    pub fn delay(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(31);
        self.base
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.cap)
            .min(self.cap)
    }
}

/// What happened to one entry in a pass.
#[derive(Debug)]
pub enum AttemptResult {
    /// The server accepted it; it is in `sent/`.
    Sent {
        /// The server's reply to the final dot.
        reply: Reply,
    },
    /// A temporary failure: it is pending again.
    Deferred {
        /// What went wrong.
        error: SendError,
        /// Not before this time (milliseconds since the Unix epoch).
        next_attempt_ms: u64,
    },
    /// It failed for good; it is in `failed/`.
    Failed {
        /// What went wrong, if it was a send error.
        error: SendError,
        /// The verdict recorded in the entry.
        reason: String,
    },
}

/// One entry's attempt.
#[derive(Debug)]
pub struct Attempt {
    /// The entry.
    pub id: EntryId,
    /// Its recipients.
    pub to: Vec<String>,
    /// Attempts made, this one included.
    pub attempts: u32,
    /// What happened.
    pub result: AttemptResult,
    /// The conversation could not be written to the log (a warning).
    pub log_error: Option<LogError>,
}

/// What a pass did.
#[derive(Debug, Default)]
pub struct PassReport {
    /// Orphans put back by recovery at the start of the pass.
    pub recovered: Recovered,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
    /// The pass stopped early because the server could not be reached; the remaining due
    /// entries wait for the next pass, not before this time (milliseconds since the epoch).
    pub suspended_until_ms: Option<u64>,
    /// Due entries not tried because of the suspension, or because the deliverer was told to
    /// stop.
    pub skipped: usize,
}

impl PassReport {
    /// Entries accepted in this pass.
    pub fn sent(&self) -> usize {
        self.count(|r| matches!(r, AttemptResult::Sent { .. }))
    }

    /// Entries deferred in this pass.
    pub fn deferred(&self) -> usize {
        self.count(|r| matches!(r, AttemptResult::Deferred { .. }))
    }

    /// Entries that failed for good in this pass.
    pub fn failed(&self) -> usize {
        self.count(|r| matches!(r, AttemptResult::Failed { .. }))
    }

    fn count(&self, f: impl Fn(&AttemptResult) -> bool) -> usize {
        self.attempts.iter().filter(|a| f(&a.result)).count()
    }
}

/// A delivering process: it holds an owner lock for its lifetime and runs passes over the
/// outbox. Several may run at once (other processes, or the CLI beside a daemon); the claim
/// rename keeps them from sending the same entry.
#[derive(Debug)]
pub struct Deliverer {
    outbox: Outbox,
    owner: Owner,
    policy: RetryPolicy,
    log: ConversationLog,
    record_delay: Duration,
    shutdown: Shutdown,
}

/// Failures that say the server cannot be reached at all (rather than refusing this message).
fn server_unreachable(e: &SendError) -> bool {
    e.is_temporary()
        && matches!(e.step, Step::Connect | Step::Greeting)
        && matches!(
            e.cause,
            Cause::ConnectionRefused
                | Cause::Unreachable
                | Cause::Resolve
                | Cause::Timeout
                | Cause::ConnectionLost
                | Cause::Reply
        )
}

impl Deliverer {
    /// A deliverer for `outbox`, logging conversations to `log`.
    ///
    /// # Errors
    /// When the owner lock cannot be created.
    pub fn new(outbox: Outbox, log: ConversationLog, policy: RetryPolicy) -> io::Result<Self> {
        let owner = outbox.acquire_owner()?;
        Ok(Deliverer {
            outbox,
            owner,
            policy,
            log,
            record_delay: Duration::ZERO,
            shutdown: Shutdown::never(),
        })
    }

    /// For fault-injection tests only: waits this long between reading the server's final
    /// `250` and recording it, widening the window in which a killed deliverer leaves an
    /// accepted message in flight (it is then sent again after recovery).
    #[doc(hidden)]
    pub fn set_record_delay(&mut self, delay: Duration) {
        self.record_delay = delay;
    }

    /// Stops passes when `shutdown` comes: a pass stops before its next entry (the one being
    /// sent is finished and recorded first). Without it, a pass runs to its end.
    pub fn set_shutdown(&mut self, shutdown: Shutdown) {
        self.shutdown = shutdown;
    }

    /// The outbox.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// One pass: recovers orphans, then sends every entry that is due (oldest first), one at a
    /// time, calling `on_attempt` after each. Stops early when the server cannot be reached
    /// (the first such entry is deferred; the others are left for the next pass).
    ///
    /// # Errors
    /// Only when the outbox itself cannot be read or written (a send failure is an attempt
    /// result). If the acceptance of a message cannot be recorded, the pass stops with that
    /// error and the entry stays in flight.
    pub async fn pass(
        &self,
        email: &EmailSettings,
        on_attempt: &mut dyn FnMut(&Attempt),
    ) -> io::Result<PassReport> {
        let mut report = PassReport {
            recovered: self.outbox.recover(Some(self.owner.token()))?,
            ..PassReport::default()
        };
        let due = self.due(unix_ms(SystemTime::now()))?;
        let mut remaining = due.len();
        for id in due {
            if self.shutdown.is_shutdown() {
                report.skipped = remaining;
                break;
            }
            remaining -= 1;
            let Some(attempt) = self.attempt(email, &id).await? else {
                continue;
            };
            on_attempt(&attempt);
            let stop = match &attempt.result {
                AttemptResult::Deferred {
                    error,
                    next_attempt_ms,
                } if server_unreachable(error) => Some(*next_attempt_ms),
                _ => None,
            };
            report.attempts.push(attempt);
            if let Some(until) = stop {
                report.suspended_until_ms = Some(until);
                report.skipped = remaining;
                break;
            }
        }
        Ok(report)
    }

    /// The ids of the pending entries due at `now_ms`, oldest due first.
    fn due(&self, now_ms: u64) -> io::Result<Vec<EntryId>> {
        let dir = self.outbox.dir(State::Pending);
        let mut due = Vec::new();
        for name in list_names(&dir)? {
            let Some(id) = EntryId::parse(&name) else {
                continue;
            };
            match Entry::read(&dir.join(&name)) {
                Ok(entry) if entry.meta.next_attempt_ms <= now_ms => {
                    due.push((entry.meta.next_attempt_ms, id));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {} // claimed meanwhile
                Err(_) => due.push((0, id)), // damaged: claimed and failed below
            }
        }
        due.sort();
        Ok(due.into_iter().map(|(_, id)| id).collect())
    }

    fn in_flight_path(&self, id: &EntryId) -> PathBuf {
        self.outbox
            .dir(State::InFlight)
            .join(format!("{id}@{}", self.owner.token()))
    }

    /// Claims, sends and records one entry; `None` if another process claimed it first or it
    /// is no longer due.
    async fn attempt(&self, email: &EmailSettings, id: &EntryId) -> io::Result<Option<Attempt>> {
        let pending = self.outbox.dir(State::Pending).join(id.as_str());
        let claimed = self.in_flight_path(id);
        match fs::rename(&pending, &claimed) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut entry = match Entry::read(&claimed) {
            Ok(entry) => entry,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                // A damaged file cannot be sent; keep it for people to look at.
                let target = self.outbox.dir(State::Failed).join(id.as_str());
                fs::rename(&claimed, &target)?;
                fsutil::sync_dir(&self.outbox.dir(State::Failed))?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        if entry.meta.next_attempt_ms > unix_ms(SystemTime::now()) {
            // Another deliverer tried it after we listed it: not due any more.
            fs::rename(&claimed, &pending)?;
            return Ok(None);
        }
        let envelope = match Envelope::new(entry.meta.from.clone(), entry.meta.to.clone()) {
            Ok(envelope) => envelope,
            Err(e) => {
                let reason = format!("the envelope is not valid: {e}");
                let error = SendError::new(
                    Step::Mail,
                    smtp::ErrorKind::Permanent,
                    Cause::Malformed,
                    reason.clone(),
                );
                return self.fail(entry, &claimed, error, reason).map(Some);
            }
        };

        // The acceptance is recorded the moment the final 250 has been read.
        let sent_dir = self.outbox.dir(State::Sent);
        let in_flight_dir = self.outbox.dir(State::InFlight);
        let sent_path = sent_dir.join(id.as_str());
        let record_delay = self.record_delay;
        let mut recorded: Option<io::Result<()>> = None;
        let outcome = smtp::send_logged_with(
            email,
            &envelope,
            &entry.message,
            &self.log,
            &mut |_reply: &Reply| {
                if !record_delay.is_zero() {
                    std::thread::sleep(record_delay);
                }
                recorded = Some(
                    fs::rename(&claimed, &sent_path)
                        .and_then(|()| fsutil::sync_dir(&sent_dir))
                        .and_then(|()| fsutil::sync_dir(&in_flight_dir)),
                );
            },
        )
        .await;
        let now_ms = unix_ms(SystemTime::now());
        entry.meta.attempts += 1;
        let attempts = entry.meta.attempts;
        let result = match outcome.result {
            Ok(delivered) => {
                if !matches!(recorded, Some(Ok(()))) {
                    // Once more (the rename may have been done and only a sync failed); if the
                    // acceptance cannot be recorded the pass must stop: the entry stays in
                    // flight and would be sent again after recovery.
                    if fs::symlink_metadata(&claimed).is_ok() {
                        fs::rename(&claimed, &sent_path)?;
                    }
                    fsutil::sync_dir(&sent_dir)?;
                    fsutil::sync_dir(&in_flight_dir)?;
                }
                entry.meta.accepted = Some(Acceptance::new(&delivered.reply, now_ms));
                entry.meta.next_attempt_ms = now_ms;
                // Adds the reply and time to the record; the rename above already made it.
                let tmp = self.outbox.tmp(&format!("{id}@{}", self.owner.token()));
                let _ = fsutil::replace_synced(&sent_path, &tmp, &entry.to_bytes(), 0o600);
                AttemptResult::Sent {
                    reply: delivered.reply,
                }
            }
            Err(error) if error.is_temporary() => {
                entry.meta.last_error = Some(AttemptError::from_send_error(&error, now_ms));
                let age = Duration::from_millis(now_ms.saturating_sub(entry.meta.created_ms));
                if attempts >= self.policy.max_attempts || age >= self.policy.max_age {
                    let reason = format!(
                        "gave up after {attempts} attempt(s) over {}: {}",
                        fsutil::human_duration(age),
                        AttemptError::from_send_error(&error, now_ms).summary()
                    );
                    return self
                        .fail(entry, &claimed, error, reason)
                        .map(|a| Some(with_log(a, outcome.log_error)));
                }
                let next = now_ms.saturating_add(
                    u64::try_from(self.policy.delay(attempts).as_millis()).unwrap_or(u64::MAX),
                );
                entry.meta.next_attempt_ms = next;
                self.rewrite_and_move(&entry, &claimed, State::Pending)?;
                AttemptResult::Deferred {
                    error,
                    next_attempt_ms: next,
                }
            }
            Err(error) => {
                entry.meta.last_error = Some(AttemptError::from_send_error(&error, now_ms));
                let reason = format!(
                    "{} failure: {}",
                    error.kind,
                    AttemptError::from_send_error(&error, now_ms).summary()
                );
                return self
                    .fail(entry, &claimed, error, reason)
                    .map(|a| Some(with_log(a, outcome.log_error)));
            }
        };
        Ok(Some(Attempt {
            id: id.clone(),
            to: entry.meta.to.clone(),
            attempts,
            result,
            log_error: outcome.log_error,
        }))
    }

    /// Writes the verdict into the in-flight file, then moves it to `failed/` (a crash between
    /// the two leaves the verdict in flight, and recovery completes the move).
    fn fail(
        &self,
        mut entry: Entry,
        claimed: &std::path::Path,
        error: SendError,
        reason: String,
    ) -> io::Result<Attempt> {
        entry.meta.failed = Some(reason.clone());
        self.rewrite_and_move(&entry, claimed, State::Failed)?;
        Ok(Attempt {
            id: entry.meta.id.clone(),
            to: entry.meta.to.clone(),
            attempts: entry.meta.attempts,
            result: AttemptResult::Failed { error, reason },
            log_error: None,
        })
    }

    /// Replaces the in-flight file with `entry` (through `tmp/`), then renames it into
    /// `target`; both steps are atomic and synced.
    fn rewrite_and_move(
        &self,
        entry: &Entry,
        claimed: &std::path::Path,
        target: State,
    ) -> io::Result<()> {
        let id = &entry.meta.id;
        let tmp = self.outbox.tmp(&format!("{id}@{}", self.owner.token()));
        fsutil::replace_synced(claimed, &tmp, &entry.to_bytes(), 0o600)?;
        let target_dir = self.outbox.dir(target);
        fs::rename(claimed, target_dir.join(id.as_str()))?;
        fsutil::sync_dir(&target_dir)?;
        fsutil::sync_dir(&self.outbox.dir(State::InFlight))
    }

    /// When the next pending entry is due (milliseconds since the epoch), if any.
    ///
    /// # Errors
    /// When the outbox cannot be read.
    pub fn next_due_ms(&self) -> io::Result<Option<u64>> {
        Ok(self.outbox.status()?.next_due_ms())
    }
}

fn with_log(mut attempt: Attempt, log_error: Option<LogError>) -> Attempt {
    attempt.log_error = log_error;
    attempt
}

/// `in 30s (2024-05-01T12:00:30Z)`.
pub(crate) fn when(ms: u64, now: SystemTime) -> String {
    let at = from_unix_ms(ms);
    let relative = match at.duration_since(now) {
        Ok(d) => format!("in {}", fsutil::human_duration(d)),
        Err(e) => format!("{} ago", fsutil::human_duration(e.duration())),
    };
    format!("{relative} ({})", fsutil::rfc3339(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::default();
        let secs: Vec<u64> = (1..=10).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(p.delay(1000), p.cap);
        let fast = RetryPolicy {
            base: Duration::from_millis(10),
            ..p
        };
        assert_eq!(fast.delay(3), Duration::from_millis(40));
    }
}
