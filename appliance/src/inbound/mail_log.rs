//! The inbound MTA's log, `DATA_DIR/logs/mail.log`, in the shape of Postfix's lines in
//! `/var/log/mail.log` (the reference's example, see `docs/email-subsystem.md`), with a
//! syslog-like prefix:
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
//! concurrent sessions never interleave within a line. What a line says is an [`Event`]: the
//! session and the delivery name what happened, and this module alone words it.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
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

    /// Appends the line of `event`.
    ///
    /// # Errors
    /// As [`MailLog::line`].
    pub fn record(&self, event: &Event) -> io::Result<()> {
        self.line(event.program(), &event.to_string())
    }

    /// Appends the line of `event`; a log that cannot be written must not stop mail, so the
    /// error goes to standard error (once per line) instead.
    pub fn record_or_warn(&self, event: &Event) {
        if let Err(e) = self.record(event) {
            eprintln!(
                "appliance inbound: cannot write {}: {e}",
                self.path.display()
            );
        }
    }
}

/// One thing the MTA logs; its [`fmt::Display`] is the line's text (after the prefix).
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A client connected.
    Connect {
        /// `unknown[IP]`.
        client: String,
    },
    /// The session is over and the connection closed.
    Disconnect {
        /// `unknown[IP]`.
        client: String,
    },
    /// The client closed the connection (or it broke) before `QUIT`.
    LostConnection {
        /// The last command's verb (`CONNECT` before the first).
        after: &'static str,
        /// `unknown[IP]`.
        client: String,
    },
    /// The client was silent longer than the timeout.
    Timeout {
        /// The last command's verb.
        after: &'static str,
        /// `unknown[IP]`.
        client: String,
    },
    /// The client made too many errors and was disconnected.
    TooManyErrors {
        /// The last command's verb.
        after: &'static str,
        /// `unknown[IP]`.
        client: String,
    },
    /// A connection over the session limit was refused.
    TooManyConnections {
        /// The client's address.
        ip: IpAddr,
    },
    /// The TLS handshake after `STARTTLS` failed.
    TlsFailed {
        /// `unknown[IP]`.
        client: String,
        /// The handshake's error.
        error: String,
    },
    /// The first accepted recipient gave the message its queue id.
    QueueClient {
        /// The queue id.
        queue_id: String,
        /// `unknown[IP]`.
        client: String,
    },
    /// A recipient outside the accepted domains was refused (`NOQUEUE: reject`).
    RelayDenied {
        /// `unknown[IP]`.
        client: String,
        /// The reply sent (`554 5.7.1 <…>: Relay access denied`).
        reply: String,
        /// The envelope sender.
        from: String,
        /// The refused recipient.
        to: String,
        /// `SMTP`, `ESMTP`, `ESMTPS` …
        proto: &'static str,
        /// The `EHLO`/`HELO` name.
        helo: String,
    },
    /// The content was over the size limit.
    TooBig {
        /// The queue id.
        queue_id: String,
        /// `unknown[IP]`.
        client: String,
        /// The reply sent (`552 …`).
        reply: String,
        /// The envelope sender.
        from: String,
        /// `SMTP`, `ESMTP`, `ESMTPS` …
        proto: &'static str,
        /// The `EHLO`/`HELO` name.
        helo: String,
    },
    /// The message's `Message-ID` (empty when it has none).
    MessageId {
        /// The queue id.
        queue_id: String,
        /// Without angle brackets.
        message_id: String,
    },
    /// The message entered the queue.
    Queued {
        /// The queue id.
        queue_id: String,
        /// The envelope sender.
        from: String,
        /// The content's size in octets (as received, before the trace headers).
        size: usize,
        /// How many recipients it had.
        nrcpt: usize,
    },
    /// The message was delivered to the maildir for one recipient.
    Delivered {
        /// The queue id.
        queue_id: String,
        /// The recipient.
        to: String,
        /// Seconds since `MAIL`.
        delay: f64,
    },
    /// The message was discarded for one recipient (`discard_to_noreply`).
    Discarded {
        /// The queue id.
        queue_id: String,
        /// The recipient.
        to: String,
        /// Seconds since `MAIL`.
        delay: f64,
    },
    /// The message could not be written to the maildir (it is refused with `451`).
    NotDelivered {
        /// The queue id.
        queue_id: String,
        /// The I/O error.
        error: String,
    },
    /// The message left the queue.
    Removed {
        /// The queue id.
        queue_id: String,
    },
}

