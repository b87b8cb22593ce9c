//! One insta snapshot per shipped scenario (in the top-level `snapshots/` folder): each scenario
//! is played to a real client and the transcript, with its expectation verdicts, is snapshotted.
//! Under CI (`CI=true`, `INSTA_UPDATE=no`) a changed or missing snapshot fails.

mod common;
#[path = "common/lettre_sender.rs"]
mod lettre_sender;

use std::path::Path;

use common::{RawClient, WAIT, b64, server, shipped, shipped_client};
use lettre::transport::smtp::authentication::Mechanism;
use lettre_sender::{Mode, message, send, transport};
use smtp_harness::FakeSmtpServer;

/// Snapshots a client scenario played against a shipped server scenario.
async fn client_snapshot(name: &str, against: &str) {
    let server = server(shipped(against)).await;
    let options = smtp_harness::client::ClientOptions::test_ca(WAIT).expect("test CA");
    let record = smtp_harness::client::play(&shipped_client(name), server.addr(), &options).await;
    assert!(record.passed(), "{name}: {:?}", record.failures);
    insta_snapshot(name, smtp_harness::snapshot::client_text(&record));
}

#[tokio::test]
async fn client_deliver_pipelined_against_the_sink() {
    client_snapshot("client/deliver-pipelined.scn", "bench/sink.scn").await;
}

#[tokio::test]
async fn client_deliver_starttls_against_a_starttls_server() {
    client_snapshot("client/deliver-starttls.scn", "outbound/starttls-plain.scn").await;
}

/// Snapshots the closed connections of `server` under the scenario's name.
async fn snapshot(scenario: &str, server: &FakeSmtpServer, connections: usize) {
    let records = server
        .wait_for_sessions(connections, WAIT)
        .await
        .expect("connections closed");
    insta_snapshot(scenario, smtp_harness::snapshot::sessions_text(&records));
}

/// Compares `text` with `snapshots/<folder>__<name>.snap`.
fn insta_snapshot(scenario: &str, text: String) {
    let name = scenario.trim_end_matches(".scn").replace('/', "__");
    common::assert_snapshot(&name, &format!("scenarios/{scenario}"), &[], text);
}

/// Plays a scenario to lettre (expecting it to succeed or fail) and snapshots it.
async fn lettre_snapshot(
    name: &str,
    mode: Mode,
    auth: Option<(&str, &str, Mechanism)>,
    succeeds: bool,
) {
    let server = server(shipped(name)).await;
    let lettre = transport(server.port(), mode, auth);
    let sent = send(&lettre, message(&["bob@example.com"], "Hello Bob.\r\n")).await;
    assert_eq!(sent.is_ok(), succeeds, "{name}: {sent:?}");
    snapshot(name, &server, 1).await;
}

/// Scenarios this file snapshots; a test below checks the list covers `scenarios/`.
const SNAPSHOTTED: &[&str] = &[
    "client/deliver-pipelined.scn",
    "client/deliver-starttls.scn",
    "reference/auth-login-535.scn",
    "reference/published-log.scn",
    "faults/second-rcpt-452.scn",
    "bench/sink.scn",
];

#[tokio::test]
async fn reference_auth_login_535_with_lettre() {
    lettre_snapshot(
        "reference/auth-login-535.scn",
        Mode::StartTlsRequired,
        Some(("thisismy@address.com", "itreallywas", Mechanism::Login)),
        false,
    )
    .await;
}

