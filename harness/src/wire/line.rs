//! Command lines and SASL responses, cut from the byte stream with their length limits: a
//! command line is at most 512 octets with its CRLF (RFC 5321 4.5.3.1.4); an `AUTH` line and
//! every SASL response may take 12288 (RFC 4954 section 4). A longer line is still read to its
//! end, so that the stream stays in step, but only its first 512 octets are kept.

use memchr::memchr;

/// RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its CRLF.
pub const MAX_COMMAND_LINE: usize = 512;
/// RFC 4954 section 4: AUTH lines and SASL responses may be up to 12288 octets.
pub const MAX_AUTH_LINE: usize = 12288;

/// What kind of line is awaited, which decides its length limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LineKind {
    /// A command: 512 octets, or 12288 when it is an `AUTH` command.
    #[default]
    Command,
    /// The answer to a `334` challenge: 12288 octets.
    SaslResponse,
}

/// One line as received, with its line ending (CRLF, or a bare LF).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The line, or its first [`MAX_COMMAND_LINE`] octets when it was too long.
    pub bytes: Vec<u8>,
    /// The line was longer than its limit.
    pub too_long: bool,
}

/// Cuts lines out of the bytes it is fed. Byte-fed and resumable: feed it whatever arrived,
/// in pieces of any size; it keeps an unfinished line (up to its limit) until the rest comes.
#[derive(Clone, Debug, Default)]
pub struct LineDecoder {
    kind: LineKind,
    partial: Vec<u8>,
    overflow: bool,
}

impl LineDecoder {
    /// A decoder for lines of `kind`.
    pub fn new(kind: LineKind) -> Self {
        LineDecoder {
            kind,
            ..Self::default()
        }
    }

    /// Changes what the next line is (a command, or the answer to a challenge).
    pub fn expect(&mut self, kind: LineKind) {
        self.kind = kind;
    }

    /// `true` when part of a line has been fed and its end has not.
    pub fn is_mid_line(&self) -> bool {
        !self.partial.is_empty() || self.overflow
    }

    /// Feeds `input`; returns how many octets were used and the line they completed, if any.
    /// Octets after the end of a line are not used: feed them again (they may belong to
    /// message content, a BDAT chunk or a TLS handshake).
    pub fn feed(&mut self, input: &[u8]) -> (usize, Option<Line>) {
        let end = memchr(b'\n', input);
        let used = end.map_or(input.len(), |p| p + 1);
        let piece = &input[..used];
        if !self.overflow {
            if self.partial.is_empty() && end.is_some() && piece.len() <= self.limit(piece) {
                // The common case: a whole line in one piece.
                return (
                    used,
                    Some(Line {
                        bytes: piece.to_vec(),
                        too_long: false,
                    }),
                );
            }
            self.partial.extend_from_slice(piece);
            if self.partial.len() > self.limit(&self.partial) {
                self.overflow = true;
                self.partial.truncate(MAX_COMMAND_LINE);
            }
        }
        if end.is_none() {
            return (used, None);
        }
        let line = Line {
            bytes: std::mem::take(&mut self.partial),
            too_long: std::mem::take(&mut self.overflow),
        };
        (used, Some(line))
    }

    fn limit(&self, line_start: &[u8]) -> usize {
        if self.kind == LineKind::SaslResponse || starts_with_auth(line_start) {
            MAX_AUTH_LINE
        } else {
            MAX_COMMAND_LINE
        }
    }
}

/// `true` if the line starts with `AUTH ` (any case).
fn starts_with_auth(line: &[u8]) -> bool {
    line.len() >= 5 && line[..5].eq_ignore_ascii_case(b"AUTH ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::splits::{every_split, sampled_splits};

    fn decode_all(decoder: &mut LineDecoder, chunks: &[&[u8]]) -> Vec<Line> {
        let mut lines = Vec::new();
        for chunk in chunks {
            let mut rest = *chunk;
            while !rest.is_empty() {
                let (used, line) = decoder.feed(rest);
                rest = &rest[used..];
                lines.extend(line);
            }
        }
        lines
    }

    #[test]
    fn lines_come_out_whole_however_the_input_is_split() {
        let input = b"EHLO a\r\nMAIL FROM:<x@y>\r\nbare lf\nRCPT TO:<z@y>\r\npartial";
        for chunks in every_split(input) {
            let mut d = LineDecoder::default();
            let lines = decode_all(&mut d, &chunks);
            let texts: Vec<&[u8]> = lines.iter().map(|l| l.bytes.as_slice()).collect();
            assert_eq!(
                texts,
                [
                    &b"EHLO a\r\n"[..],
                    b"MAIL FROM:<x@y>\r\n",
                    b"bare lf\n",
                    b"RCPT TO:<z@y>\r\n"
                ],
                "{chunks:?}"
            );
            assert!(lines.iter().all(|l| !l.too_long));
            assert!(d.is_mid_line());
        }
    }

    #[test]
    fn a_line_of_exactly_512_octets_passes_and_513_is_too_long() {
        let mut ok = vec![b'x'; MAX_COMMAND_LINE - 2];
        ok.extend_from_slice(b"\r\n");
        let mut long = vec![b'x'; MAX_COMMAND_LINE - 1];
        long.extend_from_slice(b"\r\nNOOP\r\n");
        let input = [ok.clone(), long].concat();
        for chunks in sampled_splits(&input) {
            let mut d = LineDecoder::default();
            let lines = decode_all(&mut d, &chunks);
            assert_eq!(lines.len(), 3, "{}", chunks.len());
            assert_eq!(lines[0].bytes, ok);
            assert!(!lines[0].too_long);
            assert!(lines[1].too_long);
            assert_eq!(lines[1].bytes.len(), MAX_COMMAND_LINE);
            assert_eq!(lines[2].bytes, b"NOOP\r\n");
        }
    }

    #[test]
    fn auth_lines_and_sasl_responses_may_be_12288_octets() {
        let mut auth = b"auth plain ".to_vec();
        auth.resize(MAX_AUTH_LINE - 2, b'A');
        auth.extend_from_slice(b"\r\n");
        for chunks in sampled_splits(&auth) {
            let lines = decode_all(&mut LineDecoder::default(), &chunks);
            assert_eq!(lines.len(), 1);
            assert!(!lines[0].too_long);
        }
        let mut response = vec![b'A'; 5000];
        response.extend_from_slice(b"\r\n");
        let lines = decode_all(&mut LineDecoder::new(LineKind::SaslResponse), &[&response]);
        assert!(!lines[0].too_long);
        let lines = decode_all(&mut LineDecoder::new(LineKind::Command), &[&response]);
        assert!(lines[0].too_long);
    }

    #[test]
    fn an_endless_line_is_held_to_its_limit() {
        let mut d = LineDecoder::default();
        let junk = vec![b'x'; 64 * 1024];
        for _ in 0..100 {
            assert_eq!(d.feed(&junk), (junk.len(), None));
        }
        assert!(d.partial.len() <= MAX_COMMAND_LINE);
        let (_, line) = d.feed(b"\r\n");
        assert!(line.unwrap().too_long);
    }
}
