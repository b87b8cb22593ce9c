//! The inbound SMTP server (`appliance inbound serve`), driven by the harness as the remote
//! MTA: `smtp_harness::client::play` with inline `role client` scenarios against the real
//! binary, on an ephemeral port, with a temporary data directory per test.
//!
//! Over 500 lines on purpose: one file is one test binary that links the whole crate, so a
//! capability's tests stay together with the helpers they share instead of being split into
//! binaries that each pay the link.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{TempDir, WAIT, repo};
use smtp_harness::ClientScenario;
use smtp_harness::ConversationRecord;
use smtp_harness::client::{ClientOptions, play};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const HOST: &str = "appliance.test";

/// Settings for the server; `extra_inbound` is added to `[inbound]`.
fn settings(discard: bool, tls: bool, extra_inbound: &str) -> String {
    let mut text = format!(
        "hostname = \"{HOST}\"\n[email]\nenabled = true\naddress = \"127.0.0.1\"\nport = 25\n\
         encryption = \"none\"\nnoreply_address = \"noreply@{HOST}\"\ndiscard_to_noreply = {discard}\n\
         [inbound]\nmax_message_size = 8192\n"
    );
    if tls {
        text.push_str(&format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
            repo("certs/valid.pem"),
            repo("certs/valid.key.pem")
        ));
    }
    text.push_str(extra_inbound);
    text
}

/// A running `appliance inbound serve`, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    data: PathBuf,
}

impl Server {
    async fn start(dir: &TempDir, settings: &str) -> Server {
        let data = dir.data_dir();
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("settings.toml"), settings).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_appliance"))
            .arg("--data-dir")
            .arg(&data)
            .args(["inbound", "serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the appliance starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("the server prints its address in time")
            .unwrap()
            .expect("a first line");
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line: {first:?}"))
            .parse()
            .unwrap();
        Server { child, addr, data }
    }

    async fn play(&self, scenario: &str) -> ConversationRecord {
        let scenario = ClientScenario::parse(scenario, "<inline>").expect("the scenario parses");
        let ca = std::fs::read_to_string(repo("certs/ca.pem")).unwrap();
        let options = ClientOptions::trusting(&ca, "localhost", WAIT).unwrap();
        play(&scenario, self.addr, &options).await
    }

    async fn play_ok(&self, scenario: &str) -> ConversationRecord {
        let record = self.play(scenario).await;
        assert!(
            record.passed(),
            "failures: {:?}\n{}",
            record.failures,
            record.transcript
        );
        record
    }

    fn files(&self, sub: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.data.join("mail/reply").join(sub))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.sort();
        files
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("logs/mail.log")).unwrap_or_default()
    }

    /// Waits until the log has a line containing `text` (sessions log after the client left).
    async fn wait_log(&self, text: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let log = self.log();
            if log.contains(text) {
                return log;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {text:?} in the log:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(killed.success());
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("it stops in time")
            .unwrap()
    }
}

/// Writes a message file and returns its absolute path (for `message PATH`).
fn message_file(dir: &TempDir, name: &str, content: &[u8]) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    path.display().to_string()
}

/// One message from alice to `to`, with `extra` steps after the greeting.
fn deliver(to: &str, message: &str) -> String {
    format!(
        "role client\nS: 220*\nC: EHLO sender.test\nS: 250*\nC: MAIL FROM:<alice@sender.test>\nS: 250*\n\
         C: RCPT TO:<{to}>\nS: 250*\nC: DATA\nS: 354*\nmessage {message}\nS: 250 2.0.0 Ok: queued as *\n\
         C: QUIT\nS: 221*\n"
    )
}

