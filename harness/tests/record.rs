//! `smtp-harness record` against a real server: aiosmtpd (Debian's python3-aiosmtpd, driven by
//! scripts/upstreams/aiosmtpd-server.py) in plain text, with STARTTLS and with implicit TLS.
//!
//! Each round trip starts the real upstream and the recorder (the CLI binary, `--once`), sends
//! one message with lettre through the proxy (user alice, the right or a wrong password), then
//! serves the recorded scenario with the fake server, sends the same message with the same
//! lettre settings, and checks that the replay's server side is the recorded one line for line
//! and that lettre saw the same outcome (success, or the upstream's own 535). The password
//! never reaches the scenario or the transcript. An upstream that is down or silent gives the
//! client a `421 4.4.0` instead of a hang.
//!
//! Over 500 lines on purpose: one file is one test binary that links the whole crate, so a
//! capability's tests stay together with the helpers they share instead of being split into
//! binaries that each pay the link.

mod common;

use testkit::front_door;
#[path = "common/lettre_sender.rs"]
mod lettre_sender;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{RawClient, WAIT, repo, send_signal};
use lettre::transport::smtp::authentication::Mechanism;
use lettre_sender::Mode;
use smtp_harness::import::{Format, Item, parse_as};
use smtp_harness::{FakeSmtpServer, ServerScenario};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_smtp-harness");
const PASSWORD: &str = "s3cret";
const WRONG: &str = "wr0ng-pw";
/// What the upstream says to a wrong password, byte for byte.
const AIOSMTPD_535: &str = "535 5.7.8 Authentication credentials invalid";

/// The first stdout line of `child`, `listening on ADDR`, as an address.
async fn listening(child: &mut Child, what: &str) -> std::net::SocketAddr {
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("{what}: first line in time"))
        .expect("read")
        .unwrap_or_else(|| panic!("{what} printed nothing"));
    first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{what}: first line was {first:?}"))
        .parse()
        .expect("an address")
}

/// The real server: aiosmtpd on an ephemeral port.
struct Upstream {
    _child: Child,
    addr: std::net::SocketAddr,
    spool: PathBuf,
}

impl Upstream {
    async fn start(mode: Mode, dir: &Path) -> Upstream {
        Upstream::start_with(mode, dir, "valid").await
    }

    /// With the certificate variant `cert` (`certs/CERT.pem`) for TLS.
    async fn start_with(mode: Mode, dir: &Path, cert: &str) -> Upstream {
        let spool = dir.join("spool");
        let mut cmd = Command::new(repo("scripts/upstreams/aiosmtpd-server.py"));
        cmd.arg("--spool").arg(&spool);
        match mode {
            Mode::Plain => cmd.args(["--mode", "plain"]),
            Mode::StartTlsRequired | Mode::StartTlsOpportunistic => {
                cmd.args(["--mode", "starttls", "--require-starttls"])
            }
            Mode::Implicit => cmd.args(["--mode", "implicit"]),
        };
        if !matches!(mode, Mode::Plain) {
            cmd.arg("--cert")
                .arg(repo(&format!("certs/{cert}.pem")))
                .arg("--key")
                .arg(repo(&format!("certs/{cert}.key.pem")));
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("aiosmtpd-server.py starts (scripts/setup installs python3-aiosmtpd)");
        let addr = listening(&mut child, "aiosmtpd-server.py").await;
        Upstream {
            _child: child,
            addr,
            spool,
        }
    }
}

/// `smtp-harness record --once` in front of `upstream`, writing into `dir`.
struct Recorder {
    child: Child,
    addr: std::net::SocketAddr,
    scenario: PathBuf,
    transcript: PathBuf,
}

impl Recorder {
    async fn start(upstream: &str, dir: &Path, extra: &[&str]) -> Recorder {
        let scenario = dir.join("recorded.scn");
        let transcript = dir.join("recorded.log");
        let mut child = Command::new(BIN)
            .args(["record", "--once", "--upstream", upstream])
            .args(if extra.contains(&"--upstream-insecure") {
                &[][..]
            } else {
                &[
                    "--upstream-ca",
                    "certs/ca.pem",
                    "--upstream-name",
                    "localhost",
                ][..]
            })
            .arg("-o")
            .arg(&scenario)
            .arg("--transcript")
            .arg(&transcript)
            .args(extra)
            .current_dir(repo(""))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("smtp-harness record starts");
        let addr = listening(&mut child, "smtp-harness record").await;
        Recorder {
            child,
            addr,
            scenario,
            transcript,
        }
    }

