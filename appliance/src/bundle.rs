//! The support bundle (`appliance support-bundle -o FILE.tar.gz`): the logs and the settings
//! an administrator sends to support, in the reference layout (`docs/email-subsystem.md`),
//! with every secret removed.
//!
//! ```text
//! MANIFEST                              what is in the bundle (and what is missing, and why)
//! settings.toml                         DATA_DIR/settings.toml, passwords replaced by "[redacted]"
//! outbox-status.txt                     `appliance outbox status` (no message content)
//! enterprise-manage-logs/unicorn.log    DATA_DIR/logs/unicorn.log, the SMTP conversation log
//! mail.log                              DATA_DIR/logs/mail.log, the inbound MTA's log, if present
//! mail-replies/metroplex.log            DATA_DIR/logs/mail-replies/metroplex.log, the reply processor's log
//! ```
//!
//! Secrets are kept out twice. The conversation log never holds them (AUTH payloads are
//! written as `[redacted]`), and `settings.toml` is rewritten with every key that names a
//! password, secret or token redacted. Then, belt and braces, every text in the bundle is
//! scanned: any client line answering a `334` challenge and any `AUTH MECH <initial
//! response>` not already redacted is redacted (a log written by another tool may have them,
//! as the published reference log does), as are the configured password, the base64 forms of
//! the password and the user name at every byte alignment (which also catches them inside an
//! AUTH PLAIN blob), and the reply key. Entries are written in a fixed order.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::convlog::REDACTED;
use crate::datadir::DataDir;
use crate::fsutil;
use crate::outbox::Outbox;

/// The conversation log's place in the bundle.
pub const UNICORN_LOG: &str = "enterprise-manage-logs/unicorn.log";
/// The inbound MTA log's place in the bundle.
pub const MAIL_LOG: &str = "mail.log";
/// The reply processor's log's place in the bundle.
pub const METROPLEX_LOG: &str = "mail-replies/metroplex.log";

/// The shortest secret-derived text the final scan redacts (shorter ones would match too
/// much ordinary text).
const MIN_PATTERN: usize = 4;

/// What went into a bundle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BundleReport {
    /// Every file, in order, with its size.
    pub files: Vec<(String, u64)>,
    /// Files of the layout that are not in the bundle, and why.
    pub missing: Vec<(String, String)>,
    /// How many secrets the final scan found and redacted (0 is the expected number).
    pub scan_redactions: usize,
}

/// Why the bundle could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the support bundle {}: {source}", path.display())]
pub struct BundleError {
    /// The bundle file.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: io::Error,
}

/// Writes the support bundle of `data_dir` to `out` (a gzip-compressed tar, written to a
/// temporary file and renamed into place; mode 0600). Entries carry the time `now`.
///
/// # Errors
/// [`BundleError`] when the bundle cannot be written (a missing log is not an error).
pub fn write(data_dir: &DataDir, out: &Path, now: SystemTime) -> Result<BundleReport, BundleError> {
    let error = |source| BundleError {
        path: out.to_owned(),
        source,
    };
    let (files, mut report) = collect(data_dir, now).map_err(error)?;
    let tmp = out.with_file_name(format!(
        ".{}.tmp.{}",
        out.file_name()
            .map_or("bundle".into(), |n| n.to_string_lossy().into_owned()),
        std::process::id()
    ));
    let written = write_tar(&tmp, &files, now);
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, out)) {
        let _ = fs::remove_file(&tmp);
        return Err(error(e));
    }
    report.files = files
        .iter()
        .map(|(name, bytes)| (name.clone(), bytes.len() as u64))
        .collect();
    Ok(report)
}

/// A file of the bundle: its path in the archive and its contents.
type BundleFile = (String, Vec<u8>);

