//! curl (libcurl, OpenSSL) against the fake server: the reference 535 through STARTTLS, a
//! successful upload with a dot-stuffed line, implicit TLS (`smtps://`) and certificate
//! verification.
//!
//! curl must be installed (`scripts/setup`); the tests fail, not skip, when it is missing.

#[path = "common/external.rs"]
mod external;

use external::{
    CA_PEM, TempFile, assert_in_order, inline, only_session, run_client, server, shipped,
};
use smtp_harness::FakeSmtpServer;

/// curl's exit code for CURLE_LOGIN_DENIED.
const CURL_LOGIN_DENIED: i32 = 67;
/// curl's exit code for CURLE_PEER_FAILED_VERIFICATION.
const CURL_PEER_FAILED_VERIFICATION: i32 = 60;

/// A message with a line starting with a dot (which curl must stuff and the server unstuff).
const MESSAGE: &[u8] = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: curl test\r\n\r\n\
first line\r\n.hidden\r\n..leading dot\r\nlast line\r\n";

/// The URL for `scheme` on the server's port, connecting to `host`. The path is the EHLO name.
fn url(scheme: &str, host: &str, server: &FakeSmtpServer) -> String {
    format!("{scheme}://{host}:{}/client.example", server.port())
}

/// Verbose curl uploading `file` from a@example.com to b@example.com, trusting only the test CA
/// and requiring TLS, with the `extra` options (credentials, `--resolve`).
fn curl_args(url: &str, file: &TempFile, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--silent",
        "--show-error",
        "--verbose",
        url,
        "--ssl-reqd",
        "--cacert",
        CA_PEM,
        "--mail-from",
        "a@example.com",
        "--mail-rcpt",
        "b@example.com",
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args.push("--upload-file".into());
    args.push(file.path().display().to_string());
    args
}

#[tokio::test]
async fn reference_scenario_curl_sees_the_two_line_535_after_starttls_and_exits_with_login_denied()
{
    // Arrange
    let server = server(shipped("reference/auth-login-535.scn")).await;
    let file = TempFile::new("curl-reference", MESSAGE);
    let args = curl_args(
        &url("smtp", "127.0.0.1", &server),
        &file,
        &[
            "--user",
            "me@example.com:secret",
            "--login-options",
            "AUTH=LOGIN",
        ],
    );

    // Act
    let curl = run_client("curl", &args).await;

    // Assert: login denied, with both 535 lines in the verbose output, after a verified TLS start.
    assert_eq!(curl.code(), Some(CURL_LOGIN_DENIED), "{curl}");
    assert_in_order(
        &curl.stderr,
        &[
            "> STARTTLS",
            "SSL certificate verify ok.",
            "> AUTH LOGIN",
            "< 535-5.7.1 Username and Password not accepted. Learn more at",
            "< 535 5.7.1 nt3sm2942435pbc.14",
            "curl: (67)",
        ],
        &curl,
    );

    // Assert: the server saw STARTTLS, the handshake, AUTH LOGIN and the two (redacted) answers.
    let record = only_session(&server).await;
    external::assert_reference_535_transcript(&record, "me@example.com", "secret", &curl);
}

#[tokio::test]
async fn success_scenario_curl_uploads_the_file_through_starttls_and_auth_byte_for_byte() {
    // Arrange: connect by name, so curl checks the certificate's `localhost` name.
    let server = server(shipped("outbound/starttls-plain.scn")).await;
    let file = TempFile::new("curl-success", MESSAGE);
    let resolve = format!("localhost:{}:127.0.0.1", server.port());
    let args = curl_args(
        &url("smtp", "localhost", &server),
        &file,
        &["--resolve", &resolve, "--user", "alice:s3cret"],
    );

    // Act
    let curl = run_client("curl", &args).await;

    // Assert
    assert_eq!(curl.code(), Some(0), "{curl}");
    let message = &external::alices_message(&server, &curl).await;
    assert_eq!(message.helo.as_deref(), Some("client.example"));
    // curl stuffs ".hidden" to "..hidden" on the wire; the server must give back the file as is.
    assert_eq!(
        message.data_str(),
        String::from_utf8_lossy(MESSAGE),
        "the captured content differs from the uploaded file"
    );
    let record = only_session(&server).await;
    let log = record.transcript.to_string();
    assert_in_order(
        &log,
        &[
            r#"<- "STARTTLS\r\n""#,
            "TLS connection started",
            r#"-> "235 "#,
            r#"<- "DATA\r\n""#,
        ],
        &curl,
    );
    assert!(record.passed(), "{:?}\n{log}", record.failures);
}

