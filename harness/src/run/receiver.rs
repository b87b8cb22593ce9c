//! Client scenarios in `smtp-harness run`: the harness plays the remote MTA against a receiver
//! started for the run through its adapter (the receiver contract in [`super::adapters`]): a
//! fresh data folder, the receiver block's settings, `var` lines for the script, `listening on
//! ADDR`, and SIGTERM at the end.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;

use super::adapters::{AdapterCommand, AdapterError};
use super::{Job, JobResult, RunContext, Verdict};
use crate::certs::CertVariant;
use crate::client::{ClientOptions, play};
use crate::scenario::{ClientScenario, ReceiverSpec};
use crate::transcript::Render;

/// How long an adapter may take to print `listening on ADDR`.
const START: Duration = Duration::from_secs(20);
/// How long an adapter may take to exit after SIGTERM before it is killed.
const STOP: Duration = Duration::from_secs(15);
/// How long the client waits for each reply, and for effects to appear.
const CLIENT_WAIT: Duration = Duration::from_secs(10);
const EFFECTS_WAIT: Duration = Duration::from_secs(5);
/// How much of what the adapter prints on standard error is kept, for errors.
const STDERR_KEPT: usize = 8 * 1024;

/// Runs a client scenario against a freshly started receiver.
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
            vec![problem.to_string()],
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

/// Starts the receiver, plays the script, and returns the client's record plus what the
/// receiver reported.
async fn drive(
    scenario: &ClientScenario,
    ctx: &RunContext,
) -> Result<(crate::verify::ConversationRecord, String), ReceiverError> {
    let spec = scenario.receiver.clone().unwrap_or_default();
    let origin = scenario.header.origin();
    let at = format!("{origin}:{}", spec.line);
    let receiver = AdapterReceiver::start_at(&spec, ctx, &at).await?;
    let options = receiver.client_options()?;
    let record = play(scenario, receiver.addr, &options).await;
    Ok((record, receiver.stop().await))
}

