//! The fake server's RFC 5321 behaviour for whatever a scenario does not script, driven by a raw
//! client that writes exact bytes: sequence errors, limits, pipelining, DATA and BDAT, AUTH,
//! STARTTLS (with the command-injection defence), timeouts, scripts and rules.
//!
//! Over 500 lines on purpose: one file is one test binary that links the whole crate, so a
//! capability's tests stay together with the helpers they share instead of being split into
//! binaries that each pay the link.

mod common;

use common::{RawClient, WAIT, b64, inline, server};
use smtp_harness::{Event, ServerScenario};

async fn greeted(scenario: ServerScenario) -> (smtp_harness::FakeSmtpServer, RawClient) {
    let server = server(scenario).await;
    let mut client = RawClient::connect(server.addr()).await;
    assert_eq!(client.reply().await.code, 220);
    (server, client)
}

#[tokio::test]
async fn commands_out_of_order_get_503_and_unknown_ones_500_or_502() {
    let (_server, mut c) = greeted(ServerScenario::accept_all()).await;
    assert_eq!(
        c.cmd("MAIL FROM:<a@x.test>").await.lines,
        ["503 5.5.1 Error: send HELO/EHLO first"]
    );
    assert_eq!(c.cmd("EHLO me").await.code, 250);
    assert_eq!(
        c.cmd("RCPT TO:<b@x.test>").await.lines,
        ["503 5.5.1 Error: need MAIL command"]
    );
    assert_eq!(c.cmd("DATA").await.code, 503);
    assert_eq!(c.cmd("MAIL FROM:<a@x.test>").await.code, 250);
    assert_eq!(
        c.cmd("MAIL FROM:<a@x.test>").await.lines,
        ["503 5.5.1 Error: nested MAIL command"]
    );
    assert_eq!(
        c.cmd("DATA").await.lines,
        ["554 5.5.1 Error: no valid recipients"]
    );
    assert_eq!(
        c.cmd("FROB").await.lines,
        ["500 5.5.2 Error: command not recognized"]
    );
    // Postfix 3.7 (Debian 12) does not know EXPN: it answers as for any unknown command.
    assert_eq!(
        c.cmd("EXPN staff").await.lines,
        ["500 5.5.2 Error: command not recognized"]
    );
    assert_eq!(
        c.cmd("ETRN x").await.lines,
        ["502 5.5.1 Error: command not implemented"]
    );
    assert_eq!(c.cmd("RCPT TO:").await.code, 501);
    assert_eq!(c.cmd("EHLO").await.code, 501);
    assert_eq!(c.cmd("RSET").await.code, 250);
    assert_eq!(c.cmd("NOOP").await.code, 250);
    assert_eq!(c.cmd("VRFY root").await.code, 252);
    // Postfix 3.7 has no HELP either: 500, as for an unknown command.
    assert_eq!(c.cmd("HELP").await.code, 500);
    assert_eq!(c.cmd("quit").await.lines, ["221 2.0.0 Bye"]);
    assert!(c.closed().await);
}

