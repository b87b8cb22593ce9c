//! The session fed by hand: command lines and content in, replies, log lines and the next
//! step out, with no socket, maildir or log file.

use std::time::Duration;

use super::*;
use crate::inbound::{MailLog, Maildir};

fn config(enabled: bool) -> Arc<InboundConfig> {
    let nowhere = std::env::temp_dir().join("appliance-session-tests-never-written");
    Arc::new(InboundConfig {
        hostname: "host.test".into(),
        max_message_size: 1000,
        timeout: Duration::from_secs(5),
        tls: None,
        discard_to_noreply: true,
        enabled,
        maildir: Maildir::new(nowhere.join("mail")),
        log: Arc::new(MailLog::new(nowhere.join("mail.log"), "host.test")),
    })
}

fn session(enabled: bool) -> Session {
    let mut session = Session::new(config(enabled), "127.0.0.1:40000".parse().unwrap());
    session.open();
    session
}

fn send(session: &mut Session, line: &str) -> Step {
    session.command(Line::Command(line.as_bytes().to_vec()))
}

/// The one reply of a step that expects a command next.
fn reply(session: &mut Session, line: &str) -> String {
    let step = send(session, line);
    assert!(
        matches!(step.next, Next::Command),
        "{line}: {:?}",
        step.next
    );
    let replies = step.replies();
    assert_eq!(replies.len(), 1, "{line}: {replies:?}");
    replies[0].to_owned()
}

fn logs(step: &Step) -> Vec<String> {
    step.outputs
        .iter()
        .filter_map(|o| match o {
            Output::Log(event) => Some(event.to_string()),
            Output::Reply(_) => None,
        })
        .collect()
}

#[test]
fn greeting_and_ehlo() {
    let mut s = Session::new(config(true), "127.0.0.1:40000".parse().unwrap());
    let open = s.open();
    assert_eq!(open.replies(), ["220 host.test ESMTP appliance"]);
    assert_eq!(logs(&open), ["connect from unknown[127.0.0.1]"]);
    assert_eq!(
        reply(&mut s, "EHLO client.test"),
        "250-host.test\n250-PIPELINING\n250-SIZE 1000\n250-ENHANCEDSTATUSCODES\n250-8BITMIME\n250 SMTPUTF8"
    );
    assert_eq!(reply(&mut s, "HELO client.test"), "250 host.test");
    assert_eq!(s.last_command(), "HELO");
}

#[test]
fn a_message_goes_to_delivery_and_its_outcome_is_answered() {
    let mut s = session(true);
    reply(&mut s, "EHLO client.test");
    assert_eq!(reply(&mut s, "MAIL FROM:<bob@example.com>"), "250 2.1.0 Ok");
    let rcpt = send(&mut s, "RCPT TO:<reply+t@REPLY.host.test>");
    assert_eq!(rcpt.replies(), ["250 2.1.5 Ok"]);
    let first = logs(&rcpt);
    assert_eq!(first.len(), 1);
    assert!(
        first[0].ends_with(": client=unknown[127.0.0.1]"),
        "{first:?}"
    );
    let second = send(&mut s, "RCPT TO:<x@noreply.host.test>");
    assert!(logs(&second).is_empty(), "one queue id per message");
    let data = send(&mut s, "DATA");
    assert_eq!(data.replies(), ["354 End data with <CR><LF>.<CR><LF>"]);
    assert!(matches!(data.next, Next::Content));
    let step = s.content(Content::Complete(b"hello\r\n".to_vec()));
    let Next::Deliver(delivery) = step.next else {
        panic!("not delivered: {:?}", step.next);
    };
    assert!(first[0].starts_with(&delivery.queue_id));
    assert_eq!(delivery.from, "bob@example.com");
    assert_eq!(
        delivery.recipients,
        [
            ("reply+t@REPLY.host.test".to_owned(), Domain::Reply),
            ("x@noreply.host.test".to_owned(), Domain::NoReply)
        ]
    );
    assert_eq!(delivery.content, b"hello\r\n");
    assert_eq!(delivery.trace.proto, "ESMTP");
    assert_eq!(delivery.trace.helo.as_deref(), Some("client.test"));
    let done = s.delivered(Outcome::Accepted {
        queue_id: delivery.queue_id.clone(),
        log: vec![Event::Removed {
            queue_id: delivery.queue_id.clone(),
        }],
    });
    assert_eq!(
        done.replies(),
        [format!("250 2.0.0 Ok: queued as {}", delivery.queue_id)]
    );
    assert_eq!(logs(&done), [format!("{}: removed", delivery.queue_id)]);
    // The transaction is over: DATA needs a new MAIL.
    assert_eq!(reply(&mut s, "DATA"), "503 5.5.1 Error: need MAIL command");
}

