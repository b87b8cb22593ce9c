//! `smtp-harness import`: a customer's evidence made into a scenario that replays the server's
//! side. The reference log (harness/tests/fixtures/import/unicorn.log, the published text, see
//! docs/email-subsystem.md) and a swaks transcript of the same failure are imported,
//! then replayed against lettre and swaks (and, in `appliance/tests/replay_imported.rs`, the
//! appliance), which must all fail as the customer's client did: at AUTH, with the two-line 535.
//! Every other format's fixture imports into a scenario that loads; bad input gets an error
//! naming its line and no scenario.
//!
//! Over 500 lines on purpose: one file is one test binary that links the whole crate, so a
//! capability's tests stay together with the helpers they share instead of being split into
//! binaries that each pay the link.

mod common;
#[path = "common/external.rs"]
mod external;
#[path = "common/lettre_sender.rs"]
mod lettre_sender;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use lettre::transport::smtp::authentication::Mechanism;
use smtp_harness::import::{Format, ImportError, Imported, import_bytes, import_file};
use smtp_harness::run::{Job, JobResult, RunContext, Verdict, run_job};
use smtp_harness::scenario::SenderKind;
use smtp_harness::{AnyScenario, FakeSmtpServer, ServerScenario};

const BIN: &str = env!("CARGO_BIN_EXE_smtp-harness");

/// The published credentials (base64 and decoded): they must never reach a scenario.
const CREDENTIALS: [&str; 6] = [
    "dGhpc2lzbXlAYWRkcmVzcy5jb20=",
    "aXRyZWFsbHl3YXM=",
    "thisismy@address.com",
    "itreallywas",
    "AHRoaXNpc215QGFkZHJlc3MuY29tAGl0cmVhbGx5d2Fz",
    "dGhpc2lzbXlAYWRkcmVzcy5jb20AdGhpc2lzbXlAYWRkcmVzcy5jb20AaXRyZWFsbHl3YXM=",
];

const REPLY_535: [&str; 2] = [
    "535-5.7.1 Username and Password not accepted. Learn more at",
    "535 5.7.1 nt3sm2942435pbc.14",
];

fn fixture(name: &str) -> PathBuf {
    common::repo(&format!("harness/tests/fixtures/import/{name}"))
}

fn import(name: &str) -> Imported {
    import_file(&fixture(name), None).unwrap_or_else(|e| panic!("{name} does not import: {e}"))
}

fn s_lines(scenario: &str) -> Vec<&str> {
    scenario
        .lines()
        .filter_map(|l| l.strip_prefix("S: "))
        .collect()
}

fn assert_no_credentials(scenario: &str) {
    for secret in CREDENTIALS {
        assert!(
            !scenario.contains(secret),
            "the scenario carries the credential {secret}:\n{scenario}"
        );
    }
}

