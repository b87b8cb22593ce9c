//! Crash safety: `appliance outbox deliver` is killed with SIGKILL at random moments while it
//! delivers 50 notifications to a fake server that pauses 20 ms in DATA, restarted, killed
//! again, until the outbox is empty. Then:
//!
//! - nothing is lost: after every kill each entry is in exactly one state directory, and at
//!   the end every message was captured by the server at least once;
//! - nothing is sent twice except in the documented window: after every kill, each entry the
//!   dead process left in flight is classified by asking the server whether it had already
//!   accepted that attempt (a "window hit": the final 250 was sent but the rename into `sent/`
//!   had not happened). At the end, every message was captured exactly `1 + its window hits`
//!   times, so the duplicates are exactly the window hits.
//!
//! The first test runs the appliance as it ships (the window is the time between reading the
//! 250 and one rename); the second widens the window with a hidden fault-injection option
//! (`--debug-record-delay-ms`) so that kills land in it and the classification is exercised.
//! Both print their figures (`cargo test --test crash -- --nocapture`). Every loop and wait is
//! bounded; the seed is printed and can be set with `CRASH_SEED`.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use appliance::datadir::DataDir;
use appliance::notify::{self, Notification, Reason, Recipient, Thread};
use appliance::outbox::Entry;
use common::*;

const MESSAGES: u64 = 50;
const MAX_ROUNDS: usize = 400;
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// A small deterministic generator (xorshift64*), so that a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

#[derive(Debug, Default)]
struct Figures {
    kills: usize,
    /// Entries the killed processes left in flight.
    orphans: usize,
    /// Orphans the server had already accepted (killed inside the window).
    window_hits: usize,
    /// Orphans killed before the server accepted them (sent once, later).
    killed_before_acceptance: usize,
    /// Messages the server captured more than once, counted per extra copy.
    duplicates: usize,
    /// Messages captured in total.
    captured: usize,
    /// Messages recorded as sent by processes that were later killed.
    sent_before_final_pass: usize,
}

/// Entry id → Message-ID, for every queued notification.
fn queue(dir: &TempDir) -> HashMap<String, String> {
    let data_dir = DataDir::new(dir.data_dir());
    let mut ids = HashMap::new();
    for comment in 1..=MESSAGES {
        let n = Notification {
            thread: Thread::issue("octo/widgets", 42).unwrap(),
            comment_id: comment,
            recipient: Recipient::new("bob", "bob@example.com").unwrap(),
            author: "Alice".into(),
            title: "Widgets".into(),
            body: format!("comment {comment}"),
            reason: Reason::Subscribed,
        };
        match notify::enqueue(&data_dir, &n, SystemTime::now()).unwrap() {
            notify::Enqueued::Queued(q) => {
                ids.insert(q.id.to_string(), q.message_id);
            }
            other => panic!("{other:?}"),
        }
    }
    ids
}

/// Checks that every entry is in exactly one state directory; returns the in-flight files.
fn check_nothing_lost(dir: &TempDir, ids: &HashMap<String, String>) -> Vec<String> {
    let mut places: HashMap<String, Vec<&str>> = HashMap::new();
    for state in ["new", "inflight", "sent", "failed"] {
        for file in outbox_files(dir, state) {
            let id = file.split('@').next().unwrap().to_owned();
            places.entry(id).or_default().push(state);
        }
    }
    for id in ids.keys() {
        let found = places.get(id).map(Vec::len).unwrap_or(0);
        assert_eq!(found, 1, "entry {id} is in {:?}", places.get(id));
    }
    assert_eq!(places.len(), ids.len(), "unknown entries: {places:?}");
    outbox_files(dir, "inflight")
}

