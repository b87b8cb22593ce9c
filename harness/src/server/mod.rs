//! The fake SMTP server: binds a socket, plays a [`ServerScenario`] to every connection (one tokio
//! task each) and keeps what happened for assertions.
//!
//! - [`FakeSmtpServer`] is the handle tests hold: its address, the captured messages, the
//!   transcripts, waits with timeouts, and verification of the scenario's expectations (also on
//!   drop, like wiremock's `MockServer`).
//! - `builder.rs`: [`Builder`], the server's settings, and the start; `accept.rs`: the accept
//!   loop; `error.rs`: what can go wrong.
//! - `session/` plays one connection: a sans-IO core (protocol checks, rules, built-in
//!   replies, the script) and the driver that connects it to a socket.

mod accept;
mod builder;
mod error;
mod session;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::rustls::ServerConfig;

pub use builder::Builder;
pub use error::{ServerError, VerificationError, WaitError};

use crate::message::ReceivedMessage;
use crate::scenario::ServerScenario;
use crate::verify::ConversationRecord;

/// State shared by the accept loop, the sessions and the handle.
pub(crate) struct Shared {
    scenario: Arc<ServerScenario>,
    /// The built-in replies of the scenario, made once.
    defaults: Arc<session::defaults::Defaults>,
    tls: Option<Arc<ServerConfig>>,
    next_session: AtomicU64,
    records: Mutex<Vec<ConversationRecord>>,
    messages: Mutex<Vec<ReceivedMessage>>,
    changed: Notify,
    /// Connections accepted and not yet closed.
    open: AtomicUsize,
    keep_records: bool,
    /// The most events a connection's transcript keeps (`None`: all).
    transcript_limit: Option<usize>,
    on_close: Option<mpsc::UnboundedSender<ConversationRecord>>,
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    fn capture(&self, message: ReceivedMessage) {
        if self.keep_records {
            lock(&self.messages).push(message);
        }
        self.changed.notify_waiters();
    }

    fn finish(&self, record: ConversationRecord) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        match (&self.on_close, self.keep_records) {
            (Some(tx), true) => {
                let _ = tx.send(record.clone());
                lock(&self.records).push(record);
            }
            (Some(tx), false) => {
                let _ = tx.send(record);
            }
            (None, true) => lock(&self.records).push(record),
            (None, false) => {}
        }
        self.changed.notify_waiters();
    }
}

/// A running fake SMTP server. Dropping it stops it (and, if the scenario has expectations,
/// panics when a connection broke them, unless the thread is already panicking).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use smtp_harness::{FakeSmtpServer, ServerScenario};
/// use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
///
/// let scenario: ServerScenario = "S: 220 mx.example.com ESMTP\nwhen RCPT #2\n    S: 452 4.5.3 Too many recipients\n".parse()?;
/// let server = FakeSmtpServer::start(scenario).await?;
///
/// // Any SMTP client will do; here, a few raw lines.
/// let stream = tokio::net::TcpStream::connect(server.addr()).await?;
/// let (read, mut write) = stream.into_split();
/// let mut lines = BufReader::new(read).lines();
/// write.write_all(b"EHLO me\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\nQUIT\r\n").await?;
/// while let Some(line) = lines.next_line().await? {
///     if line.starts_with("221") { break }
/// }
///
/// let sessions = server.wait_for_sessions(1, std::time::Duration::from_secs(5)).await?;
/// let text = sessions[0].transcript.to_string();
/// assert!(text.contains(r#"-> "452 4.5.3 Too many recipients\r\n""#), "{text}");
/// # Ok(()) }
/// ```
pub struct FakeSmtpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    accept: Option<JoinHandle<()>>,
    verify_on_drop: bool,
}

impl FakeSmtpServer {
    /// Starts a server for `scenario` on `127.0.0.1` with an ephemeral port.
    ///
    /// # Errors
    /// [`ServerError`] if the socket cannot be bound or the certificate cannot be loaded.
    pub async fn start(scenario: ServerScenario) -> Result<Self, ServerError> {
        Self::builder(scenario).start().await
    }

