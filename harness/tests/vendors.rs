//! The vendor personas of `scenarios/vendors/`: every reply text cites where it was published,
//! a persona combines with a failure ("gmail, bad password") in the library and the CLI, and
//! `smtp-harness run --sender appliance scenarios/vendors/` is a vendor check in one command:
//! the compatibility matrix (vendor × case → outcome) printed and written as Markdown and HTML.
//!
//! Over 500 lines on purpose: one file is one test binary that links the whole crate, so a
//! capability's tests stay together with the helpers they share instead of being split into
//! binaries that each pay the link.

mod common;
#[path = "common/lettre_sender.rs"]
mod lettre_sender;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{RawClient, WAIT, repo, server};
use lettre::transport::smtp::authentication::Mechanism;
use lettre_sender::{Mode, message, send, transport};
use smtp_harness::scenario::{ScenarioFile, Wording};
use smtp_harness::{FakeSmtpServer, ServerScenario};

/// The persona files, sorted.
fn vendor_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("scenarios/vendors"))
        .expect("scenarios/vendors/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect();
    files.sort();
    files
}

/// The failures the personas give their published texts for (a vendor without a published
/// text for one leaves the case out).
const FAILURES: [&str; 7] = [
    "bad-password",
    "app-password-required",
    "starttls-required",
    "relay-denied",
    "sender-not-verified",
    "throttled",
    "message-too-large",
];

#[test]
fn at_least_twelve_vendors_each_with_a_success_and_failures() {
    let files = vendor_files();
    assert!(files.len() >= 12, "only {} personas", files.len());
    let mut vendors_per_failure: BTreeMap<&str, usize> = BTreeMap::new();
    let mut with_greeting_and_ehlo = 0;
    for file in &files {
        let loaded = ScenarioFile::from_file(file).unwrap_or_else(|e| panic!("{e}"));
        let names = loaded.case_names();
        assert!(
            names.contains(&"success"),
            "{}: no success case",
            file.display()
        );
        assert!(names.len() >= 2, "{}: no failure case", file.display());
        for failure in FAILURES {
            if names.contains(&failure) {
                *vendors_per_failure.entry(failure).or_default() += 1;
            }
        }
        // The persona alone is servable: it greets and answers EHLO as the vendor does, or,
        // where no transcript of the vendor was published, says it plays the harness's defaults.
        let own_words = !loaded.persona.script.is_empty()
            && loaded
                .persona
                .rules
                .iter()
                .any(|r| r.verb == smtp_harness::wire::Verb::Ehlo);
        if own_words {
            with_greeting_and_ehlo += 1;
        } else {
            let text = std::fs::read_to_string(file).expect("readable");
            assert!(
                text.contains("the harness's defaults"),
                "{}: no greeting or EHLO list of its own, and no word why",
                file.display()
            );
        }
    }
    assert!(
        with_greeting_and_ehlo >= 12,
        "only {with_greeting_and_ehlo} personas greet and answer EHLO in the vendor's words"
    );
    // Every kind of failure is played by several vendors.
    for failure in FAILURES {
        let n = vendors_per_failure.get(failure).copied().unwrap_or(0);
        assert!(n >= 3, "only {n} vendors have a `{failure}` case");
    }
}

/// A file's source keys: `#   [key] https://…` lines (the key's line must carry an address).
fn sources(text: &str) -> BTreeMap<String, usize> {
    let mut keys = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix('#').map(str::trim_start) else {
            continue;
        };
        if let Some((key, after)) = rest.strip_prefix('[').and_then(|r| r.split_once(']'))
            && (after.contains("http") || after.contains("github.com/"))
        {
            keys.insert(key.to_owned(), i + 1);
        }
    }
    keys
}

/// The `[key]`s a comment names (lower case, digits, `-`, `.` and `_`, with a letter; other
/// bracketed text, such as `[127.0.0.1]` or a quoted `[InternalId=…]`, is not a key).
fn cited_keys(comment: &str) -> Vec<&str> {
    comment
        .split('[')
        .skip(1)
        .filter_map(|s| s.split_once(']').map(|(k, _)| k))
        .filter(|k| {
            k.chars().any(|c| c.is_ascii_lowercase())
                && k.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_')
                })
        })
        .collect()
}