impl Event {
    /// The daemon whose name the line carries.
    pub fn program(&self) -> Program {
        match self {
            Event::Connect { .. }
            | Event::Disconnect { .. }
            | Event::LostConnection { .. }
            | Event::Timeout { .. }
            | Event::TooManyErrors { .. }
            | Event::TooManyConnections { .. }
            | Event::TlsFailed { .. }
            | Event::QueueClient { .. }
            | Event::RelayDenied { .. } => Program::Smtpd,
            Event::TooBig { .. } | Event::MessageId { .. } => Program::Cleanup,
            Event::Queued { .. } | Event::Removed { .. } => Program::Qmgr,
            Event::Delivered { .. } | Event::NotDelivered { .. } => Program::Virtual,
            Event::Discarded { .. } => Program::Discard,
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Connect { client } => write!(f, "connect from {client}"),
            Event::Disconnect { client } => write!(f, "disconnect from {client}"),
            Event::LostConnection { after, client } => {
                write!(f, "lost connection after {after} from {client}")
            }
            Event::Timeout { after, client } => write!(f, "timeout after {after} from {client}"),
            Event::TooManyErrors { after, client } => {
                write!(f, "too many errors after {after} from {client}")
            }
            Event::TooManyConnections { ip } => {
                write!(f, "warning: too many connections: refused unknown[{ip}]")
            }
            Event::TlsFailed { client, error } => {
                write!(f, "SSL_accept error from {client}: {error}")
            }
            Event::QueueClient { queue_id, client } => write!(f, "{queue_id}: client={client}"),
            Event::RelayDenied {
                client,
                reply,
                from,
                to,
                proto,
                helo,
            } => write!(
                f,
                "NOQUEUE: reject: RCPT from {client}: {reply}; from=<{from}> to=<{to}> proto={proto} helo=<{helo}>"
            ),
            Event::TooBig {
                queue_id,
                client,
                reply,
                from,
                proto,
                helo,
            } => write!(
                f,
                "{queue_id}: reject: END-OF-MESSAGE from {client}: {reply}; from=<{from}> proto={proto} helo=<{helo}>"
            ),
            Event::MessageId {
                queue_id,
                message_id,
            } => write!(f, "{queue_id}: message-id=<{message_id}>"),
            Event::Queued {
                queue_id,
                from,
                size,
                nrcpt,
            } => write!(
                f,
                "{queue_id}: from=<{from}>, size={size}, nrcpt={nrcpt} (queue active)"
            ),
            Event::Delivered {
                queue_id,
                to,
                delay,
            } => write!(
                f,
                "{queue_id}: to=<{to}>, relay=virtual, delay={delay:.2}, dsn=2.0.0, status=sent (delivered to maildir)"
            ),
            Event::Discarded {
                queue_id,
                to,
                delay,
            } => write!(
                f,
                "{queue_id}: to=<{to}>, relay=none, delay={delay:.2}, dsn=2.0.0, status=sent (discarded)"
            ),
            Event::NotDelivered { queue_id, error } => {
                write!(f, "{queue_id}: warning: cannot deliver to maildir: {error}")
            }
            Event::Removed { queue_id } => write!(f, "{queue_id}: removed"),
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

    #[test]
    fn events_are_worded_as_postfix_words_them() {
        let client = "unknown[127.0.0.1]".to_owned();
        let cases = [
            (
                Event::RelayDenied {
                    client: client.clone(),
                    reply: "554 5.7.1 <x@elsewhere.test>: Relay access denied".into(),
                    from: "bob@example.com".into(),
                    to: "x@elsewhere.test".into(),
                    proto: "ESMTP",
                    helo: "client.test".into(),
                },
                Program::Smtpd,
                "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 <x@elsewhere.test>: Relay access denied; from=<bob@example.com> to=<x@elsewhere.test> proto=ESMTP helo=<client.test>",
            ),
            (
                Event::Queued {
                    queue_id: "51DC9163323".into(),
                    from: "bob@example.com".into(),
                    size: 5048,
                    nrcpt: 1,
                },
                Program::Qmgr,
                "51DC9163323: from=<bob@example.com>, size=5048, nrcpt=1 (queue active)",
            ),
            (
                Event::Delivered {
                    queue_id: "51DC9163323".into(),
                    to: "reply+t@reply.host.test".into(),
                    delay: 0.014,
                },
                Program::Virtual,
                "51DC9163323: to=<reply+t@reply.host.test>, relay=virtual, delay=0.01, dsn=2.0.0, status=sent (delivered to maildir)",
            ),
            (
                Event::Discarded {
                    queue_id: "51DC9163323".into(),
                    to: "subscribed@noreply.host.test".into(),
                    delay: 1.5,
                },
                Program::Discard,
                "51DC9163323: to=<subscribed@noreply.host.test>, relay=none, delay=1.50, dsn=2.0.0, status=sent (discarded)",
            ),
            (
                Event::LostConnection {
                    after: "DATA",
                    client,
                },
                Program::Smtpd,
                "lost connection after DATA from unknown[127.0.0.1]",
            ),
        ];
        for (event, program, text) in cases {
            assert_eq!(event.program(), program, "{event:?}");
            assert_eq!(event.to_string(), text);
        }
    }
}
