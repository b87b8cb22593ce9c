//! Client scenarios in `smtp-harness run`: the harness plays the remote MTA against the
//! appliance's inbound side, started for the run from outside like any receiver would be:
//! `appliance inbound serve` (its SMTP server) and `appliance replies process --watch` (its
//! reply processor), on a fresh data folder. With `notify`, the appliance first sends a
//! notification into a fake server, and its Reply-To feeds the script: the whole loop.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::{Job, JobResult, RunContext, Verdict};
use crate::certs::CertVariant;
use crate::client::{ClientOptions, play};
use crate::scenario::{ClientScenario, NotifySpec, ReceiverSpec, ServerScenario};
use crate::server::FakeSmtpServer;
use crate::transcript::Render;

/// How long the receiver's programs get to start, and the effects to appear.
const SETTLE: Duration = Duration::from_secs(10);

/// Runs a client scenario (the job's) against a freshly started appliance receiver.
pub async fn run_receiver_job(job: &Job, scenario: &ClientScenario, ctx: &RunContext) -> JobResult {
    let start = Instant::now();
    let outcome = drive(scenario, ctx).await;
    let (verdict, observed, problems, details, records) = match outcome {
        Ok((record, notes)) => {
            let verdict = if record.passed() {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            let problems: Vec<String> = record.failures.iter().map(ToString::to_string).collect();
            let observed = if record.passed() {
                "as scripted".to_owned()
            } else {
                "off the script".to_owned()
            };
            let mut details = String::from("transcript (the harness as the remote MTA):\n");
            for l in record.transcript.to_log(Render::default()).lines() {
                details.push_str("   ");
                details.push_str(l);
                details.push('\n');
            }
            details.push_str(&notes);
            let records = vec![record];
            (verdict, observed, problems, details, records)
        }
        Err(problem) => (
            Verdict::Fail,
            "not run".to_owned(),
            vec![problem],
            String::new(),
            Vec::new(),
        ),
    };
    JobResult {
        scenario: job.name.clone(),
        case: super::CaseLabel::of(&scenario.header),
        sender: job.sender,
        verdict,
        observed,
        problems,
        details,
        elapsed: start.elapsed(),
        records,
    }
}

/// The appliance's inbound side, started for a test or a run: its MTA (`inbound serve`) and
/// its reply processor (`replies process --watch`) on a fresh data folder, with a fake server
/// to receive its notifications. Start it, play client scenarios against [`Self::addr`] with
/// [`Self::client_options`], then [`Self::stop`] it.
pub struct ApplianceReceiver {
    /// Where its MTA listens.
    pub addr: std::net::SocketAddr,
    /// Its data folder (maildir, incoming-mail, comments, logs).
    pub data: std::path::PathBuf,
    /// Template variables from the notification (`reply_to`, `reply_to_tampered`,
    /// `noreply_cc`, `in_reply_to`, `user_address`), empty without `notify`.
    pub vars: Vec<(String, String)>,
    server: Child,
    processor: Child,
    _outbound: FakeSmtpServer,
    _work: tempfile::TempDir,
}

impl ApplianceReceiver {
    /// Writes the settings, sends the notification (if any), starts the MTA and the processor.
    ///
    /// # Errors
    /// A description of what could not be started.
    pub async fn start(spec: &ReceiverSpec, ctx: &RunContext) -> Result<Self, String> {
        let work = tempfile::Builder::new()
            .prefix("smtp-harness-receiver-")
            .tempdir()
            .map_err(|e| format!("cannot make a work directory: {e}"))?;
        let data = work.path().join("appliance");
        std::fs::create_dir_all(&data)
            .map_err(|e| format!("cannot make {}: {e}", data.display()))?;
        let appliance = &ctx.tools.appliance;
        // The loop: a fake server receives the appliance's notification first.
        let outbound = FakeSmtpServer::builder(ServerScenario::accept_all())
            .verify_on_drop(false)
            .start()
            .await
            .map_err(|e| format!("cannot start the fake server for notifications: {e}"))?;
        write_settings(spec, work.path(), &data, outbound.port(), ctx)?;
        let vars = match &spec.notify {
            Some(notify) => {
                notification(appliance, &data, notify, spec.token_age, &outbound).await?
            }
            None => Vec::new(),
        };
        let mut server = spawn(
            appliance,
            &data,
            &["inbound", "serve", "--listen", "127.0.0.1:0"],
        )?;
        let addr = listening_on(&mut server).await?;
        let processor = spawn(appliance, &data, &["replies", "process", "--watch"])?;
        Ok(ApplianceReceiver {
            addr,
            data,
            vars,
            server,
            processor,
            _outbound: outbound,
            _work: work,
        })
    }

    /// Client options for playing against it: the test CA, its variables, its folder for
    /// effects (waiting up to 5 s for the processor).
    ///
    /// # Errors
    /// When the built-in test CA does not load.
    pub fn client_options(&self) -> Result<ClientOptions, String> {
        let mut options = ClientOptions::test_ca(SETTLE)
            .map_err(|e| e.to_string())?
            .effects_dir(&self.data);
        options.effects_wait = Duration::from_secs(5);
        for (name, value) in &self.vars {
            options = options.var(name, value);
        }
        Ok(options)
    }

    /// Stops both programs and returns what the receiver did (folder counts, the processor's
    /// moves) and the tail of its logs.
    pub async fn stop(mut self) -> String {
        stop(&mut self.processor).await;
        stop(&mut self.server).await;
        let mut notes = effects_summary(&self.data);
        for log in ["logs/mail.log", "logs/mail-replies/metroplex.log"] {
            if let Ok(text) = std::fs::read_to_string(self.data.join(log)) {
                notes.push_str(&format!("{log}:\n"));
                let lines: Vec<&str> = text.lines().collect();
                for l in &lines[lines.len().saturating_sub(20)..] {
                    notes.push_str("   ");
                    notes.push_str(l);
                    notes.push('\n');
                }
            }
        }
        notes
    }
}

/// Starts the receiver, plays the script, and returns the client's record plus what the
/// receiver did.
async fn drive(
    scenario: &ClientScenario,
    ctx: &RunContext,
) -> Result<(crate::verify::ConversationRecord, String), String> {
    let spec = scenario.receiver.clone().unwrap_or_default();
    let receiver = ApplianceReceiver::start(&spec, ctx).await?;
    let options = receiver.client_options()?;
    let record = play(scenario, receiver.addr, &options).await;
    Ok((record, receiver.stop().await))
}

/// What the receiver did, in words that stay the same from run to run: how many files each
/// folder holds, and the processor's moves and refusals with paths made relative and maildir
/// names replaced by `[message]`.
fn effects_summary(data: &Path) -> String {
    let mut out = String::from("receiver effects:\n");
    for dir in [
        "mail/reply/tmp",
        "mail/reply/new",
        "incoming-mail/success",
        "incoming-mail/failure",
        "comments",
    ] {
        let count = std::fs::read_dir(data.join(dir))
            .map(|d| d.flatten().filter(|e| e.path().is_file()).count())
            .unwrap_or(0);
        out.push_str(&format!("   {dir}: {count} file(s)\n"));
    }
    // The comments, as the product would show them: thread, user, text.
    let mut comments: Vec<String> = std::fs::read_dir(data.join("comments"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    comments.sort();
    for text in comments {
        let Ok(c) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let field = |k: &str| c.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_owned();
        out.push_str(&format!(
            "   comment on {} by {}: {:?}\n",
            field("thread"),
            field("user"),
            field("body")
        ));
    }
    let root = format!("{}/", data.display());
    if let Ok(log) = std::fs::read_to_string(data.join("logs/mail-replies/metroplex.log")) {
        for line in log.lines() {
            let Some(at) = line.find("] ") else { continue };
            let text = line[at + 2..].replace(&root, "");
            let text = maildir_names(&text);
            if text.starts_with("Moving")
                || text.contains("rejected")
                || text.contains("processing")
            {
                out.push_str(&format!("   {text}\n"));
            }
        }
    }
    out
}

/// Replaces maildir file names (`mail/reply/new/1700000000.M1P2Q3.host`) by `[message]`.
fn maildir_names(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("mail/reply/new/") {
        let after = i + "mail/reply/new/".len();
        out.push_str(&rest[..after]);
        out.push_str("[message]");
        let end = rest[after..]
            .find([' ', ':', ','])
            .map_or(rest.len(), |e| after + e);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn write_settings(
    spec: &ReceiverSpec,
    work: &Path,
    data: &Path,
    outbound_port: u16,
    ctx: &RunContext,
) -> Result<(), String> {
    let host = &spec.hostname;
    let mut text = format!(
        "hostname = {host:?}\n\n[email]\nenabled = true\naddress = \"127.0.0.1\"\nport = {outbound_port}\n\
         encryption = \"none\"\nauthentication = \"none\"\nnoreply_address = \"noreply@{host}\"\n\
         discard_to_noreply = {}\nsupport = \"https://support.{host}\"\ntimeout_secs = 5\n\n[inbound]\nlisten = \"127.0.0.1:0\"\n",
        spec.discard_to_noreply
    );
    if let Some(size) = spec.size {
        text.push_str(&format!("max_message_size = {size}\n"));
    }
    if spec.tls {
        let bundle = ctx
            .certs
            .bundle(CertVariant::Valid)
            .map_err(|e| e.to_string())?;
        let (cert, key) = (work.join("inbound.pem"), work.join("inbound.key.pem"));
        write(&cert, &bundle.chain_pem)?;
        write(&key, &bundle.key_pem)?;
        text.push_str(&format!(
            "tls_cert = {:?}\ntls_key = {:?}\n",
            path_text(&cert),
            path_text(&key)
        ));
    }
    write(&data.join("settings.toml"), &text)
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Has the appliance send a notification into `outbound` and returns the template variables
/// its message gives the script.
async fn notification(
    appliance: &Path,
    data: &Path,
    notify: &NotifySpec,
    age: Option<Duration>,
    outbound: &FakeSmtpServer,
) -> Result<Vec<(String, String)>, String> {
    let (command, number_flag) = match notify.kind.as_str() {
        "issue" => ("issue-comment", "--number"),
        "pr" => ("pr-comment", "--number"),
        _ => ("commit-comment", "--commit"),
    };
    let issued_at = age.map(|age| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        now.saturating_sub(age).as_secs().to_string()
    });
    let mut args = vec![
        "notify",
        command,
        "--repo",
        &notify.repo,
        number_flag,
        &notify.number,
        "--comment-id",
        "1",
        "--to",
        &notify.address,
        "--to-user",
        &notify.user,
        "--author",
        "Octo Cat",
        "--subject",
        "A thread for the harness",
        "--body",
        "A comment to reply to.",
        "--send-now",
    ];
    if let Some(at) = &issued_at {
        args.extend(["--issued-at", at.as_str()]);
    }
    let out = tokio::time::timeout(SETTLE, command_in(appliance, data, &args).output())
        .await
        .map_err(|_| "appliance notify did not finish in time".to_owned())?
        .map_err(|e| format!("cannot run {}: {e}", appliance.display()))?;
    if !out.status.success() {
        return Err(format!(
            "appliance notify failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let messages = outbound
        .wait_for_messages(1, SETTLE)
        .await
        .map_err(|e| format!("the notification never arrived: {e}"))?;
    let m = &messages[0];
    let address = |header: &str| {
        m.header(header).map(|v| match (v.find('<'), v.rfind('>')) {
            (Some(a), Some(b)) if a < b => v[a + 1..b].to_owned(),
            _ => v.trim().to_owned(),
        })
    };
    let mut vars = Vec::new();
    let reply_to = address("Reply-To").ok_or("the notification has no Reply-To")?;
    vars.push(("reply_to_tampered".into(), tampered(&reply_to)));
    vars.push(("reply_to".into(), reply_to));
    if let Some(cc) = address("Cc") {
        vars.push(("noreply_cc".into(), cc));
    }
    if let Some(id) = m.header("Message-ID") {
        vars.push(("in_reply_to".into(), id));
    }
    vars.push(("user_address".into(), notify.address.clone()));
    Ok(vars)
}

/// The reply address with one character of its token changed (`reply+abc…` → `reply+bbc…`).
fn tampered(address: &str) -> String {
    let Some(at) = address
        .find('+')
        .map(|i| i + 1)
        .filter(|i| *i < address.len())
    else {
        return address.to_owned();
    };
    let mut bytes = address.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
    String::from_utf8(bytes).unwrap_or_else(|_| address.to_owned())
}

fn command_in(appliance: &Path, data: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(appliance);
    command
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

fn spawn(appliance: &Path, data: &Path, args: &[&str]) -> Result<Child, String> {
    command_in(appliance, data, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run {} {}: {e} (build the appliance: cargo build -p appliance)",
                appliance.display(),
                args.join(" ")
            )
        })
}

/// Reads the `listening on ADDR` line a server prints first.
async fn listening_on(child: &mut Child) -> Result<std::net::SocketAddr, String> {
    let stdout = child.stdout.take().ok_or("no standard output")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(SETTLE, lines.next_line())
        .await
        .map_err(|_| "appliance inbound serve printed nothing in time".to_owned())?
        .map_err(|e| e.to_string())?
        .ok_or("appliance inbound serve exited before listening")?;
    first
        .strip_prefix("listening on ")
        .and_then(|a| a.trim().parse().ok())
        .ok_or_else(|| {
            format!("expected `listening on ADDR` from appliance inbound serve, got {first:?}")
        })
}

/// Stops a child with SIGTERM, then kills it if it lingers.
async fn stop(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
    }
    if tokio::time::timeout(Duration::from_secs(3), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}