/// Why a receiver could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    /// The adapter is not declared.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    /// A file or folder for it could not be made.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The harness's certificates could not be read.
    #[error("cannot read the harness's certificates: {0}")]
    Certs(#[from] crate::certs::CertError),
    /// The program could not be started.
    #[error("cannot run the receiver adapter `{name}` ({program}): {source}")]
    Spawn {
        /// The adapter.
        name: String,
        /// Its program.
        program: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// It did not print `listening on ADDR`.
    #[error("the receiver adapter `{name}` {what}{}", said_text(.said))]
    NotListening {
        /// The adapter.
        name: String,
        /// What happened instead.
        what: String,
        /// What it printed on standard output and standard error meanwhile.
        said: String,
    },
}

fn said_text(said: &str) -> String {
    if said.trim().is_empty() {
        String::new()
    } else {
        let lines: Vec<String> = said
            .trim_end()
            .lines()
            .map(|l| format!("         {l}"))
            .collect();
        format!("; it said:\n{}", lines.join("\n"))
    }
}

/// A receiver started through its adapter for a test or a run: start it, play client
/// scenarios against [`Self::addr`] with [`Self::client_options`], then [`Self::stop`] it.
/// Dropped without `stop`, it is sent SIGTERM.
pub struct AdapterReceiver {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its data folder (`{work}`), where effects are looked for.
    pub data: PathBuf,
    /// The template variables it printed (`var NAME VALUE`), in order.
    pub vars: Vec<(String, String)>,
    child: Child,
    report: JoinHandle<String>,
    _dir: tempfile::TempDir,
}

impl AdapterReceiver {
    /// Starts the receiver adapter `spec.name` of `ctx.adapters` with the spec's settings and
    /// waits for its `listening on ADDR`.
    ///
    /// # Errors
    /// When the adapter is not declared, cannot be run, or does not start listening.
    pub async fn start(spec: &ReceiverSpec, ctx: &RunContext) -> Result<Self, ReceiverError> {
        Self::start_at(spec, ctx, "receiver").await
    }

    /// As [`Self::start`]; `at` names who asked (the scenario's line), for errors.
    async fn start_at(
        spec: &ReceiverSpec,
        ctx: &RunContext,
        at: &str,
    ) -> Result<Self, ReceiverError> {
        let adapter = ctx.adapters.receiver(&spec.name, at)?;
        let dir = tempfile::Builder::new()
            .prefix("smtp-harness-receiver-")
            .tempdir()
            .map_err(|source| ReceiverError::Io {
                path: std::env::temp_dir(),
                source,
            })?;
        let data = dir.path().join("work");
        make_dir(&data)?;
        let tls = tls_files(spec.tls, dir.path(), ctx)?;
        let argv = adapter.argv(
            &contract_values(&data, &tls),
            &[("settings", settings(spec))],
        );
        let mut child = spawn(adapter, &argv, ctx)?;
        let stderr = collect_stderr(&mut child);
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let started = tokio::time::timeout(START, read_until_listening(&mut lines)).await;
        let (vars, addr) = match started {
            Ok(Ok(found)) => found,
            failed => {
                let what = match failed {
                    Ok(Err(what)) => what,
                    _ => format!(
                        "printed no `listening on ADDR` within {} s",
                        START.as_secs()
                    ),
                };
                // Let it stop what it may have started, then make sure it is gone.
                if let Some(pid) = child.id() {
                    terminate(pid);
                }
                if tokio::time::timeout(STOP, child.wait()).await.is_err() {
                    let _ = child.kill().await;
                }
                let said = tokio::time::timeout(Duration::from_secs(1), stderr)
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                return Err(ReceiverError::NotListening {
                    name: adapter.name.clone(),
                    what,
                    said,
                });
            }
        };
        let report = tokio::spawn(async move {
            let mut report = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                report.push_str(&line);
                report.push('\n');
            }
            report
        });
        Ok(AdapterReceiver {
            addr,
            data,
            vars,
            child,
            report,
            _dir: dir,
        })
    }

    /// Client options for playing against it: the test CA, its variables, its folder for
    /// effects (waiting up to 5 s for them).
    ///
    /// # Errors
    /// When the built-in test CA does not load.
    pub fn client_options(&self) -> Result<ClientOptions, crate::certs::CertError> {
        let mut options = ClientOptions::test_ca(CLIENT_WAIT)?.effects_dir(&self.data);
        options.effects_wait = EFFECTS_WAIT;
        for (name, value) in &self.vars {
            options = options.var(name, value);
        }
        Ok(options)
    }

    /// Sends SIGTERM, waits for the adapter to exit (killing it after 15 s), and returns what
    /// it printed after `listening on`.
    pub async fn stop(mut self) -> String {
        if let Some(pid) = self.child.id() {
            terminate(pid);
        }
        let deadline = tokio::time::Instant::now() + STOP;
        if tokio::time::timeout_at(deadline, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        let report = &mut self.report;
        match tokio::time::timeout_at(deadline + Duration::from_secs(1), report).await {
            Ok(Ok(text)) => text,
            _ => {
                self.report.abort();
                String::new()
            }
        }
    }
}

impl Drop for AdapterReceiver {
    fn drop(&mut self) {
        // Not stopped (a test that panicked): let the adapter stop what it started.
        if let Ok(None) = self.child.try_wait()
            && let Some(pid) = self.child.id()
        {
            terminate(pid);
        }
    }
}

/// Sends SIGTERM to a process, as `kill` does.
fn terminate(pid: u32) {
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The certificate files for `tls on`: (cert, key, ca), or empty paths.
struct TlsFiles {
    on: bool,
    cert: String,
    key: String,
    ca: String,
}

fn tls_files(on: bool, dir: &Path, ctx: &RunContext) -> Result<TlsFiles, ReceiverError> {
    if !on {
        return Ok(TlsFiles {
            on,
            cert: String::new(),
            key: String::new(),
            ca: String::new(),
        });
    }
    let bundle = ctx.certs.bundle(CertVariant::Valid)?;
    let folder = dir.join("tls");
    make_dir(&folder)?;
    let (cert, key, ca) = (
        folder.join("cert.pem"),
        folder.join("key.pem"),
        folder.join("ca.pem"),
    );
    write(&cert, &bundle.chain_pem)?;
    write(&key, &bundle.key_pem)?;
    write(&ca, &ctx.certs.ca_pem()?)?;
    let text = |p: &Path| p.display().to_string();
    Ok(TlsFiles {
        on,
        cert: text(&cert),
        key: text(&key),
        ca: text(&ca),
    })
}

/// The values of the receiver contract's placeholders.
fn contract_values(data: &Path, tls: &TlsFiles) -> Vec<(&'static str, String)> {
    vec![
        ("work", data.display().to_string()),
        ("tls", if tls.on { "on" } else { "off" }.to_owned()),
        ("cert", tls.cert.clone()),
        ("key", tls.key.clone()),
        ("ca", tls.ca.clone()),
    ]
}

/// `{settings}`: `--set KEY=VALUE` for each pass-through setting, in file order.
fn settings(spec: &ReceiverSpec) -> Vec<String> {
    spec.settings
        .iter()
        .map(|s| format!("--set={}={}", s.key, s.value))
        .collect()
}

fn spawn(
    adapter: &AdapterCommand,
    argv: &[String],
    ctx: &RunContext,
) -> Result<Child, ReceiverError> {
    let (program, args) = argv.split_first().expect("argv has the program");
    Command::new(program)
        .args(args)
        .envs(ctx.adapters.env().iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ReceiverError::Spawn {
            name: adapter.name.clone(),
            program: program.clone(),
            source,
        })
}

/// Reads `var NAME VALUE` lines up to `listening on ADDR`; other lines are ignored.
async fn read_until_listening(
    lines: &mut Lines<BufReader<ChildStdout>>,
) -> Result<(Vec<(String, String)>, SocketAddr), String> {
    let mut vars = Vec::new();
    loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => return Err("exited before `listening on ADDR`".into()),
            Err(e) => return Err(format!("printed something unreadable: {e}")),
        };
        if let Some(addr) = line.strip_prefix("listening on ") {
            let addr = addr
                .trim()
                .parse()
                .map_err(|_| format!("printed {line:?}, which names no address and port"))?;
            return Ok((vars, addr));
        }
        if let Some(var) = line.strip_prefix("var ") {
            let (name, value) = var.split_once(' ').unwrap_or((var, ""));
            vars.push((name.to_owned(), value.to_owned()));
        }
    }
}

/// Reads the adapter's standard error in the background (so that it never blocks on a full
/// pipe), keeping its last few kilobytes.
fn collect_stderr(child: &mut Child) -> JoinHandle<String> {
    let stderr = child.stderr.take();
    tokio::spawn(async move {
        let Some(mut stderr) = stderr else {
            return String::new();
        };
        tail(&mut stderr).await
    })
}

async fn tail(reader: &mut (impl AsyncRead + Unpin)) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = reader.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > STDERR_KEPT {
            kept.drain(..kept.len() - STDERR_KEPT);
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

fn make_dir(path: &Path) -> Result<(), ReceiverError> {
    std::fs::create_dir_all(path).map_err(|source| ReceiverError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, text: &str) -> Result<(), ReceiverError> {
    std::fs::write(path, text).map_err(|source| ReceiverError::Io {
        path: path.to_path_buf(),
        source,
    })
}