    /// Waits for `--once` to exit; its exit code and stderr.
    async fn finish(self) -> (Option<i32>, String) {
        let out = tokio::time::timeout(WAIT, self.child.wait_with_output())
            .await
            .expect("record exits in time")
            .expect("waited");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// What lettre saw: `Ok(())` or the error's code and text.
type Outcome = Result<(), (Option<String>, String)>;

async fn send_with_lettre(port: u16, mode: Mode, password: Option<&str>, to: &str) -> Outcome {
    // AUTH LOGIN inside TLS, AUTH PLAIN (with its initial response) in clear text: both
    // exchanges go through the proxy's redaction.
    let mechanism = match mode {
        Mode::Plain => Mechanism::Plain,
        _ => Mechanism::Login,
    };
    let auth = password.map(|p| ("alice", p, mechanism));
    let transport = lettre_sender::transport(port, mode, auth);
    let message = lettre_sender::message(&[to], "Recorded hello\r\n.leading dot\r\n");
    lettre_sender::send(&transport, message)
        .await
        .map_err(|e| (e.status().map(|c| c.to_string()), e.to_string()))
}

/// The server lines of the last connection in a transcript file (the log format).
fn server_lines_of_log(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("transcript written");
    parse_as(Format::Log, &text, &path.display().to_string())
        .expect("the transcript parses")
        .into_iter()
        .filter_map(|e| match e.item {
            Item::Server(line) => Some(line),
            _ => None,
        })
        .collect()
}

/// What a round trip recorded.
struct RoundTrip {
    /// What lettre saw through the proxy (the replay saw the same).
    outcome: Outcome,
    scenario: String,
    transcript: String,
    stderr: String,
}

/// Records one lettre session through the proxy in front of `upstream`, replays the scenario
/// to the same lettre settings, and checks that the replay is the recording.
async fn record_and_replay(
    upstream: std::net::SocketAddr,
    dir: &Path,
    mode: Mode,
    password: Option<&str>,
    to: &str,
) -> RoundTrip {
    let implicit = matches!(mode, Mode::Implicit);
    let extra: &[&str] = if implicit {
        &["--implicit-tls", "--timeout", "10s"]
    } else {
        &["--timeout", "10s"]
    };
    let recorder = Recorder::start(&upstream.to_string(), dir, extra).await;

    // Record.
    let recorded_outcome = send_with_lettre(recorder.addr.port(), mode, password, to).await;
    let (scenario_path, transcript_path) = (recorder.scenario.clone(), recorder.transcript.clone());
    let (code, stderr) = recorder.finish().await;
    assert_eq!(code, Some(0), "record exits 0: {stderr}");
    let scenario_text = std::fs::read_to_string(&scenario_path).expect("scenario written");
    let transcript_text = std::fs::read_to_string(&transcript_path).expect("transcript");
    let recorded = server_lines_of_log(&transcript_path);

    // The scenario: loadable, checkable, saying where it comes from.
    let scenario = ServerScenario::from_file(&scenario_path).expect("the recorded scenario loads");
    let check = Command::new(BIN)
        .arg("check")
        .arg(&scenario_path)
        .output()
        .await
        .expect("check runs");
    assert!(check.status.success(), "check: {check:?}");
    assert_eq!(scenario.header.implicit_tls, implicit, "{scenario_text}");
    assert!(
        scenario_text.starts_with(&format!(
            "# Recorded by `smtp-harness record` from {upstream} at "
        )),
        "{scenario_text}"
    );

    // Replay: the same client against the fake server playing the scenario.
    let server = FakeSmtpServer::builder(scenario)
        .verify_on_drop(false)
        .start()
        .await
        .expect("server starts");
    let replayed_outcome = send_with_lettre(server.port(), mode, password, to).await;
    let sessions = server
        .wait_for_sessions(1, WAIT)
        .await
        .expect("the replay's session ends");
    let replayed = sessions[0].transcript.server_lines();

    assert_eq!(
        replayed, recorded,
        "the replay's server lines are the recorded ones\n{scenario_text}"
    );
    assert_eq!(
        replayed_outcome, recorded_outcome,
        "same outcome for lettre"
    );
    RoundTrip {
        outcome: recorded_outcome,
        scenario: scenario_text,
        transcript: transcript_text,
        stderr,
    }
}

/// A round trip through aiosmtpd as alice: the message arrives intact (or not at all after a
/// failure), and the password is nowhere. The outcome and the scenario.
async fn round_trip(mode: Mode, password: &str) -> (Outcome, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = Upstream::start(mode, dir.path()).await;
    let trip = record_and_replay(
        upstream.addr,
        dir.path(),
        mode,
        Some(password),
        "bob@example.com",
    )
    .await;

    let delivered = std::fs::read(upstream.spool.join("1.eml")).ok();
    match &trip.outcome {
        Ok(()) => {
            let content =
                String::from_utf8_lossy(delivered.as_deref().expect("delivered")).into_owned();
            assert!(
                content.contains("Recorded hello\r\n.leading dot\r\n"),
                "{content}"
            );
        }
        Err(_) => assert!(delivered.is_none(), "nothing delivered after a failure"),
    }
    for secret in secrets(password) {
        for (what, text) in [
            ("scenario", &trip.scenario),
            ("transcript", &trip.transcript),
            ("stderr", &trip.stderr),
        ] {
            assert!(!text.contains(&secret), "{secret:?} in the {what}:\n{text}");
        }
    }
    (trip.outcome, trip.scenario)
}

/// The password as it could leak: plain, and base64 as AUTH LOGIN and AUTH PLAIN send it.
fn secrets(password: &str) -> Vec<String> {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    vec![
        password.to_owned(),
        b64(password),
        b64(&format!("\0alice\0{password}")),
    ]
}

fn assert_rejected_with_the_upstreams_535(outcome: &Outcome) {
    let (code, text) = outcome.as_ref().expect_err("the wrong password fails");
    assert_eq!(code.as_deref(), Some("535"), "{text}");
    assert!(
        text.contains("Authentication credentials invalid"),
        "{text}"
    );
}

#[tokio::test]
async fn plain_right_password_records_and_replays_a_delivery() {
    let (outcome, scenario) = round_trip(Mode::Plain, PASSWORD).await;
    assert_eq!(outcome, Ok(()));
    assert!(scenario.contains("C: AUTH PLAIN*\n"), "{scenario}");
    assert!(scenario.contains("S: 235 2.7.0 Authentication successful\n"));
    assert!(!scenario.contains("\ntls\n"), "{scenario}");
}

#[tokio::test]
async fn plain_wrong_password_replays_the_upstreams_535() {
    let (outcome, scenario) = round_trip(Mode::Plain, WRONG).await;
    assert_rejected_with_the_upstreams_535(&outcome);
    assert!(
        scenario.contains(&format!("S: {AIOSMTPD_535}\n")),
        "{scenario}"
    );
}

#[tokio::test]
async fn starttls_right_password_records_and_replays_a_delivery() {
    let (outcome, scenario) = round_trip(Mode::StartTlsRequired, PASSWORD).await;
    assert_eq!(outcome, Ok(()));
    for needle in [
        "C: STARTTLS\nS: 220 Ready to start TLS\ntls\n",
        "C: AUTH LOGIN*\n",
        "C: *\n",
        "expect STARTTLS before AUTH",
    ] {
        assert!(scenario.contains(needle), "{needle:?} in\n{scenario}");
    }
}

#[tokio::test]
async fn starttls_wrong_password_replays_the_upstreams_535() {
    let (outcome, scenario) = round_trip(Mode::StartTlsRequired, WRONG).await;
    assert_rejected_with_the_upstreams_535(&outcome);
    assert!(
        scenario.contains(&format!("S: {AIOSMTPD_535}\n")),
        "{scenario}"
    );
}

#[tokio::test]
async fn implicit_tls_right_password_records_and_replays_a_delivery() {
    let (outcome, scenario) = round_trip(Mode::Implicit, PASSWORD).await;
    assert_eq!(outcome, Ok(()));
    assert!(scenario.contains("\nimplicit-tls\n"), "{scenario}");
}

#[tokio::test]
async fn implicit_tls_wrong_password_replays_the_upstreams_535() {
    let (outcome, scenario) = round_trip(Mode::Implicit, WRONG).await;
    assert_rejected_with_the_upstreams_535(&outcome);
    assert!(
        scenario.contains(&format!("S: {AIOSMTPD_535}\n")),
        "{scenario}"
    );
}

/// A port nothing listens on (bound, then released).
async fn closed_port() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr
}

#[tokio::test]
async fn a_dead_upstream_gives_the_client_421_and_record_exits_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dead = closed_port().await;
    let recorder = Recorder::start(&dead.to_string(), dir.path(), &["--timeout", "5s"]).await;

