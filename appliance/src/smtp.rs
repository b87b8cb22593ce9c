//! The appliance's own SMTP client (submission of outbound mail), on tokio and tokio-rustls.
//!
//! [`send`] has one whole conversation with the configured server, records it byte for byte in
//! the [`ConversationLog`] (secrets redacted), and says precisely what went wrong: the
//! [`Step`], the server's [`Reply`] with every line, whether it is permanent or temporary, and
//! a hint for the administrator ([`SendError::hint`]).
//!
//! Modules, one job each: `connection` (plain/TLS stream, timeouts, recording), `session` (the
//! steps), `tls` (rustls configuration and handshake errors), `sasl` (PLAIN, LOGIN,
//! CRAM-MD5), `capabilities` (the EHLO reply), `data` (dot-stuffing), `reply`, `step`,
//! `error` and `hint`, `envelope`.

mod capabilities;
mod connection;
mod data;
mod envelope;
mod error;
mod hint;
mod reply;
mod sasl;
mod session;
mod step;
mod tls;

pub use capabilities::Capabilities;
pub use connection::target as server_target;
pub use envelope::{AddressError, Envelope};
pub use error::{Cause, CertificateProblem, ErrorKind, SendError};
pub use reply::{MalformedReply, Reply};
pub use step::Step;

use crate::convlog::{Conversation, ConversationLog, LogError};
use crate::settings::EmailSettings;

/// A message the server accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// The server's reply after the final dot (`250 2.0.0 Ok: queued as …`).
    pub reply: Reply,
    /// The message went inside TLS.
    pub encrypted: bool,
    /// The appliance authenticated.
    pub authenticated: bool,
}

/// What [`send`] did: the delivery result, and whether the conversation reached the log.
#[derive(Debug)]
pub struct SendOutcome {
    /// Delivered, or why not.
    pub result: Result<Delivered, SendError>,
    /// Set when the conversation could not be appended to the log. It never turns a delivered
    /// message into a failure (that would make a retry send it twice).
    pub log_error: Option<LogError>,
}

/// Sends `message` (a complete RFC 5322 message; line endings are made CRLF and lines are
/// dot-stuffed on the way) to the envelope's recipients through the server of `settings`,
/// and appends the conversation to `log`.
///
/// The steps, in order: connect; the TLS handshake at once for `encryption = "tls"`; the
/// greeting; EHLO (HELO if EHLO is refused with 5xx); STARTTLS when required or offered (then
/// EHLO again); AUTH; MAIL FROM; RCPT TO for each recipient (any refusal stops the send);
/// DATA; QUIT. Every connect, read and write waits at most `settings.timeout`.
///
/// # Errors
/// [`SendError`] naming the step that failed. A log that cannot be written is not an error
/// here: see [`send_logged`] to learn about it.
pub async fn send(
    settings: &EmailSettings,
    envelope: &Envelope,
    message: &[u8],
    log: &ConversationLog,
) -> Result<Delivered, SendError> {
    send_logged(settings, envelope, message, log).await.result
}

/// [`send`], also reporting whether the conversation could be written to the log.
pub async fn send_logged(
    settings: &EmailSettings,
    envelope: &Envelope,
    message: &[u8],
    log: &ConversationLog,
) -> SendOutcome {
    send_logged_with(settings, envelope, message, log, &mut |_| {}).await
}

/// [`send_logged`], calling `on_accepted` with the server's reply to the final dot the moment
/// it has been read: before QUIT, before the connection is closed and before the log is
/// written. The server has taken the message at that point, so this is where a queue records
/// the delivery; whatever happens later in the conversation cannot undo it (the result is
/// `Ok` from then on). `on_accepted` is called at most once, and only when the result is `Ok`.
pub async fn send_logged_with(
    settings: &EmailSettings,
    envelope: &Envelope,
    message: &[u8],
    log: &ConversationLog,
    on_accepted: &mut (dyn FnMut(&Reply) + Send),
) -> SendOutcome {
    let mut conversation = Conversation::new();
    let result =
        session::converse(settings, envelope, message, &mut conversation, on_accepted).await;
    let log_error = log.append(&conversation).err();
    SendOutcome { result, log_error }
}
