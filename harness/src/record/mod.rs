//! `smtp-harness record`: a recording proxy in front of a real SMTP server.
//!
//! A [`Recorder`] listens; every client that connects gets its own connection to the upstream
//! server, and the two are relayed line by line while the conversation is recorded as a
//! [`Transcript`] (server lines verbatim; AUTH payloads and answers to `334` are never kept,
//! only `[redacted]`; message contents are relayed but not kept). STARTTLS is terminated on
//! both sides: when the upstream answers the client's `STARTTLS` with `220`, the proxy runs a
//! TLS client handshake with the upstream, then passes the `220` on and accepts TLS from the
//! client with the harness's own certificate. With implicit TLS both sides speak TLS from the
//! first byte. Every wait is bounded; an upstream that cannot be reached, does not answer or
//! breaks gives the client a `421 4.4.0` reply.
//!
//! A finished [`Recording`] becomes a `role server` scenario through the renderer `import`
//! uses ([`Recording::scenario`]): server lines verbatim, client lines as globs, credentials
//! `C: *`, `tls` steps and `implicit-tls`, under a header naming the upstream and the time.

mod proxy;
mod trust;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, ServerConfig};

use crate::certs::{CertError, CertSource, CertVariant};
use crate::scenario::render::{Entry, Item, Preamble, RenderError, render_scenario};
use crate::transcript::{Event, Transcript};

pub use trust::{UpstreamTrust, upstream_config};

/// Why recording could not start or its result could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The upstream is not `HOST:PORT`, or its name is no valid TLS server name.
    #[error("upstream {upstream:?}: {message}")]
    Upstream {
        /// What was given.
        upstream: String,
        /// What is wrong with it.
        message: String,
    },
    /// The certificates (the harness's, or the CA to trust for the upstream) did not load.
    #[error("certificates: {0}")]
    Certs(#[from] CertError),
    /// The address to listen on could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The recorded conversation holds no server line (the upstream never answered).
    #[error("nothing was recorded: the upstream sent no line")]
    Empty,
    /// The recorded conversation did not make a loadable scenario (a bug: please report it).
    #[error("the recorded conversation does not make a scenario: {0}")]
    Scenario(RenderError),
}

/// How the proxy connects to the upstream and to its clients.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// The real server, `HOST:PORT`.
    pub upstream: String,
    /// TLS toward the upstream: whom to trust.
    pub upstream_tls: Arc<ClientConfig>,
    /// The name sent as SNI and verified in the upstream's certificate.
    pub upstream_name: ServerName<'static>,
    /// TLS toward the client: the certificate the proxy presents.
    pub client_tls: Arc<ServerConfig>,
    /// TLS on both sides from the first byte (port 465) instead of plain text (and STARTTLS).
    pub implicit_tls: bool,
    /// Longest wait for anything: connecting, a handshake, a reply, the client's next line.
    pub timeout: Duration,
}

impl RecordOptions {
    /// Options for `upstream` (`HOST:PORT`): the upstream verified against the webpki roots
    /// under its host name, the harness's `valid` certificate toward clients, plain text (and
    /// STARTTLS), 30 s timeouts.
    ///
    /// # Errors
    /// [`RecordError::Upstream`] if `upstream` is not `HOST:PORT`; [`RecordError::Certs`] if
    /// the built-in certificates do not load.
    pub fn new(upstream: &str) -> Result<Self, RecordError> {
        let host = upstream_host(upstream)?;
        Ok(RecordOptions {
            upstream: upstream.to_owned(),
            upstream_tls: upstream_config(&UpstreamTrust::WebpkiRoots)?,
            upstream_name: server_name(upstream, host)?,
            client_tls: crate::tls::embedded_server_config(CertVariant::Valid)?,
            implicit_tls: false,
            timeout: Duration::from_secs(30),
        })
    }

    /// Trusts the upstream as `trust` says.
    ///
    /// # Errors
    /// [`RecordError::Certs`] if the CA does not load.
    pub fn trust(mut self, trust: &UpstreamTrust) -> Result<Self, RecordError> {
        self.upstream_tls = upstream_config(trust)?;
        Ok(self)
    }

    /// Verifies the upstream's certificate as `name` (and sends it as SNI).
    ///
    /// # Errors
    /// [`RecordError::Upstream`] if `name` is no valid server name.
    pub fn upstream_name(mut self, name: &str) -> Result<Self, RecordError> {
        self.upstream_name = server_name(&self.upstream, name)?;
        Ok(self)
    }

    /// Presents the `valid` certificate from `source` to clients.
    ///
    /// # Errors
    /// [`RecordError::Certs`] if it does not load.
    pub fn certificates(mut self, source: &CertSource) -> Result<Self, RecordError> {
        self.client_tls = match source {
            CertSource::Embedded => crate::tls::embedded_server_config(CertVariant::Valid)?,
            CertSource::Dir(_) => crate::tls::server_config(&source.bundle(CertVariant::Valid)?)?,
        };
        Ok(self)
    }