#[tokio::test]
async fn overlong_command_and_text_lines_are_rejected() {
    let (server, mut c) = greeted(ServerScenario::accept_all()).await;
    c.send(&format!("NOOP {}\r\n", "x".repeat(600))).await;
    assert_eq!(c.reply().await.lines, ["500 5.5.2 Error: line too long"]);
    // Still usable afterwards.
    assert_eq!(c.cmd("EHLO me").await.code, 250);
    assert_eq!(c.cmd("MAIL FROM:<a@x.test>").await.code, 250);
    assert_eq!(c.cmd("RCPT TO:<b@x.test>").await.code, 250);
    assert_eq!(c.cmd("DATA").await.code, 354);
    c.send(&format!(
        "Subject: long\r\n\r\n{}\r\n.\r\n",
        "y".repeat(1200)
    ))
    .await;
    assert_eq!(
        c.reply().await.lines,
        ["500 5.5.2 Error: message line longer than 1000 octets"]
    );
    assert_eq!(c.cmd("QUIT").await.code, 221);
    assert!(server.wait_for_sessions(1, WAIT).await.is_ok());
    assert!(
        server.messages().is_empty(),
        "the over-long message was not captured"
    );
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order_and_data_is_dot_unstuffed() {
    let (server, mut c) = greeted(ServerScenario::accept_all()).await;
    // One write carrying a whole transaction, PIPELINING style (RFC 2920).
    c.send("EHLO me\r\nMAIL FROM:<a@x.test> SIZE=100\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n").await;
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(c.reply().await.code);
    }
    assert_eq!(codes, [250, 250, 250, 250, 354]);
    c.send("Subject: dots\r\n\r\n..one dot\r\n.\r\nQUIT\r\n")
        .await;
    assert_eq!(c.reply().await.code, 250);
    assert_eq!(c.reply().await.code, 221);
    let m = &server.wait_for_messages(1, WAIT).await.expect("captured")[0];
    assert_eq!(m.rcpt_to, ["b@x.test", "c@x.test"]);
    assert_eq!(m.data, b"Subject: dots\r\n\r\n.one dot\r\n");
    assert!(!m.tls);
}

#[tokio::test]
async fn a_lone_lf_dot_does_not_end_data() {
    // SMTP smuggling: "\n.\n" and "\r\n.\n" are message content, only "\r\n.\r\n" ends it.
    let (server, mut c) = greeted(ServerScenario::accept_all()).await;
    c.send("EHLO me\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n")
        .await;
    for _ in 0..4 {
        c.reply().await;
    }
    c.send("one\n.\nMAIL FROM:<evil@x.test>\r\n.\r\n").await;
    assert_eq!(c.reply().await.code, 250);
    let m = &server.wait_for_messages(1, WAIT).await.expect("captured")[0];
    assert_eq!(m.data, b"one\n.\nMAIL FROM:<evil@x.test>\r\n");
}

