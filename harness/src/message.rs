//! Messages the fake server accepted: envelope and raw content, for assertions.

/// One message accepted by the fake server. It is captured when the server decides on its
/// positive final reply (the `250` after the dot, or after `BDAT … LAST`), just before that
/// reply is written: a client that sees the 250 can rely on the capture being there.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReceivedMessage {
    /// The connection it came on (counted from 1 on its server).
    pub session: u64,
    /// The name the client gave in EHLO/HELO.
    pub helo: Option<String>,
    /// The reverse path (`MAIL FROM:<…>`), without angle brackets.
    pub mail_from: String,
    /// The forward paths (`RCPT TO:<…>`), without angle brackets, in order.
    pub rcpt_to: Vec<String>,
    /// The content as received, dot-unstuffed, without the terminating `.` line.
    #[serde(skip)]
    pub data: Vec<u8>,
    /// Whether it came inside TLS.
    pub tls: bool,
    /// The user name that authenticated, if any.
    pub authenticated_as: Option<String>,
}

impl ReceivedMessage {
    /// The content as text (invalid UTF-8 replaced).
    pub fn data_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.data)
    }

    /// The first header with this name (case ignored), unfolded, without its name. Encoded
    /// words (RFC 2047) are returned as they are; parse `data` with a MIME crate for more.
    pub fn header(&self, name: &str) -> Option<String> {
        let text = self.data_str();
        let mut lines = text.split("\r\n").flat_map(|l| l.split('\n')).peekable();
        while let Some(line) = lines.next() {
            if line.is_empty() {
                return None;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if key.eq_ignore_ascii_case(name) {
                let mut value = value.trim().to_owned();
                while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
                    value.push(' ');
                    value.push_str(next.trim());
                    lines.next();
                }
                return Some(value);
            }
        }
        None
    }

    /// The `Subject` header.
    pub fn subject(&self) -> Option<String> {
        self.header("Subject")
    }

    /// The body: everything after the first empty line.
    pub fn body(&self) -> String {
        let text = self.data_str();
        match text
            .split_once("\r\n\r\n")
            .or_else(|| text.split_once("\n\n"))
        {
            Some((_, body)) => body.to_owned(),
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_and_unfolded() {
        let m = ReceivedMessage {
            session: 1,
            helo: None,
            mail_from: "a@x".into(),
            rcpt_to: vec!["b@y".into()],
            data: b"From: a@x\r\nSubject: hello\r\n  world\r\n\r\nSubject: not a header\r\n"
                .to_vec(),
            tls: false,
            authenticated_as: None,
        };
        assert_eq!(m.subject().as_deref(), Some("hello world"));
        assert_eq!(m.header("from").as_deref(), Some("a@x"));
        assert_eq!(m.header("To"), None);
        assert_eq!(m.body(), "Subject: not a header\r\n");
    }
}
