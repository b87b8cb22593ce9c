//! Helpers for `harness/tests/real_clients.rs`: run one of the real SMTP clients under
//! `scripts/clients/` against a fake server (or any server on a loopback port), with a
//! timeout, read what it concluded and the server's lines it logged; the fake server set up
//! like the Postfix front door; a recording proxy in front of Postfix for the clients that log
//! nothing.
//!
//! Included with `#[path = "common/real_clients.rs"] mod real_clients;`, next to
//! `#[path = "common/front_door.rs"] mod front_door;` (for [`front_door_like`]).

// Not every helper is used by every test.
#![allow(dead_code)]

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use smtp_harness::record::{RecordOptions, Recorder, Recording, UpstreamTrust};
use smtp_harness::{ConversationRecord, Event, FakeSmtpServer, ServerScenario, Transcript};

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
    /// PHPMailer 6.6.3 (Debian's libphp-phpmailer) on php-cli 8.2: `phpmailer-send.php`.
    PhpMailer,
    /// s-nail 14.9.24 and its own SMTP client: `s-nail-send`.
    SNail,
    /// mutt 2.2.12 (GnuTLS, GNU SASL) and its own SMTP client: `mutt-send`.
    Mutt,
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
            Client::PhpMailer => ("php".into(), vec![script("phpmailer-send.php")]),
            Client::SNail => (script("s-nail-send"), vec![]),
            Client::Mutt => (script("mutt-send"), vec![]),
        }
    }

    /// The host name the client is given for a server on 127.0.0.1: `localhost` for s-nail,
    /// which matches a certificate's DNS names only, never its IP address SANs (the test
    /// certificate has both); the address itself for the others.
    pub fn host(self) -> &'static str {
        match self {
            Client::SNail => "localhost",
            _ => "127.0.0.1",
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
            Client::PhpMailer => (
                "php".into(),
                args(&[
                    "-r",
                    "require '/usr/share/php/libphp-phpmailer/autoload.php'; \
                     exit(class_exists('PHPMailer\\PHPMailer\\SMTP') \
                     && extension_loaded('openssl') ? 0 : 1);",
                ]),
            ),
            Client::SNail => ("s-nail".into(), args(&["-:/", "-Xversion", "-Xx"])),
            Client::Mutt => ("mutt".into(), args(&["-n", "-F", "/dev/null", "-v"])),
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
             real SMTP clients harness/tests/real_clients.rs drives",
            program.display(),
            args.join(" ")
        );
    }

    /// Runs the client against `server` with `options` (`--auth login --user alice …`), stdin
    /// closed, killed if it outlives [`CLIENT_TIMEOUT`].
    pub async fn send(self, server: &FakeSmtpServer, options: &[&str]) -> ClientRun {
        self.send_to(server.addr(), options).await
    }

    /// Runs the client against the server on the loopback address `addr` (as [`Client::host`]
    /// and the port), as [`Client::send`] does.
    pub async fn send_to(self, addr: SocketAddr, options: &[&str]) -> ClientRun {
        assert!(addr.ip().is_loopback(), "{addr}: loopback servers only");
        self.require().await;
        let (program, before) = self.command();
        let child = tokio::process::Command::new(&program)
            .args(&before)
            .arg(self.host())
            .arg(addr.port().to_string())
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
pub async fn only_session(server: &FakeSmtpServer, run: &ClientRun) -> ConversationRecord {
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

// --- Against Postfix: the server's lines as the client saw them ------------------------------

/// A reply line that another line follows (`250-PIPELINING`).
fn continued(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && b[3] == b'-'
}

/// The server lines in `log`: each line that `first` recognises (it returns the reply line in
/// it), and after a continued one (`250-…`) the lines that follow it, trimmed, for clients
/// that log a multi-line reply as one entry (PHPMailer, Exim).
fn reply_lines(log: &str, first: impl Fn(&str) -> Option<&str>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut open = false;
    for line in log.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(reply) = first(line) {
            open = continued(reply);
            lines.push(reply.to_owned());
        } else if open {
            let reply = line.trim();
            open = continued(reply);
            lines.push(reply.to_owned());
        }
    }
    lines
}

/// Ruby's `inspect` of a line, `"250 2.1.0 Ok\r\n"`, back to `250 2.1.0 Ok`.
fn ruby_uninspect(quoted: &str) -> Option<String> {
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let inner = inner.strip_suffix("\\r\\n").unwrap_or(inner);
    Some(inner.replace("\\\"", "\"").replace("\\\\", "\\"))
}

impl ClientRun {
    /// The server's lines (replies, one line each, without CRLF) as the client itself logged
    /// them, in order; `None` for aiosmtplib and the mail gem, which log nothing (their
    /// server side is taken from a recording proxy, [`record_one`], or the fake server's
    /// transcript).
    pub fn server_lines(&self) -> Option<Vec<String>> {
        let lines = match self.client {
            // `-> "220 mx.test ESMTP\r\n"` (set_debug_output).
            Client::RubyNetSmtp => self
                .stderr
                .lines()
                .filter_map(|l| ruby_uninspect(l.strip_prefix("-> ")?))
                .collect(),
            // `Net::SMTP=GLOB(0x…)<<< 220 mx.test ESMTP` (Debug => 1).
            Client::PerlNetSmtp => self
                .stderr
                .lines()
                .filter(|l| l.starts_with("Net::SMTP"))
                .filter_map(|l| l.split_once(")<<< ").map(|(_, reply)| reply.to_owned()))
                .collect(),
            Client::Aiosmtplib | Client::RubyMailGem => return None,
            // `  SMTP<< 250-mx.test`, the rest of the reply indented below it (-v); the main
            // log that exim-send prints after its dialogue has no SMTP<< lines.
            Client::Exim => reply_lines(&self.stdout, |l| l.strip_prefix("  SMTP<< ")),
            // `SERVER -> CLIENT: 250-mx.test`, the rest of the reply on the lines below it.
            Client::PhpMailer => {
                reply_lines(&self.stderr, |l| l.strip_prefix("SERVER -> CLIENT: "))
            }
            // `s-nail: >>> SERVER: 220 mx.test ESMTP` (-vv).
            Client::SNail => reply_lines(&self.stderr, |l| l.strip_prefix("s-nail: >>> SERVER: ")),
            // `[2026-01-01 12:00:00] 4< 220 mx.test ESMTP` (-d 2).
            Client::Mutt => reply_lines(&self.stderr, |l| {
                let (_, rest) = l.strip_prefix('[')?.split_once("] ")?;
                let (fd, reply) = rest.split_once("< ")?;
                fd.bytes().all(|b| b.is_ascii_digit()).then_some(reply)
            }),
        };
        Some(lines)
    }

    /// The size in the client's `BDAT <n> LAST`, when it sent one (Exim, when CHUNKING is
    /// offered).
    pub fn bdat_size(&self) -> Option<usize> {
        let log = format!("{}\n{}", self.stdout, self.stderr);
        let at = log.find("BDAT ")?;
        let rest = &log[at + "BDAT ".len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        rest[digits.len()..]
            .starts_with(" LAST")
            .then(|| digits.parse().ok())
            .flatten()
    }

    /// [`ClientRun::conclusion`] with [`same_queue_ids`] applied.
    pub fn normalised_conclusion(&self) -> String {
        same_queue_ids(self.conclusion(), self.bdat_size())
    }
}

/// A line with the parts that differ from one delivery to the next made alike: the queue id
/// (`queued as 31EBA98E07D` → `queued as QUEUE-ID`), and after BDAT the size Postfix repeats
/// (`Ok: 372 bytes queued as` → `Ok: <BDAT size> bytes queued as`), but only when it is the
/// size the client announced in its `BDAT n LAST` (`bdat`): another number stays as it is.
pub fn same_queue_ids(line: &str, bdat: Option<usize>) -> String {
    let Some((head, tail)) = line.split_once("queued as ") else {
        return line.to_owned();
    };
    let id_end = tail
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(tail.len());
    let head = match bdat {
        Some(n) => head.replace(&format!(" {n} bytes "), " <BDAT size> bytes "),
        None => head.to_owned(),
    };
    format!("{head}queued as QUEUE-ID{}", &tail[id_end..])
}

/// The server's lines of a transcript (the fake server's record, or the recording proxy's
/// of Postfix), without CRLF.
pub fn transcript_server_lines(transcript: &Transcript) -> Vec<String> {
    transcript
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Server(line) => Some(
                String::from_utf8_lossy(line)
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
            ),
            _ => None,
        })
        .collect()
}