/// The comment lines that speak for line `i`: the ones right above it, or in a case, above its
/// `case` line and `sender` override.
fn comments_above<'t>(lines: &[&'t str], i: usize) -> Vec<&'t str> {
    let mut comments = Vec::new();
    let mut j = i;
    while j > 0 {
        j -= 1;
        let line = lines[j];
        if line.starts_with('#') {
            comments.push(line);
        } else if line.starts_with("case ") || line.starts_with("sender") {
            continue;
        } else if line.starts_with(' ') {
            // The settings of a `sender` override belong to the case header; a rule's body
            // ends the search.
            let mut k = j;
            while k > 0 && lines[k].starts_with(' ') {
                k -= 1;
            }
            if !lines[k].starts_with("sender") {
                break;
            }
            j = k + 1;
        } else {
            break;
        }
    }
    comments
}

#[test]
fn every_reply_text_cites_where_it_was_published() {
    for file in vendor_files() {
        let text = std::fs::read_to_string(&file).expect("readable");
        let keys = sources(&text);
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            // Every rule, every `default` reply and the greeting: what the vendor says.
            let cites_needed =
                line.starts_with("when ") || line.starts_with("default ") || line.starts_with("S:");
            if !cites_needed || (line.starts_with("S:") && i > 0 && lines[i - 1].starts_with("S:"))
            {
                continue;
            }
            let comments = comments_above(&lines, i);
            let here = format!("{}:{}", file.display(), i + 1);
            assert!(
                !comments.is_empty(),
                "{here}: `{line}` has no comment citing its source"
            );
            let comment = comments.join(" ");
            let cited = cited_keys(&comment);
            assert!(
                comment.contains("http") || !cited.is_empty(),
                "{here}: the comment above `{line}` names no source ([key] or address)"
            );
            for key in cited {
                assert!(
                    keys.contains_key(key),
                    "{here}: [{key}] is not among the file's sources"
                );
            }
        }
    }
}

/// Is this the Postfix persona, the one vendor whose own words the built-in replies are?
fn is_postfix(file: &std::path::Path) -> bool {
    file.file_stem().is_some_and(|s| s == "postfix")
}

#[test]
fn every_persona_but_postfix_uses_the_rfc_wording() {
    // What a persona does not script falls back to the built-in replies: Postfix's texts by
    // default. Only Postfix may speak them; every other vendor falls back to RFC 5321's
    // neutral texts, in the persona and in each of its cases.
    for file in vendor_files() {
        let loaded = ScenarioFile::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
        let expected = if is_postfix(&file) {
            Wording::Postfix
        } else {
            Wording::Rfc
        };
        assert_eq!(loaded.persona.wording, expected, "{}", file.display());
        for case in &loaded.cases {
            assert_eq!(
                case.wording,
                expected,
                "{}#{}",
                file.display(),
                case.header.case.as_deref().unwrap_or("?")
            );
        }
    }
}

/// Starts the persona of `scenarios/vendors/NAME.scn` and connects to it (with TLS from the
/// first byte for an implicit-TLS persona), past the greeting.
async fn persona_session(name: &str) -> (FakeSmtpServer, RawClient) {
    let scenario =
        ServerScenario::from_file(repo(&format!("scenarios/vendors/{name}.scn"))).expect("persona");
    let implicit_tls = scenario.header.implicit_tls;
    let server = FakeSmtpServer::start(scenario)
        .await
        .expect("server starts");
    let mut client = if implicit_tls {
        RawClient::connect_tls(server.addr()).await
    } else {
        RawClient::connect(server.addr()).await
    };
    assert_eq!(client.reply().await.code, 220, "{name}: greeting");
    (server, client)
}

