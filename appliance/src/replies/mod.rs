//! The reply processor ("metroplex" in the reference, `docs/email-subsystem.md`): replies to
//! notifications, delivered by the inbound MTA into `DATA_DIR/mail/reply/new/`, become comments
//! on their issue or pull request.
//!
//! For each file: parse it with mail-parser ([`parse`]); refuse auto-replies and bounces; find
//! the `reply+TOKEN@reply.HOSTNAME` address among the recipients (`To`, `Cc`, `Delivered-To`,
//! `X-Original-To`); verify the token's signature and age with the data directory's reply
//! key; look up the user and thread it names in the reply directory; check that the message
//! is `From` an address notifications to that user were sent to; strip quoted text and the
//! signature ([`strip`]); record the comment ([`store`], exactly once per Message-ID); move
//! the file to `incoming-mail/success/` — or, for anything it cannot use, to
//! `incoming-mail/failure/` with the reason in the log ([`log`]). See [`processor`] for the
//! crash-safety argument.

pub mod log;
pub mod parse;
pub mod processor;
pub mod store;
pub mod strip;

pub use processor::{Disposition, Handled, Processor};
pub use store::{Comment, CommentStore, Recorded};

use crate::notify::TokenError;

/// Why a message did not become a comment.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Not an email message.
    #[error("not a parseable email message")]
    Unparseable,
    /// An auto-reply or a bounce.
    #[error("{0}")]
    Automatic(parse::Automatic),
    /// No `reply+TOKEN` address among the recipients.
    #[error("no reply+TOKEN@{0} address among the recipients")]
    NoReplyAddress(String),
    /// The token is forged, altered, expired or malformed.
    #[error("{0}")]
    Token(TokenError),
    /// The token names a user the reply directory does not know.
    #[error("the reply token names user id {0}, which is unknown")]
    UnknownUser(u32),
    /// The token names a thread the reply directory does not know.
    #[error("the reply token names thread id {0}, which is unknown")]
    UnknownThread(u32),
    /// The token's kind of thread is not the thread's.
    #[error("the reply token's kind of thread does not match {thread}")]
    KindMismatch {
        /// The thread.
        thread: String,
    },
    /// The reply directory cannot be read.
    #[error("the reply directory cannot be read: {0}")]
    Directory(String),
    /// No `From` address.
    #[error("the message has no From address")]
    NoSender,
    /// The sender is not the user the notification was sent to.
    #[error(
        "{from} may not comment as {user}: notifications to {user} were not sent to that address"
    )]
    WrongSender {
        /// The `From` address.
        from: String,
        /// The user the token names.
        user: String,
    },
    /// Nothing is left once quotes and signature are removed.
    #[error("the reply is empty once quoted text and the signature are removed")]
    Empty,
    /// Another file with the same Message-ID was recorded already.
    #[error("a reply with this Message-ID was already recorded (from {source_file})")]
    Duplicate {
        /// The file it was recorded from.
        source_file: String,
    },
}
