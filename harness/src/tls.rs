//! rustls configurations for the fake server and for test clients.
//!
//! Everything here uses the `ring` crypto provider explicitly
//! (`builder_with_provider`), never the process-wide default, so it cannot panic
//! when more than one rustls provider feature is compiled in (as can happen under
//! `cargo test` through dev-dependencies). Servers and clients speak TLS 1.2 and
//! TLS 1.3. [`embedded_server_config`] caches one parsed config per
//! [`CertVariant`], so scenario runs do not re-parse PEM for every connection.

use std::sync::{Arc, OnceLock};

use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};

use crate::certs::{self, CertBundle, CertError, CertVariant};

/// The protocol versions offered by every config built here: TLS 1.3 and TLS 1.2.
pub(crate) static VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server config presenting `bundle` (chain and key), TLS 1.2 and 1.3, ring
/// provider, no client authentication.
///
/// # Errors
/// [`CertError::Pem`] if the PEM does not parse, [`CertError::Tls`] if rustls
/// rejects the chain or key, e.g. because the key does not match the leaf.
pub fn server_config(bundle: &CertBundle) -> Result<Arc<ServerConfig>, CertError> {
    let chain = bundle.chain_der()?;
    let key = bundle.key_der()?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// Cached server config for an embedded variant (one [`OnceLock`] per variant), so a
/// scenario run does not re-parse PEM.
///
/// Built on first use from [`certs::embedded`]; later calls return the same `Arc`.
/// # Errors
/// As [`server_config`]; an error would mean the committed `certs/` files are
/// broken. Errors are returned, not cached (nothing panics).
pub fn embedded_server_config(v: CertVariant) -> Result<Arc<ServerConfig>, CertError> {
    static CACHE: [OnceLock<Arc<ServerConfig>>; CertVariant::ALL.len()] =
        [const { OnceLock::new() }; CertVariant::ALL.len()];
    let cell = &CACHE[v as usize];
    if let Some(config) = cell.get() {
        return Ok(Arc::clone(config));
    }
    let config = server_config(&certs::embedded(v))?;
    // If another thread won the race, use its config so every caller shares one.
    Ok(Arc::clone(cell.get_or_init(|| config)))
}

/// Client config that trusts exactly the given CA PEM (for our scripted client and tests).
///
/// Every `CERTIFICATE` block in `ca_pem` becomes a trust anchor; no system or
/// webpki roots are added. TLS 1.2 and 1.3, ring provider, no client certificate.
///
/// # Errors
/// [`CertError::Pem`] if `ca_pem` is malformed or holds no certificate,
/// [`CertError::Tls`] if rustls rejects a certificate as a trust anchor.
pub fn client_config_trusting(ca_pem: &str) -> Result<Arc<ClientConfig>, CertError> {
    let mut roots = RootCertStore::empty();
    for der in certs::parse_ca_certs(ca_pem)? {
        roots.add(der)?;
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Short stable names for transcripts: e.g. `("TLSv1.3", "TLS13_AES_256_GCM_SHA384")`
/// from a server or client connection.
///
/// The first is the protocol version (`"TLSv1.2"`, `"TLSv1.3"`), the second the IANA
/// cipher suite name as rustls spells it (e.g. `"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"`
/// for TLS 1.2). Before the handshake has settled them, both are `"none"`.
pub fn describe(conn: &rustls::CommonState) -> (String, String) {
    let version = match conn.protocol_version() {
        None => "none".to_owned(),
        Some(v) => match v.as_str() {
            Some(name) => name.replace('_', "."),
            None => format!("{v:?}"),
        },
    };
    let suite = match conn.negotiated_cipher_suite() {
        None => "none".to_owned(),
        Some(s) => {
            let s = s.suite();
            s.as_str()
                .map_or_else(|| format!("{s:?}"), ToOwned::to_owned)
        }
    };
    (version, suite)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::{CertSource, embedded_ca_pem};
    use rustls::CertificateError;
    use rustls::pki_types::ServerName;
    use std::io;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    /// What the server side of a test handshake saw.
    type ServerOutcome = io::Result<(String, String)>;

    /// Runs a real TLS handshake on 127.0.0.1 (ephemeral port) between a server using
    /// `server` and a client using `client` and SNI/verification name `name`. On
    /// success, exchanges a ping/pong over the encrypted stream.
    async fn handshake(
        server: Arc<ServerConfig>,
        client: Arc<ClientConfig>,
        name: &str,
    ) -> (io::Result<()>, ServerOutcome) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server_task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await?;
            let mut tls = TlsAcceptor::from(server).accept(tcp).await?;
            let described = describe(tls.get_ref().1);
            let mut buf = [0u8; 4];
            tls.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"ping");
            tls.write_all(b"pong").await?;
            tls.shutdown().await?;
            Ok(described)
        });
        let name = ServerName::try_from(name.to_owned()).unwrap();
        let client_result = async {
            let tcp = TcpStream::connect(addr).await?;
            let mut tls = TlsConnector::from(client).connect(name, tcp).await?;
            tls.write_all(b"ping").await?;
            let mut buf = [0u8; 4];
            tls.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"pong");
            Ok(())
        }
        .await;
        let server_result = server_task.await.unwrap();
        (client_result, server_result)
    }

    fn trusting_embedded_ca() -> Arc<ClientConfig> {
        client_config_trusting(embedded_ca_pem()).unwrap()
    }

    /// The rustls certificate error inside a client-side handshake failure.
    fn certificate_error(err: &io::Error) -> &CertificateError {
        match err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(rustls::Error::InvalidCertificate(e)) => e,
            _ => panic!("expected an invalid-certificate error, got {err:?}"),
        }
    }

    async fn expect_rejected(v: CertVariant) -> (CertificateError, String) {
        let server = embedded_server_config(v).unwrap();
        let (client, server_side) = handshake(server, trusting_embedded_ca(), "localhost").await;
        let err = client.expect_err("client must reject the certificate");
        assert!(
            server_side.is_err(),
            "server must see the failed handshake for {v}"
        );
        (certificate_error(&err).clone(), err.to_string())
    }

    #[tokio::test]
    async fn valid_accepted_by_dns_name() {
        let server = embedded_server_config(CertVariant::Valid).unwrap();
        let (client, server_side) = handshake(server, trusting_embedded_ca(), "localhost").await;
        client.unwrap();
        let (version, suite) = server_side.unwrap();
        assert_eq!(version, "TLSv1.3");
        assert!(suite.starts_with("TLS13_"), "{suite}");
    }

    #[tokio::test]
    async fn valid_accepted_by_ip_address() {
        let server = embedded_server_config(CertVariant::Valid).unwrap();
        let (client, server_side) = handshake(server, trusting_embedded_ca(), "127.0.0.1").await;
        client.unwrap();
        server_side.unwrap();
    }

    #[tokio::test]
    async fn tls12_is_offered_and_described() {
        let mut roots = RootCertStore::empty();
        for der in certs::parse_ca_certs(embedded_ca_pem()).unwrap() {
            roots.add(der).unwrap();
        }
        let client = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server = embedded_server_config(CertVariant::Valid).unwrap();
        let (client, server_side) = handshake(server, Arc::new(client), "localhost").await;
        client.unwrap();
        let (version, suite) = server_side.unwrap();
        assert_eq!(version, "TLSv1.2");
        assert!(suite.starts_with("TLS_ECDHE_ECDSA_WITH_"), "{suite}");
    }

    #[tokio::test]
    async fn expired_rejected() {
        let (e, msg) = expect_rejected(CertVariant::Expired).await;
        assert!(
            matches!(
                e,
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            ),
            "{e:?}"
        );
        assert!(msg.contains("expired"), "{msg}");
    }

    #[tokio::test]
    async fn wrong_host_rejected() {
        let (e, msg) = expect_rejected(CertVariant::WrongHost).await;
        assert!(
            matches!(
                e,
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ),
            "{e:?}"
        );
        assert!(msg.contains("not valid for name"), "{msg}");
        assert!(msg.contains("wrong.example"), "{msg}");
    }

    #[tokio::test]
    async fn self_signed_rejected() {
        let (e, msg) = expect_rejected(CertVariant::SelfSigned).await;
        assert_eq!(e, CertificateError::UnknownIssuer);
        assert!(msg.contains("UnknownIssuer"), "{msg}");
    }

    #[tokio::test]
    async fn unknown_ca_rejected() {
        let (e, msg) = expect_rejected(CertVariant::UnknownCa).await;
        assert_eq!(e, CertificateError::UnknownIssuer);
        assert!(msg.contains("UnknownIssuer"), "{msg}");
    }

    #[tokio::test]
    async fn generated_dir_works_end_to_end() {
        let dir = std::env::temp_dir().join(format!(
            "smtp-harness-tls-gen-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        certs::generate(&dir).unwrap();
        let src = CertSource::Dir(dir.clone());
        let client = client_config_trusting(&src.ca_pem().unwrap()).unwrap();

        let valid = server_config(&src.bundle(CertVariant::Valid).unwrap()).unwrap();
        let (c, s) = handshake(valid, Arc::clone(&client), "localhost").await;
        c.unwrap();
        s.unwrap();

        let expired = server_config(&src.bundle(CertVariant::Expired).unwrap()).unwrap();
        let (c, _) = handshake(expired, Arc::clone(&client), "localhost").await;
        let err = c.unwrap_err();
        assert!(
            matches!(
                certificate_error(&err),
                CertificateError::ExpiredContext { .. }
            ),
            "{err}"
        );

        // The embedded CA does not vouch for a freshly generated set. Both CAs have
        // the same name, so webpki picks the embedded one as issuer and the
        // signature check fails.
        let valid = server_config(&src.bundle(CertVariant::Valid).unwrap()).unwrap();
        let (c, _) = handshake(valid, trusting_embedded_ca(), "localhost").await;
        assert_eq!(
            certificate_error(&c.unwrap_err()),
            &CertificateError::BadSignature
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn embedded_server_config_is_cached() {
        for v in CertVariant::ALL {
            let a = embedded_server_config(v).unwrap();
            let b = embedded_server_config(v).unwrap();
            assert!(Arc::ptr_eq(&a, &b), "{v}");
        }
        let valid = embedded_server_config(CertVariant::Valid).unwrap();
        let expired = embedded_server_config(CertVariant::Expired).unwrap();
        assert!(!Arc::ptr_eq(&valid, &expired));
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let err = client_config_trusting("").unwrap_err();
        assert!(matches!(err, CertError::Pem { .. }), "{err:?}");
        let err = client_config_trusting("-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap_err();
        assert!(matches!(err, CertError::Pem { .. }), "{err:?}");

        // A key that does not belong to the leaf.
        let mismatched = CertBundle {
            chain_pem: certs::embedded(CertVariant::Valid).chain_pem,
            key_pem: certs::embedded(CertVariant::Expired).key_pem,
        };
        let err = server_config(&mismatched).unwrap_err();
        assert!(matches!(err, CertError::Tls(_)), "{err:?}");

        let no_key = CertBundle {
            chain_pem: certs::embedded(CertVariant::Valid).chain_pem,
            key_pem: String::new(),
        };
        let err = server_config(&no_key).unwrap_err();
        assert!(matches!(err, CertError::Pem { .. }), "{err:?}");
    }
}
