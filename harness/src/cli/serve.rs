//! `smtp-harness serve`: one scenario played to every connection until a signal (or the first
//! connection with `--once`), a verdict line per connection, transcripts appended to a file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::ValueEnum;
use smtp_harness::certs::CertSource;
use smtp_harness::{ConversationRecord, FakeSmtpServer, Render, ServerScenario};

use super::output::{StopSignals, announce, append, single_threaded_runtime};
use super::{CliError, Exit};

/// `smtp-harness serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The scenario file to play.
    scenario: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Append each connection's transcript to this file.
    #[arg(long)]
    transcript: Option<PathBuf>,
    /// Transcript format.
    #[arg(long, value_enum, default_value_t = Format::Log)]
    format: Format,
    /// Write AUTH payloads and passwords into the transcript instead of [redacted].
    #[arg(long)]
    show_secrets: bool,
    /// Exit after the first connection closes (exit code 1 if it broke expectations).
    #[arg(long)]
    once: bool,
    /// Read certificates from this directory (as written by `smtp-harness certs`) instead
    /// of the built-in ones.
    #[arg(long)]
    certs: Option<PathBuf>,
    /// Serve this case of a persona file (`--case bad-password`) instead of the persona alone.
    #[arg(long)]
    case: Option<String>,
    /// Worker threads (a multi-threaded runtime); the default, 1, runs everything on one.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: u16,
}

/// How `--transcript` is written.
#[derive(Copy, Clone, Debug, ValueEnum)]
enum Format {
    /// The reference log format (`-> "220 …\r\n"`).
    Log,
    /// One JSON object per event.
    Json,
}

/// The most events `serve` keeps of one connection's transcript for `--transcript`: the first
/// and last half of them, so that a connection carrying any number of messages takes bounded
/// memory. Without `--transcript` none is kept (expectations are judged as events happen).
const SERVE_TRANSCRIPT_LIMIT: usize = 2000;

/// How long verdict lines may wait before they are written to stderr (one write for all the
/// connections that closed meanwhile).
const VERDICT_FLUSH: Duration = Duration::from_millis(50);

/// Loads the scenario and serves it on a runtime of `--threads` threads.
pub fn serve(args: ServeArgs) -> Result<Exit, CliError> {
    let loaded = match &args.case {
        Some(case) => ServerScenario::from_file_case(&args.scenario, case),
        None => ServerScenario::from_file(&args.scenario),
    };
    let scenario = loaded.map_err(CliError::usage)?;
    let runtime = if args.threads > 1 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(args.threads))
            .enable_all()
            .build()
            .context("cannot start the tokio runtime")?
    } else {
        single_threaded_runtime()?
    };
    // The server runs as a task, not as the runtime's main future: sessions then wake it
    // (a connection closed) through the scheduler, without a system call to unpark the thread.
    runtime.block_on(async {
        tokio::spawn(play(scenario, args))
            .await
            .context("the server task failed")?
    })
}

async fn play(scenario: ServerScenario, args: ServeArgs) -> Result<Exit, CliError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut builder = FakeSmtpServer::builder(scenario)
        .listen(args.listen.clone())
        .keep_records(false)
        .transcript_limit(if args.transcript.is_some() {
            SERVE_TRANSCRIPT_LIMIT
        } else {
            0
        })
        .verify_on_drop(false)
        .on_session_closed(tx);
    if let Some(dir) = &args.certs {
        builder = builder.certificates(CertSource::Dir(dir.clone()));
    }
    if args.once {
        builder = builder.accept_limit(1);
    }
    let server = builder.start().await.context("cannot start the server")?;
    let mut stop = StopSignals::watch()?;
    announce(server.addr())?;
    let render = Render {
        show_secrets: args.show_secrets,
        ..Render::default()
    };
    let transcripts = args.transcript.as_deref().map(|path| (path, args.format));
    let mut all_passed = true;
    // Verdict lines are gathered and written at most every VERDICT_FLUSH: a busy sink does not
    // pay a write to stderr for each connection.
    let mut verdicts = std::io::BufWriter::new(std::io::stderr());
    let mut unwritten = false;
    let mut tick = tokio::time::interval(VERDICT_FLUSH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            record = rx.recv() => {
                let Some(record) = record else { break };
                all_passed &= record.passed();
                report(&mut verdicts, &record, transcripts, render)?;
                unwritten = true;
                if args.once {
                    break;
                }
            }
            _ = tick.tick(), if unwritten => {
                verdicts.flush()?;
                unwritten = false;
            }
            () = stop.received() => break,
        }
    }
    server.shutdown().await;
    // Connections that were still open when the signal came have closed now.
    while let Ok(record) = rx.try_recv() {
        all_passed &= record.passed();
        report(&mut verdicts, &record, transcripts, render)?;
    }
    verdicts.flush()?;
    Ok(Exit::verdict(all_passed))
}

/// Writes a connection's verdict line to `verdicts` and, when asked, appends its transcript
/// to the file in the format given.
fn report(
    verdicts: &mut impl Write,
    record: &ConversationRecord,
    transcripts: Option<(&Path, Format)>,
    render: Render,
) -> Result<(), CliError> {
    let closed = record
        .transcript
        .closed_by()
        .map_or("open".to_owned(), |c| format!("closed by {c}"));
    if record.passed() {
        writeln!(
            verdicts,
            "connection {}: {closed}; expectations met",
            record.transcript.session
        )?;
    } else {
        writeln!(
            verdicts,
            "connection {}: {closed}; {} expectation(s) broken:",
            record.transcript.session,
            record.failures.len()
        )?;
        for f in &record.failures {
            writeln!(verdicts, "  - {f}")?;
        }
    }
    if let Some((path, format)) = transcripts {
        let text = match format {
            Format::Log => record.transcript.to_log(render),
            Format::Json => record.transcript.to_json_lines(render),
        };
        append(path, &text)?;
    }
    Ok(())
}
