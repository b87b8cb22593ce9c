//! Helpers for the appliance's integration tests: temporary data directories, candidate
//! settings files, the fake SMTP server (smtp-harness, used as any user would), and running
//! the real `appliance` binary with a timeout.
#![allow(dead_code)]

pub mod appliance_runs;
pub mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use smtp_harness::{AnyScenario, FakeSmtpServer, ServerScenario};

/// Every wait in the tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(20);

/// The credentials the inline scenarios accept.
pub const USER: &str = "alice";
/// The password the inline scenarios accept.
pub const PASSWORD: &str = "s3cret";

/// The test CA (trusted through `ca_file`).
pub fn ca_file() -> String {
    repo("certs/ca.pem")
}

/// A path in the repository, as a string.
pub fn repo(path: &str) -> String {
    format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))
}

/// A shipped scenario, e.g. `reference/auth-login-535.scn`.
pub fn shipped(name: &str) -> ServerScenario {
    ServerScenario::from_file(repo(&format!("scenarios/{name}"))).expect("shipped scenario loads")
}

/// A shipped scenario of either role.
pub fn shipped_any(name: &str) -> AnyScenario {
    AnyScenario::from_file(repo(&format!("scenarios/{name}"))).expect("shipped scenario loads")
}

/// An inline scenario.
pub fn inline(text: &str) -> ServerScenario {
    ServerScenario::parse(text, "<inline>").expect("inline scenario parses")
}

/// An inline client scenario (`role client`).
pub fn inline_client(text: &str) -> smtp_harness::ClientScenario {
    smtp_harness::ClientScenario::parse(text, "<inline>").expect("inline scenario parses")
}

/// Accepts alice/s3cret with any mechanism, refuses anything else.
pub const ACCEPT_ALICE: &str = "certificate valid\n\
when AUTH user=alice password=s3cret\n    S: 235 2.7.0 ok\n\
when AUTH\n    S: 535 5.7.8 no\n";

/// A fake server that does not panic on drop (the tests judge the records themselves).
pub async fn server(scenario: ServerScenario) -> FakeSmtpServer {
    FakeSmtpServer::builder(scenario)
        .verify_on_drop(false)
        .start()
        .await
        .expect("the fake server starts")
}

/// A temporary directory, unique per test, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory named after the test.
    pub fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "appliance-test-{}-{name}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The data directory inside it (not created: the appliance creates what it needs).
    pub fn data_dir(&self) -> PathBuf {
        self.0.join("data")
    }

    /// The active settings file of the data directory.
    pub fn active_settings(&self) -> PathBuf {
        self.data_dir().join("settings.toml")
    }

    /// The conversation log's contents ("" when there is none).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("logs/unicorn.log")).unwrap_or_default()
    }

    /// Writes a file in the directory and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Candidate settings: the `[email]` keys with their TOML values, in order.
#[derive(Clone, Debug)]
pub struct Candidate {
    hostname: String,
    email: Vec<(String, String)>,
}

impl Candidate {
    /// STARTTLS and AUTH PLAIN as alice to 127.0.0.1:`port`, trusting the test CA.
    pub fn new(port: u16) -> Self {
        let q = |s: &str| format!("{s:?}");
        Candidate {
            hostname: "appliance.example.com".into(),
            email: vec![
                ("enabled".into(), "true".into()),
                ("address".into(), q("127.0.0.1")),
                ("port".into(), port.to_string()),
                ("encryption".into(), q("starttls")),
                ("authentication".into(), q("plain")),
                ("username".into(), q(USER)),
                ("password".into(), q(PASSWORD)),
                ("ca_file".into(), q(&ca_file())),
                ("noreply_address".into(), q("noreply@appliance.example.com")),
                ("discard_to_noreply".into(), "true".into()),
                ("support".into(), q("https://support.example.com")),
                ("timeout_secs".into(), "10".into()),
            ],
        }
    }

    /// No encryption and no authentication.
    pub fn plain(port: u16) -> Self {
        Candidate::new(port)
            .set("encryption", "none")
            .set("authentication", "none")
            .remove("username")
            .remove("password")
    }

    /// Sets a string value.
    pub fn set(self, key: &str, value: &str) -> Self {
        self.set_raw(key, &format!("{value:?}"))
    }