/// The server answered the client's AUTH LOGIN (and no MAIL before it) with the two-line 535.
/// The two-line 535, after a clear AUTH LOGIN and before any MAIL.
fn assert_535_after_auth(transcript: &smtp_harness::Transcript) {
    assert_two_line_535(transcript);
    let log = transcript.to_string();
    let before_535 = &log[..log.find("535-5.7.1").expect("535 in the log")];
    assert!(before_535.contains(r#"<- "AUTH LOGIN\r\n""#), "{log}");
    assert!(!before_535.contains(r#"<- "MAIL"#), "{log}");
}

#[test]
fn reference_log_imports_with_every_server_line_as_published_and_no_credential() {
    // Act
    let imported = import("unicorn.log");
    let text = &imported.scenario;

    // Assert: the format, the name, TLS.
    assert_eq!(imported.format, Format::Log);
    assert!(
        text.contains("\nname Imported from unicorn.log\n"),
        "{text}"
    );
    assert!(text.contains("\ncertificate valid\n"), "{text}");
    ServerScenario::parse(text, "<imported>").unwrap_or_else(|e| panic!("{e}\n{text}"));

    // Assert: the S: lines byte for byte; the two cut EHLO lines repaired (with a comment), and
    // AUTH LOGIN added to the list after TLS (the client used it unoffered).
    let repaired = "250-smtp.example at your service, [127.0.0.1]";
    assert_eq!(
        s_lines(text),
        [
            "220 ESMTP nt3sm2942435pbc.14",
            repaired,
            "250-SIZE 35882577",
            "250-8BITMIME",
            "250-STARTTLS",
            "250 PIPELINING",
            "220 2.0.0 Ready to start TLS",
            repaired,
            "250-SIZE 35882577",
            "250-8BITMIME",
            "250-AUTH LOGIN",
            "250 PIPELINING",
            "334 VXNlcm5hbWU6",
            "334 UGFzc3dvcmQ6",
            REPLY_535[0],
            REPLY_535[1],
        ]
    );
    assert_eq!(
        text.matches("is no reply line (it was cut): repaired")
            .count(),
        2
    );
    assert!(
        text.contains("# added: the client sent AUTH LOGIN"),
        "{text}"
    );

    // Assert: the client side as globs, the two credential lines `C: *`, TLS after the 220.
    let script: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("C: ") || *l == "tls")
        .collect();
    assert_eq!(
        script,
        [
            "C: EHLO*",
            "C: STARTTLS",
            "tls",
            "C: EHLO*",
            "C: AUTH LOGIN*",
            "C: *",
            "C: *"
        ]
    );
    assert!(text.contains("\nexpect STARTTLS before AUTH\n"), "{text}");
    assert_no_credentials(text);
}

#[tokio::test]
async fn reference_log_replayed_to_lettre_fails_at_auth_with_the_two_line_535() {
    replayed_to_lettre_fails_at_auth_with_the_two_line_535("unicorn.log").await;
}

#[tokio::test]
async fn swaks_output_replayed_to_lettre_fails_at_auth_with_the_two_line_535() {
    replayed_to_lettre_fails_at_auth_with_the_two_line_535("swaks-auth-535.txt").await;
}

/// Imports the fixture and replays it to lettre (STARTTLS, AUTH LOGIN), which must fail as the
/// customer's client did.
async fn replayed_to_lettre_fails_at_auth_with_the_two_line_535(fixture: &str) {
    // Arrange
    let scenario = ServerScenario::parse(&import(fixture).scenario, "<imported>").expect("loads");
    let server = FakeSmtpServer::start(scenario)
        .await
        .expect("server starts");
    let lettre = lettre_sender::transport(
        server.port(),
        lettre_sender::Mode::StartTlsRequired,
        Some(("thisismy@address.com", "itreallywas", Mechanism::Login)),
    );

    // Act
    let error = lettre_sender::send(
        &lettre,
        lettre_sender::message(&["admin@example.com"], "hi"),
    )
    .await
    .expect_err("the 535 fails the send");

    // Assert: lettre saw the 535 and its text; the server sent both lines after AUTH, in TLS.
    assert_eq!(
        error.status().map(|c| c.to_string()).as_deref(),
        Some("535")
    );
    let shown = error.to_string();
    assert!(
        shown.contains("5.7.1 Username and Password not accepted. Learn more at")
            && shown.contains("nt3sm2942435pbc.14"),
        "{shown}"
    );
    let records = server
        .wait_for_sessions(1, common::WAIT)
        .await
        .expect("a session");
    assert_535_after_auth(&records[0].transcript);
    assert!(
        records[0]
            .transcript
            .to_string()
            .contains("TLS connection started")
    );
    server
        .verify()
        .expect("STARTTLS before AUTH, as the customer's client did");
}

/// Drives `sender` through the imported `fixture` as `smtp-harness run` does; the run must
/// pass, ending (as the customer's client did) with `failure at AUTH 535`.
async fn run_to_the_535(fixture: &str, scenario: ServerScenario, sender: SenderKind) -> JobResult {
    let job = Job {
        name: format!("{fixture} (imported)"),
        scenario: Arc::new(AnyScenario::Server(scenario)),
        sender,
    };
    let result = run_job(&job, &RunContext::default()).await;
    assert_eq!(
        result.verdict,
        Verdict::Pass,
        "{}\n{}",
        result.line(),
        result.details
    );
    assert!(
        result.observed.contains("failure at AUTH 535"),
        "{}",
        result.observed
    );
    result
}

#[test]
fn a_support_bundle_carrying_the_reference_log_imports_as_the_log_does() {
    // Arrange: a .tar.gz with the log where support bundles keep it, among other files.
    let log = std::fs::read(fixture("unicorn.log")).expect("fixture");
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, data) in [
        ("bundle/metadata.json", b"{}".as_slice()),
        ("bundle/enterprise-manage-logs/unicorn.log", log.as_slice()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, data).expect("append");
    }
    let bundle = tar.into_inner().expect("tar").finish().expect("gzip");

    // Act
    let from_bundle = import_bytes(
        &bundle,
        "support-bundle.tar.gz",
        "support-bundle.tar.gz",
        None,
    )
    .expect("the bundle imports");
    let from_log = import("unicorn.log");

    // Assert: the same scenario, apart from the comments naming the source and the name.
    let body = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("name "))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(from_bundle.format, Format::Bundle);
    assert_eq!(body(&from_bundle.scenario), body(&from_log.scenario));
    assert!(
        from_bundle
            .scenario
            .contains("support-bundle.tar.gz!bundle/enterprise-manage-logs/unicorn.log")
    );
}

#[test]
fn a_support_bundle_without_the_log_is_an_error() {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(2);
    header.set_cksum();
    tar.append_data(&mut header, "bundle/metadata.json", b"{}".as_slice())
        .expect("append");
    let bundle = tar.into_inner().expect("tar").finish().expect("gzip");

    let error = import_bytes(&bundle, "b.tar.gz", "b.tar.gz", None).expect_err("no log");

    assert!(
        error
            .to_string()
            .contains("enterprise-manage-logs/unicorn.log"),
        "{error}"
    );
}

#[test]
fn swaks_output_imports_with_tls_and_the_535_and_no_credential() {
    let imported = import("swaks-auth-535.txt");
    let text = &imported.scenario;

    assert_eq!(imported.format, Format::Swaks);
    assert!(
        text.contains("\nC: STARTTLS\nS: 220 2.0.0 Ready to start TLS\ntls\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("S: {}\nS: {}\n", REPLY_535[0], REPLY_535[1])),
        "{text}"
    );
    assert!(
        text.contains("C: AUTH LOGIN*\nS: 334 VXNlcm5hbWU6\nC: *\nS: 334 UGFzc3dvcmQ6\nC: *\n")
    );
    assert!(text.contains("\nexpect QUIT after 535\n"), "{text}");
    assert_no_credentials(text);
}

#[tokio::test]
async fn swaks_output_replayed_to_swaks_fails_at_auth_with_the_535() {
    // Arrange
    let scenario =
        ServerScenario::parse(&import("swaks-auth-535.txt").scenario, "<imported>").expect("loads");
    let server = external::server(scenario).await;
    let args: Vec<String> = [
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
        "--tls",
        "--tls-verify",
        "--tls-ca-path",
        external::CA_PEM,
        "--auth",
        "LOGIN",
        "--auth-user",
        "thisismy@address.com",
        "--auth-password",
        "itreallywas",
    ]
    .map(str::to_owned)
    .to_vec();

    // Act
    let swaks = external::run_client("swaks", &args).await;

    // Assert: swaks' "error in AUTH transaction", with both 535 lines inside TLS.
    assert_eq!(swaks.code(), Some(28), "{swaks}");
    let output = swaks.output();
    let (_, after_tls) = output
        .split_once("=== TLS started")
        .unwrap_or_else(|| panic!("swaks never started TLS\n{swaks}"));
    external::assert_in_order(
        after_tls,
        &[
            &format!("<~* {}\n", REPLY_535[0]),
            &format!("<~* {}\n", REPLY_535[1]),
        ],
        &swaks,
    );
    let record = external::only_session(&server).await;
    assert_535_after_auth(&record.transcript);
}

#[test]
fn every_other_format_imports_into_a_scenario_that_loads_with_the_535_and_no_credential() {
    for (name, format) in [
        ("transcript.txt", Format::Transcript),
        ("smtplib.txt", Format::Smtplib),
        ("curl-v.txt", Format::Curl),
        ("phpmailer.txt", Format::Phpmailer),
        ("msmtp-debug.txt", Format::Msmtp),
    ] {
        let imported = import(name);
        let text = &imported.scenario;
        assert_eq!(imported.format, format, "{name}");
        let scenario =
            ServerScenario::parse(text, name).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
        assert!(scenario.uses_tls(), "{name}: TLS was started\n{text}");
        assert!(
            text.contains(&format!("S: {}\nS: {}\n", REPLY_535[0], REPLY_535[1])),
            "{name}\n{text}"
        );
        assert!(text.contains("\ntls\nC: EHLO*\n"), "{name}\n{text}");
        assert!(
            text.contains("\nexpect STARTTLS before AUTH\n"),
            "{name}\n{text}"
        );
        assert_no_credentials(text);
    }
}

#[test]
fn a_format_named_explicitly_is_used() {
    let imported = import_file(&fixture("transcript.txt"), Some(Format::Transcript)).expect("ok");
    assert_eq!(imported.format, Format::Transcript);
    let error =
        import_file(&fixture("transcript.txt"), Some(Format::Swaks)).expect_err("not swaks");
    assert!(
        matches!(error, ImportError::Line { line: 3, .. }),
        "{error}"
    );
}

fn temp_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn a_line_in_no_known_format_is_an_error_naming_the_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = std::fs::read_to_string(fixture("unicorn.log")).expect("fixture");
    let mut lines: Vec<&str> = log.lines().collect();
    lines.insert(5, "2024-03-01 something else entirely");
    let path = temp_file(&dir, "broken.log", &lines.join("\n"));

    let error = import_file(&path, None).expect_err("line 6 is unreadable");

    let shown = error.to_string();
    assert!(
        shown.starts_with(&format!("{}:6: ", path.display())),
        "{shown}"
    );
    assert!(shown.contains("something else entirely"), "{shown}");
}

#[test]
fn an_empty_file_or_one_without_a_conversation_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = temp_file(&dir, "empty.log", "");
    let blank = temp_file(&dir, "blank.log", "\n\n");
    let opened = temp_file(&dir, "opened.log", "Connection opened:\n");
    let prose = temp_file(&dir, "prose.txt", "\nDear support, it does not work.\n");

    for path in [&empty, &blank, &opened] {
        let error = import_file(path, None).expect_err("nothing to import");
        assert!(matches!(error, ImportError::Input { .. }), "{error}");
        assert!(
            error.to_string().starts_with(&path.display().to_string()),
            "{error}"
        );
    }
    let error = import_file(&prose, None).expect_err("no known format");
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}:2: ", prose.display())),
        "{error}"
    );
}

