//! The processor: each file of `mail/reply/new/` is read, judged, recorded as a comment when
//! it is a good reply, and moved to `incoming-mail/success/` or `incoming-mail/failure/`.
//!
//! Crash safety: a comment is recorded (durably, keyed by the reply's Message-ID) *before* the
//! file is moved, and recording is idempotent. A process killed between the two leaves the
//! file in `new/`; the next run finds its comment already recorded from that same file and
//! only moves it. A move is one `rename(2)`, with both directories fsynced, so a file is always
//! in exactly one of `new/`, `success/`, `failure/`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::Rejection;
use super::log::{Level, MetroplexLog};
use super::parse::{self, ParsedReply};
use super::store::{Comment, CommentStore, Recorded};
use super::strip::strip_reply;
use crate::datadir::DataDir;
use crate::fsutil;
use crate::notify::token::token_of_address;
use crate::notify::{ReplyDirectory, ReplyKey, verify_token};
use crate::shutdown::Shutdown;

/// What happened to one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// A new comment was recorded.
    Posted(Comment),
    /// Its comment had been recorded by an earlier run that stopped before moving the file.
    AlreadyPosted(Comment),
    /// Not used; moved to `failure/`.
    Rejected(Rejection),
}

/// One message handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handled {
    /// The file's name (in `success/` or `failure/` now).
    pub file: String,
    /// What happened.
    pub disposition: Disposition,
}

impl Handled {
    /// One line for people: `success FILE: comment on THREAD by USER` or `failure FILE: WHY`.
    pub fn line(&self) -> String {
        match &self.disposition {
            Disposition::Posted(c) => {
                format!(
                    "success {}: comment on {} by {}",
                    self.file, c.thread, c.user
                )
            }
            Disposition::AlreadyPosted(c) => format!(
                "success {}: comment on {} by {} (already recorded)",
                self.file, c.thread, c.user
            ),
            Disposition::Rejected(r) => format!("failure {}: {r}", self.file),
        }
    }
}

/// The reply processor of one data directory.
#[derive(Debug)]
pub struct Processor {
    new_dir: PathBuf,
    success: PathBuf,
    failure: PathBuf,
    hostname: String,
    key: ReplyKey,
    directory: ReplyDirectory,
    store: CommentStore,
    max_age: Duration,
    log: MetroplexLog,
    move_delay: Duration,
}

impl Processor {
    /// A processor for `data_dir`: replies to `reply+TOKEN@reply.HOSTNAME`, tokens signed with
    /// `key` and at most `max_age` old. Creates the maildir and `incoming-mail/` directories.
    ///
    /// # Errors
    /// When a directory cannot be created.
    pub fn new(
        data_dir: &DataDir,
        hostname: &str,
        key: ReplyKey,
        max_age: Duration,
    ) -> io::Result<Self> {
        let maildir = data_dir.reply_maildir();
        let incoming = data_dir.incoming_mail_dir();
        let processor = Processor {
            new_dir: maildir.join("new"),
            success: incoming.join("success"),
            failure: incoming.join("failure"),
            hostname: hostname.to_owned(),
            key,
            directory: ReplyDirectory::in_data_dir(data_dir),
            store: CommentStore::new(data_dir.comments_dir()),
            max_age,
            log: MetroplexLog::new(data_dir.metroplex_log_file()),
            move_delay: Duration::ZERO,
        };
        for dir in [
            &maildir.join("tmp"),
            &processor.new_dir,
            &maildir.join("cur"),
            &processor.success,
            &processor.failure,
        ] {
            fs::create_dir_all(dir)?;
        }
        Ok(processor)
    }

    /// Fault injection for tests: wait this long between recording a comment and moving its
    /// file, so that a kill lands in between more often.
    pub fn set_move_delay(&mut self, delay: Duration) {
        self.move_delay = delay;
    }

    /// The store the comments go to.
    pub fn store(&self) -> &CommentStore {
        &self.store
    }

