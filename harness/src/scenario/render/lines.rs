//! How one line of a conversation is written in a scenario: a reply line so that it reads back
//! byte for byte, a reply line cut in the log repaired, a client line as a glob that hides what
//! varies (and every credential).

use super::RenderError;
use crate::reply::is_reply_line;

/// Host name put into a server line whose host name was cut.
pub(super) const REPAIRED_HOST: &str = "smtp.example";
/// Address put into a server line whose address was cut (`[]`).
const REPAIRED_ADDRESS: &str = "[127.0.0.1]";

/// A server line after repair: its input line, its text, and the original if it was repaired.
type Repaired<'a> = (usize, String, Option<&'a str>);

/// Repairs the server lines of one run: `(input line, text, Some(original) if repaired)`.
pub(super) fn repair_run<'a>(
    run: &[(usize, &'a str)],
    source: &str,
) -> Result<Vec<Repaired<'a>>, RenderError> {
    let code_of = |l: &str| -> Option<u16> {
        if is_reply_line(l) {
            l.get(..3).and_then(|c| c.parse().ok())
        } else {
            None
        }
    };
    let mut out = Vec::with_capacity(run.len());
    for (k, &(line_no, text)) in run.iter().enumerate() {
        if is_reply_line(text) {
            out.push((line_no, text.to_owned(), None));
            continue;
        }
        let code = run[k + 1..]
            .iter()
            .find_map(|(_, l)| code_of(l))
            .or_else(|| run[..k].iter().rev().find_map(|(_, l)| code_of(l)))
            .ok_or_else(|| RenderError::Unrepairable {
                origin: source.to_owned(),
                line: line_no,
                quoted: crate::transcript::quote(text.as_bytes()),
            })?;
        let separator = if k + 1 < run.len() { '-' } else { ' ' };
        let mut repaired = text.replace("[]", REPAIRED_ADDRESS);
        if repaired.starts_with(' ') || repaired.is_empty() {
            repaired = format!("{REPAIRED_HOST}{repaired}");
        }
        out.push((
            line_no,
            format!("{code}{separator}{}", repaired.trim_end()),
            Some(text),
        ));
    }
    Ok(out)
}

/// SASL mechanisms kept in `C: AUTH MECH*` (any other word after AUTH may be a payload).
const MECHANISMS: &[&str] = &[
    "PLAIN",
    "LOGIN",
    "CRAM-MD5",
    "DIGEST-MD5",
    "XOAUTH2",
    "XOAUTH",
    "OAUTHBEARER",
    "PLAIN-CLIENTTOKEN",
    "NTLM",
    "GSSAPI",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "EXTERNAL",
    "ANONYMOUS",
];

pub(super) fn is_mechanism(word: &str) -> bool {
    MECHANISMS.iter().any(|m| m.eq_ignore_ascii_case(word))
}

/// The glob a client line becomes: the verb kept, what varies `*`.
pub(super) fn client_glob(line: &str) -> String {
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or("").to_ascii_uppercase();
    match verb.as_str() {
        "" => "*".to_owned(),
        "EHLO" | "HELO" | "LHLO" => format!("{verb}*"),
        "MAIL" => "MAIL FROM:<*>*".to_owned(),
        "RCPT" => "RCPT TO:<*>*".to_owned(),
        "AUTH" => match words.next().map(str::to_ascii_uppercase) {
            Some(mech) if is_mechanism(&mech) => format!("AUTH {mech}*"),
            _ => "AUTH*".to_owned(),
        },
        "STARTTLS" | "QUIT" | "RSET" | "DATA" | "NOOP" if words.next().is_none() => verb,
        "STARTTLS" | "QUIT" | "RSET" | "DATA" | "NOOP" | "BDAT" | "VRFY" | "EXPN" | "HELP"
        | "ETRN" | "XCLIENT" | "XFORWARD" | "BURL" | "ATRN" | "TURN" => format!("{verb}*"),
        // Anything else may be a credential (base64 without padding looks like a word).
        _ => "*".to_owned(),
    }
}

/// How a reply line is written after `S: ` so that it reads back byte for byte: as it is, or
/// quoted with escapes when it ends in white space or holds control characters (`"250 "`, as
/// Postfix's smtp-sink ends its EHLO list), or starts with a quote.
pub fn reply_line_text(line: &str) -> String {
    let plain =
        line.trim_end() == line && !line.starts_with('"') && !line.chars().any(char::is_control);
    if plain {
        return line.to_owned();
    }
    let mut out = String::from("\"");
    for c in line.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_globs_keep_the_verb_and_hide_what_varies() {
        assert_eq!(client_glob("EHLO"), "EHLO*");
        assert_eq!(client_glob("ehlo host.example"), "EHLO*");
        assert_eq!(
            client_glob("MAIL FROM:<a@b.example> SIZE=12"),
            "MAIL FROM:<*>*"
        );
        assert_eq!(client_glob("RCPT TO:<c@d.example>"), "RCPT TO:<*>*");
        assert_eq!(
            client_glob("AUTH PLAIN AGFsaWNlAHMzY3JldA=="),
            "AUTH PLAIN*"
        );
        assert_eq!(client_glob("STARTTLS"), "STARTTLS");
        assert_eq!(client_glob("[redacted]"), "*");
        assert_eq!(
            client_glob("aXRyZWFsbHl3YXM"),
            "*",
            "unpadded base64 is no verb"
        );
        assert_eq!(client_glob("BDAT 12 LAST"), "BDAT*");
        assert_eq!(
            client_glob("AUTH cHc="),
            "AUTH*",
            "no mechanism: maybe a payload"
        );
    }

    #[test]
    fn a_cut_ehlo_line_is_repaired_with_the_code_of_its_neighbours() {
        let run = [
            (3, " at your service, []"),
            (4, "250-SIZE 35882577"),
            (5, "250 PIPELINING"),
        ];
        let out = repair_run(&run, "x").expect("repairs");
        assert_eq!(out[0].1, "250-smtp.example at your service, [127.0.0.1]");
        assert_eq!(out[0].2, Some(" at your service, []"));
        assert_eq!(out[1].2, None);
    }

    #[test]
    fn reply_lines_that_would_not_read_back_are_quoted() {
        assert_eq!(reply_line_text("250 ok"), "250 ok");
        assert_eq!(reply_line_text("250 "), "\"250 \"");
        assert_eq!(reply_line_text("\"quoted\""), "\"\\\"quoted\\\"\"");
        assert_eq!(reply_line_text("250 a\tb\u{1}"), "\"250 a\\tb\\x01\"");
    }
}
