//! The reply processor (`appliance replies process`, `appliance comments list`): replies
//! written into the maildir's `new/` as the inbound MTA delivers them, with tokens made by the
//! outbound side's code (the data directory's reply key and reply directory), then the real
//! binary run over them. Also one reply end to end: the harness delivers it to
//! `appliance inbound serve`, the processor turns it into a comment.
//!
//! Over 500 lines on purpose: one file is one test binary that links the whole crate, so a
//! capability's tests stay together with the helpers they share instead of being split into
//! binaries that each pay the link.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use appliance::datadir::DataDir;
use appliance::notify::{
    Recipient, ReplyDirectory, ReplyKey, Thread, ThreadKind, TokenClaims, issue_token,
    load_or_create_key,
};
use common::{Run, TempDir, WAIT, repo, run_in};

const HOST: &str = "appliance.test";

/// A data directory with settings, a reply key, and bob (bob@example.com) known for issue
/// octo/widgets#42 and pull request octo/widgets#7.
struct Ctx {
    dir: TempDir,
    key: ReplyKey,
    bob: u32,
    issue: u32,
    pull: u32,
}

impl Ctx {
    fn new(name: &str) -> Ctx {
        let dir = TempDir::new(name);
        let data = dir.data_dir();
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(
            data.join("settings.toml"),
            format!(
                "hostname = \"{HOST}\"\n[email]\nenabled = true\naddress = \"127.0.0.1\"\nport = 25\n\
                 encryption = \"none\"\nnoreply_address = \"noreply@{HOST}\"\n"
            ),
        )
        .unwrap();
        let data_dir = DataDir::new(&data);
        let key = load_or_create_key(&data_dir).unwrap();
        let directory = ReplyDirectory::in_data_dir(&data_dir);
        let bob = Recipient::new("bob", "bob@example.com").unwrap();
        let (b, issue) = directory
            .ids_for_recipient(&bob, &Thread::issue("octo/widgets", 42).unwrap())
            .unwrap();
        let (_, pull) = directory
            .ids_for_recipient(&bob, &Thread::pull_request("octo/widgets", 7).unwrap())
            .unwrap();
        // Another user, so that "wrong sender" has someone real to be.
        let carol = Recipient::new("carol", "carol@example.org").unwrap();
        directory
            .ids_for_recipient(&carol, &Thread::issue("octo/widgets", 42).unwrap())
            .unwrap();
        Ctx {
            dir,
            key,
            bob: b,
            issue,
            pull,
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.data_dir()
    }

    fn token(&self, user: u32, thread: u32, kind: ThreadKind, age: Duration) -> String {
        issue_token(
            &self.key,
            &TokenClaims {
                user_id: user,
                thread_id: thread,
                kind,
                issued_at: SystemTime::now() - age,
            },
        )
    }

    fn issue_token(&self) -> String {
        self.token(self.bob, self.issue, ThreadKind::Issue, Duration::ZERO)
    }

    /// Puts a message into `mail/reply/new/` (as the MTA does: tmp, then rename); returns its name.
    fn deliver(&self, content: &[u8]) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let maildir = self.data().join("mail/reply");
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let name = format!(
            "1700000000.M{}P{}Q{}.test",
            N.fetch_add(1, Ordering::Relaxed),
            std::process::id(),
            N.load(Ordering::Relaxed)
        );
        std::fs::write(maildir.join("tmp").join(&name), content).unwrap();
        std::fs::rename(
            maildir.join("tmp").join(&name),
            maildir.join("new").join(&name),
        )
        .unwrap();
        name
    }

    fn files(&self, sub: &str) -> Vec<String> {
        list(&self.data().join(sub))
    }

    async fn process(&self) -> Run {
        let run = run_in(&self.dir, &["replies", "process", "--once"]).await;
        assert_eq!(run.code, 0, "{}", run.output());
        run
    }

    async fn comments(&self) -> Vec<serde_json::Value> {
        let run = run_in(&self.dir, &["comments", "list", "--json"]).await;
        assert_eq!(run.code, 0, "{}", run.output());
        serde_json::from_str(&run.stdout).unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data().join("logs/mail-replies/metroplex.log"))
            .unwrap_or_default()
    }
}

fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A reply as a mail client writes it, after the MTA's trace headers.
fn reply(token: &str, from: &str, message_id: &str, extra: &str, body: &str) -> String {
    format!(
        "Return-Path: <{from}>\r\nX-Original-To: reply+{token}@reply.{HOST}\r\n\
         Delivered-To: reply+{token}@reply.{HOST}\r\n\
         From: Bob <{from}>\r\nTo: \"octo/widgets\" <reply+{token}@reply.{HOST}>\r\n\
         Cc: Subscribed <subscribed@noreply.{HOST}>\r\nSubject: Re: [octo/widgets] Widgets fall over (#42)\r\n\
         Message-ID: <{message_id}>\r\nIn-Reply-To: <octo/widgets/issue/42@{HOST}>\r\n{extra}\r\n{body}"
    )
}

const BODY: &str = "Looks good to me.\r\nShip it.\r\n\r\nOn Tue, May 1, 2024 at 12:00 PM Alice Liddell <noreply@appliance.test> wrote:\r\n> Widgets fall over\r\n> when stacked.\r\n\r\n-- \r\nBob\r\n";

#[tokio::test]
async fn a_valid_reply_becomes_a_comment_on_its_thread_by_its_user() {
    let ctx = Ctx::new("replies-valid");
    let name = ctx.deliver(
        reply(
            &ctx.issue_token(),
            "bob@example.com",
            "r1@example.com",
            "",
            BODY,
        )
        .as_bytes(),
    );
    // A pull request reply, From in another case.
    let pr = ctx.token(
        ctx.bob,
        ctx.pull,
        ThreadKind::PullRequest,
        Duration::from_secs(86_400),
    );
    ctx.deliver(reply(&pr, "Bob@Example.COM", "r2@example.com", "", "LGTM\r\n").as_bytes());
    let run = ctx.process().await;
    assert!(
        run.stdout.contains(&format!(
            "success {name}: comment on octo/widgets/issue/42 by bob"
        )),
        "{}",
        run.stdout
    );
    assert_eq!(ctx.files("mail/reply/new"), Vec::<String>::new());
    assert_eq!(ctx.files("incoming-mail/success").len(), 2);
    assert!(ctx.files("incoming-mail/failure").is_empty());
    let comments = ctx.comments().await;
    assert_eq!(comments.len(), 2, "{comments:?}");
    let issue = comments
        .iter()
        .find(|c| c["thread"] == "octo/widgets/issue/42")
        .unwrap();
    assert_eq!(issue["user"], "bob");
    assert_eq!(issue["body"], "Looks good to me.\nShip it.");
    assert_eq!(issue["message_id"], "r1@example.com");
    let pull = comments
        .iter()
        .find(|c| c["thread"] == "octo/widgets/pull/7")
        .unwrap();
    assert_eq!(pull["body"], "LGTM");

    let log = ctx.log();
    let path = ctx.data().join("mail/reply/new").join(&name);
    let success = ctx.data().join("incoming-mail/success");
    for line in [
        "INFO (".to_owned(),
        "metroplex: processing <r1@example.com>".to_owned(),
        format!("Matched {}", path.display()),
        format!("Moving {} => {}", path.display(), success.display()),
    ] {
        assert!(log.contains(&line), "{line} missing:\n{log}");
    }
    assert!(
        log.lines()
            .all(|l| l.starts_with('[') && l.contains(" #] ")),
        "{log}"
    );

    // Running again finds nothing to do and posts nothing twice.
    ctx.process().await;
    assert_eq!(ctx.comments().await.len(), 2);
    let text = run_in(&ctx.dir, &["comments", "list"]).await;
    assert!(
        text.stdout
            .contains("octo/widgets/issue/42  by bob <bob@example.com>"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("    Looks good to me."),
        "{}",
        text.stdout
    );
}

/// Processes one message and returns the failure line and the log.
async fn rejected(ctx: &Ctx, content: &[u8]) -> String {
    let name = ctx.deliver(content);
    let run = ctx.process().await;
    assert!(
        ctx.files("incoming-mail/failure").contains(&name),
        "{}",
        run.output()
    );
    assert!(!ctx.files("incoming-mail/success").contains(&name));
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!("failure {name}: ")))
        .unwrap_or_else(|| panic!("no failure line: {}", run.stdout))
        .to_owned();
    let log = ctx.log();
    let reason = line.split_once(": ").unwrap().1;
    assert!(log.contains(reason), "reason {reason:?} not logged:\n{log}");
    assert!(log.contains(&format!(
        "=> {}",
        ctx.data().join("incoming-mail/failure").display()
    )));
    line
}

