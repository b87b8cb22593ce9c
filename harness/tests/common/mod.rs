//! Helpers shared by the integration tests: paths into the repository, a raw SMTP client that
//! writes exact bytes (plain or TLS), and lettre transports that trust the test CA.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use smtp_harness::{AnyScenario, ClientScenario, FakeSmtpServer, ServerScenario};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;

/// Every wait in the tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(10);

/// What a run of the `smtp-harness` binary left: its exit code and its output.
pub struct CliRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `smtp-harness ARGS` from the repository root, killed if it outlives `limit`.
pub async fn smtp_harness(args: &[&str], limit: Duration) -> CliRun {
    smtp_harness_with(args, limit, &[]).await
}

/// Runs `smtp-harness ARGS` as [`smtp_harness`] does, for a run that drives the appliance (the
/// repository's smtp-harness.toml declares its adapter): the adapter gets this build's appliance
/// through `APPLIANCE_BIN` (see [`appliance_bin`]).
pub async fn smtp_harness_driving_the_appliance(args: &[&str], limit: Duration) -> CliRun {
    let bin = appliance_bin();
    smtp_harness_with(args, limit, &[("APPLIANCE_BIN", bin.as_os_str())]).await
}

/// The appliance binary of the build this test belongs to: `target/<profile>/appliance`, beside
/// the `target/<profile>/deps/` folder that holds this test executable (as assert_cmd's
/// `cargo_bin` finds a binary), so that a `--release` run drives the release build. Another
/// package's binary is not in `CARGO_BIN_EXE_*`; `cargo test --workspace` builds it.
///
/// # Panics
/// If it is missing, saying how to build it.
pub fn appliance_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let mut dir = exe
        .parent()
        .expect("the test executable's folder")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join(format!("appliance{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: build the workspace (cargo test --workspace builds the appliance)",
        bin.display()
    );
    bin
}

async fn smtp_harness_with(
    args: &[&str],
    limit: Duration,
    env: &[(&str, &std::ffi::OsStr)],
) -> CliRun {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_smtp-harness"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(repo(""))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(limit, out)
        .await
        .expect("smtp-harness finishes in time")
        .expect("smtp-harness runs");
    CliRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Sends `signal` (`-TERM`, `-INT`) to a running child, as a user's `kill` would.
pub async fn send_signal(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("the child is running").to_string();
    let kill = tokio::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(kill.success(), "kill {signal} {pid} failed");
}

/// A path relative to the repository root.
pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

/// Loads a shipped scenario, e.g. `reference/auth-login-535.scn`.
pub fn shipped(name: &str) -> ServerScenario {
    ServerScenario::from_file(repo(&format!("scenarios/{name}"))).expect("shipped scenario loads")
}

/// Loads a shipped scenario of either role.
pub fn shipped_any(name: &str) -> AnyScenario {
    AnyScenario::from_file(repo(&format!("scenarios/{name}"))).expect("shipped scenario loads")
}

/// Loads a shipped client scenario, e.g. `client/deliver-pipelined.scn`.
pub fn shipped_client(name: &str) -> ClientScenario {
    ClientScenario::from_file(repo(&format!("scenarios/{name}"))).expect("shipped scenario loads")
}

/// Parses an inline scenario.
pub fn inline(text: &str) -> ServerScenario {
    ServerScenario::parse(text, "<inline>").expect("inline scenario parses")
}

/// Parses an inline client scenario (`role client`).
pub fn inline_client(text: &str) -> ClientScenario {
    ClientScenario::parse(text, "<inline>").expect("inline scenario parses")
}

/// Starts a server that does not panic on drop (the test looks at the records itself).
pub async fn server(scenario: ServerScenario) -> FakeSmtpServer {
    FakeSmtpServer::builder(scenario)
        .verify_on_drop(false)
        .start()
        .await
        .expect("server starts")
}

/// The test CA, PEM.
pub fn ca_pem() -> &'static str {
    smtp_harness::certs::embedded_ca_pem()
}

enum Conn {
    Plain(BufStream<TcpStream>),
    Tls(Box<BufStream<TlsStream<TcpStream>>>),
    Gone,
}

/// A raw SMTP client: writes exactly what it is told and reads whole replies.
pub struct RawClient {
    conn: Conn,
}

