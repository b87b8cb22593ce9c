//! The fake server's built-in replies against Debian's real Postfix (3.7, a private instance from
//! `scripts/postfix-front-door`, STARTTLS offered with the test certificate): the same
//! conversations go to both, and what the scenario does not script must be answered exactly as
//! Postfix answers it (command order, parameters, BDAT, STARTTLS after HELO, HELP, unknown
//! commands …). The scenario gives only what is configuration, not protocol: Postfix's greeting
//! and EHLO lists. A missing Postfix is a failure (scripts/setup installs it), not a skip.

mod common;

use common::RawClient;
use smtp_harness::{FakeSmtpServer, ServerScenario};
use testkit::front_door::{FrontDoor, HOSTNAME};

/// This Postfix instance's greeting and EHLO lists (its configuration, as it sends them).
fn postfix_configuration() -> ServerScenario {
    let text = format!(
        "hostname {HOSTNAME}\ncertificate valid\nS: 220 {HOSTNAME} ESMTP Postfix\n\
when EHLO plain\n    S: 250-{HOSTNAME}\n    S: 250-PIPELINING\n    S: 250-SIZE 10240000\n    S: 250-VRFY\n    S: 250-ETRN\n    S: 250-STARTTLS\n    S: 250-ENHANCEDSTATUSCODES\n    S: 250-8BITMIME\n    S: 250-DSN\n    S: 250-SMTPUTF8\n    S: 250 CHUNKING\n\
when EHLO tls\n    S: 250-{HOSTNAME}\n    S: 250-PIPELINING\n    S: 250-SIZE 10240000\n    S: 250-VRFY\n    S: 250-ETRN\n    S: 250-ENHANCEDSTATUSCODES\n    S: 250-8BITMIME\n    S: 250-DSN\n    S: 250-SMTPUTF8\n    S: 250 CHUNKING\n\
when HELO\n    S: 250 {HOSTNAME}\n"
    );
    ServerScenario::parse(&text, "<postfix configuration>").expect("the scenario parses")
}

/// Real Postfix, and the fake server configured as it is.
async fn both_servers() -> (FrontDoor, FakeSmtpServer) {
    let postfix = FrontDoor::start_with_tls().await;
    let harness = FakeSmtpServer::builder(postfix_configuration())
        .verify_on_drop(false)
        .start()
        .await
        .expect("the fake server starts");
    (postfix, harness)
}

/// What a server answered to each step of a conversation, queue ids made alike.
async fn converse(addr: std::net::SocketAddr, steps: &[&[u8]]) -> Vec<Vec<String>> {
    let mut c = RawClient::connect(addr).await;
    let mut replies = vec![c.reply().await.lines];
    for step in steps {
        c.send_bytes(step).await;
        match c.try_reply().await {
            Some(r) => replies.push(r.lines.iter().map(|l| same_queue_ids(l)).collect()),
            None => {
                replies.push(vec!["<closed>".to_owned()]);
                break;
            }
        }
    }
    replies
}

/// `queued as 31EBA98E07D` → `queued as ID`.
fn same_queue_ids(line: &str) -> String {
    match line.split_once("queued as ") {
        Some((head, _)) => format!("{head}queued as ID"),
        None => line.to_owned(),
    }
}