#[tokio::test]
async fn forged_tampered_and_expired_tokens_are_refused() {
    let ctx = Ctx::new("replies-tokens");
    let forged = issue_token(
        &ReplyKey::from_bytes([7; 32]),
        &TokenClaims {
            user_id: ctx.bob,
            thread_id: ctx.issue,
            kind: ThreadKind::Issue,
            issued_at: SystemTime::now(),
        },
    );
    let line = rejected(
        &ctx,
        reply(&forged, "bob@example.com", "f1@x", "", "hi\r\n").as_bytes(),
    )
    .await;
    assert!(line.contains("signature does not match"), "{line}");

    let good = ctx.issue_token();
    let mut tampered: Vec<char> = good.chars().collect();
    tampered[10] = if tampered[10] == 'a' { 'b' } else { 'a' };
    let tampered: String = tampered.into_iter().collect();
    let line = rejected(
        &ctx,
        reply(&tampered, "bob@example.com", "f2@x", "", "hi\r\n").as_bytes(),
    )
    .await;
    assert!(line.contains("reply token"), "{line}");

    let expired = ctx.token(
        ctx.bob,
        ctx.issue,
        ThreadKind::Issue,
        Duration::from_secs(31 * 86_400),
    );
    let line = rejected(
        &ctx,
        reply(&expired, "bob@example.com", "f3@x", "", "hi\r\n").as_bytes(),
    )
    .await;
    assert!(line.contains("has expired"), "{line}");

    let line = rejected(
        &ctx,
        reply("notatoken", "bob@example.com", "f4@x", "", "hi\r\n").as_bytes(),
    )
    .await;
    assert!(line.contains("not a valid reply token"), "{line}");
    assert!(ctx.comments().await.is_empty());
}

#[tokio::test]
async fn unknown_thread_wrong_sender_and_no_reply_address_are_refused() {
    let ctx = Ctx::new("replies-who");
    let unknown = ctx.token(ctx.bob, 999, ThreadKind::Issue, Duration::ZERO);
    let line = rejected(
        &ctx,
        reply(&unknown, "bob@example.com", "u1@x", "", "hi\r\n").as_bytes(),
    )
    .await;
    assert!(line.contains("thread id 999, which is unknown"), "{line}");
    let kind = ctx.token(ctx.bob, ctx.issue, ThreadKind::PullRequest, Duration::ZERO);
    let line = rejected(
        &ctx,
        reply(&kind, "bob@example.com", "u2@x", "", "hi\r\n").as_bytes(),
    )
    .await;
    assert!(
        line.contains("does not match octo/widgets/issue/42"),
        "{line}"
    );

    let line = rejected(
        &ctx,
        reply(&ctx.issue_token(), "eve@example.net", "w1@x", "", "hi\r\n").as_bytes(),
    )
    .await;
    assert!(
        line.contains("eve@example.net may not comment as bob"),
        "{line}"
    );
    let line = rejected(
        &ctx,
        reply(
            &ctx.issue_token(),
            "carol@example.org",
            "w2@x",
            "",
            "hi\r\n",
        )
        .as_bytes(),
    )
    .await;
    assert!(
        line.contains("carol@example.org may not comment as bob"),
        "{line}"
    );

    let plain = "From: bob@example.com\r\nTo: someone@reply.appliance.test\r\nMessage-ID: <n1@x>\r\n\r\nhi\r\n";
    let line = rejected(&ctx, plain.as_bytes()).await;
    assert!(
        line.contains("no reply+TOKEN@reply.appliance.test address"),
        "{line}"
    );

    let quoted_only = "On Tue, May 1, 2024 Alice wrote:\r\n> everything\r\n";
    let line = rejected(
        &ctx,
        reply(
            &ctx.issue_token(),
            "bob@example.com",
            "e1@x",
            "",
            quoted_only,
        )
        .as_bytes(),
    )
    .await;
    assert!(line.contains("empty once quoted text"), "{line}");
    assert!(ctx.comments().await.is_empty());
}