fn reply_to() -> String {
    format!("reply+abc@reply.{HOST}")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[tokio::test]
async fn a_delivery_lands_in_new_byte_exact_and_is_logged() {
    let dir = TempDir::new("inbound-deliver");
    let server = Server::start(&dir, &settings(false, false, "")).await;
    let content =
        b"From: Bob <bob@example.com>\r\nTo: reply+abc@reply.appliance.test\r\nSubject: Re: hi\r\n\
Message-ID: <m1@example.com>\r\n\r\nFirst line\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n";
    let file = message_file(&dir, "m1.eml", content);
    server.play_ok(&deliver(&reply_to(), &file)).await;
    let new = server.files("new");
    assert_eq!(new.len(), 1, "{new:?}");
    assert!(server.files("tmp").is_empty());
    let stored = read(&new[0]);
    assert!(
        stored.ends_with(content),
        "{}",
        String::from_utf8_lossy(&stored)
    );
    let head = String::from_utf8_lossy(&stored[..stored.len() - content.len()]).into_owned();
    assert!(head.starts_with("Return-Path: <alice@sender.test>\r\nX-Original-To: reply+abc@reply.appliance.test\r\nDelivered-To: reply+abc@reply.appliance.test\r\nReceived: from sender.test (unknown [127.0.0.1])\r\n\tby appliance.test (appliance) with ESMTP id "), "{head}");
    let name = new[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.contains(".M") && name.contains('P') && name.contains('Q'),
        "{name}"
    );

    let log = server.wait_log("disconnect from").await;
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 7, "{log}");
    let qid = lines[1]
        .split("]: ")
        .nth(1)
        .and_then(|t| t.split(':').next())
        .unwrap()
        .to_owned();
    let expected = [
        ("smtpd", "connect from unknown[127.0.0.1]".to_owned()),
        ("smtpd", format!("{qid}: client=unknown[127.0.0.1]")),
        ("cleanup", format!("{qid}: message-id=<m1@example.com>")),
        (
            "qmgr",
            format!(
                "{qid}: from=<alice@sender.test>, size={}, nrcpt=1 (queue active)",
                content.len()
            ),
        ),
        (
            "virtual",
            format!("{qid}: to=<reply+abc@reply.appliance.test>, relay=virtual, delay="),
        ),
        ("qmgr", format!("{qid}: removed")),
        ("smtpd", "disconnect from unknown[127.0.0.1]".to_owned()),
    ];
    for (line, (program, text)) in lines.iter().zip(&expected) {
        // "Nov 26 04:35:45 appliance.test appliance/smtpd[PID]: TEXT"
        assert!(
            line.contains(&format!(" appliance.test appliance/{program}[")),
            "{line}"
        );
        let after = line.split("]: ").nth(1).unwrap();
        assert!(after.starts_with(text.as_str()), "{line}\nexpected {text}");
    }
    assert!(
        lines[4].ends_with(", dsn=2.0.0, status=sent (delivered to maildir)"),
        "{}",
        lines[4]
    );
    assert_eq!(qid.len(), 11);
    assert!(server.stop().await.success());
}

#[tokio::test]
async fn relaying_is_refused_and_reply_domains_are_case_insensitive() {
    let dir = TempDir::new("inbound-relay");
    let server = Server::start(&dir, &settings(false, false, "")).await;
    server
        .play_ok(
            "role client\nS: 220*\nC: EHLO sender.test\nS: 250*\nC: MAIL FROM:<alice@sender.test>\nS: 250*\n\
             C: RCPT TO:<victim@elsewhere.test>\nS: 554 5.7.1 <victim@elsewhere.test>: Relay access denied\n\
             C: RCPT TO:<x@appliance.test>\nS: 554 5.7.1 <x@appliance.test>: Relay access denied\n\
             C: RCPT TO:<x@sub.reply.appliance.test>\nS: 554 5.7.1*\n\
             C: DATA\nS: 503 5.5.1 Error: need RCPT command\n\
             C: RCPT TO:<reply+abc@REPLY.Appliance.TEST>\nS: 250 2.1.5 Ok\n\
             C: RCPT TO:<mention@noreply.appliance.test>\nS: 250 2.1.5 Ok\n\
             C: QUIT\nS: 221*\n",
        )
        .await;
    let log = server.wait_log("disconnect from").await;
    assert!(log.contains("NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 <victim@elsewhere.test>: Relay access denied; from=<alice@sender.test> to=<victim@elsewhere.test> proto=ESMTP helo=<sender.test>"), "{log}");
    assert!(server.files("new").is_empty());
}