fn cli(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(BIN)
        .arg("import")
        .args(args)
        .output()
        .expect("runs")
}

#[test]
fn cli_import_prints_the_scenario_or_writes_it_and_check_accepts_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = fixture("unicorn.log");
    let out = dir.path().join("imported.scn");

    // Act: print, then write.
    let printed = cli(&[log.as_os_str()]);
    let written = cli(&[log.as_os_str(), "-o".as_ref(), out.as_os_str()]);

    // Assert
    assert_eq!(printed.status.code(), Some(0), "{printed:?}");
    assert_eq!(written.status.code(), Some(0), "{written:?}");
    let stdout = String::from_utf8(printed.stdout).expect("utf-8");
    let file = std::fs::read_to_string(&out).expect("written");
    assert_eq!(stdout, file);
    assert!(file.contains("C: AUTH LOGIN*"), "{file}");
    let check = Command::new(BIN)
        .arg("check")
        .arg(&out)
        .output()
        .expect("runs");
    assert_eq!(check.status.code(), Some(0), "{check:?}");
}

#[test]
fn cli_import_of_unreadable_input_exits_2_naming_the_line_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = temp_file(
        &dir,
        "bad.log",
        "Connection opened:\n-> \"220 hi\\r\\n\"\nnonsense\n",
    );
    let out = dir.path().join("never.scn");

    let run = cli(&[bad.as_os_str(), "-o".as_ref(), out.as_os_str()]);
    let named = cli(&[
        fixture("transcript.txt").as_os_str(),
        "--format".as_ref(),
        "swaks".as_ref(),
    ]);

    assert_eq!(run.status.code(), Some(2), "{run:?}");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains(&format!("{}:3:", bad.display())),
        "{stderr}"
    );
    assert!(!out.exists(), "no half-made scenario");
    assert_eq!(named.status.code(), Some(2), "{named:?}");
    assert!(Path::new(&fixture("transcript.txt")).exists());
}