#[test]
fn a_maildir_that_cannot_be_written_is_451() {
    let mut s = session(true);
    for line in [
        "HELO c",
        "MAIL FROM:<>",
        "RCPT TO:<r@reply.host.test>",
        "DATA",
    ] {
        send(&mut s, line);
    }
    let Next::Deliver(d) = s.content(Content::Complete(Vec::new())).next else {
        panic!("no delivery");
    };
    let warning = Event::NotDelivered {
        queue_id: d.queue_id,
        error: "No space left on device".into(),
    };
    let step = s.delivered(Outcome::NotWritten { warning });
    assert_eq!(step.replies(), ["451 4.3.0 Error: queue file write error"]);
    assert!(matches!(step.next, Next::Command));
}

#[test]
fn commands_out_of_order_and_bad_lines_are_refused() {
    let mut s = session(true);
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.test>"),
        "503 5.5.1 Error: send HELO/EHLO first"
    );
    assert_eq!(
        reply(&mut s, "RCPT TO:<r@reply.host.test>"),
        "503 5.5.1 Error: need MAIL command"
    );
    assert_eq!(
        reply(&mut s, "BOGUS"),
        "500 5.5.2 Error: command not recognized"
    );
    let too_long = s.command(Line::TooLong);
    assert_eq!(too_long.replies(), ["500 5.5.2 Error: line too long"]);
    reply(&mut s, "EHLO c");
    reply(&mut s, "MAIL FROM:<a@b.test>");
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.test>"),
        "503 5.5.1 Error: nested MAIL command"
    );
    assert_eq!(reply(&mut s, "DATA"), "503 5.5.1 Error: need RCPT command");
    assert_eq!(
        reply(&mut s, "STARTTLS"),
        "502 5.5.1 Error: command not implemented",
        "no certificate, no STARTTLS"
    );
}

#[test]
fn relaying_is_refused_and_logged_before_the_reply() {
    let mut s = session(true);
    reply(&mut s, "EHLO client.test");
    reply(&mut s, "MAIL FROM:<bob@example.com>");
    let step = send(&mut s, "RCPT TO:<x@elsewhere.test>");
    assert_eq!(
        step.outputs,
        [
            Output::Log(Event::RelayDenied {
                client: "unknown[127.0.0.1]".into(),
                reply: "554 5.7.1 <x@elsewhere.test>: Relay access denied".into(),
                from: "bob@example.com".into(),
                to: "x@elsewhere.test".into(),
                proto: "ESMTP",
                helo: "client.test".into(),
            }),
            Output::Reply("554 5.7.1 <x@elsewhere.test>: Relay access denied".into()),
        ]
    );
}

#[test]
fn content_over_the_limit_is_552_and_the_session_goes_on() {
    let mut s = session(true);
    for line in [
        "EHLO c",
        "MAIL FROM:<a@b.test>",
        "RCPT TO:<r@reply.host.test>",
    ] {
        reply(&mut s, line);
    }
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.test> SIZE=1001"),
        "503 5.5.1 Error: nested MAIL command"
    );
    send(&mut s, "DATA");
    let step = s.content(Content::TooBig);
    assert_eq!(
        step.replies(),
        ["552 5.3.4 Message size exceeds fixed limit"]
    );
    assert!(logs(&step)[0].contains(": reject: END-OF-MESSAGE from unknown[127.0.0.1]: 552"));
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.test> SIZE=1001"),
        "552 5.3.4 Message size exceeds fixed limit"
    );
    assert_eq!(
        reply(&mut s, "MAIL FROM:<a@b.test> SIZE=1000"),
        "250 2.1.0 Ok"
    );
}

#[test]
fn the_twentieth_error_ends_the_session() {
    let mut s = session(true);
    for _ in 1..MAX_ERRORS {
        reply(&mut s, "BOGUS");
    }
    let step = send(&mut s, "BOGUS");
    assert_eq!(
        step.replies(),
        [
            "500 5.5.2 Error: command not recognized",
            "421 4.7.0 host.test Error: too many errors"
        ]
    );
    assert_eq!(
        logs(&step),
        ["too many errors after CONNECT from unknown[127.0.0.1]"]
    );
    assert!(matches!(step.next, Next::Close));
}

#[test]
fn quit_closes() {
    let mut s = session(true);
    let step = send(&mut s, "QUIT");
    assert_eq!(step.replies(), ["221 2.0.0 Bye"]);
    assert!(matches!(step.next, Next::Close));
}

#[test]
fn with_email_off_only_quit_is_taken() {
    let mut s = Session::new(config(false), "[::1]:25".parse().unwrap());
    assert_eq!(
        s.open().replies(),
        ["554 5.3.2 host.test ESMTP email is disabled on this appliance"]
    );
    assert_eq!(s.client(), "unknown[::1]");
    assert_eq!(
        reply(&mut s, "EHLO c"),
        "503 5.5.1 Error: no SMTP service here"
    );
    assert_eq!(
        s.command(Line::TooLong).replies(),
        ["503 5.5.1 Error: no SMTP service here"]
    );
    assert_eq!(s.last_command(), "CONNECT");
    let step = send(&mut s, "quit");
    assert_eq!(step.replies(), ["221 2.0.0 Bye"]);
    assert!(matches!(step.next, Next::Close));
}
