//! SMTP replies: a three-digit code and every line the server sent, kept whole (multi-line
//! replies keep each line; the admin sees them all).

use serde::Serialize;

/// One reply from the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reply {
    /// The reply code, 200-599.
    pub code: u16,
    /// Every line as received, without its line ending (`535-5.7.1 Username and …`).
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx: the command succeeded.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 4xx: a temporary failure; the same command may succeed later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx: a permanent failure.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The text of each line, after the code and its separator.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(|l| l.get(4..).unwrap_or(""))
    }

    /// The text of all lines, joined with spaces (for one-line summaries).
    pub fn text(&self) -> String {
        self.texts().collect::<Vec<_>>().join(" ")
    }
}

/// A line that is not part of a well-formed reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the server sent a line that is not a valid SMTP reply: {line:?}")]
pub struct MalformedReply {
    /// The offending line, without its line ending.
    pub line: String,
}

/// The most lines one reply may have before the server is considered broken.
const MAX_LINES: usize = 1000;

/// Collects the lines of one (possibly multi-line) reply.
#[derive(Debug, Default)]
pub(crate) struct ReplyParser {
    code: Option<u16>,
    lines: Vec<String>,
}

impl ReplyParser {
    /// Takes one line (with or without its line ending). Returns the reply once its last line
    /// (`250 …`, not `250-…`) has arrived.
    pub(crate) fn push(&mut self, raw: &[u8]) -> Result<Option<Reply>, MalformedReply> {
        let line = String::from_utf8_lossy(raw)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        let malformed = || MalformedReply { line: line.clone() };
        let bytes = line.as_bytes();
        if bytes.len() < 3 || !bytes[..3].iter().all(u8::is_ascii_digit) {
            return Err(malformed());
        }
        let code: u16 = line[..3].parse().map_err(|_| malformed())?;
        if !(200..600).contains(&code) || self.code.is_some_and(|c| c != code) {
            return Err(malformed());
        }
        let last = match bytes.get(3) {
            None | Some(b' ') => true,
            Some(b'-') => false,
            Some(_) => return Err(malformed()),
        };
        if self.lines.len() >= MAX_LINES {
            return Err(malformed());
        }
        self.code = Some(code);
        self.lines.push(line);
        if !last {
            return Ok(None);
        }
        Ok(Some(Reply {
            code,
            lines: std::mem::take(&mut self.lines),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_replies_keep_every_line() {
        let mut p = ReplyParser::default();
        assert_eq!(
            p.push(b"535-5.7.1 Username and Password not accepted. Learn more at\r\n"),
            Ok(None)
        );
        let reply = p
            .push(b"535 5.7.1 nt3sm2942435pbc.14\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(reply.code, 535);
        assert_eq!(
            reply.lines,
            [
                "535-5.7.1 Username and Password not accepted. Learn more at",
                "535 5.7.1 nt3sm2942435pbc.14"
            ]
        );
        assert!(reply.is_permanent() && !reply.is_transient());
        assert_eq!(reply.texts().nth(1), Some("5.7.1 nt3sm2942435pbc.14"));
    }

    #[test]
    fn bare_codes_and_bad_lines() {
        let mut p = ReplyParser::default();
        assert_eq!(
            p.push(b"250\r\n").unwrap().unwrap().texts().next(),
            Some("")
        );
        for bad in [
            &b"25\r\n"[..],
            b"abc ok\r\n",
            b"250x\r\n",
            b"999 no\r\n",
            b"hello",
        ] {
            assert!(ReplyParser::default().push(bad).is_err(), "{bad:?}");
        }
        let mut p = ReplyParser::default();
        p.push(b"250-a\r\n").unwrap();
        assert!(
            p.push(b"251 b\r\n").is_err(),
            "a code change inside a reply"
        );
    }
}
