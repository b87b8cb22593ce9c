//! swaks (Perl, Net::SSLeay/OpenSSL) against the fake server: the reference 535 through
//! STARTTLS, a successful submission with dot-stuffed lines, a wrong password, implicit TLS,
//! certificate verification and PIPELINING.
//!
//! swaks must be installed (`scripts/setup`); the tests fail, not skip, when it is missing.

#[path = "common/external.rs"]
mod external;

use external::{
    CA_PEM, SERVER_WAIT, assert_in_order, inline, lenient_server, only_session, run_client, server,
    shipped,
};
use smtp_harness::FakeSmtpServer;

/// swaks' exit code for "error in AUTH transaction".
const SWAKS_AUTH_FAILED: i32 = 28;
/// swaks' exit code for "error in TLS transaction".
const SWAKS_TLS_FAILED: i32 = 29;

/// The connection and envelope arguments every test uses.
fn swaks_args(server: &FakeSmtpServer) -> Vec<String> {
    [
        "--server",
        "127.0.0.1",
        "--port",
        &server.port().to_string(),
        "--helo",
        "client.example",
        "--from",
        "a@example.com",
        "--to",
        "b@example.com",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// STARTTLS required, and the server certificate checked against the test CA.
fn starttls_verified() -> Vec<String> {
    ["--tls", "--tls-verify", "--tls-ca-path", CA_PEM]
        .map(str::to_owned)
        .to_vec()
}

fn with(mut args: Vec<String>, more: &[&str]) -> Vec<String> {
    args.extend(more.iter().map(|s| (*s).to_owned()));
    args
}

#[tokio::test]
async fn reference_scenario_swaks_sees_the_two_line_535_after_starttls_and_exits_with_auth_failure()
{
    // Arrange
    let server = server(shipped("reference/auth-login-535.scn")).await;
    let mut args = swaks_args(&server);
    args.extend(starttls_verified());
    args = with(
        args,
        &[
            "--auth",
            "LOGIN",
            "--auth-user",
            "me@example.com",
            "--auth-password",
            "secret",
        ],
    );

    // Act
    let swaks = run_client("swaks", &args).await;

    // Assert: swaks reports an AUTH failure, with both 535 lines in full, inside TLS.
    assert_eq!(swaks.code(), Some(SWAKS_AUTH_FAILED), "{swaks}");
    let output = swaks.output();
    let (_, after_tls) = output
        .split_once("=== TLS started")
        .unwrap_or_else(|| panic!("swaks never started TLS\n{swaks}"));
    assert_in_order(
        after_tls,
        &[
            "<~* 535-5.7.1 Username and Password not accepted. Learn more at\n",
            "<~* 535 5.7.1 nt3sm2942435pbc.14\n",
        ],
        &swaks,
    );

    // Assert: the server saw STARTTLS, the handshake, AUTH LOGIN and the two (redacted) answers.
    let record = only_session(&server).await;
    external::assert_reference_535_transcript(&record, "me@example.com", "secret", &swaks);
}

#[tokio::test]
async fn success_scenario_swaks_delivers_one_message_through_starttls_and_auth_with_dot_lines_intact()
 {
    // Arrange
    let server = server(shipped("outbound/starttls-plain.scn")).await;
    let body = "first line\n.hidden\n..leading dot\nlast line";
    let mut args = swaks_args(&server);
    args.extend(starttls_verified());
    args = with(
        args,
        &[
            "--auth-user",
            "alice",
            "--auth-password",
            "s3cret",
            "--body",
            body,
        ],
    );

    // Act
    let swaks = run_client("swaks", &args).await;

    // Assert
    assert_eq!(swaks.code(), Some(0), "{swaks}");
    let message = &external::alices_message(&server, &swaks).await;
    // swaks sends the lines dot-stuffed ("..hidden", "...leading dot"); the server undoes it.
    let data = message.data_str();
    assert!(
        data.contains("\r\nfirst line\r\n.hidden\r\n..leading dot\r\nlast line\r\n"),
        "{data}"
    );
    assert!(
        !data.contains("..hidden") && !data.contains("...leading dot"),
        "{data}"
    );
    let record = only_session(&server).await;
    assert!(
        record.passed(),
        "{:?}\n{}",
        record.failures,
        record.transcript
    );
}

#[tokio::test]
async fn success_scenario_with_a_wrong_password_swaks_fails_at_auth_with_the_535_text() {
    // Arrange: the scenario expects a 235 and a message, which this client cannot produce.
    let server = lenient_server(shipped("outbound/starttls-plain.scn")).await;
    let mut args = swaks_args(&server);
    args.extend(starttls_verified());
    args = with(
        args,
        &[
            "--auth-user",
            "alice",
            "--auth-password",
            "not-the-password",
        ],
    );

    // Act
    let swaks = run_client("swaks", &args).await;

    // Assert: every mechanism swaks tries is refused; it gives up before MAIL.
    assert_eq!(swaks.code(), Some(SWAKS_AUTH_FAILED), "{swaks}");
    assert!(
        swaks
            .output()
            .contains("<~* 535 5.7.8 Error: authentication failed: bad user name or password"),
        "{swaks}"
    );
    let record = only_session(&server).await;
    let log = record.transcript.to_string();
    assert!(
        log.contains(
            r#"-> "535 5.7.8 Error: authentication failed: bad user name or password\r\n""#
        ),
        "{log}"
    );
    assert!(!log.contains("-> \"235"), "no AUTH may succeed:\n{log}");
    assert!(!log.contains("<- \"MAIL"), "{log}");
    assert!(server.messages().is_empty(), "{:#?}", server.messages());
    // The scenario's `expect 235` and `expect messages 1` are reported as broken.
    let failures: Vec<String> = record.failures.iter().map(ToString::to_string).collect();
    assert!(failures.iter().any(|f| f.contains("235")), "{failures:#?}");
    assert!(
        failures.iter().any(|f| f.contains("messages 1")),
        "{failures:#?}"
    );
}

#[tokio::test]
async fn implicit_tls_swaks_tls_on_connect_authenticates_with_plain_and_delivers() {
    // Arrange
    let server = server(shipped("outbound/implicit-tls.scn")).await;
    let args = with(
        swaks_args(&server),
        &[
            "--tls-on-connect",
            "--tls-verify",
            "--tls-ca-path",
            CA_PEM,
            "--auth",
            "PLAIN",
            "--auth-user",
            "alice",
            "--auth-password",
            "s3cret",
        ],
    );

    // Act
    let swaks = run_client("swaks", &args).await;

    // Assert
    assert_eq!(swaks.code(), Some(0), "{swaks}");
    external::alices_message(&server, &swaks).await;
    let record = only_session(&server).await;
    let log = record.transcript.to_string();
    // TLS comes before the greeting, and no STARTTLS is needed.
    assert_in_order(
        &log,
        &[
            "TLS connection started",
            r#"-> "220 smtps.harness.test"#,
            r#"<- "AUTH PLAIN [redacted]\r\n""#,
            r#"-> "235 "#,
        ],
        &swaks,
    );
    assert!(!log.contains("STARTTLS"), "{log}");
    assert!(record.passed(), "{:?}\n{log}", record.failures);
}

#[tokio::test]
async fn self_signed_certificate_swaks_verifying_against_the_test_ca_fails_the_tls_step() {
    // Arrange
    let server = server(inline("name Self-signed\ncertificate self-signed\n")).await;
    let mut args = swaks_args(&server);
    args.extend(starttls_verified());

    // Act
    let swaks = run_client("swaks", &args).await;

    // Assert: swaks refuses the certificate and stops at the TLS step.
    assert_eq!(swaks.code(), Some(SWAKS_TLS_FAILED), "{swaks}");
    let output = swaks.output();
    assert!(output.contains("certificate verify failed"), "{swaks}");
    assert!(!output.contains("=== TLS started"), "{swaks}");
    assert!(!output.contains("MAIL FROM"), "{swaks}");
    let record = only_session(&server).await;
    let log = record.transcript.to_string();
    assert_in_order(
        &log,
        &[r#"<- "STARTTLS\r\n""#, "TLS handshake failed:"],
        &swaks,
    );
    assert!(!log.contains("TLS connection started"), "{log}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn pipelining_swaks_sends_mail_rcpt_and_data_together_and_the_server_answers_in_order() {
    // Arrange: the defaults only (no TLS), which advertise PIPELINING.
    let server = server(inline("name Defaults\n")).await;
    let args = with(
        swaks_args(&server),
        &["--pipeline", "--body", "pipelined body"],
    );

    // Act
    let swaks = run_client("swaks", &args).await;

    // Assert: swaks really pipelined (three commands before any reply)...
    assert_eq!(swaks.code(), Some(0), "{swaks}");
    let output = swaks.output();
    assert!(
        output.contains(" -> MAIL FROM:<a@example.com>\n -> RCPT TO:<b@example.com>\n -> DATA\n"),
        "{swaks}"
    );
    // ...and the server answered each command, in order.
    let record = only_session(&server).await;
    let log = record.transcript.to_string();
    let lines: Vec<&str> = log.lines().collect();
    let mail = lines
        .iter()
        .position(|l| l.starts_with(r#"<- "MAIL FROM:"#))
        .unwrap_or_else(|| panic!("no MAIL in\n{log}"));
    assert_eq!(
        lines.get(mail..mail + 6).unwrap_or_default(),
        [
            r#"<- "MAIL FROM:<a@example.com>\r\n""#,
            r#"-> "250 2.1.0 Ok\r\n""#,
            r#"<- "RCPT TO:<b@example.com>\r\n""#,
            r#"-> "250 2.1.5 Ok\r\n""#,
            r#"<- "DATA\r\n""#,
            r#"-> "354 End data with <CR><LF>.<CR><LF>\r\n""#,
        ],
        "{log}"
    );
    let messages = server
        .wait_for_messages(1, SERVER_WAIT)
        .await
        .expect("one message");
    assert_eq!(messages[0].rcpt_to, ["b@example.com"]);
    assert!(
        messages[0]
            .data_str()
            .contains("\r\n\r\npipelined body\r\n"),
        "{}",
        messages[0].data_str()
    );
    assert!(record.passed(), "{:?}", record.failures);
}
