//! Who owns an in-flight entry: each delivering process holds an `flock` on its own
//! `owners/OWNER.lock` for as long as it lives, and an in-flight file is named `ID@OWNER`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::Outbox;
use super::entry::EntryId;
use crate::fsutil;

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
    pub(super) fn acquire(owners: &Path) -> io::Result<Owner> {
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
pub(super) fn split_in_flight(name: &str) -> Option<(EntryId, &str)> {
    let (id, owner) = name.split_once('@')?;
    Some((EntryId::parse(id)?, owner))
}

impl Outbox {
    /// `true` while the process `owner` holds its lock.
    pub(super) fn owner_alive(&self, owner: &str) -> bool {
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

    pub(crate) fn acquire_owner(&self) -> io::Result<Owner> {
        Owner::acquire(&self.owners())
    }
}
