//! Whom the recording proxy trusts when it speaks TLS to the upstream: the webpki roots (the
//! public CAs), a CA file (a lab or company CA), or anything (`--upstream-insecure`, for
//! self-signed lab servers: the upstream is then not authenticated at all).

use std::sync::Arc;

use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    CryptoProvider, verify_tls12_signature, verify_tls13_signature,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    ClientConfig, DigitallySignedStruct, Error as TlsError, RootCertStore, SignatureScheme,
};

use crate::certs::CertError;

/// Whom to trust for the upstream's certificate.
#[derive(Clone, Debug, Default)]
pub enum UpstreamTrust {
    /// The public CAs of the webpki-roots crate (Mozilla's list).
    #[default]
    WebpkiRoots,
    /// Exactly the CA certificates in this PEM text.
    CaPem(String),
    /// Any certificate, unverified (self-signed lab servers). Signatures are still checked, so
    /// the handshake is real, but the upstream is not authenticated.
    Insecure,
}

/// A client config for the upstream: TLS 1.2 and 1.3, ring provider, trusting as `trust` says.
///
/// # Errors
/// [`CertError`] when the CA PEM is malformed or rustls rejects it.
pub fn upstream_config(trust: &UpstreamTrust) -> Result<Arc<ClientConfig>, CertError> {
    let provider = crate::tls::provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(crate::tls::VERSIONS)?;
    let config = match trust {
        UpstreamTrust::WebpkiRoots => {
            let roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        UpstreamTrust::CaPem(pem) => return crate::tls::client_config_trusting(pem),
        UpstreamTrust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate { provider }))
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Accepts every certificate chain; checks handshake signatures with the provider's algorithms.
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
