//! The protocol judgements made before any rule: the order of commands (RFC 5321 4.1.4,
//! RFC 3030, RFC 4954) and MAIL/RCPT parameters against the EHLO reply the client was actually
//! sent (RFC 5321 4.1.1.11, RFC 1870, 6152, 3030, 3461, 6531). Pure functions of the session's
//! state and the command: no socket, no scenario.

use super::command::Command;
use super::defaults::Defaults;
use super::state::SessionState;
use crate::reply::Reply;
use crate::wire::Verb;

/// The reply for a command out of order, if it is.
pub(crate) fn sequence(state: &SessionState, cmd: &Command, d: &Defaults) -> Option<Reply> {
    let envelope = state.envelope.as_ref();
    let no_rcpt = envelope.is_some_and(|e| e.rcpt_to.is_empty());
    match cmd.verb {
        Verb::Mail if state.helo.is_none() => Some(d.need_helo()),
        Verb::Mail if envelope.is_some() => Some(d.nested_mail()),
        Verb::Rcpt if envelope.is_none() => Some(d.need_mail()),
        // Postfix 3.7: "503 5.5.1 Error: RCPT after BDAT".
        Verb::Rcpt if state.chunking => Some(d.rcpt_after_bdat()),
        // Postfix 3.7 asks for the RCPT first: "503 5.5.1 Error: need RCPT command".
        Verb::Data | Verb::Bdat if envelope.is_none() => Some(d.need_rcpt_command()),
        // RFC 3030 section 3: "DATA and BDAT commands cannot be used in the same
        // transaction"; Postfix 3.7: "503 5.5.1 Error: DATA after BDAT".
        Verb::Data if state.chunking => Some(d.data_after_bdat()),
        Verb::Data | Verb::Bdat if no_rcpt => Some(d.need_rcpt()),
        Verb::Auth if state.helo.is_none() => Some(d.need_helo()),
        // RFC 4954 section 4: one successful AUTH per session, none during a transaction.
        Verb::Auth if state.authenticated_as.is_some() => Some(d.already_authenticated()),
        Verb::Auth if envelope.is_some() => Some(d.auth_in_transaction()),
        _ => None,
    }
}

/// The extension a MAIL parameter needs (`None`: no extension defines it).
fn mail_parameter_extension(name: &str, value: &str) -> Option<&'static str> {
    Some(match name {
        "SIZE" => "SIZE",                                                   // RFC 1870
        "BODY" if value.eq_ignore_ascii_case("BINARYMIME") => "BINARYMIME", // RFC 3030
        "BODY" => "8BITMIME",                                               // RFC 6152
        "SMTPUTF8" => "SMTPUTF8",                                           // RFC 6531
        "RET" | "ENVID" => "DSN",                                           // RFC 3461
        "AUTH" => "AUTH",                                                   // RFC 4954
        "REQUIRETLS" => "REQUIRETLS",                                       // RFC 8689
        "MT-PRIORITY" => "MT-PRIORITY",                                     // RFC 6710
        "BY" => "DELIVERBY",                                                // RFC 2852
        "HOLDFOR" | "HOLDUNTIL" => "FUTURERELEASE",                         // RFC 4865
        "MTRK" => "MTRK",                                                   // RFC 3885
        _ => return None,
    })
}

/// The extension a RCPT parameter needs.
fn rcpt_parameter_extension(name: &str) -> Option<&'static str> {
    Some(match name {
        "NOTIFY" | "ORCPT" => "DSN", // RFC 3461
        "RRVS" => "RRVS",            // RFC 7293
        _ => return None,
    })
}