#[tokio::test]
async fn unparseable_auto_replies_and_bounces_are_refused() {
    let ctx = Ctx::new("replies-auto");
    let line = rejected(&ctx, b"").await;
    assert!(line.contains("not a parseable email message"), "{line}");

    let token = ctx.issue_token();
    let line = rejected(
        &ctx,
        reply(
            &token,
            "bob@example.com",
            "a1@x",
            "Auto-Submitted: auto-replied\r\n",
            "I am on vacation.\r\n",
        )
        .as_bytes(),
    )
    .await;
    assert!(
        line.contains("an automatic reply (Auto-Submitted: auto-replied)"),
        "{line}"
    );
    let line = rejected(
        &ctx,
        reply(
            &token,
            "bob@example.com",
            "a2@x",
            "Precedence: bulk\r\n",
            "x\r\n",
        )
        .as_bytes(),
    )
    .await;
    assert!(line.contains("Precedence: bulk"), "{line}");
    let line = rejected(
        &ctx,
        reply(
            &token,
            "bob@example.com",
            "a3@x",
            "X-Autoreply: yes\r\n",
            "x\r\n",
        )
        .as_bytes(),
    )
    .await;
    assert!(line.contains("x-autoreply"), "{line}");

    let bounce = format!(
        "Return-Path: <>\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n\
         To: reply+{token}@reply.{HOST}\r\nMessage-ID: <b1@mx>\r\nSubject: Undelivered Mail\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n\
         --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n--B--\r\n"
    );
    let line = rejected(&ctx, bounce.as_bytes()).await;
    assert!(line.contains("a bounce"), "{line}");
    assert!(ctx.comments().await.is_empty());
}

#[tokio::test]
async fn an_html_only_reply_is_converted_to_text() {
    let ctx = Ctx::new("replies-html");
    let html =
        "<html><body><p>Agreed, <b>merge</b> it.</p><blockquote>old</blockquote></body></html>\r\n";
    ctx.deliver(
        reply(
            &ctx.issue_token(),
            "bob@example.com",
            "h1@x",
            "Content-Type: text/html; charset=utf-8\r\n",
            html,
        )
        .as_bytes(),
    );
    ctx.process().await;
    let comments = ctx.comments().await;
    assert_eq!(comments.len(), 1);
    let body = comments[0]["body"].as_str().unwrap();
    assert!(body.contains("Agreed, merge it."), "{body:?}");
    assert!(!body.contains('<'), "{body:?}");
}

#[tokio::test]
async fn a_second_file_with_the_same_message_id_is_not_posted_again() {
    let ctx = Ctx::new("replies-dup");
    let content = reply(
        &ctx.issue_token(),
        "bob@example.com",
        "same@x",
        "",
        "once\r\n",
    );
    ctx.deliver(content.as_bytes());
    ctx.process().await;
    let line = rejected(&ctx, content.as_bytes()).await;
    assert!(line.contains("already recorded"), "{line}");
    assert_eq!(ctx.comments().await.len(), 1);
}

