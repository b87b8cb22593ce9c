//! Syntax checks shared by the settings and the SMTP envelope: host names, server addresses
//! (host name or IP address), email addresses and support URLs.
//!
//! The checks are deliberately strict: what passes here can be written into an SMTP command
//! line (`EHLO`, `MAIL FROM:<…>`) or a mail header without escaping.

use std::net::{IpAddr, Ipv6Addr};

/// Why a string is not acceptable; the text completes "must be …" style messages.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// Not a host name (RFC 1123 labels).
    #[error("not a valid host name: {0}")]
    HostName(&'static str),
    /// Looks like an IP address but is not a valid one.
    #[error("not a valid IP address")]
    IpAddress,
    /// Not an email address of the form `local@domain`.
    #[error("not a valid email address: {0}")]
    EmailAddress(&'static str),
}

impl SyntaxError {
    /// What exactly is wrong, without the "not a valid …" preamble.
    pub fn reason(&self) -> &'static str {
        match self {
            SyntaxError::HostName(r) | SyntaxError::EmailAddress(r) => r,
            SyntaxError::IpAddress => "not a valid IP address",
        }
    }
}

/// Checks a host name: at most 253 octets, labels of 1-63 letters, digits and hyphens that
/// neither start nor end with a hyphen, and not all-numeric (that would be an IPv4 address).
pub fn check_host_name(name: &str) -> Result<(), SyntaxError> {
    if name.is_empty() {
        return Err(SyntaxError::HostName("it is empty"));
    }
    if name.len() > 253 {
        return Err(SyntaxError::HostName("it is longer than 253 characters"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(SyntaxError::HostName(
                "it has an empty label (two dots in a row, or a dot at an end)",
            ));
        }
        if label.len() > 63 {
            return Err(SyntaxError::HostName(
                "a label is longer than 63 characters",
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(SyntaxError::HostName(
                "only letters, digits, hyphens and dots are allowed",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(SyntaxError::HostName(
                "a label starts or ends with a hyphen",
            ));
        }
    }
    if name
        .split('.')
        .all(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(SyntaxError::HostName(
            "it is all digits (an IP address is not a host name)",
        ));
    }
    Ok(())
}

/// A server address: a host name, an IPv4 address, or an IPv6 address (with or without
/// brackets). Returns the address as it is used to connect and to verify the certificate
/// (IPv6 without brackets).
pub fn parse_server_address(text: &str) -> Result<String, SyntaxError> {
    let unbracketed = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    if unbracketed.contains(':') {
        return unbracketed
            .parse::<Ipv6Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| SyntaxError::IpAddress);
    }
    let numeric = !text.is_empty()
        && text
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()));
    if numeric {
        return Err(SyntaxError::IpAddress);
    }
    check_host_name(text)?;
    Ok(text.to_owned())
}

/// Characters allowed in a dot-atom local part (RFC 5322 `atext`).
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// Checks a plain email address `local@domain` (RFC 5321 `Mailbox` with a dot-atom local part
/// and a host-name domain; no display name, no quoted local part, no address literal).
pub fn check_email_address(address: &str) -> Result<(), SyntaxError> {
    if address.contains(['<', '>', ' ']) {
        return Err(SyntaxError::EmailAddress(
            "write the bare address, like noreply@example.com, without a name or angle brackets",
        ));
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(SyntaxError::EmailAddress("it has no @"));
    };
    if local.is_empty() {
        return Err(SyntaxError::EmailAddress("nothing before the @"));
    }
    if local.len() > 64 {
        return Err(SyntaxError::EmailAddress(
            "the part before the @ is longer than 64 characters",
        ));
    }
    if address.len() > 254 {
        return Err(SyntaxError::EmailAddress(
            "it is longer than 254 characters",
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(SyntaxError::EmailAddress(
            "the part before the @ has a misplaced dot",
        ));
    }
    if !local.bytes().all(|b| is_atext(b) || b == b'.') {
        return Err(SyntaxError::EmailAddress(
            "the part before the @ has a character that needs quoting",
        ));
    }
    check_host_name(domain)
        .map_err(|_| SyntaxError::EmailAddress("the part after the @ is not a valid domain"))
}

/// `true` if `text` is an `http://` or `https://` URL with a host and no white space or
/// control characters.
pub fn is_web_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        for ok in ["localhost", "smtp.gmail.com", "a-b.example", "x1.y2"] {
            assert_eq!(check_host_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a..b",
            ".a",
            "a.",
            "-a.b",
            "a-.b",
            "a_b.c",
            "1.2.3.4",
            "héllo.example",
            &"a".repeat(64),
        ] {
            assert!(check_host_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_addresses() {
        assert_eq!(parse_server_address("127.0.0.1").unwrap(), "127.0.0.1");
        assert_eq!(parse_server_address("[::1]").unwrap(), "::1");
        assert_eq!(parse_server_address("::1").unwrap(), "::1");
        assert_eq!(
            parse_server_address("smtp.gmail.com").unwrap(),
            "smtp.gmail.com"
        );
        assert_eq!(
            parse_server_address("300.1.1.1"),
            Err(SyntaxError::IpAddress)
        );
        assert_eq!(parse_server_address("::g"), Err(SyntaxError::IpAddress));
        assert!(parse_server_address("smtp..gmail.com").is_err());
        assert!(parse_server_address("smtp.gmail.com:587").is_err());
    }

    #[test]
    fn email_addresses() {
        for ok in ["a@b.c", "no-reply+x@appliance.example.com", "o'hara@x.y"] {
            assert_eq!(check_email_address(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a",
            "@b.c",
            "a@",
            "a@b..c",
            ".a@b.c",
            "a..b@c.d",
            "A <a@b.c>",
            "<a@b.c>",
            "a b@c.d",
            "a\"b@c.d",
            "a@b.c\r\nRCPT TO:<x@y>",
        ] {
            assert!(check_email_address(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls() {
        assert!(is_web_url("https://support.example.com"));
        assert!(is_web_url("HTTP://x/y?z"));
        assert!(!is_web_url("ftp://x"));
        assert!(!is_web_url("https://"));
        assert!(!is_web_url("https://a b"));
    }
}
