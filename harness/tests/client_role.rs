//! The harness as a remote MTA (`role client` scenarios): against the fake server, where both
//! sides' transcripts can be compared, and against Postfix's own smtp-sink.

mod common;

use std::time::Duration;

use common::{WAIT, inline, inline_client, repo, server, shipped, shipped_client};
use smtp_harness::client::{ClientOptions, play};

fn options() -> ClientOptions {
    ClientOptions::test_ca(WAIT).expect("test CA")
}

#[tokio::test]
async fn a_pipelined_delivery_lands_byte_for_byte() {
    // Arrange: a plain accepting server.
    let server = server(shipped("bench/sink.scn")).await;

    // Act
    let record = play(
        &shipped_client("client/deliver-pipelined.scn"),
        server.addr(),
        &options(),
    )
    .await;

    // Assert: every step met, the message content arrived as the file has it.
    assert!(
        record.passed(),
        "{:?}\n{}",
        record.failures,
        record.transcript
    );
    let messages = server.wait_for_messages(1, WAIT).await.expect("delivered");
    let file = std::fs::read(repo("scenarios/client/messages/hello.eml")).expect("message file");
    assert_eq!(
        messages[0].data, file,
        "dot-stuffing is undone into the original bytes"
    );
    assert_eq!(messages[0].rcpt_to, ["bob@receiver.test"]);
    // Both sides saw the same conversation (the client's view has the message as a size).
    let server_side = server.wait_for_sessions(1, WAIT).await.expect("closed")[0]
        .transcript
        .server_lines();
    assert_eq!(record.transcript.server_lines(), server_side);
    assert!(
        record
            .transcript
            .to_string()
            .contains("<- [message: 243 bytes]"),
        "{}",
        record.transcript
    );
}

#[tokio::test]
async fn starttls_upgrades_and_the_server_sees_the_message_inside_tls() {
    let server = server(shipped("outbound/starttls-plain.scn")).await;
    let record = play(
        &shipped_client("client/deliver-starttls.scn"),
        server.addr(),
        &options(),
    )
    .await;
    assert!(
        record.passed(),
        "{:?}\n{}",
        record.failures,
        record.transcript
    );
    let messages = server.wait_for_messages(1, WAIT).await.expect("delivered");
    assert!(messages[0].tls);
}

#[tokio::test]
async fn a_refusal_stops_the_script_and_names_the_step() {
    let server = server(inline("when RCPT\n    S: 550 5.1.1 no such user\n")).await;
    let record = play(
        &shipped_client("client/deliver-pipelined.scn"),
        server.addr(),
        &options(),
    )
    .await;
    assert!(!record.passed());
    let failure = &record.failures[0];
    assert_eq!(
        failure.line, 13,
        "the second S: after the pipelined envelope (the RCPT reply)"
    );
    assert_eq!(failure.actual, "the server said \"550 5.1.1 no such user\"");
}

#[tokio::test]
async fn faults_slow_writes_bare_lf_and_an_untrusted_certificate() {
    // Slow writes and a bare-LF message body still reach the server as sent.
    let server = server(smtp_harness::ServerScenario::accept_all()).await;
    let client = inline_client(
        "role client\nS: 220*\nslow 1ms\nC: EHLO slow.test\nS: 250*\nslow 0ms\nC: MAIL FROM:<a@x.test>\nS: 250*\nC: RCPT TO:<b@y.test>\nS: 250*\nC: DATA\nS: 354*\nraw \"Subject: bare\\n\\nline one\\nline two\\r\\n.\\r\\n\"\nS: 250*\nC: QUIT\nS: 221*\n",
    );
    let record = play(&client, server.addr(), &options()).await;
    assert!(
        record.passed(),
        "{:?}\n{}",
        record.failures,
        record.transcript
    );
    let messages = server.wait_for_messages(1, WAIT).await.expect("delivered");
    assert_eq!(messages[0].data, b"Subject: bare\n\nline one\nline two\r\n");

    // A server certificate the client does not trust ends the script at `tls`.
    let untrusted = common::server(inline("certificate self-signed\n")).await;
    let client = inline_client(
        "role client\nS: 220*\nC: EHLO me\nS: 250*\nC: STARTTLS\nS: 220*\ntls\nC: EHLO me\nS: 250*\n",
    );
    let record = play(&client, untrusted.addr(), &options()).await;
    assert_eq!(record.failures[0].line, 7);
    assert!(
        record.failures[0].actual.contains("UnknownIssuer"),
        "{:?}",
        record.failures
    );
}

#[tokio::test]
async fn auth_payloads_are_redacted_in_the_client_transcript() {
    let server = server(smtp_harness::ServerScenario::accept_all()).await;
    let client = inline_client(
        "role client\nS: 220*\nC: EHLO me\nS: 250*\nC: AUTH PLAIN AGFsaWNlAHMzY3JldA==\nS: 235*\nC: AUTH LOGIN\nS: 503*\n",
    );
    let record = play(&client, server.addr(), &options()).await;
    assert!(record.passed(), "{:?}", record.failures);
    let log = record.transcript.to_string();
    assert!(log.contains("<- \"AUTH PLAIN [redacted]\\r\\n\""), "{log}");
    assert!(!log.contains("AGFsaWNl"), "{log}");
}