#[tokio::test]
async fn exim_refuses_starttls_it_did_not_offer_with_its_own_503() {
    // After HELO nothing is advertised: Exim's smtp_in.c refuses STARTTLS (and the session
    // goes on, in Exim's words).
    let (_server, mut c) = persona_session("exim").await;
    assert_eq!(c.cmd("HELO client.example").await.code, 250);
    let refused = c.cmd("STARTTLS").await;
    assert_eq!(
        refused.lines,
        ["503 STARTTLS command used when not advertised"]
    );
    assert_eq!(c.cmd("NOOP").await.lines, ["250 OK"]);
    assert_eq!(c.cmd("XYZZY").await.lines, ["500 unrecognized command"]);
    assert_eq!(c.cmd("QUIT").await.code, 221);

    // After EHLO in clear text STARTTLS is offered and starts TLS; inside TLS it is no longer
    // offered, and refused again.
    let (_server, mut c) = persona_session("exim").await;
    let ehlo = c.cmd("EHLO client.example").await;
    assert!(
        ehlo.lines.iter().any(|l| l.ends_with("STARTTLS")),
        "{ehlo:?}"
    );
    assert_eq!(c.cmd("STARTTLS").await.lines, ["220 TLS go ahead"]);
    c.starttls().await;
    let ehlo = c.cmd("EHLO client.example").await;
    assert!(
        !ehlo.lines.iter().any(|l| l.ends_with("STARTTLS")),
        "{ehlo:?}"
    );
    assert_eq!(
        c.cmd("STARTTLS").await.lines,
        ["503 STARTTLS command used when not advertised"]
    );
    assert_eq!(
        c.cmd("HELP").await.lines,
        [
            "214-Commands supported:",
            "214 AUTH HELO EHLO MAIL RCPT DATA BDAT NOOP QUIT RSET HELP"
        ]
    );
}

#[tokio::test]
async fn gmail_answers_an_unknown_command_and_noop_in_its_own_or_rfc_words() {
    let (_server, mut c) = persona_session("gmail").await;
    assert_eq!(c.cmd("EHLO client.example").await.code, 250);
    // Gmail's own text (and code) for a command it does not know.
    let unknown = c.cmd("XYZZY").await;
    assert_eq!(unknown.code, 502, "{unknown:?}");
    assert!(
        unknown
            .last_text()
            .starts_with("5.5.1 Unrecognized command. ")
            && unknown.last_text().ends_with(" - gsmtp"),
        "{unknown:?}"
    );
    // No published Gmail text for NOOP: RFC 5321's.
    let noop = c.cmd("NOOP").await;
    assert_eq!(noop.lines, ["250 2.0.0 OK"]);
    let rset = c.cmd("RSET").await;
    assert!(rset.last_text().starts_with("2.1.5 Flushed "), "{rset:?}");
    // Gmail's HELP text, its two spaces kept.
    let help = c.cmd("HELP").await;
    assert!(
        help.last_text()
            .starts_with("2.0.0  https://www.google.com/search?btnI&q=RFC+5321 "),
        "{help:?}"
    );
    for reply in [&unknown, &noop, &rset, &help] {
        for line in &reply.lines {
            assert!(
                !line.contains("Error:"),
                "Postfix's words from Gmail: {line}"
            );
        }
    }
}

#[tokio::test]
async fn exim_words_commands_out_of_order_as_its_smtp_in_c_does() {
    // The texts Exim 4.96 sent in host checking mode (`exim -bh`) to the same commands, see
    // exim.scn's [exim-4.96]. Three protocol errors: real Exim closes only after a fourth.
    let (_server, mut c) = persona_session("exim").await;
    assert_eq!(
        c.cmd("MAIL FROM:<alice@example.com>").await.lines,
        ["503 HELO or EHLO required"]
    );
    assert_eq!(c.cmd("EHLO client.example").await.code, 250);
    assert_eq!(
        c.cmd("RCPT TO:<bob@example.net>").await.lines,
        ["503 sender not yet given"]
    );
    assert_eq!(
        c.cmd("MAIL FROM:<alice@example.com>").await.lines,
        ["250 OK"]
    );
    assert_eq!(
        c.cmd("MAIL FROM:<alice@example.com>").await.lines,
        ["503 sender already given"]
    );
    assert_eq!(
        c.cmd("DATA").await.lines,
        ["503 valid RCPT command must precede DATA"]
    );
    // None of the refusals ended the transaction: the persona takes a recipient and the message.
    assert_eq!(
        c.cmd("RCPT TO:<bob@example.net>").await.lines,
        ["250 Accepted"]
    );
    assert_eq!(c.cmd("DATA").await.code, 354);
    let done = c.cmd("Subject: hi\r\n\r\nHello.\r\n.").await;
    assert!(done.last_text().starts_with("OK id="), "{done:?}");

    // DATA with no MAIL at all: the same text.
    let (_server, mut c) = persona_session("exim").await;
    assert_eq!(c.cmd("HELO client.example").await.code, 250);
    assert_eq!(
        c.cmd("DATA").await.lines,
        ["503 valid RCPT command must precede DATA"]
    );
}

