//! Helpers for `tests/real_clients.rs`: run one of the real SMTP clients under
//! `scripts/clients/` against a fake server, with a timeout, and read what it concluded.
//!
//! Included with `#[path = "common/real_clients.rs"] mod real_clients;`.

// Not every helper is used by every test.
#![allow(dead_code)]

use std::fmt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use smtp_harness::{FakeSmtpServer, SessionRecord};

/// How long a client may run before it is killed and the test fails. Every client's own
/// network waits are 10 s; Exim also writes and reads its spool.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// A real SMTP client driven by a script under `scripts/clients/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// Ruby's net/smtp 0.3.1 (Debian's ruby 3.1): `ruby-net-smtp.rb`.
    RubyNetSmtp,
    /// Ruby's mail gem 2.7.1 (Debian's ruby-mail), on net/smtp: `ruby-mail-gem.rb`.
    RubyMailGem,
    /// Perl's Net::SMTP with Authen::SASL: `perl-net-smtp.pl`.
    PerlNetSmtp,
    /// aiosmtplib 5.1.3 in `.venv-clients/`: `aiosmtplib-send.py`.
    Aiosmtplib,
    /// Exim 4.96 as a smarthost client, unpacked in `.exim-root/`: `exim-send`.
    Exim,
}

impl Client {
    /// The program and the arguments before `HOST PORT`.
    fn command(self) -> (PathBuf, Vec<PathBuf>) {
        let script = |name: &str| repo(&format!("scripts/clients/{name}"));
        match self {
            Client::RubyNetSmtp => ("ruby".into(), vec![script("ruby-net-smtp.rb")]),
            Client::RubyMailGem => ("ruby".into(), vec![script("ruby-mail-gem.rb")]),
            Client::PerlNetSmtp => ("perl".into(), vec![script("perl-net-smtp.pl")]),
            Client::Aiosmtplib => (
                repo(".venv-clients/bin/python"),
                vec![script("aiosmtplib-send.py")],
            ),
            Client::Exim => (script("exim-send"), vec![]),
        }
    }

    /// A command that succeeds only when the client and what it needs are installed.
    fn probe(self) -> (PathBuf, Vec<String>) {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect();
        match self {
            Client::RubyNetSmtp => ("ruby".into(), args(&["-rnet/smtp", "-ropenssl", "-e1"])),
            Client::RubyMailGem => ("ruby".into(), args(&["-rmail", "-ropenssl", "-e1"])),
            Client::PerlNetSmtp => (
                "perl".into(),
                args(&["-MNet::SMTP", "-MAuthen::SASL", "-MIO::Socket::SSL", "-e1"]),
            ),
            Client::Aiosmtplib => (
                repo(".venv-clients/bin/python"),
                args(&["-c", "import aiosmtplib"]),
            ),
            // The binary runs (with an empty config) and the user it looks up at start exists.
            Client::Exim => (
                "sh".into(),
                args(&[
                    "-c",
                    "\"$0\" -C /dev/null -bV >/dev/null 2>&1 && id -u Debian-exim >/dev/null",
                    &repo(".exim-root/usr/sbin/exim4").to_string_lossy(),
                ]),
            ),
        }
    }