    /// The files waiting in `new/`, oldest name first.
    ///
    /// # Errors
    /// When `new/` cannot be read.
    pub fn pending(&self) -> io::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for entry in fs::read_dir(&self.new_dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if entry.file_type()?.is_file() {
                files.push(entry.path());
            }
        }
        files.sort();
        Ok(files)
    }

    /// Handles every file in `new/` (stopping early, between files, once `shutdown` has come).
    ///
    /// # Errors
    /// When `new/` cannot be read or a comment or move cannot be written; the file being
    /// handled stays in `new/` for the next run.
    pub fn run_once(
        &self,
        shutdown: &Shutdown,
        on_handled: &mut dyn FnMut(&Handled),
    ) -> io::Result<usize> {
        let mut count = 0;
        for path in self.pending()? {
            if shutdown.is_shutdown() {
                break;
            }
            if let Some(handled) = self.process(&path, SystemTime::now())? {
                on_handled(&handled);
                count += 1;
            }
        }
        Ok(count)
    }

    fn log(&self, level: Level, text: &str) {
        if let Err(e) = self.log.line(level, text) {
            eprintln!(
                "appliance replies: cannot write {}: {e}",
                self.log.path().display()
            );
        }
    }

    /// Handles one file of `new/`; `Ok(None)` when it is gone (another processor took it).
    ///
    /// # Errors
    /// When the comment or the move cannot be written (the file stays where it was).
    pub fn process(&self, path: &Path, now: SystemTime) -> io::Result<Option<Handled>> {
        let raw = match fs::read(path) {
            Ok(raw) => raw,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parsed = parse::parse(&raw);
        let message_id = parsed.as_ref().and_then(|p| p.message_id.clone());
        self.log(
            Level::Info,
            &format!(
                "metroplex: processing <{}>",
                message_id.as_deref().unwrap_or_default()
            ),
        );
        let key = Comment::key_for(message_id.as_deref(), &raw);
        // A run that was stopped between recording and moving: only the move is left.
        if let Some(done) = self.store.get(&key)?
            && done.source == file
        {
            self.log(Level::Debug, &format!("Matched {}", path.display()));
            self.move_to(path, &file, &self.success)?;
            return Ok(Some(Handled {
                file,
                disposition: Disposition::AlreadyPosted(done),
            }));
        }
        let verdict = match parsed {
            None => Err(Rejection::Unparseable),
            Some(parsed) => self.judge(&parsed, key, &file, now),
        };
        let disposition = match verdict {
            Ok(comment) => {
                self.log(Level::Debug, &format!("Matched {}", path.display()));
                match self.store.record(&comment)? {
                    Recorded::New => {
                        if !self.move_delay.is_zero() {
                            std::thread::sleep(self.move_delay);
                        }
                        Disposition::Posted(comment)
                    }
                    Recorded::Already(existing) if existing.source == file => {
                        Disposition::AlreadyPosted(*existing)
                    }
                    Recorded::Already(existing) => Disposition::Rejected(Rejection::Duplicate {
                        source_file: existing.source,
                    }),
                }
            }
            Err(rejection) => Disposition::Rejected(rejection),
        };
        let target = match &disposition {
            Disposition::Rejected(why) => {
                self.log(
                    Level::Warn,
                    &format!(
                        "metroplex: rejected <{}> {}: {why}",
                        message_id.as_deref().unwrap_or_default(),
                        path.display()
                    ),
                );
                &self.failure
            }
            _ => &self.success,
        };
        self.move_to(path, &file, target)?;
        Ok(Some(Handled { file, disposition }))
    }

    /// Renames the file into `dir` and makes both directories durable.
    fn move_to(&self, path: &Path, file: &str, dir: &Path) -> io::Result<()> {
        self.log(
            Level::Debug,
            &format!("Moving {} => {}", path.display(), dir.display()),
        );
        fs::rename(path, dir.join(file))?;
        fsutil::sync_dir(dir)?;
        fsutil::sync_dir(&self.new_dir)
    }

    /// Decides whether a parsed reply becomes a comment, and which.
    fn judge(
        &self,
        parsed: &ParsedReply,
        key: String,
        file: &str,
        now: SystemTime,
    ) -> Result<Comment, Rejection> {
        if let Some(automatic) = &parsed.automatic {
            return Err(Rejection::Automatic(automatic.clone()));
        }
        let tokens: Vec<&str> = parsed
            .recipients
            .iter()
            .filter_map(|a| token_of_address(a, &self.hostname))
            .collect();
        let Some(first) = tokens.first() else {
            return Err(Rejection::NoReplyAddress(format!(
                "reply.{}",
                self.hostname
            )));
        };
        let claims = tokens
            .iter()
            .find_map(|t| verify_token(&self.key, t, now, self.max_age).ok())
            .map_or_else(
                || verify_token(&self.key, first, now, self.max_age).map_err(Rejection::Token),
                Ok,
            )?;
        let io_error = |e: io::Error| Rejection::Directory(e.to_string());
        let user = self
            .directory
            .user(claims.user_id)
            .map_err(io_error)?
            .ok_or(Rejection::UnknownUser(claims.user_id))?;
        let thread = self
            .directory
            .thread(claims.thread_id)
            .map_err(io_error)?
            .ok_or(Rejection::UnknownThread(claims.thread_id))?;
        if thread.kind() != claims.kind {
            return Err(Rejection::KindMismatch {
                thread: thread.path(),
            });
        }
        let from = parsed.from.clone().ok_or(Rejection::NoSender)?;
        let known = self.directory.addresses(&user).map_err(io_error)?;
        if !known.iter().any(|a| a.eq_ignore_ascii_case(&from)) {
            return Err(Rejection::WrongSender { from, user });
        }
        let body = strip_reply(parsed.text.as_deref().unwrap_or_default());
        if body.trim().is_empty() {
            return Err(Rejection::Empty);
        }
        Ok(Comment {
            key,
            message_id: parsed.message_id.clone(),
            thread: thread.path(),
            user,
            from,
            body,
            recorded_at_ms: fsutil::unix_ms(now),
            source: file.to_owned(),
        })
    }
}