    /// Sets a raw TOML value (numbers, booleans).
    pub fn set_raw(mut self, key: &str, value: &str) -> Self {
        match self.email.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_owned(),
            None => self.email.push((key.to_owned(), value.to_owned())),
        }
        self
    }

    /// Removes a key.
    pub fn remove(mut self, key: &str) -> Self {
        self.email.retain(|(k, _)| k != key);
        self
    }

    /// The TOML text.
    pub fn toml(&self) -> String {
        let mut out = format!("hostname = {:?}\n\n[email]\n", self.hostname);
        for (k, v) in &self.email {
            out.push_str(&format!("{k} = {v}\n"));
        }
        out
    }

    /// Writes it into `dir` as `candidate.toml`.
    pub fn write(&self, dir: &TempDir) -> PathBuf {
        dir.write("candidate.toml", &self.toml())
    }
}

/// What the `appliance` binary did.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Standard output and standard error together.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs the real `appliance` binary (killed if it takes longer than [`WAIT`]).
pub async fn appliance(args: &[&str]) -> Run {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_appliance"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the appliance binary starts");
    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("the appliance binary finished in time")
        .expect("the appliance binary ran");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `appliance --data-dir DIR email test --to admin@example.com --settings CANDIDATE [extra]`.
pub async fn email_test(dir: &TempDir, candidate: &Candidate, extra: &[&str]) -> Run {
    let file = candidate.write(dir);
    let data_dir = dir.data_dir();
    let mut args = vec![
        "--data-dir",
        data_dir.to_str().unwrap(),
        "email",
        "test",
        "--to",
        "admin@example.com",
        "--settings",
        file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    appliance(&args).await
}

/// The lines of a log or transcript that went over the wire (`->` and `<-`), without the
/// appliance's `<- [message: N bytes]` line (the server records the content differently).
pub fn wire_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("-> ") || l.starts_with("<- \""))
        .map(str::to_owned)
        .collect()
}

/// A port on which nothing listens.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Writes the candidate as the data directory's active settings.
pub fn install(dir: &TempDir, candidate: &Candidate) -> PathBuf {
    std::fs::create_dir_all(dir.data_dir()).expect("data dir");
    let path = dir.active_settings();
    std::fs::write(&path, candidate.toml()).expect("write settings");
    path
}

/// `appliance --data-dir DIR ARGS…`
pub async fn run_in(dir: &TempDir, args: &[&str]) -> Run {
    let data_dir = dir.data_dir();
    let mut all = vec!["--data-dir", data_dir.to_str().unwrap()];
    all.extend_from_slice(args);
    appliance(&all).await
}

/// `appliance notify issue-comment` on `octo/widgets#42` for bob, with comment `comment_id`;
/// `extra` options replace the defaults (`--to x`) or are added (`--send-now`).
pub async fn notify_issue(dir: &TempDir, comment_id: u64, extra: &[&str]) -> Run {
    let id = comment_id.to_string();
    let mut args = vec![
        "notify",
        "issue-comment",
        "--repo",
        "octo/widgets",
        "--number",
        "42",
        "--comment-id",
        &id,
        "--to",
        "bob@example.com",
        "--to-user",
        "bob",
        "--author",
        "Alice Liddell",
        "--subject",
        "Widgets fall over",
        "--body",
        "I can reproduce this.",
    ];
    let mut i = 0;
    while i < extra.len() {
        let has_value = extra.get(i + 1).is_some_and(|v| !v.starts_with("--"));
        match args.iter().position(|a| *a == extra[i]) {
            Some(at) if has_value => args[at + 1] = extra[i + 1],
            _ if has_value => args.extend_from_slice(&extra[i..i + 2]),
            _ => args.push(extra[i]),
        }
        i += if has_value { 2 } else { 1 };
    }
    run_in(dir, &args).await
}

/// The names of the files in a state directory of the outbox (`new`, `inflight`, `sent`,
/// `failed`), sorted.
pub fn outbox_files(dir: &TempDir, state: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.data_dir().join("outbox").join(state))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The Message-ID header of a captured message, without angle brackets.
pub fn message_id(m: &smtp_harness::ReceivedMessage) -> String {
    m.header("Message-ID")
        .unwrap_or_default()
        .trim_matches(|c| c == '<' || c == '>')
        .to_owned()
}
