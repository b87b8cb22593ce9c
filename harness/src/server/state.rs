//! What a session knows about its client: the protocol facts (HELO name, TLS, authentication,
//! the current mail transaction) and what the server last advertised in EHLO.

use crate::reply::Reply;

/// The current mail transaction (from MAIL to the end of DATA, or RSET).
#[derive(Clone, Debug, Default)]
pub(crate) struct Envelope {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
}

/// The extensions the last EHLO reply advertised.
#[derive(Clone, Debug, Default)]
pub(crate) struct Extensions {
    pub keywords: Vec<String>,
    pub auth: Vec<String>,
    pub size: Option<u64>,
}

impl Extensions {
    /// Reads the extension lines (all but the first) of an EHLO reply.
    pub(crate) fn from_ehlo_reply(reply: &Reply) -> Self {
        let mut ext = Extensions::default();
        for text in reply.texts().skip(1) {
            let mut words = text.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            let keyword = keyword.to_ascii_uppercase();
            match keyword.as_str() {
                "AUTH" => ext.auth.extend(words.map(str::to_ascii_uppercase)),
                "SIZE" => ext.size = words.next().and_then(|s| s.parse().ok()).filter(|s| *s > 0),
                _ => {}
            }
            ext.keywords.push(keyword);
        }
        ext
    }

    pub(crate) fn has(&self, keyword: &str) -> bool {
        self.keywords.iter().any(|k| k == keyword)
    }
}

/// Protocol state of one connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct SessionState {
    pub helo: Option<String>,
    pub extensions: Extensions,
    pub authenticated_as: Option<String>,
    pub envelope: Option<Envelope>,
    /// Commands seen per verb in this connection, for `when VERB #N`.
    pub verb_counts: std::collections::HashMap<String, u32>,
    /// Messages accepted so far, for queue ids.
    pub messages: u32,
}

impl SessionState {
    /// RFC 3207: after the TLS handshake the server forgets everything it learnt in clear text.
    pub(crate) fn reset_for_tls(&mut self) {
        self.helo = None;
        self.extensions = Extensions::default();
        self.authenticated_as = None;
        self.envelope = None;
    }

    /// Counts one more command with this verb and returns its number.
    pub(crate) fn count(&mut self, verb: &str) -> u32 {
        let n = self.verb_counts.entry(verb.to_owned()).or_insert(0);
        *n += 1;
        *n
    }
}

/// Pulls the address out of `MAIL FROM:<a@b> …` / `RCPT TO:<a@b> …` without judging it.
pub(crate) fn path_of(args: &str) -> String {
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

/// The value of an ESMTP parameter such as `SIZE=1000` on a MAIL line.
pub(crate) fn param_of<'a>(args: &'a str, name: &str) -> Option<&'a str> {
    args.split_ascii_whitespace().skip(1).find_map(|word| {
        let (key, value) = word.split_once('=')?;
        key.eq_ignore_ascii_case(name).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_come_from_the_ehlo_reply() {
        let reply = Reply::from_lines([
            "250-smtp.gmail.com at your service, [127.0.0.1]",
            "250-SIZE 35882577",
            "250-8BITMIME",
            "250-AUTH LOGIN PLAIN",
            "250 PIPELINING",
        ])
        .unwrap();
        let ext = Extensions::from_ehlo_reply(&reply);
        assert_eq!(ext.size, Some(35882577));
        assert_eq!(ext.auth, ["LOGIN", "PLAIN"]);
        assert!(ext.has("PIPELINING") && !ext.has("STARTTLS"));
    }

    #[test]
    fn paths_and_params_are_read_loosely() {
        assert_eq!(path_of("FROM:<a@b.c> SIZE=10"), "a@b.c");
        assert_eq!(path_of("FROM: <a@b.c>"), "a@b.c");
        assert_eq!(path_of("TO:<>"), "");
        assert_eq!(
            param_of("FROM:<a@b> SIZE=10 BODY=8BITMIME", "size"),
            Some("10")
        );
        assert_eq!(param_of("FROM:<a@b>", "SIZE"), None);
    }
}
