//! The `smtp-harness` binary as a user drives it: `check`, `serve` (with --once, --transcript and
//! signals), `send` and `serve` refusing the other role's scenario, and `certs`.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{RawClient, WAIT, repo, send_signal};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_smtp-harness");

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("smtp-harness-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

async fn output(args: &[&str]) -> std::process::Output {
    let run = Command::new(BIN)
        .args(args)
        .current_dir(repo(""))
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(WAIT, run)
        .await
        .expect("finishes in time")
        .expect("runs")
}

/// Starts `serve` and returns the child and the address from its first stdout line.
async fn serve(args: &[&str]) -> (Child, std::net::SocketAddr) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .current_dir(repo(""))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawns");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("first line in time")
        .expect("read")
        .expect("a line");
    let addr = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line was {first:?}"));
    (child, addr.parse().expect("address"))
}

async fn wait(child: &mut Child) -> std::process::ExitStatus {
    tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("exits in time")
        .expect("waited")
}

#[tokio::test]
async fn check_accepts_the_shipped_scenarios() {
    let out = output(&["check", "scenarios"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("ok      scenarios/reference/auth-login-535.scn"),
        "{stdout}"
    );
    assert!(stdout.contains(" 0 broken"), "{stdout}");
}

#[tokio::test]
async fn check_names_file_line_and_column_of_a_broken_scenario_and_exits_1() {
    let dir = temp_dir("check");
    std::fs::write(dir.join("good.scn"), "S: 220 ok\n").expect("write");
    std::fs::write(dir.join("bad.scn"), "S: 220 ok\nC: EHLO *\nS: 25O hello\n").expect("write");
    let out = output(&["check", dir.to_str().expect("utf8")]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let bad = dir.join("bad.scn");
    assert!(
        stdout.contains(&format!(
            "broken  {}:3:4: expected a reply line",
            bad.display()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("2 file(s) checked, 1 broken"), "{stdout}");
}

#[tokio::test]
async fn serve_refuses_a_broken_scenario_with_exit_2() {
    let dir = temp_dir("serve-bad");
    let path = dir.join("bad.scn");
    std::fs::write(&path, "implicit-tls\n").expect("write");
    let out = output(&["serve", path.to_str().expect("utf8")]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.scn:1: `implicit-tls` needs a certificate"),
        "{stderr}"
    );
}

#[tokio::test]
async fn serve_refuses_a_client_scenario_and_send_a_server_one_naming_the_command_to_use() {
    // `serve` plays servers: a `role client` file is refused at its role line, before listening.
    let out = output(&["serve", "scenarios/client/deliver-pipelined.scn"]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "error: scenarios/client/deliver-pipelined.scn:4: `role client`: this scenario plays a remote MTA, not a server: play it with `smtp-harness send`\n"
    );
    assert!(out.stdout.is_empty(), "it never listened");

    // `send` plays clients: a server scenario is refused before connecting anywhere.
    let out = output(&[
        "send",
        "scenarios/reference/auth-login-535.scn",
        "--to",
        "127.0.0.1:9",
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "error: scenarios/reference/auth-login-535.scn:1: this scenario plays the server (it has no `role client` line): serve it with `smtp-harness serve`, or add `role client` to its settings to play a remote MTA\n"
    );
}

#[tokio::test]
async fn serve_once_plays_the_scenario_writes_the_transcript_and_exits_by_verdict() {
    let dir = temp_dir("serve-once");
    let transcript = dir.join("t.log");
    let (mut child, addr) = serve(&[
        "scenarios/faults/second-rcpt-452.scn",
        "--once",
        "--transcript",
        transcript.to_str().expect("utf8"),
    ])
    .await;

    // A client that sends no message breaks `expect messages 1`.
    let mut c = RawClient::connect(addr).await;
    assert_eq!(c.reply().await.code, 220);
    assert_eq!(c.cmd("EHLO me").await.code, 250);
    assert_eq!(c.cmd("QUIT").await.code, 221);

    let status = wait(&mut child).await;
    assert_eq!(status.code(), Some(1), "expectation broken gives exit 1");
    let log = std::fs::read_to_string(&transcript).expect("transcript written");
    assert!(
        log.starts_with("Connection opened: connection 1 with 127.0.0.1:")
            && log.contains(
                "\n-> \"220 mx.harness.test ESMTP smtp-harness\\r\\n\"\n<- \"EHLO me\\r\\n\""
            ),
        "{log}"
    );
    let mut stderr = String::new();
    use tokio::io::AsyncReadExt;
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .await
        .expect("read");
    assert!(
        stderr.contains("connection 1: closed by server; 1 expectation(s) broken:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("expected messages 1, but 0 message(s) were accepted"),
        "{stderr}"
    );
}

#[tokio::test]
async fn serve_writes_json_lines_with_secrets_redacted_unless_asked() {
    for (show, expect_secret) in [(false, false), (true, true)] {
        let dir = temp_dir(&format!("serve-json-{show}"));
        let transcript = dir.join("t.jsonl");
        let mut args = vec![
            "scenarios/bench/sink.scn",
            "--once",
            "--format",
            "json",
            "--transcript",
            transcript.to_str().expect("utf8"),
        ];
        if show {
            args.push("--show-secrets");
        }
        let (mut child, addr) = serve(&args).await;
        let mut c = RawClient::connect(addr).await;
        c.reply().await;
        c.cmd("EHLO me").await;
        assert_eq!(c.cmd("AUTH PLAIN AGFsaWNlAHMzY3JldA==").await.code, 235);
        c.cmd("QUIT").await;
        assert!(wait(&mut child).await.success());
        let text = std::fs::read_to_string(&transcript).expect("written");
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
            assert_eq!(value["session"], 1);
        }
        assert_eq!(
            text.contains("AGFsaWNlAHMzY3JldA=="),
            expect_secret,
            "{text}"
        );
        assert!(text.contains(r#""line":"AUTH PLAIN "#), "{text}");
    }
}

#[tokio::test]
async fn serve_exits_cleanly_on_sigterm_and_sigint() {
    for signal in ["-TERM", "-INT"] {
        let (mut child, addr) = serve(&["scenarios/bench/sink.scn"]).await;
        // A connection is open while the signal arrives: it is told 421.
        let mut c = RawClient::connect(addr).await;
        assert_eq!(c.reply().await.code, 220);
        send_signal(&child, signal).await;
        assert_eq!(c.reply().await.code, 421);
        let status = wait(&mut child).await;
        assert!(status.success(), "{signal}: {status:?}");
    }
}

/// `serve --threads 2`: the sessions run on a multi-threaded runtime, several at once, and a
/// signal still ends it cleanly.
#[tokio::test]
async fn serve_with_threads_plays_concurrent_connections() {
    let (mut child, addr) = serve(&["scenarios/bench/sink.scn", "--threads", "2"]).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        let mut c = RawClient::connect(addr).await;
        assert_eq!(c.reply().await.code, 220);
        assert_eq!(c.cmd("EHLO me").await.code, 250);
        clients.push(c);
    }
    for c in &mut clients {
        assert_eq!(c.cmd("MAIL FROM:<a@b.test>").await.code, 250);
        assert_eq!(c.cmd("QUIT").await.code, 221);
    }
    send_signal(&child, "-TERM").await;
    assert!(wait(&mut child).await.success());
    let bad = output(&["serve", "scenarios/bench/sink.scn", "--threads", "0"]).await;
    assert_eq!(bad.status.code(), Some(2), "--threads 0 is bad usage");
}

#[tokio::test]
async fn certs_writes_a_ca_and_every_variant() {
    let dir = temp_dir("certs");
    let out = output(&["certs", "--out", dir.to_str().expect("utf8")]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "ca",
        "valid",
        "expired",
        "wrong-host",
        "self-signed",
        "unknown-ca",
    ] {
        let pem = std::fs::read_to_string(dir.join(format!("{name}.pem"))).expect("cert written");
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{name}");
        assert!(dir.join(format!("{name}.key.pem")).exists(), "{name} key");
    }
    // A server reading them from the directory presents them.
    let scenario = dir.join("s.scn");
    std::fs::write(&scenario, "certificate valid\nimplicit-tls\n").expect("write");
    let (mut child, addr) = serve(&[
        scenario.to_str().expect("utf8"),
        "--certs",
        dir.to_str().expect("utf8"),
        "--once",
    ])
    .await;
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let ca = std::fs::read_to_string(dir.join("ca.pem")).expect("ca");
    let config = smtp_harness::tls::client_config_trusting(&ca).expect("config");
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tls = tokio::time::timeout(
        WAIT,
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .expect("in time");
    assert!(
        tls.is_ok(),
        "the regenerated CA verifies the regenerated certificate: {tls:?}"
    );
    drop(tls);
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
}

#[tokio::test]
async fn help_lists_the_commands_and_exit_codes() {
    let out = output(&["--help"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["serve", "check", "certs", "Exit codes"] {
        assert!(text.contains(word), "{text}");
    }
    let out = output(&["serve"]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "missing argument is a usage error"
    );
}