/// The fake server set up as the Postfix front door is (`front_door::FrontDoor::
/// start_with_tls()`): its greeting and EHLO lists (with STARTTLS and the `valid` test
/// certificate before TLS, without inside it) and its HELO answer, as in
/// `harness/tests/postfix_parity.rs` — configuration, not protocol — and one more piece of
/// configuration, Postfix's refusal to relay, for the one foreign address the tests send to.
/// (The scenario language has no way to put the address of the command into the reply, so
/// the rule names that address rather than `*@elsewhere.test`.) Everything else is the
/// fake server's own.
pub fn front_door_like() -> ServerScenario {
    use testkit::front_door::HOSTNAME;
    let text = format!(
        "hostname {HOSTNAME}\ncertificate valid\nS: 220 {HOSTNAME} ESMTP Postfix\n\
when EHLO plain\n    S: 250-{HOSTNAME}\n    S: 250-PIPELINING\n    S: 250-SIZE 10240000\n    S: 250-VRFY\n    S: 250-ETRN\n    S: 250-STARTTLS\n    S: 250-ENHANCEDSTATUSCODES\n    S: 250-8BITMIME\n    S: 250-DSN\n    S: 250-SMTPUTF8\n    S: 250 CHUNKING\n\
when EHLO tls\n    S: 250-{HOSTNAME}\n    S: 250-PIPELINING\n    S: 250-SIZE 10240000\n    S: 250-VRFY\n    S: 250-ETRN\n    S: 250-ENHANCEDSTATUSCODES\n    S: 250-8BITMIME\n    S: 250-DSN\n    S: 250-SMTPUTF8\n    S: 250 CHUNKING\n\
when HELO\n    S: 250 {HOSTNAME}\n\
when RCPT TO:<{FOREIGN}>\n    S: 554 5.7.1 <{FOREIGN}>: Relay access denied\n"
    );
    ServerScenario::parse(&text, "<front door configuration>").expect("the scenario parses")
}

