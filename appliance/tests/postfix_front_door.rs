//! Real Postfix as the appliance's front door (`scripts/postfix-front-door`): Debian's Postfix
//! as a private instance on a loopback port, delivering `reply.HOSTNAME` into the appliance's
//! maildir, with the harness as the remote MTA. The reply processor is then tested behind the
//! reference's real MTA instead of the appliance's own. Postfix comes from `scripts/setup`; a
//! missing Postfix is a failure, not a skip. Every wait has a timeout, and the instance is
//! stopped when the test ends, passing or not.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use smtp_harness::client::{ClientOptions, play};
use smtp_harness::{ClientScenario, FakeSmtpServer, Render, ServerScenario};
use testkit::front_door::{FrontDoor, HOSTNAME};

/// Every wait in these tests is bounded by this.
const WAIT: Duration = Duration::from_secs(20);

/// The files of a folder, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Polls `check` until it is true or `WAIT` has passed.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The harness as the remote MTA: bob replies to `{reply_to}` through the front door.
const REPLY: &str = r#"
name bob replies through Postfix
role client

S: 220*
C: EHLO mx.example.com
S: 250*
C: MAIL FROM:<bob@example.com>
S: 250*
C: RCPT TO:<{reply_to}>
S: 250*
C: DATA
S: 354*
raw "From: Bob <bob@example.com>\r\nTo: {reply_to}\r\nSubject: Re: T\r\nMessage-ID: <postfix-front-door-1@example.com>\r\n\r\nThanks, merged through Postfix.\r\n\r\nOn Thu, Nov 26, 2026 at 4:35 AM Octo Cat wrote:\r\n> B\r\n.\r\n"
S: 250 2.0.0 Ok: queued as *
C: QUIT
S: 221*
"#;

async fn deliver(door: &FrontDoor, reply_to: &str) {
    let scenario = ClientScenario::parse(REPLY, "<reply>").expect("the reply scenario parses");
    let options = ClientOptions::test_ca(WAIT)
        .expect("the test CA")
        .var("reply_to", reply_to);
    let record = tokio::time::timeout(WAIT, play(&scenario, door.addr, &options))
        .await
        .expect("the reply conversation finished in time");
    assert!(
        record.passed(),
        "the reply through Postfix went off the script: {:?}\n{}\nmail.log:\n{}",
        record.failures,
        record.transcript.to_log(Render::default()),
        door.mail_log()
    );
}

#[tokio::test]
async fn postfix_delivers_replies_into_the_maildir_and_refuses_to_relay() {
    // Arrange: Postfix as the front door of a fresh data folder.
    let door = FrontDoor::start().await;
    let new = door.dir("mail/reply/new");

    // Act: a reply, then a relay attempt.
    deliver(&door, "reply+x@reply.appliance.test").await;
    let relay = ClientScenario::parse(
        "name relay through Postfix\nrole client\n\nS: 220*\nC: EHLO mx.example.com\nS: 250*\n\
         C: MAIL FROM:<bob@example.com>\nS: 250*\nC: RCPT TO:<someone@elsewhere.test>\n\
         S: 554 5.7.1 <someone@elsewhere.test>: Relay access denied\nC: QUIT\nS: 221*\n",
        "<relay>",
    )
    .expect("the relay scenario parses");
    let options = ClientOptions::test_ca(WAIT).expect("the test CA");
    let refused = tokio::time::timeout(WAIT, play(&relay, door.addr, &options))
        .await
        .expect("the relay conversation finished in time");

    // Assert: one file in new/ with the reply, Postfix's own log line, the relay refused.
    eventually("the reply in mail/reply/new", || files(&new).len() == 1).await;
    let delivered = std::fs::read_to_string(&files(&new)[0]).expect("the delivered file");
    assert!(
        delivered.contains("Delivered-To: reply+x@reply.appliance.test\n")
            && delivered.contains("Thanks, merged through Postfix."),
        "the delivered file:\n{delivered}"
    );
    eventually(
        "status=sent (delivered to maildir) in logs/mail.log",
        || {
            door.mail_log().lines().any(|l| {
                l.contains("postfix/virtual[")
                    && l.contains("to=<reply+x@reply.appliance.test>, relay=virtual")
                    && l.contains("status=sent (delivered to maildir)")
            })
        },
    )
    .await;
    assert!(
        refused.passed(),
        "the relay attempt was not refused as expected: {:?}\n{}",
        refused.failures,
        refused.transcript.to_log(Render::default())
    );
    eventually("the relay refusal in logs/mail.log", || {
        door.mail_log()
            .contains("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <someone@elsewhere.test>: Relay access denied")
    })
    .await;
    assert_eq!(files(&new).len(), 1, "the relay attempt delivered nothing");
}