    let mut client = RawClient::connect(recorder.addr).await;
    let reply = client.reply().await;
    assert_eq!(reply.code, 421, "{reply:?}");
    assert!(reply.last_text().starts_with("4.4.0 "), "{reply:?}");
    assert!(client.closed().await, "the proxy closes after its 421");

    let scenario = recorder.scenario.clone();
    let (code, stderr) = recorder.finish().await;
    assert_eq!(code, Some(1), "nothing recorded: {stderr}");
    assert!(stderr.contains("nothing recorded"), "{stderr}");
    assert!(!scenario.exists(), "no scenario is written from nothing");
}

#[tokio::test]
async fn a_silent_upstream_gives_the_client_421_after_the_timeout() {
    // Accepts and never greets.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent = listener.local_addr().expect("addr");
    let _holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let recorder = Recorder::start(&silent.to_string(), dir.path(), &["--timeout", "1s"]).await;

    let mut client = RawClient::connect(recorder.addr).await;
    let reply = client.reply().await;
    assert_eq!(reply.code, 421, "{reply:?}");
    assert!(
        reply.last_text().starts_with("4.4.0 ") && reply.last_text().contains("did not answer"),
        "{reply:?}"
    );
    let (code, _) = recorder.finish().await;
    assert_eq!(code, Some(1));
}

#[tokio::test]
async fn an_implicit_tls_client_of_a_dead_upstream_gets_the_421_inside_tls() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dead = closed_port().await;
    let recorder = Recorder::start(
        &dead.to_string(),
        dir.path(),
        &["--implicit-tls", "--timeout", "5s"],
    )
    .await;
    let mut client = RawClient::connect_tls(recorder.addr).await;
    let reply = client.reply().await;
    assert_eq!(reply.code, 421, "{reply:?}");
    let (code, _) = recorder.finish().await;
    assert_eq!(code, Some(1));
}

