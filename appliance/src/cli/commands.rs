//! `notify`, `outbox` and `support-bundle`: arguments in, library calls, output and exit codes.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use super::{DeliverArgs, NotifyArgs, NotifyCommand, runtime};
use crate::convlog::ConversationLog;
use crate::datadir::DataDir;
use crate::exit;
use crate::fsutil::{self, unix_ms};
use crate::notify::{self, Enqueued, Notification, NotifyError, Reason, Recipient, Thread};
use crate::outbox::{Deliverer, EntryId, Outbox, PassReport, RetryError, RetryPolicy};
use crate::settings::Settings;
use crate::shutdown;

/// `appliance notify issue-comment|pr-comment|commit-comment …`
pub(super) fn notify(data_dir: &DataDir, command: NotifyCommand) -> anyhow::Result<u8> {
    let (thread, args) = match command {
        NotifyCommand::IssueComment { number, common } => {
            (Thread::issue(&common.repo, number), common)
        }
        NotifyCommand::PrComment { number, common } => {
            (Thread::pull_request(&common.repo, number), common)
        }
        NotifyCommand::CommitComment { commit, common } => {
            (Thread::commit(&common.repo, &commit), common)
        }
    };
    let notification = match build_notification(thread, &args) {
        Ok(n) => n,
        Err(message) => {
            eprintln!("appliance notify: {message}");
            return Ok(exit::USAGE);
        }
    };
    let now = SystemTime::now();
    let issued_at = args.issued_at.map_or(now, |secs| {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    });
    let queued = match notify::enqueue_dated(data_dir, &notification, now, issued_at) {
        Ok(Enqueued::Queued(q)) => q,
        Ok(Enqueued::EmailDisabled) => {
            eprintln!("email is disabled (enabled = false): the notification was not queued");
            return Ok(exit::OK);
        }
        Err(e) => {
            eprintln!("appliance notify: {e}");
            return Ok(match e {
                NotifyError::Invalid(_) => exit::USAGE,
                NotifyError::Settings(_) => exit::CONFIG,
                _ => exit::IOERR,
            });
        }
    };
    println!("{}", queued.id);
    eprintln!(
        "queued {} for {} (Message-ID <{}>, Reply-To {})",
        queued.id, queued.to, queued.message_id, queued.reply_to
    );
    if !args.send_now {
        return Ok(exit::OK);
    }
    let policy = RetryPolicy::default();
    runtime()?.block_on(async {
        let deliverer = match new_deliverer(data_dir, policy) {
            Ok(d) => d,
            Err(code) => return Ok(code),
        };
        Ok(one_pass(data_dir, &deliverer).await)
    })
}

fn build_notification(
    thread: Result<Thread, notify::InvalidInput>,
    args: &NotifyArgs,
) -> Result<Notification, String> {
    let thread = thread.map_err(|e| e.to_string())?;
    let recipient = Recipient::new(&args.to_user, &args.to).map_err(|e| e.to_string())?;
    let reason = Reason::from_name(&args.reason).ok_or_else(|| {
        format!(
            "--reason: unknown value {:?} (expected {})",
            args.reason,
            Reason::NAMES
        )
    })?;
    let body = match (&args.body, &args.body_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read the body from standard input: {e}"))?;
            text
        }
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the body file {}: {e}", path.display()))?,
        (None, None) => return Err("give --body-file or --body".into()),
    };
    if args.comment_id == 0 {
        return Err("--comment-id: must be 1 or more".into());
    }
    Ok(Notification {
        thread,
        comment_id: args.comment_id,
        recipient,
        author: args.author.clone(),
        title: args.subject.clone(),
        body,
        reason,
    })
}

fn new_deliverer(data_dir: &DataDir, policy: RetryPolicy) -> Result<Deliverer, u8> {
    Outbox::open(data_dir)
        .and_then(|outbox| {
            Deliverer::new(outbox, ConversationLog::new(data_dir.log_file()), policy)
        })
        .map_err(|e| {
            eprintln!(
                "appliance: cannot open the outbox {}: {e}",
                data_dir.outbox_dir().display()
            );
            exit::IOERR
        })
}

