//! What the server advertises in its EHLO reply.

use super::reply::Reply;

/// The extensions of one EHLO reply (all off after HELO).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// `STARTTLS` is offered.
    pub starttls: bool,
    /// The AUTH mechanisms offered, upper case; `None` when there is no AUTH line at all.
    pub auth: Option<Vec<String>>,
    /// The `SIZE` limit, if one is advertised (`SIZE` alone or `SIZE 0`: no fixed limit).
    pub size: Option<u64>,
    /// `8BITMIME` is offered.
    pub eight_bit_mime: bool,
}

impl Capabilities {
    /// Reads the extension lines (every line but the first) of an EHLO reply. Both `AUTH
    /// LOGIN PLAIN` and the old `AUTH=LOGIN PLAIN` form are understood.
    pub fn from_ehlo(reply: &Reply) -> Self {
        let mut caps = Capabilities::default();
        for text in reply.texts().skip(1) {
            let (keyword, rest) = match text.split_once([' ', '=']) {
                Some((k, r)) => (k, r),
                None => (text, ""),
            };
            match keyword.to_ascii_uppercase().as_str() {
                "STARTTLS" => caps.starttls = true,
                "8BITMIME" => caps.eight_bit_mime = true,
                "SIZE" => caps.size = Some(rest.trim().parse().unwrap_or(0)),
                "AUTH" => {
                    let list = caps.auth.get_or_insert_with(Vec::new);
                    for mechanism in rest.split_ascii_whitespace() {
                        let mechanism = mechanism.to_ascii_uppercase();
                        if !list.contains(&mechanism) {
                            list.push(mechanism);
                        }
                    }
                }
                _ => {}
            }
        }
        caps
    }

    /// `true` if the server offers this SASL mechanism (upper case name).
    pub fn offers(&self, mechanism: &str) -> bool {
        self.auth
            .as_ref()
            .is_some_and(|list| list.iter().any(|m| m == mechanism))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(lines: &[&str]) -> Reply {
        Reply {
            code: 250,
            lines: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn reads_the_reference_list() {
        let caps = Capabilities::from_ehlo(&reply(&[
            "250-smtp.gmail.com at your service, [127.0.0.1]",
            "250-SIZE 35882577",
            "250-8BITMIME",
            "250-STARTTLS",
            "250 PIPELINING",
        ]));
        assert!(caps.starttls && caps.eight_bit_mime);
        assert_eq!(caps.size, Some(35882577));
        assert_eq!(caps.auth, None);
    }

    #[test]
    fn reads_both_auth_forms() {
        let caps = Capabilities::from_ehlo(&reply(&[
            "250-mx",
            "250-AUTH LOGIN plain",
            "250-AUTH=LOGIN CRAM-MD5",
            "250 SIZE",
        ]));
        assert_eq!(
            caps.auth.as_deref(),
            Some(&["LOGIN".to_owned(), "PLAIN".into(), "CRAM-MD5".into()][..])
        );
        assert!(caps.offers("CRAM-MD5") && !caps.offers("XOAUTH2"));
        assert_eq!(caps.size, Some(0));
        assert!(!caps.starttls);
    }
}
