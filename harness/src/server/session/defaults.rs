//! The built-in replies: what the server says for whatever a scenario does not script, in
//! Postfix's wording (checked against Debian's Postfix 3.7.11, see `harness/tests/postfix_parity.rs`)
//! or RFC 5321's neutral wording (`wording rfc`), unless the scenario gives its own text for the
//! situation (`default unrecognized` …).
//!
//! Built once per server: the fixed replies are made here, so a session clones them instead of
//! formatting them anew for each command.
//!
//! Over 500 lines on purpose: it is one table of situations, each with its Postfix text and its
//! RFC 5321 text side by side and the source each was checked against; split by wording, a
//! reader could no longer compare the two replies to one situation, and the tests below check
//! every row of both.

use std::collections::HashMap;

use crate::reply::Reply;
use crate::scenario::{ServerScenario, Situation, Wording};

/// The replies of one scenario's server.
#[derive(Clone, Debug)]
pub(crate) struct Defaults {
    wording: Wording,
    hostname: String,
    max_size: u64,
    certificate: bool,
    own: HashMap<Situation, Reply>,
    greeting: Reply,
    helo: Reply,
    mail_ok: Reply,
    rcpt_ok: Reply,
    ok: Reply,
    start_data: Reply,
    bye: Reply,
    help: Reply,
    vrfy: Reply,
    tls_ready: Reply,
    auth_ok: Reply,
}

/// Picks the text of the wording in use.
fn pick<'a>(wording: Wording, postfix: &'a str, rfc: &'a str) -> &'a str {
    match wording {
        Wording::Postfix => postfix,
        Wording::Rfc => rfc,
    }
}

impl Defaults {
    /// The replies for `scenario`.
    pub(crate) fn new(scenario: &ServerScenario) -> Self {
        let w = scenario.wording;
        let host = &scenario.header.hostname;
        Defaults {
            wording: w,
            hostname: host.clone(),
            max_size: scenario.max_size,
            certificate: scenario.header.certificate.is_some(),
            own: scenario
                .defaults
                .iter()
                .map(|d| (d.situation, d.reply.clone()))
                .collect(),
            // RFC 5321 4.2.3: "220 <domain> Service ready".
            greeting: Reply::new(
                220,
                &format!(
                    "{host} {}",
                    pick(w, "ESMTP smtp-harness", "ESMTP Service ready")
                ),
            ),
            helo: Reply::new(250, host),
            mail_ok: Reply::new(250, pick(w, "2.1.0 Ok", "2.1.0 OK")),
            rcpt_ok: Reply::new(250, pick(w, "2.1.5 Ok", "2.1.5 OK")),
            ok: Reply::new(250, pick(w, "2.0.0 Ok", "2.0.0 OK")),
            // RFC 5321 4.2.3 and D.1: "354 Start mail input; end with <CRLF>.<CRLF>".
            start_data: Reply::new(
                354,
                pick(
                    w,
                    "End data with <CR><LF>.<CR><LF>",
                    "Start mail input; end with <CRLF>.<CRLF>",
                ),
            ),
            bye: match w {
                Wording::Postfix => Reply::new(221, "2.0.0 Bye"),
                Wording::Rfc => Reply::new(
                    221,
                    &format!("2.0.0 {host} Service closing transmission channel"),
                ),
            },
            // Postfix does not implement HELP: it answers as for an unknown command.
            help: match w {
                Wording::Postfix => Reply::new(500, "5.5.2 Error: command not recognized"),
                Wording::Rfc => Reply::new(
                    214,
                    "2.0.0 See RFC 5321: https://www.rfc-editor.org/rfc/rfc5321",
                ),
            },
            // RFC 5321 3.5.3: 252 when the server will not verify but will try to deliver.
            vrfy: Reply::new(
                252,
                "2.0.0 Cannot VRFY user, but will accept message and attempt delivery",
            ),
            // RFC 3207 section 4.
            tls_ready: Reply::new(220, "2.0.0 Ready to start TLS"),
            // RFC 4954 section 6.
            auth_ok: Reply::new(235, "2.7.0 Authentication successful"),
        }
    }