/// Loads the settings for a pass: `Err(exit code)` when they cannot be used, `Ok(None)` when
/// email is disabled.
fn email_settings(data_dir: &DataDir) -> Result<Option<crate::settings::EmailSettings>, u8> {
    let path = data_dir.settings_file();
    let settings = Settings::load(&path).map_err(|e| {
        eprintln!("{e}");
        exit::CONFIG
    })?;
    let email = settings
        .require_email(&path.display().to_string())
        .map_err(|e| {
            eprintln!("{e}");
            exit::CONFIG
        })?;
    Ok(email.enabled.then(|| email.clone()))
}

/// Runs one pass and prints it; the exit code says how it went.
async fn one_pass(data_dir: &DataDir, deliverer: &Deliverer) -> u8 {
    let email = match email_settings(data_dir) {
        Ok(Some(email)) => email,
        Ok(None) => {
            eprintln!("email is disabled (enabled = false): nothing is sent");
            return exit::OK;
        }
        Err(code) => return code,
    };
    match run_pass(deliverer, &email).await {
        Ok(report) => pass_exit_code(&report),
        Err(code) => code,
    }
}

async fn run_pass(
    deliverer: &Deliverer,
    email: &crate::settings::EmailSettings,
) -> Result<PassReport, u8> {
    let report = deliverer
        .pass(email, &mut |attempt| {
            println!("{}", attempt.line(SystemTime::now()));
        })
        .await
        .map_err(|e| {
            eprintln!(
                "appliance: the outbox {} cannot be used: {e}",
                deliverer.outbox().root().display()
            );
            exit::IOERR
        })?;
    for id in &report.recovered.requeued {
        println!("recovered {id}: left in flight by a process that died; pending again");
    }
    for id in &report.recovered.failed {
        println!("recovered {id}: its failure was recorded by a process that died; failed");
    }
    if let Some(until) = report.suspended_until_ms {
        println!(
            "the server cannot be reached: {} more due entr{} wait{} for the next pass (not before {})",
            report.skipped,
            if report.skipped == 1 { "y" } else { "ies" },
            if report.skipped == 1 { "s" } else { "" },
            fsutil::rfc3339(until)
        );
    }
    Ok(report)
}

fn pass_exit_code(report: &PassReport) -> u8 {
    if report.failed() > 0 {
        exit::UNAVAILABLE
    } else if report.deferred() > 0 {
        exit::TEMPFAIL
    } else {
        exit::OK
    }
}

/// `appliance outbox deliver`.
pub(super) fn deliver(data_dir: &DataDir, args: &DeliverArgs) -> anyhow::Result<u8> {
    let policy = RetryPolicy {
        base: Duration::from_millis(args.retry_base_ms.max(1)),
        cap: Duration::from_millis(args.retry_cap_ms.max(1)),
        max_attempts: args.max_attempts.max(1),
        max_age: Duration::from_secs(args.max_age_secs),
    };
    let deadline = args
        .max_time
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Instant::now() + Duration::from_secs_f64(s));
    let poll = Duration::from_millis(args.poll_ms.max(10));
    runtime()?.block_on(async {
        let mut deliverer = match new_deliverer(data_dir, policy) {
            Ok(d) => d,
            Err(code) => return Ok(code),
        };
        deliverer.set_record_delay(Duration::from_millis(args.debug_record_delay_ms));
        if args.once {
            return Ok(one_pass(data_dir, &deliverer).await);
        }
        let trigger = shutdown::on_signals()?;
        let mut shutdown = trigger.subscribe();
        deliverer.set_shutdown(trigger.subscribe());
        let mut suspended_until: Option<u64> = None;
        let mut said_disabled = false;
        loop {
            let now_ms = unix_ms(SystemTime::now());
            let mut ran = false;
            if suspended_until.is_none_or(|until| until <= now_ms) {
                suspended_until = None;
                match email_settings(data_dir) {
                    Ok(Some(email)) => {
                        said_disabled = false;
                        ran = true;
                        let pass = run_pass(&deliverer, &email);
                        tokio::pin!(pass);
                        let far = Instant::now() + Duration::from_secs(86_400 * 365);
                        let time_up = tokio::time::sleep_until(deadline.unwrap_or(far).into());
                        tokio::pin!(time_up);
                        // A signal stops the pass before its next entry (through the
                        // deliverer's shutdown); so does the end of --max-time.
                        let report = loop {
                            tokio::select! {
                                r = &mut pass => break r,
                                () = &mut time_up, if !shutdown.is_shutdown() => trigger.trigger(),
                            }
                        };
                        match report {
                            Ok(report) => suspended_until = report.suspended_until_ms,
                            Err(code) => return Ok(code),
                        }
                    }
                    Ok(None) if !said_disabled => {
                        eprintln!("email is disabled (enabled = false): nothing is sent");
                        said_disabled = true;
                    }
                    Ok(None) => {}
                    Err(_) => {} // printed; the settings may be fixed while we wait
                }
            }
            if shutdown.is_shutdown() {
                return Ok(exit::OK);
            }
            // Sleep until the next poll, or earlier when an entry falls due (after a pass that
            // was not suspended; otherwise entries already due would wake us at once).
            let mut wake = Instant::now() + poll;
            let next = match suspended_until {
                Some(until) => Some(until),
                None if ran => deliverer.next_due_ms().ok().flatten(),
                None => None,
            };
            if let Some(at) = next {
                let until = Duration::from_millis(at.saturating_sub(unix_ms(SystemTime::now())));
                wake = wake.min(Instant::now() + until);
            }
            if let Some(deadline) = deadline {
                if Instant::now() >= deadline {
                    return Ok(exit::OK);
                }
                wake = wake.min(deadline);
            }
            tokio::select! {
                () = tokio::time::sleep_until(wake.into()) => {}
                () = shutdown.recv() => return Ok(exit::OK),
            }
        }
    })
}

