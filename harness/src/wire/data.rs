//! Message content after `354`: dot-unstuffing, the 1000-octet text line limit, the size limit,
//! and the end of the content, which is `CRLF . CRLF` and nothing else (RFC 5321 4.1.1.4 and
//! 4.5.2). A `.` line after a bare LF, or a `.` followed by a bare LF, does not end the content:
//! accepting those is what SMTP smuggling exploits (CVE-2023-51764/5/6).
//!
//! smtp-proto has a `DataReceiver` too, but it neither limits lines or size nor treats the first
//! line of the content as following a CRLF (a message that is only `.` never ends), so the
//! harness has its own.

use memchr::memchr;

/// RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with its CRLF.
pub const MAX_TEXT_LINE: usize = 1000;

/// A message's content as it was received (after dot-unstuffing for DATA).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Content {
    /// The content; empty once it grew over the size limit.
    pub bytes: Vec<u8>,
    /// The content was larger than the size limit (its bytes were dropped).
    pub too_big: bool,
    /// A line was longer than 1000 octets (DATA only).
    pub long_line: bool,
    /// Octets received on the wire for it: dot-stuffing and the final `.` line included for
    /// DATA, the chunk sizes for BDAT.
    pub wire_octets: usize,
}

impl Content {
    /// Appends `bytes` unless that takes the content over `limit` octets, in which case the
    /// content is dropped and marked too big (the rest is still read, not kept).
    pub fn append(&mut self, bytes: &[u8], limit: usize) {
        if self.too_big {
            return;
        }
        if self.bytes.len() + bytes.len() > limit {
            self.too_big = true;
            self.bytes = Vec::new();
            return;
        }
        self.bytes.extend_from_slice(bytes);
    }
}

/// Message content as it goes after `354`, the encoder matching [`DataDecoder`]: lines
/// starting with `.` get another (dot-stuffing, RFC 5321 4.5.2), the content ends with CRLF,
/// and the final `.` line follows.
pub fn dot_stuff(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 16);
    let mut at_line_start = true;
    for &b in content {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Where the decoder is within a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    /// At the start of a line that follows a CRLF (or of the content): a `.` here is
    /// stuffing, and `.` CRLF is the end.
    CrlfLineStart,
    /// After a `.` at such a line start.
    Dot,
    /// After `.` CR at such a line start.
    DotCr,
    /// Inside a line (or at the start of one after a bare LF); `cr`: the last octet was CR.
    Inside { cr: bool },
}

/// Reads message content after `354`, byte-fed: feed it what arrives, in pieces of any size.
#[derive(Clone, Debug)]
pub struct DataDecoder {
    limit: usize,
    at: At,
    line_octets: usize,
    content: Content,
}

impl DataDecoder {
    /// A decoder that keeps at most `limit` octets of content.
    pub fn new(limit: usize) -> Self {
        DataDecoder {
            limit,
            at: At::CrlfLineStart,
            line_octets: 0,
            content: Content::default(),
        }
    }

    /// Feeds `input`; returns how many octets were used and, once the final `.` line has
    /// arrived, the content. Octets after the final `.` line are not used (the next command).
    pub fn feed(&mut self, input: &[u8]) -> (usize, Option<Content>) {
        let mut i = 0;
        while i < input.len() {
            match self.at {
                At::CrlfLineStart | At::Dot | At::DotCr => {
                    let b = input[i];
                    i += 1;
                    self.line_octets += 1;
                    match (self.at, b) {
                        (At::CrlfLineStart, b'.') => self.at = At::Dot,
                        (At::CrlfLineStart, _) => self.inside(&[b]),
                        (At::Dot, b'\r') => self.at = At::DotCr,
                        // The stuffing dot is dropped; the rest of the line is content.
                        (At::Dot, _) => self.inside(&[b]),
                        (At::DotCr, b'\n') => {
                            self.content.wire_octets += i;
                            return (i, Some(std::mem::take(&mut self.content)));
                        }
                        (At::DotCr, _) => self.inside(&[b'\r', b]),
                        (At::Inside { .. }, _) => unreachable!("matched above"),
                    }
                }
                At::Inside { .. } => {
                    let rest = &input[i..];
                    let used = memchr(b'\n', rest).map_or(rest.len(), |p| p + 1);
                    self.line_octets += used;
                    self.inside(&rest[..used]);
                    i += used;
                }
            }
        }
        self.content.wire_octets += i;
        (i, None)
    }

