//! SMTP replies as they go on the wire: one or more `code-text` / `code text` lines.
//!
//! smtp-proto's reply writers cannot reproduce a vendor's exact bytes (they add enhanced codes and
//! fix the EHLO banner), so the fake server writes every reply from a [`Reply`] kept as verbatim
//! lines. [`Reply::from_lines`] checks that lines form one well-formed reply.

use std::fmt;

/// One SMTP reply: a three-digit code and one or more lines, kept byte for byte (without CRLF).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Reply {
    lines: Vec<String>,
}

/// Why a group of lines is not a well-formed SMTP reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// A reply needs at least one line.
    #[error("a reply needs at least one line")]
    Empty,
    /// A line does not start with a three-digit code from 200 to 599.
    #[error("expected a reply line starting with a 3-digit code (2xx to 5xx), found {0:?}")]
    BadCode(String),
    /// The fourth octet must be `-` (more lines follow), a space, or nothing.
    #[error("expected '-', ' ' or the end of the line after the code, found {0:?}")]
    BadSeparator(String),
    /// All lines of one reply must carry the same code.
    #[error("every line of a multi-line reply must carry the same code: {first} then {found}")]
    MixedCodes {
        /// The code of the first line.
        first: u16,
        /// The different code found later.
        found: u16,
    },
    /// A line other than the last says `code-` (or the last one does).
    #[error("only the last line of a reply may use 'code text'; the others must use 'code-text'")]
    BadContinuation,
    /// A line holds CR or LF.
    #[error("a reply line cannot contain CR or LF")]
    LineBreak,
}

impl Reply {
    /// A one-line reply `code text`.
    ///
    /// # Panics
    /// Panics if `code` is not within 200..=599 or `text` holds CR or LF (a programming error).
    pub fn new(code: u16, text: &str) -> Self {
        Self::multi(code, [text])
    }

    /// A reply with several lines of text, all with `code`: `code-a`, `code-b`, `code c`.
    ///
    /// # Panics
    /// Panics if `code` is not within 200..=599, no line is given, or a text holds CR or LF.
    pub fn multi<I, S>(code: u16, texts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        assert!(
            (200..=599).contains(&code),
            "reply code {code} out of range"
        );
        let texts: Vec<String> = texts.into_iter().map(|t| t.as_ref().to_owned()).collect();
        assert!(!texts.is_empty(), "a reply needs at least one line");
        let last = texts.len() - 1;
        let lines = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                assert!(!t.contains(['\r', '\n']), "reply text holds a line break");
                let sep = if i == last { ' ' } else { '-' };
                if t.is_empty() && i == last {
                    code.to_string()
                } else {
                    format!("{code}{sep}{t}")
                }
            })
            .collect();
        Reply { lines }
    }

    /// Takes verbatim lines (`250-a`, `250 b`) and checks they form exactly one reply.
    ///
    /// # Errors
    /// A [`ReplyError`] saying what is wrong with the lines.
    pub fn from_lines<I, S>(lines: I) -> Result<Self, ReplyError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let lines: Vec<String> = lines.into_iter().map(Into::into).collect();
        let first = match lines.first() {
            Some(l) => line_code(l)?,
            None => return Err(ReplyError::Empty),
        };
        let last = lines.len() - 1;
        for (i, line) in lines.iter().enumerate() {
            let code = line_code(line)?;
            if code != first {
                return Err(ReplyError::MixedCodes { first, found: code });
            }
            if line_continues(line)? != (i != last) {
                return Err(ReplyError::BadContinuation);
            }
        }
        Ok(Reply { lines })
    }

    /// Splits verbatim lines into consecutive replies (a line `code text` ends each reply).
    ///
    /// # Errors
    /// The first [`ReplyError`] met; lines left over after the last complete reply are
    /// [`ReplyError::BadContinuation`].
    pub fn split_lines(lines: &[String]) -> Result<Vec<Reply>, ReplyError> {
        let mut replies = Vec::new();
        let mut start = 0;
        for (i, line) in lines.iter().enumerate() {
            line_code(line)?;
            if !line_continues(line)? {
                replies.push(Reply::from_lines(lines[start..=i].iter().cloned())?);
                start = i + 1;
            }
        }
        if start != lines.len() {
            return Err(ReplyError::BadContinuation);
        }
        Ok(replies)
    }

    /// The three-digit reply code.
    pub fn code(&self) -> u16 {
        // Checked on construction.
        self.lines[0][..3].parse().unwrap_or(0)
    }

    /// The verbatim lines, without CRLF.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The text of each line, after `code-` / `code `.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(|l| l.get(4..).unwrap_or(""))
    }

    /// `true` for 2xx and 3xx replies.
    pub fn is_positive(&self) -> bool {
        self.code() < 400
    }

    /// Appends the reply's wire form (each line plus CRLF) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for line in &self.lines {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The reply's wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines.join("\n"))
    }
}

