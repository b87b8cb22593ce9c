//! Answering a command outside the script: RFC 5321 sequence checks, the scenario's rules,
//! the built-in defaults, and the effect of each reply on the session's state.

use super::sasl::auth_rule_applies;
use super::*;

impl Session {
    /// RFC 5321 sequence checks that come before any rule.
    pub(super) fn sequence_error(&self, cmd: &Command) -> Option<Reply> {
        let s = &self.state;
        match cmd.verb.as_str() {
            "MAIL" if s.helo.is_none() => Some(defaults::need_helo()),
            "MAIL" if s.envelope.is_some() => Some(defaults::nested_mail()),
            "RCPT" if s.envelope.is_none() => Some(defaults::need_mail()),
            "DATA" | "BDAT" if s.envelope.is_none() => Some(defaults::need_mail()),
            "DATA" | "BDAT" if s.envelope.as_ref().is_some_and(|e| e.rcpt_to.is_empty()) => {
                Some(defaults::need_rcpt())
            }
            "AUTH" if s.helo.is_none() => Some(defaults::need_helo()),
            "AUTH" if s.authenticated_as.is_some() => Some(defaults::already_authenticated()),
            "AUTH" if s.envelope.is_some() => Some(defaults::auth_in_transaction()),
            _ => None,
        }
    }