    /// The scenario's own reply for `situation`, or the built-in one.
    fn own_or(&self, situation: Situation, built_in: impl FnOnce() -> Reply) -> Reply {
        match self.own.get(&situation) {
            Some(reply) => reply.clone(),
            None => built_in(),
        }
    }

    fn text(&self, postfix: &str, rfc: &str) -> String {
        pick(self.wording, postfix, rfc).to_owned()
    }

    /// The greeting when the scenario scripts none.
    pub(crate) fn greeting(&self) -> Reply {
        self.greeting.clone()
    }

    /// The EHLO reply: every extension the server implements (STARTTLS while TLS is possible
    /// and not on yet).
    pub(crate) fn ehlo(&self, client: &str, tls_active: bool) -> Reply {
        let first = match self.wording {
            Wording::Postfix => format!("{} Hello {}", self.hostname, printable(client)),
            // RFC 5321 D.1: "250-foo.com greets bar.com".
            Wording::Rfc => format!("{} greets {}", self.hostname, printable(client)),
        };
        let mut lines = vec![
            first,
            "PIPELINING".into(),
            format!("SIZE {}", self.max_size),
        ];
        if self.certificate && !tls_active {
            lines.push("STARTTLS".into());
        }
        lines.extend(
            [
                "AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2",
                "ENHANCEDSTATUSCODES",
                "8BITMIME",
                "SMTPUTF8",
                "CHUNKING",
            ]
            .map(String::from),
        );
        Reply::multi(250, lines)
    }

    pub(crate) fn helo(&self) -> Reply {
        self.helo.clone()
    }
    pub(crate) fn mail_ok(&self) -> Reply {
        self.mail_ok.clone()
    }
    pub(crate) fn rcpt_ok(&self) -> Reply {
        self.rcpt_ok.clone()
    }
    /// RSET and NOOP.
    pub(crate) fn ok(&self) -> Reply {
        self.ok.clone()
    }
    pub(crate) fn start_data(&self) -> Reply {
        self.start_data.clone()
    }
    pub(crate) fn bye(&self) -> Reply {
        self.bye.clone()
    }
    pub(crate) fn help(&self) -> Reply {
        self.help.clone()
    }
    pub(crate) fn vrfy(&self) -> Reply {
        self.vrfy.clone()
    }
    pub(crate) fn tls_ready(&self) -> Reply {
        self.tls_ready.clone()
    }
    pub(crate) fn auth_ok(&self) -> Reply {
        self.auth_ok.clone()
    }

    /// The final reply to an accepted message (DATA, or BDAT LAST).
    pub(crate) fn queued(&self, id: &str) -> Reply {
        self.own_or(Situation::Queued, || match self.wording {
            Wording::Postfix => Reply::new(250, &format!("2.0.0 Ok: queued as {id}")),
            Wording::Rfc => Reply::new(250, "2.0.0 OK"),
        })
    }

    /// A BDAT chunk that is not the last was accepted. Postfix: `250 2.0.0 Ok: 3 bytes`.
    pub(crate) fn chunk_received(&self, size: usize) -> Reply {
        Reply::new(
            250,
            &match self.wording {
                Wording::Postfix => format!("2.0.0 Ok: {size} bytes"),
                Wording::Rfc => format!("2.0.0 {size} octets received"),
            },
        )
    }

    /// The last BDAT chunk completed an accepted message of `total` octets. Postfix:
    /// `250 2.0.0 Ok: 7 bytes queued as 31EBA98E07D`.
    pub(crate) fn chunks_queued(&self, total: usize, id: &str) -> Reply {
        self.own_or(Situation::Queued, || match self.wording {
            Wording::Postfix => Reply::new(250, &format!("2.0.0 Ok: {total} bytes queued as {id}")),
            Wording::Rfc => Reply::new(250, "2.0.0 OK"),
        })
    }

