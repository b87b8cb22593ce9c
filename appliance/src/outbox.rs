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

mod deliver;
mod entry;
mod report;

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub use deliver::{Attempt, AttemptResult, Deliverer, PassReport, RetryPolicy};
pub use entry::{Acceptance, AttemptError, Entry, EntryId, EntryMeta};

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

/// One entry as [`Outbox::status`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryStatus {
    /// Where it is.
    pub state: State,
    /// What its file says (`None` for a file that cannot be read).
    pub meta: Option<EntryMeta>,
    /// The file name (for in-flight entries, `ID@OWNER`).
    pub file: String,
    /// For in-flight entries: whether the owning process is alive.
    pub owner_alive: Option<bool>,
}

/// Every entry, by state, each list sorted by id (oldest first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// `new/`.
    pub pending: Vec<EntryStatus>,
    /// `inflight/`.
    pub in_flight: Vec<EntryStatus>,
    /// `sent/`.
    pub sent: Vec<EntryStatus>,
    /// `failed/`.
    pub failed: Vec<EntryStatus>,
}

impl Status {
    /// The list for a state.
    pub fn list(&self, state: State) -> &[EntryStatus] {
        match state {
            State::Pending => &self.pending,
            State::InFlight => &self.in_flight,
            State::Sent => &self.sent,
            State::Failed => &self.failed,
        }
    }

    /// The earliest next attempt of a pending entry.
    pub fn next_due_ms(&self) -> Option<u64> {
        self.pending
            .iter()
            .filter_map(|e| e.meta.as_ref().map(|m| m.next_attempt_ms))
            .min()
    }
}

/// What [`Outbox::recover`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Entries of dead processes put back in `new/`.
    pub requeued: Vec<EntryId>,
    /// Entries of dead processes whose failure had been written, moved on to `failed/`.
    pub failed: Vec<EntryId>,
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

/// A delivering process's claim on its in-flight entries: `owners/TOKEN.lock`, held with an
/// exclusive `flock` for as long as the process lives. The kernel releases it when the process
/// dies, however it dies, so the lock (not the pid) says whether in-flight entries are orphans.
#[derive(Debug)]
pub(crate) struct Owner {
    token: String,
    path: PathBuf,
    _file: File,
}

impl Owner {
    fn acquire(owners: &Path) -> io::Result<Owner> {
        loop {
            let token = format!(
                "{}-{}",
                std::process::id(),
                hex::encode(fsutil::random_bytes::<4>()?)
            );
            let path = owners.join(format!("{token}.lock"));
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)?;
            file.lock()?;
            // A recovering process may have taken the lock between create and lock, judged the
            // owner dead and removed the file: then start again with a new token.
            match fs::metadata(&path) {
                Ok(m) if m.ino() == file.metadata()?.ino() => {
                    return Ok(Owner {
                        token,
                        path,
                        _file: file,
                    });
                }
                _ => continue,
            }
        }
    }

    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        // Removed while still locked (the file is closed after this).
        let _ = fs::remove_file(&self.path);
    }
}

/// `ID@OWNER` → (`ID`, `OWNER`).
fn split_in_flight(name: &str) -> Option<(EntryId, &str)> {
    let (id, owner) = name.split_once('@')?;
    Some((EntryId::parse(id)?, owner))
}

