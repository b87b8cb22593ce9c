//! Certificates as PEM text, from the set compiled into the crate or from a folder written by
//! [`super::generate`], checked when read.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{CertError, CertVariant};

/// A PEM certificate chain (leaf first) and its PEM private key.
#[derive(Clone, Debug)]
pub struct CertBundle {
    /// One or more `CERTIFICATE` blocks, the leaf first.
    pub chain_pem: String,
    /// The leaf's private key (PKCS#8, SEC1 or PKCS#1 PEM).
    pub key_pem: String,
}

impl CertBundle {
    /// Parses [`chain_pem`](Self::chain_pem) into DER certificates, leaf first.
    ///
    /// # Errors
    /// [`CertError::Pem`] if the PEM is malformed or holds no certificate.
    pub fn chain_der(&self) -> Result<Vec<CertificateDer<'static>>, CertError> {
        parse_certs(&self.chain_pem, "certificate chain")
    }

    /// Parses [`key_pem`](Self::key_pem) into a DER private key.
    ///
    /// # Errors
    /// [`CertError::Pem`] if the PEM is malformed or holds no private key.
    pub fn key_der(&self) -> Result<PrivateKeyDer<'static>, CertError> {
        parse_key(&self.key_pem, "private key")
    }
}

/// Parses every `CERTIFICATE` block in `pem`; at least one is required.
pub(super) fn parse_certs(
    pem: &str,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(what, e))?;
    if certs.is_empty() {
        return Err(pem_error(what, "no CERTIFICATE block found"));
    }
    Ok(certs)
}

/// Parses the first private key block in `pem`.
pub(super) fn parse_key(pem: &str, what: &str) -> Result<PrivateKeyDer<'static>, CertError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            pem_error(what, "no PRIVATE KEY block found")
        }
        other => pem_error(what, other),
    })
}

/// Parses the certificates in `pem` (used for CA PEM text by [`crate::tls`]).
pub(crate) fn parse_ca_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, CertError> {
    parse_certs(pem, "CA certificate")
}

fn pem_error(what: impl fmt::Display, detail: impl fmt::Display) -> CertError {
    CertError::Pem {
        what: what.to_string(),
        detail: detail.to_string(),
    }
}

/// Where certificates come from.
#[derive(Clone, Debug, Default)]
pub enum CertSource {
    /// The set committed under `certs/` and compiled into the binary.
    #[default]
    Embedded,
    /// A directory laid out as [`generate`] writes it.
    Dir(PathBuf),
}

impl CertSource {
    /// The certificate chain and key for `v`.
    ///
    /// For [`CertSource::Dir`] this reads `<dir>/<name>.pem` and `<dir>/<name>.key.pem`
    /// and checks that both contain well-formed PEM of the right kind.
    ///
    /// # Errors
    /// Never for [`CertSource::Embedded`]. For [`CertSource::Dir`],
    /// [`CertError::Io`] if a file cannot be read and [`CertError::Pem`] if one
    /// holds no certificate or no private key.
    pub fn bundle(&self, v: CertVariant) -> Result<CertBundle, CertError> {
        match self {
            CertSource::Embedded => Ok(embedded(v)),
            CertSource::Dir(dir) => {
                let chain_path = dir.join(format!("{}.pem", v.name()));
                let key_path = dir.join(format!("{}.key.pem", v.name()));
                let chain_pem = read(&chain_path)?;
                let key_pem = read(&key_path)?;
                parse_certs(&chain_pem, &chain_path.display().to_string())?;
                parse_key(&key_pem, &key_path.display().to_string())?;
                Ok(CertBundle { chain_pem, key_pem })
            }
        }
    }