    fn sequence(&self, postfix: &str) -> Reply {
        self.own_or(Situation::Sequence, || {
            Reply::new(503, &self.text(postfix, "5.5.1 Bad sequence of commands"))
        })
    }
    /// A sequence error a scenario may word on its own (`default need-mail`), else as any
    /// other (`default sequence`), else built in.
    fn sequence_of(&self, situation: Situation, postfix: &str) -> Reply {
        match self.own.get(&situation) {
            Some(reply) => reply.clone(),
            None => self.sequence(postfix),
        }
    }
    pub(crate) fn need_helo(&self) -> Reply {
        self.sequence_of(Situation::NeedHelo, "5.5.1 Error: send HELO/EHLO first")
    }
    pub(crate) fn nested_mail(&self) -> Reply {
        self.sequence_of(Situation::NestedMail, "5.5.1 Error: nested MAIL command")
    }
    pub(crate) fn need_mail(&self) -> Reply {
        self.sequence_of(Situation::NeedMail, "5.5.1 Error: need MAIL command")
    }
    /// DATA or BDAT outside a transaction (Postfix names the RCPT it lacks first).
    pub(crate) fn need_rcpt_command(&self) -> Reply {
        self.sequence_of(Situation::NeedRcpt, "5.5.1 Error: need RCPT command")
    }
    /// RFC 3030 section 3: DATA may not follow BDAT in a transaction.
    pub(crate) fn data_after_bdat(&self) -> Reply {
        self.sequence("5.5.1 Error: DATA after BDAT")
    }
    pub(crate) fn rcpt_after_bdat(&self) -> Reply {
        self.sequence("5.5.1 Error: RCPT after BDAT")
    }
    pub(crate) fn already_authenticated(&self) -> Reply {
        self.sequence("5.5.1 Error: already authenticated")
    }
    pub(crate) fn auth_in_transaction(&self) -> Reply {
        self.sequence("5.5.1 Error: MAIL transaction in progress")
    }
    pub(crate) fn tls_active(&self) -> Reply {
        match self.wording {
            Wording::Postfix => Reply::new(554, "5.5.1 Error: TLS already active"),
            Wording::Rfc => self.sequence(""),
        }
    }
    /// DATA or BDAT with no accepted recipient (RFC 5321 3.3: "554 No valid recipients").
    pub(crate) fn need_rcpt(&self) -> Reply {
        self.own_or(Situation::NeedRcpt, || {
            Reply::new(
                554,
                &self.text(
                    "5.5.1 Error: no valid recipients",
                    "5.5.1 No valid recipients",
                ),
            )
        })
    }
    pub(crate) fn auth_not_enabled(&self) -> Reply {
        match self.wording {
            Wording::Postfix => self.sequence("5.5.1 Error: authentication not enabled"),
            Wording::Rfc => self.not_implemented(),
        }
    }
    /// RFC 4954 section 4: a mechanism the server does not support.
    pub(crate) fn unknown_mechanism(&self) -> Reply {
        Reply::new(504, "5.5.4 Unrecognized authentication type")
    }