#[tokio::test]
async fn curl_output_replayed_to_curl_fails_at_auth_with_the_535() {
    // Arrange
    let scenario =
        ServerScenario::parse(&import("curl-v.txt").scenario, "<imported>").expect("loads");
    let server = external::server(scenario).await;
    let file = external::TempFile::new(
        "import-curl",
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: t\r\n\r\nhello\r\n",
    );
    let args: Vec<String> = [
        "--silent",
        "--show-error",
        "--verbose",
        &format!("smtp://127.0.0.1:{}/client.example", server.port()),
        "--ssl-reqd",
        "--cacert",
        external::CA_PEM,
        "--mail-from",
        "a@example.com",
        "--mail-rcpt",
        "b@example.com",
        "--user",
        "thisismy@address.com:itreallywas",
        "--login-options",
        "AUTH=PLAIN",
        "--upload-file",
        &file.path().display().to_string(),
    ]
    .map(str::to_owned)
    .to_vec();

    // Act
    let curl = external::run_client("curl", &args).await;

    // Assert: curl's "login denied", after both 535 lines.
    assert_eq!(curl.code(), Some(67), "{curl}");
    external::assert_in_order(
        &curl.stderr,
        &[
            "> STARTTLS",
            "> AUTH PLAIN",
            &format!("< {}", REPLY_535[0]),
            &format!("< {}", REPLY_535[1]),
        ],
        &curl,
    );
    let record = external::only_session(&server).await;
    let lines = record.transcript.server_lines();
    let at = lines
        .iter()
        .position(|l| l == REPLY_535[0])
        .expect("the 535");
    assert_eq!(lines[at..at + 2], REPLY_535);
}

