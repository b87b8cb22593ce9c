//! Recovery: the in-flight entries of processes that died go back to `new/` (or on to
//! `failed/` when their failure had been written), and what dead processes left behind (lock
//! files, old files in `tmp/`) is removed.

use std::fs::{self, File};
use std::io;
use std::time::Duration;

use super::entry::{Entry, EntryId};
use super::owner::split_in_flight;
use super::{Outbox, State, list_names};
use crate::fsutil;

/// What [`Outbox::recover`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Entries of dead processes put back in `new/`.
    pub requeued: Vec<EntryId>,
    /// Entries of dead processes whose failure had been written, moved on to `failed/`.
    pub failed: Vec<EntryId>,
}

/// How long a file may sit in `tmp/` before recovery removes it (writers take milliseconds).
const STALE_TMP: Duration = Duration::from_secs(600);

impl Outbox {
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
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::outbox::tests::{envelope, temp};

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
