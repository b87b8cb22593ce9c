//! SMTP command verbs as an enum, so that the session matches on `Verb::Mail` rather than on
//! strings.

use std::fmt;

/// The verb of a client command line, recognised case-insensitively.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verb {
    /// `EHLO domain` (RFC 5321 4.1.1.1).
    Ehlo,
    /// `HELO domain`.
    Helo,
    /// `MAIL FROM:<path> [params]`.
    Mail,
    /// `RCPT TO:<path> [params]`.
    Rcpt,
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]` (RFC 3030).
    Bdat,
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `VRFY`.
    Vrfy,
    /// `EXPN`.
    Expn,
    /// `HELP`.
    Help,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954).
    Auth,
    /// `ETRN` (RFC 1985).
    Etrn,
    /// `LHLO` (LMTP, RFC 2033).
    Lhlo,
    /// `ATRN` (RFC 2645).
    Atrn,
    /// `BURL` (RFC 4468).
    Burl,
    /// `TURN` (RFC 821, obsolete).
    Turn,
    /// Anything else: not an SMTP command.
    Unknown,
}

impl Verb {
    /// How many verbs there are (for tables indexed by `verb as usize`).
    pub const COUNT: usize = Verb::Unknown as usize + 1;

    /// Every verb a scenario rule may name, in the order the docs list them.
    pub const RULE_VERBS: [Verb; 15] = [
        Verb::Ehlo,
        Verb::Helo,
        Verb::Mail,
        Verb::Rcpt,
        Verb::Data,
        Verb::Bdat,
        Verb::Rset,
        Verb::Noop,
        Verb::Quit,
        Verb::Vrfy,
        Verb::Expn,
        Verb::Help,
        Verb::StartTls,
        Verb::Auth,
        Verb::Etrn,
    ];

    /// The verb of `word` (the first word of a line), ignoring case.
    pub fn parse(word: &[u8]) -> Verb {
        let mut upper = [0u8; 8];
        if word.len() > upper.len() {
            return Verb::Unknown;
        }
        for (u, b) in upper.iter_mut().zip(word) {
            *u = b.to_ascii_uppercase();
        }
        match &upper[..word.len()] {
            b"EHLO" => Verb::Ehlo,
            b"HELO" => Verb::Helo,
            b"MAIL" => Verb::Mail,
            b"RCPT" => Verb::Rcpt,
            b"DATA" => Verb::Data,
            b"BDAT" => Verb::Bdat,
            b"RSET" => Verb::Rset,
            b"NOOP" => Verb::Noop,
            b"QUIT" => Verb::Quit,
            b"VRFY" => Verb::Vrfy,
            b"EXPN" => Verb::Expn,
            b"HELP" => Verb::Help,
            b"STARTTLS" => Verb::StartTls,
            b"AUTH" => Verb::Auth,
            b"ETRN" => Verb::Etrn,
            b"LHLO" => Verb::Lhlo,
            b"ATRN" => Verb::Atrn,
            b"BURL" => Verb::Burl,
            b"TURN" => Verb::Turn,
            _ => Verb::Unknown,
        }
    }

    /// The verb as written on the wire, upper case (`"?"` for [`Verb::Unknown`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Ehlo => "EHLO",
            Verb::Helo => "HELO",
            Verb::Mail => "MAIL",
            Verb::Rcpt => "RCPT",
            Verb::Data => "DATA",
            Verb::Bdat => "BDAT",
            Verb::Rset => "RSET",
            Verb::Noop => "NOOP",
            Verb::Quit => "QUIT",
            Verb::Vrfy => "VRFY",
            Verb::Expn => "EXPN",
            Verb::Help => "HELP",
            Verb::StartTls => "STARTTLS",
            Verb::Auth => "AUTH",
            Verb::Etrn => "ETRN",
            Verb::Lhlo => "LHLO",
            Verb::Atrn => "ATRN",
            Verb::Burl => "BURL",
            Verb::Turn => "TURN",
            Verb::Unknown => "?",
        }
    }

    /// The verb a rule names (`when STARTTLS`): one of [`Verb::RULE_VERBS`], upper case.
    pub fn of_rule(word: &str) -> Option<Verb> {
        Self::RULE_VERBS.into_iter().find(|v| v.as_str() == word)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Verb {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_recognised_in_any_case_and_round_trip() {
        for verb in Verb::RULE_VERBS {
            assert_eq!(Verb::parse(verb.as_str().as_bytes()), verb);
            assert_eq!(
                Verb::parse(verb.as_str().to_ascii_lowercase().as_bytes()),
                verb
            );
            assert_eq!(Verb::of_rule(verb.as_str()), Some(verb));
        }
        assert_eq!(Verb::parse(b"StartTls"), Verb::StartTls);
        assert_eq!(Verb::parse(b"MAILX"), Verb::Unknown);
        assert_eq!(Verb::parse(b"STARTTLSX"), Verb::Unknown);
        assert_eq!(Verb::parse(b""), Verb::Unknown);
        assert_eq!(Verb::of_rule("LHLO"), None);
    }
}