/// One reply as received: its code and its lines without CRLF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Received {
    pub fn last_text(&self) -> &str {
        self.lines.last().map_or("", |l| l.get(4..).unwrap_or(""))
    }
}

impl RawClient {
    pub async fn connect(addr: std::net::SocketAddr) -> Self {
        let tcp = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        RawClient {
            conn: Conn::Plain(BufStream::new(tcp)),
        }
    }

    /// Connects and runs the TLS handshake at once (implicit TLS).
    pub async fn connect_tls(addr: std::net::SocketAddr) -> Self {
        let tcp = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        let tls = handshake(tcp).await.expect("TLS handshake");
        RawClient {
            conn: Conn::Tls(Box::new(BufStream::new(tls))),
        }
    }

    /// Writes bytes as they are.
    pub async fn send(&mut self, bytes: &str) {
        self.send_bytes(bytes.as_bytes()).await;
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        let io = async {
            match &mut self.conn {
                Conn::Plain(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
                Conn::Tls(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
                Conn::Gone => Ok(()),
            }
        };
        tokio::time::timeout(WAIT, io)
            .await
            .expect("write in time")
            .expect("write");
    }

    /// Reads one line (with CRLF); `None` at EOF.
    pub async fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        let read = async {
            match &mut self.conn {
                Conn::Plain(s) => s.read_line(&mut line).await,
                Conn::Tls(s) => s.read_line(&mut line).await,
                Conn::Gone => Ok(0),
            }
        };
        let n = tokio::time::timeout(WAIT, read)
            .await
            .expect("reply in time")
            .unwrap_or(0);
        (n > 0).then_some(line)
    }

    /// Reads one whole reply (all lines of a multi-line reply).
    ///
    /// # Panics
    /// On EOF or a malformed line.
    pub async fn reply(&mut self) -> Received {
        self.try_reply().await.expect("a reply before EOF")
    }

    /// Reads one whole reply, or `None` at EOF.
    pub async fn try_reply(&mut self) -> Option<Received> {
        let mut lines = Vec::new();
        loop {
            let line = self.line().await?;
            assert!(line.ends_with("\r\n"), "reply line without CRLF: {line:?}");
            let line = line.trim_end_matches("\r\n").to_owned();
            assert!(
                smtp_harness::reply::is_reply_line(&line),
                "malformed reply line {line:?}"
            );
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line);
            if !more {
                break;
            }
        }
        let code = lines[0][..3].parse().expect("code");
        Some(Received { code, lines })
    }

    /// Sends a command and reads its reply.
    pub async fn cmd(&mut self, line: &str) -> Received {
        self.send(&format!("{line}\r\n")).await;
        self.reply().await
    }

    /// Upgrades to TLS (after a 220 to STARTTLS), trusting the test CA, name "localhost".
    pub async fn starttls(&mut self) {
        let tcp = match std::mem::replace(&mut self.conn, Conn::Gone) {
            Conn::Plain(s) => s.into_inner(),
            _ => panic!("already TLS"),
        };
        let tls = handshake(tcp).await.expect("TLS handshake");
        self.conn = Conn::Tls(Box::new(BufStream::new(tls)));
    }

    /// `true` once the server has closed the connection (EOF within the wait).
    pub async fn closed(&mut self) -> bool {
        self.line().await.is_none()
    }
}

/// A TLS handshake as a client that trusts the test CA.
pub async fn handshake(tcp: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
    let config = smtp_harness::tls::client_config_trusting(ca_pem()).expect("client config");
    let connector = TlsConnector::from(Arc::clone(&config));
    let name = ServerName::try_from("localhost").expect("name").to_owned();
    tokio::time::timeout(WAIT, connector.connect(name, tcp))
        .await
        .expect("handshake in time")
}

/// Base64, for AUTH payloads.
pub fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Compares `text` with `snapshots/<name>.snap` (the top-level folder), after the filters
/// (regex, replacement) that blank out what changes from run to run.
pub fn assert_snapshot(name: &str, description: &str, filters: &[(&str, &str)], text: String) {
    let mut settings = insta::Settings::clone_current();
    // Absolute: insta resolves a relative path against the file that calls the macro (this one).
    settings.set_snapshot_path(repo("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(description);
    settings.set_omit_expression(true);
    for (regex, replacement) in filters {
        settings.add_filter(regex, *replacement);
    }
    settings.bind(|| insta::assert_snapshot!(name, text));
}
