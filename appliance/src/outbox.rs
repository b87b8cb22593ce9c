//! The durable outbox: every notification is written to disk before anything is sent, and
//! stays there until the server has accepted it or it has failed for good.
//!
//! A maildir-like directory queue in `DATA_DIR/outbox/`, one file per entry ([`Entry`]: a JSON
//! line, then the message):
//!
//! | directory | state |
//! |---|---|
//! | `tmp/` | being written (not an entry yet) |
//! | `new/ID` | pending: waiting for its next attempt |
//! | `inflight/ID@OWNER` | claimed by the delivering process `OWNER` (`PID-RANDOM`) |
//! | `sent/ID` | accepted by the server (with its reply) |
//! | `failed/ID` | failed for good (with the reason and the server's reply) |
//! | `owners/OWNER.lock` | held with an exclusive `flock` by each living delivering process |
//!
//! Every change of state is one `rename(2)`, so an entry is always in exactly one state
//! directory; a changed entry is first written to `tmp/` and renamed over its old file.
//! Renames that matter are made durable by syncing the directories.
//!
//! **Claiming** is the rename `new/ID` → `inflight/ID@OWNER`: only one process can win it, so
//! two deliverers never send the same entry. **Recording** the acceptance is the rename
//! `inflight/ID@OWNER` → `sent/ID` (and a sync of both directories), made the moment the
//! server's reply to the final dot has been read, before QUIT
//! ([`crate::smtp::send_logged_with`]). **Recovery**: an entry in `inflight/` whose owner no
//! longer holds its lock (the kernel drops a dead process's `flock`, whatever its pid is
//! reused for) goes back to `new/` (or on to `failed/` when its failure had already been
//! written).
//!
//! The one window SMTP cannot close: a deliverer killed after the server sent its final `250`
//! but before the rename into `sent/` leaves the entry in flight, and recovery sends it again.
//! See the README for its size.
//!
//! - [`Entry`] (`entry`): one entry's file, its id and what is recorded of its attempts;
//! - `owner`: the lock each delivering process holds, and who owns an in-flight entry;
//! - `recovery`: orphans put back, and what dead processes left removed;
//! - [`Deliverer`] (`deliver`): the delivery passes and the retry policy;
//! - [`Status`] (`status`, `report`): what is in the outbox, for people and machines.

mod deliver;
mod entry;
mod owner;
mod recovery;
mod report;
mod status;

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use deliver::{Attempt, AttemptResult, Deliverer, PassReport, RetryPolicy};
pub use entry::{Acceptance, AttemptError, Entry, EntryId, EntryMeta};
pub use recovery::Recovered;
pub use status::{EntryStatus, Status};

use crate::datadir::DataDir;
use crate::fsutil::{self, unix_ms};
use crate::smtp::Envelope;

/// The outbox's directory inside the data directory.
pub const OUTBOX_PATH: &str = "outbox";

/// Where an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// Waiting for its next attempt (`new/`).
    Pending,
    /// Being sent (`inflight/`).
    InFlight,
    /// Accepted by the server (`sent/`).
    Sent,
    /// Failed for good (`failed/`).
    Failed,
}

impl State {
    /// Every state, in the order of a message's life.
    pub const ALL: [State; 4] = [State::Pending, State::InFlight, State::Sent, State::Failed];

    /// The state's directory name.
    pub fn dir_name(self) -> &'static str {
        match self {
            State::Pending => "new",
            State::InFlight => "inflight",
            State::Sent => "sent",
            State::Failed => "failed",
        }
    }

    /// For people: `pending`, `in flight`, `sent`, `failed`.
    pub fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::InFlight => "in flight",
            State::Sent => "sent",
            State::Failed => "failed",
        }
    }
}

/// The outbox directory.
#[derive(Clone, Debug)]
pub struct Outbox {
    root: PathBuf,
}