#[tokio::test]
async fn commands_out_of_order_bad_syntax_and_long_lines() {
    let dir = TempDir::new("inbound-syntax");
    let server = Server::start(&dir, &settings(false, false, "")).await;
    let long = format!("NOOP {}", "x".repeat(600));
    server
        .play_ok(&format!(
            "role client\nS: 220 appliance.test ESMTP*\n\
             C: MAIL FROM:<alice@sender.test>\nS: 503 5.5.1 Error: send HELO/EHLO first\n\
             C: EHLO\nS: 501 5.5.4 Syntax: EHLO hostname\n\
             C: HELO sender.test\nS: 250 appliance.test\n\
             C: RCPT TO:<reply+a@reply.appliance.test>\nS: 503 5.5.1 Error: need MAIL command\n\
             C: DATA\nS: 503 5.5.1 Error: need MAIL command\n\
             C: FROB\nS: 500 5.5.2 Error: command not recognized\n\
             C: AUTH PLAIN AGFsaWNlAHMzY3JldA==\nS: 502 5.5.1 Error: command not implemented\n\
             C: STARTTLS\nS: 502 5.5.1*\n\
             C: MAIL FROM:alice@sender.test\nS: 501 5.5.4 Syntax: MAIL FROM:<address>\n\
             C: MAIL FROM:<alice@sender.test> FOO=BAR\nS: 555 5.5.4*\n\
             C: MAIL FROM:<alice@sender.test>\nS: 250 2.1.0 Ok\n\
             C: MAIL FROM:<alice@sender.test>\nS: 503 5.5.1 Error: nested MAIL command\n\
             C: RCPT TO:<not an address>\nS: 501 5.1.3*\n\
             C: DATA extra\nS: 501*\n\
             C: {long}\nS: 500 5.5.2 Error: line too long\n\
             C: RSET\nS: 250*\n\
             C: NOOP\nS: 250*\n\
             C: QUIT\nS: 221 2.0.0 Bye\n"
        ))
        .await;
}

#[tokio::test]
async fn the_ehlo_reply_lists_the_extensions() {
    let dir = TempDir::new("inbound-ehlo");
    let server = Server::start(&dir, &settings(false, true, "")).await;
    let record = server
        .play_ok("role client\nS: 220*\nC: EHLO sender.test\nS: 250 SMTPUTF8\nC: QUIT\nS: 221*\n")
        .await;
    let text = record.transcript.to_string();
    for ext in [
        "250-appliance.test",
        "250-PIPELINING",
        "250-SIZE 8192",
        "250-STARTTLS",
        "250-8BITMIME",
    ] {
        assert!(text.contains(ext), "{ext} missing:\n{text}");
    }
}

#[tokio::test]
async fn oversized_mail_is_refused_with_552_and_nothing_is_delivered() {
    let dir = TempDir::new("inbound-size");
    let server = Server::start(&dir, &settings(false, false, "")).await;
    let big = format!(
        "Subject: big\r\n\r\n{}",
        "0123456789abcdef\r\n".repeat(1000)
    );
    let big = message_file(&dir, "big.eml", big.as_bytes());
    let small = message_file(&dir, "small.eml", b"Subject: small\r\n\r\nok\r\n");
    server
        .play_ok(&format!(
            "role client\nS: 220*\nC: EHLO sender.test\nS: 250*\n\
             C: MAIL FROM:<alice@sender.test> SIZE=100000\nS: 552 5.3.4 Message size exceeds fixed limit\n\
             C: MAIL FROM:<alice@sender.test>\nS: 250*\nC: RCPT TO:<{}>\nS: 250*\nC: DATA\nS: 354*\n\
             message {big}\nS: 552 5.3.4 Message size exceeds fixed limit\n\
             C: MAIL FROM:<alice@sender.test>\nS: 250*\nC: RCPT TO:<{}>\nS: 250*\nC: DATA\nS: 354*\n\
             message {small}\nS: 250 2.0.0 Ok: queued as *\nC: QUIT\nS: 221*\n",
            reply_to(),
            reply_to()
        ))
        .await;
    let new = server.files("new");
    assert_eq!(new.len(), 1);
    assert!(read(&new[0]).ends_with(b"Subject: small\r\n\r\nok\r\n"));
    let log = server.wait_log("disconnect from").await;
    assert!(
        log.contains(": reject: END-OF-MESSAGE from unknown[127.0.0.1]: 552 5.3.4"),
        "{log}"
    );
}

#[tokio::test]
async fn a_client_that_drops_during_data_leaves_nothing() {
    let dir = TempDir::new("inbound-drop");
    let server = Server::start(&dir, &settings(false, false, "")).await;
    server
        .play_ok(&format!(
            "role client\nS: 220*\nC: EHLO sender.test\nS: 250*\nC: MAIL FROM:<alice@sender.test>\nS: 250*\n\
             C: RCPT TO:<{}>\nS: 250*\nC: DATA\nS: 354*\nraw \"Subject: partial\\r\\n\\r\\nhalf a mess\"\nclose\n",
            reply_to()
        ))
        .await;
    let log = server.wait_log("disconnect from").await;
    assert!(
        log.contains("lost connection after DATA from unknown[127.0.0.1]"),
        "{log}"
    );
    assert!(server.files("new").is_empty());
    assert!(server.files("tmp").is_empty());
}