    pub(crate) fn not_recognized(&self) -> Reply {
        self.own_or(Situation::Unrecognized, || {
            Reply::new(
                500,
                &self.text(
                    "5.5.2 Error: command not recognized",
                    "5.5.2 Syntax error, command unrecognized",
                ),
            )
        })
    }
    pub(crate) fn not_implemented(&self) -> Reply {
        self.own_or(Situation::NotImplemented, || {
            Reply::new(
                502,
                &self.text(
                    "5.5.1 Error: command not implemented",
                    "5.5.1 Command not implemented",
                ),
            )
        })
    }
    /// Arguments that do not parse; `usage` is Postfix's `Syntax: …` hint.
    pub(crate) fn syntax(&self, usage: &str) -> Reply {
        self.own_or(Situation::Syntax, || match self.wording {
            Wording::Postfix => Reply::new(501, &format!("5.5.4 Syntax: {usage}")),
            Wording::Rfc => Reply::new(501, "5.5.4 Syntax error in parameters or arguments"),
        })
    }
    /// A BDAT whose size cannot be read: the server cannot know where the chunk ends, so it
    /// closes after this reply (Postfix: `521 5.5.4 Syntax: BDAT count [LAST]`).
    pub(crate) fn bdat_syntax(&self) -> Reply {
        Reply::new(
            521,
            &self.text(
                "5.5.4 Syntax: BDAT count [LAST]",
                "5.5.4 Syntax error in parameters or arguments",
            ),
        )
    }
    /// A MAIL or RCPT parameter that was not advertised (Postfix:
    /// `555 5.5.4 Unsupported option: FOO=1`; RFC 5321 4.2.2 and 4.1.1.11).
    pub(crate) fn unsupported_parameter(&self, param: &str) -> Reply {
        self.own_or(Situation::Parameter, || match self.wording {
            Wording::Postfix => Reply::new(
                555,
                &format!("5.5.4 Unsupported option: {}", printable(param)),
            ),
            Wording::Rfc => Reply::new(
                555,
                "5.5.4 MAIL FROM/RCPT TO parameters not recognized or not implemented",
            ),
        })
    }
    /// A non-ASCII address without SMTPUTF8 (RFC 6531 section 3.5, status code X.6.7).
    pub(crate) fn non_ascii_address(&self) -> Reply {
        Reply::new(
            553,
            "5.6.7 Non-ASCII addresses not permitted for that sender/recipient",
        )
    }
    /// A SIZE= larger than the limit (RFC 1870 section 6).
    pub(crate) fn size_exceeded(&self) -> Reply {
        Reply::new(
            552,
            &self.text(
                "5.3.4 Message size exceeds fixed limit",
                "5.3.4 Message size exceeds fixed maximum message size",
            ),
        )
    }
    pub(crate) fn line_too_long(&self) -> Reply {
        self.own_or(Situation::LineTooLong, || {
            Reply::new(
                500,
                &self.text("5.5.2 Error: line too long", "5.5.6 Line too long"),
            )
        })
    }
    pub(crate) fn text_line_too_long(&self) -> Reply {
        Reply::new(
            500,
            &self.text(
                "5.5.2 Error: message line longer than 1000 octets",
                "5.5.6 Line too long",
            ),
        )
    }
    pub(crate) fn too_big(&self) -> Reply {
        Reply::new(
            552,
            &self.text(
                "5.3.4 Error: message file too big",
                "5.3.4 Requested mail action aborted: exceeded storage allocation",
            ),
        )
    }
    pub(crate) fn idle_timeout(&self) -> Reply {
        self.own_or(Situation::Timeout, || match self.wording {
            Wording::Postfix => Reply::new(
                421,
                &format!("4.4.2 {} Error: timeout exceeded", self.hostname),
            ),
            Wording::Rfc => Reply::new(
                421,
                &format!(
                    "4.4.2 {} Service not available, closing transmission channel",
                    self.hostname
                ),
            ),
        })
    }
    pub(crate) fn shutting_down(&self) -> Reply {
        self.own_or(Situation::Shutdown, || match self.wording {
            Wording::Postfix => Reply::new(
                421,
                &format!("4.3.2 {} Service shutting down", self.hostname),
            ),
            Wording::Rfc => Reply::new(
                421,
                &format!(
                    "4.3.2 {} Service not available, closing transmission channel",
                    self.hostname
                ),
            ),
        })
    }

    /// The reply for a line smtp-proto could not parse.
    pub(crate) fn parse_error(&self, error: &smtp_proto::Error) -> Reply {
        use smtp_proto::Error as E;
        match error {
            E::UnknownCommand => self.not_recognized(),
            E::SyntaxError { syntax: usage } => self.syntax(usage),
            E::InvalidSenderAddress => self.own_or(Situation::Syntax, || {
                Reply::new(501, "5.1.7 Bad sender address syntax")
            }),
            E::InvalidRecipientAddress => self.own_or(Situation::Syntax, || {
                Reply::new(501, "5.1.3 Bad recipient address syntax")
            }),
            E::UnsupportedParameter { param } => self.unsupported_parameter(param),
            E::InvalidParameter { param } => self.own_or(Situation::Syntax, || {
                Reply::new(501, &format!("5.5.4 Bad parameter: {param}"))
            }),
            E::ResponseTooLong | E::NeedsMoreData { .. } => self.line_too_long(),
            E::InvalidResponse { .. } => self.not_recognized(),
        }
    }
}

