//! The fake SMTP server: binds a socket, plays a [`ServerScenario`] to every connection (one tokio
//! task each) and keeps what happened for assertions.
//!
//! - [`FakeSmtpServer`] is the handle tests hold: its address, the captured messages, the
//!   transcripts, waits with timeouts, and verification of the scenario's expectations (also on
//!   drop, like wiremock's `MockServer`).
//! - `session/` plays one connection: a sans-IO core (protocol checks, rules, built-in
//!   replies, the script) and the driver that connects it to a socket.

mod session;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::rustls::ServerConfig;

use crate::certs::{CertError, CertSource};
use crate::message::ReceivedMessage;
use crate::scenario::ServerScenario;
use crate::transcript::Transcript;
use crate::verify::Failure;

/// Everything recorded about one finished connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// Both directions and the events, in order.
    pub transcript: Transcript,
    /// Expectations (and script steps) the client did not meet; empty when it behaved.
    pub failures: Vec<Failure>,
}

impl SessionRecord {
    /// `true` if the client met every expectation.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The scenario's certificate could not be loaded.
    #[error("cannot load the certificate for the scenario")]
    Certificate(#[from] CertError),
}

/// A wait on the server ran out of time.
#[derive(Debug, thiserror::Error)]
#[error("waited {waited:?} for {wanted} {what} but only {got} arrived")]
pub struct WaitError {
    /// What was awaited (`messages`, `connections`).
    pub what: &'static str,
    /// How many were wanted.
    pub wanted: usize,
    /// How many there were.
    pub got: usize,
    /// How long the wait lasted.
    pub waited: Duration,
}

/// Connections broke the scenario's expectations.
#[derive(Debug, thiserror::Error)]
#[error("{}", report(.scenario, .sessions, *.still_open))]
pub struct VerificationError {
    /// The scenario's name.
    pub scenario: String,
    /// The failing connections (an empty list: no connection has closed yet).
    pub sessions: Vec<SessionRecord>,
    /// Connections still open when verifying (they are not judged until they close).
    pub still_open: usize,
}

fn report(scenario: &str, sessions: &[SessionRecord], still_open: usize) -> String {
    if sessions.is_empty() && still_open > 0 {
        return format!(
            "scenario {scenario:?}: expectations were set but no connection has closed yet ({still_open} still open: call wait_for_sessions before verifying)"
        );
    }
    if sessions.is_empty() {
        return format!("scenario {scenario:?}: expectations were set but no connection was made");
    }
    let mut out = format!(
        "scenario {scenario:?}: {} connection(s) broke expectations",
        sessions.len()
    );
    for s in sessions {
        out.push_str(&format!("\n\nconnection {}:", s.transcript.session));
        for f in &s.failures {
            out.push_str(&format!("\n  - {f}"));
        }
        out.push_str("\ntranscript:\n");
        out.push_str(&s.transcript.to_string());
    }
    out
}

/// State shared by the accept loop, the sessions and the handle.
pub(crate) struct Shared {
    scenario: Arc<ServerScenario>,
    /// The built-in replies of the scenario, made once.
    defaults: Arc<session::defaults::Defaults>,
    tls: Option<Arc<ServerConfig>>,
    next_session: AtomicU64,
    records: Mutex<Vec<SessionRecord>>,
    messages: Mutex<Vec<ReceivedMessage>>,
    changed: Notify,
    /// Connections accepted and not yet closed.
    open: AtomicUsize,
    keep_records: bool,
    /// The most events a connection's transcript keeps (`None`: all).
    transcript_limit: Option<usize>,
    on_close: Option<mpsc::UnboundedSender<SessionRecord>>,
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