#[tokio::test]
async fn smtplib_output_replayed_to_python_smtplib_fails_at_auth_with_the_535() {
    // Arrange: the imported scenario driven by scripts/senders/smtplib-send.py, as `run` does.
    let script = common::repo("scripts/senders/smtplib-send.py");
    let text = format!(
        "{}\nsender command\n    encryption starttls\n    auth plain\n    user thisismy@address.com\n    password itreallywas\n    run python3 {} {{host}} {{port}} {{ca}} {{encryption}} {{auth}} {{user}} {{password}} {{from}} {{to}} {{message}}\noutcome failure at AUTH 535\n",
        import("smtplib.txt").scenario,
        script.display()
    );
    let scenario =
        ServerScenario::parse(&text, "<imported>").unwrap_or_else(|e| panic!("{e}\n{text}"));

    // Act and assert
    let result = run_to_the_535("smtplib.txt", scenario, SenderKind::Command).await;
    let lines = result.records[0].transcript.server_lines();
    let at = lines
        .iter()
        .position(|l| l == REPLY_535[0])
        .expect("the 535");
    assert_eq!(lines[at..at + 2], REPLY_535);
}

#[tokio::test]
async fn msmtp_output_replayed_to_msmtp_fails_at_auth_with_the_535() {
    // Arrange
    let scenario =
        ServerScenario::parse(&import("msmtp-debug.txt").scenario, "<imported>").expect("loads");
    let server = external::server(scenario).await;
    let port = format!("--port={}", server.port());
    let trust = format!("--tls-trust-file={}", external::CA_PEM);
    let args = [
        "--debug",
        "--host=127.0.0.1",
        &port,
        "--tls=on",
        "--tls-starttls=on",
        &trust,
        "--auth=plain",
        "--user=thisismy@address.com",
        "--passwordeval=echo itreallywas",
        "--from=a@example.com",
        "b@example.com",
    ];

    // Act
    let msmtp = external::run_client("msmtp", &args).await;

    // Assert: msmtp's EX_NOPERM after both 535 lines.
    assert_eq!(msmtp.code(), Some(77), "{msmtp}");
    external::assert_in_order(
        &msmtp.output(),
        &[
            "--> STARTTLS",
            "--> AUTH PLAIN",
            &format!("<-- {}", REPLY_535[0]),
            &format!("<-- {}", REPLY_535[1]),
        ],
        &msmtp,
    );
    let record = external::only_session(&server).await;
    assert_two_line_535(&record.transcript);
}

/// The server sent the two-line 535, both lines in order.
/// The server sent both lines of the reference's 535.
fn assert_two_line_535(transcript: &smtp_harness::Transcript) {
    let lines = transcript.server_lines();
    let at = lines
        .iter()
        .position(|l| l == REPLY_535[0])
        .unwrap_or_else(|| panic!("no 535 in {lines:?}"));
    assert_eq!(lines[at..at + 2], REPLY_535);
}