#[tokio::test]
async fn gmail_names_the_missing_step_in_its_own_texts() {
    const ID: &str = "d9443c01a7336-1f6b6d2c1a4sm1234567b3a.12";
    let gmail = |text: &str| vec![format!("{text} {ID} - gsmtp")];
    let (_server, mut c) = persona_session("gmail").await;
    // Before any EHLO, and again after STARTTLS before a new EHLO.
    assert_eq!(
        c.cmd("MAIL FROM:<alice@example.com>").await.lines,
        gmail("503 5.5.1 EHLO/HELO first.")
    );
    assert_eq!(c.cmd("EHLO client.example").await.code, 250);
    assert_eq!(c.cmd("STARTTLS").await.code, 220);
    c.starttls().await;
    assert_eq!(
        c.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAGFwcC1wYXNzd29yZA==")
            .await
            .lines,
        gmail("503 5.5.1 EHLO/HELO first.")
    );
    assert_eq!(c.cmd("EHLO client.example").await.code, 250);
    assert_eq!(
        c.cmd("RCPT TO:<bob@example.net>").await.lines,
        gmail("503 5.5.1 MAIL first.")
    );
    assert_eq!(
        c.cmd("MAIL FROM:<alice@example.com>").await.lines,
        gmail("250 2.1.0 OK")
    );
    // No published Gmail text for a second MAIL: RFC 5321's, not Postfix's "nested MAIL".
    assert_eq!(
        c.cmd("MAIL FROM:<alice@example.com>").await.lines,
        ["503 5.5.1 Bad sequence of commands"]
    );
    assert_eq!(c.cmd("DATA").await.lines, gmail("503 5.5.1 RCPT first."));
    // BDAT (Gmail offers CHUNKING) without a recipient: the chunk is read and refused alike,
    // and the refused chunk ends the transaction (RFC 3030 section 2).
    c.send("BDAT 5 LAST\r\nHello").await;
    assert_eq!(c.reply().await.lines, gmail("503 5.5.1 RCPT first."));
    assert_eq!(
        c.cmd("MAIL FROM:<alice@example.com>").await.lines,
        gmail("250 2.1.0 OK")
    );
    assert_eq!(
        c.cmd("RCPT TO:<bob@example.net>").await.lines,
        gmail("250 2.1.5 OK")
    );
    assert_eq!(c.cmd("DATA").await.lines, gmail("354 Go ahead"));
}

#[tokio::test]
async fn no_persona_but_postfix_falls_back_to_postfix_words() {
    // The commands a sender's persona rarely scripts: an unknown one, the housekeeping verbs,
    // a command out of order and a syntax error. Postfix's built-in texts carry "Error:"
    // ("500 5.5.2 Error: command not recognized", "503 5.5.1 Error: need MAIL command");
    // only the Postfix persona may say it.
    let commands = [
        "XYZZY",
        "NOOP",
        "RSET",
        "HELP",
        "VRFY postmaster@example.com",
        "EXPN staff",
        "RCPT TO:<bob@example.net>",
        "MAIL FROM:not an address",
    ];
    for file in vendor_files() {
        let name = file.file_stem().and_then(|s| s.to_str()).expect("name");
        let (_server, mut c) = persona_session(name).await;
        assert_eq!(c.cmd("EHLO client.example").await.code, 250, "{name}");
        let mut said = Vec::new();
        for command in commands {
            let reply = c.cmd(command).await;
            said.extend(reply.lines.iter().map(|l| format!("{command} -> {l}")));
        }
        let postfix_words = said.iter().filter(|l| l.contains("Error:")).count();
        if is_postfix(&file) {
            assert!(postfix_words > 0, "{name}: {said:#?}");
        } else {
            assert_eq!(postfix_words, 0, "{name}: {said:#?}");
        }
    }
}

#[tokio::test]
async fn gmail_with_a_bad_password_is_a_persona_combined_with_a_failure() {
    let gmail = repo("scenarios/vendors/gmail.scn");
    let good = ("alice@example.com", "app-password", Mechanism::Login);
    let mail = || message(&["admin@example.com"], "Hello.\r\n");

    // The persona alone behaves as Gmail: the right app password is accepted.
    let persona = server(ServerScenario::from_file(&gmail).expect("persona")).await;
    let lettre = transport(persona.port(), Mode::StartTlsRequired, Some(good));
    send(&lettre, mail())
        .await
        .expect("Gmail accepts the app password");

    // "gmail, bad password": the same credentials meet Gmail's 535.
    let bad = ServerScenario::from_file_case(&gmail, "bad-password").expect("the case");
    let case = server(bad).await;
    let lettre = transport(case.port(), Mode::StartTlsRequired, Some(good));
    let e = send(&lettre, mail()).await.expect_err("refused");
    let said = e.to_string();
    assert!(
        said.contains("Username and Password not accepted"),
        "{said}"
    );
    assert!(e.is_permanent(), "{said}");
    let sessions = case.wait_for_sessions(1, WAIT).await.expect("closed");
    let log = sessions[0].transcript.to_string();
    assert!(log.contains("TLS connection started"), "{log}");
    assert!(
        log.contains("-> \"535-5.7.8 Username and Password not accepted."),
        "{log}"
    );
    assert!(case.messages().is_empty());
}

