//! The inbound side's SMTP server: it receives replies to notifications for `reply.HOSTNAME`
//! and `noreply.HOSTNAME`, refuses to relay anything else, offers STARTTLS with the configured
//! certificate, enforces a size limit and timeouts, delivers into the maildir
//! `DATA_DIR/mail/reply/` (the `250` after the message is sent only once the file is durable
//! in `new/`), and logs to `DATA_DIR/logs/mail.log` in Postfix's shape.
//!
//! - [`command`]: the command parser;
//! - [`decode`]: command lines and message content cut out of the bytes received;
//! - [`session`]: RFC 5321's state machine, with no socket (lines in; replies, log lines and
//!   the next step out);
//! - [`connection`]: the I/O around a session (reads, writes, timeouts, STARTTLS, shutdown);
//! - [`delivery`]: trace headers and the write into the maildir;
//! - [`maildir`]: durable delivery with unique names;
//! - [`mail_log`]: the log lines;
//! - [`tls`]: the certificate and key.

pub mod command;
pub mod connection;
pub mod decode;
pub mod delivery;
pub mod mail_log;
pub mod maildir;
pub mod session;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_rustls::rustls::ServerConfig;

use crate::datadir::DataDir;
use crate::settings::Settings;
use crate::shutdown::Shutdown;
pub use mail_log::MailLog;
pub use maildir::Maildir;

/// Files in the maildir's `tmp/` older than this are left over from a crash and removed at
/// start (the maildir specification's 36 hours).
pub const STALE_TMP: Duration = Duration::from_secs(36 * 3600);

/// The most sessions at once; more connections are answered `421` and closed.
pub const MAX_SESSIONS: usize = 500;

/// How the server behaves: names, limits, TLS, policy, and where mail goes.
#[derive(Clone, Debug)]
pub struct InboundConfig {
    /// The appliance's host name: the greeting's name, and the accepted domains are
    /// `reply.HOSTNAME` and `noreply.HOSTNAME`.
    pub hostname: String,
    /// The largest message accepted, in octets.
    pub max_message_size: u64,
    /// How long a client may stay silent.
    pub timeout: Duration,
    /// STARTTLS is offered with this configuration.
    pub tls: Option<Arc<ServerConfig>>,
    /// Discard mail whose recipients are all on `noreply.HOSTNAME`.
    pub discard_to_noreply: bool,
    /// Email is turned on (`email.enabled`); when it is off every session is greeted with
    /// `554` and only `QUIT` is accepted.
    pub enabled: bool,
    /// Where messages are delivered.
    pub maildir: Maildir,
    /// The MTA's log.
    pub log: Arc<MailLog>,
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    /// The STARTTLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] tls::ServerTlsError),
    /// The maildir cannot be created.
    #[error("cannot create the maildir {}: {source}", path.display())]
    Maildir {
        /// The maildir.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl InboundConfig {
    /// The configuration from the settings and the data directory (creating the maildir).
    ///
    /// # Errors
    /// [`InboundError`] when the certificate or key cannot be read, or the maildir created.
    pub fn from_settings(settings: &Settings, data_dir: &DataDir) -> Result<Self, InboundError> {
        let inbound = &settings.inbound;
        let tls = match &inbound.tls {
            Some(files) => Some(tls::load_server_config(&files.cert, &files.key)?),
            None => None,
        };
        let maildir = Maildir::new(data_dir.reply_maildir());
        maildir
            .create_dirs()
            .and_then(|()| maildir.clean_tmp(STALE_TMP))
            .map_err(|source| InboundError::Maildir {
                path: maildir.root().to_owned(),
                source,
            })?;
        Ok(InboundConfig {
            hostname: settings.hostname.clone(),
            max_message_size: inbound.max_message_size,
            timeout: inbound.timeout,
            tls,
            discard_to_noreply: settings
                .email
                .as_ref()
                .is_some_and(|e| e.discard_to_noreply),
            enabled: settings.email.as_ref().is_some_and(|e| e.enabled),
            maildir,
            log: Arc::new(MailLog::new(data_dir.mail_log_file(), &settings.hostname)),
        })
    }

    /// Whether mail for `address` is accepted here, and whether it is for the no-reply domain.
    pub fn domain_of(&self, address: &str) -> Option<Domain> {
        let (_, domain) = address.rsplit_once('@')?;
        let domain = domain.trim_end_matches('.');
        let reply = format!("reply.{}", self.hostname);
        let noreply = format!("noreply.{}", self.hostname);
        if domain.eq_ignore_ascii_case(&reply) {
            Some(Domain::Reply)
        } else if domain.eq_ignore_ascii_case(&noreply) {
            Some(Domain::NoReply)
        } else {
            None
        }
    }
}

/// The domains the server accepts mail for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// `reply.HOSTNAME`: replies to notifications.
    Reply,
    /// `noreply.HOSTNAME`: the Cc of notifications (may be discarded).
    NoReply,
}

/// Accepts connections until `shutdown` comes, one task per session; then tells sessions
/// waiting for a command `421`, and waits (at most `grace`) for the others to finish.
///
/// # Errors
/// Only when accepting fails for good (never for one client's error).
pub async fn serve(
    listener: TcpListener,
    config: Arc<InboundConfig>,
    mut shutdown: Shutdown,
    grace: Duration,
) -> std::io::Result<()> {
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let config = Arc::clone(&config);
                    if sessions.len() >= MAX_SESSIONS {
                        sessions.spawn(connection::too_busy(stream, peer, config));
                        continue;
                    }
                    sessions.spawn(connection::run(stream, peer, config, shutdown.clone()));
                }
                Err(e) if is_transient(&e) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e),
            },
            () = shutdown.recv() => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(grace, async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    ) || e.raw_os_error().is_some_and(|c| c == 24 || c == 23) // EMFILE, ENFILE
}

/// The address a listener is bound to, for the `listening on ADDR` line.
pub fn bound(listener: &TcpListener) -> std::io::Result<SocketAddr> {
    listener.local_addr()
}
