//! Reading a reply with mail-parser: its Message-ID, sender, recipients (where the
//! `reply+TOKEN` address is), whether it is an automatic message (auto-reply or bounce), and
//! its text (text/plain, or the HTML part converted to text).

use mail_parser::{MessageParser, MimeHeaders};

/// What the processor needs from a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedReply {
    /// The Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// The first address of `From`.
    pub from: Option<String>,
    /// Every recipient address: `To`, `Cc`, `Delivered-To`, `X-Original-To`.
    pub recipients: Vec<String>,
    /// Why it is an automatic message, if it is one.
    pub automatic: Option<Automatic>,
    /// The body as text (HTML converted), before quotes are stripped.
    pub text: Option<String>,
    /// The body was HTML only.
    pub html_only: bool,
}

/// An automatic message, which must not become a comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Automatic {
    /// An auto-reply (vacation, out of office); the header that says so.
    AutoReply(String),
    /// A bounce (delivery status notification); what shows it.
    Bounce(String),
}

impl std::fmt::Display for Automatic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Automatic::AutoReply(why) => write!(f, "an automatic reply ({why})"),
            Automatic::Bounce(why) => write!(f, "a bounce ({why})"),
        }
    }
}

/// Parses a message file; `None` when it is not a message (nothing parses, or no header).
pub fn parse(raw: &[u8]) -> Option<ParsedReply> {
    let message = MessageParser::default().parse(raw)?;
    if message.headers().is_empty() {
        return None;
    }
    let headers: Vec<(String, String)> = message
        .headers_raw()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut recipients = Vec::new();
    for list in message.all_to().chain(message.all_cc()) {
        for addr in list.iter() {
            if let Some(a) = addr.address() {
                recipients.push(a.to_owned());
            }
        }
    }
    for name in ["delivered-to", "x-original-to"] {
        for value in values(&headers, name) {
            for a in value.split(',') {
                let a = a.trim().trim_start_matches('<').trim_end_matches('>');
                if !a.is_empty() {
                    recipients.push(a.to_owned());
                }
            }
        }
    }
    let from = message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_owned);
    let automatic = automatic(&message, &headers, from.as_deref());
    let html_only = message.text_body_count() > 0
        && message
            .text_bodies()
            .all(|p| p.is_content_type("text", "html"));
    Some(ParsedReply {
        message_id: message.message_id().map(str::to_owned),
        from,
        recipients,
        automatic,
        text: if html_only {
            // Quoted mail in HTML is a <blockquote>: drop it before the conversion to text.
            message
                .body_html(0)
                .map(|h| mail_parser::decoders::html::html_to_text(&without_blockquotes(&h)))
        } else {
            message.body_text(0).map(|t| t.into_owned())
        },
        html_only,
    })
}

/// The HTML without its `<blockquote>…</blockquote>` sections (nested ones included).
fn without_blockquotes(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len());
    let (mut depth, mut i) = (0usize, 0usize);
    while i < html.len() {
        if lower[i..].starts_with("<blockquote") {
            depth += 1;
        } else if lower[i..].starts_with("</blockquote") {
            depth = depth.saturating_sub(1);
            // Skip to the end of the closing tag.
            i += lower[i..].find('>').map_or(lower.len() - i, |e| e + 1);
            continue;
        }
        let c = html[i..].chars().next().unwrap_or(' ');
        if depth == 0 {
            out.push(c);
        }
        i += c.len_utf8();
    }
    out
}

