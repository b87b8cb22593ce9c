//! The session core without a socket: bytes in, replies and transcript out. Each numbered
//! defect of issue 9 has a test here that failed before the core was rewritten.

use std::sync::Arc;

use super::core::{Next, SessionCore};
use super::defaults::Defaults;
use crate::scenario::ServerScenario;
use crate::transcript::Closer;
use crate::wire::{TlsSession, Upgrade};

/// One session fed by hand. TLS handshakes succeed at once and pauses end at once.
struct Talk {
    core: SessionCore,
    /// The last thing the core asked for.
    next: Next,
}

impl Talk {
    fn new(scenario: &str) -> (Talk, String) {
        let scenario: ServerScenario = scenario.parse().expect("test scenario parses");
        let defaults = Arc::new(Defaults::new(&scenario));
        let mut core = SessionCore::new(
            Arc::new(scenario),
            defaults,
            1,
            "127.0.0.1:4000".into(),
            None,
        );
        let next = core.start();
        let mut talk = Talk { core, next };
        let greeting = talk.settle();
        (talk, greeting)
    }

    /// Does what the core asks until it wants input; returns what it wrote.
    fn settle(&mut self) -> String {
        loop {
            match self.next.clone() {
                Next::StartTls => {
                    self.next = self.core.tls_upgraded(Upgrade {
                        discarded: 0,
                        result: Ok(TlsSession {
                            version: "TLSv1.3".into(),
                            cipher: "TLS13_AES_256_GCM_SHA384".into(),
                        }),
                    });
                }
                Next::Pause(_) => self.next = self.core.resume(),
                Next::Read | Next::Close(_) => break,
            }
        }
        String::from_utf8(std::mem::take(self.core.output())).expect("replies are UTF-8")
    }

    /// Sends `bytes` (all at once) and returns the replies they got.
    fn send(&mut self, bytes: &[u8]) -> String {
        assert_eq!(self.next, Next::Read, "the session is not reading");
        let mut rest = bytes;
        let mut out = String::new();
        loop {
            let (used, next) = self.core.receive(rest);
            rest = &rest[used..];
            self.next = next;
            out.push_str(&self.settle());
            if rest.is_empty() || self.next != Next::Read {
                break;
            }
        }
        out
    }

    /// Sends bytes one octet at a time (the worst split a socket can make).
    fn trickle(&mut self, bytes: &[u8]) -> String {
        bytes
            .iter()
            .map(|b| self.send(std::slice::from_ref(b)))
            .collect()
    }

    fn closed(&self) -> bool {
        matches!(self.next, Next::Close(_))
    }

    fn transcript(self) -> String {
        self.core
            .finish(super::core::End {
                by: Closer::Client,
                reason: None,
            })
            .transcript
            .to_string()
    }
}

const EHLO_MAIL_RCPT: &[u8] = b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n";

