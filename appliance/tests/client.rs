//! The SMTP client as a library: `smtp::send` with settings, an envelope and a message, against
//! the fake server (and two hand-written servers for what a scenario cannot play).

mod common;

use std::sync::Arc;
use std::time::Duration;

use appliance::convlog::ConversationLog;
use appliance::settings::{EmailSettings, Settings};
use appliance::smtp::{self, Cause, Envelope, ErrorKind, Step};
use common::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

fn email(candidate: &Candidate) -> EmailSettings {
    Settings::parse(&candidate.toml(), "test")
        .expect("valid settings")
        .email
        .expect("an [email] section")
}

fn envelope() -> Envelope {
    Envelope::new("noreply@appliance.example.com", ["admin@example.com"]).unwrap()
}

const MESSAGE: &[u8] =
    b"From: noreply@appliance.example.com\nTo: admin@example.com\nSubject: dots\n\n.leading dot\n..two dots\n.\nlast line without an end";

#[tokio::test]
async fn content_is_dot_stuffed_and_sent_with_crlf() {
    let dir = TempDir::new("dots");
    let server = server(inline(ACCEPT_ALICE)).await;
    let log = ConversationLog::in_data_dir(dir.path());
    let delivered = smtp::send(
        &email(&Candidate::new(server.port())),
        &envelope(),
        MESSAGE,
        &log,
    )
    .await
    .expect("delivered");
    assert_eq!(delivered.reply.code, 250);
    assert!(delivered.encrypted && delivered.authenticated);

    let messages = server.wait_for_messages(1, WAIT).await.unwrap();
    let expected = String::from_utf8_lossy(MESSAGE).replace('\n', "\r\n") + "\r\n";
    assert_eq!(
        messages[0].data_str(),
        expected,
        "what the server unstuffed is the message"
    );

    let text = std::fs::read_to_string(dir.path().join("logs/unicorn.log")).unwrap();
    let wire = appliance_wire_size(MESSAGE);
    assert!(
        text.contains(&format!("<- [message: {wire} bytes]\n")),
        "{text}"
    );
    assert!(
        !text.contains("leading dot"),
        "content is not logged: {text}"
    );
}

/// The size on the wire: CRLF line ends, stuffed dots, the final CRLF and the `.` line.
fn appliance_wire_size(message: &[u8]) -> usize {
    let text = String::from_utf8_lossy(message);
    let lines: Vec<&str> = text.split('\n').collect();
    lines
        .iter()
        .map(|l| l.len() + 2 + usize::from(l.starts_with('.')))
        .sum::<usize>()
        + 3
}

#[tokio::test]
async fn size_is_declared_and_8bit_content_is_labelled() {
    let server = server(inline("name sink")).await;
    let message = "Subject: caf\u{e9}\r\n\r\nd\u{e9}j\u{e0} vu\r\n".as_bytes();
    smtp::send(
        &email(&Candidate::plain(server.port())),
        &envelope(),
        message,
        &ConversationLog::discard(),
    )
    .await
    .expect("delivered");
    let sessions = server.wait_for_sessions(1, WAIT).await.unwrap();
    let transcript = sessions[0].transcript.to_string();
    let mail = format!(
        "<- \"MAIL FROM:<noreply@appliance.example.com> SIZE={} BODY=8BITMIME\\r\\n\"",
        message.len()
    );
    assert!(transcript.contains(&mail), "{transcript}");
}

#[tokio::test]
async fn quit_follows_a_failure() {
    let server = server(inline(
        "when MAIL\n    S: 451 4.3.0 try later\nexpect QUIT after 451\nexpect closed by server\n",
    ))
    .await;
    let err = smtp::send(
        &email(&Candidate::plain(server.port())),
        &envelope(),
        MESSAGE,
        &ConversationLog::discard(),
    )
    .await
    .expect_err("451");
    assert_eq!(
        (err.step, err.kind, err.code()),
        (Step::Mail, ErrorKind::Temporary, Some(451))
    );
    assert!(err.is_temporary() && !err.is_permanent());
    server.wait_for_sessions(1, WAIT).await.unwrap();
    server.verify().expect("QUIT after the 451");
}

