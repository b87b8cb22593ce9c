//! Notification mail: a comment on an issue, a pull request or a commit, sent to one user
//! through the outbox.
//!
//! Every notification is From and To the no-reply address (the reference's rule; the real
//! recipient is only in the envelope's `RCPT TO`), with `Reply-To: reply+TOKEN@reply.HOSTNAME`
//! where the signed TOKEN ([`token`]) names the user and the thread, a `Cc` on
//! `noreply.HOSTNAME` that says why the user gets it (`Cc: Subscribed
//! <subscribed@noreply.HOSTNAME>`, as GitHub does with `mention@noreply.github.com`: a
//! reply-all reaches the appliance, which may discard it), a `Message-ID` per comment and
//! `In-Reply-To`/`References` naming the thread's root so that mail clients thread them, and
//! a text and an HTML part ([`message`]).
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

pub mod message;
pub mod store;
pub mod token;

use std::fmt;
use std::time::SystemTime;

pub use message::Composer;
pub use store::{KeyError, ReplyDirectory, load_or_create_key};
pub use token::{ReplyKey, TokenClaims, TokenError, issue_token, reply_address, verify_token};

use crate::datadir::DataDir;
use crate::outbox::{EntryId, Outbox};
use crate::settings::{Settings, SettingsError};
use crate::syntax;

/// What a thread is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThreadKind {
    /// An issue.
    Issue,
    /// A pull request.
    PullRequest,
    /// A commit.
    Commit,
}

impl ThreadKind {
    /// The name used in thread paths and Message-IDs: `issue`, `pull`, `commit`.
    pub fn name(self) -> &'static str {
        match self {
            ThreadKind::Issue => "issue",
            ThreadKind::PullRequest => "pull",
            ThreadKind::Commit => "commit",
        }
    }

    /// For people: `issue`, `pull request`, `commit`.
    pub fn description(self) -> &'static str {
        match self {
            ThreadKind::Issue => "issue",
            ThreadKind::PullRequest => "pull request",
            ThreadKind::Commit => "commit",
        }
    }
}

/// A thread of comments: an issue, a pull request or a commit in a repository. Built through
/// the checked constructors, so every field can go into a header as it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Thread {
    repo: String,
    kind: ThreadKind,
    /// The number (issues, pull requests) or the full lower-case SHA (commits).
    key: String,
}

/// A value a notification cannot be made with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidInput {
    /// The input (`repo`, `number`, `commit`, `to`, `to_user` …).
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidInput {
    InvalidInput {
        field,
        message: message.into(),
    }
}

fn check_owner(name: &str, field: &'static str) -> Result<(), InvalidInput> {
    let ok = (1..=39).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{name:?} is not a valid name (1-39 letters, digits and inner hyphens)"),
        ))
    }
}

fn check_repo(repo: &str) -> Result<(), InvalidInput> {
    let Some((owner, name)) = repo.split_once('/') else {
        return Err(invalid("repo", format!("{repo:?} is not OWNER/NAME")));
    };
    check_owner(owner, "repo")?;
    let ok = (1..=100).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.contains("..")
        && name != ".";
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "repo",
            format!(
                "{repo:?}: the repository name must be 1-100 letters, digits, '-', '_' and '.' (no '..')"
            ),
        ))
    }
}

impl Thread {
    /// Issue `number` of `repo` (`owner/name`).
    ///
    /// # Errors
    /// [`InvalidInput`] for a bad repository name or number 0.
    pub fn issue(repo: &str, number: u64) -> Result<Thread, InvalidInput> {
        Thread::numbered(repo, ThreadKind::Issue, number)
    }

    /// Pull request `number` of `repo`.
    ///
    /// # Errors
    /// [`InvalidInput`] for a bad repository name or number 0.
    pub fn pull_request(repo: &str, number: u64) -> Result<Thread, InvalidInput> {
        Thread::numbered(repo, ThreadKind::PullRequest, number)
    }