#[tokio::test]
async fn without_once_each_connection_replaces_the_last_and_sigterm_prints_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = Upstream::start(Mode::Plain, dir.path()).await;
    let mut child = Command::new(BIN)
        .args(["record", "--upstream", &upstream.addr.to_string()])
        .args(["--timeout", "10s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("smtp-harness record starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let first = tokio::time::timeout(WAIT, stdout.next_line())
        .await
        .expect("first line in time")
        .expect("read")
        .expect("a line");
    let addr: std::net::SocketAddr = first
        .strip_prefix("listening on ")
        .expect("listening on ADDR")
        .parse()
        .expect("an address");

    for hello in ["EHLO first.test", "HELO second.test"] {
        let mut client = RawClient::connect(addr).await;
        assert_eq!(client.reply().await.code, 220);
        assert_eq!(client.cmd(hello).await.code, 250);
        assert_eq!(client.cmd("QUIT").await.code, 221);
        assert!(client.closed().await);
    }
    // Both connections are reported before the signal.
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.starts_with("connection 2:")) {
        let line = tokio::time::timeout(WAIT, stderr.next_line())
            .await
            .expect("a report in time")
            .expect("read")
            .unwrap_or_else(|| panic!("stderr ended: {seen:?}"));
        seen.push(line);
    }
    send_signal(&child, "-TERM").await;
    let mut printed = String::new();
    while let Some(line) = tokio::time::timeout(WAIT, stdout.next_line())
        .await
        .expect("stdout in time")
        .expect("read")
    {
        printed.push_str(&line);
        printed.push('\n');
    }
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("exits in time")
        .expect("waited");
    assert!(status.success(), "{status:?}");
    assert!(printed.contains("(connection 2)"), "{printed}");
    assert!(printed.contains("C: HELO*\n"), "{printed}");
    assert!(!printed.contains("C: EHLO*\n"), "{printed}");
    ServerScenario::parse(&printed, "<printed>").expect("the printed scenario loads");
}

