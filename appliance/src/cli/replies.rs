//! `replies process` and `comments list`: the reply processor on the command line.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::datadir::DataDir;
use crate::exit;
use crate::notify::load_or_create_key;
use crate::replies::{CommentStore, Processor};
use crate::settings::Settings;

/// `appliance replies process [--once | --watch] [--poll-ms MS]`.
pub(super) fn process(
    data_dir: &DataDir,
    watch: bool,
    poll: Duration,
    move_delay: Duration,
) -> anyhow::Result<u8> {
    let path = data_dir.settings_file();
    let settings = match Settings::load(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(exit::CONFIG);
        }
    };
    let key = match load_or_create_key(data_dir) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("appliance replies: {e}");
            return Ok(exit::IOERR);
        }
    };
    let mut processor = match Processor::new(
        data_dir,
        &settings.hostname,
        key,
        settings.inbound.reply_max_age,
    ) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("appliance replies: cannot create the mail directories: {e}");
            return Ok(exit::IOERR);
        }
    };
    processor.set_move_delay(move_delay);
    // One processor at a time per data directory (a second one waits).
    let lock_path = data_dir.incoming_mail_dir().join(".processor.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .and_then(|f| f.lock().map(|()| f));
    let _lock = match lock {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "appliance replies: cannot lock {}: {e}",
                lock_path.display()
            );
            return Ok(exit::IOERR);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    if watch {
        stop_on_signals(Arc::clone(&stop))?;
    }
    let mut print = |h: &crate::replies::Handled| println!("{}", h.line());
    loop {
        if let Err(e) = processor.run_once(&stop, &mut print) {
            eprintln!("appliance replies: {e}");
            // --once reports it; --watch tries again after the next poll (the message stays
            // in new/), so that a full disk or a passing error does not stop the service.
            if !watch {
                return Ok(exit::IOERR);
            }
        }
        if !watch || stop.load(Ordering::Relaxed) {
            return Ok(exit::OK);
        }
        let until = std::time::Instant::now() + poll;
        while std::time::Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(10).min(poll));
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(exit::OK);
        }
    }
}

/// Sets `stop` on SIGTERM or SIGINT. The handlers are installed before this returns; a thread
/// with its own small runtime waits for them.
fn stop_on_signals(stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut term, mut int) = runtime.block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    })?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        });
        stop.store(true, Ordering::Relaxed);
    });
    Ok(())
}

/// `appliance comments list [--json]`.
pub(super) fn list(data_dir: &DataDir, json: bool) -> u8 {
    let comments = match CommentStore::new(data_dir.comments_dir()).list() {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "appliance comments: cannot read {}: {e}",
                data_dir.comments_dir().display()
            );
            return exit::IOERR;
        }
    };
    if json {
        match serde_json::to_string_pretty(&comments) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("appliance comments: {e}");
                return exit::SOFTWARE;
            }
        }
        return exit::OK;
    }
    for c in &comments {
        println!(
            "{}  {}  by {} <{}>  (Message-ID <{}>)",
            crate::fsutil::rfc3339(c.recorded_at_ms),
            c.thread,
            c.user,
            c.from,
            c.message_id.as_deref().unwrap_or_default()
        );
        for line in c.body.lines() {
            println!("    {line}");
        }
    }
    println!("{} comment(s)", comments.len());
    exit::OK
}
