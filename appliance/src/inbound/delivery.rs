//! What happens to a message once its content has been read: the recipients on
//! `noreply.HOSTNAME` are dropped when `discard_to_noreply` is on, and for the others the
//! message is written into the maildir behind the trace headers Postfix's virtual delivery
//! agent writes (`Return-Path`, `X-Original-To`, `Delivered-To`, `Received`). The result is
//! the log lines of the accepted message, or the warning of one that could not be written
//! (the session then answers `451` instead of `250`).

use std::net::IpAddr;
use std::time::{Instant, SystemTime};

use mail_parser::{HeaderName, MessageParser};

use super::mail_log::Event;
use super::{Domain, InboundConfig};

/// A message whose content has been read, ready to be delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The message's queue id.
    pub queue_id: String,
    /// The envelope sender.
    pub from: String,
    /// The accepted recipients, in order, with their domain.
    pub recipients: Vec<(String, Domain)>,
    /// When `MAIL` was accepted (the log's `delay`).
    pub started: Instant,
    /// The content, dot-unstuffed.
    pub content: Vec<u8>,
    /// Where the message came from, for the `Received` header.
    pub trace: Trace,
}

/// Where a message came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// The `EHLO`/`HELO` name.
    pub helo: Option<String>,
    /// The client's address.
    pub peer: IpAddr,
    /// `SMTP`, `ESMTP`, `SMTPS` or `ESMTPS`.
    pub proto: &'static str,
}

/// What became of a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Delivered, or discarded, or both: the log lines say which, recipient by recipient.
    Accepted {
        /// The queue id.
        queue_id: String,
        /// The lines to log, in order.
        log: Vec<Event>,
    },
    /// The maildir could not take it.
    NotWritten {
        /// The warning to log.
        warning: Event,
    },
}

/// Delivers (or discards) a message: writes it durably into the maildir for the kept
/// recipients (nothing is written when every recipient is discarded).
pub async fn deliver(config: &InboundConfig, delivery: Delivery) -> Outcome {
    let discard = config.discard_to_noreply;
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for (to, domain) in &delivery.recipients {
        if discard && *domain == Domain::NoReply {
            dropped.push(to.clone());
        } else {
            kept.push(to.clone());
        }
    }
    let message_id = message_id(&delivery.content);
    let size = delivery.content.len();
    if !kept.is_empty() {
        let prefix = trace_headers(
            &config.hostname,
            &delivery.trace,
            &delivery.from,
            &kept,
            &delivery.queue_id,
            SystemTime::now(),
        );
        let maildir = config.maildir.clone();
        let content = delivery.content;
        let written =
            tokio::task::spawn_blocking(move || maildir.deliver(&[prefix.as_bytes(), &content]))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        if let Err(e) = written {
            return Outcome::NotWritten {
                warning: Event::NotDelivered {
                    queue_id: delivery.queue_id,
                    error: e.to_string(),
                },
            };
        }
    }
    let nrcpt = delivery.recipients.len();
    let delay = delivery.started.elapsed().as_secs_f64();
    let queue_id = delivery.queue_id;
    let mut log = vec![
        Event::MessageId {
            queue_id: queue_id.clone(),
            message_id,
        },
        Event::Queued {
            queue_id: queue_id.clone(),
            from: delivery.from,
            size,
            nrcpt,
        },
    ];
    log.extend(kept.into_iter().map(|to| Event::Delivered {
        queue_id: queue_id.clone(),
        to,
        delay,
    }));
    log.extend(dropped.into_iter().map(|to| Event::Discarded {
        queue_id: queue_id.clone(),
        to,
        delay,
    }));
    log.push(Event::Removed {
        queue_id: queue_id.clone(),
    });
    Outcome::Accepted { queue_id, log }
}

/// `Return-Path`, `X-Original-To`, `Delivered-To` and `Received`, as Postfix's virtual
/// delivery agent writes them before the message (`to` is not empty).
pub fn trace_headers(
    host: &str,
    trace: &Trace,
    from: &str,
    to: &[String],
    queue_id: &str,
    now: SystemTime,
) -> String {
    let date = time::OffsetDateTime::from(now)
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    format!(
        "Return-Path: <{from}>\r\nX-Original-To: {}\r\nDelivered-To: {}\r\nReceived: from {} ({} [{}])\r\n\tby {host} (appliance) with {} id {queue_id}\r\n\tfor <{}>; {date}\r\n",
        to.join(", "),
        to[0],
        trace.helo.as_deref().unwrap_or("unknown"),
        "unknown",
        trace.peer,
        trace.proto,
        to[0],
    )
}

/// The message's first `Message-ID`, without angle brackets (empty when it has none), for
/// the log.
pub fn message_id(content: &[u8]) -> String {
    MessageParser::default()
        .parse_headers(content)
        .and_then(|message| {
            message
                .header_values(HeaderName::MessageId)
                .next()
                .and_then(|value| value.as_text().map(str::to_owned))
        })
        .unwrap_or_default()
}

