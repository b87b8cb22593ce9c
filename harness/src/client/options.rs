//! How the client connects: whom it trusts for `tls` steps, its timeout, the template
//! variables and the receiver's folder.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::certs::CertError;

/// How the client connects.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// TLS configuration for `tls` steps (whom to trust).
    pub tls: Arc<ClientConfig>,
    /// The name to verify the server's certificate against.
    pub tls_name: ServerName<'static>,
    /// Longest wait for the connection, a reply or a write.
    pub timeout: Duration,
    /// Template variables: `{name}` in `C:` lines, `raw` bytes and message files becomes the value.
    pub vars: Vec<(String, String)>,
    /// The receiver's folder, where `expect files …` and `expect line …` look.
    pub effects: Option<PathBuf>,
    /// How long effects may take to appear after the conversation (a processor running beside).
    pub effects_wait: Duration,
}

impl ClientOptions {
    /// Trusts the PEM CA certificates in `ca_pem` and verifies the server as `tls_name`.
    ///
    /// # Errors
    /// [`CertError`] when the CA cannot be read or the name is not a valid server name.
    pub fn trusting(ca_pem: &str, tls_name: &str, timeout: Duration) -> Result<Self, CertError> {
        let tls_name = ServerName::try_from(tls_name.to_owned()).map_err(|e| CertError::Pem {
            what: "the TLS server name".into(),
            detail: e.to_string(),
        })?;
        Ok(ClientOptions {
            tls: crate::tls::client_config_trusting(ca_pem)?,
            tls_name,
            timeout,
            vars: Vec::new(),
            effects: None,
            effects_wait: Duration::from_secs(2),
        })
    }

    /// Adds a template variable: `{name}` becomes `value`.
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the receiver's folder for effect expectations.
    pub fn effects_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.effects = Some(dir.into());
        self
    }

    /// Replaces `{name}` by each variable's value.
    pub(super) fn fill(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for (name, value) in &self.vars {
            out = replace_all(&out, format!("{{{name}}}").as_bytes(), value.as_bytes());
        }
        out
    }

    /// Trusts the harness's own test CA and verifies the server as `localhost`.
    ///
    /// # Errors
    /// [`CertError`] if the built-in CA does not load (a broken build).
    pub fn test_ca(timeout: Duration) -> Result<Self, CertError> {
        Self::trusting(crate::certs::embedded_ca_pem(), "localhost", timeout)
    }
}

/// `haystack` with every `needle` replaced by `with`.
fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if !needle.is_empty() && haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}
