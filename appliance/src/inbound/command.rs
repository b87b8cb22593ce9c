//! SMTP commands as the receiving server reads them (RFC 5321 section 4.1), parsed by hand and
//! strictly: the verb, then exactly what the verb allows. Paths are `<local@domain>` (a source
//! route `<@a,@b:local@domain>` is reduced to the mailbox), `<>` only for `MAIL`.

/// One command line, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `EHLO domain`.
    Ehlo(String),
    /// `HELO domain`.
    Helo(String),
    /// `MAIL FROM:<path> [params]`.
    Mail {
        /// The reverse path ("" for `<>`).
        from: String,
        /// `SIZE=` when given.
        size: Option<u64>,
    },
    /// `RCPT TO:<path>`.
    Rcpt(String),
    /// `DATA`.
    Data,
    /// `RSET`.
    Rset,
    /// `NOOP [text]`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `VRFY text`.
    Vrfy,
    /// `HELP [text]`.
    Help,
    /// `STARTTLS`.
    StartTls,
    /// A command this server knows but does not offer (AUTH, EXPN, BDAT, ETRN, TURN …).
    NotImplemented,
}

/// Why a line is not a command this server can run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// Not an SMTP verb: `500 5.5.2`.
    Unknown,
    /// The verb's arguments are wrong: `501` with this enhanced code and text.
    Syntax(&'static str),
    /// A `MAIL` or `RCPT` parameter that is not supported: `555 5.5.4`.
    Parameter(String),
}

/// Parses one command line (without its line ending).
///
/// # Errors
/// [`CommandError`]: an unknown verb, bad arguments, or an unsupported parameter.
pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
    let line = std::str::from_utf8(line).map_err(|_| CommandError::Unknown)?;
    let (verb, rest) = match line.find(' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, ""),
    };
    let no_args = |cmd: Command, syntax: &'static str| {
        if rest.trim().is_empty() {
            Ok(cmd)
        } else {
            Err(CommandError::Syntax(syntax))
        }
    };
    match verb.to_ascii_uppercase().as_str() {
        "EHLO" => domain_arg(rest, "5.5.4 Syntax: EHLO hostname").map(Command::Ehlo),
        "HELO" => domain_arg(rest, "5.5.4 Syntax: HELO hostname").map(Command::Helo),
        "MAIL" => mail(rest),
        "RCPT" => rcpt(rest),
        "DATA" => no_args(Command::Data, "5.5.4 Syntax: DATA"),
        "RSET" => no_args(Command::Rset, "5.5.4 Syntax: RSET"),
        "QUIT" => no_args(Command::Quit, "5.5.4 Syntax: QUIT"),
        "STARTTLS" => no_args(Command::StartTls, "5.5.4 Syntax: STARTTLS"),
        "NOOP" => Ok(Command::Noop),
        "HELP" => Ok(Command::Help),
        "VRFY" if rest.trim().is_empty() => Err(CommandError::Syntax("5.5.4 Syntax: VRFY address")),
        "VRFY" => Ok(Command::Vrfy),
        "AUTH" | "EXPN" | "BDAT" | "ETRN" | "TURN" | "ATRN" | "BURL" | "SEND" | "SOML" | "SAML" => {
            Ok(Command::NotImplemented)
        }
        _ => Err(CommandError::Unknown),
    }
}

fn domain_arg(rest: &str, syntax: &'static str) -> Result<String, CommandError> {
    let arg = rest.trim();
    if arg.is_empty() || arg.contains(' ') || arg.chars().any(char::is_control) {
        return Err(CommandError::Syntax(syntax));
    }
    Ok(arg.to_owned())
}

/// The path after `FROM:` or `TO:` and the parameters after it.
fn path_and_params<'a>(
    rest: &'a str,
    keyword: &str,
    syntax: &'static str,
) -> Result<(&'a str, Vec<&'a str>), CommandError> {
    let head = rest
        .get(..keyword.len())
        .filter(|h| h.eq_ignore_ascii_case(keyword))
        .ok_or(CommandError::Syntax(syntax))?;
    // Many clients put a space after the colon; RFC 5321 does not, but Postfix accepts it.
    let rest = rest[head.len()..]
        .strip_prefix(' ')
        .unwrap_or(&rest[head.len()..]);
    let rest = rest.strip_prefix('<').ok_or(CommandError::Syntax(syntax))?;
    let end = rest.find('>').ok_or(CommandError::Syntax(syntax))?;
    let path = &rest[..end];
    let after = &rest[end + 1..];
    if !(after.is_empty() || after.starts_with(' ')) {
        return Err(CommandError::Syntax(syntax));
    }
    Ok((path, after.split(' ').filter(|p| !p.is_empty()).collect()))
}