#[tokio::test]
async fn size_limits_apply_at_mail_and_after_data() {
    let (server, mut c) = greeted(inline("size 100\n")).await;
    assert!(
        c.cmd("EHLO me")
            .await
            .lines
            .contains(&"250-SIZE 100".to_owned())
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@x.test> SIZE=101").await.lines,
        ["552 5.3.4 Message size exceeds fixed limit"]
    );
    assert_eq!(c.cmd("MAIL FROM:<a@x.test>").await.code, 250);
    assert_eq!(c.cmd("RCPT TO:<b@x.test>").await.code, 250);
    assert_eq!(c.cmd("DATA").await.code, 354);
    c.send(&format!("{}\r\n.\r\n", "z".repeat(300))).await;
    assert_eq!(
        c.reply().await.lines,
        ["552 5.3.4 Error: message file too big"]
    );
    assert_eq!(c.cmd("QUIT").await.code, 221);
    server.wait_for_sessions(1, WAIT).await.expect("closed");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn bdat_chunks_make_one_message_when_chunking_is_advertised() {
    let (server, mut c) = greeted(ServerScenario::accept_all()).await;
    assert!(
        c.cmd("EHLO me")
            .await
            .lines
            .contains(&"250 CHUNKING".to_owned())
    );
    c.send("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nBDAT 6\r\nhello BDAT 5 LAST\r\nworld")
        .await;
    let codes: Vec<u16> = [
        c.reply().await,
        c.reply().await,
        c.reply().await,
        c.reply().await,
    ]
    .iter()
    .map(|r| r.code)
    .collect();
    assert_eq!(codes, [250, 250, 250, 250]);
    let m = &server.wait_for_messages(1, WAIT).await.expect("captured")[0];
    assert_eq!(m.data, b"hello world");
}

#[tokio::test]
async fn bdat_without_chunking_is_consumed_and_refused() {
    let scenario = inline("when EHLO\n    S: 250-mx.test\n    S: 250 PIPELINING\n");
    let (_server, mut c) = greeted(scenario).await;
    assert_eq!(c.cmd("EHLO me").await.code, 250);
    assert_eq!(c.cmd("MAIL FROM:<a@x.test>").await.code, 250);
    assert_eq!(c.cmd("RCPT TO:<b@x.test>").await.code, 250);
    // The chunk holds a command: it must be swallowed as data, never executed.
    c.send("BDAT 6 LAST\r\nQUIT\r\n").await;
    assert_eq!(c.reply().await.code, 502);
    assert_eq!(c.cmd("NOOP").await.code, 250);
}

#[tokio::test]
async fn starttls_discards_clear_text_sent_behind_it_and_resets_the_session() {
    let (server, mut c) = greeted(inline("certificate valid\n")).await;
    assert_eq!(c.cmd("EHLO me").await.code, 250);
    // STARTTLS with an injected command in the same packet (CVE-2011-0411 class).
    c.send("STARTTLS\r\nMAIL FROM:<injected@x.test>\r\n").await;
    assert_eq!(c.reply().await.lines, ["220 2.0.0 Ready to start TLS"]);
    c.starttls().await;
    // The injected MAIL was not executed, and the EHLO state is gone (RFC 3207).
    assert_eq!(
        c.cmd("MAIL FROM:<a@x.test>").await.lines,
        ["503 5.5.1 Error: send HELO/EHLO first"]
    );
    let ehlo = c.cmd("EHLO me").await;
    assert!(
        !ehlo.lines.iter().any(|l| l.contains("STARTTLS")),
        "no STARTTLS inside TLS: {ehlo:?}"
    );
    assert_eq!(c.cmd("STARTTLS").await.code, 554);
    assert_eq!(c.cmd("QUIT").await.code, 221);
    let records = server.wait_for_sessions(1, WAIT).await.expect("closed");
    let t = &records[0].transcript;
    assert!(
        t.events.contains(&Event::ClearTextDiscarded { bytes: 29 }),
        "{t}"
    );
    assert!(
        t.to_string()
            .contains("Discarded 29 bytes sent in clear text after STARTTLS")
    );
    assert!(
        !t.client_lines().iter().any(|l| l.contains("injected")),
        "{t}"
    );
}

#[tokio::test]
async fn starttls_without_a_certificate_is_not_offered() {
    let (_server, mut c) = greeted(ServerScenario::accept_all()).await;
    let ehlo = c.cmd("EHLO me").await;
    assert!(!ehlo.lines.iter().any(|l| l.contains("STARTTLS")));
    assert_eq!(c.cmd("STARTTLS").await.code, 502);
}

#[tokio::test]
async fn idle_clients_get_421_and_are_closed() {
    let (server, mut c) = greeted(inline("timeout 200ms\n")).await;
    let reply = c.reply().await;
    assert_eq!(
        reply.lines,
        ["421 4.4.2 smtp.harness.test Error: timeout exceeded"]
    );
    assert!(c.closed().await);
    let records = server.wait_for_sessions(1, WAIT).await.expect("closed");
    assert!(
        records[0]
            .transcript
            .to_string()
            .ends_with("Connection closed by server (idle timeout)\n")
    );
}

/// The idle timeout counts from the client's last bytes: a client that keeps talking, more
/// slowly than the timeout in all but not between two commands, is never cut off.
#[tokio::test]
async fn the_idle_timeout_restarts_with_each_command() {
    let (_server, mut c) = greeted(inline("timeout 600ms\n")).await;
    for _ in 0..5 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        assert_eq!(c.cmd("NOOP").await.code, 250);
    }
    // More than the timeout in all has passed; silence now gets the 421.
    assert_eq!(c.reply().await.code, 421);
    assert!(c.closed().await);
}

#[tokio::test]
async fn shutdown_tells_open_connections_421() {
    let server = server(ServerScenario::accept_all()).await;
    let mut c = RawClient::connect(server.addr()).await;
    assert_eq!(c.reply().await.code, 220);
    let shutdown = tokio::spawn(server.shutdown());
    assert_eq!(
        c.reply().await.lines,
        ["421 4.3.2 smtp.harness.test Service shutting down"]
    );
    tokio::time::timeout(WAIT, shutdown)
        .await
        .expect("shutdown in time")
        .expect("joined");
}

