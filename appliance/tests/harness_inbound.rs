//! Every scenario in `scenarios/inbound/`: the harness as the remote MTA against the
//! appliance's inbound side (its MTA and its reply processor, started through its adapter in
//! smtp-harness.toml on a fresh data folder), with the effects checked and the conversation and
//! the maildir moves snapshotted in `snapshots/inbound__*.snap`. The appliance binary comes from
//! the same workspace build.

mod common;

use common::appliance_runs;

use std::sync::Arc;

use smtp_harness::AnyScenario;
use smtp_harness::run::Verdict;

#[tokio::test]
async fn every_inbound_scenario_meets_its_effects_and_snapshot() {
    // Arrange and act: every scenario, each with its own appliance, all at once.
    let scenarios = appliance_runs::scenarios("inbound");
    assert!(
        scenarios.len() >= 12,
        "only {} inbound scenarios",
        scenarios.len()
    );
    for (name, scenario) in &scenarios {
        assert!(
            matches!(scenario, AnyScenario::Client(c) if c.receiver.is_some()),
            "{name} names no receiver"
        );
    }
    let results = appliance_runs::run_all(scenarios).await;

    // Assert: every step and effect met; the conversation and the moves as snapshotted.
    let failures: Vec<String> = results
        .iter()
        .filter(|(_, r)| r.verdict != Verdict::Pass)
        .map(|(_, r)| r.full())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    for (name, result) in &results {
        let effects: String = result
            .details
            .lines()
            .skip_while(|l| *l != "receiver effects:")
            .take_while(|l| *l == "receiver effects:" || l.starts_with("   "))
            .map(|l| format!("{l}\n"))
            .collect();
        let text = format!(
            "{}{effects}",
            smtp_harness::snapshot::sessions_text(&result.records)
        );
        // Reply tokens are signed with a key made for each run; queue ids and sizes follow.
        let filters = [
            (r"reply\+[a-z0-9]+@", "reply+[token]@"),
            (r"queued as [0-9A-F]+", "queued as [queue id]"),
            (r"\[message: \d+ bytes\]", "[message: [size] bytes]"),
            (r"issued \d+s ago", "issued [age] ago"),
        ];
        let snapshot = format!("inbound__{}", name.trim_end_matches(".scn"));
        let description = format!(
            "scenarios/inbound/{name}, the harness as the remote MTA against the appliance"
        );
        common::snapshot::assert_snapshot(&snapshot, &description, &filters, text);
    }
}

#[test]
fn every_inbound_snapshot_has_its_scenario() {
    appliance_runs::assert_every_snapshot_has_its_scenario("inbound", "inbound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_replies_are_each_processed_exactly_once() {
    // Arrange: one appliance receiver, after one notification to bob.
    use smtp_harness::run::AdapterReceiver;
    use smtp_harness::scenario::ReceiverSpec;
    let spec = ReceiverSpec::new("appliance")
        .setting("notify", "issue octo/widgets 42 bob bob@example.com");
    let receiver = AdapterReceiver::start(&spec, &appliance_runs::context())
        .await
        .expect("the receiver starts");
    let reply = Arc::new(common::inline_client(
        "role client\nS: 220*\nC: EHLO mx.example.com\nS: 250*\nC: MAIL FROM:<bob@example.com>\nS: 250*\nC: RCPT TO:<{reply_to}>\nS: 250*\nC: DATA\nS: 354*\n\
         raw \"From: bob@example.com\\r\\nTo: {reply_to}\\r\\nSubject: Re: the thread\\r\\nMessage-ID: <r{n}@example.com>\\r\\n\\r\\nReply number {n}.\\r\\n.\\r\\n\"\nS: 250*\nC: QUIT\nS: 221*\n",
    ));
    let options = receiver.client_options().expect("options");

    // Act: 200 remote MTAs at once.
    let mut plays = tokio::task::JoinSet::new();
    for n in 0..200 {
        let (reply, options) = (reply.clone(), options.clone().var("n", &n.to_string()));
        let addr = receiver.addr;
        plays.spawn(async move { smtp_harness::client::play(&reply, addr, &options).await });
    }
    while let Some(record) = plays.join_next().await {
        let record = record.expect("no panic");
        assert!(
            record.passed(),
            "{:?}\n{}",
            record.failures,
            record.transcript
        );
    }

    // Assert: 200 files in success, 200 comments, each reply exactly once.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let count = |dir: &str| {
        std::fs::read_dir(receiver.data.join(dir))
            .map(|d| d.flatten().count())
            .unwrap_or(0)
    };
    while count("incoming-mail/success") < 200 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(count("incoming-mail/success"), 200);
    assert_eq!(count("incoming-mail/failure"), 0);
    assert_eq!(count("mail/reply/new"), 0);
    let mut bodies: Vec<String> = std::fs::read_dir(receiver.data.join("comments"))
        .expect("comments")
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| std::fs::read_to_string(e.path()).expect("comment"))
        .collect();
    assert_eq!(bodies.len(), 200, "one comment per reply");
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), 200, "no comment recorded twice");
    for n in [0, 99, 199] {
        assert!(
            bodies
                .iter()
                .any(|b| b.contains(&format!("\"body\":\"Reply number {n}.\""))),
            "reply {n} missing"
        );
    }
    receiver.stop().await;
}
