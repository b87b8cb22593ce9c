//! The built-in replies: sane RFC 5321 behaviour for whatever a scenario does not script.
//! Texts follow Postfix where it has one, so that clients see familiar wording.

use crate::reply::Reply;
use crate::scenario::Scenario;

pub(crate) fn greeting(scenario: &Scenario) -> Reply {
    Reply::new(220, &format!("{} ESMTP smtp-harness", scenario.hostname))
}

/// The default EHLO reply: every extension the server implements.
pub(crate) fn ehlo(scenario: &Scenario, client: &str, tls_active: bool) -> Reply {
    let mut lines = vec![format!("{} Hello {}", scenario.hostname, printable(client))];
    lines.push("PIPELINING".into());
    lines.push(format!("SIZE {}", scenario.max_size));
    if scenario.certificate.is_some() && !tls_active {
        lines.push("STARTTLS".into());
    }
    lines.push("AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2".into());
    lines.push("ENHANCEDSTATUSCODES".into());
    lines.push("8BITMIME".into());
    lines.push("SMTPUTF8".into());
    lines.push("CHUNKING".into());
    Reply::multi(250, lines)
}

pub(crate) fn ok(text: &str) -> Reply {
    Reply::new(250, text)
}

pub(crate) fn need_helo() -> Reply {
    Reply::new(503, "5.5.1 Error: send HELO/EHLO first")
}
pub(crate) fn nested_mail() -> Reply {
    Reply::new(503, "5.5.1 Error: nested MAIL command")
}
pub(crate) fn need_mail() -> Reply {
    Reply::new(503, "5.5.1 Error: need MAIL command")
}
pub(crate) fn need_rcpt() -> Reply {
    Reply::new(554, "5.5.1 Error: no valid recipients")
}
pub(crate) fn auth_not_enabled() -> Reply {
    Reply::new(503, "5.5.1 Error: authentication not enabled")
}
pub(crate) fn already_authenticated() -> Reply {
    Reply::new(503, "5.5.1 Error: already authenticated")
}
pub(crate) fn auth_in_transaction() -> Reply {
    Reply::new(503, "5.5.1 Error: MAIL transaction in progress")
}
pub(crate) fn unknown_mechanism() -> Reply {
    Reply::new(504, "5.5.4 Unrecognized authentication type")
}
pub(crate) fn auth_ok() -> Reply {
    Reply::new(235, "2.7.0 Authentication successful")
}
pub(crate) fn not_recognized() -> Reply {
    Reply::new(500, "5.5.2 Error: command not recognized")
}
pub(crate) fn not_implemented() -> Reply {
    Reply::new(502, "5.5.1 Error: command not implemented")
}
pub(crate) fn line_too_long() -> Reply {
    Reply::new(500, "5.5.2 Error: line too long")
}
pub(crate) fn text_line_too_long() -> Reply {
    Reply::new(500, "5.5.2 Error: message line longer than 1000 octets")
}
pub(crate) fn too_big() -> Reply {
    Reply::new(552, "5.3.4 Error: message file too big")
}
pub(crate) fn syntax(usage: &str) -> Reply {
    Reply::new(501, &format!("5.5.4 Syntax: {usage}"))
}
pub(crate) fn start_data() -> Reply {
    Reply::new(354, "End data with <CR><LF>.<CR><LF>")
}
pub(crate) fn queued(id: &str) -> Reply {
    Reply::new(250, &format!("2.0.0 Ok: queued as {id}"))
}
pub(crate) fn tls_ready() -> Reply {
    Reply::new(220, "2.0.0 Ready to start TLS")
}
pub(crate) fn tls_active() -> Reply {
    Reply::new(554, "5.5.1 Error: TLS already active")
}
pub(crate) fn bye() -> Reply {
    Reply::new(221, "2.0.0 Bye")
}
pub(crate) fn idle_timeout(scenario: &Scenario) -> Reply {
    Reply::new(
        421,
        &format!("4.4.2 {} Error: timeout exceeded", scenario.hostname),
    )
}
pub(crate) fn shutting_down(scenario: &Scenario) -> Reply {
    Reply::new(
        421,
        &format!("4.3.2 {} Service shutting down", scenario.hostname),
    )
}

/// Client text made safe to echo in a reply: control characters (a bare CR, say) become `?`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Reply for a line smtp-proto could not parse.
pub(crate) fn parse_error(error: &smtp_proto::Error) -> Reply {
    use smtp_proto::Error as E;
    match error {
        E::UnknownCommand => not_recognized(),
        E::SyntaxError { syntax: usage } => syntax(usage),
        E::InvalidSenderAddress => Reply::new(501, "5.1.7 Bad sender address syntax"),
        E::InvalidRecipientAddress => Reply::new(501, "5.1.3 Bad recipient address syntax"),
        E::UnsupportedParameter { param } => {
            let param = printable(param);
            Reply::new(555, &format!("5.5.4 Unsupported option: {param}"))
        }
        E::InvalidParameter { param } => Reply::new(501, &format!("5.5.4 Bad parameter: {param}")),
        E::ResponseTooLong | E::NeedsMoreData { .. } => line_too_long(),
        E::InvalidResponse { .. } => not_recognized(),
    }
}