/// Every conversation, both servers: the replies must be the same, line for line.
#[tokio::test]
async fn unscripted_replies_are_postfixs_own() {
    let (postfix, harness) = both_servers().await;
    let rcpt = format!("RCPT TO:<someone@reply.{HOSTNAME}>\r\n");
    let conversations: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "commands out of order, unknown and unimplemented commands",
            vec![
                b"MAIL FROM:<a@b.test>\r\n".to_vec(),
                b"RCPT TO:<c@d.test>\r\n".to_vec(),
                b"EHLO client.test\r\n".to_vec(),
                b"DATA\r\n".to_vec(),
                b"MAIL FROM:<a@b.test>\r\n".to_vec(),
                b"MAIL FROM:<a@b.test>\r\n".to_vec(),
                b"DATA\r\n".to_vec(),
                b"FROB\r\n".to_vec(),
                b"HELP\r\n".to_vec(),
                b"EXPN staff\r\n".to_vec(),
                b"NOOP\r\n".to_vec(),
                b"RSET\r\n".to_vec(),
                b"STARTTLS now\r\n".to_vec(),
                b"QUIT\r\n".to_vec(),
            ],
        ),
        (
            "STARTTLS after HELO (RFC 3207 leaves it to the server: Postfix starts TLS)",
            vec![b"HELO client.test\r\n".to_vec(), b"STARTTLS\r\n".to_vec()],
        ),
        (
            "STARTTLS before any greeting",
            vec![b"STARTTLS\r\n".to_vec()],
        ),
        (
            "BDAT (RFC 3030): chunks counted, DATA and RCPT refused after one, the last queues",
            vec![
                b"EHLO client.test\r\n".to_vec(),
                b"MAIL FROM:<a@b.test>\r\n".to_vec(),
                rcpt.clone().into_bytes(),
                b"BDAT 3\r\nabc".to_vec(),
                b"DATA\r\n".to_vec(),
                rcpt.clone().into_bytes(),
                b"BDAT 4 LAST\r\nde\r\n".to_vec(),
                b"QUIT\r\n".to_vec(),
            ],
        ),
        (
            "BDAT without recipients, and with a size that is no number (521, then the close)",
            vec![
                b"EHLO client.test\r\n".to_vec(),
                b"MAIL FROM:<a@b.test>\r\n".to_vec(),
                b"BDAT 3\r\nabc".to_vec(),
                b"RSET\r\n".to_vec(),
                b"BDAT x\r\n".to_vec(),
            ],
        ),
        (
            "parameters the EHLO list does not offer (555), and those it does",
            vec![
                b"EHLO client.test\r\n".to_vec(),
                b"MAIL FROM:<a@b.test> BODY=BINARYMIME\r\n".to_vec(),
                b"MAIL FROM:<a@b.test> FOO=1\r\n".to_vec(),
                b"MAIL FROM:<a@b.test> SIZE=100 BODY=8BITMIME RET=HDRS\r\n".to_vec(),
                format!("RCPT TO:<someone@reply.{HOSTNAME}> NOTIFY=NEVER\r\n").into_bytes(),
                b"DATA\r\n".to_vec(),
                b"Subject: x\r\n\r\n..dot\r\n.\r\n".to_vec(),
                b"QUIT\r\n".to_vec(),
            ],
        ),
        (
            "AUTH where none is offered",
            vec![b"EHLO client.test\r\n".to_vec(), b"AUTH PLAIN\r\n".to_vec()],
        ),
    ];
    for (what, steps) in &conversations {
        let steps: Vec<&[u8]> = steps.iter().map(Vec::as_slice).collect();
        let real = converse(postfix.addr, &steps).await;
        let fake = converse(harness.addr(), &steps).await;
        assert_eq!(
            fake, real,
            "{what}: the harness (left) and Postfix (right) differ"
        );
    }
}

/// Where the harness is stricter than Postfix on purpose, it follows the RFC, and the difference
/// is written down here: Postfix takes `SIZE=` after HELO and a non-ASCII address without the
/// SMTPUTF8 parameter; RFC 5321 4.1.1.11 and RFC 6531 section 3.4 do not, so neither does the
/// harness.
#[tokio::test]
async fn where_the_harness_is_stricter_than_postfix_it_says_why() {
    let (postfix, harness) = both_servers().await;
    let steps: [&[u8]; 3] = [
        b"HELO client.test\r\n",
        b"MAIL FROM:<a@b.test> SIZE=100\r\n",
        b"RSET\r\n",
    ];
    let real = converse(postfix.addr, &steps).await;
    let fake = converse(harness.addr(), &steps).await;
    assert_eq!(real[2], ["250 2.1.0 Ok"]);
    assert_eq!(fake[2], ["555 5.5.4 Unsupported option: SIZE=100"]);
    let steps: [&[u8]; 2] = [
        b"EHLO client.test\r\n",
        "MAIL FROM:<jörg@b.test>\r\n".as_bytes(),
    ];
    let real = converse(postfix.addr, &steps).await;
    let fake = converse(harness.addr(), &steps).await;
    assert_eq!(real[2], ["250 2.1.0 Ok"]);
    assert_eq!(
        fake[2],
        ["553 5.6.7 Non-ASCII addresses not permitted for that sender/recipient"]
    );
}