#[tokio::test]
async fn a_reply_end_to_end_through_the_inbound_server() {
    use smtp_harness::ClientScenario;
    use smtp_harness::client::{ClientOptions, play};
    use tokio::io::{AsyncBufReadExt, BufReader};

    let ctx = Ctx::new("replies-e2e");
    // The server offers STARTTLS with the test certificate.
    let settings = std::fs::read_to_string(ctx.data().join("settings.toml")).unwrap();
    std::fs::write(
        ctx.data().join("settings.toml"),
        format!(
            "{settings}[inbound]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            repo("certs/valid.pem"),
            repo("certs/valid.key.pem")
        ),
    )
    .unwrap();
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_appliance"))
        .arg("--data-dir")
        .arg(ctx.data())
        .args(["inbound", "serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr: std::net::SocketAddr = first
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();
    let token = ctx.issue_token();
    let message = ctx.dir.write(
        "reply.eml",
        &format!(
            "From: Bob <bob@example.com>\r\nTo: reply+{token}@reply.{HOST}\r\nMessage-ID: <e2e@example.com>\r\n\
             Subject: Re: x\r\n\r\nFixed in the next release.\r\n\r\n> old\r\n"
        ),
    );
    let scenario = ClientScenario::parse(
        &format!(
            "role client\nS: 220*\nC: EHLO mx.example.com\nS: 250*\nC: STARTTLS\nS: 220*\ntls\n\
             C: EHLO mx.example.com\nS: 250*\nC: MAIL FROM:<bob@example.com>\nS: 250*\n\
             C: RCPT TO:<reply+{token}@REPLY.{HOST}>\nS: 250*\nC: DATA\nS: 354*\nmessage {}\nS: 250*\n\
             C: QUIT\nS: 221*\n",
            message.display()
        ),
        "<inline>",
    )
    .unwrap();
    let ca = std::fs::read_to_string(repo("certs/ca.pem")).unwrap();
    let record = play(
        &scenario,
        addr,
        &ClientOptions::trusting(&ca, "localhost", WAIT).unwrap(),
    )
    .await;
    assert!(
        record.passed(),
        "{:?}\n{}",
        record.failures,
        record.transcript
    );
    assert_eq!(ctx.files("mail/reply/new").len(), 1);
    ctx.process().await;
    let comments = ctx.comments().await;
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0]["body"], "Fixed in the next release.");
    assert_eq!(comments[0]["thread"], "octo/widgets/issue/42");
    let mail_log = std::fs::read_to_string(ctx.data().join("logs/mail.log")).unwrap();
    assert!(
        mail_log.contains("status=sent (delivered to maildir)"),
        "{mail_log}"
    );
}

/// A small xorshift generator: the kill delays, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What a crash test saw.
#[derive(Debug, Default)]
struct Figures {
    kills: usize,
    /// Kills that left a file in `new/` whose comment was already recorded (between the
    /// record and the move): the next run must only move it.
    window_hits: usize,
    resumed_lines: usize,
}