/// `smtp-harness ARGS`, with time for every case of every persona.
async fn smtp_harness(args: &[&str]) -> common::CliRun {
    common::smtp_harness(args, WAIT * 12).await
}

/// `smtp-harness ARGS` for a run with `--sender appliance`: this build's appliance.
async fn smtp_harness_with_the_appliance(args: &[&str]) -> common::CliRun {
    common::smtp_harness_driving_the_appliance(args, WAIT * 12).await
}

#[tokio::test]
async fn the_vendor_check_is_one_command_and_writes_the_matrix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().to_str().expect("utf-8 path");
    let r = smtp_harness_with_the_appliance(&[
        "run",
        "--sender",
        "appliance",
        "scenarios/vendors/",
        "--matrix-dir",
        out,
    ])
    .await;
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    let files = vendor_files();
    let cases: usize = files
        .iter()
        .map(|f| ScenarioFile::from_file(f).expect("loads").cases.len())
        .sum();
    let passed = r.stdout.lines().filter(|l| l.starts_with("PASS ")).count();
    assert_eq!(passed, cases, "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!("appliance: {} vendors × ", files.len())),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("compatibility matrix written to"),
        "{}",
        r.stdout
    );

    let markdown =
        std::fs::read_to_string(dir.path().join("compatibility.md")).expect("Markdown written");
    let html =
        std::fs::read_to_string(dir.path().join("compatibility.html")).expect("HTML written");
    for file in &files {
        let persona = ScenarioFile::from_file(file)
            .expect("loads")
            .persona
            .header
            .name;
        assert!(markdown.contains(&format!("| {persona} (`")), "{persona}");
        assert!(
            html.contains(&format!("<tr><th>{persona}<br>")),
            "{persona}"
        );
    }
    let table_rows = || markdown.lines().filter(|l| l.starts_with("| "));
    assert!(table_rows().all(|l| !l.contains('❌')), "{markdown}");
    assert_eq!(
        table_rows().map(|l| l.matches('✅').count()).sum::<usize>(),
        cases,
        "{markdown}"
    );
    assert!(!html.contains("<td class=\"fail\""), "{html}");
    assert_eq!(
        html.matches("<td class=\"pass\"").count(),
        cases,
        "one green cell per case"
    );
    common::assert_snapshot(
        "vendors__compatibility",
        "smtp-harness run --sender appliance scenarios/vendors/: compatibility.md",
        &[],
        markdown,
    );
}

#[tokio::test]
async fn serve_plays_a_case_and_names_the_cases_when_asked_for_a_missing_one() {
    let r = smtp_harness(&[
        "serve",
        "scenarios/vendors/gmail.scn",
        "--case",
        "no-such-case",
    ])
    .await;
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("no case `no-such-case`: the file has success, bad-password"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn one_case_runs_by_the_name_its_result_line_gives_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().to_str().expect("utf-8 path");
    let r = smtp_harness_with_the_appliance(&[
        "run",
        "--sender",
        "appliance",
        "scenarios/vendors/gmail.scn#app-password-required",
        "--matrix-dir",
        out,
    ])
    .await;
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("PASS")).collect();
    assert_eq!(lines.len(), 1, "{}", r.stdout);
    assert!(
        lines[0].starts_with(
            "PASS  scenarios/vendors/gmail.scn#app-password-required  [appliance]  failure at AUTH 534"
        ),
        "{}",
        r.stdout
    );

    let r = smtp_harness(&["run", "scenarios/vendors/gmail.scn#no-such-case"]).await;
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "scenarios/vendors/gmail.scn: no case `no-such-case` (the file has success, bad-password"
        ),
        "{}",
        r.stderr
    );
}