#[tokio::test]
async fn postfix_smtp_sink_accepts_the_pipelined_delivery() {
    // Postfix's own test server, from Debian's postfix package (scripts/setup installs it).
    let sink = ["/usr/sbin/smtp-sink", "/usr/bin/smtp-sink"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let sink = sink.expect("smtp-sink is missing: run scripts/setup");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = tokio::process::Command::new(sink)
        .args(["-u", "nobody", &format!("127.0.0.1:{port}"), "10"])
        .kill_on_drop(true)
        .spawn()
        .expect("smtp-sink starts");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "smtp-sink did not listen"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let record = play(
        &shipped_client("client/deliver-pipelined.scn"),
        addr,
        &options(),
    )
    .await;

    assert!(
        record.passed(),
        "{:?}\n{}",
        record.failures,
        record.transcript
    );
    assert!(
        record
            .transcript
            .server_lines()
            .iter()
            .any(|l| l.contains("PIPELINING"))
    );
    let _ = child.kill().await;
}

#[tokio::test]
async fn the_send_command_plays_a_client_scenario_and_exits_by_verdict() {
    let server = server(shipped("bench/sink.scn")).await;
    let bin = env!("CARGO_BIN_EXE_smtp-harness");
    let run = |scenario: &'static str| {
        tokio::process::Command::new(bin)
            .args(["send", scenario, "--to", &server.addr().to_string()])
            .current_dir(repo(""))
            .kill_on_drop(true)
            .output()
    };
    let ok = tokio::time::timeout(WAIT, run("scenarios/client/deliver-pipelined.scn"))
        .await
        .expect("in time")
        .expect("runs");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        stdout.starts_with("Connection opened: connection 1 with 127.0.0.1:")
            && stdout.contains("\n-> \"220 sink.harness.test"),
        "{stdout}"
    );
    let bad = tokio::time::timeout(WAIT, run("scenarios/client/deliver-starttls.scn"))
        .await
        .expect("in time")
        .expect("runs");
    assert_eq!(bad.status.code(), Some(1), "the sink offers no STARTTLS");
    assert!(
        String::from_utf8_lossy(&bad.stdout)
            .contains("FAILED line 9: expected a reply matching \"220*\"")
    );
}

#[tokio::test]
async fn variables_fill_lines_and_message_files() {
    let server = server(smtp_harness::ServerScenario::accept_all()).await;
    let client = inline_client(
        "role client\nS: 220*\nC: EHLO me\nS: 250*\nC: MAIL FROM:<{from}>\nS: 250*\nC: RCPT TO:<{rcpt}>\nS: 250*\nC: DATA\nS: 354*\nraw \"To: {rcpt}\\r\\n\\r\\nhi\\r\\n.\\r\\n\"\nS: 250*\n",
    );
    let options = options()
        .var("rcpt", "reply+abc@reply.appliance.test")
        .var("from", "bob@example.com");
    let record = play(&client, server.addr(), &options).await;
    assert!(record.passed(), "{:?}", record.failures);
    let m = &server.wait_for_messages(1, WAIT).await.expect("delivered")[0];
    assert_eq!(m.rcpt_to, ["reply+abc@reply.appliance.test"]);
    assert_eq!(m.mail_from, "bob@example.com");
    assert_eq!(m.data, b"To: reply+abc@reply.appliance.test\r\n\r\nhi\r\n");
}

#[tokio::test]
async fn effects_on_the_receivers_side_are_awaited_and_judged() {
    // A receiver folder that a (simulated) processor fills a moment after the conversation.
    let dir = std::env::temp_dir().join(format!("smtp-harness-effects-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("mail/reply/new")).expect("dirs");
    let filler = {
        let dir = dir.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            std::fs::write(dir.join("mail/reply/new/1700000000.M1P2Q3.host"), "x").expect("file");
            std::fs::create_dir_all(dir.join("logs")).expect("logs");
            std::fs::write(
                dir.join("logs/mail.log"),
                "a\nNov 26 ABC123: to=<x>, status=sent (delivered to maildir)\n",
            )
            .expect("log");
        })
    };
    let server = server(smtp_harness::ServerScenario::accept_all()).await;
    let client = inline_client(
        "role client\nS: 220*\nC: QUIT\nS: 221*\nexpect files \"mail/reply/new/*\" 1\nexpect line \"logs/mail.log\" \"*status=sent (delivered to maildir)\"\nexpect files \"incoming-mail/failure/*\" 0\n",
    );

    let record = play(&client, server.addr(), &options().effects_dir(&dir)).await;
    filler.await.expect("filled");
    assert!(record.passed(), "{:?}", record.failures);

    // Without the folder, or with effects that never come, the record says what is missing.
    let missing = play(&client, server.addr(), &options()).await;
    assert!(
        missing
            .failures
            .iter()
            .any(|f| f.actual.contains("--effects-dir")),
        "{:?}",
        missing.failures
    );
    let wrong = inline_client(
        "role client\nS: 220*\nC: QUIT\nS: 221*\nexpect files \"incoming-mail/success/*\" 1\n",
    );
    let mut quick = options().effects_dir(&dir);
    quick.effects_wait = Duration::from_millis(100);
    let record = play(&wrong, server.addr(), &quick).await;
    assert_eq!(
        record.failures[0].to_string(),
        "line 5: expected files \"incoming-mail/success/*\" 1, but 0 file(s) match"
    );
}