/// A client that talks to the upstream over STARTTLS through the proxy by hand, sending
/// `behind_starttls` in clear text in the same write as its STARTTLS.
async fn starttls_by_hand(proxy: std::net::SocketAddr, behind_starttls: &str) -> RawClient {
    let mut client = RawClient::connect(proxy).await;
    assert_eq!(client.reply().await.code, 220);
    assert_eq!(client.cmd("EHLO client.test").await.code, 250);
    client.send(&format!("STARTTLS\r\n{behind_starttls}")).await;
    let reply = client.reply().await;
    assert_eq!(reply.code, 220, "{reply:?}");
    client.starttls().await;
    client
}

#[tokio::test]
async fn commands_behind_starttls_in_clear_text_never_reach_the_upstream() {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = Upstream::start(Mode::StartTlsRequired, dir.path()).await;
    let recorder = Recorder::start(&upstream.addr.to_string(), dir.path(), &[]).await;

    let mut client = starttls_by_hand(recorder.addr, "MAIL FROM:<injected@evil.test>\r\n").await;
    let ehlo = client.cmd("EHLO client.test").await;
    assert_eq!(ehlo.code, 250, "{ehlo:?}");
    assert!(
        ehlo.lines.iter().any(|l| l.contains("AUTH")),
        "inside TLS the upstream offers AUTH: {ehlo:?}"
    );
    // The upstream never saw the injected MAIL: RCPT is out of order there.
    let rcpt = client.cmd("RCPT TO:<bob@example.com>").await;
    assert_eq!(rcpt.code, 503, "{rcpt:?}");
    assert_eq!(client.cmd("QUIT").await.code, 221);
    let (transcript, scenario) = (recorder.transcript.clone(), recorder.scenario.clone());
    let (code, stderr) = recorder.finish().await;
    assert_eq!(code, Some(0), "{stderr}");
    let log = std::fs::read_to_string(transcript).expect("transcript");
    assert!(log.contains("Discarded "), "{log}");
    assert!(!log.contains("injected@evil.test"), "{log}");
    ServerScenario::from_file(scenario).expect("loads");
}

