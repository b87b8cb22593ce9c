//! TLS for the SMTP client: the rustls configuration (ring, the system roots plus `ca_file`),
//! the server name to verify (the configured address, host name or IP), and what a failed
//! handshake means for the administrator.

use std::sync::Arc;

use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, CertificateError, ClientConfig};

use super::error::{Cause, CertificateProblem, ErrorKind, SendError};
use super::step::Step;
use crate::settings::EmailSettings;

/// The connector for these settings.
///
/// # Errors
/// A [`Step::Certificate`] configuration error when `ca_file` cannot be used.
pub(crate) fn connector(settings: &EmailSettings) -> Result<TlsConnector, SendError> {
    let config_error = |detail: String| {
        SendError::new(
            Step::Certificate,
            ErrorKind::Configuration,
            Cause::CaFile,
            detail,
        )
    };
    let roots = crate::trust::root_store(settings.ca_file.as_deref())
        .map_err(|e| config_error(e.to_string()))?;
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The name the certificate must be valid for: the configured address (a host name or an IP).
///
/// # Errors
/// A configuration error if the address cannot be a TLS server name (settings validation
/// prevents this).
pub(crate) fn server_name(address: &str) -> Result<ServerName<'static>, SendError> {
    ServerName::try_from(address.to_owned()).map_err(|e| {
        SendError::new(
            Step::TlsHandshake,
            ErrorKind::Configuration,
            Cause::TlsHandshake,
            format!("{address:?} cannot be used as a TLS server name: {e}"),
        )
    })
}

/// Turns a failed handshake into an error: certificate problems at [`Step::Certificate`],
/// anything else at [`Step::TlsHandshake`]. Both are configuration problems (permanent).
pub(crate) fn handshake_error(error: &std::io::Error) -> SendError {
    let rustls_error = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(problem)) => SendError::new(
            Step::Certificate,
            ErrorKind::Configuration,
            Cause::Certificate(certificate_problem(problem)),
            format!("the server's certificate was not accepted: {error}"),
        ),
        _ => SendError::new(
            Step::TlsHandshake,
            ErrorKind::Configuration,
            Cause::TlsHandshake,
            format!("the TLS handshake failed: {error}"),
        ),
    }
}

fn certificate_problem(error: &CertificateError) -> CertificateProblem {
    match error {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            CertificateProblem::Expired
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            CertificateProblem::NotYetValid
        }
        CertificateError::NotValidForName => CertificateProblem::NameMismatch {
            presented: Vec::new(),
        },
        CertificateError::NotValidForNameContext { presented, .. } => {
            CertificateProblem::NameMismatch {
                presented: presented.iter().map(|p| unquote(p)).collect(),
            }
        }
        // A signature that does not verify means that no trusted authority signed the
        // certificate: webpki reports it when a trusted certificate merely has the issuer's
        // name (Debian's snakeoil certificate, CN=localhost, in /etc/ssl/certs does).
        CertificateError::UnknownIssuer
        | CertificateError::BadSignature
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            CertificateProblem::UnknownIssuer
        }
        CertificateError::Revoked => CertificateProblem::Revoked,
        _ => CertificateProblem::Other,
    }
}

/// rustls presents names as `DnsName("wrong.example")` or `IpAddress(…)`; keep the name.
fn unquote(presented: &str) -> String {
    match (presented.find('"'), presented.rfind('"')) {
        (Some(a), Some(b)) if b > a => presented[a + 1..b].to_owned(),
        _ => presented.to_owned(),
    }
}