/// The reply for a MAIL or RCPT parameter the client may not use, or a non-ASCII address it
/// may not send, if there is one.
///
/// A parameter is only allowed when the last EHLO reply advertised the extension that defines
/// it: never after HELO (RFC 5321 4.1.1.11, "MAIL-parameters … only when … EHLO"), `BODY=8BITMIME`
/// with 8BITMIME, `BODY=BINARYMIME` with BINARYMIME, `NOTIFY=`/`ORCPT=` with DSN, and so on.
/// (Postfix is laxer: it judges by its own configuration, so it takes `SIZE=` after HELO.)
/// A non-ASCII path needs SMTPUTF8 advertised and declared on MAIL (RFC 6531 section 3.4);
/// otherwise `553 5.6.7`.
pub(crate) fn parameters(state: &SessionState, cmd: &Command, d: &Defaults) -> Option<Reply> {
    if !matches!(cmd.verb, Verb::Mail | Verb::Rcpt) {
        return None;
    }
    let words = cmd.param_words();
    for word in &words {
        let (name, value) = word.split_once('=').unwrap_or((word, ""));
        let name = name.to_ascii_uppercase();
        let needs = match cmd.verb {
            Verb::Mail => mail_parameter_extension(&name, value),
            _ => rcpt_parameter_extension(&name),
        };
        let allowed = state.esmtp && needs.is_some_and(|ext| state.extensions.has(ext));
        if !allowed {
            return Some(d.unsupported_parameter(word));
        }
    }
    let utf8_declared = match cmd.verb {
        Verb::Mail => words.iter().any(|w| w.eq_ignore_ascii_case("SMTPUTF8")),
        _ => state.envelope.as_ref().is_some_and(|e| e.smtputf8),
    };
    if !cmd.path().is_ascii() && !utf8_declared {
        return Some(d.non_ascii_address());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::ServerScenario;
    use crate::server::session::state::{Envelope, Extensions};

    fn cmd(line: &str) -> Command {
        Command::new(format!("{line}\r\n").as_bytes())
    }

    fn after_ehlo(keywords: &[&str]) -> SessionState {
        let mut lines = vec!["250-mx.test".to_owned()];
        lines.extend(keywords.iter().map(|k| format!("250-{k}")));
        let last = lines.pop().unwrap().replacen("250-", "250 ", 1);
        lines.push(last);
        SessionState {
            helo: Some("client".into()),
            esmtp: true,
            extensions: Extensions::from_ehlo_reply(&Reply::from_lines(lines).unwrap()),
            ..SessionState::default()
        }
    }

    fn in_transaction(mut state: SessionState, rcpts: usize) -> SessionState {
        state.envelope = Some(Envelope {
            rcpt_to: vec!["b@c".into(); rcpts],
            ..Envelope::default()
        });
        state
    }

    fn code(reply: Option<Reply>) -> Option<u16> {
        reply.map(|r| r.code())
    }

    #[test]
    fn commands_out_of_order_get_503_or_554() {
        let d = Defaults::new(&ServerScenario::accept_all());
        let fresh = SessionState::default();
        let greeted = after_ehlo(&["PIPELINING"]);
        assert_eq!(
            code(sequence(&fresh, &cmd("MAIL FROM:<a@b>"), &d)),
            Some(503)
        );
        assert_eq!(code(sequence(&greeted, &cmd("MAIL FROM:<a@b>"), &d)), None);
        assert_eq!(
            code(sequence(&greeted, &cmd("RCPT TO:<a@b>"), &d)),
            Some(503)
        );
        assert_eq!(code(sequence(&greeted, &cmd("DATA"), &d)), Some(503));
        let mailing = in_transaction(greeted.clone(), 0);
        assert_eq!(
            code(sequence(&mailing, &cmd("MAIL FROM:<a@b>"), &d)),
            Some(503)
        );
        assert_eq!(code(sequence(&mailing, &cmd("DATA"), &d)), Some(554));
        assert_eq!(code(sequence(&mailing, &cmd("BDAT 1 LAST"), &d)), Some(554));
        assert_eq!(code(sequence(&mailing, &cmd("AUTH PLAIN"), &d)), Some(503));
        let ready = in_transaction(greeted, 1);
        assert_eq!(code(sequence(&ready, &cmd("DATA"), &d)), None);
    }

    /// RFC 3030 section 3: once BDAT has been used, DATA (and more RCPTs) are out of order
    /// until the transaction ends. Postfix 3.7 answers both with 503 5.5.1.
    #[test]
    fn data_and_rcpt_after_bdat_are_503() {
        let d = Defaults::new(&ServerScenario::accept_all());
        let mut chunking = in_transaction(after_ehlo(&["CHUNKING"]), 1);
        chunking.chunking = true;
        assert_eq!(
            sequence(&chunking, &cmd("DATA"), &d).map(|r| r.to_string()),
            Some("503 5.5.1 Error: DATA after BDAT".into())
        );
        assert_eq!(
            code(sequence(&chunking, &cmd("RCPT TO:<x@y>"), &d)),
            Some(503)
        );
        assert_eq!(code(sequence(&chunking, &cmd("BDAT 10 LAST"), &d)), None);
    }

    #[test]
    fn parameters_are_judged_against_the_ehlo_reply_sent() {
        let d = Defaults::new(&ServerScenario::accept_all());
        let all = after_ehlo(&["SIZE 100", "8BITMIME", "BINARYMIME", "DSN", "SMTPUTF8"]);
        let bare = after_ehlo(&["PIPELINING"]);
        let helo = SessionState {
            helo: Some("client".into()),
            ..SessionState::default()
        };
        for line in [
            "MAIL FROM:<a@b> SIZE=10",
            "MAIL FROM:<a@b> BODY=8BITMIME",
            "MAIL FROM:<a@b> BODY=BINARYMIME",
            "MAIL FROM:<a@b> RET=HDRS ENVID=x",
            "MAIL FROM:<ä@b> SMTPUTF8",
        ] {
            assert_eq!(code(parameters(&all, &cmd(line), &d)), None, "{line}");
            // RFC 5321 4.1.1.11: without the extension in the EHLO reply, 555.
            assert_eq!(code(parameters(&bare, &cmd(line), &d)), Some(555), "{line}");
            // After HELO no extension was advertised at all.
            assert_eq!(code(parameters(&helo, &cmd(line), &d)), Some(555), "{line}");
        }
        assert_eq!(
            parameters(&bare, &cmd("MAIL FROM:<a@b> BODY=BINARYMIME"), &d).map(|r| r.to_string()),
            Some("555 5.5.4 Unsupported option: BODY=BINARYMIME".into())
        );
        assert_eq!(
            code(parameters(&all, &cmd("MAIL FROM:<a@b> FOO=1"), &d)),
            Some(555)
        );
        let rcpt = in_transaction(all.clone(), 0);
        assert_eq!(
            code(parameters(
                &rcpt,
                &cmd("RCPT TO:<x@y> NOTIFY=NEVER ORCPT=rfc822;x@y"),
                &d
            )),
            None
        );
        let rcpt_bare = in_transaction(bare, 0);
        assert_eq!(
            code(parameters(
                &rcpt_bare,
                &cmd("RCPT TO:<x@y> NOTIFY=NEVER"),
                &d
            )),
            Some(555)
        );
        assert_eq!(code(parameters(&all, &cmd("MAIL FROM:<a@b>"), &d)), None);
    }

    /// RFC 6531 section 3.4: a non-ASCII address needs SMTPUTF8 on MAIL; 553 5.6.7 otherwise.
    #[test]
    fn non_ascii_addresses_need_smtputf8_declared() {
        let d = Defaults::new(&ServerScenario::accept_all());
        let utf8 = after_ehlo(&["SMTPUTF8"]);
        let reply = parameters(&utf8, &cmd("MAIL FROM:<ä@b>"), &d).unwrap();
        assert_eq!(reply.code(), 553);
        assert!(reply.to_string().starts_with("553 5.6.7 "));
        let mut declared = in_transaction(utf8.clone(), 0);
        declared.envelope.as_mut().unwrap().smtputf8 = true;
        assert_eq!(code(parameters(&declared, &cmd("RCPT TO:<ü@b>"), &d)), None);
        let undeclared = in_transaction(utf8, 0);
        assert_eq!(
            code(parameters(&undeclared, &cmd("RCPT TO:<ü@b>"), &d)),
            Some(553)
        );
    }
}
