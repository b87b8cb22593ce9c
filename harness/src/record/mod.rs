//! `smtp-harness record`: a recording proxy in front of a real SMTP server.
//!
//! A [`Recorder`] listens and runs its own accept loop; every client that connects gets its
//! own connection to the upstream server, and the two are relayed line by line while the
//! conversation is recorded as a [`crate::Transcript`] (server lines verbatim; AUTH payloads
//! and answers to `334` are never kept, only `[redacted]`; message contents are relayed but
//! not kept). STARTTLS is terminated on
//! both sides: when the upstream answers the client's `STARTTLS` with `220`, the proxy runs a
//! TLS client handshake with the upstream, then passes the `220` on and accepts TLS from the
//! client with the harness's own certificate. With implicit TLS both sides speak TLS from the
//! first byte. Every wait is bounded; an upstream that cannot be reached, does not answer or
//! breaks gives the client a `421 4.4.0` reply.
//!
//! A finished [`Recording`] becomes a `role server` scenario through the renderer `import`
//! uses ([`Recording::scenario`]): server lines verbatim, client lines as globs, credentials
//! `C: *`, `tls` steps and `implicit-tls`, under a header naming the upstream and the time.
//!
//! - `recorder.rs`: the [`Recorder`] handle and its accept loop.
//! - `proxy.rs`: the relay of one connection.
//! - `recording.rs`: a finished [`Recording`], its summary and its scenario.
//! - `trust.rs`: whom the proxy trusts toward the upstream.

mod proxy;
mod recorder;
mod recording;
mod trust;

use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, ServerConfig};

use crate::certs::{CertError, CertSource, CertVariant};
use crate::scenario::render::RenderError;

pub use recorder::Recorder;
pub use recording::Recording;
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
    /// Stop accepting after this many clients (`None`: accept until shut down).
    pub accept_limit: Option<u64>,
}

impl RecordOptions {
    /// Options for `upstream` (`HOST:PORT`): the upstream verified against the webpki roots
    /// under its host name, the harness's `valid` certificate toward clients, plain text (and
    /// STARTTLS), 30 s timeouts, no accept limit.
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
            accept_limit: None,
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

    /// Stops accepting after `n` clients (`record --once`: 1).
    pub fn accept_limit(mut self, n: u64) -> Self {
        self.accept_limit = Some(n);
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
}
