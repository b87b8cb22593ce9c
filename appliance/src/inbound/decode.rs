//! The bytes a client sends, cut into what the session works on: command lines
//! ([`LineDecoder`]) and message content after `DATA` ([`ContentDecoder`]). Both are fed from
//! the connection's input buffer, take what they can use out of it, and leave the rest (a
//! pipelined command after the final dot stays for the next command); neither does I/O, so any
//! split of the input gives the same result.

/// The longest command line, CRLF included (RFC 5321 section 4.5.3.1.4).
pub const MAX_COMMAND_LINE: usize = 512;

/// A line of content longer than this is taken in pieces (so that a line with no end does not
/// grow the buffer without bound).
const PIECE: usize = 8192;

/// A command line, or why there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// The line, without its CRLF (or bare LF).
    Command(Vec<u8>),
    /// The line was longer than [`MAX_COMMAND_LINE`] (it has been read to its end and dropped).
    TooLong,
}

/// Cuts command lines out of the input.
#[derive(Clone, Debug, Default)]
pub struct LineDecoder {
    /// The line being read is already too long; its bytes are dropped as they come.
    too_long: bool,
}

impl LineDecoder {
    /// The next command line in `input` (taken out of it), or `None` when more bytes are needed.
    pub fn next_line(&mut self, input: &mut Vec<u8>) -> Option<Line> {
        if let Some(i) = input.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = input.drain(..=i).collect();
            if std::mem::take(&mut self.too_long) || line.len() > MAX_COMMAND_LINE {
                return Some(Line::TooLong);
            }
            let end = line.len() - if line.ends_with(b"\r\n") { 2 } else { 1 };
            return Some(Line::Command(line[..end].to_vec()));
        }
        if input.len() > MAX_COMMAND_LINE {
            self.too_long = true;
            input.clear();
        }
        None
    }
}

/// Message content, read to its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// The content, dot-unstuffed, without the final `.CRLF`.
    Complete(Vec<u8>),
    /// The content was over the size limit (read to its end and thrown away).
    TooBig,
}

/// Reads content up to `CRLF.CRLF` only (a bare LF before or after the dot does not end it),
/// with dot-unstuffing, within a size limit.
#[derive(Clone, Debug)]
pub struct ContentDecoder {
    kept: Vec<u8>,
    size: usize,
    max: usize,
    too_big: bool,
    /// The previous line ended with CRLF (true at the start).
    prev_crlf: bool,
    /// The line read so far.
    line: Vec<u8>,
    /// Part of the current line has already been taken as a piece.
    continued: bool,
}

impl ContentDecoder {
    /// A decoder keeping at most `max` octets of content.
    pub fn new(max: u64) -> Self {
        ContentDecoder {
            kept: Vec::new(),
            size: 0,
            max: usize::try_from(max).unwrap_or(usize::MAX),
            too_big: false,
            prev_crlf: true,
            line: Vec::new(),
            continued: false,
        }
    }

    /// Takes content out of `input`: the content once its end has been read (what follows
    /// the end stays in `input`), `None` when more bytes are needed.
    pub fn feed(&mut self, input: &mut Vec<u8>) -> Option<Content> {
        while let Some(i) = input.iter().position(|&b| b == b'\n') {
            self.line.extend(input.drain(..=i));
            if self.prev_crlf && !self.continued && self.line == b".\r\n" {
                let content = std::mem::take(&mut self.kept);
                return Some(if self.too_big {
                    Content::TooBig
                } else {
                    Content::Complete(content)
                });
            }
            let line = std::mem::take(&mut self.line);
            let body = match line.first() {
                Some(b'.') if !self.continued => &line[1..],
                _ => &line[..],
            };
            self.add(body);
            self.prev_crlf = line.ends_with(b"\r\n");
            self.line = line;
            self.line.clear();
            self.continued = false;
        }
        self.line.append(input);
        if self.line.len() > PIECE {
            // Keep a CR at the end: it may be the start of the line's CRLF.
            let keep = usize::from(self.line.last() == Some(&b'\r'));
            let mut piece: Vec<u8> = self.line.drain(..self.line.len() - keep).collect();
            if !self.continued && piece.first() == Some(&b'.') {
                piece.remove(0);
            }
            self.continued = true;
            self.add(&piece);
        }
        None
    }

