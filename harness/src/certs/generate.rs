//! A fresh test CA and every certificate variant, made with rcgen and written into a folder.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

use super::{CertError, CertVariant, TEST_CA_NAME, UNKNOWN_CA_NAME};

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

/// Writes `contents` to `path` and adds it to `written`.
fn write(path: PathBuf, contents: &str, written: &mut Vec<PathBuf>) -> Result<(), CertError> {
    fs::write(&path, contents).map_err(|source| CertError::Io {
        path: path.clone(),
        source,
    })?;
    written.push(path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::load::{parse_ca_certs, parse_key, read};
    use crate::certs::{CertSource, embedded_ca_pem};

    #[test]
    fn generate_writes_all_files_and_they_parse() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("certs");
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
    }
}
