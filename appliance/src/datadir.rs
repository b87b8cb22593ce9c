//! The appliance's data directory (`--data-dir`, default `/var/lib/appliance`) and the files
//! it holds.

use std::path::{Path, PathBuf};

use crate::convlog::LOG_PATH;
use crate::settings::SETTINGS_FILE;

/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/appliance";

/// A data directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The active settings: `DATA_DIR/settings.toml`.
    pub fn settings_file(&self) -> PathBuf {
        self.root.join(SETTINGS_FILE)
    }

    /// The conversation log: `DATA_DIR/logs/unicorn.log`.
    pub fn log_file(&self) -> PathBuf {
        self.root.join(LOG_PATH)
    }

    /// The inbound MTA's log: `DATA_DIR/logs/mail.log` (written by the inbound side).
    pub fn mail_log_file(&self) -> PathBuf {
        self.root.join("logs/mail.log")
    }

    /// The reply processor's log: `DATA_DIR/logs/mail-replies/metroplex.log` (the reference's
    /// `/var/log/mail-replies/metroplex.log`).
    pub fn metroplex_log_file(&self) -> PathBuf {
        self.root.join("logs/mail-replies/metroplex.log")
    }

    /// The maildir the inbound MTA delivers to: `DATA_DIR/mail/reply/`.
    pub fn reply_maildir(&self) -> PathBuf {
        self.root.join("mail/reply")
    }

    /// Where the reply processor puts what it handled: `DATA_DIR/incoming-mail/` (`success/`,
    /// `failure/`).
    pub fn incoming_mail_dir(&self) -> PathBuf {
        self.root.join("incoming-mail")
    }

    /// The comments recorded from replies: `DATA_DIR/comments/`.
    pub fn comments_dir(&self) -> PathBuf {
        self.root.join("comments")
    }

    /// The outbox: `DATA_DIR/outbox/`.
    pub fn outbox_dir(&self) -> PathBuf {
        self.root.join(crate::outbox::OUTBOX_PATH)
    }
}