    fn add(&mut self, bytes: &[u8]) {
        self.size = self.size.saturating_add(bytes.len());
        if self.size > self.max {
            self.too_big = true;
            self.kept = Vec::new();
        } else {
            self.kept.extend_from_slice(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` to a new content decoder in pieces of `step` octets; the content and
    /// what is left of the input after it.
    fn content_in_steps(input: &[u8], step: usize, max: u64) -> (Option<Content>, Vec<u8>) {
        let mut decoder = ContentDecoder::new(max);
        let mut buf = Vec::new();
        for (n, chunk) in input.chunks(step).enumerate() {
            buf.extend_from_slice(chunk);
            if let Some(content) = decoder.feed(&mut buf) {
                buf.extend_from_slice(&input[((n + 1) * step).min(input.len())..]);
                return (Some(content), buf);
            }
        }
        (None, buf)
    }

    /// The content of `input`, checked to be the same for every split of it.
    fn content(input: &[u8], max: u64) -> (Option<Content>, Vec<u8>) {
        let whole = content_in_steps(input, input.len().max(1), max);
        for step in 1..input.len() {
            let split = content_in_steps(input, step, max);
            if whole.0.is_some() {
                assert_eq!(split, whole, "split every {step} octets");
            } else {
                assert_eq!(split.0, None, "split every {step} octets");
            }
        }
        whole
    }

    #[test]
    fn lines_lose_their_ending_and_stay_in_order() {
        let mut decoder = LineDecoder::default();
        let mut input = b"EHLO a\r\nNOOP\nQU".to_vec();
        assert_eq!(
            decoder.next_line(&mut input),
            Some(Line::Command(b"EHLO a".to_vec()))
        );
        assert_eq!(
            decoder.next_line(&mut input),
            Some(Line::Command(b"NOOP".to_vec()))
        );
        assert_eq!(decoder.next_line(&mut input), None);
        input.extend_from_slice(b"IT\r\n");
        assert_eq!(
            decoder.next_line(&mut input),
            Some(Line::Command(b"QUIT".to_vec()))
        );
        assert!(input.is_empty());
    }

    #[test]
    fn an_overlong_line_is_dropped_to_its_end_however_it_arrives() {
        let mut long = vec![b'x'; 600];
        long.extend_from_slice(b"\r\nNOOP\r\n");
        for step in [1, 7, 100, 513, long.len()] {
            let mut decoder = LineDecoder::default();
            let mut input = Vec::new();
            let mut lines = Vec::new();
            for chunk in long.chunks(step) {
                input.extend_from_slice(chunk);
                while let Some(line) = decoder.next_line(&mut input) {
                    lines.push(line);
                }
            }
            assert_eq!(
                lines,
                [Line::TooLong, Line::Command(b"NOOP".to_vec())],
                "step {step}"
            );
        }
        // 512 octets with the CRLF is the longest line taken.
        let mut exact = vec![b'y'; 510];
        exact.extend_from_slice(b"\r\n");
        let mut decoder = LineDecoder::default();
        assert!(matches!(
            decoder.next_line(&mut exact),
            Some(Line::Command(l)) if l.len() == 510
        ));
    }

    #[test]
    fn content_is_unstuffed_and_ends_only_on_crlf_dot_crlf() {
        let (got, rest) = content(b"a\r\n..b\r\n.c\r\n.\r\nQUIT\r\n", 1000);
        assert_eq!(got, Some(Content::Complete(b"a\r\n.b\r\nc\r\n".to_vec())));
        assert_eq!(rest, b"QUIT\r\n");
        // A bare LF before or after the dot does not end it.
        let (got, _) = content(b"a\n.\r\nb\r\n.\n.\r\nc\r\n.\r\n", 1000);
        assert_eq!(
            got,
            Some(Content::Complete(b"a\n\r\nb\r\n\n\r\nc\r\n".to_vec()))
        );
        let (got, _) = content(b"a\r\n.\nb", 1000);
        assert_eq!(got, None);
        // Nothing at all.
        let (got, _) = content(b".\r\n", 1000);
        assert_eq!(got, Some(Content::Complete(Vec::new())));
    }

    #[test]
    fn content_over_the_limit_is_read_to_its_end_and_dropped() {
        let (got, rest) = content(b"0123456789\r\n.\r\nNOOP\r\n", 8);
        assert_eq!(got, Some(Content::TooBig));
        assert_eq!(rest, b"NOOP\r\n");
        let (got, _) = content(b"01234\r\n.\r\n", 7);
        assert_eq!(got, Some(Content::Complete(b"01234\r\n".to_vec())));
    }

    #[test]
    fn a_long_line_is_taken_in_pieces_with_one_unstuffing() {
        let mut input = vec![b'.'];
        input.extend(std::iter::repeat_n(b'z', 3 * PIECE));
        input.extend_from_slice(b"\r\n.\r\n");
        let mut decoder = ContentDecoder::new(1 << 20);
        let mut got = None;
        for chunk in input.chunks(PIECE / 3 + 1) {
            let mut buf = chunk.to_vec();
            if let Some(c) = decoder.feed(&mut buf) {
                got = Some(c);
            }
        }
        let mut want = vec![b'z'; 3 * PIECE];
        want.extend_from_slice(b"\r\n");
        assert_eq!(got, Some(Content::Complete(want)));
    }
}