/// Runs the appliance on the data folder and returns its standard output.
async fn run_appliance(data: &Path, args: &[&str]) -> String {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_appliance"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(WAIT, run)
        .await
        .unwrap_or_else(|_| panic!("appliance {} finished in time", args.join(" ")))
        .expect("the appliance runs");
    assert!(
        out.status.success(),
        "appliance {} failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn the_reply_processor_turns_a_reply_through_postfix_into_a_comment() {
    // Arrange: Postfix as the front door; the appliance's settings with a fake server for its
    // notifications; a notification to bob, whose Reply-To bob answers.
    let door = FrontDoor::start().await;
    let outbound = FakeSmtpServer::builder(ServerScenario::accept_all())
        .verify_on_drop(false)
        .start()
        .await
        .expect("the fake server for notifications");
    let settings = format!(
        "hostname = \"{HOSTNAME}\"\n\n[email]\nenabled = true\naddress = \"127.0.0.1\"\n\
         port = {}\nencryption = \"none\"\nauthentication = \"none\"\n\
         noreply_address = \"noreply@{HOSTNAME}\"\ndiscard_to_noreply = false\n\
         support = \"https://support.{HOSTNAME}\"\ntimeout_secs = 5\n\n[inbound]\n\
         listen = \"127.0.0.1:0\"\n",
        outbound.port()
    );
    std::fs::write(door.dir("settings.toml"), settings).expect("settings.toml");
    run_appliance(
        &door.data,
        &[
            "notify",
            "issue-comment",
            "--repo",
            "octo/widgets",
            "--number",
            "42",
            "--comment-id",
            "1",
            "--to",
            "bob@example.com",
            "--to-user",
            "bob",
            "--author",
            "Octo Cat",
            "--subject",
            "T",
            "--body",
            "B",
            "--send-now",
        ],
    )
    .await;
    let notifications = outbound
        .wait_for_messages(1, WAIT)
        .await
        .expect("the notification arrives");
    let reply_to = notifications[0]
        .header("Reply-To")
        .expect("the notification has a Reply-To");
    let reply_to = match (reply_to.find('<'), reply_to.rfind('>')) {
        (Some(a), Some(b)) if a < b => reply_to[a + 1..b].to_owned(),
        _ => reply_to.trim().to_owned(),
    };
    assert!(
        reply_to.starts_with("reply+") && reply_to.ends_with("@reply.appliance.test"),
        "Reply-To: {reply_to}"
    );

    // Act: bob's reply through Postfix (not the appliance's MTA), then the processor.
    deliver(&door, &reply_to).await;
    eventually("the reply in mail/reply/new", || {
        files(&door.dir("mail/reply/new")).len() == 1
    })
    .await;
    let output = run_appliance(&door.data, &["replies", "process", "--once"]).await;

    // Assert: the file moved to success, and a comment by bob on the issue.
    assert!(
        output.contains("comment on octo/widgets/issue/42 by bob"),
        "appliance replies process printed:\n{output}"
    );
    assert_eq!(files(&door.dir("mail/reply/new")), Vec::<PathBuf>::new());
    assert_eq!(files(&door.dir("incoming-mail/success")).len(), 1);
    assert_eq!(files(&door.dir("incoming-mail/failure")).len(), 0);
    let comments: Vec<serde_json::Value> = files(&door.dir("comments"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            serde_json::from_str(&std::fs::read_to_string(p).expect("a comment file"))
                .expect("a comment is JSON")
        })
        .collect();
    assert_eq!(comments.len(), 1, "comments: {comments:?}");
    let comment = &comments[0];
    assert_eq!(comment["user"], "bob", "{comment}");
    assert_eq!(comment["thread"], "octo/widgets/issue/42", "{comment}");
    assert!(
        comment["message_id"]
            .as_str()
            .is_some_and(|id| id.contains("postfix-front-door-1@example.com")),
        "{comment}"
    );
    let body = comment["body"].as_str().unwrap_or_default();
    assert!(
        body.contains("Thanks, merged through Postfix.") && !body.contains("wrote:"),
        "the comment's body: {body:?}"
    );
}