#[tokio::test]
async fn a_reply_slower_than_the_timeout_fails_that_step_and_still_says_quit() {
    let dir = TempDir::new("slow-rcpt");
    let server = server(inline("when RCPT\n    pause 3s\n    S: 250 2.1.5 Ok\n")).await;
    let settings = email(&Candidate::plain(server.port()).set_raw("timeout_secs", "1"));
    let log = ConversationLog::in_data_dir(dir.path());
    let started = std::time::Instant::now();
    let err = smtp::send(&settings, &envelope(), MESSAGE, &log)
        .await
        .expect_err("timeout");
    assert!(
        started.elapsed() < Duration::from_millis(2900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (err.step, err.kind, &err.cause),
        (Step::Rcpt, ErrorKind::Temporary, &Cause::Timeout)
    );
    assert_eq!(err.detail, "no reply from the server within 1s");
    let text = std::fs::read_to_string(dir.path().join("logs/unicorn.log")).unwrap();
    assert!(
        text.contains("Timed out: no reply from the server within 1s\n<- \"QUIT\\r\\n\"\n"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_senders_never_interleave_in_the_log() {
    const SENDERS: usize = 12;
    let dir = TempDir::new("concurrent");
    let server = server(inline(ACCEPT_ALICE)).await;
    let settings = Arc::new(email(
        &Candidate::new(server.port()).set("authentication", "login"),
    ));
    let log = Arc::new(ConversationLog::in_data_dir(dir.path()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..SENDERS {
        let (settings, log) = (settings.clone(), log.clone());
        tasks.spawn(async move { smtp::send(&settings, &envelope(), MESSAGE, &log).await });
    }
    while let Some(result) = tokio::time::timeout(WAIT, tasks.join_next())
        .await
        .expect("in time")
    {
        result.expect("task").expect("delivered");
    }

    let text = std::fs::read_to_string(dir.path().join("logs/unicorn.log")).unwrap();
    let conversations: Vec<&str> = text.split_inclusive("Connection closed\n").collect();
    assert_eq!(conversations.len(), SENDERS, "{text}");
    for c in conversations {
        assert!(c.starts_with("Connection opened: 127.0.0.1:"), "{c}");
        assert_eq!(
            c.matches("Connection opened").count(),
            1,
            "interleaved: {c}"
        );
        assert_eq!(c.matches("<- \"EHLO").count(), 2, "{c}");
        assert_eq!(c.matches("<- \"[redacted]\\r\\n\"").count(), 2, "{c}");
        assert!(
            c.contains("-> \"221 2.0.0 Bye\\r\\n\"\nConnection closed\n"),
            "{c}"
        );
    }
    assert_eq!(
        server.wait_for_messages(SENDERS, WAIT).await.unwrap().len(),
        SENDERS
    );
}

#[tokio::test]
async fn concurrent_processes_never_interleave_in_the_log() {
    let dir = TempDir::new("processes");
    let server = server(inline(ACCEPT_ALICE)).await;
    let file = Candidate::new(server.port()).write(&dir);
    let data_dir = dir.data_dir();
    let args = [
        "--data-dir",
        data_dir.to_str().unwrap(),
        "email",
        "test",
        "--to",
        "admin@example.com",
        "--settings",
        file.to_str().unwrap(),
    ];
    let (a, b, c, d) = tokio::join!(
        appliance(&args),
        appliance(&args),
        appliance(&args),
        appliance(&args)
    );
    for run in [a, b, c, d] {
        assert_eq!(run.code, 0, "{run:#?}");
    }
    let text = dir.log();
    let conversations: Vec<&str> = text.split_inclusive("Connection closed\n").collect();
    assert_eq!(conversations.len(), 4, "{text}");
    for c in conversations {
        assert_eq!(
            c.matches("Connection opened").count(),
            1,
            "interleaved: {c}"
        );
        assert!(
            c.contains("-> \"221 2.0.0 Bye\\r\\n\"\nConnection closed\n"),
            "{c}"
        );
    }
}

#[tokio::test]
async fn a_log_that_cannot_be_written_does_not_fail_a_delivery() {
    let dir = TempDir::new("bad-log");
    let server = server(inline("name sink")).await;
    // The log's path is a directory: appending fails.
    let log = ConversationLog::new(dir.path());
    let outcome = smtp::send_logged(
        &email(&Candidate::plain(server.port())),
        &envelope(),
        MESSAGE,
        &log,
    )
    .await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    let error = outcome.log_error.expect("the log error is reported");
    assert!(
        error
            .to_string()
            .contains("cannot append to the conversation log")
    );
}

#[tokio::test]
async fn a_server_that_does_not_speak_smtp() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        let mut sink = Vec::new();
        let _ = tcp.read_to_end(&mut sink).await;
    });
    let err = smtp::send(
        &email(&Candidate::plain(port)),
        &envelope(),
        MESSAGE,
        &ConversationLog::discard(),
    )
    .await
    .expect_err("not SMTP");
    assert_eq!(
        (err.step, err.kind, &err.cause),
        (Step::Greeting, ErrorKind::Permanent, &Cause::Malformed)
    );
    assert!(err.detail.contains("HTTP/1.1 400 Bad Request"), "{err}");
    assert!(err.hint().contains("SMTP server"), "{}", err.hint());
}

/// Clear-text bytes a server (or a man in the middle) sends behind its `220` to STARTTLS are
/// thrown away, not read as the reply to the EHLO inside TLS (RFC 3207, CVE-2011-0411 style).
#[tokio::test]
async fn clear_text_sent_behind_the_starttls_reply_is_discarded() {
    let dir = TempDir::new("injection");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config =
        smtp_harness::tls::embedded_server_config(smtp_harness::CertVariant::Valid).unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut plain = BufReader::new(tcp);
        let mut line = String::new();
        plain.write_all(b"220 raw.test ESMTP\r\n").await.unwrap();
        plain.read_line(&mut line).await.unwrap(); // EHLO
        plain
            .write_all(b"250-raw.test\r\n250 STARTTLS\r\n")
            .await
            .unwrap();
        line.clear();
        plain.read_line(&mut line).await.unwrap(); // STARTTLS
        plain
            .write_all(b"220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n")
            .await
            .unwrap();
        let tls = tokio_rustls::TlsAcceptor::from(config)
            .accept(plain.into_inner())
            .await
            .unwrap();
        let mut tls = BufReader::new(tls);
        let mut seen = Vec::new();
        for reply in [
            &b"250-raw.test inside TLS\r\n250 8BITMIME\r\n"[..],
            b"250 2.1.0 Ok\r\n",
            b"250 2.1.5 Ok\r\n",
            b"354 go\r\n",
        ] {
            line.clear();
            tls.read_line(&mut line).await.unwrap();
            seen.push(line.clone());
            tls.write_all(reply).await.unwrap();
        }
        loop {
            line.clear();
            tls.read_line(&mut line).await.unwrap();
            if line == ".\r\n" {
                break;
            }
        }
        tls.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
        line.clear();
        tls.read_line(&mut line).await.unwrap();
        seen.push(line.clone());
        tls.write_all(b"221 bye\r\n").await.unwrap();
        seen
    });
    let settings = email(
        &Candidate::new(port)
            .set("authentication", "none")
            .remove("username")
            .remove("password"),
    );
    let log = ConversationLog::in_data_dir(dir.path());
    smtp::send(&settings, &envelope(), MESSAGE, &log)
        .await
        .expect("delivered");
    let seen = tokio::time::timeout(WAIT, server).await.unwrap().unwrap();
    assert_eq!(
        seen[0], "EHLO appliance.example.com\r\n",
        "EHLO again inside TLS"
    );
    assert_eq!(seen[4], "QUIT\r\n");
    let text = std::fs::read_to_string(dir.path().join("logs/unicorn.log")).unwrap();
    assert!(
        text.contains(
            "-> \"220 go ahead\\r\\n\"\n\
             Discarded 30 bytes received in clear text before the TLS handshake\n\
             TLS connection started\n\
             <- \"EHLO appliance.example.com\\r\\n\"\n\
             -> \"250-raw.test inside TLS\\r\\n\"\n"
        ),
        "{text}"
    );
}