    /// Commit `sha` (7-40 hex digits) of `repo`.
    ///
    /// # Errors
    /// [`InvalidInput`] for a bad repository name or SHA.
    pub fn commit(repo: &str, sha: &str) -> Result<Thread, InvalidInput> {
        check_repo(repo)?;
        if !(7..=40).contains(&sha.len()) || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                "commit",
                format!("{sha:?} is not a commit SHA (7-40 hex digits)"),
            ));
        }
        Ok(Thread {
            repo: repo.to_owned(),
            kind: ThreadKind::Commit,
            key: sha.to_ascii_lowercase(),
        })
    }

    fn numbered(repo: &str, kind: ThreadKind, number: u64) -> Result<Thread, InvalidInput> {
        check_repo(repo)?;
        if number == 0 {
            return Err(invalid("number", "must be 1 or more"));
        }
        Ok(Thread {
            repo: repo.to_owned(),
            kind,
            key: number.to_string(),
        })
    }

    /// Reads a thread path as [`Thread::path`] writes it: `owner/repo/issue/42`,
    /// `owner/repo/pull/7`, `owner/repo/commit/SHA`.
    ///
    /// # Errors
    /// [`InvalidInput`] naming `thread`, or what the constructors refuse.
    pub fn parse_path(path: &str) -> Result<Thread, InvalidInput> {
        let parts: Vec<&str> = path.split('/').collect();
        let [owner, name, kind, key] = parts[..] else {
            return Err(invalid(
                "thread",
                format!("{path:?} is not OWNER/REPO/KIND/ID"),
            ));
        };
        let repo = format!("{owner}/{name}");
        let number = || {
            key.parse::<u64>()
                .map_err(|_| invalid("thread", format!("{key:?} is not a number")))
        };
        match kind {
            "issue" => Thread::issue(&repo, number()?),
            "pull" => Thread::pull_request(&repo, number()?),
            "commit" => Thread::commit(&repo, key),
            _ => Err(invalid("thread", format!("unknown kind {kind:?}"))),
        }
    }

    /// The repository, `owner/name`.
    pub fn repo(&self) -> &str {
        &self.repo
    }

    /// The kind of thread.
    pub fn kind(&self) -> ThreadKind {
        self.kind
    }

    /// The issue or pull request number.
    pub fn number(&self) -> Option<u64> {
        match self.kind {
            ThreadKind::Commit => None,
            _ => self.key.parse().ok(),
        }
    }

    /// The commit's SHA.
    pub fn sha(&self) -> Option<&str> {
        (self.kind == ThreadKind::Commit).then_some(self.key.as_str())
    }

    /// `owner/repo/issue/42`: the thread's name in the reply directory and the local part of
    /// its root Message-ID.
    pub fn path(&self) -> String {
        format!("{}/{}/{}", self.repo, self.kind.name(), self.key)
    }

    /// The path of its web page: `owner/repo/issues/42`, `owner/repo/pull/7`,
    /// `owner/repo/commit/SHA`.
    pub fn web_path(&self) -> String {
        let segment = match self.kind {
            ThreadKind::Issue => "issues",
            ThreadKind::PullRequest => "pull",
            ThreadKind::Commit => "commit",
        };
        format!("{}/{segment}/{}", self.repo, self.key)
    }

    /// How a subject refers to it: `#42`, or the short SHA `abc1234`.
    pub fn short_ref(&self) -> String {
        match self.kind {
            ThreadKind::Commit => self.key.chars().take(7).collect(),
            _ => format!("#{}", self.key),
        }
    }
}

impl fmt::Display for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// Who gets a notification: a user name and the user's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    login: String,
    address: String,
}

impl Recipient {
    /// The user `login` at `address`.
    ///
    /// # Errors
    /// [`InvalidInput`] for a bad user name (1-39 letters, digits and inner hyphens) or an
    /// address that is not a plain `local@domain`.
    pub fn new(login: &str, address: &str) -> Result<Recipient, InvalidInput> {
        check_owner(login, "to_user")?;
        syntax::check_email_address(address)
            .map_err(|e| invalid("to", format!("{address:?}: {e}")))?;
        Ok(Recipient {
            login: login.to_owned(),
            address: address.to_owned(),
        })
    }

    /// The user name.
    pub fn login(&self) -> &str {
        &self.login
    }

    /// The address.
    pub fn address(&self) -> &str {
        &self.address
    }
}