    /// Takes octets that belong to the inside of a line (up to and including its LF).
    fn inside(&mut self, bytes: &[u8]) {
        self.content.append(bytes, self.limit);
        let Some(&last) = bytes.last() else { return };
        let cr_before = match bytes.len() {
            1 => matches!(self.at, At::Inside { cr: true }),
            n => bytes[n - 2] == b'\r',
        };
        if last == b'\n' {
            self.content.long_line |= self.line_octets > MAX_TEXT_LINE;
            self.line_octets = 0;
            self.at = if cr_before {
                At::CrlfLineStart
            } else {
                At::Inside { cr: false }
            };
        } else {
            self.at = At::Inside { cr: last == b'\r' };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::splits::{every_split, sampled_splits};

    /// Feeds the chunks; returns the content and what was left over after its end.
    fn decode(chunks: &[&[u8]], limit: usize) -> (Option<Content>, Vec<u8>) {
        let mut d = DataDecoder::new(limit);
        let mut done = None;
        let mut rest = Vec::new();
        for chunk in chunks {
            if done.is_some() {
                rest.extend_from_slice(chunk);
                continue;
            }
            let (used, content) = d.feed(chunk);
            if content.is_some() {
                done = content;
                rest.extend_from_slice(&chunk[used..]);
            } else {
                assert_eq!(used, chunk.len(), "all is used until the end");
            }
        }
        (done, rest)
    }

    fn check(input: &[u8], content: Option<&[u8]>, rest: &[u8]) {
        for chunks in every_split(input) {
            let (got, left) = decode(&chunks, 1 << 20);
            assert_eq!(
                got.as_ref().map(|c| c.bytes.as_slice()),
                content,
                "input {:?} split {chunks:?}",
                String::from_utf8_lossy(input)
            );
            if content.is_some() {
                assert_eq!(left, rest, "left over from {chunks:?}");
                let wire = got.unwrap().wire_octets;
                assert_eq!(wire, input.len() - rest.len(), "{chunks:?}");
            }
        }
    }

    #[test]
    fn content_ends_at_crlf_dot_crlf_and_the_next_command_is_left() {
        check(
            b"Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n",
            Some(b"Subject: x\r\n\r\nhello\r\n"),
            b"QUIT\r\n",
        );
        // An empty message: the final dot is the first line.
        check(b".\r\nQUIT\r\n", Some(b""), b"QUIT\r\n");
    }

    #[test]
    fn leading_dots_are_unstuffed_after_a_crlf_only() {
        check(
            b"..a\r\n...\r\nb\n..c\r\n.\r\n",
            Some(b".a\r\n..\r\nb\n..c\r\n"),
            b"",
        );
        // A dot then CR then something other than LF: the dot is stuffing, the CR content.
        check(b"a\r\n.\rx\r\n.\r\n", Some(b"a\r\n\rx\r\n"), b"");
        check(b".\r.\r\n.\r\n", Some(b"\r.\r\n"), b"");
    }

    /// SMTP smuggling (https://sec-consult.com/blog/detail/smtp-smuggling-spoofing-e-mails-worldwide/):
    /// every end-of-data variant other than CRLF.CRLF is content, never the end.
    #[test]
    fn smuggling_variants_do_not_end_the_content() {
        for fake_end in [
            &b"a\n.\nMAIL FROM:<x@y>\r\n"[..],
            b"a\n.\r\nMAIL FROM:<x@y>\r\n",
            b"a\r\n.\nMAIL FROM:<x@y>\r\n",
            b"a\r.\r\nMAIL FROM:<x@y>\r\n",
            b"a\r\n.\r\rMAIL FROM:<x@y>\r\n",
            b"a\r\n.\r\r\nMAIL FROM:<x@y>\r\n",
            b"a\r\n\x00.\r\nMAIL FROM:<x@y>\r\n",
        ] {
            check(fake_end, None, b"");
            let mut whole = fake_end.to_vec();
            whole.extend_from_slice(b".\r\nQUIT\r\n");
            for chunks in every_split(&whole) {
                let (got, rest) = decode(&chunks, 1 << 20);
                let got = got.expect("the real end ends it");
                assert_eq!(rest, b"QUIT\r\n");
                assert!(
                    got.bytes.ends_with(b"MAIL FROM:<x@y>\r\n"),
                    "{:?}",
                    String::from_utf8_lossy(&got.bytes)
                );
            }
        }
    }

    #[test]
    fn lines_over_1000_octets_are_flagged_and_kept() {
        let mut ok = vec![b'a'; MAX_TEXT_LINE - 2];
        ok.extend_from_slice(b"\r\n");
        // A stuffed line counts its dot: 1000 octets on the wire.
        let mut stuffed_ok = vec![b'.'; MAX_TEXT_LINE - 2];
        stuffed_ok.extend_from_slice(b"\r\n");
        let input = [ok.clone(), stuffed_ok, b".\r\n".to_vec()].concat();
        for chunks in sampled_splits(&input) {
            let (got, _) = decode(&chunks, 1 << 20);
            assert!(!got.unwrap().long_line);
        }
        let mut long = vec![b'a'; MAX_TEXT_LINE - 1];
        long.extend_from_slice(b"\r\n.\r\n");
        for chunks in sampled_splits(&long) {
            let (got, _) = decode(&chunks, 1 << 20);
            let got = got.unwrap();
            assert!(got.long_line);
            assert_eq!(got.bytes.len(), MAX_TEXT_LINE + 1);
        }
    }

    #[test]
    fn content_over_the_size_limit_is_dropped_but_read_to_its_end() {
        let input = b"0123456789\r\n0123456789\r\n.\r\nQUIT\r\n";
        for chunks in every_split(input) {
            let (got, rest) = decode(&chunks, 15);
            let got = got.unwrap();
            assert!(got.too_big && got.bytes.is_empty());
            assert_eq!(rest, b"QUIT\r\n");
        }
        let (got, _) = decode(&[b"0123456789\r\n.\r\n"], 12);
        assert_eq!(got.unwrap().bytes, b"0123456789\r\n");
    }

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_ends_with_the_dot_line() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n..c"), b"a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b"\r\n.\r\n");
        // What the encoder writes, the decoder reads back (a message that ends in CRLF).
        let message = b"Subject: x\r\n\r\n.one\r\n..two\r\n.\r\n";
        let (used, content) = DataDecoder::new(1 << 20).feed(&dot_stuff(message));
        assert_eq!(used, dot_stuff(message).len());
        assert_eq!(content.unwrap().bytes, message);
    }

    #[test]
    fn holding_state_costs_no_memory_beyond_the_content() {
        let mut d = DataDecoder::new(100);
        let junk = vec![b'x'; 1 << 16];
        for _ in 0..64 {
            assert_eq!(d.feed(&junk), (junk.len(), None));
        }
        assert!(d.content.too_big && d.content.bytes.is_empty());
        assert!(d.content.long_line || d.line_octets > MAX_TEXT_LINE);
    }
}
