//! Real SMTP clients against the fake server, for protocol fidelity: each test runs a client
//! program (`scripts/clients/`) as an application would use it, then checks what the client
//! concluded (the reply it reported) and what the server's transcript shows.
//!
//! The clients: Ruby's net/smtp 0.3.1 (and the mail gem 2.7.1 on it), Perl's Net::SMTP
//! (libnet 3.14) with Authen::SASL, aiosmtplib 5.1.3 (in `.venv-clients/`), Exim 4.96 as a
//! smarthost client (unpacked in `.exim-root/`, run as root in the foreground with a private
//! config), PHPMailer 6.6.3 on php-cli 8.2, and the mail user agents s-nail 14.9.24 and mutt
//! 2.2.12 with their own SMTP clients. `scripts/setup` installs them all; a test fails, never
//! skips, when one is missing.
//!
//! Section c runs each client once against Debian's real Postfix (the front door of
//! `harness/tests/common/front_door.rs`) and once against the fake server configured like it, and
//! checks that the client gets the same answers from both.
//!
//! What each sends for AUTH (read in their sources, seen in these transcripts):
//! - aiosmtplib: `auth_login` sends `AUTH LOGIN <base64 user>`, an initial response, and
//!   answers the one 334 with the password; `auth_plain` sends `AUTH PLAIN <ir>`. `login()`
//!   tries CRAM-MD5, then PLAIN, then LOGIN among those offered, the next one after each 535.
//! - Ruby net/smtp (and the mail gem): `:login` sends `AUTH LOGIN` with no initial response and
//!   answers `Username:` and `Password:`; `:plain` sends `AUTH PLAIN <ir>`; with no mechanism
//!   named it uses `:plain`, whatever the server offers.
//! - Perl Net::SMTP: `auth(user, pass)` lets Authen::SASL pick from the server's list (of the
//!   mechanisms it can load here, PLAIN and LOGIN rank equal: the first listed wins) and does
//!   not retry after a 535; LOGIN goes without an initial response (its `client_start` is
//!   empty), PLAIN with one that repeats the user as the authorization identity.
//! - Exim: its `plaintext` client authenticator sends `AUTH LOGIN` without an initial response
//!   and `AUTH PLAIN <ir>`; it uses `BDAT n LAST` when CHUNKING is offered.
//!
//! Over 500 lines on purpose: one file is one test binary that links the whole crate, so a
//! capability's tests stay together with the helpers they share instead of being split into
//! binaries that each pay the link.

mod common;
#[path = "common/real_clients.rs"]
mod real_clients;

use common::{WAIT, inline, server};
use real_clients::{
    Client, ClientRun, FOREIGN, assert_in_order, b64, front_door_like, only_session, record_one,
    recorded, same_queue_ids, transcript_server_lines,
};
use smtp_harness::{ConversationRecord, FakeSmtpServer, Render};
use testkit::front_door::{FrontDoor, HOSTNAME};

const USERNAME_PROMPT: &str = r#"-> "334 VXNlcm5hbWU6\r\n""#;
const PASSWORD_PROMPT: &str = r#"-> "334 UGFzc3dvcmQ6\r\n""#;
const REDACTED_ANSWER: &str = r#"<- "[redacted]\r\n""#;
const REFUSED_535: &str = r#"-> "535 5.7.8 Authentication credentials invalid\r\n""#;

/// The EHLO offers AUTH LOGIN only; every AUTH is refused once the exchange is over.
const LOGIN_ONLY_535: &str = "\
name AUTH LOGIN only, refused
S: 220 mx.test ESMTP
when EHLO
    S: 250-mx.test
    S: 250-PIPELINING
    S: 250-AUTH LOGIN
    S: 250 8BITMIME
when AUTH
    S: 535 5.7.8 Authentication credentials invalid
";

/// The same refusal as a linear script, the shape an imported log takes: the server's side
/// of a client that sent `AUTH LOGIN` alone. A client that sends an initial response must not
/// get the `Username:` step.
const LOGIN_ONLY_535_SCRIPTED: &str = "\
name AUTH LOGIN only, refused, scripted
S: 220 mx.test ESMTP
C: EHLO*
S: 250-mx.test
S: 250-PIPELINING
S: 250-AUTH LOGIN
S: 250 8BITMIME
C: AUTH LOGIN*
S: 334 VXNlcm5hbWU6
C: *
S: 334 UGFzc3dvcmQ6
C: *
S: 535 5.7.8 Authentication credentials invalid
";

