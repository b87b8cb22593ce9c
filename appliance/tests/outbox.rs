//! The outbox end to end (the real binary against the fake server): temporary failures are
//! retried with backoff and then sent exactly once, permanent ones are not retried and are
//! recorded with the server's reply, refused connections are retried, `status` and `retry`
//! show and undo it, concurrent deliverers never send the same entry, the daemon picks up new
//! entries and stops when told.

mod common;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use appliance::datadir::DataDir;
use appliance::notify::{self, Enqueued, Notification, Reason, Recipient, Thread};
use common::*;

/// Queues `n` notifications (comments 1..=n on octo/widgets#42) through the library.
fn enqueue_many(dir: &TempDir, n: u64) {
    let data_dir = DataDir::new(dir.data_dir());
    for comment in 1..=n {
        let notification = Notification {
            thread: Thread::issue("octo/widgets", 42).unwrap(),
            comment_id: comment,
            recipient: Recipient::new("bob", "bob@example.com").unwrap(),
            author: "Alice".into(),
            title: "Widgets".into(),
            body: format!("comment {comment}"),
            reason: Reason::Subscribed,
        };
        let queued = notify::enqueue(&data_dir, &notification, SystemTime::now()).unwrap();
        assert!(matches!(queued, Enqueued::Queued(_)));
    }
}

/// Points the active settings at another server: the relay "comes back" on a new port.
/// (Binding the old port again is not reliable: under load another test's client connection
/// may hold it as its local port.)
fn repoint(dir: &TempDir, port: u16) {
    install(dir, &Candidate::plain(port));
}

fn queued_id(run: &Run) -> String {
    assert_eq!(run.code, 0, "{run:#?}");
    run.stdout.lines().next().expect("an id").to_owned()
}

#[tokio::test]
async fn a_451_is_retried_with_backoff_and_then_sent_exactly_once() {
    let dir = TempDir::new("outbox-451");
    let first = server(inline("when RCPT\n    S: 451 4.3.0 try later\n")).await;
    let port = first.port();
    install(&dir, &Candidate::plain(port));
    let id = queued_id(&notify_issue(&dir, 1, &[]).await);

    let run = run_in(
        &dir,
        &["outbox", "deliver", "--once", "--retry-base-ms", "1500"],
    )
    .await;
    assert_eq!(run.code, 75, "{run:#?}");
    assert!(
        run.stdout.contains(&format!(
            "deferred {id} to bob@example.com (attempt 1): RCPT 451 4.3.0 try later; next attempt in"
        )),
        "{run:#?}"
    );
    let status = run_in(&dir, &["outbox", "status"]).await;
    assert!(
        status
            .stdout
            .starts_with("outbox: 1 pending, 0 in flight, 0 sent, 0 failed\n"),
        "{status:#?}"
    );
    assert!(
        status.stdout.contains("attempts 1; next attempt in")
            && status
                .stdout
                .contains("last error: RCPT 451 4.3.0 try later"),
        "{status:#?}"
    );

    // Not due yet: a pass does nothing, the server hears nothing.
    let run = run_in(&dir, &["outbox", "deliver", "--once"]).await;
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run:#?}");
    assert_eq!(first.wait_until_idle(WAIT).await.len(), 1);
    first.shutdown().await;

    // The relay recovers; after the backoff the message goes, once.
    let second = server(inline("")).await;
    repoint(&dir, second.port());
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let run = run_in(&dir, &["outbox", "deliver", "--once"]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout
            .contains(&format!("sent {id} to bob@example.com: 250")),
        "{run:#?}"
    );
    let run = run_in(&dir, &["outbox", "deliver", "--once"]).await;
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run:#?}");
    let sessions = second.wait_until_idle(WAIT).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(second.messages().len(), 1);
    assert_eq!(
        message_id(&second.messages()[0]),
        "octo/widgets/issue/42/c1@appliance.example.com"
    );

    assert_eq!(outbox_files(&dir, "sent"), std::slice::from_ref(&id));
    let status = run_in(&dir, &["outbox", "status", "--json"]).await;
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(json["summary"]["sent"], 1);
    let entry = &json["entries"][0];
    assert_eq!(entry["state"], "sent");
    assert_eq!(entry["attempts"], 2);
    assert_eq!(entry["last_error"]["code"], 451);
    assert_eq!(entry["last_error"]["step"], "RCPT");
    assert!(
        entry["accepted"]["reply"][0]
            .as_str()
            .unwrap()
            .starts_with("250 ")
    );
    // Both conversations are in the log.
    let log = dir.log();
    assert!(log.contains("-> \"451 4.3.0 try later\\r\\n\""), "{log}");
    assert_eq!(log.matches("<- [message:").count(), 1, "{log}");
}