#[tokio::test]
async fn reference_published_log_replayed_byte_for_byte() {
    // The client lines of the published log, exactly (EHLO without its cut argument, and the
    // leaked credentials), from a raw client.
    let name = "reference/published-log.scn";
    let server = server(shipped(name)).await;
    let mut client = RawClient::connect(server.addr()).await;
    assert_eq!(client.reply().await.code, 220);
    assert_eq!(client.cmd("EHLO").await.code, 250);
    assert_eq!(client.cmd("STARTTLS").await.code, 220);
    client.starttls().await;
    assert_eq!(client.cmd("EHLO").await.code, 250);
    assert_eq!(client.cmd("AUTH LOGIN").await.lines, ["334 VXNlcm5hbWU6"]);
    assert_eq!(
        client.cmd("dGhpc2lzbXlAYWRkcmVzcy5jb20=").await.lines,
        ["334 UGFzc3dvcmQ6"]
    );
    let rejection = client.cmd("aXRyZWFsbHl3YXM=").await;
    assert_eq!(
        rejection.lines,
        [
            "535-5.7.1 Username and Password not accepted. Learn more at",
            "535 5.7.1 nt3sm2942435pbc.14"
        ]
    );
    drop(client);

    let records = server.wait_for_sessions(1, WAIT).await.expect("closed");
    // With secrets shown, the transcript is the published log line for line (but for the one
    // line the publication cut: ` at your service, []`).
    // The harness adds the connection and peer to the first line, the TLS version and cipher
    // to `TLS connection started`: those two lines are compared without what it adds.
    let shown: String = records[0]
        .transcript
        .to_log(smtp_harness::Render {
            show_secrets: true,
            ..Default::default()
        })
        .lines()
        .map(|line| {
            if line.starts_with("Connection opened: connection 1 with 127.0.0.1:") {
                "Connection opened:\n".to_owned()
            } else if line.starts_with("TLS connection started: TLSv1.3 ") {
                "TLS connection started\n".to_owned()
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    let published = PUBLISHED_LOG.replace(
        r#"-> " at your service, []\r\n""#,
        r#"-> "250-smtp.gmail.com at your service, [127.0.0.1]\r\n""#,
    );
    assert!(
        shown.starts_with(&published),
        "expected\n{published}\ngot\n{shown}"
    );
    assert_eq!(
        shown.lines().nth(published.lines().count()),
        Some("Connection closed by client")
    );
    snapshot(name, &server, 1).await;
}

/// The conversation of the published reference log (docs/email-subsystem.md), as published.
const PUBLISHED_LOG: &str = r#"Connection opened:
-> "220 ESMTP nt3sm2942435pbc.14\r\n"
<- "EHLO\r\n"
-> " at your service, []\r\n"
-> "250-SIZE 35882577\r\n"
-> "250-8BITMIME\r\n"
-> "250-STARTTLS\r\n"
-> "250 PIPELINING\r\n"
<- "STARTTLS\r\n"
-> "220 2.0.0 Ready to start TLS\r\n"
TLS connection started
<- "EHLO\r\n"
-> " at your service, []\r\n"
-> "250-SIZE 35882577\r\n"
-> "250-8BITMIME\r\n"
-> "250 PIPELINING\r\n"
<- "AUTH LOGIN\r\n"
-> "334 VXNlcm5hbWU6\r\n"
<- "dGhpc2lzbXlAYWRkcmVzcy5jb20=\r\n"
-> "334 UGFzc3dvcmQ6\r\n"
<- "aXRyZWFsbHl3YXM=\r\n"
-> "535-5.7.1 Username and Password not accepted. Learn more at\r\n"
-> "535 5.7.1 nt3sm2942435pbc.14\r\n"
"#;

#[tokio::test]
async fn faults_second_rcpt_452_with_a_pipelining_client() {
    // lettre gives up on the first refused recipient, so a raw client pipelines the
    // transaction the way Postfix would and delivers to the accepted recipient.
    let name = "faults/second-rcpt-452.scn";
    let server = server(shipped(name)).await;
    let mut client = RawClient::connect(server.addr()).await;
    assert_eq!(client.reply().await.code, 220);
    assert_eq!(client.cmd("EHLO client.test").await.code, 250);
    client.send("MAIL FROM:<a@client.test>\r\nRCPT TO:<one@mx.test>\r\nRCPT TO:<two@mx.test>\r\nDATA\r\n").await;
    let codes: Vec<u16> = [
        client.reply().await,
        client.reply().await,
        client.reply().await,
        client.reply().await,
    ]
    .iter()
    .map(|r| r.code)
    .collect();
    assert_eq!(codes, [250, 250, 452, 354]);
    assert_eq!(
        client
            .cmd("Subject: two recipients\r\n\r\nhi\r\n.")
            .await
            .code,
        250
    );
    assert_eq!(client.cmd("QUIT").await.code, 221);
    let messages = server.wait_for_messages(1, WAIT).await.expect("captured");
    assert_eq!(messages[0].rcpt_to, ["one@mx.test"]);
    snapshot(name, &server, 1).await;
}

#[tokio::test]
async fn bench_sink_with_lettre() {
    lettre_snapshot("bench/sink.scn", Mode::Plain, None, true).await;
}

#[test]
fn every_shipped_scenario_has_a_snapshot_test_and_every_snapshot_a_scenario() {
    let mut found = Vec::new();
    collect(&common::repo("scenarios"), "", &mut found);
    // scenarios/outbound/, inbound/ and vendors/ are snapshotted by
    // appliance/tests/harness_outbound.rs, appliance/tests/harness_inbound.rs and
    // harness/tests/vendors.rs.
    found.retain(|s| {
        !s.starts_with("outbound/") && !s.starts_with("inbound/") && !s.starts_with("vendors/")
    });
    found.sort();
    let mut listed: Vec<String> = SNAPSHOTTED.iter().map(|s| (*s).to_owned()).collect();
    listed.sort();
    assert_eq!(
        found, listed,
        "scenarios/ and this file's SNAPSHOTTED list differ"
    );
    for entry in std::fs::read_dir(common::repo("snapshots")).expect("snapshots/") {
        let file = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let Some(stem) = file.strip_suffix(".snap").filter(|s| {
            !s.starts_with("outbound__")
                && !s.starts_with("inbound__")
                && !s.starts_with("vendors__")
        }) else {
            continue;
        };
        let scenario = format!("{}.scn", stem.replace("__", "/"));
        assert!(
            listed.contains(&scenario),
            "snapshot {file} has no scenario {scenario}"
        );
    }
    // The credentials the reference test uses never reach a snapshot.
    let reference =
        std::fs::read_to_string(common::repo("snapshots/reference__auth-login-535.snap"))
            .unwrap_or_default();
    assert!(
        !reference.contains(&b64("thisismy@address.com"))
            && !reference.contains(&b64("itreallywas"))
    );
}

fn collect(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("readable") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if path.is_dir() {
            collect(&path, &format!("{prefix}{name}/"), out);
        } else if name.ends_with(".scn") {
            out.push(format!("{prefix}{name}"));
        }
    }
}
