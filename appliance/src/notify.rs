//! Notification mail: a comment on an issue, a pull request or a commit, sent to one user
//! through the outbox.
//!
//! Every notification is From and To the no-reply address (the rule in
//! `docs/email-subsystem.md`; the real recipient is only in the envelope's `RCPT TO`), with
//! `Reply-To: reply+TOKEN@reply.HOSTNAME` where the signed TOKEN ([`token`]) names the user and the thread, a `Cc` on
//! `noreply.HOSTNAME` that says why the user gets it (`Cc: Subscribed
//! <subscribed@noreply.HOSTNAME>`, as GitHub does with `mention@noreply.github.com`: a
//! reply-all reaches the appliance, which may discard it), a `Message-ID` per comment and
//! `In-Reply-To`/`References` naming the thread's root so that mail clients thread them, and
//! a text and an HTML part ([`message`]).
//!
//! What a notification is made of is checked first: the [`Thread`] (`thread`), the
//! [`Recipient`] and the [`Reason`] (`recipient`), each refusing with [`InvalidInput`]
//! (`input`) a value that could not go into a header as it is. The reply key and the reply
//! directory live in [`store`].
//!
//! ```no_run
//! # fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use appliance::datadir::DataDir;
//! use appliance::notify::{self, Notification, Reason, Recipient, Thread};
//!
//! let notification = Notification {
//!     thread: Thread::issue("octo/widgets", 42)?,
//!     comment_id: 123,
//!     recipient: Recipient::new("bob", "bob@example.com")?,
//!     author: "Alice Liddell".into(),
//!     title: "Widgets fall over".into(),
//!     body: "I can reproduce this.".into(),
//!     reason: Reason::Subscribed,
//! };
//! let data_dir = DataDir::new("/var/lib/appliance");
//! match notify::enqueue(&data_dir, &notification, std::time::SystemTime::now())? {
//!     notify::Enqueued::Queued(q) => println!("queued {}", q.id),
//!     notify::Enqueued::EmailDisabled => println!("email is off"),
//! }
//! # Ok(()) }
//! ```

mod input;
pub mod message;
mod recipient;
pub mod store;
mod thread;
pub mod token;

use std::time::SystemTime;

pub use input::InvalidInput;
pub use message::Composer;
pub use recipient::{Reason, Recipient};
pub use store::{KeyError, ReplyDirectory, load_or_create_key};
pub use thread::{Thread, ThreadKind};
pub use token::{ReplyKey, TokenClaims, TokenError, issue_token, reply_address, verify_token};

use crate::datadir::DataDir;
use crate::outbox::{EntryId, Outbox};
use crate::settings::{Settings, SettingsError};

/// A new comment to tell one user about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// The thread commented on.
    pub thread: Thread,
    /// The comment's id (unique in the thread); it makes the Message-ID.
    pub comment_id: u64,
    /// Who gets the notification.
    pub recipient: Recipient,
    /// The comment's author, as shown in `From`.
    pub author: String,
    /// The thread's title; the subject is `Re: [owner/repo] TITLE (#42)`.
    pub title: String,
    /// The comment, plain text.
    pub body: String,
    /// Why the recipient gets it.
    pub reason: Reason,
}

impl Notification {
    /// The thread's kind, which is the notification's kind: an issue comment, a pull request
    /// comment or a commit comment.
    pub fn kind(&self) -> ThreadKind {
        self.thread.kind()
    }
}

/// Why a notification could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A bad input value.
    #[error("invalid notification: {0}")]
    Invalid(#[from] InvalidInput),
    /// The settings cannot be read, are invalid, or have no `[email]` section.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The reply key cannot be read or created.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The reply directory cannot be read or written.
    #[error("cannot use the reply directory: {0}")]
    Directory(std::io::Error),
    /// The message cannot be built.
    #[error("cannot build the message: {0}")]
    Message(std::io::Error),
    /// The outbox cannot take the message.
    #[error("cannot write to the outbox: {0}")]
    Outbox(std::io::Error),
}

/// A notification in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    /// The outbox entry.
    pub id: EntryId,
    /// The message's `Message-ID`, without angle brackets.
    pub message_id: String,
    /// The `Reply-To` address.
    pub reply_to: String,
    /// The envelope recipient.
    pub to: String,
}

/// What [`enqueue`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// The notification is in the outbox.
    Queued(Queued),
    /// Email is turned off (`enabled = false`): nothing was queued.
    EmailDisabled,
}

/// Builds the notification with the data directory's settings, reply key and reply directory,
/// and puts it in the outbox (durably: it is on disk when this returns). Nothing is sent here;
/// `appliance outbox deliver` (or [`crate::outbox::Deliverer`]) sends it.
///
/// # Errors
/// [`NotifyError`]: invalid settings (or no `[email]`), the key, the reply directory or the
/// outbox cannot be used.
pub fn enqueue(
    data_dir: &DataDir,
    notification: &Notification,
    now: SystemTime,
) -> Result<Enqueued, NotifyError> {
    enqueue_dated(data_dir, notification, now, now)
}

/// Like [`enqueue`], but the message (its `Date` and its reply token) is dated `issued_at`:
/// for reproducing a reply to an old notification (an expired token). The outbox entry is
/// still created `now`.
///
/// # Errors
/// As [`enqueue`].
pub fn enqueue_dated(
    data_dir: &DataDir,
    notification: &Notification,
    now: SystemTime,
    issued_at: SystemTime,
) -> Result<Enqueued, NotifyError> {
    let path = data_dir.settings_file();
    let settings = Settings::load(&path)?;
    let email = settings.require_email(&path.display().to_string())?;
    if !email.enabled {
        return Ok(Enqueued::EmailDisabled);
    }
    let key = load_or_create_key(data_dir)?;
    let (user_id, thread_id) = ReplyDirectory::in_data_dir(data_dir)
        .ids_for_recipient(&notification.recipient, &notification.thread)
        .map_err(NotifyError::Directory)?;
    let composer = Composer::new(&settings.hostname, email, key);
    let composed = composer
        .compose(notification, user_id, thread_id, issued_at)
        .map_err(NotifyError::Message)?;
    let outbox = Outbox::open(data_dir).map_err(NotifyError::Outbox)?;
    let label = format!(
        "{} comment {} on {}",
        notification.kind().description(),
        notification.comment_id,
        notification.thread
    );
    let id = outbox
        .enqueue(
            &composed.envelope,
            &composed.message,
            Some(&composed.message_id),
            Some(&label),
            now,
        )
        .map_err(NotifyError::Outbox)?;
    Ok(Enqueued::Queued(Queued {
        id,
        message_id: composed.message_id,
        reply_to: composed.reply_to,
        to: notification.recipient.address().to_owned(),
    }))
}
