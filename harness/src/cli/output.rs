//! What the subcommands share beyond their own work: the readiness line, signals, the
//! runtime of the long-running servers, transcripts appended and files written whole.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use tokio::signal::unix::{Signal, SignalKind, signal};

use super::CliError;

/// Prints `listening on ADDR` as the first line on stdout, flushed at once (scripts and tests
/// wait for it).
pub fn announce(addr: SocketAddr) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {addr}")?;
    stdout.flush()?;
    Ok(())
}

/// Prints `text` on stdout as it is.
pub fn print_whole(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// SIGINT and SIGTERM, the two ways to stop `serve` and `record`.
pub struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
}

impl StopSignals {
    /// Starts watching both. Call it before the readiness line: a SIGTERM sent as soon as that
    /// line is read then stops the server cleanly instead of killing it.
    pub fn watch() -> Result<Self, CliError> {
        Ok(StopSignals {
            terminate: signal(SignalKind::terminate()).context("cannot watch SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("cannot watch SIGINT")?,
        })
    }

    /// Waits for either signal (cancel-safe: use it in `select!`).
    pub async fn received(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// The runtime of the long-running servers (`serve`, `record`): one thread keeps up with
/// smtp-sink (see the README's speed table).
pub fn single_threaded_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?)
}

/// Appends `text` (a connection's transcript) to the file at `path`, creating it if needed.
pub fn append(path: &Path, text: &str) -> Result<(), CliError> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Writes `text` to `path` whole or not at all: a temporary file in the same folder, renamed.
pub fn write_whole(path: &Path, text: &str) -> Result<(), CliError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write into {}", dir.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