#[tokio::test]
async fn auth_cram_md5_is_checked_against_the_rule_password() {
    let scenario = inline(
        "hostname mx.test\nwhen AUTH user=tim password=tanstaaftanstaaf\n    S: 235 2.7.0 ok\nwhen AUTH\n    S: 535 5.7.8 no\n",
    );
    for (password, expected) in [("tanstaaftanstaaf", 235), ("guess", 535)] {
        let (server, mut c) = greeted(scenario.clone()).await;
        assert_eq!(c.cmd("EHLO me").await.code, 250);
        let challenge = c.cmd("AUTH CRAM-MD5").await;
        assert_eq!(challenge.code, 334);
        let decoded = String::from_utf8(base64_decode(challenge.last_text())).expect("utf8");
        assert_eq!(
            decoded, "<1.1@mx.test>",
            "challenges are deterministic for snapshots"
        );
        let digest = hmac_md5_hex(password, &decoded);
        assert_eq!(c.cmd(&b64(&format!("tim {digest}"))).await.code, expected);
        drop(c);
        let records = server.wait_for_sessions(1, WAIT).await.expect("closed");
        assert!(
            !records[0].transcript.to_string().contains(&digest),
            "the digest is redacted"
        );
    }
}

#[tokio::test]
async fn auth_login_xoauth2_and_cancel() {
    let scenario = inline(
        "when AUTH user=alice password=s3cret\n    S: 235 2.7.0 ok\nwhen AUTH\n    S: 535 5.7.8 no\n",
    );
    let (server, mut c) = greeted(scenario).await;
    assert_eq!(c.cmd("EHLO me").await.code, 250);
    // LOGIN with the user name as initial response: only the password is asked.
    assert_eq!(
        c.cmd(&format!("AUTH LOGIN {}", b64("alice"))).await.lines,
        ["334 UGFzc3dvcmQ6"]
    );
    assert_eq!(c.cmd("*").await.lines, ["501 5.7.0 Authentication aborted"]);
    assert_eq!(c.cmd("AUTH XOAUTH2").await.lines, ["334 "]);
    assert_eq!(
        c.cmd("!!!").await.lines,
        ["501 5.5.2 Cannot decode response"]
    );
    let token = b64("user=alice\x01auth=Bearer s3cret\x01\x01");
    assert_eq!(c.cmd(&format!("AUTH XOAUTH2 {token}")).await.code, 235);
    assert_eq!(
        c.cmd("AUTH PLAIN").await.lines,
        ["503 5.5.1 Error: already authenticated"]
    );
    drop(c);
    let records = server.wait_for_sessions(1, WAIT).await.expect("closed");
    let log = records[0].transcript.to_string();
    assert!(
        log.contains("<- \"AUTH XOAUTH2 [redacted]\\r\\n\""),
        "{log}"
    );
    assert!(!log.contains(&token));
}

#[tokio::test]
async fn auth_that_is_not_advertised_gets_503_and_unknown_mechanisms_504() {
    let scenario = inline("when EHLO\n    S: 250-mx.test\n    S: 250 8BITMIME\n");
    let (_server, mut c) = greeted(scenario).await;
    assert_eq!(c.cmd("EHLO me").await.code, 250);
    assert_eq!(
        c.cmd("AUTH PLAIN AGEAYg==").await.lines,
        ["503 5.5.1 Error: authentication not enabled"]
    );
    let (_server, mut c) = greeted(ServerScenario::accept_all()).await;
    assert_eq!(c.cmd("EHLO me").await.code, 250);
    assert_eq!(
        c.cmd("AUTH NTLM").await.lines,
        ["504 5.5.4 Unrecognized authentication type"]
    );
}

#[tokio::test]
async fn auth_rules_with_non_outcome_codes_answer_at_once() {
    let scenario = inline(
        "certificate valid\nwhen AUTH plain\n    S: 530 5.7.0 Must issue a STARTTLS command first\n",
    );
    let (_server, mut c) = greeted(scenario).await;
    assert_eq!(c.cmd("EHLO me").await.code, 250);
    assert_eq!(
        c.cmd("AUTH LOGIN").await.lines,
        ["530 5.7.0 Must issue a STARTTLS command first"]
    );
}