    /// Fails the test, saying to run `scripts/setup`, when the client is not installed.
    async fn require(self) {
        let (program, args) = self.probe();
        let status = tokio::process::Command::new(&program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .status();
        let ok = matches!(
            tokio::time::timeout(CLIENT_TIMEOUT, status).await,
            Ok(Ok(s)) if s.success()
        );
        assert!(
            ok,
            "{self:?} is not installed ({} {} failed): run scripts/setup, which installs the \
             real SMTP clients tests/real_clients.rs drives",
            program.display(),
            args.join(" ")
        );
    }

    /// Runs the client against `server` with `options` (`--auth login --user alice …`), stdin
    /// closed, killed if it outlives [`CLIENT_TIMEOUT`].
    pub async fn send(self, server: &FakeSmtpServer, options: &[&str]) -> ClientRun {
        self.require().await;
        let (program, before) = self.command();
        let child = tokio::process::Command::new(&program)
            .args(&before)
            .arg("127.0.0.1")
            .arg(server.port().to_string())
            .args(options)
            .current_dir(repo(""))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} for {self:?}: {e}: run scripts/setup",
                    program.display()
                )
            });
        // On timeout the future, and with it the child, is dropped: kill_on_drop ends it.
        let output = tokio::time::timeout(CLIENT_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("{self:?} did not finish within {CLIENT_TIMEOUT:?}"))
            .unwrap_or_else(|e| panic!("cannot collect the output of {self:?}: {e}"));
        ClientRun {
            client: self,
            options: options.iter().map(|s| (*s).to_owned()).collect(),
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// What a client run did.
#[derive(Debug)]
pub struct ClientRun {
    pub client: Client,
    pub options: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl ClientRun {
    /// What the client concluded: the last line it printed on stdout (`sent: 250 …`,
    /// `failed: 535 …`, `deferred: …`).
    pub fn conclusion(&self) -> &str {
        self.stdout.lines().last().unwrap_or("").trim_end()
    }

    /// Asserts that the client exited 0 and concluded `sent: <reply starting with prefix>`;
    /// `transcript` (the server's) is shown on failure.
    pub fn assert_sent(&self, reply_prefix: &str, transcript: &dyn fmt::Display) {
        assert!(
            self.status.success()
                && self
                    .conclusion()
                    .starts_with(&format!("sent: {reply_prefix}")),
            "expected {:?} to conclude \"sent: {reply_prefix}…\"\n{self}\n--- transcript\n\
             {transcript}",
            self.client
        );
    }

    /// Asserts that the client exited non-zero and concluded `<verdict>: <reply…>`, where the
    /// reply starts with `reply_prefix` (`failed: 535 5.7.8 …`); `transcript` (the server's)
    /// is shown on failure.
    pub fn assert_concluded(
        &self,
        verdict: &str,
        reply_prefix: &str,
        transcript: &dyn fmt::Display,
    ) {
        let expected = format!("{verdict}: {reply_prefix}");
        assert!(
            !self.status.success() && self.conclusion().starts_with(&expected),
            "expected {:?} to fail and conclude \"{expected}…\"\n{self}\n--- transcript\n{transcript}",
            self.client
        );
    }
}

impl fmt::Display for ClientRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} [{}] exited with {}\n--- stdout\n{}\n--- stderr\n{}",
            self.client,
            self.options.join(" "),
            self.status,
            self.stdout,
            self.stderr
        )
    }
}

/// A path relative to the repository root.
pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

/// Waits for the one connection the client made and returns its record; `run` is shown on
/// failure.
pub async fn only_session(server: &FakeSmtpServer, run: &ClientRun) -> SessionRecord {
    let mut records = server
        .wait_for_sessions(1, crate::common::WAIT)
        .await
        .unwrap_or_else(|e| panic!("the client's connection was not recorded: {e}\n{run}"));
    assert_eq!(
        records.len(),
        1,
        "expected exactly one connection, got {records:#?}\n{run}"
    );
    records.remove(0)
}

/// Asserts that `log` holds each of `lines`, in this order, and returns the offset after the
/// last one; `run` is shown on failure.
pub fn assert_in_order(log: &str, lines: &[&str], run: &ClientRun) -> usize {
    let mut from = 0;
    for line in lines {
        match log[from..].find(line) {
            Some(at) => from += at + line.len(),
            None => panic!(
                "expected {line:?} after offset {from} (in order: {lines:#?})\n--- transcript\n\
                 {log}\n{run}"
            ),
        }
    }
    from
}

/// Base64, to check what a client really sent (with `show_secrets`).
pub fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