#[tokio::test]
async fn bare_lf_content_round_trips_and_only_crlf_dot_crlf_ends_data() {
    let dir = TempDir::new("inbound-bare-lf");
    let server = Server::start(&dir, &settings(false, false, "")).await;
    // Bare LFs in a message file: dot-stuffed by the client after every LF, unstuffed here.
    let content = b"Subject: bare\n\nline one\n.dotted\nlast\n";
    let file = message_file(&dir, "bare.eml", content);
    server.play_ok(&deliver(&reply_to(), &file)).await;
    // "\n.\n" and "\r\n.\n" are not the end: the SMTP smuggling shape stays content.
    server
        .play_ok(&format!(
            "role client\nS: 220*\nC: EHLO sender.test\nS: 250*\nC: MAIL FROM:<alice@sender.test>\nS: 250*\n\
             C: RCPT TO:<{}>\nS: 250*\nC: DATA\nS: 354*\n\
             raw \"Subject: smuggle\\r\\n\\r\\nA\\n.\\nMAIL FROM:<evil@x.test>\\r\\n.\\nB\\r\\n.\\r\\n\"\n\
             S: 250 2.0.0 Ok: queued as *\nC: QUIT\nS: 221*\n",
            reply_to()
        ))
        .await;
    let new = server.files("new");
    assert_eq!(new.len(), 2);
    let all: Vec<Vec<u8>> = new.iter().map(|p| read(p)).collect();
    let mut expected_bare = content.to_vec();
    expected_bare.extend_from_slice(b"\r\n"); // the client ends the content with CRLF
    assert!(all.iter().any(|m| m.ends_with(&expected_bare)), "{all:?}");
    assert!(
        all.iter().any(
            |m| m.ends_with(b"Subject: smuggle\r\n\r\nA\n\nMAIL FROM:<evil@x.test>\r\n\nB\r\n")
        ),
        "{:?}",
        all.iter()
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn eight_bit_utf8_mail_is_stored_byte_exact() {
    let dir = TempDir::new("inbound-utf8");
    let server = Server::start(&dir, &settings(false, false, "")).await;
    let content =
        "From: Zoë <zoe@exämple.test>\r\nSubject: café ✓\r\n\r\nÜnïcödé bödy — 日本語\r\n";
    let mut bytes = content.as_bytes().to_vec();
    bytes.extend_from_slice(b"raw 8-bit: \xe9\xff\r\n");
    let file = message_file(&dir, "utf8.eml", &bytes);
    server
        .play_ok(&format!(
            "role client\nS: 220*\nC: EHLO sender.test\nS: 250*\n\
             C: MAIL FROM:<zoë@exämple.test> BODY=8BITMIME SMTPUTF8\nS: 250*\n\
             C: RCPT TO:<{}>\nS: 250*\nC: DATA\nS: 354*\nmessage {file}\nS: 250*\nC: QUIT\nS: 221*\n",
            reply_to()
        ))
        .await;
    let new = server.files("new");
    assert_eq!(new.len(), 1);
    let stored = read(&new[0]);
    assert!(stored.ends_with(&bytes));
    assert!(stored.starts_with("Return-Path: <zoë@exämple.test>\r\n".as_bytes()));
}

#[tokio::test]
async fn starttls_discards_pipelined_clear_text_and_resets_the_session() {
    let dir = TempDir::new("inbound-tls");
    let server = Server::start(&dir, &settings(false, true, "")).await;
    let file = message_file(&dir, "tls.eml", b"Subject: secret\r\n\r\nover TLS\r\n");
    let record = server
        .play_ok(&format!(
            "role client\nS: 220*\nC: EHLO sender.test\nS: 250*\n\
             raw \"STARTTLS\\r\\nMAIL FROM:<injected@evil.test>\\r\\n\"\nS: 220 2.0.0 Ready to start TLS\ntls\n\
             C: MAIL FROM:<alice@sender.test>\nS: 503 5.5.1 Error: send HELO/EHLO first\n\
             C: EHLO sender.test\nS: 250 SMTPUTF8\n\
             C: STARTTLS\nS: 554 5.5.1 Error: TLS already active\n\
             C: MAIL FROM:<alice@sender.test>\nS: 250*\nC: RCPT TO:<{}>\nS: 250*\nC: DATA\nS: 354*\n\
             message {file}\nS: 250*\nC: QUIT\nS: 221*\n",
            reply_to()
        ))
        .await;
    let text = record.transcript.to_string();
    assert!(text.contains("TLS connection started"), "{text}");
    // After TLS the EHLO reply no longer offers STARTTLS.
    let after = text.split("TLS connection started").nth(1).unwrap();
    assert!(!after.contains("250-STARTTLS"), "{after}");
    let new = server.files("new");
    assert_eq!(new.len(), 1);
    let stored = String::from_utf8(read(&new[0])).unwrap();
    assert!(stored.contains("with ESMTPS id"), "{stored}");
    assert!(!stored.contains("injected"));
}

#[tokio::test]
async fn discard_to_noreply_on_drops_noreply_only_mail() {
    let dir = TempDir::new("inbound-discard-on");
    let server = Server::start(&dir, &settings(true, false, "")).await;
    let file = message_file(
        &dir,
        "cc.eml",
        b"Subject: reply all\r\nMessage-ID: <cc@x>\r\n\r\nhi\r\n",
    );
    server
        .play_ok(&deliver(&format!("mention@noreply.{HOST}"), &file))
        .await;
    assert!(server.files("new").is_empty());
    let log = server.wait_log("disconnect from").await;
    assert!(
        log.contains("to=<mention@noreply.appliance.test>, relay=none"),
        "{log}"
    );
    assert!(log.contains("status=sent (discarded)"), "{log}");
    assert!(!log.contains("delivered to maildir"), "{log}");
    // A message to both the reply and the no-reply address is delivered (once).
    server
        .play_ok(&format!(
            "role client\nS: 220*\nC: EHLO s.test\nS: 250*\nC: MAIL FROM:<a@s.test>\nS: 250*\n\
             C: RCPT TO:<{}>\nS: 250*\nC: RCPT TO:<mention@noreply.{HOST}>\nS: 250*\n\
             C: DATA\nS: 354*\nmessage {file}\nS: 250*\nC: QUIT\nS: 221*\n",
            reply_to()
        ))
        .await;
    assert_eq!(server.files("new").len(), 1);
}

#[tokio::test]
async fn discard_to_noreply_off_delivers_noreply_mail() {
    let dir = TempDir::new("inbound-discard-off");
    let server = Server::start(&dir, &settings(false, false, "")).await;
    let file = message_file(&dir, "cc.eml", b"Subject: reply all\r\n\r\nhi\r\n");
    server
        .play_ok(&deliver(&format!("mention@noreply.{HOST}"), &file))
        .await;
    assert_eq!(server.files("new").len(), 1);
    let log = server.wait_log("disconnect from").await;
    assert!(
        log.contains("to=<mention@noreply.appliance.test>, relay=virtual"),
        "{log}"
    );
}

#[tokio::test]
async fn an_idle_client_gets_421() {
    let dir = TempDir::new("inbound-timeout");
    let server = Server::start(&dir, &settings(false, false, "timeout_secs = 1\n")).await;
    let started = std::time::Instant::now();
    server
        .play_ok("role client\nS: 220*\nC: EHLO s.test\nS: 250*\nS: 421 4.4.2 appliance.test Error: timeout exceeded\n")
        .await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    let log = server.wait_log("disconnect from").await;
    assert!(
        log.contains("timeout after EHLO from unknown[127.0.0.1]"),
        "{log}"
    );
}

#[tokio::test]
async fn two_hundred_concurrent_deliveries_each_land_exactly_once() {
    let dir = TempDir::new("inbound-concurrent");
    let server = std::sync::Arc::new(Server::start(&dir, &settings(false, false, "")).await);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let content =
            format!("Subject: n{i}\r\nMessage-ID: <n{i}@sender.test>\r\n\r\nmessage {i}\r\n");
        let file = message_file(&dir, &format!("n{i}.eml"), content.as_bytes());
        let server = std::sync::Arc::clone(&server);
        tasks.spawn(async move { server.play(&deliver(&reply_to(), &file)).await });
    }
    while let Some(record) = tasks.join_next().await {
        let record = record.unwrap();
        assert!(
            record.passed(),
            "{:?}\n{}",
            record.failures,
            record.transcript
        );
    }
    let new = server.files("new");
    assert_eq!(new.len(), 200);
    let mut seen = std::collections::BTreeSet::new();
    for path in &new {
        let text = String::from_utf8(read(path)).unwrap();
        let id = text
            .split("Message-ID: <n")
            .nth(1)
            .unwrap()
            .split('@')
            .next()
            .unwrap()
            .to_owned();
        assert!(seen.insert(id.clone()), "message {id} twice");
    }
    assert_eq!(seen.len(), 200);
    assert!(server.files("tmp").is_empty());
}

#[tokio::test]
async fn sigterm_stops_the_server() {
    let dir = TempDir::new("inbound-stop");
    let server = Server::start(&dir, &settings(false, false, "")).await;
    let status = server.stop().await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn bad_inbound_settings_are_named() {
    let dir = TempDir::new("inbound-settings");
    let data = dir.data_dir();
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("settings.toml"),
        format!(
            "hostname = \"{HOST}\"\n[inbound]\nlisten = \"nowhere\"\nmax_message_size = 0\n\
             tls_cert = \"/nonexistent/cert.pem\"\ntimeout_secs = \"x\"\nfoo = 1\n"
        ),
    )
    .unwrap();
    let run = common::appliance(&["--data-dir", data.to_str().unwrap(), "inbound", "serve"]).await;
    assert_eq!(run.code, 78, "{}", run.output());
    for field in [
        "inbound.listen: must be an address and port",
        "inbound.max_message_size: must be 1-1073741824, got 0",
        "inbound.tls_key: is required when inbound.tls_cert is set",
        "inbound.timeout_secs: expected an integer",
        "inbound.foo: unknown setting",
    ] {
        assert!(
            run.stderr.contains(field),
            "{field} missing:\n{}",
            run.stderr
        );
    }
    std::fs::write(
        data.join("settings.toml"),
        format!(
            "hostname = \"{HOST}\"\n[inbound]\ntls_cert = \"/nonexistent/cert.pem\"\ntls_key = \"{}\"\n",
            repo("certs/valid.key.pem")
        ),
    )
    .unwrap();
    let run =
        common::appliance(&["--data-dir", data.to_str().unwrap(), "settings", "validate"]).await;
    assert_eq!(run.code, 78, "{}", run.output());
    assert!(
        run.stderr
            .contains("inbound.tls_cert: /nonexistent/cert.pem: no usable PEM certificate"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn with_email_disabled_every_session_gets_554_and_only_quit() {
    let dir = TempDir::new("inbound-disabled");
    let text = settings(false, false, "").replace("enabled = true", "enabled = false");
    let server = Server::start(&dir, &text).await;
    server
        .play_ok(&format!(
            "role client\nS: 554 5.3.2 appliance.test ESMTP email is disabled on this appliance\n\
             C: EHLO sender.test\nS: 503 5.5.1*\nC: MAIL FROM:<a@s.test>\nS: 503*\n\
             C: RCPT TO:<{}>\nS: 503*\nC: QUIT\nS: 221*\n",
            reply_to()
        ))
        .await;
    assert!(server.files("new").is_empty());
}

#[tokio::test]
async fn sigterm_tells_a_waiting_client_421_and_exits_cleanly() {
    let dir = TempDir::new("inbound-stop-421");
    let server = Server::start(&dir, &settings(false, false, "")).await;
    let addr = server.addr;
    let scenario = ClientScenario::parse(
        "role client\nS: 220*\nC: EHLO sender.test\nS: 250*\nS: 421 4.3.2 appliance.test Service shutting down*\n",
        "<inline>",
    )
    .unwrap();
    let ca = std::fs::read_to_string(repo("certs/ca.pem")).unwrap();
    let options = ClientOptions::trusting(&ca, "localhost", WAIT).unwrap();
    let client = tokio::spawn(async move { play(&scenario, addr, &options).await });
    // Let the client get to its wait after EHLO.
    server.wait_log("connect from").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = server.stop().await;
    let record = client.await.unwrap();
    assert!(
        record.passed(),
        "{:?}\n{}",
        record.failures,
        record.transcript
    );
    assert!(status.success(), "{status:?}");
}
