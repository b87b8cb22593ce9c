//! A client command line, parsed once when it arrives: the [`Verb`], the arguments (for rule
//! globs and parameters), and smtp-proto's parse of it (for the syntax judgement and the paths).

use smtp_proto::Request;

use crate::wire::Verb;

/// One command as received.
#[derive(Clone, Debug)]
pub(crate) struct Command {
    /// The verb.
    pub verb: Verb,
    /// Everything after the verb, trimmed.
    pub args: String,
    /// smtp-proto's reading of the line: the request, or why it is not one.
    pub request: Result<Request<String>, smtp_proto::Error>,
}

impl Command {
    /// Parses a line (with its line ending).
    pub fn new(raw: &[u8]) -> Self {
        let text = String::from_utf8_lossy(raw)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        let trimmed = text.trim_start();
        let (word, args) = match trimmed.split_once([' ', '\t']) {
            Some((v, a)) => (v, a.trim().to_owned()),
            None => (trimmed, String::new()),
        };
        let verb = Verb::parse(word.as_bytes());
        let request = if raw.ends_with(b"\n") {
            Request::parse(&mut raw.iter()).map(Request::into_owned)
        } else {
            // smtp-proto reads up to the LF: a line cut short is no request.
            Err(smtp_proto::Error::NeedsMoreData { bytes_left: 0 })
        };
        Command {
            verb,
            args,
            request,
        }
    }

    /// The reverse or forward path of `MAIL FROM:` / `RCPT TO:`, as written between the
    /// angle brackets (without judging it).
    pub fn path(&self) -> String {
        match &self.request {
            Ok(Request::Mail { from }) => from.address.clone(),
            Ok(Request::Rcpt { to }) => to.address.clone(),
            _ => loose_path(&self.args),
        }
    }

    /// The value of an ESMTP parameter on this line (`SIZE=1000` → `Some("1000")`).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.args.split_ascii_whitespace().skip(1).find_map(|word| {
            let (key, value) = word.split_once('=')?;
            key.eq_ignore_ascii_case(name).then_some(value)
        })
    }

    /// The ESMTP parameters after the path, as written (`SIZE=10`, `SMTPUTF8`).
    pub fn param_words(&self) -> Vec<&str> {
        let after_path = match self.args.find('>') {
            Some(end) => &self.args[end + 1..],
            None => self
                .args
                .split_once(char::is_whitespace)
                .map_or("", |(_, rest)| rest),
        };
        after_path.split_ascii_whitespace().collect()
    }
}

/// Pulls the address out of `FROM:<a@b> …` / `TO:<a@b> …` without judging it.
fn loose_path(args: &str) -> String {
    let after_colon = args
        .split_once(':')
        .map_or(args, |(_, rest)| rest)
        .trim_start();
    if let Some(rest) = after_colon.strip_prefix('<') {
        return rest
            .split_once('>')
            .map_or(rest, |(addr, _)| addr)
            .to_owned();
    }
    after_colon
        .split_ascii_whitespace()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_split_and_parsed_once() {
        let c = Command::new(b"mail FROM:<a@b.c> SIZE=10 BODY=8BITMIME\r\n".as_slice());
        assert_eq!(c.verb, Verb::Mail);
        assert_eq!(c.args, "FROM:<a@b.c> SIZE=10 BODY=8BITMIME");
        assert_eq!(c.path(), "a@b.c");
        assert_eq!(c.param("size"), Some("10"));
        assert_eq!(c.param_words(), ["SIZE=10", "BODY=8BITMIME"]);
        assert!(matches!(c.request, Ok(Request::Mail { .. })));
        let c = Command::new(b"  EHLO\tclient.example \r\n".as_slice());
        assert_eq!((c.verb, c.args.as_str()), (Verb::Ehlo, "client.example"));
        let c = Command::new(b"XYZZY\r\n".as_slice());
        assert_eq!(c.verb, Verb::Unknown);
        assert!(c.request.is_err());
    }

    #[test]
    fn paths_are_read_loosely_when_smtp_proto_refuses_the_line() {
        assert_eq!(loose_path("FROM: <a@b.c>"), "a@b.c");
        assert_eq!(loose_path("TO:<>"), "");
        assert_eq!(loose_path("FROM:a@b.c SIZE=1"), "a@b.c");
        let c = Command::new(b"RCPT TO:<b@c> NOTIFY=NEVER ORCPT=rfc822;b@c\r\n".as_slice());
        assert_eq!(c.path(), "b@c");
        assert_eq!(c.param_words(), ["NOTIFY=NEVER", "ORCPT=rfc822;b@c"]);
    }
}
