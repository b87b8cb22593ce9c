//! The server side of STARTTLS: the certificate chain and key from the `[inbound]` settings,
//! read into a rustls configuration (ring, TLS 1.2 and 1.3).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ServerTlsError {
    /// The certificate file cannot be read or holds no PEM certificate.
    #[error("{}: no usable PEM certificate: {reason}", path.display())]
    Cert {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key file cannot be read or holds no PEM private key.
    #[error("{}: no usable PEM private key: {reason}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rustls refuses the pair (for example, the key does not belong to the certificate).
    #[error("the certificate and key cannot be used together: {0}")]
    Pair(String),
}

impl ServerTlsError {
    /// The settings field the error is about (`tls_cert` or `tls_key`).
    pub fn field(&self) -> &'static str {
        match self {
            ServerTlsError::Key { .. } => "tls_key",
            _ => "tls_cert",
        }
    }
}

/// Reads a PEM certificate chain (leaf first) and its private key into a server configuration.
///
/// # Errors
/// [`ServerTlsError`] when either file cannot be read or parsed, or they do not match.
pub fn load_server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, ServerTlsError> {
    let cert_error = |reason: String| ServerTlsError::Cert {
        path: cert.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| cert_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_error("no \"BEGIN CERTIFICATE\" block".into()));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| ServerTlsError::Key {
        path: key.to_owned(),
        reason: e.to_string(),
    })?;
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerTlsError::Pair(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| ServerTlsError::Pair(e.to_string()))?;
    Ok(Arc::new(config))
}