/// Why `outbox retry` could not retry an entry.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    /// There is no failed entry with this id.
    #[error("no failed entry {0}")]
    NotFailed(String),
    /// The outbox cannot be read or written.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Outbox {
    /// The outbox of a data directory, created if needed (directories of mode 0700).
    ///
    /// # Errors
    /// When the directories cannot be created.
    pub fn open(data_dir: &DataDir) -> io::Result<Outbox> {
        Outbox::at(data_dir.root().join(OUTBOX_PATH))
    }

    /// The outbox at `root`, created if needed.
    ///
    /// # Errors
    /// When the directories cannot be created.
    pub fn at(root: impl Into<PathBuf>) -> io::Result<Outbox> {
        let root = root.into();
        let mut builder = DirBuilder::new();
        builder.recursive(true).mode(0o700);
        for dir in ["tmp", "new", "inflight", "sent", "failed", "owners"] {
            builder.create(root.join(dir))?;
        }
        Ok(Outbox { root })
    }

    /// The outbox directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, state: State) -> PathBuf {
        self.root.join(state.dir_name())
    }

    fn tmp(&self, name: &str) -> PathBuf {
        self.root.join("tmp").join(name)
    }

    fn owners(&self) -> PathBuf {
        self.root.join("owners")
    }

    /// Puts a message in the outbox: written to `tmp/`, synced, renamed into `new/`, and the
    /// directory synced, so it is on disk when this returns. It is due at once.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn enqueue(
        &self,
        envelope: &Envelope,
        message: &[u8],
        message_id: Option<&str>,
        label: Option<&str>,
        now: SystemTime,
    ) -> io::Result<EntryId> {
        let created_ms = unix_ms(now);
        let id = EntryId::generate(created_ms)?;
        let entry = Entry {
            meta: EntryMeta {
                id: id.clone(),
                from: envelope.from().to_owned(),
                to: envelope.to().to_vec(),
                message_id: message_id.map(str::to_owned),
                label: label.map(str::to_owned),
                created_ms,
                attempts: 0,
                next_attempt_ms: created_ms,
                last_error: None,
                accepted: None,
                failed: None,
            },
            message: message.to_vec(),
        };
        let tmp = self.tmp(id.as_str());
        fsutil::create_synced(&tmp, &entry.to_bytes(), 0o600)?;
        let new_dir = self.dir(State::Pending);
        if let Err(e) = fs::rename(&tmp, new_dir.join(id.as_str())) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        fsutil::sync_dir(&new_dir)?;
        Ok(id)
    }

    /// Reads an entry in a final or pending state.
    ///
    /// # Errors
    /// `NotFound` when it is not there.
    pub fn read(&self, state: State, id: &EntryId) -> io::Result<Entry> {
        Entry::read(&self.dir(state).join(id.as_str()))
    }

    /// Makes a failed entry pending again, due at once (its attempts are kept; the verdict is
    /// cleared, the last error kept for reference).
    ///
    /// # Errors
    /// [`RetryError::NotFailed`] when there is no such failed entry.
    pub fn retry(&self, id: &EntryId, now: SystemTime) -> Result<(), RetryError> {
        let failed = self.dir(State::Failed).join(id.as_str());
        let mut entry = match Entry::read(&failed) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RetryError::NotFailed(id.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        entry.meta.failed = None;
        entry.meta.next_attempt_ms = unix_ms(now);
        let tmp = self.tmp(&format!("{id}.retry.{}", std::process::id()));
        fsutil::replace_synced(&failed, &tmp, &entry.to_bytes(), 0o600)?;
        let new_dir = self.dir(State::Pending);
        match fs::rename(&failed, new_dir.join(id.as_str())) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RetryError::NotFailed(id.to_string()));
            }
            Err(e) => return Err(e.into()),
        }
        fsutil::sync_dir(&new_dir)?;
        fsutil::sync_dir(&self.dir(State::Failed))?;
        Ok(())
    }
}

/// The names of the regular files in `dir` (hidden files skipped).
fn list_names(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for item in fs::read_dir(dir)? {
        let item = item?;
        let name = item.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            names.push(name);
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "appliance-outbox-{name}-{}-{}",
            std::process::id(),
            hex::encode(fsutil::random_bytes::<4>().unwrap())
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    pub(super) fn envelope() -> Envelope {
        Envelope::new("noreply@a.example", ["bob@b.example"]).unwrap()
    }

    #[test]
    fn enqueue_status_retry() {
        let dir = temp("basic");
        let outbox = Outbox::at(&dir).unwrap();
        let now = SystemTime::now();
        let id = outbox
            .enqueue(
                &envelope(),
                b"Subject: x\r\n\r\nhi\r\n",
                Some("m@x"),
                None,
                now,
            )
            .unwrap();
        let status = outbox.status().unwrap();
        assert_eq!(status.pending.len(), 1);
        assert_eq!(status.pending[0].file, id.as_str());
        let meta = status.pending[0].meta.as_ref().unwrap();
        assert_eq!(meta.to, ["bob@b.example"]);
        assert_eq!(meta.attempts, 0);
        assert_eq!(status.next_due_ms(), Some(unix_ms(now)));
        assert!(fs::read_dir(dir.join("tmp")).unwrap().next().is_none());

        assert!(matches!(
            outbox.retry(&id, now),
            Err(RetryError::NotFailed(_))
        ));
        fs::rename(
            dir.join("new").join(id.as_str()),
            dir.join("failed").join(id.as_str()),
        )
        .unwrap();
        outbox.retry(&id, now).unwrap();
        assert_eq!(outbox.status().unwrap().pending.len(), 1);
        assert!(outbox.status().unwrap().failed.is_empty());
        fs::remove_dir_all(dir).unwrap();
    }
}
