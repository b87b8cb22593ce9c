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

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

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
fn parse_certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(what, e))?;
    if certs.is_empty() {
        return Err(pem_error(what, "no CERTIFICATE block found"));
    }
    Ok(certs)
}

/// Parses the first private key block in `pem`.
fn parse_key(pem: &str, what: &str) -> Result<PrivateKeyDer<'static>, CertError> {
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

fn read(path: &Path) -> Result<String, CertError> {
    fs::read_to_string(path).map_err(|source| CertError::Io {
        path: path.to_owned(),
        source,
    })
}

fn write(path: PathBuf, contents: &str, written: &mut Vec<PathBuf>) -> Result<(), CertError> {
    fs::write(&path, contents).map_err(|source| CertError::Io {
        path: path.clone(),
        source,
    })?;
    written.push(path);
    Ok(())
}

/// The committed (embedded) certificate chain and key for `v`.
///
/// The PEM text is compiled in from `certs/<name>.pem` and `certs/<name>.key.pem`;
/// it is parsed only when used (see [`crate::tls::embedded_server_config`]).
pub fn embedded(v: CertVariant) -> CertBundle {
    let (chain, key) = match v {
        CertVariant::Valid => (
            include_str!("../../certs/valid.pem"),
            include_str!("../../certs/valid.key.pem"),
        ),
        CertVariant::Expired => (
            include_str!("../../certs/expired.pem"),
            include_str!("../../certs/expired.key.pem"),
        ),
        CertVariant::WrongHost => (
            include_str!("../../certs/wrong-host.pem"),
            include_str!("../../certs/wrong-host.key.pem"),
        ),
        CertVariant::SelfSigned => (
            include_str!("../../certs/self-signed.pem"),
            include_str!("../../certs/self-signed.key.pem"),
        ),
        CertVariant::UnknownCa => (
            include_str!("../../certs/unknown-ca.pem"),
            include_str!("../../certs/unknown-ca.key.pem"),
        ),
    };
    CertBundle {
        chain_pem: chain.to_owned(),
        key_pem: key.to_owned(),
    }
}

/// The committed (embedded) test CA certificate, PEM (`certs/ca.pem`).
pub fn embedded_ca_pem() -> &'static str {
    include_str!("../../certs/ca.pem")
}

/// Start of the fixed validity period of the CAs and the non-expired leaves.
fn fixed_not_before() -> OffsetDateTime {
    rcgen::date_time_ymd(2026, 1, 1)
}

/// End of the fixed validity period of the CAs and the non-expired leaves.
fn fixed_not_after() -> OffsetDateTime {
    rcgen::date_time_ymd(2056, 1, 1)
}

/// Parameters for a CA certificate with the given common name.
fn ca_params(common_name: &str) -> Result<CertificateParams, CertError> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, common_name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = fixed_not_before();
    p.not_after = fixed_not_after();
    Ok(p)
}

/// Parameters for a server (leaf) certificate for `names`. The common name says which variant
/// it is (`smtp-harness self-signed`): a bare `CN=localhost` would share its subject with
/// Debian's snakeoil certificate in /etc/ssl/certs, and a self-signed leaf's subject is its
/// issuer, which would send verifiers to the wrong key.
fn leaf_params(
    variant: CertVariant,
    names: &[&str],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    ca_signed: bool,
) -> Result<CertificateParams, CertError> {
    let mut p = CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())?;
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(
        DnType::CommonName,
        format!("smtp-harness {}", variant.name()),
    );
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = ca_signed;
    p.not_before = not_before;
    p.not_after = not_after;
    Ok(p)
}

const LOCAL_NAMES: &[&str] = &["localhost", "127.0.0.1"];

