//! The reply processor's log, `DATA_DIR/logs/mail-replies/metroplex.log`, in the reference's
//! shape:
//!
//! ```text
//! [2014-10-30T00:47:23.306 INFO (5284) #] metroplex: processing <m1@example.com>
//! [2014-10-30T00:47:23.333 DEBUG (5284) #] Matched /data/mail/reply/new/1414630039.M306P5284Q1.host
//! [2014-10-30T00:47:23.334 DEBUG (5284) #] Moving /data/mail/reply/new/1414630039.M306P5284Q1.host => /data/incoming-mail/success
//! ```
//!
//! A message that is not used gets a `WARN` line with the reason before it is moved to
//! `failure`. Each line is one `write(2)` in append mode.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The processor's log file.
#[derive(Clone, Debug)]
pub struct MetroplexLog {
    path: PathBuf,
}

/// A line's level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// `INFO`.
    Info,
    /// `DEBUG`.
    Debug,
    /// `WARN`.
    Warn,
}

impl MetroplexLog {
    /// The log at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        MetroplexLog { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `[TIME LEVEL (PID) #] TEXT`.
    ///
    /// # Errors
    /// When the directory or file cannot be created or written.
    pub fn line(&self, level: Level, text: &str) -> io::Result<()> {
        let level = match level {
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Warn => "WARN",
        };
        let text = text.replace(['\r', '\n'], " ");
        let line = format!(
            "[{} {level} ({}) #] {text}\n",
            timestamp(SystemTime::now()),
            std::process::id()
        );
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir)?;
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?
            .write_all(line.as_bytes())
    }
}

/// `2014-10-30T00:47:23.306` (UTC, milliseconds).
fn timestamp(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]"
        ))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps() {
        let t = UNIX_EPOCH + Duration::from_millis(1_414_630_043_306);
        assert_eq!(timestamp(t), "2014-10-30T00:47:23.306");
    }
}