#[tokio::test]
async fn implicit_tls_curl_smtps_authenticates_with_plain_and_delivers() {
    // Arrange
    let server = server(shipped("outbound/implicit-tls.scn")).await;
    let file = TempFile::new("curl-smtps", MESSAGE);
    let resolve = format!("localhost:{}:127.0.0.1", server.port());
    let args = curl_args(
        &url("smtps", "localhost", &server),
        &file,
        &[
            "--resolve",
            &resolve,
            "--user",
            "alice:s3cret",
            "--login-options",
            "AUTH=PLAIN",
        ],
    );

    // Act
    let curl = run_client("curl", &args).await;

    // Assert
    assert_eq!(curl.code(), Some(0), "{curl}");
    let message = external::alices_message(&server, &curl).await;
    assert_eq!(message.data_str(), String::from_utf8_lossy(MESSAGE));
    let record = only_session(&server).await;
    let log = record.transcript.to_string();
    // TLS comes before the greeting, and no STARTTLS is needed.
    assert_in_order(
        &log,
        &[
            "TLS connection started",
            r#"-> "220 smtps.harness.test"#,
            r#"<- "AUTH PLAIN"#,
            r#"-> "235 "#,
        ],
        &curl,
    );
    assert!(!log.contains("STARTTLS"), "{log}");
    assert!(record.passed(), "{:?}\n{log}", record.failures);
}

#[tokio::test]
async fn self_signed_certificate_curl_refuses_the_peer_and_exits_60() {
    // Arrange
    let server = server(inline("name Self-signed\ncertificate self-signed\n")).await;
    let file = TempFile::new("curl-self-signed", MESSAGE);
    let args = curl_args(&url("smtp", "127.0.0.1", &server), &file, &[]);

    // Act
    let curl = run_client("curl", &args).await;

    // Assert: curl stops at the handshake and sends nothing more.
    assert_eq!(curl.code(), Some(CURL_PEER_FAILED_VERIFICATION), "{curl}");
    assert!(curl.stderr.contains("curl: (60)"), "{curl}");
    assert!(!curl.stderr.contains("> MAIL FROM"), "{curl}");
    let record = only_session(&server).await;
    let log = record.transcript.to_string();
    assert_in_order(
        &log,
        &[r#"<- "STARTTLS\r\n""#, "TLS handshake failed:"],
        &curl,
    );
    assert!(!log.contains("TLS connection started"), "{log}");
    assert!(server.messages().is_empty());
}

/// A certificate for another host: with TLS 1.3 the server's side of the handshake completes,
/// then curl checks the host name and leaves without a command. The transcript tells that
/// apart from a client that used TLS (issue 9): `TLS refused by the client after the handshake`.
#[tokio::test]
async fn wrong_host_certificate_curl_finishes_the_handshake_then_refuses_and_the_transcript_says_so()
 {
    // Arrange
    let server = server(inline("name Wrong host\ncertificate wrong-host\n")).await;
    let file = TempFile::new("curl-wrong-host", MESSAGE);
    let args = curl_args(&url("smtp", "localhost", &server), &file, &[]);

    // Act
    let curl = run_client("curl", &args).await;

    // Assert
    assert_eq!(curl.code(), Some(CURL_PEER_FAILED_VERIFICATION), "{curl}");
    let record = only_session(&server).await;
    let log = record.transcript.to_string();
    assert_in_order(
        &log,
        &[
            r#"<- "STARTTLS\r\n""#,
            "TLS connection started: TLSv1.3 ",
            "TLS refused by the client after the handshake",
            "Connection closed by client",
        ],
        &curl,
    );
    assert!(server.messages().is_empty());
}
