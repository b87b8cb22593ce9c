//! Test certificates for the fake SMTP server.
//!
//! Every TLS scenario presents one of a small, fixed set of server certificates
//! ([`CertVariant`]): a good one signed by the harness's own **test CA**, and four
//! deliberately broken ones (expired, wrong host name, self-signed, signed by an
//! unknown CA) to check that clients reject them. All of them are made with
//! `rcgen` using ECDSA P-256 keys ([`generate`]); a set generated once is
//! committed under `certs/` at the workspace root and compiled into the binary
//! ([`embedded`], [`embedded_ca_pem`]), so a scenario run needs no files on disk.
//! [`CertSource::Dir`] loads a freshly generated set instead.
//!
//! The test CA's private key is public (it is committed). Never trust it outside
//! tests.
//!
//! - `load.rs`: [`CertBundle`], [`CertSource`] and the embedded set: PEM read and checked.
//! - `generate.rs`: [`generate`], a fresh set made with rcgen.

mod generate;
mod load;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use tokio_rustls::rustls;

pub use generate::generate;
pub(crate) use load::parse_ca_certs;
pub use load::{CertBundle, CertSource, embedded, embedded_ca_pem};

/// Common name of the test CA that signs the `valid`, `expired` and `wrong-host` certificates.
pub const TEST_CA_NAME: &str = "smtp-harness test CA";

/// Common name of the throw-away CA that signs the `unknown-ca` certificate.
pub const UNKNOWN_CA_NAME: &str = "smtp-harness unknown CA";

/// Which certificate a scenario presents.
///
/// Serialized (e.g. in transcripts) as its [`name`](CertVariant::name), such as `"wrong-host"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertVariant {
    /// Signed by the test CA, valid for `localhost` and `127.0.0.1`, 2026-01-01 to 2056-01-01.
    Valid,
    /// Signed by the test CA, valid for `localhost` and `127.0.0.1`, but expired
    /// (its validity ended one day before it was generated).
    Expired,
    /// Signed by the test CA, currently valid, but only for `wrong.example`.
    WrongHost,
    /// Valid for `localhost` and `127.0.0.1`, but self-signed rather than CA-signed.
    SelfSigned,
    /// Valid for `localhost` and `127.0.0.1`, but signed by a CA nobody trusts
    /// (its certificate and key were thrown away at generation time).
    UnknownCa,
}

impl CertVariant {
    /// Every variant, in a fixed order.
    pub const ALL: [CertVariant; 5] = [
        CertVariant::Valid,
        CertVariant::Expired,
        CertVariant::WrongHost,
        CertVariant::SelfSigned,
        CertVariant::UnknownCa,
    ];

    /// The variant's stable name, also the stem of its files (`<name>.pem`, `<name>.key.pem`).
    pub fn name(self) -> &'static str {
        match self {
            CertVariant::Valid => "valid",
            CertVariant::Expired => "expired",
            CertVariant::WrongHost => "wrong-host",
            CertVariant::SelfSigned => "self-signed",
            CertVariant::UnknownCa => "unknown-ca",
        }
    }

    /// The variant with the given [`name`](CertVariant::name), if any (exact, case-sensitive).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == s)
    }
}

impl fmt::Display for CertVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CertVariant {
    type Err = CertError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or_else(|| CertError::UnknownVariant(s.to_owned()))
    }
}

/// The valid variant names, comma-separated, for error messages.
fn valid_names() -> String {
    CertVariant::ALL.map(CertVariant::name).join(", ")
}

/// Errors from loading, generating or using test certificates.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A certificate variant name that is not one of [`CertVariant::ALL`].
    #[error("unknown certificate variant {0:?} (expected one of: {names})", names = valid_names())]
    UnknownVariant(String),
    /// Reading or writing a certificate file failed.
    #[error("I/O error on {}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `rcgen` failed to generate a key or certificate.
    #[error("certificate generation failed")]
    Generate(#[from] rcgen::Error),
    /// PEM text that is malformed or lacks the expected items.
    #[error("bad PEM in {what}: {detail}")]
    Pem {
        /// What was being parsed: a file path or a description such as "certificate chain".
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// rustls rejected the certificates, the key or the configuration.
    #[error("TLS configuration error")]
    Tls(#[from] rustls::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for v in CertVariant::ALL {
            assert_eq!(CertVariant::from_name(v.name()), Some(v));
            assert_eq!(v.name().parse::<CertVariant>().ok(), Some(v));
            assert_eq!(v.to_string(), v.name());
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{}\"", v.name()));
        }
        let names: Vec<_> = CertVariant::ALL.map(CertVariant::name).to_vec();
        assert_eq!(
            names,
            [
                "valid",
                "expired",
                "wrong-host",
                "self-signed",
                "unknown-ca"
            ]
        );
        assert_eq!(CertVariant::from_name("Valid"), None);
        assert_eq!(CertVariant::from_name(""), None);
    }

    #[test]
    fn unknown_name_error_lists_valid_names() {
        let err = "bogus".parse::<CertVariant>().unwrap_err();
        assert!(matches!(&err, CertError::UnknownVariant(s) if s == "bogus"));
        let msg = err.to_string();
        assert!(msg.contains("\"bogus\""), "{msg}");
        for v in CertVariant::ALL {
            assert!(msg.contains(v.name()), "{msg} lacks {}", v.name());
        }
    }
}