    /// TLS from the first byte on both sides.
    pub fn implicit_tls(mut self, on: bool) -> Self {
        self.implicit_tls = on;
        self
    }

    /// Bounds every wait by `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The host part of `HOST:PORT` (`[::1]:25` gives `::1`).
fn upstream_host(upstream: &str) -> Result<&str, RecordError> {
    let bad = |message: &str| RecordError::Upstream {
        upstream: upstream.to_owned(),
        message: message.to_owned(),
    };
    let (host, port) = upstream
        .rsplit_once(':')
        .ok_or_else(|| bad("expected HOST:PORT"))?;
    port.parse::<u16>()
        .map_err(|_| bad("expected HOST:PORT with a port from 0 to 65535"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(bad("expected HOST:PORT, the host is empty"));
    }
    Ok(host)
}

fn server_name(upstream: &str, name: &str) -> Result<ServerName<'static>, RecordError> {
    ServerName::try_from(name.to_owned()).map_err(|e| RecordError::Upstream {
        upstream: upstream.to_owned(),
        message: format!("{name:?} is no valid TLS server name: {e}"),
    })
}

/// Parses a timeout: `30s`, `500ms`, `2m`, or plain seconds (`30`).
///
/// # Errors
/// A message saying what was expected.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let parsed = if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() {
        text.parse().ok().map(Duration::from_secs)
    } else {
        crate::scenario::parse_duration(text)
    };
    match parsed {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(format!(
            "{text:?}: expected a duration such as 30s, 500ms or 2m"
        )),
    }
}

/// A listening recording proxy.
#[derive(Debug)]
pub struct Recorder {
    listener: TcpListener,
    options: Arc<RecordOptions>,
    accepted: u64,
}

impl Recorder {
    /// Listens on `addr` (`127.0.0.1:0` picks a free port).
    ///
    /// # Errors
    /// [`RecordError::Listen`] when the address cannot be bound.
    pub async fn bind(addr: &str, options: RecordOptions) -> Result<Self, RecordError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| RecordError::Listen {
                addr: addr.to_owned(),
                source,
            })?;
        Ok(Recorder {
            listener,
            options: Arc::new(options),
            accepted: 0,
        })
    }

    /// The address the proxy listens on.
    ///
    /// # Panics
    /// Never in practice: a bound listener has an address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Waits for the next client; [`Connection::run`] proxies and records it.
    ///
    /// # Errors
    /// The I/O error of `accept`.
    pub async fn accept(&mut self) -> std::io::Result<Connection> {
        let (tcp, peer) = self.listener.accept().await?;
        self.accepted += 1;
        Ok(Connection {
            tcp,
            peer,
            number: self.accepted,
            options: Arc::clone(&self.options),
        })
    }
}

/// An accepted client, not yet proxied.
#[derive(Debug)]
pub struct Connection {
    tcp: TcpStream,
    peer: SocketAddr,
    number: u64,
    options: Arc<RecordOptions>,
}

impl Connection {
    /// Connects to the upstream and relays until either side closes (or a wait times out),
    /// recording the conversation. Never panics on network errors: they end the recording.
    pub async fn run(self) -> Recording {
        let started = time::OffsetDateTime::now_utc();
        let (transcript, notes) =
            proxy::relay(self.tcp, self.peer, self.number, &self.options).await;
        Recording {
            upstream: self.options.upstream.clone(),
            started,
            transcript,
            notes,
        }
    }
}

/// One proxied connection, as recorded.
#[derive(Clone, Debug)]
pub struct Recording {
    /// The upstream, `HOST:PORT`.
    pub upstream: String,
    /// When the client connected (UTC).
    pub started: time::OffsetDateTime,
    /// The conversation: server lines as sent, client lines with secrets already replaced
    /// by `[redacted]`, TLS events, message sizes, the close.
    pub transcript: Transcript,
    /// What the proxy did beyond relaying (a `421` it sent, a failed handshake), one line each.
    pub notes: Vec<String>,
}

impl Recording {
    /// The conversation in the model `import` renders: server lines, client lines (secrets
    /// redacted), TLS started (also after a `220` to STARTTLS whose handshake then failed);
    /// message contents are not part of it.
    pub fn entries(&self) -> Vec<Entry> {
        let mut entries = Vec::new();
        for (i, event) in self.transcript.events.iter().enumerate() {
            let item = match event {
                Event::Server(line) => Item::Server(trim_eol(line)),
                // Stored with the secret already replaced by `[redacted]`.
                Event::Client { line, .. } => Item::Client(trim_eol(line)),
                Event::TlsStarted { .. } => Item::TlsStarted,
                _ => continue,
            };
            entries.push(Entry { line: i + 1, item });
        }
        // A handshake that failed after the upstream's 220 to STARTTLS (the proxy's trust, or
        // the client's) is still the step the upstream offered: a scenario needs it there.
        crate::import::infer_tls(entries)
    }

    /// The number of server lines recorded.
    pub fn server_lines(&self) -> usize {
        self.transcript
            .events
            .iter()
            .filter(|e| matches!(e, Event::Server(_)))
            .count()
    }

