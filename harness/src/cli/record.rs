//! `smtp-harness record`: a recording proxy in front of a real server; each connection's
//! scenario written to `-o` (or the last one printed at the end).

use std::path::PathBuf;

use anyhow::Context;
use smtp_harness::Render;
use smtp_harness::certs::CertSource;
use smtp_harness::record::{RecordOptions, Recorder, Recording, UpstreamTrust};

use super::output::{
    StopSignals, announce, append, print_whole, single_threaded_runtime, write_whole,
};
use super::{CliError, Exit};

/// `smtp-harness record`.
#[derive(clap::Args, Debug)]
pub struct RecordArgs {
    /// The real SMTP server, HOST:PORT.
    #[arg(long)]
    upstream: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Write the scenario here (whole, replaced after each connection) instead of printing it.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Speak TLS from the first byte on both sides (port 465); the scenario gets `implicit-tls`.
    #[arg(long)]
    implicit_tls: bool,
    /// Trust these PEM CA certificates for the upstream (default: the webpki roots).
    #[arg(long, conflicts_with = "upstream_insecure")]
    upstream_ca: Option<PathBuf>,
    /// Accept any certificate from the upstream (self-signed lab servers).
    #[arg(long)]
    upstream_insecure: bool,
    /// The name to send as SNI and verify in the upstream's certificate (default: its host).
    #[arg(long)]
    upstream_name: Option<String>,
    /// Present the `valid` certificate from this directory (as written by `smtp-harness
    /// certs`) to clients instead of the built-in one.
    #[arg(long)]
    certs: Option<PathBuf>,
    /// Append each connection's transcript (AUTH payloads redacted) to this file.
    #[arg(long)]
    transcript: Option<PathBuf>,
    /// Exit after the first connection ends (exit code 1 if nothing was recorded).
    #[arg(long)]
    once: bool,
    /// Longest wait for connecting, a handshake, a reply or the client's next line.
    #[arg(long, default_value = "30s", value_parser = smtp_harness::record::parse_timeout)]
    timeout: std::time::Duration,
}

/// Starts the proxy and records until a signal (or the first connection with `--once`);
/// exit code 1 when nothing was recorded.
pub fn record(args: RecordArgs) -> Result<Exit, CliError> {
    let options = options(&args)?;
    single_threaded_runtime()?.block_on(proxy(options, &args))
}

/// The proxy's options from the arguments (exit code 2 on bad ones).
fn options(args: &RecordArgs) -> Result<RecordOptions, CliError> {
    let trust = if args.upstream_insecure {
        UpstreamTrust::Insecure
    } else if let Some(path) = &args.upstream_ca {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
        UpstreamTrust::CaPem(pem)
    } else {
        UpstreamTrust::WebpkiRoots
    };
    let options = RecordOptions::new(&args.upstream)
        .and_then(|o| o.trust(&trust))
        .and_then(|o| match &args.upstream_name {
            Some(name) => o.upstream_name(name),
            None => Ok(o),
        })
        .and_then(|o| match &args.certs {
            Some(dir) => o.certificates(&CertSource::Dir(dir.clone())),
            None => Ok(o),
        })
        .map_err(CliError::usage)?
        .implicit_tls(args.implicit_tls)
        .timeout(args.timeout);
    Ok(if args.once {
        options.accept_limit(1)
    } else {
        options
    })
}

async fn proxy(options: RecordOptions, args: &RecordArgs) -> Result<Exit, CliError> {
    let mut recorder = Recorder::start(&args.listen, options)
        .await
        .context("cannot start the proxy")?;
    let mut stop = StopSignals::watch()?;
    announce(recorder.addr())?;
    // The scenario of the last connection that ended with something recorded.
    let mut last: Option<String> = None;
    loop {
        tokio::select! {
            finished = recorder.next_recording() => match finished {
                None => break,
                Some(Err(e)) => eprintln!("error: accept: {e}"),
                Some(Ok(recording)) => {
                    if let Some(scenario) = finish(&recording, args)? {
                        last = Some(scenario);
                    }
                    if args.once {
                        break;
                    }
                }
            },
            () = stop.received() => break,
        }
    }
    // Connections still open are cut; what they recorded so far is not used.
    recorder.shutdown().await;
    let Some(scenario) = last else {
        eprintln!(
            "nothing recorded: no connection to {} made a scenario",
            args.upstream
        );
        return Ok(Exit::Broken);
    };
    if args.output.is_none() {
        print_whole(&scenario)?;
    }
    Ok(Exit::Success)
}

/// Reports one finished connection on stderr, appends its transcript, writes its scenario to
/// -o; returns the scenario (`None` if nothing was recorded).
fn finish(recording: &Recording, args: &RecordArgs) -> Result<Option<String>, CliError> {
    eprintln!("{}", recording.summary());
    for note in &recording.notes {
        eprintln!("  the proxy {note}");
    }
    if let Some(path) = &args.transcript {
        append(path, &recording.transcript.to_log(Render::default()))?;
    }
    let scenario = match recording.scenario() {
        Ok(scenario) => scenario,
        Err(e) => {
            eprintln!("  {e}");
            return Ok(None);
        }
    };
    if let Some(path) = &args.output {
        write_whole(path, &scenario)?;
        eprintln!(
            "  wrote {} (connection {})",
            path.display(),
            recording.transcript.session
        );
    }
    Ok(Some(scenario))
}