#[tokio::test]
async fn upstream_insecure_accepts_a_self_signed_upstream() {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = Upstream::start_with(Mode::StartTlsRequired, dir.path(), "self-signed").await;
    let recorder = Recorder::start(
        &upstream.addr.to_string(),
        dir.path(),
        &["--upstream-insecure"],
    )
    .await;
    let outcome = send_with_lettre(
        recorder.addr.port(),
        Mode::StartTlsRequired,
        Some(PASSWORD),
        "bob@example.com",
    )
    .await;
    assert_eq!(outcome, Ok(()));
    let (code, stderr) = recorder.finish().await;
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test]
async fn an_upstream_certificate_that_fails_verification_gives_421_after_starttls() {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = Upstream::start_with(Mode::StartTlsRequired, dir.path(), "self-signed").await;
    let recorder = Recorder::start(&upstream.addr.to_string(), dir.path(), &[]).await;

    let mut client = RawClient::connect(recorder.addr).await;
    assert_eq!(client.reply().await.code, 220);
    assert_eq!(client.cmd("EHLO client.test").await.code, 250);
    let reply = client.cmd("STARTTLS").await;
    assert_eq!(reply.code, 421, "{reply:?}");
    assert!(
        reply.last_text().starts_with("4.4.0 ") && reply.last_text().contains("TLS with"),
        "{reply:?}"
    );
    assert!(client.closed().await);
    let scenario = recorder.scenario.clone();
    let (code, stderr) = recorder.finish().await;
    // The conversation up to the upstream's 220 was recorded, with a note.
    assert_eq!(code, Some(0), "{stderr}");
    let text = std::fs::read_to_string(scenario).expect("scenario");
    assert!(
        text.contains("# The proxy told the client 421 4.4.0 (TLS with"),
        "{text}"
    );
    assert!(
        text.contains("S: 220 Ready to start TLS\ntls\n"),
        "the upstream offered TLS: {text}"
    );
    ServerScenario::parse(&text, "<recorded>").expect("loads");
}

#[tokio::test]
async fn postfix_delivery_records_and_replays() {
    let door = front_door::FrontDoor::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let to = format!("reply+x@reply.{}", front_door::HOSTNAME);
    let trip = record_and_replay(door.addr, dir.path(), Mode::Plain, None, &to).await;
    assert_eq!(trip.outcome, Ok(()), "{}", door.mail_log());
    for needle in [
        "250-PIPELINING\n",
        "\nS: 250 2.0.0 Ok: queued as ",
        "\nS: 221 2.0.0 Bye\n",
    ] {
        assert!(
            trip.scenario.contains(needle),
            "{needle:?} in\n{}",
            trip.scenario
        );
    }
}

#[tokio::test]
async fn postfix_relay_refusal_replays_with_its_exact_text() {
    let door = front_door::FrontDoor::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let trip = record_and_replay(door.addr, dir.path(), Mode::Plain, None, "bob@example.com").await;
    let (code, text) = trip.outcome.as_ref().expect_err("Postfix relays nothing");
    assert_eq!(code.as_deref(), Some("554"), "{text}");
    assert!(text.contains("Relay access denied"), "{text}");
    assert!(
        trip.scenario
            .contains("S: 554 5.7.1 <bob@example.com>: Relay access denied\n"),
        "{}",
        trip.scenario
    );
}

#[tokio::test]
async fn bad_usage_exits_2_and_a_busy_address_exits_3() {
    let run = |args: Vec<String>| async move {
        let out = tokio::time::timeout(WAIT, Command::new(BIN).args(&args).output())
            .await
            .expect("exits in time")
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(vec!["record".into(), "--upstream".into(), "no-port".into()]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("expected HOST:PORT"), "{stderr}");

    let (code, stderr) = run(vec![
        "record".into(),
        "--upstream".into(),
        "127.0.0.1:25".into(),
        "--timeout".into(),
        "soon".into(),
    ])
    .await;
    assert_eq!(code, Some(2), "{stderr}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let (code, stderr) = run(vec![
        "record".into(),
        "--upstream".into(),
        "127.0.0.1:25".into(),
        "--listen".into(),
        addr,
    ])
    .await;
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("cannot listen"), "{stderr}");
}