    /// The scenario replaying the server's side of this connection.
    ///
    /// # Errors
    /// [`RecordError::Empty`] when the upstream sent nothing (there is nothing to replay).
    pub fn scenario(&self) -> Result<String, RecordError> {
        if self.server_lines() == 0 {
            return Err(RecordError::Empty);
        }
        let t = self.started;
        let when = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        let mut comments = vec![
            format!(
                "Recorded by `smtp-harness record` from {} at {when} (connection {}).",
                self.upstream, self.transcript.session
            ),
            "Server lines are as the server sent them; client lines are globs (arguments that"
                .to_owned(),
            "vary are `*`); credentials (AUTH payloads, answers to 334) are `*` and were never"
                .to_owned(),
            "written; message contents were relayed, not kept. TLS is replayed with the harness's"
                .to_owned(),
            "own `valid` certificate, not the server's.".to_owned(),
            "Add a `sender` block and an `outcome` line to drive it with `smtp-harness run`."
                .to_owned(),
        ];
        comments.extend(
            self.notes
                .iter()
                .map(|n| format!("The proxy {}.", n.replace(['\r', '\n'], " "))),
        );
        let preamble = Preamble {
            comments,
            name: format!("Recorded from {}", self.upstream),
            client_heading: "What the recorded client did.".to_owned(),
        };
        render_scenario(&self.entries(), &self.upstream, &preamble).map_err(RecordError::Scenario)
    }

    /// One line for a log: the connection, what was recorded, how it ended.
    pub fn summary(&self) -> String {
        let clients = self
            .transcript
            .events
            .iter()
            .filter(|e| matches!(e, Event::Client { .. }))
            .count();
        let tls = if self
            .transcript
            .events
            .iter()
            .any(|e| matches!(e, Event::TlsStarted { .. }))
        {
            ", TLS"
        } else {
            ""
        };
        let closed = match self.transcript.events.iter().rev().find_map(|e| match e {
            Event::Closed { by, reason } => Some((*by, reason.clone())),
            _ => None,
        }) {
            Some((by, Some(reason))) => format!("closed by {by} ({reason})"),
            Some((by, None)) => format!("closed by {by}"),
            None => "open".to_owned(),
        };
        format!(
            "connection {}: {} server line(s), {clients} client line(s){tls}; {closed}",
            self.transcript.session,
            self.server_lines()
        )
    }
}

fn trim_eol(line: &[u8]) -> String {
    String::from_utf8_lossy(line)
        .trim_end_matches(['\r', '\n'])
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_host_takes_the_part_before_the_port() {
        assert_eq!(upstream_host("mail.example:25").ok(), Some("mail.example"));
        assert_eq!(upstream_host("[::1]:587").ok(), Some("::1"));
        assert!(upstream_host("mail.example").is_err());
        assert!(upstream_host(":25").is_err());
        assert!(upstream_host("a:99999").is_err());
    }

    #[test]
    fn timeouts_take_units_or_seconds() {
        assert_eq!(parse_timeout("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_timeout("0s").is_err());
        assert!(parse_timeout("soon").is_err());
    }

    #[test]
    fn a_recording_renders_with_credentials_hidden() {
        let mut t = Transcript::new(1);
        let server = |s: &str| Event::Server(format!("{s}\r\n").into_bytes());
        let client = |s: &str, secret_from| Event::Client {
            line: format!("{s}\r\n").into_bytes(),
            secret_from,
        };
        t.push(server("220 up.example ESMTP"));
        t.push(client("EHLO me", None));
        t.push(server("250-up.example"));
        t.push(server("250 AUTH PLAIN LOGIN"));
        t.push(client("AUTH PLAIN [redacted]", Some(11)));
        t.push(server("535 5.7.8 Authentication credentials invalid"));
        t.push(client("QUIT", None));
        t.push(server("221 Bye"));
        let recording = Recording {
            upstream: "127.0.0.1:2525".into(),
            started: time::OffsetDateTime::UNIX_EPOCH,
            transcript: t,
            notes: vec![],
        };
        let text = recording.scenario().expect("renders");
        assert!(text.starts_with(
            "# Recorded by `smtp-harness record` from 127.0.0.1:2525 at 1970-01-01 00:00:00 UTC"
        ));
        assert!(text.contains("C: AUTH PLAIN*\n"), "{text}");
        assert!(!text.contains("redacted"), "{text}");
        assert!(text.contains("S: 535 5.7.8 Authentication credentials invalid\n"));
        crate::scenario::ServerScenario::parse(&text, "<recorded>").expect("loads");
    }

    #[test]
    fn nothing_recorded_is_an_error() {
        let recording = Recording {
            upstream: "127.0.0.1:1".into(),
            started: time::OffsetDateTime::UNIX_EPOCH,
            transcript: Transcript::new(1),
            notes: vec![],
        };
        assert!(matches!(recording.scenario(), Err(RecordError::Empty)));
    }
}
