//! lettre (tokio, rustls) against the fake server: the reference failure, success through
//! STARTTLS and implicit TLS, and the errors a sender sees for scripted faults.

mod common;
#[path = "common/lettre_sender.rs"]
mod lettre_sender;

use common::{WAIT, inline, server, shipped};
use lettre::transport::smtp::authentication::Mechanism;
use lettre_sender::{Mode, message, send, transport};

#[tokio::test]
async fn reference_scenario_ends_with_the_two_line_535_after_a_real_tls_handshake() {
    // Arrange
    let server = server(shipped("reference/auth-login-535.scn")).await;
    let lettre = transport(
        server.port(),
        Mode::StartTlsRequired,
        Some(("me@example.com", "itreallywas", Mechanism::Login)),
    );

    // Act
    let error = send(&lettre, message(&["admin@example.com"], "hello"))
        .await
        .expect_err("the 535 fails the send");

    // Assert: the sender sees a permanent 535 with every line of the reply.
    assert!(error.is_permanent(), "{error:?}");
    assert_eq!(
        error.status().map(|c| c.to_string()).as_deref(),
        Some("535")
    );
    // lettre joins the lines of a multi-line reply (dropping the repeated enhanced code).
    let text = error.to_string();
    assert_eq!(
        text,
        "permanent error (535): 5.7.1 Username and Password not accepted. Learn more at nt3sm2942435pbc.14"
    );

    let records = server
        .wait_for_sessions(1, WAIT)
        .await
        .expect("one connection");
    let log = records[0].transcript.to_string();
    for expected in [
        "<- \"STARTTLS\\r\\n\"",
        "TLS connection started",
        "<- \"AUTH LOGIN\\r\\n\"",
        "-> \"535-5.7.1 Username and Password not accepted. Learn more at\\r\\n\"",
        "-> \"535 5.7.1 nt3sm2942435pbc.14\\r\\n\"",
    ] {
        assert!(log.contains(expected), "missing {expected} in\n{log}");
    }
    assert_eq!(log.matches("<- \"[redacted]\\r\\n\"").count(), 2, "{log}");
    assert!(
        !log.contains(&common::b64("me@example.com")) && !log.contains(&common::b64("itreallywas")),
        "{log}"
    );
    assert!(records[0].passed(), "{:?}", records[0].failures);
}

#[tokio::test]
async fn success_scenario_accepts_one_message_through_starttls_with_each_mechanism() {
    for mechanism in [Mechanism::Plain, Mechanism::Login] {
        // Arrange
        let server = server(shipped("outbound/starttls-plain.scn")).await;
        let lettre = transport(
            server.port(),
            Mode::StartTlsRequired,
            Some(("alice", "s3cret", mechanism)),
        );

        // Act
        send(
            &lettre,
            message(&["bob@example.com"], "line one\r\n.starts with a dot\r\n"),
        )
        .await
        .expect("sent");

        // Assert
        let messages = server.wait_for_messages(1, WAIT).await.expect("captured");
        let m = &messages[0];
        assert_eq!(m.mail_from, "noreply@appliance.test");
        assert_eq!(m.rcpt_to, ["bob@example.com"]);
        assert!(m.tls, "message came inside TLS");
        assert_eq!(m.authenticated_as.as_deref(), Some("alice"));
        assert_eq!(m.subject().as_deref(), Some("[harness] test message"));
        assert!(
            m.body().contains("\r\n.starts with a dot\r\n"),
            "dot-unstuffing undoes lettre's stuffing: {:?}",
            m.body()
        );
        server.verify().expect("expectations met");
    }
}

