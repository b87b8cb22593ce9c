//! [`Builder`]: the address, certificates and record keeping of a [`FakeSmtpServer`], then
//! [`Builder::start`], which binds and spawns the accept loop.

use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, watch};

use super::{FakeSmtpServer, ServerError, Shared, accept, session};
use crate::certs::CertSource;
use crate::scenario::ServerScenario;
use crate::verify::ConversationRecord;

/// Configures a [`FakeSmtpServer`] before it starts.
#[must_use = "call .start().await to run the server"]
pub struct Builder {
    scenario: ServerScenario,
    listen: String,
    certs: CertSource,
    keep_records: bool,
    transcript_limit: Option<usize>,
    on_close: Option<mpsc::UnboundedSender<ConversationRecord>>,
    accept_limit: Option<u64>,
    verify_on_drop: bool,
}

impl Builder {
    /// The defaults: `127.0.0.1:0`, the built-in certificates, records kept whole, verified
    /// on drop.
    pub(super) fn new(scenario: ServerScenario) -> Self {
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
    pub fn on_session_closed(mut self, tx: mpsc::UnboundedSender<ConversationRecord>) -> Self {
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
        let accept = tokio::spawn(accept::accept_loop(
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