/// Writes a fresh test CA and every [`CertVariant`] into `dir` (creating it);
/// returns the files written.
///
/// Files: `ca.pem` and `ca.key.pem` (the test CA, CN [`TEST_CA_NAME`]), then for each
/// variant `<name>.pem` (leaf first; for the variants signed by the test CA, the CA
/// certificate follows the leaf) and `<name>.key.pem` (PKCS#8). The `unknown-ca`
/// leaf is signed by a second CA ([`UNKNOWN_CA_NAME`]) whose key and certificate are
/// not written anywhere, so `unknown-ca.pem` holds the leaf only. Existing files are
/// overwritten. The `expired` certificate is dated relative to the current time
/// (valid from 60 days ago until 1 day ago); all others have the fixed validity
/// 2026-01-01 to 2056-01-01.
///
/// # Errors
/// [`CertError::Io`] if the directory cannot be created or a file cannot be
/// written (files written before the failure stay), [`CertError::Generate`] if
/// `rcgen` fails.
pub fn generate(dir: &Path) -> Result<Vec<PathBuf>, CertError> {
    fs::create_dir_all(dir).map_err(|source| CertError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let now = OffsetDateTime::now_utc();
    let mut written = Vec::new();

    let ca_key = KeyPair::generate()?;
    let test_ca_params = ca_params(TEST_CA_NAME)?;
    let ca_cert_pem = test_ca_params.self_signed(&ca_key)?.pem();
    write(dir.join("ca.pem"), &ca_cert_pem, &mut written)?;
    write(
        dir.join("ca.key.pem"),
        &ca_key.serialize_pem(),
        &mut written,
    )?;
    let test_ca = Issuer::new(test_ca_params, ca_key);

    // Only the key and the name are needed to sign; the unknown CA's own
    // certificate is never created, let alone written.
    let unknown_ca = Issuer::new(ca_params(UNKNOWN_CA_NAME)?, KeyPair::generate()?);

    for v in CertVariant::ALL {
        let key = KeyPair::generate()?;
        let chain_pem = match v {
            CertVariant::Valid => {
                let p = leaf_params(v, LOCAL_NAMES, fixed_not_before(), fixed_not_after(), true)?;
                p.signed_by(&key, &test_ca)?.pem() + &ca_cert_pem
            }
            CertVariant::Expired => {
                let p = leaf_params(
                    v,
                    LOCAL_NAMES,
                    now - Duration::days(60),
                    now - Duration::days(1),
                    true,
                )?;
                p.signed_by(&key, &test_ca)?.pem() + &ca_cert_pem
            }
            CertVariant::WrongHost => {
                let p = leaf_params(
                    v,
                    &["wrong.example"],
                    fixed_not_before(),
                    fixed_not_after(),
                    true,
                )?;
                p.signed_by(&key, &test_ca)?.pem() + &ca_cert_pem
            }
            CertVariant::SelfSigned => {
                let p = leaf_params(v, LOCAL_NAMES, fixed_not_before(), fixed_not_after(), false)?;
                p.self_signed(&key)?.pem()
            }
            CertVariant::UnknownCa => {
                let p = leaf_params(v, LOCAL_NAMES, fixed_not_before(), fixed_not_after(), true)?;
                p.signed_by(&key, &unknown_ca)?.pem()
            }
        };
        write(
            dir.join(format!("{}.pem", v.name())),
            &chain_pem,
            &mut written,
        )?;
        write(
            dir.join(format!("{}.key.pem", v.name())),
            &key.serialize_pem(),
            &mut written,
        )?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh, unique, not yet existing directory under the system temp dir.
    fn temp_dir(tag: &str) -> PathBuf {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        std::env::temp_dir().join(format!(
            "smtp-harness-{tag}-{}-{n}-{nanos}",
            std::process::id()
        ))
    }

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
    fn generate_writes_all_files_and_they_parse() {
        let dir = temp_dir("certs-gen");
        let written = generate(&dir).unwrap();
        let mut expected = vec![dir.join("ca.pem"), dir.join("ca.key.pem")];
        for v in CertVariant::ALL {
            expected.push(dir.join(format!("{}.pem", v.name())));
            expected.push(dir.join(format!("{}.key.pem", v.name())));
        }
        assert_eq!(written, expected);
        let mut on_disk: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        on_disk.sort();
        let mut sorted = expected.clone();
        sorted.sort();
        assert_eq!(on_disk, sorted, "no other files are written");

        let src = CertSource::Dir(dir.clone());
        let ca = parse_ca_certs(&src.ca_pem().unwrap()).unwrap();
        assert_eq!(ca.len(), 1);
        parse_key(&read(&dir.join("ca.key.pem")).unwrap(), "ca key").unwrap();
        for v in CertVariant::ALL {
            let b = src.bundle(v).unwrap();
            let chain = b.chain_der().unwrap();
            assert!(!chain.is_empty());
            // The key belongs to the leaf: rustls checks this when building the config.
            crate::tls::server_config(&b).unwrap();
        }
        // A fresh CA each time: the generated CA differs from the embedded one.
        assert_ne!(src.ca_pem().unwrap(), embedded_ca_pem());

        // Regenerating over an existing directory works.
        generate(&dir).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dir_source_errors() {
        let dir = temp_dir("certs-missing");
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
        fs::remove_dir_all(&dir).unwrap();
    }
}
