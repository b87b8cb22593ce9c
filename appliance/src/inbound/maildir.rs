//! Maildir delivery (<https://cr.yp.to/proto/maildir.html>): the message is written to
//! `tmp/NAME`, fsynced, renamed to `new/NAME`, and `new/` is fsynced; only then is the message
//! durable and may the client hear `250`. Names are `SECS.MUSECSPPIDQN.HOST`: seconds and
//! microseconds of the delivery, the process id, a counter within the process, and the host
//! name (`/` and `:` written as `\057` and `\072`), unique across processes and deliveries.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::fsutil;

/// A maildir: `tmp/`, `new/` and `cur/` under one directory.
#[derive(Clone, Debug)]
pub struct Maildir {
    root: PathBuf,
    host: String,
}

impl Maildir {
    /// The maildir at `root` (nothing is created until [`Maildir::create_dirs`]).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let host = fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        Maildir {
            root: root.into(),
            host: host.replace('/', "\\057").replace(':', "\\072"),
        }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `new/`: delivered messages, waiting for the reply processor.
    pub fn new_dir(&self) -> PathBuf {
        self.root.join("new")
    }

    /// `tmp/`: messages being written.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Creates `tmp/`, `new/` and `cur/` (mode 0700) if they are missing.
    ///
    /// # Errors
    /// When a directory cannot be created.
    pub fn create_dirs(&self) -> io::Result<()> {
        for sub in ["tmp", "new", "cur"] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(self.root.join(sub))?;
        }
        Ok(())
    }

    /// Removes files in `tmp/` last modified more than `age` ago (left by a crash in the
    /// middle of a delivery, which was never acknowledged).
    ///
    /// # Errors
    /// When `tmp/` cannot be read.
    pub fn clean_tmp(&self, age: std::time::Duration) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(self.tmp_dir())? {
            let entry = entry?;
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|elapsed| elapsed > age);
            if old && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// A new unique file name.
    pub fn unique_name(&self) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        format!(
            "{}.M{}P{}Q{}.{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed) + 1,
            self.host
        )
    }

    /// Delivers a message: `parts` are written one after the other into `tmp/NAME`, which is
    /// fsynced and renamed into `new/NAME`; `new/` is fsynced. Returns the path in `new/`.
    /// On error nothing is left in `tmp/` or `new/`.
    ///
    /// # Errors
    /// The I/O error of the step that failed.
    pub fn deliver(&self, parts: &[&[u8]]) -> io::Result<PathBuf> {
        let name = self.unique_name();
        let tmp = self.tmp_dir().join(&name);
        let new = self.new_dir().join(&name);
        let written = (|| {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            for part in parts {
                file.write_all(part)?;
            }
            file.sync_all()?;
            fs::rename(&tmp, &new)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        fsutil::sync_dir(&self.new_dir())?;
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivers_into_new_with_unique_names() {
        let dir = std::env::temp_dir().join(format!("appliance-maildir-{}", std::process::id()));
        let maildir = Maildir::new(&dir);
        maildir.create_dirs().unwrap();
        let a = maildir
            .deliver(&[b"Subject: a\r\n", b"\r\nbody\r\n"])
            .unwrap();
        let b = maildir.deliver(&[b"x"]).unwrap();
        assert_ne!(a, b);
        assert_eq!(fs::read(&a).unwrap(), b"Subject: a\r\n\r\nbody\r\n");
        assert_eq!(fs::read_dir(maildir.tmp_dir()).unwrap().count(), 0);
        assert_eq!(fs::read_dir(maildir.new_dir()).unwrap().count(), 2);
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        let parts: Vec<&str> = name.splitn(3, '.').collect();
        assert!(parts[0].parse::<u64>().is_ok(), "{name}");
        assert!(parts[1].starts_with('M') && parts[1].contains('P') && parts[1].contains('Q'));
        fs::write(maildir.tmp_dir().join("left"), b"x").unwrap();
        assert_eq!(
            maildir
                .clean_tmp(std::time::Duration::from_secs(3600))
                .unwrap(),
            0
        );
        assert_eq!(maildir.clean_tmp(std::time::Duration::ZERO).unwrap(), 1);
        fs::remove_dir_all(dir).unwrap();
    }
}