/// How long a file may sit in `tmp/` before recovery removes it (writers take milliseconds).
const STALE_TMP: Duration = Duration::from_secs(600);

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

    /// Lists every entry by state.
    ///
    /// # Errors
    /// When a directory cannot be read.
    pub fn status(&self) -> io::Result<Status> {
        let mut status = Status::default();
        for state in State::ALL {
            let mut names = list_names(&self.dir(state))?;
            names.sort();
            let list: Vec<EntryStatus> = names
                .into_iter()
                .map(|file| {
                    let meta = Entry::read(&self.dir(state).join(&file))
                        .ok()
                        .map(|e| e.meta);
                    let owner_alive = (state == State::InFlight).then(|| {
                        split_in_flight(&file).is_some_and(|(_, owner)| self.owner_alive(owner))
                    });
                    EntryStatus {
                        state,
                        meta,
                        file,
                        owner_alive,
                    }
                })
                .collect();
            match state {
                State::Pending => status.pending = list,
                State::InFlight => status.in_flight = list,
                State::Sent => status.sent = list,
                State::Failed => status.failed = list,
            }
        }
        Ok(status)
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

    /// `true` while the process `owner` holds its lock.
    fn owner_alive(&self, owner: &str) -> bool {
        if owner.contains('/') || owner.contains("..") {
            return false;
        }
        match File::open(self.owners().join(format!("{owner}.lock"))) {
            Ok(file) => match file.try_lock() {
                Ok(()) => {
                    let _ = file.unlock();
                    false
                }
                Err(_) => true,
            },
            Err(_) => false,
        }
    }

    /// Puts the in-flight entries of dead processes back: to `new/`, or to `failed/` when the
    /// failure had been written before the process died. Removes the lock files of dead
    /// processes, and files left in `tmp/` for more than ten minutes. `except` is the caller's
    /// own owner token (its entries are never touched).
    ///
    /// # Errors
    /// When a directory cannot be read or a rename fails.
    pub fn recover(&self, except: Option<&str>) -> io::Result<Recovered> {
        let mut recovered = Recovered::default();
        let in_flight = self.dir(State::InFlight);
        for name in list_names(&in_flight)? {
            let Some((id, owner)) = split_in_flight(&name) else {
                continue;
            };
            if Some(owner) == except || self.owner_alive(owner) {
                continue;
            }
            let path = in_flight.join(&name);
            let decided_failed = Entry::read(&path).is_ok_and(|e| e.meta.failed.is_some());
            let target = if decided_failed {
                State::Failed
            } else {
                State::Pending
            };
            match fs::rename(&path, self.dir(target).join(id.as_str())) {
                Ok(()) => {
                    fsutil::sync_dir(&self.dir(target))?;
                    if decided_failed {
                        recovered.failed.push(id);
                    } else {
                        recovered.requeued.push(id);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {} // another recoverer
                Err(e) => return Err(e),
            }
        }
        if !recovered.requeued.is_empty() || !recovered.failed.is_empty() {
            fsutil::sync_dir(&in_flight)?;
        }
        self.remove_dead_owner_locks(except)?;
        self.remove_stale_tmp();
        Ok(recovered)
    }

    fn remove_dead_owner_locks(&self, except: Option<&str>) -> io::Result<()> {
        for name in list_names(&self.owners())? {
            let Some(owner) = name.strip_suffix(".lock") else {
                continue;
            };
            if Some(owner) == except {
                continue;
            }
            let path = self.owners().join(&name);
            let Ok(file) = File::open(&path) else {
                continue;
            };
            if file.try_lock().is_err() {
                continue; // alive
            }
            let suffix = format!("@{owner}");
            let orphans = list_names(&self.dir(State::InFlight))?
                .iter()
                .any(|n| n.ends_with(&suffix));
            if !orphans {
                let _ = fs::remove_file(&path); // removed while holding its lock
            }
        }
        Ok(())
    }

    fn remove_stale_tmp(&self) {
        let dir = self.root.join("tmp");
        let Ok(names) = list_names(&dir) else {
            return;
        };
        for name in names {
            let path = dir.join(name);
            let old = fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_TMP);
            if old {
                let _ = fs::remove_file(path);
            }
        }
    }

    pub(crate) fn acquire_owner(&self) -> io::Result<Owner> {
        Owner::acquire(&self.owners())
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

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "appliance-outbox-{name}-{}-{}",
            std::process::id(),
            hex::encode(fsutil::random_bytes::<4>().unwrap())
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn envelope() -> Envelope {
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

    #[test]
    fn recovery_returns_orphans_and_spares_the_living() {
        let dir = temp("recover");
        let outbox = Outbox::at(&dir).unwrap();
        let now = SystemTime::now();
        let a = outbox
            .enqueue(&envelope(), b"a\r\n", None, None, now)
            .unwrap();
        let b = outbox
            .enqueue(&envelope(), b"b\r\n", None, None, now)
            .unwrap();
        let c = outbox
            .enqueue(&envelope(), b"c\r\n", None, None, now)
            .unwrap();
        let inflight = dir.join("inflight");
        // `a` belongs to a living owner; `b` to a dead one (no lock file); `c` to a dead one
        // whose failure had been written.
        let living = outbox.acquire_owner().unwrap();
        fs::rename(
            dir.join("new").join(a.as_str()),
            inflight.join(format!("{a}@{}", living.token())),
        )
        .unwrap();
        fs::rename(
            dir.join("new").join(b.as_str()),
            inflight.join(format!("{b}@999-dead")),
        )
        .unwrap();
        let mut entry = outbox.read(State::Pending, &c).unwrap();
        entry.meta.failed = Some("permanent failure".into());
        fs::write(inflight.join(format!("{c}@998-dead")), entry.to_bytes()).unwrap();
        fs::remove_file(dir.join("new").join(c.as_str())).unwrap();
        // A dead owner's lock file (not locked by anyone).
        fs::write(dir.join("owners/998-dead.lock"), b"").unwrap();

        let status = outbox.status().unwrap();
        assert_eq!(status.in_flight.len(), 3);
        let alive: Vec<_> = status.in_flight.iter().map(|e| e.owner_alive).collect();
        assert_eq!(alive.iter().filter(|a| **a == Some(true)).count(), 1);

        let recovered = outbox.recover(None).unwrap();
        assert_eq!(recovered.requeued, [b]);
        assert_eq!(recovered.failed, [c]);
        let status = outbox.status().unwrap();
        assert_eq!(status.in_flight.len(), 1, "the living owner's entry stays");
        assert_eq!(status.pending.len(), 1);
        assert_eq!(status.failed.len(), 1);
        assert!(!dir.join("owners/998-dead.lock").exists());
        assert!(dir.join(format!("owners/{}.lock", living.token())).exists());
        drop(living);
        let recovered = outbox.recover(None).unwrap();
        assert_eq!(recovered.requeued, [a]);
        assert!(fs::read_dir(dir.join("owners")).unwrap().next().is_none());
        fs::remove_dir_all(dir).unwrap();
    }
}