#[tokio::test]
async fn wrong_password_gets_the_scenario_535() {
    let server = server(shipped("outbound/starttls-plain.scn")).await;
    let lettre = transport(
        server.port(),
        Mode::StartTlsRequired,
        Some(("alice", "wrong", Mechanism::Plain)),
    );

    let error = send(&lettre, message(&["bob@example.com"], "x"))
        .await
        .expect_err("rejected");

    assert_eq!(
        error.status().map(|c| c.to_string()).as_deref(),
        Some("535")
    );
    assert!(
        error.to_string().contains("bad user name or password"),
        "{error}"
    );
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn implicit_tls_scenario_accepts_auth_plain() {
    let server = server(shipped("outbound/implicit-tls.scn")).await;
    let lettre = transport(
        server.port(),
        Mode::Implicit,
        Some(("alice", "s3cret", Mechanism::Plain)),
    );

    send(&lettre, message(&["bob@example.com"], "over SMTPS"))
        .await
        .expect("sent");

    let records = server.wait_for_sessions(1, WAIT).await.expect("closed");
    let log = records[0].transcript.to_string();
    assert!(
        log.starts_with("Connection opened: connection 1 with 127.0.0.1:")
            && log.contains("\nTLS connection started: TLSv1.3 TLS13_")
            && log.contains(" TLS13_AES_256_GCM_SHA384\n-> \"220 "),
        "{log}"
    );
    assert!(log.contains("<- \"AUTH PLAIN [redacted]\\r\\n\""), "{log}");
    assert!(records[0].passed(), "{:?}", records[0].failures);
}

#[tokio::test]
async fn greeting_421_is_a_transient_error_for_the_sender() {
    let server = server(shipped("outbound/greeting-421.scn")).await;
    let lettre = transport(server.port(), Mode::Plain, None);

    let error = send(&lettre, message(&["bob@example.com"], "x"))
        .await
        .expect_err("421");

    assert!(error.is_transient(), "{error:?}");
    assert!(
        error.to_string().contains("Service not available"),
        "{error}"
    );
    let records = server.wait_for_sessions(1, WAIT).await.expect("closed");
    assert_eq!(
        records[0].transcript.client_lines(),
        Vec::<String>::new(),
        "the sender sent nothing"
    );
}

#[tokio::test]
async fn starttls_required_by_the_sender_but_not_offered_aborts_before_credentials() {
    // A server without a certificate never offers STARTTLS.
    let server = server(inline("S: 220 plain.example ESMTP\n")).await;
    let lettre = transport(
        server.port(),
        Mode::StartTlsRequired,
        Some(("alice", "s3cret", Mechanism::Plain)),
    );

    let error = send(&lettre, message(&["bob@example.com"], "x"))
        .await
        .expect_err("no STARTTLS");

    assert!(error.is_client(), "{error:?}");
    let records = server.wait_for_sessions(1, WAIT).await.expect("closed");
    let lines = records[0].transcript.client_lines();
    assert!(
        lines.iter().all(|l| !l.starts_with("AUTH")),
        "no credentials in clear text: {lines:?}"
    );
}

#[tokio::test]
async fn certificate_variants_are_refused_by_a_verifying_sender() {
    for (variant, fragment) in [
        ("expired", "expired"),
        ("wrong-host", "not valid for name"),
        ("self-signed", "UnknownIssuer"),
        ("unknown-ca", "UnknownIssuer"),
    ] {
        let server = server(inline(&format!("certificate {variant}\n"))).await;
        let lettre = transport(server.port(), Mode::StartTlsRequired, None);

        let error = send(&lettre, message(&["bob@example.com"], "x"))
            .await
            .expect_err("certificate refused");

        let chain = error_chain(&error);
        assert!(chain.contains(fragment), "{variant}: {chain}");
        let records = server.wait_for_sessions(1, WAIT).await.expect("closed");
        assert!(
            records[0]
                .transcript
                .to_string()
                .contains("TLS handshake failed:"),
            "{variant}: {}",
            records[0].transcript
        );
    }
}

#[tokio::test]
async fn size_limit_from_the_ehlo_list_rejects_a_large_message_with_552() {
    let server = server(inline("size 2000\n")).await;
    let lettre = transport(server.port(), Mode::Plain, None);

    let error = send(&lettre, message(&["bob@example.com"], &"x".repeat(5000)))
        .await
        .expect_err("too big");

    assert_eq!(
        error.status().map(|c| c.to_string()).as_deref(),
        Some("552"),
        "{error}"
    );
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn broken_expectations_are_reported_with_the_transcript() {
    // The client authenticates in clear text, which the scenario forbids.
    let scenario = inline("certificate valid\nexpect STARTTLS before AUTH\nexpect no DATA\n");
    let server = server(scenario).await;
    let lettre = transport(
        server.port(),
        Mode::Plain,
        Some(("alice", "s3cret", Mechanism::Plain)),
    );

    send(&lettre, message(&["bob@example.com"], "x"))
        .await
        .expect("the default server accepts");

    server.wait_for_sessions(1, WAIT).await.expect("closed");
    let report = server
        .verify()
        .expect_err("expectations broken")
        .to_string();
    assert!(
        report.contains(
            "line 2: expected STARTTLS before AUTH, but AUTH came without STARTTLS before it"
        ),
        "{report}"
    );
    assert!(
        report.contains("line 3: expected no DATA, but DATA happened 1 time(s)"),
        "{report}"
    );
    assert!(
        report.contains("<- \"AUTH PLAIN [redacted]\\r\\n\""),
        "{report}"
    );
}

/// The error and all its sources, as text.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