    /// A [`Builder`] to choose the address, certificates and record keeping.
    pub fn builder(scenario: ServerScenario) -> Builder {
        Builder::new(scenario)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The scenario being served.
    pub fn scenario(&self) -> &ServerScenario {
        &self.shared.scenario
    }

    /// Messages accepted so far, in order.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        lock(&self.shared.messages).clone()
    }

    /// Records of the connections that have closed, in the order they closed.
    pub fn sessions(&self) -> Vec<ConversationRecord> {
        lock(&self.shared.records).clone()
    }

    /// Waits until at least `n` messages were accepted.
    ///
    /// # Errors
    /// [`WaitError`] if they have not arrived within `timeout`.
    pub async fn wait_for_messages(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMessage>, WaitError> {
        self.wait(n, timeout, "messages", || {
            lock(&self.shared.messages).clone()
        })
        .await
    }

    /// Waits until at least `n` connections have closed.
    ///
    /// # Errors
    /// [`WaitError`] if they have not closed within `timeout`.
    pub async fn wait_for_sessions(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ConversationRecord>, WaitError> {
        self.wait(n, timeout, "closed connections", || {
            lock(&self.shared.records).clone()
        })
        .await
    }

    /// Waits until no connection is open (every accepted one has closed), then returns the
    /// records of all closed connections. Gives up after `timeout` and returns what it has.
    pub async fn wait_until_idle(&self, timeout: Duration) -> Vec<ConversationRecord> {
        self.wait_until(timeout, || self.shared.open.load(Ordering::Acquire) == 0)
            .await;
        self.sessions()
    }

    async fn wait<T>(
        &self,
        n: usize,
        timeout: Duration,
        what: &'static str,
        get: impl Fn() -> Vec<T>,
    ) -> Result<Vec<T>, WaitError> {
        if self.wait_until(timeout, || get().len() >= n).await {
            Ok(get())
        } else {
            Err(WaitError {
                what,
                wanted: n,
                got: get().len(),
                waited: timeout,
            })
        }
    }

    /// Waits until `done()` holds (checked whenever a message or a connection ends); `false`
    /// if it still does not after `timeout`.
    async fn wait_until(&self, timeout: Duration, done: impl Fn() -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return done();
            }
        }
    }

    /// Checks every closed connection against the scenario's expectations. Connections still
    /// open are not judged: wait for them with [`FakeSmtpServer::wait_for_sessions`] first.
    ///
    /// # Errors
    /// [`VerificationError`] listing the connections that broke them (or saying none was made
    /// although the scenario expects something).
    pub fn verify(&self) -> Result<(), VerificationError> {
        let records = self.sessions();
        let scenario = &self.shared.scenario;
        let failing: Vec<ConversationRecord> =
            records.iter().filter(|r| !r.passed()).cloned().collect();
        if !failing.is_empty() || (records.is_empty() && !scenario.expectations.is_empty()) {
            return Err(VerificationError {
                scenario: scenario.header.name.clone(),
                sessions: failing,
                still_open: self.shared.open.load(Ordering::Acquire),
            });
        }
        Ok(())
    }

    /// Stops accepting, tells open connections `421` and waits for them to close.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(accept) = self.accept.take() {
            let _ = accept.await;
        }
    }

    /// Waits until the accept loop ends (after the accept limit is reached and every
    /// connection has closed, or after shutdown).
    pub async fn finished(&mut self) {
        if let Some(accept) = self.accept.take() {
            let _ = accept.await;
        }
    }

    /// A sender that stops the server when `true` is sent (for signal handlers).
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

impl Drop for FakeSmtpServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if self.verify_on_drop
            && !std::thread::panicking()
            && let Err(e) = self.verify()
        {
            panic!("{e}");
        }
    }
}
