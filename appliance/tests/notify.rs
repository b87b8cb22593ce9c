//! `appliance notify …` end to end: the notification queued and sent through the real binary
//! to the fake SMTP server, then read back with mail-parser (an independent parser): headers,
//! threading, MIME, the signed reply token and what it names.

mod common;

use std::time::{Duration, SystemTime};

use appliance::datadir::DataDir;
use appliance::notify::{
    ReplyDirectory, ReplyKey, Thread, ThreadKind, TokenError, token::token_of_address, verify_token,
};
use common::*;
use mail_parser::{MessageParser, MimeHeaders};

const HOST: &str = "appliance.example.com";
const NOREPLY: &str = "noreply@appliance.example.com";
const DAY: Duration = Duration::from_secs(86_400);

fn key(dir: &TempDir) -> ReplyKey {
    let text = std::fs::read_to_string(dir.data_dir().join("secrets/reply-key")).expect("key");
    ReplyKey::from_hex(&text).expect("64 hex digits")
}

fn directory(dir: &TempDir) -> ReplyDirectory {
    ReplyDirectory::in_data_dir(&DataDir::new(dir.data_dir()))
}

#[tokio::test]
async fn issue_comment_has_the_reference_headers_threading_mime_and_a_signed_token() {
    let dir = TempDir::new("notify-issue");
    let server = server(inline(ACCEPT_ALICE)).await;
    // STARTTLS and AUTH PLAIN, as a real relay would want.
    install(&dir, &Candidate::new(server.port()));
    let body = dir.write(
        "body.txt",
        "Still broken <script>alert('x')</script> & worse.\n\nSecond paragraph: ünïcödé ✓\n",
    );
    let run = run_in(
        &dir,
        &[
            "notify",
            "issue-comment",
            "--repo",
            "octo/widgets",
            "--number",
            "42",
            "--comment-id",
            "123",
            "--to",
            "bob@example.com",
            "--to-user",
            "bob",
            "--author",
            "Zoë Liddell",
            "--subject",
            "Widgets fall över — again",
            "--body-file",
            body.to_str().unwrap(),
            "--send-now",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:#?}\n{}", dir.log());
    let id = run.stdout.lines().next().expect("the queue id");
    assert!(
        run.stdout
            .contains(&format!("sent {id} to bob@example.com: 250")),
        "{run:#?}"
    );

    let messages = server.wait_for_messages(1, WAIT).await.expect("message");
    let m = &messages[0];
    // The envelope carries the real recipient; the headers only the no-reply address.
    assert_eq!(m.mail_from, NOREPLY);
    assert_eq!(m.rcpt_to, ["bob@example.com"]);
    assert!(m.tls);
    assert!(
        !m.data_str().contains("bob@example.com"),
        "{}",
        m.data_str()
    );

    let parsed = MessageParser::default().parse(&m.data).expect("parses");
    let from = parsed.from().and_then(|a| a.first()).expect("From");
    assert_eq!(from.address(), Some(NOREPLY));
    assert_eq!(from.name(), Some("Zoë Liddell"));
    let to = parsed.to().and_then(|a| a.first()).expect("To");
    assert_eq!(to.address(), Some(NOREPLY));
    assert_eq!(to.name(), Some("octo/widgets"));
    let cc = parsed.cc().and_then(|a| a.first()).expect("Cc");
    assert_eq!(
        cc.address(),
        Some("subscribed@noreply.appliance.example.com")
    );
    assert_eq!(
        parsed.subject(),
        Some("Re: [octo/widgets] Widgets fall över — again (#42)"),
        "the UTF-8 subject round-trips"
    );
    assert!(
        m.header("Subject").unwrap().is_ascii(),
        "the subject is RFC 2047-encoded"
    );
    assert_eq!(
        parsed.message_id(),
        Some("octo/widgets/issue/42/c123@appliance.example.com")
    );
    let root = "octo/widgets/issue/42@appliance.example.com";
    assert_eq!(parsed.in_reply_to().as_text(), Some(root));
    assert_eq!(parsed.references().as_text(), Some(root));
    assert_eq!(
        m.header("List-ID").as_deref(),
        Some("\"octo/widgets\" <widgets.octo.appliance.example.com>")
    );
    assert!(parsed.date().is_some());
    assert_eq!(
        m.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert_eq!(
        m.header("X-Appliance-Reason").as_deref(),
        Some("subscribed")
    );

    // MIME: multipart/alternative with a text and an HTML part.
    let ct = parsed.content_type().expect("Content-Type");
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    assert_eq!((parsed.text_body_count(), parsed.html_body_count()), (1, 1));
    let text = parsed.body_text(0).expect("text part");
    assert!(
        text.contains("Still broken <script>alert('x')</script> & worse."),
        "{text}"
    );
    assert!(text.contains("Second paragraph: ünïcödé ✓"), "{text}");
    assert!(
        text.contains("https://appliance.example.com/octo/widgets/issues/42#issuecomment-123"),
        "{text}"
    );
    assert!(
        text.contains("Need help? https://support.example.com"),
        "{text}"
    );
    let html = parsed.body_html(0).expect("HTML part");
    assert!(
        html.contains("Still broken &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; worse."),
        "{html}"
    );
    assert!(
        !html.contains("<script"),
        "the HTML part escapes the body: {html}"
    );
    assert!(html.contains("ünïcödé ✓"), "{html}");

    // Reply-To: reply+TOKEN@reply.HOSTNAME, a valid local part, signed with the data dir's key.
    let reply_to = parsed
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .expect("Reply-To")
        .to_owned();
    let token = token_of_address(&reply_to, HOST).expect("reply+TOKEN@reply.HOSTNAME");
    assert!(format!("reply+{token}").len() <= 64, "{reply_to}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    let key = key(&dir);
    let claims = verify_token(&key, token, SystemTime::now(), DAY).expect("the token verifies");
    assert_eq!(claims.kind, ThreadKind::Issue);
    let ids = directory(&dir);
    assert_eq!(ids.user(claims.user_id).unwrap().as_deref(), Some("bob"));
    assert_eq!(
        ids.thread(claims.thread_id).unwrap(),
        Some(Thread::issue("octo/widgets", 42).unwrap())
    );
    let age = SystemTime::now().duration_since(claims.issued_at).unwrap();
    assert!(age < Duration::from_secs(60), "{age:?}");

    // Tampered, expired, another key.
    let mut tampered = token.to_owned().into_bytes();
    tampered[10] = if tampered[10] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        verify_token(&key, &tampered, SystemTime::now(), DAY),
        Err(TokenError::BadSignature)
    );
    assert!(matches!(
        verify_token(&key, token, SystemTime::now() + 2 * DAY, DAY),
        Err(TokenError::Expired { .. })
    ));
    let other = ReplyKey::from_bytes([7; 32]);
    assert_eq!(
        verify_token(&other, token, SystemTime::now(), DAY),
        Err(TokenError::BadSignature)
    );

    // The key is private and never printed or logged.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| {
        std::fs::metadata(dir.data_dir().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("secrets/reply-key"), 0o600);
    assert_eq!(mode("secrets"), 0o700);
    let hex = key.to_hex();
    assert!(!run.output().contains(&hex));
    assert!(!dir.log().contains(&hex));
    assert!(!m.data_str().contains(&hex));
}

#[tokio::test]
async fn pull_request_and_commit_comments_and_a_second_comment_on_the_same_thread() {
    let dir = TempDir::new("notify-kinds");
    let server = server(inline("")).await;
    install(&dir, &Candidate::plain(server.port()));
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let common = |user: &'static str| {
        vec![
            "--repo",
            "octo/widgets",
            "--to",
            if user == "bob" {
                "bob@example.com"
            } else {
                "carol@example.org"
            },
            "--to-user",
            user,
            "--author",
            "Alice",
            "--subject",
            "Make widgets stand",
            "--body",
            "LGTM",
        ]
    };
    let mut pr = vec![
        "notify",
        "pr-comment",
        "--number",
        "7",
        "--comment-id",
        "5",
        "--reason",
        "review-requested",
    ];
    pr.extend(common("carol"));
    let mut commit = vec![
        "notify",
        "commit-comment",
        "--commit",
        sha,
        "--comment-id",
        "9",
    ];
    commit.extend(common("bob"));
    let mut pr2 = vec![
        "notify",
        "pr-comment",
        "--number",
        "7",
        "--comment-id",
        "6",
        "--reason",
        "mention",
    ];
    pr2.extend(common("bob"));
    for args in [&pr, &commit, &pr2] {
        let run = run_in(&dir, args).await;
        assert_eq!(run.code, 0, "{run:#?}");
    }
    assert_eq!(outbox_files(&dir, "new").len(), 3);
    let run = run_in(&dir, &["outbox", "deliver", "--once"]).await;
    assert_eq!(run.code, 0, "{run:#?}");

    let messages = server.wait_for_messages(3, WAIT).await.expect("messages");
    let parsed: Vec<_> = messages
        .iter()
        .map(|m| MessageParser::default().parse(&m.data).unwrap())
        .collect();
    let by_id = |id: &str| {
        parsed
            .iter()
            .position(|p| p.message_id() == Some(id))
            .unwrap_or_else(|| panic!("no message {id}"))
    };
    let p1 = by_id("octo/widgets/pull/7/c5@appliance.example.com");
    let c = by_id(&format!(
        "octo/widgets/commit/{sha}/c9@appliance.example.com"
    ));
    let p2 = by_id("octo/widgets/pull/7/c6@appliance.example.com");

    assert_eq!(messages[p1].rcpt_to, ["carol@example.org"]);
    assert_eq!(messages[c].rcpt_to, ["bob@example.com"]);
    assert_eq!(
        parsed[p1].subject(),
        Some("Re: [octo/widgets] Make widgets stand (#7)")
    );
    assert_eq!(
        parsed[c].subject(),
        Some("Re: [octo/widgets] Make widgets stand (0123456)")
    );
    // Both pull request comments thread under the same root.
    for i in [p1, p2] {
        assert_eq!(
            parsed[i].in_reply_to().as_text(),
            Some("octo/widgets/pull/7@appliance.example.com")
        );
    }
    assert_eq!(
        parsed[c].references().as_text(),
        Some(format!("octo/widgets/commit/{sha}@appliance.example.com").as_str())
    );
    assert!(
        parsed[p1]
            .body_text(0)
            .unwrap()
            .contains("/octo/widgets/pull/7#issuecomment-5")
    );
    assert!(
        parsed[c]
            .body_text(0)
            .unwrap()
            .contains(&format!("/octo/widgets/commit/{sha}#commitcomment-9"))
    );
    let cc = |i: usize| {
        parsed[i]
            .cc()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap()
            .to_owned()
    };
    assert_eq!(cc(p1), "review_requested@noreply.appliance.example.com");
    assert_eq!(cc(p2), "mention@noreply.appliance.example.com");

    // The tokens name the right user and thread; same thread, same thread id.
    let key = key(&dir);
    let ids = directory(&dir);
    let claims = |i: usize| {
        let reply_to = parsed[i]
            .reply_to()
            .unwrap()
            .first()
            .unwrap()
            .address()
            .unwrap();
        verify_token(
            &key,
            token_of_address(reply_to, HOST).unwrap(),
            SystemTime::now(),
            DAY,
        )
        .unwrap()
    };
    let (cp1, cc9, cp2) = (claims(p1), claims(c), claims(p2));
    assert_eq!(cp1.kind, ThreadKind::PullRequest);
    assert_eq!(cc9.kind, ThreadKind::Commit);
    assert_eq!(cp1.thread_id, cp2.thread_id);
    assert_ne!(cp1.thread_id, cc9.thread_id);
    assert_eq!(ids.user(cp1.user_id).unwrap().as_deref(), Some("carol"));
    assert_eq!(ids.user(cp2.user_id).unwrap().as_deref(), Some("bob"));
    assert_eq!(cc9.user_id, cp2.user_id);
    assert_eq!(
        ids.thread(cc9.thread_id).unwrap(),
        Some(Thread::commit("octo/widgets", sha).unwrap())
    );
}

#[tokio::test]
async fn bad_inputs_are_usage_errors_and_nothing_is_queued() {
    let dir = TempDir::new("notify-bad");
    install(&dir, &Candidate::plain(closed_port()));
    for (extra, complaint) in [
        (
            &["--to", "bob@example.com>\r\nRCPT TO:<eve@evil.example"][..],
            "to:",
        ),
        (&["--to-user", "bob smith"][..], "to_user:"),
        (&["--reason", "because"][..], "--reason: unknown value"),
    ] {
        let run = notify_issue(&dir, 1, extra).await;
        assert_eq!(run.code, 64, "{extra:?}: {run:#?}");
        assert!(run.stderr.contains(complaint), "{extra:?}: {run:#?}");
    }
    let run = run_in(
        &dir,
        &[
            "notify",
            "issue-comment",
            "--repo",
            "octo",
            "--number",
            "1",
            "--comment-id",
            "1",
            "--to",
            "bob@example.com",
            "--to-user",
            "bob",
            "--author",
            "A",
            "--subject",
            "S",
            "--body",
            "B",
        ],
    )
    .await;
    assert_eq!(run.code, 64, "{run:#?}");
    assert!(
        run.stderr.contains("repo: \"octo\" is not OWNER/NAME"),
        "{run:#?}"
    );
    let run = run_in(
        &dir,
        &[
            "notify",
            "commit-comment",
            "--repo",
            "octo/w",
            "--commit",
            "xyz",
            "--comment-id",
            "1",
            "--to",
            "bob@example.com",
            "--to-user",
            "bob",
            "--author",
            "A",
            "--subject",
            "S",
            "--body",
            "B",
        ],
    )
    .await;
    assert_eq!(run.code, 64, "{run:#?}");
    assert!(run.stderr.contains("is not a commit SHA"), "{run:#?}");
    assert!(outbox_files(&dir, "new").is_empty());
}

#[tokio::test]
async fn disabled_email_queues_nothing_and_missing_settings_are_a_configuration_error() {
    let dir = TempDir::new("notify-disabled");
    install(
        &dir,
        &Candidate::plain(closed_port()).set_raw("enabled", "false"),
    );
    let run = notify_issue(&dir, 1, &[]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("email is disabled"), "{run:#?}");
    assert!(outbox_files(&dir, "new").is_empty());

    let empty = TempDir::new("notify-no-settings");
    let run = notify_issue(&empty, 1, &[]).await;
    assert_eq!(run.code, 78, "{run:#?}");
    assert!(run.stderr.contains("cannot read"), "{run:#?}");
}