async fn crash_test(name: &str, record_delay_ms: u64) -> Figures {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("{name}: seed {seed} (CRASH_SEED={seed} replays the kill delays)");
    let mut rng = Rng(seed);

    let dir = TempDir::new(name);
    let server = server(inline(
        "when DATA\n    S: 354 go ahead\n    pause 20ms\n    S: 250 2.0.0 queued\n",
    ))
    .await;
    install(&dir, &Candidate::plain(server.port()));
    let ids = queue(&dir);
    let data_dir = dir.data_dir();
    let delay = record_delay_ms.to_string();

    let mut figures = Figures::default();
    let mut hits: HashMap<String, usize> = HashMap::new();
    let started = Instant::now();
    for _ in 0..MAX_ROUNDS {
        if outbox_files(&dir, "new").is_empty() && outbox_files(&dir, "inflight").is_empty() {
            break;
        }
        if started.elapsed() > TIME_LIMIT {
            break;
        }
        let before: HashSet<String> = outbox_files(&dir, "inflight").into_iter().collect();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_appliance"))
            .args(["--data-dir", data_dir.to_str().unwrap()])
            .args([
                "outbox",
                "deliver",
                "--poll-ms",
                "20",
                "--retry-base-ms",
                "20",
            ])
            .args(["--debug-record-delay-ms", &delay])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5 + rng.below(146))).await;
        child.start_kill().unwrap(); // SIGKILL
        tokio::time::timeout(WAIT, child.wait())
            .await
            .expect("the killed process is reaped")
            .unwrap();
        figures.kills += 1;
        // Let the server finish with the dead connection before asking what it accepted.
        server.wait_until_idle(WAIT).await;
        let mut captured: HashMap<String, usize> = HashMap::new();
        for m in server.messages() {
            *captured.entry(message_id(&m)).or_default() += 1;
        }

        for file in check_nothing_lost(&dir, &ids) {
            if before.contains(&file) {
                continue; // an older orphan, classified when its process was killed
            }
            figures.orphans += 1;
            let path = data_dir.join("outbox/inflight").join(&file);
            let mid = Entry::read(&path).unwrap().meta.message_id.unwrap();
            let accepted = captured.get(&mid).copied().unwrap_or(0);
            let earlier = hits.entry(mid).or_default();
            assert!(
                accepted <= *earlier + 1,
                "{file}: captured {accepted} times"
            );
            if accepted > *earlier {
                *earlier += 1;
                figures.window_hits += 1;
            } else {
                figures.killed_before_acceptance += 1;
            }
        }
    }
    figures.sent_before_final_pass = outbox_files(&dir, "sent").len();

    // A last pass, not killed: it recovers the orphans and sends what is left.
    let run = run_in(&dir, &["outbox", "deliver", "--once"]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    server.wait_until_idle(WAIT).await;
    check_nothing_lost(&dir, &ids);
    assert_eq!(outbox_files(&dir, "sent").len(), MESSAGES as usize);
    assert!(outbox_files(&dir, "failed").is_empty());
    assert!(
        outbox_files(&dir, "owners").is_empty(),
        "dead owners' locks are removed"
    );

    let mut captured: HashMap<String, usize> = HashMap::new();
    for m in server.messages() {
        *captured.entry(message_id(&m)).or_default() += 1;
    }
    figures.captured = captured.values().sum();
    for mid in ids.values() {
        let n = captured.get(mid).copied().unwrap_or(0);
        let h = hits.get(mid).copied().unwrap_or(0);
        assert!(n >= 1, "{mid} was lost");
        assert_eq!(n, 1 + h, "{mid}: captured {n} times with {h} window hit(s)");
        figures.duplicates += n - 1;
    }
    assert_eq!(captured.len(), MESSAGES as usize, "{captured:?}");
    assert_eq!(figures.duplicates, figures.window_hits);
    println!("{name}: {figures:?}");
    figures
}

#[tokio::test]
async fn sigkill_at_random_moments_loses_nothing_and_duplicates_nothing_outside_the_window() {
    let f = crash_test("crash-as-shipped", 0).await;
    assert!(f.kills >= 2, "{f:?}");
}

#[tokio::test]
async fn with_a_widened_window_every_duplicate_is_a_window_hit() {
    let f = crash_test("crash-widened", 15).await;
    assert!(f.kills >= 2, "{f:?}");
}