/// A new queue id: 11 upper-case hex digits, as Postfix's short ids.
pub fn new_queue_id() -> String {
    let bytes = crate::fsutil::random_bytes::<6>().unwrap_or_else(|_| {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
            .to_be_bytes();
        let mut b = [0u8; 6];
        b.copy_from_slice(&nanos[10..16]);
        b
    });
    let mut id = hex::encode_upper(bytes);
    id.truncate(11);
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use crate::inbound::{MailLog, Maildir};

    fn config(dir: &std::path::Path, discard: bool) -> InboundConfig {
        let maildir = Maildir::new(dir.join("mail"));
        maildir.create_dirs().unwrap();
        InboundConfig {
            hostname: "host.test".into(),
            max_message_size: 1000,
            timeout: Duration::from_secs(5),
            tls: None,
            discard_to_noreply: discard,
            enabled: true,
            maildir,
            log: Arc::new(MailLog::new(dir.join("mail.log"), "host.test")),
        }
    }

    fn delivery(recipients: &[(&str, Domain)], content: &[u8]) -> Delivery {
        Delivery {
            queue_id: "51DC9163323".into(),
            from: "bob@example.com".into(),
            recipients: recipients
                .iter()
                .map(|(to, d)| ((*to).to_owned(), *d))
                .collect(),
            started: Instant::now(),
            content: content.to_vec(),
            trace: Trace {
                helo: Some("client.test".into()),
                peer: "127.0.0.1".parse().unwrap(),
                proto: "ESMTPS",
            },
        }
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "appliance-delivery-{name}-{}-{}",
            std::process::id(),
            new_queue_id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn message_ids_are_read_from_the_header_section_only() {
        let m = b"Subject: hi\r\nMessage-ID:\r\n <a@b>\r\nX: y\r\n\r\nMessage-ID: <no@no>\r\n";
        assert_eq!(message_id(m), "a@b");
        assert_eq!(message_id(b"Message-ID: <x@y>\nTo: z\n\nbody\n"), "x@y");
        assert_eq!(
            message_id(b"Message-ID: <1@a>\r\nMessage-ID: <2@a>\r\n\r\n"),
            "1@a"
        );
        assert_eq!(message_id(b"\r\nMessage-ID: <x@y>\r\n"), "");
        assert_eq!(message_id(b"Subject: none\r\n\r\n"), "");
        assert_eq!(message_id(b""), "");
    }

    #[test]
    fn trace_headers_are_postfixs() {
        let trace = Trace {
            helo: None,
            peer: "192.0.2.7".parse().unwrap(),
            proto: "ESMTP",
        };
        let to = [
            "a@reply.host.test".to_owned(),
            "b@reply.host.test".to_owned(),
        ];
        let at = UNIX_EPOCH + Duration::from_secs(1_414_630_038);
        assert_eq!(
            trace_headers("host.test", &trace, "bob@example.com", &to, "ABC", at),
            "Return-Path: <bob@example.com>\r\n\
             X-Original-To: a@reply.host.test, b@reply.host.test\r\n\
             Delivered-To: a@reply.host.test\r\n\
             Received: from unknown (unknown [192.0.2.7])\r\n\
             \tby host.test (appliance) with ESMTP id ABC\r\n\
             \tfor <a@reply.host.test>; Thu, 30 Oct 2014 00:47:18 +0000\r\n"
        );
    }

    #[tokio::test]
    async fn a_delivery_lands_in_new_behind_the_trace_headers() {
        let dir = temp("kept");
        let config = config(&dir, true);
        let d = delivery(
            &[
                ("reply+t@reply.host.test", Domain::Reply),
                ("subscribed@noreply.host.test", Domain::NoReply),
            ],
            b"Message-ID: <m1@example.com>\r\n\r\nhello\r\n",
        );
        let Outcome::Accepted { queue_id, log } = deliver(&config, d).await else {
            panic!("not delivered");
        };
        assert_eq!(queue_id, "51DC9163323");
        let files: Vec<_> = std::fs::read_dir(config.maildir.new_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1);
        let text = String::from_utf8(std::fs::read(&files[0]).unwrap()).unwrap();
        assert!(text.starts_with(
            "Return-Path: <bob@example.com>\r\nX-Original-To: reply+t@reply.host.test\r\n"
        ));
        assert!(text.contains("\tby host.test (appliance) with ESMTPS id 51DC9163323\r\n"));
        assert!(text.ends_with("\r\nMessage-ID: <m1@example.com>\r\n\r\nhello\r\n"));
        let lines: Vec<String> = log.iter().map(ToString::to_string).collect();
        assert_eq!(lines[0], "51DC9163323: message-id=<m1@example.com>");
        assert_eq!(
            lines[1],
            "51DC9163323: from=<bob@example.com>, size=39, nrcpt=2 (queue active)"
        );
        assert!(lines[2].starts_with("51DC9163323: to=<reply+t@reply.host.test>, relay=virtual,"));
        assert!(lines[3].ends_with("status=sent (discarded)"));
        assert_eq!(lines[4], "51DC9163323: removed");
        assert_eq!(lines.len(), 5);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn discarded_mail_writes_nothing_and_a_broken_maildir_is_a_warning() {
        let dir = temp("discard");
        let config = config(&dir, true);
        let only_noreply = delivery(&[("x@noreply.host.test", Domain::NoReply)], b"hi\r\n");
        let Outcome::Accepted { log, .. } = deliver(&config, only_noreply).await else {
            panic!("not accepted");
        };
        assert_eq!(log.len(), 4);
        assert_eq!(
            std::fs::read_dir(config.maildir.new_dir()).unwrap().count(),
            0
        );
        std::fs::remove_dir_all(config.maildir.root()).unwrap();
        let d = delivery(&[("r@reply.host.test", Domain::Reply)], b"hi\r\n");
        let outcome = deliver(&config, d).await;
        let Outcome::NotWritten { warning } = outcome else {
            panic!("written: {outcome:?}");
        };
        assert!(
            warning
                .to_string()
                .starts_with("51DC9163323: warning: cannot deliver to maildir: ")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn queue_ids() {
        let id = new_queue_id();
        assert_eq!(id.len(), 11);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
        );
    }
}
