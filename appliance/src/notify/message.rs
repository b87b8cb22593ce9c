//! The notification message itself (built with mail-builder):
//!
//! ```text
//! From: Alice Liddell <noreply@HOSTNAME>
//! To: "octo/widgets" <noreply@HOSTNAME>
//! Cc: Subscribed <subscribed@noreply.HOSTNAME>
//! Reply-To: <reply+TOKEN@reply.HOSTNAME>
//! Subject: Re: [octo/widgets] Widgets fall over (#42)
//! Date: …
//! Message-ID: <octo/widgets/issue/42/c123@HOSTNAME>
//! In-Reply-To: <octo/widgets/issue/42@HOSTNAME>
//! References: <octo/widgets/issue/42@HOSTNAME>
//! List-ID: "octo/widgets" <widgets.octo.HOSTNAME>
//! List-Archive: <https://HOSTNAME/octo/widgets>
//! Precedence: list
//! Auto-Submitted: auto-generated
//! X-Auto-Response-Suppress: All
//! X-Appliance-Reason: subscribed
//! MIME-Version: 1.0
//! Content-Type: multipart/alternative; …   (text/plain, then text/html)
//! ```
//!
//! `Auto-Submitted` (RFC 3834) and `X-Auto-Response-Suppress` keep vacation replies from
//! going to the Reply-To address, where they would become comments.

use std::time::{SystemTime, UNIX_EPOCH};

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;

use super::token::{ReplyKey, TokenClaims, issue_token, reply_address};
use super::{Notification, Thread};
use crate::settings::{EmailSettings, SupportLink};
use crate::smtp::Envelope;

/// Builds notification messages for one appliance: its host name, its no-reply address and
/// support link, and the reply key.
#[derive(Clone, Debug)]
pub struct Composer {
    hostname: String,
    noreply: String,
    support: Option<SupportLink>,
    key: ReplyKey,
}

/// A notification ready to be queued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Composed {
    /// `MAIL FROM` the no-reply address, `RCPT TO` the recipient.
    pub envelope: Envelope,
    /// The message, CRLF line endings.
    pub message: Vec<u8>,
    /// Its Message-ID, without angle brackets.
    pub message_id: String,
    /// The Reply-To address, `reply+TOKEN@reply.HOSTNAME`.
    pub reply_to: String,
    /// What the token says.
    pub claims: TokenClaims,
}

impl Composer {
    /// A composer with the appliance's host name and email settings.
    pub fn new(hostname: &str, email: &EmailSettings, key: ReplyKey) -> Self {
        Composer {
            hostname: hostname.to_owned(),
            noreply: email.noreply_address.clone(),
            support: email.support.clone(),
            key,
        }
    }

    /// The root Message-ID of a thread (without angle brackets): `owner/repo/issue/42@HOSTNAME`.
    pub fn thread_message_id(&self, thread: &Thread) -> String {
        format!("{}@{}", thread.path(), self.hostname)
    }

    /// The Message-ID of a comment's notification: `owner/repo/issue/42/c123@HOSTNAME`.
    pub fn comment_message_id(&self, thread: &Thread, comment_id: u64) -> String {
        format!("{}/c{comment_id}@{}", thread.path(), self.hostname)
    }

    /// The comment's web address.
    pub fn comment_url(&self, thread: &Thread, comment_id: u64) -> String {
        let anchor = match thread.kind() {
            super::ThreadKind::Commit => "commitcomment",
            _ => "issuecomment",
        };
        format!(
            "https://{}/{}#{anchor}-{comment_id}",
            self.hostname,
            thread.web_path()
        )
    }

