//! What a session knows about its client: the protocol facts (HELO name, whether it spoke
//! ESMTP, authentication, the current mail transaction) and what the server last advertised
//! in its EHLO reply, which is what the client's parameters are judged against.

use crate::reply::Reply;
use crate::wire::Verb;

/// The current mail transaction (from MAIL to the end of DATA or BDAT LAST, or RSET).
#[derive(Clone, Debug, Default)]
pub(crate) struct Envelope {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// MAIL declared SMTPUTF8 (RFC 6531): non-ASCII paths may follow.
    pub smtputf8: bool,
}

/// The extensions the last EHLO reply advertised (nothing after HELO).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Extensions {
    /// Every keyword, upper case.
    pub keywords: Vec<String>,
    /// The SASL mechanisms of the AUTH line, upper case.
    pub auth: Vec<String>,
    /// The SIZE limit, when one was given (SIZE 0 means none).
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

    /// Was `keyword` advertised?
    pub(crate) fn has(&self, keyword: &str) -> bool {
        self.keywords.iter().any(|k| k == keyword)
    }
}

/// Protocol state of one connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct SessionState {
    /// The name the client gave in its accepted HELO or EHLO.
    pub helo: Option<String>,
    /// The accepted greeting was EHLO (so extensions may be used).
    pub esmtp: bool,
    pub extensions: Extensions,
    pub authenticated_as: Option<String>,
    pub envelope: Option<Envelope>,
    /// BDAT chunks were accepted in this transaction (so DATA may no longer be used).
    pub chunking: bool,
    /// Commands seen per verb in this connection, for `when VERB #N` (indexed by the verb).
    pub verb_counts: [u32; Verb::COUNT],
    /// Message transfers begun (each DATA, each BDAT LAST), for `when DATA #N`.
    pub transfers: u32,
    /// Messages accepted so far, for queue ids.
    pub messages: u32,
}

impl SessionState {
    /// RFC 3207 section 4.2: after the TLS handshake the server forgets everything it learnt
    /// in clear text.
    pub(crate) fn reset_for_tls(&mut self) {
        self.helo = None;
        self.esmtp = false;
        self.extensions = Extensions::default();
        self.authenticated_as = None;
        self.end_transaction();
    }

    /// Ends the mail transaction (RSET, a new greeting, the end of a message, a failed chunk).
    pub(crate) fn end_transaction(&mut self) {
        self.envelope = None;
        self.chunking = false;
    }

    /// Counts one more command with this verb and returns its number.
    pub(crate) fn count(&mut self, verb: Verb) -> u32 {
        let n = &mut self.verb_counts[verb as usize];
        *n = n.saturating_add(1);
        *n
    }
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
    fn tls_forgets_what_was_learnt_in_clear_text() {
        let mut state = SessionState {
            helo: Some("a".into()),
            esmtp: true,
            authenticated_as: Some("u".into()),
            envelope: Some(Envelope::default()),
            chunking: true,
            ..SessionState::default()
        };
        state.count(Verb::Ehlo);
        state.reset_for_tls();
        assert!(state.helo.is_none() && !state.esmtp && state.authenticated_as.is_none());
        assert!(state.envelope.is_none() && !state.chunking);
        // Counts are per connection, across TLS.
        assert_eq!(state.count(Verb::Ehlo), 2);
    }
}
