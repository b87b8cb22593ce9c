//! `appliance support-bundle -o FILE.tar.gz`: the reference layout, the settings redacted,
//! and no credential anywhere, not even in base64, not even when a log has leaked one.

mod common;

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;

/// The bundle's entries, in order: (path, contents).
fn open_bundle(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let file = std::fs::File::open(path).expect("the bundle exists");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive
        .entries()
        .expect("a tar")
        .map(|e| {
            let mut e = e.expect("an entry");
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            (name, bytes)
        })
        .collect()
}

/// Every form a credential could take: the password, its base64, the base64 of the user name
/// (what AUTH LOGIN sends), the AUTH PLAIN blob.
fn credential_forms() -> Vec<String> {
    vec![
        PASSWORD.to_owned(),
        STANDARD.encode(PASSWORD),
        STANDARD.encode(USER),
        STANDARD.encode(format!("\0{USER}\0{PASSWORD}")),
        STANDARD.encode(format!("{USER}\0{USER}\0{PASSWORD}")),
    ]
}

fn assert_no_secret(entries: &[(String, Vec<u8>)], extra: &[String]) {
    for (name, bytes) in entries {
        let text = String::from_utf8_lossy(bytes);
        for secret in credential_forms().iter().chain(extra) {
            assert!(
                !text.contains(secret.as_str()),
                "{secret:?} is in {name}:\n{text}"
            );
        }
    }
}

/// A data directory with saved settings (STARTTLS, AUTH LOGIN as alice), a conversation log
/// from a real test email, and a sent notification.
async fn populated(dir: &TempDir) {
    let server = server(inline(ACCEPT_ALICE)).await;
    let candidate = Candidate::new(server.port()).set("authentication", "login");
    let run = email_test(dir, &candidate, &[]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    let run = notify_issue(dir, 1, &["--send-now"]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(server.wait_for_messages(2, WAIT).await.unwrap().len(), 2);
}

#[tokio::test]
async fn the_bundle_has_the_reference_layout_and_no_secret() {
    let dir = TempDir::new("bundle");
    populated(&dir).await;
    std::fs::write(
        dir.data_dir().join("logs/mail.log"),
        "Jan  1 00:00:00 appliance postfix/smtpd[1]: connect from mx.example.com[192.0.2.1]\n",
    )
    .unwrap();
    let out = dir.path().join("support.tar.gz");
    let run = run_in(&dir, &["support-bundle", "-o", out.to_str().unwrap()]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout
            .starts_with(&format!("wrote {} (5 files)\n", out.display())),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains("not included: mail-replies/metroplex.log:"),
        "{run:#?}"
    );

    let entries = open_bundle(&out);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "MANIFEST",
            "settings.toml",
            "outbox-status.txt",
            "enterprise-manage-logs/",
            "enterprise-manage-logs/unicorn.log",
            "mail.log",
        ]
    );
    let get = |name: &str| {
        String::from_utf8(entries.iter().find(|(n, _)| n == name).unwrap().1.clone()).unwrap()
    };

    // The conversation log as it is (it holds no secret to begin with).
    let log = get("enterprise-manage-logs/unicorn.log");
    assert_eq!(log, dir.log());
    assert!(log.contains("<- \"AUTH LOGIN\\r\\n\""), "{log}");
    assert_eq!(
        log.matches("[redacted]").count(),
        4,
        "two LOGIN exchanges: {log}"
    );
    assert!(get("mail.log").contains("postfix/smtpd"));

    // The settings: the password redacted, everything else kept.
    let settings: toml::Table = toml::from_str(&get("settings.toml")).expect("still TOML");
    let email = settings["email"].as_table().unwrap();
    assert_eq!(email["password"].as_str(), Some("[redacted]"));
    assert_eq!(email["username"].as_str(), Some(USER));
    assert_eq!(email["authentication"].as_str(), Some("login"));
    assert_eq!(settings["hostname"].as_str(), Some("appliance.example.com"));

    let status = get("outbox-status.txt");
    assert!(
        status.starts_with("outbox: 0 pending, 0 in flight, 1 sent, 0 failed\n"),
        "{status}"
    );
    let manifest = get("MANIFEST");
    for line in [
        "  settings.toml (",
        "  enterprise-manage-logs/unicorn.log (",
        "  mail.log (",
        "not included:\n  mail-replies/metroplex.log: ",
        "the final scan redacted 0 more",
    ] {
        assert!(manifest.contains(line), "{line:?} not in\n{manifest}");
    }

    let key = std::fs::read_to_string(dir.data_dir().join("secrets/reply-key")).unwrap();
    assert_no_secret(&entries, &[key.trim().to_owned()]);
}