/// Client text made safe to echo in a reply: control characters (a bare CR, say) become `?`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(text: &str) -> ServerScenario {
        text.parse().unwrap()
    }

    #[test]
    fn postfix_wording_is_the_default_and_rfc_wording_is_neutral() {
        let postfix = Defaults::new(&scenario("hostname mx.test\n"));
        let rfc = Defaults::new(&scenario("hostname mx.test\nwording rfc\n"));
        assert_eq!(
            postfix.not_recognized().to_string(),
            "500 5.5.2 Error: command not recognized"
        );
        // RFC 5321 4.2.2: "500 Syntax error, command unrecognized".
        assert_eq!(
            rfc.not_recognized().to_string(),
            "500 5.5.2 Syntax error, command unrecognized"
        );
        // Postfix 3.7 does not know HELP (observed: 500 5.5.2 Error: command not recognized).
        assert_eq!(postfix.help().code(), 500);
        assert_eq!(rfc.help().code(), 214);
        assert_eq!(
            rfc.need_mail().to_string(),
            "503 5.5.1 Bad sequence of commands"
        );
        assert_eq!(
            rfc.bye().to_string(),
            "221 2.0.0 mx.test Service closing transmission channel"
        );
        // No Postfix text leaks into the neutral wording.
        for reply in [
            rfc.greeting(),
            rfc.ehlo("c", false),
            rfc.mail_ok(),
            rfc.queued("1"),
            rfc.chunk_received(3),
            rfc.need_helo(),
            rfc.nested_mail(),
            rfc.data_after_bdat(),
            rfc.need_rcpt(),
            rfc.auth_not_enabled(),
            rfc.not_implemented(),
            rfc.syntax("MAIL FROM:<address>"),
            rfc.unsupported_parameter("FOO=1"),
            rfc.line_too_long(),
            rfc.too_big(),
            rfc.idle_timeout(),
            rfc.shutting_down(),
            rfc.tls_active(),
        ] {
            let text = reply.to_string();
            assert!(
                !text.contains("Error:") && !text.contains("Ok") && !text.contains("smtp-harness"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_scenario_default_replaces_the_built_in_text() {
        let d = Defaults::new(&scenario(
            "wording rfc\ndefault unrecognized\n    S: 502 5.5.1 Unrecognized command. id - gsmtp\ndefault sequence\n    S: 503 5.5.1 Bad sequence of commands. id - gsmtp\n",
        ));
        assert_eq!(
            d.not_recognized().to_string(),
            "502 5.5.1 Unrecognized command. id - gsmtp"
        );
        assert_eq!(d.need_mail().code(), 503);
        assert!(d.nested_mail().to_string().ends_with("id - gsmtp"));
        // Situations the scenario does not name keep the wording's text.
        assert_eq!(
            d.not_implemented().to_string(),
            "502 5.5.1 Command not implemented"
        );
        // A finer situation wins over `sequence`, for its case only.
        let d = Defaults::new(&scenario(
            "default sequence\n    S: 503 5.5.1 Bad sequence\ndefault need-rcpt\n    S: 503 5.5.1 RCPT first. id - gsmtp\ndefault nested-mail\n    S: 503 sender already given\n",
        ));
        assert_eq!(
            d.need_rcpt().to_string(),
            "503 5.5.1 RCPT first. id - gsmtp"
        );
        assert_eq!(
            d.need_rcpt_command().to_string(),
            "503 5.5.1 RCPT first. id - gsmtp"
        );
        assert_eq!(d.nested_mail().to_string(), "503 sender already given");
        assert_eq!(d.need_mail().to_string(), "503 5.5.1 Bad sequence");
        assert_eq!(d.need_helo().to_string(), "503 5.5.1 Bad sequence");
    }

    #[test]
    fn the_ehlo_list_offers_starttls_only_before_tls_and_with_a_certificate() {
        let with = Defaults::new(&scenario("certificate valid\n"));
        let without = Defaults::new(&scenario("hostname x\n"));
        assert!(with.ehlo("c", false).texts().any(|t| t == "STARTTLS"));
        assert!(!with.ehlo("c", true).texts().any(|t| t == "STARTTLS"));
        assert!(!without.ehlo("c", false).texts().any(|t| t == "STARTTLS"));
        assert_eq!(
            with.ehlo("bad\rname", false).texts().next(),
            Some("smtp.harness.test Hello bad?name")
        );
    }
}