/// The bundle's files, in order, already redacted.
fn collect(data_dir: &DataDir, now: SystemTime) -> io::Result<(Vec<BundleFile>, BundleReport)> {
    let mut report = BundleReport::default();
    let mut files: Vec<(String, String)> = Vec::new();
    let mut secrets = Secrets::default();

    match fs::read_to_string(data_dir.settings_file()) {
        Ok(text) => match redact_settings(&text, &mut secrets) {
            Some(redacted) => files.push(("settings.toml".into(), redacted)),
            None => report.missing.push((
                "settings.toml".into(),
                "not valid TOML, so it cannot be redacted safely".into(),
            )),
        },
        Err(e) => report
            .missing
            .push(("settings.toml".into(), format!("cannot read it: {e}"))),
    }
    if let Ok(key) = fs::read_to_string(data_dir.root().join(crate::notify::store::KEY_PATH)) {
        secrets.plain.push(key.trim().to_owned());
    }

    let outbox_root = data_dir.root().join(crate::outbox::OUTBOX_PATH);
    if outbox_root.is_dir() {
        let status = Outbox::at(&outbox_root)?.status()?;
        files.push(("outbox-status.txt".into(), status.text(now)));
    } else {
        report
            .missing
            .push(("outbox-status.txt".into(), "there is no outbox yet".into()));
    }

    for (name, source) in [
        (UNICORN_LOG, data_dir.log_file()),
        (MAIL_LOG, data_dir.mail_log_file()),
        (METROPLEX_LOG, data_dir.metroplex_log_file()),
    ] {
        match fs::read(&source) {
            Ok(bytes) => files.push((name.into(), String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => report
                .missing
                .push((name.into(), format!("{} does not exist", source.display()))),
            Err(e) => report.missing.push((
                name.into(),
                format!("cannot read {}: {e}", source.display()),
            )),
        }
    }

    let patterns = secrets.patterns();
    let mut out = Vec::with_capacity(files.len() + 1);
    for (name, text) in files {
        let (text, n) = redact_sasl(&text);
        let (text, m) = redact_patterns(&text, &patterns);
        report.scan_redactions += n + m;
        out.push((name, text.into_bytes()));
    }
    let manifest = manifest(&out, &report, now);
    out.insert(0, ("MANIFEST".into(), manifest.into_bytes()));
    Ok((out, report))
}

fn manifest(files: &[(String, Vec<u8>)], report: &BundleReport, now: SystemTime) -> String {
    let mut m = format!(
        "appliance support bundle, made {}\n\nfiles:\n",
        fsutil::rfc3339(fsutil::unix_ms(now))
    );
    m.push_str("  MANIFEST\n");
    for (name, bytes) in files {
        m.push_str(&format!("  {name} ({} bytes)\n", bytes.len()));
    }
    if !report.missing.is_empty() {
        m.push_str("\nnot included:\n");
        for (name, why) in &report.missing {
            m.push_str(&format!("  {name}: {why}\n"));
        }
    }
    m.push_str(&format!(
        "\nsecrets: passwords in settings.toml are replaced by {REDACTED}; the final scan redacted {} more\n",
        report.scan_redactions
    ));
    m
}

fn write_tar(path: &Path, files: &[(String, Vec<u8>)], now: SystemTime) -> io::Result<()> {
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mtime = fsutil::unix_ms(now) / 1000;
    let mut dirs_done: Vec<String> = Vec::new();
    for (name, bytes) in files {
        if let Some((dir, _)) = name.rsplit_once('/')
            && !dirs_done.iter().any(|d| d == dir)
        {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_mtime(mtime);
            header.set_size(0);
            tar.append_data(&mut header, format!("{dir}/"), io::empty())?;
            dirs_done.push(dir.to_owned());
        }
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_size(bytes.len() as u64);
        tar.append_data(&mut header, name, bytes.as_slice())?;
    }
    let gz = tar.into_inner()?;
    let mut file: File = gz.finish()?;
    file.flush()?;
    file.sync_all()
}

/// Secrets found in the settings and the data directory.
#[derive(Debug, Default)]
struct Secrets {
    /// Redacted as they are and in base64.
    plain: Vec<String>,
    /// Redacted in base64 only (the user name: it is shown in clear in the settings).
    encoded_only: Vec<String>,
}

impl Secrets {
    /// Every text to redact, longest first.
    fn patterns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.plain {
            out.push(s.clone());
            out.extend(base64_forms(s.as_bytes()));
        }
        for s in &self.encoded_only {
            out.extend(base64_forms(s.as_bytes()));
        }
        out.retain(|p| p.len() >= MIN_PATTERN);
        out.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        out.dedup();
        out
    }
}

/// The base64 text that `secret` becomes wherever it sits in a longer base64 string: for each
/// of the three byte alignments, the characters that depend on the secret's bytes only.
fn base64_forms(secret: &[u8]) -> Vec<String> {
    let mut forms = vec![STANDARD.encode(secret)];
    for offset in 0..3usize {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(secret);
        let encoded = STANDARD.encode(&bytes);
        let start = (offset * 8).div_ceil(6);
        let end = (bytes.len() * 8) / 6;
        if end > start {
            forms.push(encoded[start..end].to_owned());
        }
    }
    forms
}

/// Rewrites the settings with every key that names a password, secret or token redacted,
/// and notes the credentials for the final scan. `None` if the text is not TOML.
fn redact_settings(text: &str, secrets: &mut Secrets) -> Option<String> {
    let mut table: toml::Table = toml::from_str(text).ok()?;
    fn walk(table: &mut toml::Table, secrets: &mut Secrets) {
        for (key, value) in table.iter_mut() {
            let lower = key.to_ascii_lowercase();
            let sensitive = ["password", "secret", "token"]
                .iter()
                .any(|w| lower.contains(w));
            match value {
                toml::Value::Table(t) => walk(t, secrets),
                toml::Value::String(s) if sensitive => {
                    secrets.plain.push(s.clone());
                    *value = toml::Value::String(REDACTED.into());
                }
                toml::Value::String(s) if lower == "username" => {
                    secrets.encoded_only.push(s.clone());
                }
                _ if sensitive => *value = toml::Value::String(REDACTED.into()),
                _ => {}
            }
        }
    }
    walk(&mut table, secrets);
    let body = toml::to_string(&table).ok()?;
    Some(format!(
        "# settings.toml from the appliance's data directory; secrets replaced by \"{REDACTED}\"\n{body}"
    ))
}

/// Redacts SASL payloads in a conversation log that are not redacted yet: the client line
/// after each `334` challenge, and the initial response of `AUTH MECH RESPONSE`.
fn redact_sasl(text: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut count = 0;
    let mut after_334 = false;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let mut replaced: Option<String> = None;
        if let Some(quoted) = body.strip_prefix("<- \"") {
            if after_334 {
                if quoted != format!("{REDACTED}\\r\\n\"") && quoted != "*\\r\\n\"" {
                    replaced = Some(format!("<- \"{REDACTED}\\r\\n\""));
                }
            } else if quoted.len() > 5 && quoted[..5].eq_ignore_ascii_case("AUTH ") {
                let mut words = quoted[5..].splitn(2, ' ');
                let mechanism = words.next().unwrap_or("").trim_end_matches("\\r\\n\"");
                if let Some(rest) = words.next()
                    && rest != format!("{REDACTED}\\r\\n\"")
                {
                    replaced = Some(format!("<- \"AUTH {mechanism} {REDACTED}\\r\\n\""));
                }
            }
        }
        after_334 = body.starts_with("-> \"334") || (after_334 && !body.starts_with("<- "));
        match replaced {
            Some(r) => {
                count += 1;
                out.push_str(&r);
                if line.ends_with('\n') {
                    out.push('\n');
                }
            }
            None => out.push_str(line),
        }
    }
    (out, count)
}

