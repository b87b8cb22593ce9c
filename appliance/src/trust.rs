//! Which certificate authorities the appliance trusts for TLS: the system's roots
//! (rustls-native-certs) plus the PEM certificates of the administrator's `ca_file`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tokio_rustls::rustls::RootCertStore;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};

/// Why a CA file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not PEM, or a PEM block is broken.
    #[error("{} is not a PEM file of certificates: {reason}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong, as the PEM reader says it.
        reason: String,
    },
    /// The file holds no `CERTIFICATE` block.
    #[error("{} holds no certificate (expected PEM blocks \"-----BEGIN CERTIFICATE-----\")", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A certificate cannot serve as a trust anchor.
    #[error("certificate {index} in {} cannot be trusted as a certificate authority: {reason}", path.display())]
    Unusable {
        /// The file.
        path: PathBuf,
        /// 1-based position of the certificate in the file.
        index: usize,
        /// Why, as rustls says it.
        reason: String,
    },
}

/// Reads every certificate of a PEM file and checks that each can be a trust anchor.
///
/// # Errors
/// [`CaFileError`] when the file cannot be read, is not PEM, holds no certificate, or holds a
/// certificate that cannot be parsed.
pub fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, CaFileError> {
    let bytes = std::fs::read(path).map_err(|source| CaFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|e| CaFileError::Pem {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(CaFileError::Empty {
            path: path.to_owned(),
        });
    }
    for (i, cert) in certs.iter().enumerate() {
        RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| CaFileError::Unusable {
                path: path.to_owned(),
                index: i + 1,
                reason: e.to_string(),
            })?;
    }
    Ok(certs)
}

/// The system's trusted roots, loaded once per process (unreadable ones are skipped).
fn native_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// The roots to verify a server with: the system's plus those of `ca_file`.
///
/// # Errors
/// [`CaFileError`] when `ca_file` is given and cannot be used.
pub fn root_store(ca_file: Option<&Path>) -> Result<RootCertStore, CaFileError> {
    let mut roots = RootCertStore::empty();
    // A system root rustls cannot parse is skipped, like every TLS client does.
    roots.add_parsable_certificates(native_roots().iter().cloned());
    if let Some(path) = ca_file {
        for cert in load_ca_file(path)? {
            // load_ca_file has checked that each one can be added.
            let _ = roots.add(cert);
        }
    }
    Ok(roots)
}
