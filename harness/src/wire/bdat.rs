//! BDAT chunks (RFC 3030): `BDAT size [LAST]` is followed by exactly `size` octets of content,
//! taken as they are (no dot-stuffing, no line limits). The chunks of one message are gathered
//! into one [`Content`], within the size limit.

use super::data::Content;

/// Reads the octets of BDAT chunks, byte-fed, and gathers the message they make.
#[derive(Clone, Debug, Default)]
pub struct ChunkDecoder {
    limit: usize,
    left: usize,
    content: Content,
}

impl ChunkDecoder {
    /// A decoder for one message of at most `limit` octets.
    pub fn new(limit: usize) -> Self {
        ChunkDecoder {
            limit,
            ..Self::default()
        }
    }

    /// Starts reading a chunk of `size` octets.
    pub fn begin(&mut self, size: usize) {
        self.left = size;
        self.content.wire_octets += size;
    }

    /// Octets of the current chunk still to come.
    pub fn left(&self) -> usize {
        self.left
    }

    /// Feeds `input`; returns how many octets belong to the current chunk and whether the
    /// chunk is complete. Octets after the chunk are not used (the next command).
    pub fn feed(&mut self, input: &[u8]) -> (usize, bool) {
        let used = self.left.min(input.len());
        self.content.append(&input[..used], self.limit);
        self.left -= used;
        (used, self.left == 0)
    }

    /// The content gathered so far (all chunks of the message), leaving the decoder empty.
    pub fn take(&mut self) -> Content {
        self.left = 0;
        std::mem::take(&mut self.content)
    }

    /// `true` once the gathered chunks are over the size limit.
    pub fn too_big(&self) -> bool {
        self.content.too_big
    }
}

/// The arguments of `BDAT`: the chunk size and whether it is the last chunk, or `None` when
/// they are not `size [LAST]` (RFC 3030 section 2: `bdat-cmd ::= "BDAT" SP chunk-size
/// [ SP end-marker ] CR LF`).
pub fn parse_args(args: &str) -> Option<(usize, bool)> {
    let mut words = args.split_ascii_whitespace();
    let size = words.next()?;
    if !size.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let size = size.parse().ok()?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return None,
    };
    words.next().is_none().then_some((size, last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::splits::every_split;

    #[test]
    fn chunks_are_taken_raw_and_gathered_however_split() {
        // Two chunks (a dot line and a bare CR are content here), then the next command.
        let input = b".\r\nab\rEND";
        for chunks in every_split(input) {
            let mut d = ChunkDecoder::new(1 << 20);
            d.begin(5);
            let mut sizes = [5usize, 3].into_iter().skip(1);
            let mut rest = Vec::new();
            let mut done = 0;
            for chunk in &chunks {
                let mut chunk = *chunk;
                while !chunk.is_empty() && done < 2 {
                    let (used, complete) = d.feed(chunk);
                    chunk = &chunk[used..];
                    if complete {
                        done += 1;
                        if let Some(next) = sizes.next() {
                            d.begin(next);
                        }
                    }
                }
                rest.extend_from_slice(chunk);
            }
            assert_eq!(done, 2, "{chunks:?}");
            let content = d.take();
            assert_eq!(content.bytes, b".\r\nab\rEN");
            assert_eq!(content.wire_octets, 8);
            assert_eq!(rest, b"D");
        }
    }

    #[test]
    fn a_zero_size_chunk_is_complete_at_once_and_the_limit_holds() {
        let mut d = ChunkDecoder::new(4);
        d.begin(0);
        assert_eq!(d.feed(b"QUIT\r\n"), (0, true));
        d.begin(6);
        assert_eq!(d.feed(b"abcdef"), (6, true));
        assert!(d.too_big());
        assert!(d.take().bytes.is_empty());
    }

    #[test]
    fn bdat_arguments_are_size_and_an_optional_last() {
        assert_eq!(parse_args("375 LAST"), Some((375, true)));
        assert_eq!(parse_args("0 last"), Some((0, true)));
        assert_eq!(parse_args("12"), Some((12, false)));
        for bad in [
            "",
            "x",
            "-1",
            "+5",
            "12 FIRST",
            "12 LAST x",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_args(bad), None, "{bad}");
        }
    }
}
