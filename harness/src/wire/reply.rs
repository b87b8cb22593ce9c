//! Reply lines from a server, for the harness's client role and the recording proxy: each line
//! with its code and whether it ends its reply (`250 ` after `250-`). Lines are bounded: a line
//! longer than [`MAX_REPLY_LINE`] comes out in pieces of that size, so a server that never
//! ends a line cannot fill memory.

use memchr::memchr;

/// The longest piece of a reply line handed out at once. RFC 5321 4.5.3.1.5 allows 512
/// octets; real servers write longer lines, so this is generous.
pub const MAX_REPLY_LINE: usize = 64 * 1024;

/// One reply line (or a piece of an over-long one), as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyLine {
    /// The octets, with the line ending if this piece has it.
    pub bytes: Vec<u8>,
    /// The reply code, when the line starts with three digits.
    pub code: Option<u16>,
    /// This line ends its reply: `code SP text` or `code` alone (not `code-text`), and it is
    /// a whole line (not the first pieces of an over-long one).
    pub last: bool,
}

/// Cuts reply lines out of the bytes it is fed, byte-fed and resumable.
#[derive(Clone, Debug, Default)]
pub struct ReplyLineDecoder {
    partial: Vec<u8>,
    /// The current line was too long and its first piece has been handed out: its code and
    /// whether it is the last line of its reply.
    continued: Option<(Option<u16>, bool)>,
}

impl ReplyLineDecoder {
    /// Feeds `input`; returns how many octets were used and the line (or piece) they
    /// completed, if any. Octets after it are not used.
    pub fn feed(&mut self, input: &[u8]) -> (usize, Option<ReplyLine>) {
        let room = MAX_REPLY_LINE - self.partial.len();
        let window = &input[..input.len().min(room)];
        match memchr(b'\n', window) {
            Some(p) => {
                self.partial.extend_from_slice(&window[..=p]);
                (p + 1, Some(self.cut(true)))
            }
            None => {
                self.partial.extend_from_slice(window);
                if self.partial.len() < MAX_REPLY_LINE {
                    return (window.len(), None);
                }
                (window.len(), Some(self.cut(false)))
            }
        }
    }

    /// What is left of an unfinished line when the stream ends.
    pub fn finish(&mut self) -> Option<ReplyLine> {
        (!self.partial.is_empty()).then(|| self.cut(true))
    }

    /// Hands out what is buffered: a whole line (or the end of a long one) when `ends_line`.
    fn cut(&mut self, ends_line: bool) -> ReplyLine {
        let bytes = std::mem::take(&mut self.partial);
        let (code, ends_reply) = match self.continued {
            Some(first) => first,
            None => {
                let code = bytes
                    .get(..3)
                    .filter(|d| d.iter().all(u8::is_ascii_digit))
                    .and_then(|d| std::str::from_utf8(d).ok())
                    .and_then(|d| d.parse().ok());
                (code, code.is_some() && bytes.get(3) != Some(&b'-'))
            }
        };
        let first_piece = self.continued.is_none();
        self.continued = if ends_line {
            None
        } else {
            Some((code, ends_reply))
        };
        ReplyLine {
            bytes,
            code: if first_piece { code } else { None },
            last: ends_line && ends_reply,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::splits::every_split;

    #[test]
    fn reply_lines_come_out_whole_with_code_and_end_however_split() {
        let input = b"250-mx.example\r\n250-PIPELINING\r\n250 \r\n354 go\r\n";
        for chunks in every_split(input) {
            let mut d = ReplyLineDecoder::default();
            let mut lines = Vec::new();
            for chunk in &chunks {
                let mut rest = *chunk;
                while !rest.is_empty() {
                    let (used, line) = d.feed(rest);
                    rest = &rest[used..];
                    lines.extend(line);
                }
            }
            let got: Vec<(&[u8], Option<u16>, bool)> = lines
                .iter()
                .map(|l| (l.bytes.as_slice(), l.code, l.last))
                .collect();
            assert_eq!(
                got,
                [
                    (&b"250-mx.example\r\n"[..], Some(250), false),
                    (b"250-PIPELINING\r\n", Some(250), false),
                    // Postfix's smtp-sink ends its EHLO list with "250 " (a trailing space).
                    (b"250 \r\n", Some(250), true),
                    (b"354 go\r\n", Some(354), true),
                ],
                "{chunks:?}"
            );
        }
    }

    #[test]
    fn an_endless_line_comes_out_in_bounded_pieces() {
        let mut d = ReplyLineDecoder::default();
        let mut input = b"250 ".to_vec();
        input.resize(MAX_REPLY_LINE * 2 + 10, b'x');
        input.extend_from_slice(b"\r\n");
        let mut pieces = Vec::new();
        let mut rest = input.as_slice();
        while !rest.is_empty() {
            let (used, line) = d.feed(rest);
            rest = &rest[used..];
            pieces.extend(line);
        }
        assert_eq!(pieces.len(), 3);
        assert!(pieces.iter().all(|p| p.bytes.len() <= MAX_REPLY_LINE));
        assert_eq!(pieces[0].code, Some(250));
        // Only the piece that ends the line ends the reply.
        assert!(!pieces[0].last && !pieces[1].last && pieces[2].last);
        assert_eq!(
            pieces.iter().map(|p| p.bytes.len()).sum::<usize>(),
            input.len()
        );
        assert_eq!(d.finish(), None);
    }
}
