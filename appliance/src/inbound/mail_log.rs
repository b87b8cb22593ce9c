//! The inbound MTA's log, `DATA_DIR/logs/mail.log`, in the shape of Postfix's lines in
//! `/var/log/mail.log` (the reference's example), with a syslog-like prefix:
//!
//! ```text
//! Nov 26 04:35:45 appliance.example.com appliance/smtpd[4242]: connect from unknown[127.0.0.1]
//! Nov 26 04:35:45 appliance.example.com appliance/smtpd[4242]: 51DC9163323: client=unknown[127.0.0.1]
//! Nov 26 04:35:45 appliance.example.com appliance/cleanup[4242]: 51DC9163323: message-id=<abc@example.com>
//! Nov 26 04:35:45 appliance.example.com appliance/qmgr[4242]: 51DC9163323: from=<bob@example.com>, size=5048, nrcpt=1 (queue active)
//! Nov 26 04:35:45 appliance.example.com appliance/virtual[4242]: 51DC9163323: to=<reply+…@reply.appliance.example.com>, relay=virtual, delay=0.01, dsn=2.0.0, status=sent (delivered to maildir)
//! Nov 26 04:35:45 appliance.example.com appliance/qmgr[4242]: 51DC9163323: removed
//! Nov 26 04:35:45 appliance.example.com appliance/smtpd[4242]: disconnect from unknown[127.0.0.1]
//! ```
//!
//! Each line is appended with one `write(2)` on a file opened with `O_APPEND`, so lines from
//! concurrent sessions never interleave within a line.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// The MTA's log file.
#[derive(Debug)]
pub struct MailLog {
    path: PathBuf,
    host: String,
    file: Mutex<Option<File>>,
}

/// The program names of the log lines (Postfix's daemons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    /// The SMTP server: connections, clients, rejections.
    Smtpd,
    /// Reading the message: its Message-ID.
    Cleanup,
    /// The queue: sender, size, removal.
    Qmgr,
    /// Delivery to the maildir.
    Virtual,
    /// Mail discarded by policy.
    Discard,
}

impl Program {
    fn name(self) -> &'static str {
        match self {
            Program::Smtpd => "smtpd",
            Program::Cleanup => "cleanup",
            Program::Qmgr => "qmgr",
            Program::Virtual => "virtual",
            Program::Discard => "discard",
        }
    }
}

impl MailLog {
    /// A log appending to `path` (created with its directory when first written); `host` is
    /// the name in every line's prefix.
    pub fn new(path: impl Into<PathBuf>, host: &str) -> Self {
        MailLog {
            path: path.into(),
            host: host.to_owned(),
            file: Mutex::new(None),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line: `MON DD HH:MM:SS HOST appliance/PROGRAM[PID]: TEXT`. A write error
    /// is returned (the caller decides; a session goes on without its log line).
    ///
    /// # Errors
    /// When the directory or file cannot be created or written.
    pub fn line(&self, program: Program, text: &str) -> io::Result<()> {
        let text = text.replace(['\r', '\n'], " ");
        let line = format!(
            "{} {} appliance/{}[{}]: {text}\n",
            syslog_time(SystemTime::now()),
            self.host,
            program.name(),
            std::process::id()
        );
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            if let Some(dir) = self.path.parent() {
                fs::create_dir_all(dir)?;
            }
            *guard = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        match guard.as_mut() {
            Some(file) => file.write_all(line.as_bytes()),
            None => Ok(()),
        }
    }
}

/// A time as syslog writes it, in UTC: `Nov 26 04:35:45` (`Oct  3 …` for single-digit days).
pub fn syslog_time(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    t.format(time::macros::format_description!(
        "[month repr:short] [day padding:space] [hour]:[minute]:[second]"
    ))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn syslog_times() {
        let t = UNIX_EPOCH + Duration::from_secs(1_414_630_038);
        assert_eq!(syslog_time(t), "Oct 30 00:47:18");
        let t = UNIX_EPOCH + Duration::from_secs(1_412_294_400);
        assert_eq!(syslog_time(t), "Oct  3 00:00:00");
    }

    #[test]
    fn one_line_per_call() {
        let dir = std::env::temp_dir().join(format!("appliance-maillog-{}", std::process::id()));
        let log = MailLog::new(dir.join("logs/mail.log"), "host.test");
        log.line(Program::Smtpd, "connect from unknown[127.0.0.1]")
            .unwrap();
        log.line(Program::Qmgr, "X: removed\r\ninjected").unwrap();
        let text = fs::read_to_string(log.path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains(" host.test appliance/smtpd["));
        assert!(lines[0].ends_with("]: connect from unknown[127.0.0.1]"));
        assert!(lines[1].ends_with("]: X: removed  injected"));
        fs::remove_dir_all(dir).unwrap();
    }
}