/// Reads the code of one reply line, with the checks every line must pass.
fn line_code(line: &str) -> Result<u16, ReplyError> {
    if line.contains(['\r', '\n']) {
        return Err(ReplyError::LineBreak);
    }
    let digits = line
        .as_bytes()
        .get(..3)
        .filter(|d| d.iter().all(u8::is_ascii_digit) && (b'2'..=b'5').contains(&d[0]));
    match digits {
        Some(d) => Ok(std::str::from_utf8(d).unwrap_or("0").parse().unwrap_or(0)),
        None => Err(ReplyError::BadCode(line.to_owned())),
    }
}

/// `true` when the line says more lines follow (`code-`).
fn line_continues(line: &str) -> Result<bool, ReplyError> {
    match line.as_bytes().get(3) {
        None | Some(b' ') => Ok(false),
        Some(b'-') => Ok(true),
        Some(_) => Err(ReplyError::BadSeparator(line.to_owned())),
    }
}

/// `true` if `line` (without CRLF) could be one line of a well-formed reply.
pub fn is_reply_line(line: &str) -> bool {
    line_code(line).is_ok() && line_continues(line).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_reply_uses_dash_then_space() {
        let r = Reply::multi(
            535,
            [
                "5.7.1 Username and Password not accepted. Learn more at",
                "5.7.1 nt3sm2942435pbc.14",
            ],
        );
        assert_eq!(
            r.to_bytes(),
            b"535-5.7.1 Username and Password not accepted. Learn more at\r\n535 5.7.1 nt3sm2942435pbc.14\r\n"
        );
        assert_eq!(r.code(), 535);
    }

    #[test]
    fn from_lines_rejects_malformed_groups() {
        for (lines, expected) in [
            (vec![], ReplyError::Empty),
            (vec!["25O ok"], ReplyError::BadCode("25O ok".into())),
            (vec!["250x"], ReplyError::BadSeparator("250x".into())),
            (
                vec!["250-a", "251 b"],
                ReplyError::MixedCodes {
                    first: 250,
                    found: 251,
                },
            ),
            (vec!["250 a", "250 b"], ReplyError::BadContinuation),
            (vec!["250-a"], ReplyError::BadContinuation),
            (vec!["600 a"], ReplyError::BadCode("600 a".into())),
        ] {
            assert_eq!(
                Reply::from_lines(lines.clone()).unwrap_err(),
                expected,
                "{lines:?}"
            );
        }
        assert_eq!(Reply::from_lines(["250"]).unwrap().code(), 250);
    }

    #[test]
    fn split_lines_finds_each_reply() {
        let lines: Vec<String> = ["220 hi", "250-a", "250 b"].map(String::from).to_vec();
        let replies = Reply::split_lines(&lines).unwrap();
        assert_eq!(replies.len(), 2);
        assert_eq!(replies[1].lines(), &["250-a", "250 b"]);
        let open: Vec<String> = ["250-a"].map(String::from).to_vec();
        assert_eq!(
            Reply::split_lines(&open).unwrap_err(),
            ReplyError::BadContinuation
        );
    }
}