    /// The PEM certificate of the test CA that clients should trust.
    ///
    /// For [`CertSource::Dir`] this reads and checks `<dir>/ca.pem`.
    ///
    /// # Errors
    /// Never for [`CertSource::Embedded`]. For [`CertSource::Dir`],
    /// [`CertError::Io`] if `ca.pem` cannot be read and [`CertError::Pem`] if it
    /// holds no certificate.
    pub fn ca_pem(&self) -> Result<String, CertError> {
        match self {
            CertSource::Embedded => Ok(embedded_ca_pem().to_owned()),
            CertSource::Dir(dir) => {
                let path = dir.join("ca.pem");
                let pem = read(&path)?;
                parse_certs(&pem, &path.display().to_string())?;
                Ok(pem)
            }
        }
    }
}

/// The file's text.
pub(super) fn read(path: &Path) -> Result<String, CertError> {
    fs::read_to_string(path).map_err(|source| CertError::Io {
        path: path.to_owned(),
        source,
    })
}

/// The committed (embedded) certificate chain and key for `v`.
///
/// The PEM text is compiled in from `certs/<name>.pem` and `certs/<name>.key.pem`;
/// it is parsed only when used (see [`crate::tls::embedded_server_config`]).
pub fn embedded(v: CertVariant) -> CertBundle {
    let (chain, key) = match v {
        CertVariant::Valid => (
            include_str!("../../../certs/valid.pem"),
            include_str!("../../../certs/valid.key.pem"),
        ),
        CertVariant::Expired => (
            include_str!("../../../certs/expired.pem"),
            include_str!("../../../certs/expired.key.pem"),
        ),
        CertVariant::WrongHost => (
            include_str!("../../../certs/wrong-host.pem"),
            include_str!("../../../certs/wrong-host.key.pem"),
        ),
        CertVariant::SelfSigned => (
            include_str!("../../../certs/self-signed.pem"),
            include_str!("../../../certs/self-signed.key.pem"),
        ),
        CertVariant::UnknownCa => (
            include_str!("../../../certs/unknown-ca.pem"),
            include_str!("../../../certs/unknown-ca.key.pem"),
        ),
    };
    CertBundle {
        chain_pem: chain.to_owned(),
        key_pem: key.to_owned(),
    }
}

/// The committed (embedded) test CA certificate, PEM (`certs/ca.pem`).
pub fn embedded_ca_pem() -> &'static str {
    include_str!("../../../certs/ca.pem")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_certs_parse() {
        let ca = parse_ca_certs(embedded_ca_pem()).unwrap();
        assert_eq!(ca.len(), 1);
        for v in CertVariant::ALL {
            let b = embedded(v);
            let chain = b.chain_der().unwrap();
            b.key_der().unwrap();
            let expected_len = match v {
                CertVariant::SelfSigned | CertVariant::UnknownCa => 1,
                _ => 2,
            };
            assert_eq!(chain.len(), expected_len, "{v}");
            if expected_len == 2 {
                assert_eq!(chain[1], ca[0], "{v}: second cert is the test CA");
            }
        }
        assert_eq!(
            CertSource::Embedded.ca_pem().unwrap(),
            embedded_ca_pem().to_owned()
        );
    }

    #[test]
    fn dir_source_errors() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("missing");
        let src = CertSource::Dir(dir.clone());
        let err = src.bundle(CertVariant::Valid).unwrap_err();
        assert!(
            matches!(&err, CertError::Io { path, .. } if path == &dir.join("valid.pem")),
            "{err:?}"
        );
        assert!(err.to_string().contains("valid.pem"), "{err}");

        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("ca.pem"), "not pem at all\n").unwrap();
        let err = src.ca_pem().unwrap_err();
        assert!(
            matches!(&err, CertError::Pem { what, .. } if what.contains("ca.pem")),
            "{err:?}"
        );
        fs::write(
            dir.join("valid.pem"),
            embedded(CertVariant::Valid).chain_pem,
        )
        .unwrap();
        fs::write(dir.join("valid.key.pem"), embedded_ca_pem()).unwrap();
        let err = src.bundle(CertVariant::Valid).unwrap_err();
        assert!(
            matches!(&err, CertError::Pem { what, detail } if what.contains("valid.key.pem") && detail.contains("PRIVATE KEY")),
            "{err:?}"
        );
    }
}