/// SIGKILLs `replies process --watch` at random moments while it handles 100 messages (80
/// good replies, 20 refused for four reasons), restarts it, and checks after every kill that
/// each message is in exactly one of new/, success/, failure/ and no comment is recorded twice;
/// at the end every good reply is a comment exactly once and every message is where it belongs.
async fn crash_test(name: &str, move_delay_ms: u64) -> Figures {
    const MESSAGES: usize = 100;
    const MAX_KILLS: usize = 400;
    const TIME_LIMIT: Duration = Duration::from_secs(60);
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
    // Tests started in the same nanosecond still get different delays.
    let mut rng = Rng(seed
        ^ name
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31) ^ u64::from(b))
        | 1);

    let ctx = Ctx::new(name);
    let forged_key = ReplyKey::from_bytes([9; 32]);
    let mut good = std::collections::BTreeMap::new(); // file -> message id
    let mut bad = std::collections::BTreeSet::new();
    for i in 0..MESSAGES {
        let id = format!("crash{i}@example.com");
        let (content, ok) = match i % 5 {
            0 => match i % 20 {
                0 => {
                    let forged = issue_token(
                        &forged_key,
                        &TokenClaims {
                            user_id: ctx.bob,
                            thread_id: ctx.issue,
                            kind: ThreadKind::Issue,
                            issued_at: SystemTime::now(),
                        },
                    );
                    (
                        reply(&forged, "bob@example.com", &id, "", "forged\r\n"),
                        false,
                    )
                }
                5 => (
                    reply(&ctx.issue_token(), "eve@example.net", &id, "", "eve\r\n"),
                    false,
                ),
                10 => (
                    reply(
                        &ctx.issue_token(),
                        "bob@example.com",
                        &id,
                        "Auto-Submitted: auto-replied\r\n",
                        "away\r\n",
                    ),
                    false,
                ),
                _ => (
                    format!(
                        "From: bob@example.com\r\nTo: x@reply.{HOST}\r\nMessage-ID: <{id}>\r\n\r\nno token\r\n"
                    ),
                    false,
                ),
            },
            1 => {
                let pr = ctx.token(ctx.bob, ctx.pull, ThreadKind::PullRequest, Duration::ZERO);
                (
                    reply(
                        &pr,
                        "bob@example.com",
                        &id,
                        "",
                        &format!("pull comment {i}\r\n> quoted\r\n"),
                    ),
                    true,
                )
            }
            _ => (
                reply(
                    &ctx.issue_token(),
                    "bob@example.com",
                    &id,
                    "",
                    &format!("issue comment {i}\r\n"),
                ),
                true,
            ),
        };
        let file = ctx.deliver(content.as_bytes());
        if ok {
            good.insert(file, id);
        } else {
            bad.insert(file);
        }
    }
    assert_eq!(good.len(), 80);

    let data = ctx.data();
    let delay = move_delay_ms.to_string();
    let mut figures = Figures::default();
    let started = std::time::Instant::now();
    let check = |ctx: &Ctx| {
        let new = ctx.files("mail/reply/new");
        let success = ctx.files("incoming-mail/success");
        let failure = ctx.files("incoming-mail/failure");
        for file in good.keys().chain(bad.iter()) {
            let places = [&new, &success, &failure]
                .iter()
                .filter(|dir| dir.contains(file))
                .count();
            assert_eq!(places, 1, "{file} is in {places} places");
        }
        assert_eq!(new.len() + success.len() + failure.len(), MESSAGES);
        let comments = CommentStoreView::read(&data);
        let mut ids = std::collections::BTreeSet::new();
        for (id, source) in &comments {
            assert!(ids.insert(id.clone()), "comment {id} recorded twice");
            assert_eq!(good.get(source), Some(id), "a comment from {source}");
            assert!(!failure.contains(source));
        }
        // Files still in new/ whose comment is recorded: killed between record and move.
        comments.iter().filter(|(_, s)| new.contains(s)).count()
    };
    while figures.kills < MAX_KILLS && started.elapsed() < TIME_LIMIT {
        if ctx.files("mail/reply/new").is_empty() {
            break;
        }
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_appliance"))
            .arg("--data-dir")
            .arg(&data)
            .args(["replies", "process", "--watch", "--poll-ms", "5"])
            .args(["--debug-move-delay-ms", &delay])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1 + rng.below(12))).await;
        child.start_kill().unwrap(); // SIGKILL
        tokio::time::timeout(WAIT, child.wait())
            .await
            .expect("the killed process is reaped")
            .unwrap();
        figures.kills += 1;
        figures.window_hits += check(&ctx);
    }
    // Whatever is left is handled by one clean run.
    let last = ctx.process().await;
    figures.resumed_lines = last.stdout.matches("(already recorded)").count();
    check(&ctx);
    assert!(ctx.files("mail/reply/new").is_empty());
    let success: std::collections::BTreeSet<String> =
        ctx.files("incoming-mail/success").into_iter().collect();
    let failure: std::collections::BTreeSet<String> =
        ctx.files("incoming-mail/failure").into_iter().collect();
    assert_eq!(success, good.keys().cloned().collect());
    assert_eq!(failure, bad);
    let comments = ctx.comments().await;
    assert_eq!(comments.len(), good.len(), "every good reply exactly once");
    println!(
        "{name}: {} kills in {:.1}s, {} window hits (recorded, not yet moved), {} resumed by the final run",
        figures.kills,
        started.elapsed().as_secs_f64(),
        figures.window_hits,
        figures.resumed_lines
    );
    assert!(figures.kills > 0);
    figures
}

/// The comments on disk: (Message-ID, source file) of each, read directly.
struct CommentStoreView;

impl CommentStoreView {
    fn read(data: &Path) -> Vec<(String, String)> {
        let store = appliance::replies::CommentStore::new(data.join("comments"));
        store
            .list()
            .unwrap()
            .into_iter()
            .map(|c| (c.message_id.unwrap_or_default(), c.source))
            .collect()
    }
}

#[tokio::test]
async fn killing_the_processor_at_random_moments_loses_nothing_and_posts_nothing_twice() {
    crash_test("replies-crash", 0).await;
}

#[tokio::test]
async fn kills_between_recording_and_moving_only_move_on_restart() {
    // A 5 ms pause between the record and the move: kills land there often.
    let figures = crash_test("replies-crash-window", 5).await;
    assert!(figures.kills > 0);
}