/// Runs a real client against the shipped reference scenario and imports what it printed.
async fn import_real_output(
    program: &str,
    args: impl Fn(u16) -> Vec<String>,
    format: Format,
) -> String {
    let server = external::server(common::shipped("reference/auth-login-535.scn")).await;
    let run = external::run_client(program, &args(server.port())).await;
    external::only_session(&server).await;
    let imported = import_bytes(run.output().as_bytes(), program, program, None)
        .unwrap_or_else(|e| panic!("{program}'s own output does not import: {e}\n{run}"));
    assert_eq!(imported.format, format, "{run}");
    imported.scenario
}

#[tokio::test]
async fn the_real_output_of_swaks_curl_and_msmtp_imports_back_into_the_servers_lines() {
    // Arrange: what each client printed while failing against the reference scenario.
    let swaks = import_real_output(
        "swaks",
        |port| {
            format!(
                "--server 127.0.0.1 --port {port} --tls --auth LOGIN --auth-user u@x.example \
                 --auth-password pw --from a@example.com --to b@example.com"
            )
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
        },
        Format::Swaks,
    )
    .await;
    let message = external::TempFile::new("import-real-curl", b"Subject: x\r\n\r\nhi\r\n");
    let curl = import_real_output(
        "curl",
        |port| {
            [
                "--silent",
                "--show-error",
                "--verbose",
                &format!("smtp://127.0.0.1:{port}/client.example"),
                "--ssl-reqd",
                "--cacert",
                external::CA_PEM,
                "--user",
                "u@x.example:pw",
                "--login-options",
                "AUTH=LOGIN",
                "--mail-from",
                "a@example.com",
                "--mail-rcpt",
                "b@example.com",
                "--upload-file",
                &message.path().display().to_string(),
            ]
            .map(str::to_owned)
            .to_vec()
        },
        Format::Curl,
    )
    .await;
    let msmtp = import_real_output(
        "msmtp",
        |port| {
            [
                "--debug".to_owned(),
                "--host=127.0.0.1".to_owned(),
                format!("--port={port}"),
                "--tls=on".to_owned(),
                "--tls-starttls=on".to_owned(),
                format!("--tls-trust-file={}", external::CA_PEM),
                "--auth=login".to_owned(),
                "--user=u@x.example".to_owned(),
                "--passwordeval=echo pw".to_owned(),
                "--from=a@example.com".to_owned(),
                "b@example.com".to_owned(),
            ]
            .to_vec()
        },
        Format::Msmtp,
    )
    .await;

    // Assert: every scenario replays the shipped one's server lines, in order, with TLS.
    let shipped = std::fs::read_to_string(common::repo("scenarios/reference/auth-login-535.scn"))
        .expect("the shipped scenario");
    let expected = s_lines(&shipped);
    for (name, text) in [("swaks", &swaks), ("curl", &curl), ("msmtp", &msmtp)] {
        assert_eq!(s_lines(text)[..expected.len()], expected, "{name}\n{text}");
        assert!(text.contains("\ntls\n"), "{name}\n{text}");
        assert!(
            !text.contains("cHc="),
            "{name}: the password's base64\n{text}"
        );
        ServerScenario::parse(text, name).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
    }
}

#[test]
fn debug_output_that_starts_after_the_greeting_gets_one() {
    // smtplib logs nothing before its first command when the level is set after connecting.
    let text = "send: 'ehlo client.test\\r\\n'\nreply: b'250 smtp.example\\r\\n'\nsend: 'quit\\r\\n'\nreply: b'221 Bye\\r\\n'\n";

    let imported = import_bytes(text.as_bytes(), "late.txt", "late.txt", None).expect("imports");

    assert_eq!(imported.format, Format::Smtplib);
    assert_eq!(
        s_lines(&imported.scenario),
        ["220 smtp.example ESMTP", "250 smtp.example", "221 Bye"]
    );
    assert!(
        imported
            .scenario
            .contains("# added: the input starts after the server's greeting")
    );
}