/// Checks a mailbox `local@domain` (a source route before it is dropped); `None` if malformed.
fn mailbox(path: &str) -> Option<String> {
    let path = match path.strip_prefix('@') {
        Some(_) => path.split_once(':')?.1,
        None => path,
    };
    let (local, domain) = path.rsplit_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && if local.starts_with('"') {
            local.len() >= 2 && local.ends_with('"')
        } else {
            !local.contains([' ', '<', '>', '(', ')', ',', ';', ':', '\\', '"', '[', ']'])
        }
        && !local.chars().any(char::is_control);
    let domain_ok = !domain.is_empty()
        && domain.len() <= 255
        && (domain.starts_with('[') && domain.ends_with(']')
            || domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b >= 0x80)
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains(".."));
    (local_ok && domain_ok).then(|| path.to_owned())
}

fn mail(rest: &str) -> Result<Command, CommandError> {
    const SYNTAX: &str = "5.5.4 Syntax: MAIL FROM:<address>";
    let (path, params) = path_and_params(rest, "FROM:", SYNTAX)?;
    let from = if path.is_empty() {
        String::new()
    } else {
        mailbox(path).ok_or(CommandError::Syntax("5.1.7 Bad sender address syntax"))?
    };
    let mut size = None;
    for param in params {
        let (key, value) = match param.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (param, None),
        };
        match (key.to_ascii_uppercase().as_str(), value) {
            ("SIZE", Some(v)) => {
                size = Some(
                    v.parse()
                        .map_err(|_| CommandError::Syntax("5.5.4 Bad message size syntax"))?,
                );
            }
            ("BODY", Some(v))
                if v.eq_ignore_ascii_case("7BIT") || v.eq_ignore_ascii_case("8BITMIME") => {}
            ("SMTPUTF8", None) => {}
            _ => return Err(CommandError::Parameter(param.to_owned())),
        }
    }
    Ok(Command::Mail { from, size })
}

fn rcpt(rest: &str) -> Result<Command, CommandError> {
    const SYNTAX: &str = "5.5.4 Syntax: RCPT TO:<address>";
    let (path, params) = path_and_params(rest, "TO:", SYNTAX)?;
    if let Some(param) = params.first() {
        return Err(CommandError::Parameter((*param).to_owned()));
    }
    mailbox(path)
        .map(Command::Rcpt)
        .ok_or(CommandError::Syntax("5.1.3 Bad recipient address syntax"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Command, CommandError> {
        parse(line.as_bytes())
    }

    #[test]
    fn commands() {
        assert_eq!(p("EHLO a.test"), Ok(Command::Ehlo("a.test".into())));
        assert_eq!(p("ehlo a.test"), Ok(Command::Ehlo("a.test".into())));
        assert!(matches!(p("EHLO"), Err(CommandError::Syntax(_))));
        assert!(matches!(p("EHLO a b"), Err(CommandError::Syntax(_))));
        assert_eq!(
            p("MAIL FROM:<a@b.test> SIZE=100 BODY=8BITMIME"),
            Ok(Command::Mail {
                from: "a@b.test".into(),
                size: Some(100)
            })
        );
        assert_eq!(
            p("MAIL FROM:<>"),
            Ok(Command::Mail {
                from: String::new(),
                size: None
            })
        );
        assert_eq!(
            p("MAIL FROM: <a@b.test>"),
            Ok(Command::Mail {
                from: "a@b.test".into(),
                size: None
            })
        );
        assert!(matches!(
            p("MAIL FROM:a@b.test"),
            Err(CommandError::Syntax(_))
        ));
        assert!(matches!(
            p("MAIL TO:<a@b.test>"),
            Err(CommandError::Syntax(_))
        ));
        assert!(matches!(
            p("MAIL FROM:<a@b.test> FOO=1"),
            Err(CommandError::Parameter(_))
        ));
        assert!(matches!(
            p("MAIL FROM:<a b@c>"),
            Err(CommandError::Syntax(_))
        ));
        assert_eq!(
            p("RCPT TO:<x@Reply.Host.test>"),
            Ok(Command::Rcpt("x@Reply.Host.test".into()))
        );
        assert_eq!(
            p("RCPT TO:<@relay.test:x@y.test>"),
            Ok(Command::Rcpt("x@y.test".into()))
        );
        assert!(matches!(p("RCPT TO:<>"), Err(CommandError::Syntax(_))));
        assert!(matches!(
            p("RCPT TO:<postmaster>"),
            Err(CommandError::Syntax(_))
        ));
        assert!(matches!(p("DATA x"), Err(CommandError::Syntax(_))));
        assert!(matches!(p("STARTTLS now"), Err(CommandError::Syntax(_))));
        assert_eq!(p("AUTH PLAIN AAAA"), Ok(Command::NotImplemented));
        assert_eq!(p("FOO"), Err(CommandError::Unknown));
        assert_eq!(parse(b"\xff\xfe"), Err(CommandError::Unknown));
    }
}