/// The EHLO offers AUTH PLAIN only; every AUTH is refused.
const PLAIN_ONLY_535: &str = "\
name AUTH PLAIN only, refused
S: 220 mx.test ESMTP
when EHLO
    S: 250-mx.test
    S: 250-PIPELINING
    S: 250-AUTH PLAIN
    S: 250 8BITMIME
when AUTH
    S: 535 5.7.8 Authentication credentials invalid
";

/// AUTH LOGIN only; alice with s3cret is accepted.
const LOGIN_ONLY_ALICE: &str = "\
name AUTH LOGIN only, alice accepted
S: 220 mx.test ESMTP
when EHLO
    S: 250-mx.test
    S: 250-PIPELINING
    S: 250-AUTH LOGIN
    S: 250 8BITMIME
when AUTH user=alice password=s3cret
    S: 235 2.7.0 Authentication successful
when AUTH
    S: 535 5.7.8 Authentication credentials invalid
expect messages 1
";

fn secrets(record: &ConversationRecord) -> String {
    record.transcript.to_log(Render {
        show_secrets: true,
        ..Render::default()
    })
}

/// The client gave the user name as the initial response of AUTH LOGIN: the server must ask
/// for the password only (one `334 UGFzc3dvcmQ6`, no `334 VXNlcm5hbWU6`), then answer
/// `final_reply`. Checks that the initial response really was the user name.
fn assert_login_with_initial_response(
    record: &ConversationRecord,
    final_reply: &str,
    run: &ClientRun,
) {
    let log = record.transcript.to_string();
    assert_in_order(
        &log,
        &[
            r#"<- "AUTH LOGIN [redacted]\r\n""#,
            PASSWORD_PROMPT,
            REDACTED_ANSWER,
            final_reply,
        ],
        run,
    );
    assert!(
        !log.contains(USERNAME_PROMPT),
        "RFC 4954 section 4: with an initial response the server must not send the first \
         challenge (334 Username:)\n{log}\n{run}"
    );
    assert_eq!(log.matches(PASSWORD_PROMPT).count(), 1, "{log}\n{run}");
    assert_eq!(log.matches(REDACTED_ANSWER).count(), 1, "{log}\n{run}");
    let secret_log = secrets(record);
    assert!(
        secret_log.contains(&format!(r#"<- "AUTH LOGIN {}\r\n""#, b64("alice"))),
        "the initial response is the base64 user name\n{secret_log}"
    );
}

/// The client sent `AUTH LOGIN` alone: the server asks for the user name, then the password,
/// then answers `final_reply`.
fn assert_login_without_initial_response(
    record: &ConversationRecord,
    final_reply: &str,
    run: &ClientRun,
) {
    let log = record.transcript.to_string();
    assert_in_order(
        &log,
        &[
            r#"<- "AUTH LOGIN\r\n""#,
            USERNAME_PROMPT,
            REDACTED_ANSWER,
            PASSWORD_PROMPT,
            REDACTED_ANSWER,
            final_reply,
        ],
        run,
    );
    assert_eq!(log.matches(USERNAME_PROMPT).count(), 1, "{log}\n{run}");
    assert_eq!(log.matches(PASSWORD_PROMPT).count(), 1, "{log}\n{run}");
    let secret_log = secrets(record);
    assert!(
        secret_log.contains(&format!(r#"<- "{}\r\n""#, b64("alice"))),
        "{secret_log}"
    );
}

/// The client sent `AUTH PLAIN <ir>`: the server must answer it at once, with no challenge
/// (no `334` at all), with `final_reply`. `ir` is the initial response, decoded:
/// `"\0alice\0s3cret"` (no authorization identity), or `"alice\0alice\0s3cret"` (Perl).
fn assert_plain_with_initial_response(
    record: &ConversationRecord,
    ir: &str,
    final_reply: &str,
    run: &ClientRun,
) {
    let log = record.transcript.to_string();
    assert_in_order(
        &log,
        &[r#"<- "AUTH PLAIN [redacted]\r\n""#, final_reply],
        run,
    );
    assert!(
        !log.contains(r#"-> "334"#),
        "RFC 4954 section 4: with an initial response the server must not send the empty \
         challenge\n{log}\n{run}"
    );
    assert_eq!(log.matches("<- \"AUTH ").count(), 1, "{log}\n{run}");
    let secret_log = secrets(record);
    assert!(
        secret_log.contains(&format!(r#"<- "AUTH PLAIN {}\r\n""#, b64(ir))),
        "{secret_log}"
    );
}

/// No message reached the server, and the client sent no MAIL.
fn assert_nothing_sent(server: &FakeSmtpServer, record: &ConversationRecord, run: &ClientRun) {
    assert!(
        server.messages().is_empty(),
        "{:#?}\n{run}",
        server.messages()
    );
    let log = record.transcript.to_string();
    assert!(!log.contains("<- \"MAIL"), "{log}\n{run}");
}

/// The one message alice's client delivered.
async fn alices_message(server: &FakeSmtpServer, run: &ClientRun) -> smtp_harness::ReceivedMessage {
    let messages = server
        .wait_for_messages(1, common::WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{run}"));
    assert_eq!(messages.len(), 1, "{messages:#?}\n{run}");
    let message = messages.into_iter().next().expect("one message");
    assert_eq!(message.mail_from, "a@example.com", "{run}");
    assert_eq!(message.rcpt_to, ["b@example.com"], "{run}");
    assert_eq!(message.authenticated_as.as_deref(), Some("alice"), "{run}");
    message
}

/// The AUTH PLAIN initial response most clients send: no authorization identity.
const NO_AUTHZID: &str = "\0alice\0s3cret";

const ALICE_WRONG: [&str; 4] = ["--user", "alice", "--password", "wrong"];
const ALICE: [&str; 4] = ["--user", "alice", "--password", "s3cret"];

fn opts<'a>(first: &[&'a str], second: &[&'a str]) -> Vec<&'a str> {
    first.iter().chain(second).copied().collect()
}

// --- a. AUTH LOGIN and PLAIN with and without an initial response (RFC 4954) -------------------

// RFC 4954 section 4: "If the client is transmitting an initial response, the server MUST NOT
// send the first challenge": for LOGIN, the 334 Username: prompt is skipped.
#[tokio::test]
async fn aiosmtplib_auth_login_initial_response_gets_only_the_password_prompt_then_535() {
    let server = server(inline(LOGIN_ONLY_535)).await;
    let run = Client::Aiosmtplib
        .send(&server, &opts(&["--auth", "login"], &ALICE))
        .await;
    let record = only_session(&server, &run).await;
    run.assert_concluded(
        "failed",
        "535 5.7.8 Authentication credentials invalid",
        &record.transcript,
    );
    assert_login_with_initial_response(&record, REFUSED_535, &run);
    assert_nothing_sent(&server, &record, &run);
}

// RFC 4954 section 4, as above, with the refusal written as a linear script (an imported log):
// the script's `334 VXNlcm5hbWU6` step must be skipped for a client that gave the user name.
#[tokio::test]
async fn aiosmtplib_auth_login_initial_response_against_a_scripted_refusal_gets_only_the_password_prompt()
 {
    let server = server(inline(LOGIN_ONLY_535_SCRIPTED)).await;
    let run = Client::Aiosmtplib
        .send(&server, &opts(&["--auth", "login"], &ALICE))
        .await;
    let record = only_session(&server, &run).await;
    run.assert_concluded(
        "failed",
        "535 5.7.8 Authentication credentials invalid",
        &record.transcript,
    );
    assert_login_with_initial_response(&record, REFUSED_535, &run);
    assert_nothing_sent(&server, &record, &run);
}

// RFC 4954 section 4: the initial response spares a round trip; the exchange then ends in 235
// (section 6) and the message goes through as alice.
#[tokio::test]
async fn aiosmtplib_auth_login_initial_response_accepted_then_delivers() {
    let server = server(inline(LOGIN_ONLY_ALICE)).await;
    let run = Client::Aiosmtplib
        .send(&server, &opts(&["--auth", "login"], &ALICE))
        .await;
    let record = only_session(&server, &run).await;
    run.assert_sent("250", &record.transcript);
    assert_login_with_initial_response(
        &record,
        r#"-> "235 2.7.0 Authentication successful\r\n""#,
        &run,
    );
    alices_message(&server, &run).await;
    assert!(record.passed(), "{:?}\n{run}", record.failures);
}

// RFC 4954 section 4: AUTH PLAIN with an initial response gets no empty "334 " challenge.
// aiosmtplib's login() picks PLAIN (the only mechanism offered) and stops after the 535: no
// other offered mechanism is left to try.
#[tokio::test]
async fn aiosmtplib_login_picks_plain_with_initial_response_and_gets_the_535_without_a_challenge() {
    let server = server(inline(PLAIN_ONLY_535)).await;
    let run = Client::Aiosmtplib
        .send(&server, &opts(&["--auth", "default"], &ALICE))
        .await;
    let record = only_session(&server, &run).await;
    run.assert_concluded(
        "failed",
        "535 5.7.8 Authentication credentials invalid",
        &record.transcript,
    );
    assert_plain_with_initial_response(&record, NO_AUTHZID, REFUSED_535, &run);
    assert_nothing_sent(&server, &record, &run);
}

// RFC 4954 section 4 (no initial response: the server sends the first challenge, for LOGIN
// 334 Username:, then 334 Password:) and section 6 (535 ends the exchange). Ruby net/smtp
// 0.3.1's auth_login sends "AUTH LOGIN" alone.
#[tokio::test]
async fn ruby_net_smtp_auth_login_without_initial_response_answers_both_prompts_then_535() {
    let server = server(inline(LOGIN_ONLY_535)).await;
    let run = Client::RubyNetSmtp
        .send(&server, &opts(&["--auth", "login"], &ALICE_WRONG))
        .await;
    let record = only_session(&server, &run).await;
    run.assert_concluded(
        "failed",
        "535 5.7.8 Authentication credentials invalid",
        &record.transcript,
    );
    assert_login_without_initial_response(&record, REFUSED_535, &run);
    assert_nothing_sent(&server, &record, &run);
}

// RFC 4954 sections 4 and 6, as above, ending in 235; the message is delivered.
#[tokio::test]
async fn ruby_net_smtp_auth_login_accepted_then_delivers() {
    let server = server(inline(LOGIN_ONLY_ALICE)).await;
    let run = Client::RubyNetSmtp
        .send(&server, &opts(&["--auth", "login"], &ALICE))
        .await;
    let record = only_session(&server, &run).await;
    run.assert_sent("250", &record.transcript);
    assert_login_without_initial_response(
        &record,
        r#"-> "235 2.7.0 Authentication successful\r\n""#,
        &run,
    );
    alices_message(&server, &run).await;
    assert!(record.passed(), "{:?}\n{run}", record.failures);
}

// RFC 4954 sections 4 and 6: Ruby's mail gem goes through net/smtp, so AUTH LOGIN without an
// initial response: Username:, Password:, then the 535 (the gem raises it).
#[tokio::test]
async fn ruby_mail_gem_auth_login_without_initial_response_answers_both_prompts_then_535() {
    let server = server(inline(LOGIN_ONLY_535)).await;
    let run = Client::RubyMailGem
        .send(&server, &opts(&["--auth", "login"], &ALICE_WRONG))
        .await;
    let record = only_session(&server, &run).await;
    run.assert_concluded(
        "failed",
        "535 5.7.8 Authentication credentials invalid",
        &record.transcript,
    );
    assert_login_without_initial_response(&record, REFUSED_535, &run);
    assert_nothing_sent(&server, &record, &run);
}

// RFC 4954 sections 4 and 6, as above, ending in 235; the message is delivered.
#[tokio::test]
async fn ruby_mail_gem_auth_login_accepted_then_delivers() {
    let server = server(inline(LOGIN_ONLY_ALICE)).await;
    let run = Client::RubyMailGem
        .send(&server, &opts(&["--auth", "login"], &ALICE))
        .await;
    let record = only_session(&server, &run).await;
    run.assert_sent("250", &record.transcript);
    assert_login_without_initial_response(
        &record,
        r#"-> "235 2.7.0 Authentication successful\r\n""#,
        &run,
    );
    alices_message(&server, &run).await;
    assert!(record.passed(), "{:?}\n{run}", record.failures);
}

// RFC 4954 section 4: AUTH PLAIN with an initial response gets no challenge. Ruby net/smtp
// with no mechanism named uses :plain (its DEFAULT_AUTH_TYPE).
#[tokio::test]
async fn ruby_net_smtp_default_auth_is_plain_with_initial_response_and_gets_the_535() {
    let server = server(inline(PLAIN_ONLY_535)).await;
    let run = Client::RubyNetSmtp
        .send(&server, &opts(&["--auth", "default"], &ALICE))
        .await;
    let record = only_session(&server, &run).await;
    run.assert_concluded(
        "failed",
        "535 5.7.8 Authentication credentials invalid",
        &record.transcript,
    );
    assert_plain_with_initial_response(&record, NO_AUTHZID, REFUSED_535, &run);
    assert_nothing_sent(&server, &record, &run);
}

// RFC 4954 sections 4 and 6: Perl Net::SMTP, left to choose, picks LOGIN (the only mechanism
// offered) and sends it without an initial response (Authen::SASL::Perl::LOGIN's client_start
// is empty), so it gets Username: and Password:, then the 535.
#[tokio::test]
async fn perl_net_smtp_picks_login_without_initial_response_answers_both_prompts_then_535() {
    let server = server(inline(LOGIN_ONLY_535)).await;
    let run = Client::PerlNetSmtp
        .send(&server, &opts(&["--auth", "default"], &ALICE_WRONG))
        .await;
    let record = only_session(&server, &run).await;
    run.assert_concluded(
        "failed",
        "535 5.7.8 Authentication credentials invalid",
        &record.transcript,
    );
    assert_login_without_initial_response(&record, REFUSED_535, &run);
    assert_nothing_sent(&server, &record, &run);
}

// RFC 4954 sections 4 and 6, as above, ending in 235; the message is delivered.
#[tokio::test]
async fn perl_net_smtp_auth_login_accepted_then_delivers() {
    let server = server(inline(LOGIN_ONLY_ALICE)).await;
    let run = Client::PerlNetSmtp
        .send(&server, &opts(&["--auth", "login"], &ALICE))
        .await;
    let record = only_session(&server, &run).await;
    run.assert_sent("250", &record.transcript);
    assert_login_without_initial_response(
        &record,
        r#"-> "235 2.7.0 Authentication successful\r\n""#,
        &run,
    );
    alices_message(&server, &run).await;
    assert!(record.passed(), "{:?}\n{run}", record.failures);
}

// RFC 4954 section 4: Perl Net::SMTP's AUTH PLAIN carries an initial response, with the
// user name as the authorization identity too (auth() gives Authen::SASL authname = user, so
// client_start is "user\0user\0password"): no challenge, then the 535.
#[tokio::test]
async fn perl_net_smtp_picks_plain_with_initial_response_and_gets_the_535() {
    let server = server(inline(PLAIN_ONLY_535)).await;
    let run = Client::PerlNetSmtp
        .send(&server, &opts(&["--auth", "default"], &ALICE))
        .await;
    let record = only_session(&server, &run).await;
    run.assert_concluded(
        "failed",
        "535 5.7.8 Authentication credentials invalid",
        &record.transcript,
    );
    assert_plain_with_initial_response(&record, "alice\0alice\0s3cret", REFUSED_535, &run);
    assert_nothing_sent(&server, &record, &run);
}

// RFC 4954 sections 4 and 6: Exim's plaintext client authenticator sends "AUTH LOGIN" alone
// and answers both prompts; after the 535 it defers the message (the smarthost requires AUTH).
#[tokio::test]
async fn exim_auth_login_without_initial_response_answers_both_prompts_then_defers_on_535() {
    let server = server(inline(LOGIN_ONLY_535)).await;
    let run = Client::Exim
        .send(&server, &opts(&["--auth", "login"], &ALICE))
        .await;
    let record = only_session(&server, &run).await;
    run.assert_concluded(
        "deferred",
        "authentication failed: 535 5.7.8 Authentication credentials invalid",
        &record.transcript,
    );
    assert_login_without_initial_response(&record, REFUSED_535, &run);
    assert_nothing_sent(&server, &record, &run);
}

// --- b. BDAT / CHUNKING with Exim (RFC 3030) -----------------------------------------------

/// CHUNKING offered; the account is over its quota, refused where the message is handed over.
const CHUNKING_QUOTA_550: &str = "\
name CHUNKING offered, message refused for quota
S: 220 mx.test ESMTP
when EHLO
    S: 250-mx.test
    S: 250-PIPELINING
    S: 250-CHUNKING
    S: 250 8BITMIME
when DATA
    S: 550 5.4.5 Daily user sending limit exceeded
expect messages 0
";

/// CHUNKING offered, everything accepted.
const CHUNKING_OK: &str = "\
name CHUNKING offered, accepted
S: 220 mx.test ESMTP
when EHLO
    S: 250-mx.test
    S: 250-PIPELINING
    S: 250-CHUNKING
    S: 250 8BITMIME
expect messages 1
";

/// STARTTLS, then AUTH PLAIN and CHUNKING inside TLS; alice is accepted.
const CHUNKING_TLS_AUTH: &str = "\
name STARTTLS, AUTH and CHUNKING
certificate valid
S: 220 mx.test ESMTP
when EHLO plain
    S: 250-mx.test
    S: 250-PIPELINING
    S: 250-STARTTLS
    S: 250-CHUNKING
    S: 250 8BITMIME
when EHLO tls
    S: 250-mx.test
    S: 250-PIPELINING
    S: 250-AUTH PLAIN LOGIN
    S: 250-CHUNKING
    S: 250 8BITMIME
when STARTTLS
    S: 220 2.0.0 Ready to start TLS
    tls
when AUTH user=alice password=s3cret
    S: 235 2.7.0 Authentication successful
when AUTH
    S: 535 5.7.8 Authentication credentials invalid
expect STARTTLS before AUTH
expect messages 1
";

/// The size in the client's one `BDAT <n> LAST` command (Exim sends the whole message in one
/// chunk), after checking that it sent BDAT and no DATA.
fn single_bdat_last(log: &str, run: &ClientRun) -> usize {
    let bdats: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("<- \"BDAT "))
        .collect();
    assert_eq!(bdats.len(), 1, "one BDAT command expected\n{log}\n{run}");
    assert!(!log.contains("<- \"DATA"), "{log}\n{run}");
    let size = bdats[0]
        .strip_prefix("<- \"BDAT ")
        .and_then(|rest| rest.strip_suffix(" LAST\\r\\n\""))
        .unwrap_or_else(|| panic!("not `BDAT n LAST`: {}\n{run}", bdats[0]));
    size.parse()
        .unwrap_or_else(|e| panic!("BDAT size {size:?}: {e}\n{run}"))
}

// RFC 3030 section 2: with CHUNKING the message goes as "BDAT n LAST" and the server's reply to
// that last chunk is the verdict on the whole message, as the reply after the final dot is for
// DATA; a `when DATA` rule (a quota that refuses the message) must answer it too. Exim must
// fail the message with the 550, and nothing is delivered.
#[tokio::test]
async fn exim_bdat_last_gets_the_550_of_a_when_data_rule() {
    let server = server(inline(CHUNKING_QUOTA_550)).await;
    let run = Client::Exim.send(&server, &[]).await;
    let record = only_session(&server, &run).await;
    run.assert_concluded(
        "failed",
        "550 5.4.5 Daily user sending limit exceeded",
        &record.transcript,
    );
    let log = record.transcript.to_string();
    single_bdat_last(&log, &run);
    assert_in_order(
        &log,
        &[
            "<- \"BDAT ",
            r#"-> "550 5.4.5 Daily user sending limit exceeded\r\n""#,
        ],
        &run,
    );
    assert!(server.messages().is_empty(), "{:#?}", server.messages());
    assert!(record.passed(), "{:?}\n{log}\n{run}", record.failures);
}

// RFC 3030 section 2: "BDAT n LAST" carries exactly n octets of the message; the server must
// take exactly those (no dot-stuffing, no end-of-data line) and accept the message. The
// capture is what Exim sent: the size announced, its Received header, then the message
// exim-send handed it with CRLF line ends.
#[tokio::test]
async fn exim_bdat_last_delivers_exactly_the_chunk_exim_sent() {
    let server = server(inline(CHUNKING_OK)).await;
    let body = ".a line with a leading dot\r\nlast line";
    let run = Client::Exim
        .send(&server, &["--body", &body.replace("\r\n", "\n")])
        .await;
    let record = only_session(&server, &run).await;
    run.assert_sent("250 ", &record.transcript);
    let log = record.transcript.to_string();
    let size = single_bdat_last(&log, &run);
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}\n{run}");
    let message = &messages[0];
    assert_eq!(message.mail_from, "a@example.com");
    assert_eq!(message.rcpt_to, ["b@example.com"]);
    assert_eq!(message.data.len(), size, "the capture is the chunk\n{run}");
    let data = message.data_str();
    assert!(
        data.starts_with("Received: from root by client.example"),
        "{data:?}"
    );
    assert!(
        data.contains("\r\nFrom: <a@example.com>\r\nTo: <b@example.com>\r\nSubject: exim-send\r\n"),
        "{data:?}"
    );
    // No dot-stuffing in BDAT: the leading dot arrives as it was written.
    assert!(data.ends_with(&format!("\r\n\r\n{body}\r\n")), "{data:?}");
    assert!(record.passed(), "{:?}\n{log}\n{run}", record.failures);
}

// RFC 3207 (STARTTLS, the EHLO again inside TLS), RFC 4954 section 4 (Exim's AUTH PLAIN with an
// initial response, no challenge) and RFC 3030 (BDAT inside TLS): delivered as alice.
#[tokio::test]
async fn exim_starttls_auth_plain_then_bdat_delivers_as_alice() {
    let server = server(inline(CHUNKING_TLS_AUTH)).await;
    let run = Client::Exim
        .send(
            &server,
            &opts(&["--tls", "starttls", "--auth", "plain"], &ALICE),
        )
        .await;
    let record = only_session(&server, &run).await;
    run.assert_sent("250 ", &record.transcript);
    let log = record.transcript.to_string();
    assert_in_order(
        &log,
        &[
            r#"<- "STARTTLS\r\n""#,
            "TLS connection started",
            "<- \"EHLO ",
        ],
        &run,
    );
    assert_plain_with_initial_response(
        &record,
        NO_AUTHZID,
        r#"-> "235 2.7.0 Authentication successful\r\n""#,
        &run,
    );
    single_bdat_last(&log, &run);
    let message = alices_message(&server, &run).await;
    assert!(message.tls, "the message must arrive inside TLS\n{run}");
    assert!(record.passed(), "{:?}\n{log}\n{run}", record.failures);
}

// --- c. The same answers as Postfix ----------------------------------------------------------
//
// Each client sends one message to a local address of Debian's Postfix 3.7 (the front door:
// STARTTLS with certs/valid.pem, no AUTH), one to an address it refuses to relay to, and one
// more to the local address asking for AUTH, which the front door does not offer; then the same
// three to the fake server set up as that front door is (`front_door_like()`: its greeting,
// EHLO lists and HELO answer, and the relay refusal as a rule, which is configuration;
// everything else is the fake server's own). One Postfix and one fake server per test. Every
// client goes through STARTTLS and checks the certificate against certs/ca.pem (s-nail and mutt
// also run without TLS, where they say HELO only). For each message the client must conclude
// the same (`sent: 250 2.0.0 Ok: queued as …`, `failed: 554 5.7.1 <…>: Relay access denied`,
// queue ids made alike) with the same exit status, and the server's lines of the conversation
// must be the same, as the client itself logged them (its debug output, queue ids made alike).
// aiosmtplib and Ruby's mail gem log nothing: for them Postfix's side is recorded by
// `smtp_harness::record` sitting in front of Postfix (so their TLS is with the proxy, whose
// certificate the same CA signed; the proxy checks Postfix's against it) and the fake server's
// side is its own transcript.

/// One message each test sends, and how Postfix must conclude it.
struct Case {
    to: String,
    /// The start of the conclusion the client must reach with Postfix.
    postfix_says: &'static str,
    /// Whether Postfix must take the message (`None`: it depends on the client).
    delivered: Option<bool>,
    /// Options for this case, after the test's own.
    extra: &'static [&'static str],
}

fn cases() -> [Case; 3] {
    [
        Case {
            to: format!("someone@reply.{HOSTNAME}"),
            postfix_says: "sent: 250 2.0.0 Ok: ",
            delivered: Some(true),
            extra: &[],
        },
        Case {
            to: FOREIGN.to_owned(),
            postfix_says: "failed: 554 5.7.1 <someone@elsewhere.test>: Relay access denied",
            delivered: Some(false),
            extra: &[],
        },
        // AUTH asked of a server that offers none: Ruby, aiosmtplib and s-nail send it anyway
        // and get Postfix's 503; Perl, PHPMailer and Exim give up without sending it; mutt
        // sends the message unauthenticated. Whichever it is, the same with both servers.
        Case {
            to: format!("someone@reply.{HOSTNAME}"),
            postfix_says: "",
            delivered: None,
            extra: &["--auth", "plain"],
        },
    ]
}

/// The server's lines, queue ids made alike, one per line with its number, for messages.
fn numbered(lines: &[String]) -> String {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("{:3} {l}\n", i + 1))
        .collect()
}

/// Runs `client` with each of `settings` against Postfix and the fake server for every
/// [`Case`], and asserts that it concluded the same and saw the same server lines from both.
async fn same_as_postfix(client: Client, settings: &[&[&str]]) {
    let postfix = FrontDoor::start_with_tls().await;
    let fake = server(front_door_like()).await;
    let mut delivered = 0;
    let runs = settings
        .iter()
        .flat_map(|options| cases().into_iter().map(move |case| (*options, case)));
    for (n, (options, case)) in runs.enumerate() {
        let options: Vec<&str> = options
            .iter()
            .copied()
            .chain(case.extra.iter().copied())
            .chain(["--to", &case.to])
            .collect();

        let logs_nothing = matches!(client, Client::Aiosmtplib | Client::RubyMailGem);
        let (real, real_lines) = if logs_nothing {
            let (proxy, recording) = record_one(postfix.addr).await;
            let run = client.send_to(proxy, &options).await;
            let recording = recorded(recording, &run).await;
            assert!(
                recording.notes.is_empty(),
                "the recording proxy intervened: {:?}\n{run}",
                recording.notes
            );
            let lines = transcript_server_lines(&recording.transcript);
            (run, lines)
        } else {
            let run = client.send_to(postfix.addr, &options).await;
            let lines = run
                .server_lines()
                .expect("the client logs the server's lines");
            (run, lines)
        };
        delivered += usize::from(real.status.success());
        let theirs = client.send(&fake, &options).await;
        let records = fake
            .wait_for_sessions(n + 1, WAIT)
            .await
            .unwrap_or_else(|e| panic!("the fake server's connection: {e}\n{theirs}"));
        let fake_lines = match theirs.server_lines() {
            Some(lines) => lines,
            None => transcript_server_lines(&records[n].transcript),
        };

        let what = format!("{client:?} [{}]", options.join(" "));
        let show = || {
            format!(
                "--- Postfix's run\n{real}\n--- the fake server's run\n{theirs}\n\
                 --- the fake server's transcript\n{}",
                records[n].transcript
            )
        };
        // What Postfix did is what these tests assume.
        assert!(
            real.conclusion().starts_with(case.postfix_says)
                && case.delivered.is_none_or(|d| real.status.success() == d),
            "{what}: expected \"{}…\" from Postfix\n{}",
            case.postfix_says,
            show()
        );
        assert_eq!(
            (theirs.normalised_conclusion(), theirs.status.code()),
            (real.normalised_conclusion(), real.status.code()),
            "{what}: the client concluded differently with the fake server (left) and with \
             Postfix (right)\n{}",
            show()
        );
        let same = |lines: &[String], run: &ClientRun| -> Vec<String> {
            lines
                .iter()
                .map(|l| same_queue_ids(l, run.bdat_size()))
                .collect()
        };
        let (real_lines, fake_lines) = (same(&real_lines, &real), same(&fake_lines, &theirs));
        assert!(
            real_lines.len() >= 3,
            "{what}: too few server lines taken from the client's log\n{}",
            show()
        );
        assert!(
            fake_lines == real_lines,
            "{what}: the server's lines differ\n--- from the fake server\n{}--- from Postfix\n{}{}",
            numbered(&fake_lines),
            numbered(&real_lines),
            show()
        );
    }
    let taken: Vec<(u64, Vec<String>)> = fake
        .messages()
        .into_iter()
        .map(|m| (m.session, m.rcpt_to))
        .collect();
    assert_eq!(
        taken.len(),
        delivered,
        "{client:?}: the fake server took as many messages as Postfix (session, recipients): \
         {taken:?}"
    );
}

const STARTTLS: &[&[&str]] = &[&["--tls", "starttls"]];

#[tokio::test]
async fn ruby_net_smtp_gets_the_same_answers_as_from_postfix() {
    same_as_postfix(Client::RubyNetSmtp, STARTTLS).await;
}

#[tokio::test]
async fn ruby_mail_gem_gets_the_same_answers_as_from_postfix() {
    same_as_postfix(Client::RubyMailGem, STARTTLS).await;
}

#[tokio::test]
async fn perl_net_smtp_gets_the_same_answers_as_from_postfix() {
    same_as_postfix(Client::PerlNetSmtp, STARTTLS).await;
}

// aiosmtplib's (and the mail gem's) side of Postfix comes from the recording proxy: neither
// logs anything itself.
#[tokio::test]
async fn aiosmtplib_gets_the_same_answers_as_from_postfix() {
    same_as_postfix(Client::Aiosmtplib, STARTTLS).await;
}

// Exim pipelines MAIL, RCPT and BDAT (CHUNKING is offered); Postfix's "Ok: n bytes queued as"
// must repeat the size Exim announced.
#[tokio::test]
async fn exim_gets_the_same_answers_as_from_postfix() {
    same_as_postfix(Client::Exim, STARTTLS).await;
}

#[tokio::test]
async fn phpmailer_gets_the_same_answers_as_from_postfix() {
    same_as_postfix(Client::PhpMailer, STARTTLS).await;
}

// s-nail checks the certificate's DNS names only: it connects to `localhost` (Client::host).
// After STARTTLS it greets with HELO, not EHLO; without TLS it says HELO only. Both ways.
#[tokio::test]
async fn s_nail_gets_the_same_answers_as_from_postfix() {
    same_as_postfix(Client::SNail, &[&["--tls", "starttls"], &["--tls", "none"]]).await;
}

// mutt says EHLO when it wants STARTTLS, and HELO only when it needs no extension (no TLS, no
// AUTH): both ways. It sends QUIT after the message without waiting for the 221.
#[tokio::test]
async fn mutt_gets_the_same_answers_as_from_postfix() {
    same_as_postfix(Client::Mutt, &[&["--tls", "starttls"], &["--tls", "none"]]).await;
}