/// Postfix's smtp-sink ends its EHLO list with `"250 \r\n"`; a replay that drops the space
/// sends `"250\r\n"`, and swaks stalls after EHLO (issue 9, item 4). Reply lines are kept byte
/// for byte: a line ending in white space is written quoted.
#[test]
fn a_server_line_ending_in_whitespace_is_kept_byte_for_byte() {
    let text = "S: 220 ready\nC: EHLO x\nS: 250-sink.test\nS: 250-AUTH PLAIN\nS: 250 \nC: AUTH PLAIN\nS: 334 \nC: AGFsaWNlAHMzY3JldA==\nS: 535 5.7.8 no\n";

    let imported = import_bytes(text.as_bytes(), "t.txt", "t.txt", None).expect("imports");

    assert_eq!(
        s_lines(&imported.scenario),
        [
            "220 ready",
            "250-sink.test",
            "250-AUTH PLAIN",
            "\"250 \"",
            "\"334 \"",
            "535 5.7.8 no"
        ]
    );
    assert!(!imported.scenario.contains("AGFsaWNlAHMzY3JldA=="));
    let scenario: smtp_harness::ServerScenario = imported.scenario.parse().expect("loads");
    let sent: Vec<&str> = scenario
        .script
        .iter()
        .filter_map(|s| match &s.kind {
            smtp_harness::scenario::StepKind::Send(r) => Some(r.lines()),
            _ => None,
        })
        .flatten()
        .map(String::as_str)
        .collect();
    assert_eq!(
        sent,
        [
            "220 ready",
            "250-sink.test",
            "250-AUTH PLAIN",
            "250 ",
            "334 ",
            "535 5.7.8 no"
        ]
    );
}

#[test]
fn a_log_with_several_connections_imports_the_last_and_says_so() {
    let log = std::fs::read_to_string(fixture("unicorn.log")).expect("fixture");
    let first = "Connection opened:\n-> \"421 4.7.0 Try again later\\r\\n\"\n";
    let text = format!("{first}{log}");

    let imported = import_bytes(text.as_bytes(), "two.log", "two.log", None).expect("imports");

    assert!(
        imported
            .scenario
            .contains("# The log holds 2 connections; the last one (from line 3) is imported.\n"),
        "{}",
        imported.scenario
    );
    assert!(!imported.scenario.contains("421"), "{}", imported.scenario);
    assert_eq!(
        s_lines(&imported.scenario)[0],
        "220 ESMTP nt3sm2942435pbc.14"
    );
}

#[tokio::test]
async fn reference_log_replayed_to_smtplib_login_with_an_initial_response_fails_with_the_535() {
    // Python's SMTP.login() sends `AUTH LOGIN <user>` (an initial response): the imported
    // `C: AUTH LOGIN*` still matches, so the replay still ends in the 535.
    let scenario =
        ServerScenario::parse(&import("unicorn.log").scenario, "<imported>").expect("loads");
    let server = external::server(scenario).await;
    let script = "import smtplib, ssl, sys\n\
        c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='client.test', timeout=10)\n\
        c.starttls(context=ssl.create_default_context(cafile=sys.argv[2]))\n\
        try:\n    c.login('thisismy@address.com', 'itreallywas')\n\
        except smtplib.SMTPAuthenticationError as e:\n    print('535?', e.smtp_code, e.smtp_error.decode()); sys.exit(3)\n";
    let port = server.port().to_string();

    let python = external::run_client("python3", &["-c", script, &port, external::CA_PEM]).await;

    assert_eq!(python.code(), Some(3), "{python}");
    assert!(
        python.stdout.contains(
            "535? 535 5.7.1 Username and Password not accepted. Learn more at\n5.7.1 nt3sm2942435pbc.14"
        ),
        "{python}"
    );
    let record = external::only_session(&server).await;
    assert_two_line_535(&record.transcript);
}

#[tokio::test]
async fn swaks_output_of_implicit_tls_imports_as_an_implicit_tls_scenario() {
    // Arrange: real swaks output against the shipped implicit-TLS scenario.
    let server = external::server(common::shipped("outbound/implicit-tls.scn")).await;
    let port = server.port().to_string();
    let args = [
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--tlsc",
        "--from",
        "a@example.com",
        "--to",
        "b@example.com",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice",
        "--auth-password",
        "s3cret",
    ];
    let swaks = external::run_client("swaks", &args).await;
    external::only_session(&server).await;

    // Act
    let imported = import_bytes(swaks.output().as_bytes(), "swaks", "swaks", None)
        .unwrap_or_else(|e| panic!("{e}\n{swaks}"));

    // Assert: implicit TLS as a setting, the greeting first, no `tls` step, no credential.
    let text = &imported.scenario;
    assert!(text.contains("\nimplicit-tls\n"), "{text}\n{swaks}");
    assert!(!text.contains("\ntls\n"), "{text}");
    assert!(text.contains("\n\nS: 220"), "{text}");
    assert!(
        !text.contains("czNjcmV0") && !text.contains("s3cret"),
        "{text}"
    );
    let scenario =
        ServerScenario::parse(text, "<imported>").unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(scenario.header.implicit_tls);
}