    /// The first rule for this command whose conditions hold.
    pub(super) fn find_rule<'s>(
        &self,
        scenario: &'s Scenario,
        cmd: &Command,
        nth: u32,
        credentials: Option<&Credentials>,
    ) -> Option<&'s Rule> {
        let tls = self.stream.is_tls();
        scenario.rules.iter().find(|rule| {
            rule.verb == cmd.verb
                && rule.nth.is_none_or(|n| n == nth)
                && rule.connection.is_none_or(|c| c == self.transcript.session)
                && rule.tls.is_none_or(|t| t == tls)
                && rule.args.as_ref().is_none_or(|p| p.matches(&cmd.args))
                && (cmd.verb != "AUTH" || auth_rule_applies(rule, cmd, credentials))
        })
    }

    pub(super) fn default_actions(&self, cmd: &Command) -> Vec<Action> {
        let reply = self.default_reply(cmd);
        let handshake = cmd.verb == "STARTTLS" && reply.code() == 220;
        let mut actions = vec![Action::Reply(reply)];
        if handshake {
            actions.push(Action::Tls);
        }
        actions
    }

    pub(super) fn default_reply(&self, cmd: &Command) -> Reply {
        let scenario = &self.scenario;
        let parsed = smtp_proto::Request::parse(&mut cmd.raw.iter());
        if let Err(e) = &parsed
            && !matches!(cmd.verb.as_str(), "BDAT")
        {
            return defaults::parse_error(e);
        }
        match cmd.verb.as_str() {
            "EHLO" => defaults::ehlo(scenario, &cmd.args, self.stream.is_tls()),
            "HELO" => defaults::ok(&scenario.hostname),
            "MAIL" => {
                let limit = self.size_limit();
                // A SIZE too large for a u64 is larger than any limit.
                match param_of(&cmd.args, "SIZE").map(|s| s.parse::<u64>().unwrap_or(u64::MAX)) {
                    Some(size) if size > limit => {
                        Reply::new(552, "5.3.4 Message size exceeds fixed limit")
                    }
                    _ => defaults::ok("2.1.0 Ok"),
                }
            }
            "RCPT" => defaults::ok("2.1.5 Ok"),
            "DATA" => defaults::start_data(),
            "BDAT" => {
                if !self.state.extensions.has("CHUNKING") {
                    defaults::not_implemented()
                } else if self.bdat.as_ref().is_some_and(|b| b.too_big) {
                    defaults::too_big()
                } else if bdat_is_last(&cmd.args) {
                    defaults::queued(&self.queue_id())
                } else {
                    let size = bdat_size(&cmd.args).unwrap_or(0);
                    defaults::ok(&format!("2.0.0 {size} octets received"))
                }
            }
            "RSET" | "NOOP" => defaults::ok("2.0.0 Ok"),
            "VRFY" => Reply::new(
                252,
                "2.0.0 Cannot VRFY user, but will accept message and attempt delivery",
            ),
            "HELP" => Reply::new(
                214,
                "2.0.0 See RFC 5321: https://www.rfc-editor.org/rfc/rfc5321",
            ),
            "QUIT" => defaults::bye(),
            "STARTTLS" => {
                if !cmd.args.is_empty() {
                    defaults::syntax("STARTTLS")
                } else if self.stream.is_tls() {
                    defaults::tls_active()
                } else if scenario.certificate.is_none() || !self.state.extensions.has("STARTTLS") {
                    defaults::not_implemented()
                } else {
                    defaults::tls_ready()
                }
            }
            "EXPN" | "ETRN" | "LHLO" | "ATRN" | "BURL" => defaults::not_implemented(),
            _ => defaults::not_recognized(),
        }
    }

    pub(super) fn size_limit(&self) -> u64 {
        self.state.extensions.size.unwrap_or(self.scenario.max_size)
    }

    pub(super) fn queue_id(&self) -> String {
        format!(
            "{:04X}{:04X}",
            self.transcript.session,
            self.state.messages + 1
        )
    }

    /// Carries out a rule's (or the defaults') actions for `cmd`.
    pub(super) async fn perform(
        &mut self,
        cmd: &Command,
        actions: &[Action],
        who: Option<&str>,
    ) -> Flow {
        // After a 354 the content is read only when the next reply is due, so that a rule can
        // pause or close in the middle of the client's content.
        let mut data = DataStage::Command;
        for action in actions {
            match action {
                Action::Reply(reply) => {
                    if let DataStage::Pending = data {
                        data = DataStage::Read(self.read_data().await?);
                    }
                    self.send(reply);
                    data = match data {
                        DataStage::Command if cmd.verb == "DATA" && reply.code() == 354 => {
                            DataStage::Pending
                        }
                        DataStage::Read(content) => {
                            self.finish_message(content, reply);
                            DataStage::Done
                        }
                        other => {
                            self.note_exchange(cmd, reply, who);
                            other
                        }
                    };
                }
                Action::Raw(bytes) => self.send_raw(bytes),
                Action::Tls => self.start_tls().await?,
                Action::Pause(d) => self.pause(*d).await?,
                Action::Close => return Err(End::Server(Some("scripted close".into()))),
            }
        }
        if let DataStage::Pending = data {
            self.finish_data_by_default().await?;
        }
        Ok(())
    }

    /// Reads the content after a 354 and gives the default final reply.
    pub(super) async fn finish_data_by_default(&mut self) -> Flow {
        let content = self.read_data().await?;
        let reply = if content.too_big {
            defaults::too_big()
        } else if content.long_line {
            defaults::text_line_too_long()
        } else {
            defaults::queued(&self.queue_id())
        };
        self.send(&reply);
        self.finish_message(content, &reply);
        Ok(())
    }

    /// Updates the session state after `reply` answered `cmd`.
    pub(super) fn note_exchange(&mut self, cmd: &Command, reply: &Reply, who: Option<&str>) {
        let positive = (200..300).contains(&reply.code());
        match cmd.verb.as_str() {
            "EHLO" if positive => {
                self.state.helo = Some(cmd.args.clone());
                self.state.extensions = Extensions::from_ehlo_reply(reply);
                self.state.envelope = None;
            }
            "HELO" if positive => {
                self.state.helo = Some(cmd.args.clone());
                self.state.extensions = Extensions::default();
                self.state.envelope = None;
            }
            "MAIL" if positive => {
                self.state.envelope = Some(crate::server::state::Envelope {
                    mail_from: path_of(&cmd.args),
                    rcpt_to: Vec::new(),
                });
                self.bdat = None;
            }
            "RCPT" if positive => {
                if let Some(env) = self.state.envelope.as_mut() {
                    env.rcpt_to.push(path_of(&cmd.args));
                }
            }
            "RSET" if positive => {
                self.state.envelope = None;
                self.bdat = None;
            }
            "AUTH" if reply.code() == 235 => {
                self.state.authenticated_as = Some(who.unwrap_or_default().to_owned());
            }
            "BDAT" => {
                if positive && bdat_is_last(&cmd.args) {
                    let content = self.bdat.take().unwrap_or_default();
                    self.finish_message(content, reply);
                } else if !positive {
                    self.bdat = None;
                    self.state.envelope = None;
                }
            }
            _ => {}
        }
    }

    /// Ends the mail transaction; a positive final reply captures the message.
    pub(super) fn finish_message(&mut self, content: Content, reply: &Reply) {
        let envelope = self.state.envelope.take().unwrap_or_default();
        if !(200..300).contains(&reply.code()) {
            return;
        }
        self.state.messages += 1;
        self.transcript.push(Event::MessageCaptured {
            mail_from: envelope.mail_from.clone(),
            rcpt_to: envelope.rcpt_to.clone(),
            size: content.bytes.len(),
        });
        self.shared.capture(ReceivedMessage {
            session: self.transcript.session,
            helo: self.state.helo.clone(),
            mail_from: envelope.mail_from,
            rcpt_to: envelope.rcpt_to,
            data: content.bytes,
            tls: self.stream.is_tls(),
            authenticated_as: self.state.authenticated_as.clone(),
        });
    }
}

pub(super) fn bdat_size(args: &str) -> Option<usize> {
    args.split_ascii_whitespace().next()?.parse().ok()
}

pub(super) fn bdat_is_last(args: &str) -> bool {
    args.split_ascii_whitespace()
        .nth(1)
        .is_some_and(|w| w.eq_ignore_ascii_case("LAST"))
}