#[tokio::test]
async fn auth_rules_with_outcome_codes_answer_after_the_challenges_451_included() {
    // SendGrid's 451 for used-up credits comes after the password, as a 535 would.
    for code in [
        "451 Authentication failed: Maximum credits exceeded",
        "454 4.7.0 Temporary authentication failure",
    ] {
        let scenario = inline(&format!("certificate valid\nwhen AUTH\n    S: {code}\n"));
        let (_server, mut c) = greeted(scenario).await;
        assert_eq!(c.cmd("EHLO me").await.code, 250);
        assert_eq!(c.cmd("AUTH LOGIN").await.lines, ["334 VXNlcm5hbWU6"]);
        assert_eq!(c.cmd(&b64("apikey")).await.lines, ["334 UGFzc3dvcmQ6"]);
        assert_eq!(c.cmd(&b64("secret")).await.lines, [code]);
    }
}

#[tokio::test]
async fn utf8_and_8bit_mail_is_accepted() {
    let (server, mut c) = greeted(ServerScenario::accept_all()).await;
    let ehlo = c.cmd("EHLO me").await;
    assert!(
        ehlo.lines.iter().any(|l| l.ends_with("SMTPUTF8"))
            && ehlo.lines.iter().any(|l| l.ends_with("8BITMIME"))
    );
    assert_eq!(
        c.cmd("MAIL FROM:<jörg@bücher.test> SMTPUTF8 BODY=8BITMIME")
            .await
            .code,
        250
    );
    assert_eq!(c.cmd("RCPT TO:<zoë@x.test>").await.code, 250);
    assert_eq!(c.cmd("DATA").await.code, 354);
    assert_eq!(c.cmd("Subject: Grüße\r\n\r\nüñí\r\n.").await.code, 250);
    let m = &server.wait_for_messages(1, WAIT).await.expect("captured")[0];
    assert_eq!(m.mail_from, "jörg@bücher.test");
    assert_eq!(m.subject().as_deref(), Some("Grüße"));
}

#[tokio::test]
async fn scripts_play_in_order_with_pauses_and_multi_line_banners() {
    let scenario = inline(
        "pause 20ms\nS: 220-mx.test first banner line\nS: 220 mx.test ready\nC: EHLO *\nS: 250 mx.test\nC: QUIT\nS: 221 so long\nclose\n",
    );
    let server = server(scenario).await;
    let mut c = RawClient::connect(server.addr()).await;
    assert_eq!(
        c.reply().await.lines,
        ["220-mx.test first banner line", "220 mx.test ready"]
    );
    assert_eq!(c.cmd("EHLO me").await.lines, ["250 mx.test"]);
    assert_eq!(c.cmd("QUIT").await.lines, ["221 so long"]);
    assert!(c.closed().await);
    let records = server.wait_for_sessions(1, WAIT).await.expect("closed");
    assert!(records[0].passed(), "{:?}", records[0].failures);
}

