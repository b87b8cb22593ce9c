//! Message content on the wire (RFC 5321 4.5.2): every line ends in CRLF, a line that starts
//! with a dot gets one more, and a line holding a single dot ends the data.

/// The content as sent after `354`, including the terminating `.` line.
pub(crate) fn encode(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut at_line_start = true;
    let mut bytes = message.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        match b {
            b'\r' => {
                // CR LF, or a bare CR: both end the line as CRLF.
                if bytes.peek() == Some(&b'\n') {
                    bytes.next();
                }
                out.extend_from_slice(b"\r\n");
                at_line_start = true;
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                at_line_start = true;
            }
            _ => {
                out.push(b);
                at_line_start = false;
            }
        }
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// `true` if the content has bytes above 127 (it then needs `BODY=8BITMIME`).
pub(crate) fn is_8bit(message: &[u8]) -> bool {
    !message.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffs_dots_and_ends_lines_with_crlf() {
        assert_eq!(encode(b"a\r\n.b\r\n..\r\n"), b"a\r\n..b\r\n...\r\n.\r\n");
        assert_eq!(encode(b"a\nb\rc"), b"a\r\nb\r\nc\r\n.\r\n");
        assert_eq!(encode(b".\n"), b"..\r\n.\r\n");
        assert_eq!(encode(b""), b".\r\n");
        assert_eq!(encode(b"x.y\r\n"), b"x.y\r\n.\r\n");
    }
}
