//! `replies process` and `comments list`: the reply processor on the command line.

use std::time::Duration;

use crate::datadir::DataDir;
use crate::exit;
use crate::notify::load_or_create_key;
use crate::replies::{CommentStore, Processor};
use crate::settings::Settings;
use crate::shutdown::{self, Shutdown};

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
    let mut print = |h: &crate::replies::Handled| println!("{}", h.line());
    if !watch {
        return Ok(match processor.run_once(&Shutdown::never(), &mut print) {
            Ok(_) => exit::OK,
            Err(e) => {
                eprintln!("appliance replies: {e}");
                exit::IOERR
            }
        });
    }
    // The processor is synchronous: it runs on this thread, while the runtime's worker thread
    // listens for the signals (a pass stops between two messages).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut shutdown = {
        let _entered = runtime.enter();
        shutdown::on_signals()?.subscribe()
    };
    loop {
        if let Err(e) = processor.run_once(&shutdown, &mut print) {
            // The message stays in new/ and is tried again after the next poll, so that a full
            // disk or a passing error does not stop the service.
            eprintln!("appliance replies: {e}");
        }
        if shutdown.is_shutdown() {
            return Ok(exit::OK);
        }
        runtime.block_on(async {
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = shutdown.recv() => {}
            }
        });
        if shutdown.is_shutdown() {
            return Ok(exit::OK);
        }
    }
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