#[tokio::test]
async fn a_550_is_not_retried_and_is_recorded_with_the_reply_until_retried_by_hand() {
    let dir = TempDir::new("outbox-550");
    let server = server(inline(
        "when RCPT\n    S: 550-5.1.1 <bob@example.com>: Recipient address rejected:\n    S: 550 5.1.1 User unknown in virtual mailbox table\n",
    ))
    .await;
    install(&dir, &Candidate::plain(server.port()));
    let id = queued_id(&notify_issue(&dir, 1, &[]).await);

    let run = run_in(
        &dir,
        &["outbox", "deliver", "--once", "--retry-base-ms", "1"],
    )
    .await;
    assert_eq!(run.code, 69, "{run:#?}");
    assert!(
        run.stdout.contains(&format!(
            "failed {id} to bob@example.com (attempt 1): permanent failure: RCPT 550-5.1.1 <bob@example.com>: Recipient address rejected: / 550 5.1.1 User unknown in virtual mailbox table"
        )),
        "{run:#?}"
    );
    assert_eq!(outbox_files(&dir, "failed"), std::slice::from_ref(&id));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let run = run_in(&dir, &["outbox", "deliver", "--once"]).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, ""),
        "not retried: {run:#?}"
    );
    assert_eq!(server.wait_until_idle(WAIT).await.len(), 1);

    let status = run_in(&dir, &["outbox", "status"]).await;
    assert!(
        status
            .stdout
            .starts_with("outbox: 0 pending, 0 in flight, 0 sent, 1 failed\n")
    );
    assert!(
        status
            .stdout
            .contains("attempts 1; permanent failure: RCPT 550-5.1.1"),
        "{status:#?}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&run_in(&dir, &["outbox", "status", "--json"]).await.stdout).unwrap();
    assert_eq!(
        json["entries"][0]["last_error"]["reply"],
        serde_json::json!([
            "550-5.1.1 <bob@example.com>: Recipient address rejected:",
            "550 5.1.1 User unknown in virtual mailbox table"
        ])
    );

    // `retry` makes it pending again (and it fails again here); unknown ids are refused.
    let run = run_in(&dir, &["outbox", "retry", &id]).await;
    assert_eq!(
        (run.code, run.stdout.clone()),
        (0, format!("pending again: {id}\n"))
    );
    assert_eq!(outbox_files(&dir, "new"), std::slice::from_ref(&id));
    let run = run_in(&dir, &["outbox", "deliver", "--once"]).await;
    assert_eq!(run.code, 69, "{run:#?}");
    assert!(run.stdout.contains("(attempt 2)"), "{run:#?}");
    assert_eq!(server.wait_until_idle(WAIT).await.len(), 2);
    for bad in ["1234-nope", "../../etc/passwd"] {
        let run = run_in(&dir, &["outbox", "retry", bad]).await;
        assert_eq!(run.code, 64, "{run:#?}");
    }
    let run = run_in(&dir, &["outbox", "retry", "--all"]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(outbox_files(&dir, "new"), [id]);
}

#[tokio::test]
async fn a_refused_connection_is_retried_and_suspends_the_pass() {
    let dir = TempDir::new("outbox-refused");
    let port = closed_port();
    install(&dir, &Candidate::plain(port));
    enqueue_many(&dir, 3);

    let run = run_in(
        &dir,
        &["outbox", "deliver", "--once", "--retry-base-ms", "200"],
    )
    .await;
    assert_eq!(run.code, 75, "{run:#?}");
    assert_eq!(run.stdout.matches("deferred ").count(), 1, "{run:#?}");
    assert!(run.stdout.contains("(attempt 1): CONNECT: "), "{run:#?}");
    assert!(
        run.stdout
            .contains("the server cannot be reached: 2 more due entries wait for the next pass"),
        "{run:#?}"
    );
    let status = run_in(&dir, &["outbox", "status"]).await;
    assert!(
        status.stdout.starts_with("outbox: 3 pending"),
        "{status:#?}"
    );
    assert!(
        status.stdout.contains("last error: CONNECT: "),
        "{status:#?}"
    );
    assert!(
        dir.log()
            .contains(&format!("Connection to 127.0.0.1:{port} failed")),
        "{}",
        dir.log()
    );

    let server = server(inline("")).await;
    repoint(&dir, server.port());
    tokio::time::sleep(Duration::from_millis(250)).await;
    let run = run_in(&dir, &["outbox", "deliver", "--once"]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.stdout.matches("sent ").count(), 3, "{run:#?}");
    assert_eq!(server.wait_for_messages(3, WAIT).await.unwrap().len(), 3);
    assert_eq!(outbox_files(&dir, "sent").len(), 3);
}

#[tokio::test]
async fn temporary_failures_give_up_after_max_attempts() {
    let dir = TempDir::new("outbox-give-up");
    install(&dir, &Candidate::plain(closed_port()));
    let id = queued_id(&notify_issue(&dir, 1, &[]).await);
    let args = [
        "outbox",
        "deliver",
        "--once",
        "--retry-base-ms",
        "10",
        "--max-attempts",
        "2",
    ];
    assert_eq!(run_in(&dir, &args).await.code, 75);
    tokio::time::sleep(Duration::from_millis(30)).await;
    let run = run_in(&dir, &args).await;
    assert_eq!(run.code, 69, "{run:#?}");
    assert!(
        run.stdout.contains(&format!(
            "failed {id} to bob@example.com (attempt 2): gave up after 2 attempt(s) over"
        )),
        "{run:#?}"
    );
    assert_eq!(outbox_files(&dir, "failed"), [id]);
}

#[tokio::test]
async fn three_deliverers_at_once_never_send_the_same_entry() {
    let dir = TempDir::new("outbox-concurrent");
    let server = server(inline(
        "when DATA\n    S: 354 go ahead\n    pause 5ms\n    S: 250 2.0.0 queued\n",
    ))
    .await;
    install(&dir, &Candidate::plain(server.port()));
    enqueue_many(&dir, 40);
    let (a, b, c) = tokio::join!(
        run_in(&dir, &["outbox", "deliver", "--once"]),
        run_in(&dir, &["outbox", "deliver", "--once"]),
        run_in(&dir, &["outbox", "deliver", "--once"]),
    );
    for run in [&a, &b, &c] {
        assert_eq!(run.code, 0, "{run:#?}");
    }
    let counts = [&a, &b, &c].map(|r| r.stdout.matches("sent ").count());
    assert_eq!(counts.iter().sum::<usize>(), 40, "{counts:?}");
    server.wait_until_idle(WAIT).await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for m in server.messages() {
        *seen.entry(message_id(&m)).or_default() += 1;
    }
    assert_eq!(seen.len(), 40);
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
    assert_eq!(outbox_files(&dir, "sent").len(), 40);
    assert!(outbox_files(&dir, "inflight").is_empty());
    assert!(
        outbox_files(&dir, "owners").is_empty(),
        "owners clean up their locks"
    );
    println!("three deliverers sent {counts:?}");
}

#[tokio::test]
async fn the_daemon_picks_up_new_entries_and_stops_on_sigterm() {
    let dir = TempDir::new("outbox-daemon");
    let server = server(inline("")).await;
    install(&dir, &Candidate::plain(server.port()));
    let data_dir = dir.data_dir();
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_appliance"))
        .args(["--data-dir", data_dir.to_str().unwrap()])
        .args(["outbox", "deliver", "--poll-ms", "50", "--max-time", "15"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    enqueue_many(&dir, 3);
    let messages = server
        .wait_for_messages(3, WAIT)
        .await
        .expect("the daemon sends them");
    assert_eq!(messages.len(), 3);

    let pid = daemon.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(WAIT, daemon.wait())
        .await
        .expect("it stops")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let mut out = String::new();
    use tokio::io::AsyncReadExt;
    daemon
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    assert_eq!(out.matches("sent ").count(), 3, "{out}");
    assert!(outbox_files(&dir, "owners").is_empty());
}

#[tokio::test]
async fn the_daemon_stops_at_max_time() {
    let dir = TempDir::new("outbox-max-time");
    install(&dir, &Candidate::plain(closed_port()));
    let started = std::time::Instant::now();
    let run = run_in(
        &dir,
        &["outbox", "deliver", "--max-time", "0.5", "--poll-ms", "50"],
    )
    .await;
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run:#?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_daemon_backs_off_instead_of_spinning_when_the_server_is_down() {
    let dir = TempDir::new("outbox-down");
    let port = closed_port();
    install(&dir, &Candidate::plain(port));
    enqueue_many(&dir, 3);
    let run = run_in(
        &dir,
        &[
            "outbox",
            "deliver",
            "--max-time",
            "1",
            "--poll-ms",
            "20",
            "--retry-base-ms",
            "300",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:#?}");
    let tries = dir
        .log()
        .matches(&format!("Connection to 127.0.0.1:{port} failed"))
        .count();
    // One connection per suspension period (300 ms) in one second, not one per poll.
    assert!(
        (1..=8).contains(&tries),
        "{tries} connection attempts:\n{}",
        run.stdout
    );
    let status = run_in(&dir, &["outbox", "status"]).await;
    assert!(
        status.stdout.starts_with("outbox: 3 pending"),
        "{status:#?}"
    );
}