#[tokio::test]
async fn a_leaked_credential_in_a_log_is_redacted_by_the_final_scan() {
    let dir = TempDir::new("bundle-leak");
    populated(&dir).await;
    // A log written by something that leaks, as the published reference log does, and a
    // processor log with the password echoed in an error.
    let leaked = format!(
        "Connection opened: old-relay.example.com:587\n\
         <- \"AUTH LOGIN\\r\\n\"\n\
         -> \"334 VXNlcm5hbWU6\\r\\n\"\n\
         <- \"{}\\r\\n\"\n\
         -> \"334 UGFzc3dvcmQ6\\r\\n\"\n\
         <- \"{}\\r\\n\"\n\
         -> \"535 5.7.8 no\\r\\n\"\n\
         <- \"AUTH PLAIN {}\\r\\n\"\n\
         Connection closed\n",
        STANDARD.encode(USER),
        STANDARD.encode(PASSWORD),
        STANDARD.encode(format!("\0{USER}\0{PASSWORD}")),
    );
    let log_path = dir.data_dir().join("logs/unicorn.log");
    let mut log = std::fs::read_to_string(&log_path).unwrap();
    log.push_str(&leaked);
    std::fs::write(&log_path, log).unwrap();
    std::fs::create_dir_all(dir.data_dir().join("logs/mail-replies")).unwrap();
    std::fs::write(
        dir.data_dir().join("logs/mail-replies/metroplex.log"),
        format!("error: login failed for {USER} with password {PASSWORD}\n"),
    )
    .unwrap();

    let out = dir.path().join("leak.tar.gz");
    let run = run_in(&dir, &["support-bundle", "-o", out.to_str().unwrap()]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout.contains("the final scan redacted 4 secret(s)"),
        "{run:#?}"
    );
    let entries = open_bundle(&out);
    assert!(
        entries
            .iter()
            .any(|(n, _)| n == "mail-replies/metroplex.log")
    );
    assert_no_secret(&entries, &[]);
    let log = String::from_utf8(
        entries
            .iter()
            .find(|(n, _)| n == "enterprise-manage-logs/unicorn.log")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    assert!(
        log.ends_with(
            "<- \"AUTH LOGIN\\r\\n\"\n\
         -> \"334 VXNlcm5hbWU6\\r\\n\"\n\
         <- \"[redacted]\\r\\n\"\n\
         -> \"334 UGFzc3dvcmQ6\\r\\n\"\n\
         <- \"[redacted]\\r\\n\"\n\
         -> \"535 5.7.8 no\\r\\n\"\n\
         <- \"AUTH PLAIN [redacted]\\r\\n\"\n\
         Connection closed\n"
        ),
        "{log}"
    );

    // Also the whole decompressed stream, not just entry by entry.
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&out).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    let raw = String::from_utf8_lossy(&raw);
    for secret in credential_forms() {
        assert!(!raw.contains(&secret), "{secret}");
    }
}

#[tokio::test]
async fn an_empty_data_dir_still_gives_a_bundle_that_says_what_is_missing() {
    let dir = TempDir::new("bundle-empty");
    let out = dir.path().join("empty.tar.gz");
    let run = run_in(&dir, &["support-bundle", "-o", out.to_str().unwrap()]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    let entries = open_bundle(&out);
    assert_eq!(entries.len(), 1, "only the MANIFEST");
    let manifest = String::from_utf8_lossy(&entries[0].1).into_owned();
    for missing in [
        "settings.toml: cannot read it",
        "enterprise-manage-logs/unicorn.log:",
        "mail.log:",
        "mail-replies/metroplex.log:",
    ] {
        assert!(manifest.contains(missing), "{missing}: {manifest}");
    }
    let run = run_in(&dir, &["support-bundle", "-o", "/nonexistent/dir/x.tar.gz"]).await;
    assert_eq!(run.code, 74, "{run:#?}");
}