#[tokio::test]
async fn a_client_that_leaves_the_script_is_answered_by_defaults_and_reported() {
    let scenario =
        inline("S: 220 mx.test\nC: EHLO *\nS: 250 mx.test\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\n");
    let server = server(scenario).await;
    let mut c = RawClient::connect(server.addr()).await;
    c.reply().await;
    assert_eq!(c.cmd("EHLO me").await.code, 250);
    // The script waits for AUTH LOGIN; MAIL gets the default reply instead.
    assert_eq!(c.cmd("MAIL FROM:<a@x.test>").await.code, 250);
    assert_eq!(c.cmd("QUIT").await.code, 221);
    let records = server.wait_for_sessions(1, WAIT).await.expect("closed");
    let failure = &records[0].failures[0];
    assert_eq!(failure.line, 4);
    assert_eq!(
        failure.to_string(),
        "line 4: expected the client line \"AUTH LOGIN\" of the script, but the client left the script there"
    );
    assert!(
        records[0]
            .transcript
            .to_string()
            .contains("Scenario diverged: line 4 expected \"AUTH LOGIN\"")
    );
    let err = server.verify().expect_err("diverged").to_string();
    assert!(err.contains("connection 1:"), "{err}");
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_script_is_reported() {
    let scenario = inline("S: 220 mx.test\nC: EHLO *\nS: 250 mx.test\nC: QUIT\n");
    let server = server(scenario).await;
    let mut c = RawClient::connect(server.addr()).await;
    c.reply().await;
    assert_eq!(c.cmd("EHLO me").await.code, 250);
    drop(c);
    let records = server.wait_for_sessions(1, WAIT).await.expect("closed");
    assert_eq!(
        records[0].failures[0].actual,
        "the connection closed before it"
    );
}

#[tokio::test]
#[should_panic(expected = "expectations were set but no connection was made")]
async fn dropping_a_server_whose_expectations_were_never_exercised_panics() {
    let server = smtp_harness::FakeSmtpServer::start(inline("expect messages 1\n"))
        .await
        .expect("starts");
    drop(server);
}

#[tokio::test]
async fn rules_match_arguments_counts_and_tls_state() {
    let scenario = inline(
        "when RCPT TO:<*@other.test>\n    S: 550 5.7.1 Relaying denied\nwhen MAIL FROM:<spammer@*>\n    pause 10ms\n    S: 554 5.7.1 go away\n    close\n",
    );
    let (server, mut c) = greeted(scenario).await;
    assert_eq!(c.cmd("EHLO me").await.code, 250);
    assert_eq!(c.cmd("MAIL FROM:<a@x.test>").await.code, 250);
    assert_eq!(
        c.cmd("RCPT TO:<b@OTHER.test>").await.lines,
        ["550 5.7.1 Relaying denied"]
    );
    assert_eq!(c.cmd("RCPT TO:<b@mine.test>").await.code, 250);
    assert_eq!(c.cmd("RSET").await.code, 250);
    assert_eq!(c.cmd("MAIL FROM:<spammer@x.test>").await.code, 554);
    assert!(c.closed().await);
    let records = server.wait_for_sessions(1, WAIT).await.expect("closed");
    assert!(
        records[0]
            .transcript
            .to_string()
            .ends_with("Connection closed by server (scripted close)\n")
    );
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

fn hmac_md5_hex(key: &str, msg: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<md5::Md5>::new_from_slice(key.as_bytes()).expect("key");
    mac.update(msg.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn verifying_while_a_connection_is_still_open_says_so() {
    let server = server(inline("expect messages 1\n")).await;
    let mut c = RawClient::connect(server.addr()).await;
    assert_eq!(c.reply().await.code, 220);
    let report = server.verify().expect_err("nothing closed yet").to_string();
    assert!(
        report.contains(
            "no connection has closed yet (1 still open: call wait_for_sessions before verifying)"
        ),
        "{report}"
    );
}

#[tokio::test]
async fn raw_steps_send_bytes_that_are_no_smtp_reply() {
    // A server that is not an SMTP server at all.
    let server = server(inline(
        "raw \"HTTP/1.1 400 Bad Request\\r\\nContent-Length: 0\\r\\n\\r\\n\"\nclose\n",
    ))
    .await;
    let mut c = RawClient::connect(server.addr()).await;
    assert_eq!(
        c.line().await.as_deref(),
        Some("HTTP/1.1 400 Bad Request\r\n")
    );
    assert_eq!(c.line().await.as_deref(), Some("Content-Length: 0\r\n"));
    assert_eq!(c.line().await.as_deref(), Some("\r\n"));
    assert!(c.closed().await);
    let records = server.wait_for_sessions(1, WAIT).await.expect("closed");
    assert!(records[0].transcript.to_string().contains(
        "-> \"HTTP/1.1 400 Bad Request\\r\\n\"\n-> \"Content-Length: 0\\r\\n\"\n-> \"\\r\\n\""
    ));
}

#[tokio::test]
async fn a_rule_can_drop_the_connection_in_the_middle_of_the_message() {
    let scenario = inline("when DATA\n    S: 354 go ahead\n    pause 100ms\n    close\n");
    let (server, mut c) = greeted(scenario).await;
    assert_eq!(c.cmd("EHLO me").await.code, 250);
    assert_eq!(c.cmd("MAIL FROM:<a@x.test>").await.code, 250);
    assert_eq!(c.cmd("RCPT TO:<b@x.test>").await.code, 250);
    assert_eq!(c.cmd("DATA").await.code, 354);
    // Half a message, and no end: the server hangs up during the content.
    c.send("Subject: half\r\n\r\nfirst line\r\n").await;
    assert!(c.closed().await, "no final reply, just the close");
    let records = server.wait_for_sessions(1, WAIT).await.expect("closed");
    let log = records[0].transcript.to_string();
    assert!(log.contains("Client sent 29 bytes while the server paused\nConnection closed by server (scripted close)"), "{log}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn a_script_reads_the_content_after_354_before_its_final_reply() {
    let scenario = inline(
        "S: 220 mx.test\nC: EHLO *\nS: 250 mx.test\nC: MAIL *\nS: 250 ok\nC: RCPT *\nS: 250 ok\nC: DATA\nS: 354 go\nS: 250 queued\n",
    );
    let (server, mut c) = greeted(scenario).await;
    assert_eq!(c.cmd("EHLO me").await.code, 250);
    assert_eq!(c.cmd("MAIL FROM:<a@x.test>").await.code, 250);
    assert_eq!(c.cmd("RCPT TO:<b@x.test>").await.code, 250);
    assert_eq!(c.cmd("DATA").await.code, 354);
    assert_eq!(
        c.cmd("Subject: s\r\n\r\nbody\r\n.").await.lines,
        ["250 queued"]
    );
    assert_eq!(c.cmd("QUIT").await.code, 221);
    let messages = server.wait_for_messages(1, WAIT).await.expect("captured");
    assert_eq!(messages[0].data, b"Subject: s\r\n\r\nbody\r\n");
}

#[tokio::test]
async fn a_rule_can_answer_one_connection_only_so_a_retry_succeeds() {
    // The first connection is refused for now; the retry on a second connection goes through.
    let scenario = inline("when MAIL connection=1\n    S: 451 4.3.0 try again later\n");
    let server = server(scenario).await;
    for expected in [451, 250] {
        let mut c = RawClient::connect(server.addr()).await;
        assert_eq!(c.reply().await.code, 220);
        assert_eq!(c.cmd("EHLO me").await.code, 250);
        assert_eq!(c.cmd("MAIL FROM:<a@x.test>").await.code, expected);
        assert_eq!(c.cmd("QUIT").await.code, 221);
        assert!(c.closed().await);
    }
}

/// A long connection in bounded memory: the transcript keeps its first and last events and
/// counts the rest, while the expectations still see every event as it happens.
#[tokio::test]
async fn a_bounded_transcript_keeps_its_ends_and_the_expectations_see_everything() {
    let scenario = inline("expect NOOP times 60\nexpect QUIT after 250\n");
    let server = smtp_harness::FakeSmtpServer::builder(scenario)
        .transcript_limit(20)
        .start()
        .await
        .expect("starts");
    let mut c = RawClient::connect(server.addr()).await;
    assert_eq!(c.reply().await.code, 220);
    let noops = "NOOP\r\n".repeat(60);
    c.send(&noops).await;
    for _ in 0..60 {
        assert_eq!(c.reply().await.code, 250);
    }
    assert_eq!(c.cmd("QUIT").await.code, 221);
    let records = server.wait_for_sessions(1, WAIT).await.expect("closed");
    let events = &records[0].transcript.events;
    assert!(events.len() <= 22, "{} events kept", events.len());
    let log = records[0].transcript.to_string();
    assert!(log.contains("events left out"), "{log}");
    assert!(
        log.ends_with("-> \"221 2.0.0 Bye\\r\\n\"\nConnection closed by server\n"),
        "{log}"
    );
    assert!(records[0].passed(), "{:?}", records[0].failures);
    server.verify().expect("expectations met");
}