    fn finish(&self, record: SessionRecord) {
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

/// Configures a [`FakeSmtpServer`] before it starts.
#[must_use = "call .start().await to run the server"]
pub struct Builder {
    scenario: ServerScenario,
    listen: String,
    certs: CertSource,
    keep_records: bool,
    transcript_limit: Option<usize>,
    on_close: Option<mpsc::UnboundedSender<SessionRecord>>,
    accept_limit: Option<u64>,
    verify_on_drop: bool,
}

impl Builder {
    /// The address to listen on (default `127.0.0.1:0`, an ephemeral port).
    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.listen = addr.into();
        self
    }

    /// Where certificates come from (default: the ones built into the crate, from `certs/`).
    pub fn certificates(mut self, source: CertSource) -> Self {
        self.certs = source;
        self
    }

    /// Keep transcripts and messages in memory (default `true`; a long-running `serve` that
    /// streams records elsewhere turns it off).
    pub fn keep_records(mut self, keep: bool) -> Self {
        self.keep_records = keep;
        self
    }

    /// Keeps at most `limit` events of each connection's transcript: its first and last ones,
    /// with the number left out between them (default: all). A long-running server that must
    /// stay within bounded memory however long its connections last sets one; 0 keeps none
    /// (expectations are still judged, as the events happen).
    pub fn transcript_limit(mut self, limit: usize) -> Self {
        self.transcript_limit = Some(limit);
        self
    }

    /// Sends each connection's record to `tx` when it closes.
    pub fn on_session_closed(mut self, tx: mpsc::UnboundedSender<SessionRecord>) -> Self {
        self.on_close = Some(tx);
        self
    }

    /// Stop accepting after this many connections.
    pub fn accept_limit(mut self, n: u64) -> Self {
        self.accept_limit = Some(n);
        self
    }

    /// Whether dropping the server panics when expectations were broken (default `true`).
    pub fn verify_on_drop(mut self, verify: bool) -> Self {
        self.verify_on_drop = verify;
        self
    }

    /// Binds the socket and starts accepting connections.
    ///
    /// # Errors
    /// [`ServerError`] if the address cannot be bound or the certificate cannot be loaded.
    pub async fn start(self) -> Result<FakeSmtpServer, ServerError> {
        let tls = match self.scenario.header.certificate {
            Some(variant) => Some(match &self.certs {
                CertSource::Embedded => crate::tls::embedded_server_config(variant)?,
                source => crate::tls::server_config(&source.bundle(variant)?)?,
            }),
            None => None,
        };
        let listener =
            TcpListener::bind(&self.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: self.listen.clone(),
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: self.listen.clone(),
            source,
        })?;
        let shared = Arc::new(Shared {
            defaults: Arc::new(session::defaults::Defaults::new(&self.scenario)),
            scenario: Arc::new(self.scenario),
            tls,
            next_session: AtomicU64::new(1),
            records: Mutex::new(Vec::new()),
            messages: Mutex::new(Vec::new()),
            changed: Notify::new(),
            open: AtomicUsize::new(0),
            keep_records: self.keep_records,
            transcript_limit: self.transcript_limit,
            on_close: self.on_close,
        });
        let (shutdown, watch_rx) = watch::channel(false);
        let accept = tokio::spawn(accept_loop(
            listener,
            shared.clone(),
            watch_rx,
            self.accept_limit,
        ));
        Ok(FakeSmtpServer {
            addr,
            shared,
            shutdown,
            accept: Some(accept),
            verify_on_drop: self.verify_on_drop,
        })
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    limit: Option<u64>,
) {
    let mut sessions = tokio::task::JoinSet::new();
    let mut accepted = 0u64;
    while limit.is_none_or(|l| accepted < l) {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait a little rather than spin.
                Err(_) => { tokio::time::sleep(Duration::from_millis(10)).await; continue }
            },
            _ = shutdown.changed() => break,
        };
        accepted += 1;
        let id = shared.next_session.fetch_add(1, Ordering::Relaxed);
        shared.open.fetch_add(1, Ordering::AcqRel);
        sessions.spawn(session::run(
            tcp,
            peer,
            id,
            shared.clone(),
            shutdown.clone(),
        ));
        while sessions.try_join_next().is_some() {}
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
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
        Builder {
            scenario,
            listen: "127.0.0.1:0".into(),
            certs: CertSource::Embedded,
            keep_records: true,
            transcript_limit: None,
            on_close: None,
            accept_limit: None,
            verify_on_drop: true,
        }
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
    pub fn sessions(&self) -> Vec<SessionRecord> {
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
    ) -> Result<Vec<SessionRecord>, WaitError> {
        self.wait(n, timeout, "closed connections", || {
            lock(&self.shared.records).clone()
        })
        .await
    }

    /// Waits until no connection is open (every accepted one has closed), then returns the
    /// records of all closed connections. Gives up after `timeout` and returns what it has.
    pub async fn wait_until_idle(&self, timeout: Duration) -> Vec<SessionRecord> {
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
        let failing: Vec<SessionRecord> = records.iter().filter(|r| !r.passed()).cloned().collect();
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