/// The address Postfix does not relay to.
pub const FOREIGN: &str = "someone@elsewhere.test";

/// A recording proxy (`smtp_harness::record`) in front of `upstream` (Postfix on a loopback
/// port), trusting the test CA toward it and presenting the harness's `valid` certificate
/// (signed by the same CA) to the client. Returns where it listens and the recording of the
/// one connection it takes.
pub async fn record_one(upstream: SocketAddr) -> (SocketAddr, tokio::task::JoinHandle<Recording>) {
    let options = RecordOptions::new(&upstream.to_string())
        .and_then(|o| {
            o.trust(&UpstreamTrust::CaPem(
                smtp_harness::certs::embedded_ca_pem().to_owned(),
            ))
        })
        .and_then(|o| o.upstream_name(&upstream.ip().to_string()))
        .expect("recording options")
        .timeout(crate::common::WAIT)
        .accept_limit(1);
    let mut recorder = Recorder::start("127.0.0.1:0", options)
        .await
        .expect("the recorder listens");
    let addr = recorder.addr();
    let task = tokio::spawn(async move {
        recorder
            .next_recording()
            .await
            .expect("the client connects")
            .expect("the client is accepted")
    });
    (addr, task)
}

/// The recording of the one connection [`record_one`] took, waited for within
/// [`CLIENT_TIMEOUT`]; `run` is shown on failure.
pub async fn recorded(task: tokio::task::JoinHandle<Recording>, run: &ClientRun) -> Recording {
    tokio::time::timeout(CLIENT_TIMEOUT, task)
        .await
        .unwrap_or_else(|_| panic!("the proxied connection did not end in time\n{run}"))
        .unwrap_or_else(|e| panic!("the recorder failed: {e}\n{run}"))
}