#[test]
fn a_server_line_that_cannot_be_repaired_is_an_error_naming_its_line() {
    let text = "S: 220 ready\nC: EHLO x\nS: hello there\nC: QUIT\n";

    let error = import_bytes(text.as_bytes(), "t.txt", "t.txt", None).expect_err("no code");

    assert!(error.to_string().starts_with("t.txt:3: "), "{error}");
    assert!(error.to_string().contains("hello there"), "{error}");
}

#[test]
fn auth_is_added_only_to_an_ehlo_list() {
    let text = "S: 220 ready\nC: EHLO x\nS: 250-x\nS: 250 PIPELINING\nC: MAIL FROM:<a@b>\nC: RCPT TO:<c@d>\nS: 250 ok\nS: 250 ok\nC: AUTH LOGIN\nS: 503 5.5.1 Bad sequence\n";

    let imported = import_bytes(text.as_bytes(), "t.txt", "t.txt", None).expect("imports");

    assert_eq!(
        s_lines(&imported.scenario),
        [
            "220 ready",
            "250-x",
            "250 PIPELINING",
            "250 ok",
            "250 ok",
            "503 5.5.1 Bad sequence"
        ]
    );
}

/// The harness's own transcripts import back: the lines it adds to the reference format
/// (connection and peer, TLS version and cipher, the message's size) and its own events are read
/// past, and the server's lines become the scenario's.
#[test]
fn a_transcript_the_harness_wrote_imports_back_into_the_servers_lines() {
    use smtp_harness::transcript::{Closer, Event, Transcript};
    let mut t = Transcript::new(7);
    let server = |line: &str| Event::Server(format!("{line}\r\n").into_bytes());
    let client = |line: &str| Event::Client {
        line: format!("{line}\r\n").into_bytes(),
        secret_from: None,
    };
    for event in [
        Event::Opened {
            peer: "127.0.0.1:40512".into(),
        },
        server("220 mx.test ESMTP"),
        client("EHLO c.test"),
        server("250-mx.test"),
        server("250 STARTTLS"),
        client("STARTTLS"),
        server("220 2.0.0 Ready to start TLS"),
        Event::TlsStarted {
            version: "TLSv1.3".into(),
            cipher: "TLS13_AES_256_GCM_SHA384".into(),
        },
        client("EHLO c.test"),
        server("250 mx.test"),
        client("MAIL FROM:<a@b.test>"),
        server("250 2.1.0 Ok"),
        client("RCPT TO:<c@d.test>"),
        server("250 2.1.5 Ok"),
        client("DATA"),
        server("354 go"),
        Event::DataSent { bytes: 574 },
        server("250 2.0.0 Ok: queued as 00070001"),
        Event::MessageCaptured {
            mail_from: "a@b.test".into(),
            rcpt_to: vec!["c@d.test".into()],
            size: 569,
        },
        Event::Omitted { events: 12 },
        client("QUIT"),
        server("221 2.0.0 Bye"),
        Event::Closed {
            by: Closer::Server,
            reason: None,
        },
    ] {
        t.push(event);
    }
    let log = t.to_log(smtp_harness::Render::default());
    assert!(log.starts_with("Connection opened: connection 7 with 127.0.0.1:40512\n"));
    assert!(log.contains("\n<- [message: 574 bytes]\n"));

    let imported = import_bytes(log.as_bytes(), "serve.log", "serve.log", None).expect("imports");

    assert_eq!(imported.format, Format::Log);
    assert_eq!(
        s_lines(&imported.scenario),
        [
            "220 mx.test ESMTP",
            "250-mx.test",
            "250 STARTTLS",
            "220 2.0.0 Ready to start TLS",
            "250 mx.test",
            "250 2.1.0 Ok",
            "250 2.1.5 Ok",
            "354 go",
            "250 2.0.0 Ok: queued as 00070001",
            "221 2.0.0 Bye"
        ]
    );
    assert!(
        imported.scenario.lines().any(|l| l == "tls"),
        "{}",
        imported.scenario
    );
    let _: ServerScenario = imported.scenario.parse().expect("the scenario loads");
}