/// `appliance outbox status`.
pub(super) fn status(data_dir: &DataDir, json: bool) -> anyhow::Result<u8> {
    let status = match Outbox::open(data_dir).and_then(|o| o.status()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "appliance: cannot read the outbox {}: {e}",
                data_dir.outbox_dir().display()
            );
            return Ok(exit::IOERR);
        }
    };
    if json {
        println!("{}", status.json());
    } else {
        print!("{}", status.text(SystemTime::now()));
    }
    Ok(exit::OK)
}

/// `appliance outbox retry ID… | --all`.
pub(super) fn retry(data_dir: &DataDir, ids: &[String], all: bool) -> anyhow::Result<u8> {
    let outbox = match Outbox::open(data_dir) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("appliance: cannot open the outbox: {e}");
            return Ok(exit::IOERR);
        }
    };
    let ids: Vec<String> = if all {
        match outbox.status() {
            Ok(s) => s.failed.iter().map(|e| e.file.clone()).collect(),
            Err(e) => {
                eprintln!("appliance: cannot read the outbox: {e}");
                return Ok(exit::IOERR);
            }
        }
    } else {
        ids.to_vec()
    };
    let mut code = exit::OK;
    for text in &ids {
        let Some(id) = EntryId::parse(text) else {
            eprintln!("appliance outbox retry: {text:?} is not an entry id");
            code = exit::USAGE;
            continue;
        };
        match outbox.retry(&id, SystemTime::now()) {
            Ok(()) => println!("pending again: {id}"),
            Err(e @ RetryError::NotFailed(_)) => {
                eprintln!("appliance outbox retry: {e}");
                code = exit::USAGE;
            }
            Err(e) => {
                eprintln!("appliance outbox retry: {id}: {e}");
                return Ok(exit::IOERR);
            }
        }
    }
    Ok(code)
}

/// `appliance support-bundle -o FILE`.
pub(super) fn support_bundle(data_dir: &DataDir, output: &Path) -> u8 {
    match crate::bundle::write(data_dir, output, SystemTime::now()) {
        Ok(report) => {
            println!("wrote {} ({} files)", output.display(), report.files.len());
            for (name, why) in &report.missing {
                println!("  not included: {name}: {why}");
            }
            if report.scan_redactions > 0 {
                println!(
                    "  the final scan redacted {} secret(s) that were still in the files",
                    report.scan_redactions
                );
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("appliance: {e}");
            exit::IOERR
        }
    }
}