/// Replaces every occurrence of each pattern by `[redacted]`.
fn redact_patterns(text: &str, patterns: &[String]) -> (String, usize) {
    let mut text = text.to_owned();
    let mut count = 0;
    for p in patterns {
        let n = text.matches(p.as_str()).count();
        if n > 0 {
            count += n;
            text = text.replace(p.as_str(), REDACTED);
        }
    }
    (text, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_forms_find_a_secret_inside_any_blob() {
        let forms = base64_forms(b"itreallywas");
        assert!(forms.contains(&"aXRyZWFsbHl3YXM=".to_owned()));
        for prefix in ["", "\0", "\0me\0", "thisismy@address.com\0"] {
            let blob = STANDARD.encode(format!("{prefix}itreallywas"));
            assert!(
                forms
                    .iter()
                    .any(|f| f.len() >= MIN_PATTERN && blob.contains(f.as_str())),
                "{prefix:?}: {blob}"
            );
        }
    }

    #[test]
    fn the_published_log_is_redacted() {
        let log = "-> \"334 VXNlcm5hbWU6\\r\\n\"\n\
                   <- \"dGhpc2lzbXlAYWRkcmVzcy5jb20=\\r\\n\"\n\
                   -> \"334 UGFzc3dvcmQ6\\r\\n\"\n\
                   <- \"aXRyZWFsbHl3YXM=\\r\\n\"\n\
                   -> \"535 5.7.1 no\\r\\n\"\n\
                   <- \"QUIT\\r\\n\"\n\
                   <- \"AUTH PLAIN AHRoaXMAaXM=\\r\\n\"\n\
                   <- \"AUTH PLAIN [redacted]\\r\\n\"\n\
                   <- \"AUTH LOGIN\\r\\n\"\n";
        let (out, n) = redact_sasl(log);
        assert_eq!(n, 3, "{out}");
        assert_eq!(
            out,
            "-> \"334 VXNlcm5hbWU6\\r\\n\"\n\
             <- \"[redacted]\\r\\n\"\n\
             -> \"334 UGFzc3dvcmQ6\\r\\n\"\n\
             <- \"[redacted]\\r\\n\"\n\
             -> \"535 5.7.1 no\\r\\n\"\n\
             <- \"QUIT\\r\\n\"\n\
             <- \"AUTH PLAIN [redacted]\\r\\n\"\n\
             <- \"AUTH PLAIN [redacted]\\r\\n\"\n\
             <- \"AUTH LOGIN\\r\\n\"\n"
        );
    }

    #[test]
    fn settings_are_redacted() {
        let mut secrets = Secrets::default();
        let text = "hostname = \"a.example\"\n[email]\nusername = \"alice\"\npassword = \"s3cret\"\napi_token = 5\n";
        let out = redact_settings(text, &mut secrets).unwrap();
        assert!(!out.contains("s3cret"), "{out}");
        assert!(out.contains("password = \"[redacted]\""), "{out}");
        assert!(out.contains("api_token = \"[redacted]\""), "{out}");
        assert!(out.contains("username = \"alice\""), "{out}");
        let patterns = secrets.patterns();
        assert!(patterns.contains(&"s3cret".to_owned()));
        assert!(patterns.contains(&"czNjcmV0".to_owned()));
        assert!(!patterns.contains(&"alice".to_owned()));
        let (text, n) = redact_patterns("x s3cret y czNjcmV0 z", &patterns);
        assert_eq!((text.as_str(), n), ("x [redacted] y [redacted] z", 2));
        assert_eq!(redact_settings("not = [toml", &mut secrets), None);
    }
}
