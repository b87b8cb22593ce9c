//! Helpers for the tests that drive real SMTP clients (swaks, curl) against the fake server:
//! loading scenarios, running a client process with a timeout, temporary files, and
//! assertions over transcripts.
//!
//! Included by `harness/tests/swaks.rs` and `harness/tests/curl.rs` with
//! `#[path = "common/external.rs"] mod external;`.

// Each test target uses a different subset of these helpers.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use smtp_harness::{ConversationRecord, FakeSmtpServer, ReceivedMessage, ServerScenario};

/// How long a client process may run before it is killed and the test fails.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// How long to wait for the server to record a connection or a message.
pub const SERVER_WAIT: Duration = Duration::from_secs(10);

/// The test CA that signed the `valid` server certificate.
pub const CA_PEM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../certs/ca.pem");

/// A shipped scenario, by its path under `scenarios/` (e.g. `outbound/implicit-tls.scn`).
pub fn shipped(relative: &str) -> ServerScenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(relative);
    ServerScenario::from_file(&path)
        .unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()))
}

/// A scenario written in the test itself.
pub fn inline(text: &str) -> ServerScenario {
    ServerScenario::parse(text, "<inline>")
        .unwrap_or_else(|e| panic!("bad inline scenario: {e}\n{text}"))
}

/// Starts a server for `scenario` that panics on drop if the client broke expectations.
pub async fn server(scenario: ServerScenario) -> FakeSmtpServer {
    FakeSmtpServer::start(scenario)
        .await
        .expect("the fake server starts")
}

/// Starts a server for a test that expects the client to break the scenario's expectations.
pub async fn lenient_server(scenario: ServerScenario) -> FakeSmtpServer {
    FakeSmtpServer::builder(scenario)
        .verify_on_drop(false)
        .start()
        .await
        .expect("the fake server starts")
}

/// Waits for the one connection the client made and returns its record.
pub async fn only_session(server: &FakeSmtpServer) -> ConversationRecord {
    let mut records = server
        .wait_for_sessions(1, SERVER_WAIT)
        .await
        .unwrap_or_else(|e| panic!("the client's connection was not recorded: {e}"));
    assert_eq!(
        records.len(),
        1,
        "expected exactly one connection, got {records:#?}"
    );
    records.remove(0)
}

/// What a client process did.
#[derive(Debug)]
pub struct ClientRun {
    /// The program that ran (`swaks`, `curl`).
    pub program: String,
    /// How it exited.
    pub status: ExitStatus,
    /// Its standard output, lossily decoded.
    pub stdout: String,
    /// Its standard error, lossily decoded.
    pub stderr: String,
}

impl ClientRun {
    /// The exit code (`None` if a signal ended it).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Standard output followed by standard error.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for ClientRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} exited with {}\n--- stdout\n{}\n--- stderr\n{}",
            self.program, self.status, self.stdout, self.stderr
        )
    }
}

/// Runs an installed client with stdin closed, capturing its output, and kills it if it is
/// still running after [`CLIENT_TIMEOUT`].
///
/// Panics if the program is not installed: the tests need it, and `scripts/setup` installs it.
pub async fn run_client<S: AsRef<OsStr>>(program: &str, args: &[S]) -> ClientRun {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = match command.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`{program}` is not installed (not found on PATH): run scripts/setup, which installs \
             the SMTP clients these tests drive"
        ),
        Err(e) => panic!("cannot start `{program}`: {e}"),
    };
    // On timeout the future, and with it the child, is dropped: kill_on_drop ends the process.
    let output = tokio::time::timeout(CLIENT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!("`{program}` did not finish within {CLIENT_TIMEOUT:?}; killed it")
        })
        .unwrap_or_else(|e| panic!("cannot collect the output of `{program}`: {e}"));
    ClientRun {
        program: program.to_owned(),
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A file in Cargo's per-target temporary directory, removed on drop.
pub struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// Writes `contents` to a new file whose name starts with `label` and is unique to this
    /// process and call, so tests running in parallel do not share it.
    pub fn new(label: &str, contents: &[u8]) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{label}-{}-{n}.eml", std::process::id()));
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        TempFile { path }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Asserts that `text` contains each of `needles`, in this order (each after the previous one),
/// and returns where each was found. `context` is printed when the assertion fails.
pub fn assert_in_order(text: &str, needles: &[&str], context: &dyn fmt::Display) -> Vec<usize> {
    let mut from = 0;
    let mut found = Vec::with_capacity(needles.len());
    for needle in needles {
        match text[from..].find(needle) {
            Some(at) => {
                found.push(from + at);
                from += at + needle.len();
            }
            None => panic!(
                "expected {needle:?} after offset {from} (needles in order: {needles:#?})\n\
                 in:\n{text}\n{context}"
            ),
        }
    }
    found
}

/// The base64 form a client sends for a SASL string (what must not leak into transcripts).
pub fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Asserts what the server recorded when a client met the reference scenario: STARTTLS, the
/// handshake, AUTH LOGIN with its two answers redacted (but really sent), both 535 lines, no
/// MAIL, and the scenario's expectations met. `context` is shown on failure.
pub fn assert_reference_535_transcript(
    record: &smtp_harness::ConversationRecord,
    user: &str,
    password: &str,
    context: &dyn fmt::Display,
) {
    let log = record.transcript.to_string();
    assert_in_order(
        &log,
        &[
            r#"<- "STARTTLS\r\n""#,
            "TLS connection started",
            r#"<- "AUTH LOGIN\r\n""#,
            r#"<- "[redacted]\r\n""#,
            r#"<- "[redacted]\r\n""#,
            r#"-> "535-5.7.1 Username and Password not accepted. Learn more at\r\n""#,
            r#"-> "535 5.7.1 nt3sm2942435pbc.14\r\n""#,
        ],
        context,
    );
    assert_eq!(log.matches(r#"<- "[redacted]\r\n""#).count(), 2, "{log}");
    let (user, password) = (b64(user), b64(password));
    assert!(
        !log.contains(&user) && !log.contains(&password),
        "credentials leaked:\n{log}"
    );
    // They were really sent: only the redaction hides them.
    let secret_log = record.transcript.to_log(smtp_harness::Render {
        show_secrets: true,
        ..Default::default()
    });
    assert!(
        secret_log.contains(&format!("<- \"{user}\\r\\n\"")),
        "{secret_log}"
    );
    assert!(
        secret_log.contains(&format!("<- \"{password}\\r\\n\"")),
        "{secret_log}"
    );
    assert!(!log.contains("<- \"MAIL"), "{log}");
    assert!(
        record.passed(),
        "expectations broken: {:?}\n{log}",
        record.failures
    );
}

/// Waits for the one message a client delivered in the success scenarios and checks its
/// envelope: from a@example.com to b@example.com, inside TLS, authenticated as alice.
/// `client` (its output) is shown on failure.
pub async fn alices_message(server: &FakeSmtpServer, client: &dyn fmt::Display) -> ReceivedMessage {
    let messages = server
        .wait_for_messages(1, SERVER_WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{client}"));
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let message = messages.into_iter().next().expect("one message");
    assert_eq!(message.mail_from, "a@example.com");
    assert_eq!(message.rcpt_to, ["b@example.com"]);
    assert!(message.tls, "the message must arrive inside TLS");
    assert_eq!(message.authenticated_as.as_deref(), Some("alice"));
    message
}