/// The raw values of header `name` (lower case), in order.
fn values<'h>(headers: &'h [(String, String)], name: &str) -> Vec<&'h str> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn automatic(
    message: &mail_parser::Message<'_>,
    headers: &[(String, String)],
    from: Option<&str>,
) -> Option<Automatic> {
    let header = |name: &str| values(headers, name);
    if let Some(ct) = message.root_part().content_type()
        && ct.ctype().eq_ignore_ascii_case("multipart")
        && ct
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    {
        return Some(Automatic::Bounce("Content-Type: multipart/report".into()));
    }
    for value in header("return-path") {
        let path = value
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim();
        if path.is_empty() {
            return Some(Automatic::Bounce("Return-Path: <>".into()));
        }
    }
    if let Some(from) = from {
        let local = from.split('@').next().unwrap_or_default();
        if local.eq_ignore_ascii_case("mailer-daemon") {
            return Some(Automatic::Bounce(format!("From: {from}")));
        }
    }
    for value in header("auto-submitted") {
        let word = value.split(';').next().unwrap_or_default().trim();
        if !word.eq_ignore_ascii_case("no") {
            return Some(Automatic::AutoReply(format!("Auto-Submitted: {value}")));
        }
    }
    for value in header("precedence") {
        let word = value.trim().to_ascii_lowercase();
        if matches!(word.as_str(), "bulk" | "auto_reply" | "junk" | "list") {
            return Some(Automatic::AutoReply(format!("Precedence: {value}")));
        }
    }
    for name in ["x-autoreply", "x-autorespond"] {
        if let Some(value) = header(name).into_iter().next() {
            return Some(Automatic::AutoReply(format!("{name}: {value}")));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_processor_needs() {
        let raw = b"Return-Path: <bob@example.com>\r\nDelivered-To: reply+t@reply.h.test\r\nFrom: Bob <Bob@Example.com>\r\nTo: Notifications <reply+t@reply.h.test>\r\nCc: a@b.test\r\nMessage-ID: <m1@example.com>\r\nSubject: Re: x\r\n\r\nHello\r\n";
        let p = parse(raw).unwrap();
        assert_eq!(p.message_id.as_deref(), Some("m1@example.com"));
        assert_eq!(p.from.as_deref(), Some("Bob@Example.com"));
        assert!(p.recipients.contains(&"reply+t@reply.h.test".to_owned()));
        assert!(p.recipients.contains(&"a@b.test".to_owned()));
        assert_eq!(p.automatic, None);
        assert_eq!(p.text.as_deref(), Some("Hello\r\n"));
        assert!(!p.html_only);
    }

    #[test]
    fn automatic_messages() {
        let auto = |h: &str| {
            parse(format!("From: a@b.test\r\n{h}\r\n\r\nx").as_bytes())
                .unwrap()
                .automatic
        };
        assert!(matches!(
            auto("Auto-Submitted: auto-replied"),
            Some(Automatic::AutoReply(_))
        ));
        assert_eq!(auto("Auto-Submitted: no"), None);
        assert!(matches!(
            auto("Precedence: bulk"),
            Some(Automatic::AutoReply(_))
        ));
        assert!(matches!(
            auto("X-Autoreply: yes"),
            Some(Automatic::AutoReply(_))
        ));
        assert!(matches!(
            auto("Return-Path: <>"),
            Some(Automatic::Bounce(_))
        ));
        assert!(matches!(
            auto("Content-Type: multipart/report; report-type=delivery-status; boundary=b"),
            Some(Automatic::Bounce(_))
        ));
        assert!(parse(b"").is_none());
    }

    #[test]
    fn html_quotes_in_blockquotes_are_dropped() {
        let raw = b"From: a@b.test\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Works <b>great</b> now.</p><BLOCKQUOTE><p>old</p><blockquote>older</blockquote></BLOCKQUOTE><p>Bye</p>";
        let p = parse(raw).expect("parses");
        let text = p.text.expect("text");
        assert!(
            text.contains("Works great now.") && text.contains("Bye"),
            "{text:?}"
        );
        assert!(!text.contains("old"), "{text:?}");
    }

    #[test]
    fn html_only_becomes_text() {
        let raw = b"From: a@b.test\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Looks <b>good</b></p><p>Second</p>";
        let p = parse(raw).unwrap();
        assert!(p.html_only);
        let text = p.text.unwrap();
        assert!(text.contains("Looks good"), "{text:?}");
        assert!(!text.contains('<'), "{text:?}");
    }
}