/// Why the user gets the notification; it becomes the `Cc` on `noreply.HOSTNAME` and the
/// `X-Appliance-Reason` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The user watches the thread or the repository.
    Subscribed,
    /// The user was mentioned.
    Mention,
    /// The user opened the thread.
    Author,
    /// The user commented on the thread.
    Comment,
    /// The thread is assigned to the user.
    Assign,
    /// The user's review was requested.
    ReviewRequested,
}

impl Reason {
    /// Every value, as the CLI takes them.
    pub const NAMES: &'static str =
        "subscribed, mention, author, comment, assign, review-requested";

    /// Reads a value as the CLI takes it.
    pub fn from_name(name: &str) -> Option<Reason> {
        Some(match name {
            "subscribed" => Reason::Subscribed,
            "mention" => Reason::Mention,
            "author" => Reason::Author,
            "comment" => Reason::Comment,
            "assign" => Reason::Assign,
            "review-requested" => Reason::ReviewRequested,
            _ => return None,
        })
    }

    /// The local part of the Cc address and the `X-Appliance-Reason` value.
    pub fn local_part(self) -> &'static str {
        match self {
            Reason::Subscribed => "subscribed",
            Reason::Mention => "mention",
            Reason::Author => "author",
            Reason::Comment => "comment",
            Reason::Assign => "assign",
            Reason::ReviewRequested => "review_requested",
        }
    }

    /// The Cc's display name.
    pub fn display_name(self) -> &'static str {
        match self {
            Reason::Subscribed => "Subscribed",
            Reason::Mention => "Mention",
            Reason::Author => "Author",
            Reason::Comment => "Comment",
            Reason::Assign => "Assign",
            Reason::ReviewRequested => "Review requested",
        }
    }

    /// The end of "You are receiving this because …".
    pub fn explanation(self) -> &'static str {
        match self {
            Reason::Subscribed => "you are subscribed to this thread",
            Reason::Mention => "you were mentioned",
            Reason::Author => "you opened this thread",
            Reason::Comment => "you commented on this thread",
            Reason::Assign => "you were assigned",
            Reason::ReviewRequested => "your review was requested",
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads() {
        let t = Thread::issue("octo/widgets", 42).unwrap();
        assert_eq!(t.path(), "octo/widgets/issue/42");
        assert_eq!(t.web_path(), "octo/widgets/issues/42");
        assert_eq!(t.short_ref(), "#42");
        assert_eq!(Thread::parse_path(&t.path()), Ok(t));
        let c = Thread::commit("octo/.github", "ABCDEF0123456789").unwrap();
        assert_eq!(c.path(), "octo/.github/commit/abcdef0123456789");
        assert_eq!(c.short_ref(), "abcdef0");
        assert_eq!(c.sha(), Some("abcdef0123456789"));
        assert_eq!(Thread::parse_path(&c.path()), Ok(c));
        let p = Thread::pull_request("a/b", 7).unwrap();
        assert_eq!(p.web_path(), "a/b/pull/7");
        assert_eq!(p.number(), Some(7));
        for bad in [
            "", "a", "a/", "/b", "-a/b", "a/b/c", "a/..", "a/b c", "a/x..y", "a<b>/c",
        ] {
            assert!(Thread::issue(bad, 1).is_err(), "{bad:?}");
        }
        assert!(Thread::issue("a/b", 0).is_err());
        assert!(Thread::commit("a/b", "abc").is_err());
        assert!(Thread::commit("a/b", "zzzzzzz").is_err());
        assert!(Thread::parse_path("a/b/wiki/1").is_err());
    }

    #[test]
    fn recipients_and_reasons() {
        assert!(Recipient::new("bob", "bob@example.com").is_ok());
        assert_eq!(
            Recipient::new("bob", "bob@example.com>\r\nRCPT TO:<x@y>")
                .unwrap_err()
                .field,
            "to"
        );
        assert_eq!(
            Recipient::new("b b", "bob@example.com").unwrap_err().field,
            "to_user"
        );
        for name in Reason::NAMES.split(", ") {
            assert!(Reason::from_name(name).is_some(), "{name}");
        }
    }
}