    /// Builds the message for `notification`, signing a reply token for `user_id` and
    /// `thread_id` (ids from the [`super::ReplyDirectory`]) issued at `now`.
    ///
    /// # Errors
    /// Only if mail-builder cannot write the message (it writes to memory).
    pub fn compose(
        &self,
        n: &Notification,
        user_id: u32,
        thread_id: u32,
        now: SystemTime,
    ) -> std::io::Result<Composed> {
        let claims = TokenClaims {
            user_id,
            thread_id,
            kind: n.thread.kind(),
            issued_at: now,
        };
        let token = issue_token(&self.key, &claims);
        let reply_to = reply_address(&token, &self.hostname);
        let thread = &n.thread;
        let repo = thread.repo();
        let message_id = self.comment_message_id(thread, n.comment_id);
        let root = self.thread_message_id(thread);
        let url = self.comment_url(thread, n.comment_id);
        let title = one_line(&n.title);
        let title = if title.is_empty() {
            "(no title)".to_owned()
        } else {
            title
        };
        let subject = format!("Re: [{repo}] {title} ({})", thread.short_ref());
        let author = one_line(&n.author);
        let author = if author.is_empty() {
            "Appliance".to_owned()
        } else {
            author
        };
        let body = normalize_text(&n.body);
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let (owner, name) = repo.split_once('/').unwrap_or((repo, repo));
        let list_id = format!(
            "\"{repo}\" <{}.{}.{}>",
            list_label(name),
            list_label(owner),
            self.hostname
        );
        let cc = format!("{}@noreply.{}", n.reason.local_part(), self.hostname);
        let message = MessageBuilder::new()
            .from(Address::new_address(Some(author), self.noreply.clone()))
            .to(Address::new_address(
                Some(repo.to_owned()),
                self.noreply.clone(),
            ))
            .cc(Address::new_address(Some(n.reason.display_name()), cc))
            .reply_to(reply_to.clone())
            .subject(subject)
            .date(Date::new(i64::try_from(secs).unwrap_or(i64::MAX)))
            .message_id(MessageId::new(message_id.clone()))
            .in_reply_to(MessageId::new(root.clone()))
            .references(MessageId::new(root))
            .header("List-ID", Raw::new(list_id))
            .header(
                "List-Archive",
                Raw::new(format!("<https://{}/{repo}>", self.hostname)),
            )
            .header("Precedence", Raw::new("list"))
            .header("Auto-Submitted", Raw::new("auto-generated"))
            .header("X-Auto-Response-Suppress", Raw::new("All"))
            .header("X-Appliance-Reason", Raw::new(n.reason.local_part()))
            .text_body(self.text(n, &body, &url))
            .html_body(self.html(n, &body, &url))
            .write_to_vec()?;
        let envelope = Envelope::new(self.noreply.clone(), [n.recipient.address()])
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        Ok(Composed {
            envelope,
            message,
            message_id,
            reply_to,
            claims,
        })
    }

    fn support_line(&self) -> Option<String> {
        self.support.as_ref().map(|s| match s {
            SupportLink::Email(a) => format!("Need help? Write to {a}."),
            SupportLink::Url(u) => format!("Need help? {u}"),
        })
    }

    fn text(&self, n: &Notification, body: &str, url: &str) -> String {
        let mut out = String::new();
        out.push_str(body.trim_end());
        out.push_str("\n\n\u{2014}\n");
        out.push_str(&format!(
            "Reply to this email directly or view it on {}:\n{url}\n",
            self.hostname
        ));
        out.push_str(&format!(
            "You are receiving this because {}.\n",
            n.reason.explanation()
        ));
        if let Some(line) = self.support_line() {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    fn html(&self, n: &Notification, body: &str, url: &str) -> String {
        let mut out = String::from("<!DOCTYPE html>\n<html><body>\n");
        for paragraph in body
            .trim_end()
            .split("\n\n")
            .filter(|p| !p.trim().is_empty())
        {
            let lines: Vec<String> = paragraph.lines().map(escape_html).collect();
            out.push_str(&format!("<p>{}</p>\n", lines.join("<br>\n")));
        }
        out.push_str(&format!(
            "<p style=\"font-size:small;color:#666\">\u{2014}<br>\nReply to this email directly or \
             <a href=\"{}\">view it on {}</a>.<br>\nYou are receiving this because {}.",
            escape_html(url),
            escape_html(&self.hostname),
            escape_html(n.reason.explanation())
        ));
        match &self.support {
            Some(SupportLink::Email(a)) => out.push_str(&format!(
                "<br>\nNeed help? Write to <a href=\"mailto:{0}\">{0}</a>.",
                escape_html(a)
            )),
            Some(SupportLink::Url(u)) => out.push_str(&format!(
                "<br>\nNeed help? <a href=\"{0}\">{0}</a>",
                escape_html(u)
            )),
            None => {}
        }
        out.push_str("</p>\n</body></html>\n");
        out
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A header value on one line: control characters (line breaks included) become spaces, runs
/// of white space one space.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Body text with `\n` line ends and no control characters other than tabs.
fn normalize_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect()
}

/// A label of the List-ID: letters, digits and hyphens (anything else becomes a hyphen).
fn list_label(name: &str) -> String {
    let label: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let label = label.trim_matches('-');
    if label.is_empty() {
        "x".to_owned()
    } else {
        label.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_cleaning() {
        assert_eq!(
            escape_html("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(one_line(" a\r\nBcc: x@y\t b "), "a Bcc: x@y b");
        assert_eq!(normalize_text("a\r\nb\rc\0d"), "a\nb\ncd");
        assert_eq!(list_label(".github"), "github");
        assert_eq!(list_label("my_repo.js"), "my-repo-js");
        assert_eq!(list_label("..."), "x");
    }
}