/// Issue 9 item 1: Exim's `BDAT 375 LAST` got the default `250 … queued` where the persona
/// scripts a refusal of DATA. DATA rules answer the end of a BDAT transfer (RFC 3030 makes
/// BDAT LAST the end of the message, as the final `.` is for DATA).
#[test]
fn data_rules_answer_the_end_of_a_bdat_transfer() {
    let (mut t, _) = Talk::new(
        "when DATA\n    S: 550-5.4.5 Daily user sending limit exceeded.\n    S: 550 5.4.5 See https://support.google.com/a/answer/166852\n",
    );
    t.send(EHLO_MAIL_RCPT);
    assert_eq!(t.send(b"BDAT 3\r\nabc"), "250 2.0.0 Ok: 3 bytes\r\n");
    assert_eq!(
        t.send(b"BDAT 2 LAST\r\nde"),
        "550-5.4.5 Daily user sending limit exceeded.\r\n550 5.4.5 See https://support.google.com/a/answer/166852\r\n"
    );
    // The refusal ended the transaction: no message.
    assert!(t.core.take_captured().is_empty());
    assert_eq!(
        t.send(b"RCPT TO:<x@y.test>\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
}

/// A DATA rule that accepts after its 354 gives BDAT LAST its final reply; `#N` counts
/// message transfers, DATA and BDAT alike.
#[test]
fn a_data_rule_numbered_by_transfer_answers_the_second_message_sent_with_bdat() {
    let (mut t, _) =
        Talk::new("when DATA #2\n    S: 354 go on\n    S: 250 2.0.0 second message taken\n");
    t.send(EHLO_MAIL_RCPT);
    assert_eq!(
        t.send(b"DATA\r\n"),
        "354 End data with <CR><LF>.<CR><LF>\r\n"
    );
    assert!(
        t.send(b"one\r\n.\r\n")
            .starts_with("250 2.0.0 Ok: queued as")
    );
    t.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n");
    assert_eq!(
        t.send(b"BDAT 5 LAST\r\ntwo\r\n"),
        "250 2.0.0 second message taken\r\n"
    );
    let captured = t.core.take_captured();
    assert_eq!(captured.len(), 2);
    assert_eq!(captured[1].data, b"two\r\n");
}

/// Issue 9 item 2, RFC 3030 section 3: DATA may not follow BDAT in a transaction. Postfix
/// 3.7 answers `503 5.5.1 Error: DATA after BDAT` (observed on Debian 12).
#[test]
fn data_after_a_chunk_is_503() {
    let (mut t, _) = Talk::new("hostname mx.test\n");
    t.send(EHLO_MAIL_RCPT);
    assert_eq!(t.send(b"BDAT 3\r\nabc"), "250 2.0.0 Ok: 3 bytes\r\n");
    assert_eq!(t.send(b"DATA\r\n"), "503 5.5.1 Error: DATA after BDAT\r\n");
    assert_eq!(
        t.send(b"RCPT TO:<e@f.test>\r\n"),
        "503 5.5.1 Error: RCPT after BDAT\r\n"
    );
    // The transaction goes on with BDAT.
    assert!(
        t.send(b"BDAT 0 LAST\r\n")
            .starts_with("250 2.0.0 Ok: 3 bytes queued as")
    );
    assert_eq!(t.core.take_captured()[0].data, b"abc");
}

/// The script of the reference log, as `import` writes it for every AUTH LOGIN.
const SCRIPTED_LOGIN: &str = "S: 220 smtp.example ESMTP\nC: EHLO*\nS: 250-smtp.example\nS: 250 AUTH LOGIN PLAIN\nC: AUTH LOGIN*\nS: 334 VXNlcm5hbWU6\nC: *\nS: 334 UGFzc3dvcmQ6\nC: *\nS: 535 5.7.8 Username and Password not accepted\n";

/// Issue 9 item 3, RFC 4954 section 4: with an initial response (`AUTH LOGIN dXNlcg==`, as
/// aiosmtplib sends) the `Username:` challenge is never sent: the next prompt is
/// `Password:`, and the 535 follows the password.
#[test]
fn a_scripted_auth_login_skips_the_prompt_an_initial_response_answers() {
    let (mut t, _) = Talk::new(SCRIPTED_LOGIN);
    t.send(b"EHLO c\r\n");
    assert_eq!(t.send(b"AUTH LOGIN dXNlcg==\r\n"), "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(
        t.send(b"cGFzcw==\r\n"),
        "535 5.7.8 Username and Password not accepted\r\n"
    );
    let log = t.transcript();
    assert!(!log.contains("VXNlcm5hbWU6"), "{log}");
    assert!(log.contains(r#"<- "AUTH LOGIN [redacted]\r\n""#), "{log}");
    assert!(
        !log.contains("cGFzcw") && !log.contains("Scenario diverged"),
        "{log}"
    );

    // Without one, both prompts come, as the script says.
    let (mut t, _) = Talk::new(SCRIPTED_LOGIN);
    t.send(b"EHLO c\r\n");
    assert_eq!(t.send(b"AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(t.send(b"dXNlcg==\r\n"), "334 UGFzc3dvcmQ6\r\n");
    assert!(t.send(b"cGFzcw==\r\n").starts_with("535 "));
}

/// RFC 4954 section 4 for PLAIN: the initial response (or `=` for an empty one) skips the
/// empty `334 ` challenge, in a script as in the server's own exchange.
#[test]
fn a_scripted_auth_plain_with_an_initial_response_gets_its_outcome_at_once() {
    let script = "S: 220 smtp.example ESMTP\nC: EHLO*\nS: 250-smtp.example\nS: 250 AUTH PLAIN\nC: AUTH PLAIN*\nS: \"334 \"\nC: *\nS: 535 5.7.8 no\n";
    let (mut t, _) = Talk::new(script);
    t.send(b"EHLO c\r\n");
    assert_eq!(t.send(b"AUTH PLAIN AGEAYg==\r\n"), "535 5.7.8 no\r\n");
    let (mut t, _) = Talk::new(script);
    t.send(b"EHLO c\r\n");
    assert_eq!(t.send(b"AUTH PLAIN =\r\n"), "535 5.7.8 no\r\n");
    let (mut t, _) = Talk::new(script);
    t.send(b"EHLO c\r\n");
    assert_eq!(t.send(b"AUTH PLAIN\r\n"), "334 \r\n");
    assert_eq!(t.send(b"AGEAYg==\r\n"), "535 5.7.8 no\r\n");
}

/// ... and in rules: the server's own LOGIN exchange asks only for the password.
#[test]
fn a_ruled_auth_login_with_an_initial_response_asks_only_for_the_password() {
    let (mut t, _) = Talk::new(
        "when AUTH user=alice password=s3cret\n    S: 235 2.7.0 ok\nwhen AUTH\n    S: 535 5.7.8 no\n",
    );
    t.send(b"EHLO c\r\n");
    assert_eq!(t.send(b"AUTH LOGIN YWxpY2U=\r\n"), "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(t.send(b"czNjcmV0\r\n"), "235 2.7.0 ok\r\n");
}

/// Issue 9 item 4: smtp-sink ends its EHLO list with `"250 \r\n"`; a replay must send that
/// space, or swaks waits for the rest of the reply.
#[test]
fn reply_lines_go_out_byte_for_byte_trailing_space_included() {
    let (mut t, greeting) =
        Talk::new("S: 220 sink\nC: EHLO*\nS: 250-sink\nS: \"250 \"\nC: QUIT\nS: 221 bye\n");
    assert_eq!(greeting, "220 sink\r\n");
    assert_eq!(t.send(b"EHLO c\r\n"), "250-sink\r\n250 \r\n");
}

/// Issue 9 item 5: parameters are judged against the EHLO reply actually sent: after HELO
/// none may be used (RFC 5321 4.1.1.11), BINARYMIME and DSN only when advertised (RFC 3030,
/// RFC 3461), a non-ASCII path only with SMTPUTF8 (RFC 6531: 553 5.6.7).
#[test]
fn parameters_need_the_extension_the_ehlo_reply_advertised() {
    let (mut t, _) = Talk::new("hostname mx.test\n");
    t.send(b"HELO c\r\n");
    assert_eq!(
        t.send(b"MAIL FROM:<a@b.test> SIZE=100\r\n"),
        "555 5.5.4 Unsupported option: SIZE=100\r\n"
    );
    // The default EHLO reply has SMTPUTF8, 8BITMIME, SIZE, but neither BINARYMIME nor DSN.
    t.send(b"EHLO c\r\n");
    assert!(
        t.send(b"MAIL FROM:<j\xc3\xb6rg@b.test>\r\n")
            .starts_with("553 5.6.7 ")
    );
    assert_eq!(
        t.send(b"MAIL FROM:<a@b.test> BODY=BINARYMIME\r\n"),
        "555 5.5.4 Unsupported option: BODY=BINARYMIME\r\n"
    );
    assert_eq!(
        t.send(b"MAIL FROM:<j\xc3\xb6rg@b.test> SMTPUTF8 SIZE=10\r\n"),
        "250 2.1.0 Ok\r\n"
    );
    assert_eq!(
        t.send(b"RCPT TO:<c@d.test> NOTIFY=NEVER\r\n"),
        "555 5.5.4 Unsupported option: NOTIFY=NEVER\r\n"
    );
    assert_eq!(
        t.send("RCPT TO:<zoë@d.test>\r\n".as_bytes()),
        "250 2.1.5 Ok\r\n"
    );
}

/// Issue 9 item 6: a persona speaks its own words (a `default` block) or RFC 5321's, never
/// Postfix's, for what it does not script.
#[test]
fn a_persona_answers_what_it_does_not_script_in_its_own_or_neutral_words() {
    let (mut t, _) = Talk::new(
        "hostname smtp.gmail.com\nwording rfc\nS: 220 smtp.gmail.com ESMTP x - gsmtp\ndefault unrecognized\n    S: 502 5.5.1 Unrecognized command. x - gsmtp\n",
    );
    assert_eq!(
        t.send(b"FROB\r\n"),
        "502 5.5.1 Unrecognized command. x - gsmtp\r\n"
    );
    assert_eq!(t.send(b"NOOP\r\n"), "250 2.0.0 OK\r\n");
    assert_eq!(
        t.send(b"MAIL FROM:<a@b>\r\n"),
        "503 5.5.1 Bad sequence of commands\r\n"
    );
    assert!(t.send(b"HELP\r\n").starts_with("214 "));
    assert_eq!(
        t.send(b"QUIT\r\n"),
        "221 2.0.0 smtp.gmail.com Service closing transmission channel\r\n"
    );
    assert!(t.closed());
}

/// Issue 9 item 6: STARTTLS after HELO. Postfix 3.7 (observed on Debian 12) starts TLS; Exim
/// refuses with `503 STARTTLS command used when not advertised` (smtp_in.c), which a persona
/// says with `when STARTTLS unadvertised`.
#[test]
fn starttls_after_helo_is_answered_as_postfix_and_exim_answer_it() {
    let (mut t, _) = Talk::new("certificate valid\n");
    t.send(b"HELO c\r\n");
    assert_eq!(t.send(b"STARTTLS\r\n"), "220 2.0.0 Ready to start TLS\r\n");
    assert!(t.transcript().contains("TLS connection started: TLSv1.3"));

    let (mut t, _) = Talk::new(
        "certificate valid\nwhen STARTTLS unadvertised\n    S: 503 STARTTLS command used when not advertised\nwhen STARTTLS\n    S: 220 TLS go ahead\n    tls\n",
    );
    t.send(b"HELO c\r\n");
    assert_eq!(
        t.send(b"STARTTLS\r\n"),
        "503 STARTTLS command used when not advertised\r\n"
    );
    t.send(b"EHLO c\r\n");
    assert_eq!(t.send(b"STARTTLS\r\n"), "220 TLS go ahead\r\n");
}

/// Transcripts: SASL payloads pipelined behind a refused AUTH (530, 503, 504) are secrets,
/// although no 334 asked for them.
#[test]
fn sasl_payloads_behind_a_refused_auth_are_never_shown() {
    let (mut t, _) = Talk::new("hostname mx.test\n");
    let replies =
        t.send(b"AUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\nEHLO c\r\nAUTH CRAM-MD5 x\r\nc2VjcmV0\r\n");
    assert!(
        replies.starts_with("503 5.5.1 Error: send HELO/EHLO first\r\n500 "),
        "{replies}"
    );
    let log = t.transcript();
    assert!(
        !log.contains("dXNlcg") && !log.contains("cGFzcw") && !log.contains("c2VjcmV0"),
        "{log}"
    );
    assert_eq!(log.matches(r#"<- "[redacted]\r\n""#).count(), 3, "{log}");
    assert!(log.contains(r#"<- "EHLO c\r\n""#));
}

/// Transcripts: the message shows as its size between the 354 and the final reply.
#[test]
fn the_message_shows_as_its_size_between_354_and_the_final_reply() {
    let (mut t, _) = Talk::new("hostname mx.test\n");
    t.send(EHLO_MAIL_RCPT);
    t.trickle(b"DATA\r\nSubject: x\r\n\r\n..hi\r\n.\r\n");
    let log = t.transcript();
    assert!(
        log.contains("-> \"354 End data with <CR><LF>.<CR><LF>\\r\\n\"\n<- [message: 23 bytes]\n-> \"250 2.0.0 Ok: queued as 00010001\\r\\n\"\nMessage captured: from=<a@b.test> to=<c@d.test> size=19\n"),
        "{log}"
    );
}

/// Transcripts: a client that completed the handshake and left without a word (it refused
/// the certificate after the handshake, as TLS 1.3 clients may) is told apart from one that
/// used TLS.
#[test]
fn a_client_that_leaves_tls_without_a_word_is_told_apart() {
    let (mut t, _) = Talk::new("certificate valid\n");
    t.send(b"EHLO c\r\n");
    t.send(b"STARTTLS\r\n");
    let end = t.core.client_gone(None, Some("BadCertificate".into()));
    let log = t.core.finish(end).transcript.to_string();
    assert!(
        log.contains("TLS connection started: TLSv1.3 TLS13_AES_256_GCM_SHA384\nTLS refused by the client after the handshake (alert BadCertificate)"),
        "{log}"
    );
    let (mut t, _) = Talk::new("certificate valid\n");
    t.send(b"EHLO c\r\nSTARTTLS\r\n");
    t.send(b"EHLO c\r\n");
    let end = t.core.client_gone(None, None);
    assert!(
        !t.core
            .finish(end)
            .transcript
            .to_string()
            .contains("TLS refused")
    );
}

/// The same conversation decodes the same however the client's bytes are split.
#[test]
fn a_whole_conversation_is_the_same_sent_at_once_or_octet_by_octet() {
    let input: &[u8] = b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n.hidden\r\n..\r\n.\r\nBDAT 1\r\nxMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 3 LAST\r\nabcAUTH PLAIN AGEAYg==\r\nQUIT\r\n";
    let (mut whole, _) = Talk::new("hostname mx.test\n");
    let (mut trickled, _) = Talk::new("hostname mx.test\n");
    let a = whole.send(input);
    let b = trickled.trickle(input);
    assert_eq!(a, b);
    assert!(whole.closed() && trickled.closed());
    assert_eq!(whole.transcript(), trickled.transcript());
}
