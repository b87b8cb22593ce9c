//! Answering a command outside the script: the protocol checks, then the rules, then the
//! built-in replies; BDAT chunks and the DATA rules that answer their end; what each reply does
//! to the session (HELO, the envelope, the message).

use super::*;

impl SessionCore {
    /// Counts the command for `#N`: its number among commands with its verb (for DATA, among
    /// message transfers, which BDAT LAST also begins).
    pub(super) fn count(&mut self, cmd: &Command) -> u32 {
        let n = self.state.count(cmd.verb);
        if cmd.verb == Verb::Data {
            self.state.transfers += 1;
            return self.state.transfers;
        }
        n
    }

    /// A command outside the script.
    pub(super) fn respond(&mut self, cmd: Command) -> Next {
        let nth = self.count(&cmd);
        if cmd.verb == Verb::Bdat {
            // The chunk is read before the command is judged, so the stream stays in step.
            let Some((size, last)) = bdat::parse_args(&cmd.args) else {
                // Without a size the chunk's end is unknown: Postfix says 521 and closes.
                let reply = self.defaults.bdat_syntax();
                self.send(&reply);
                return Next::Close(End::server(Some("BDAT without a chunk size")));
            };
            self.answering = Some(Answering::new(cmd, nth));
            return self.begin_chunk(size, last, AfterChunk::Answer);
        }
        self.answer(cmd, nth)
    }

    /// The protocol checks, then the rules, then the defaults.
    pub(super) fn answer(&mut self, cmd: Command, nth: u32) -> Next {
        let check = checks::sequence(&self.state, &cmd, &self.defaults)
            .or_else(|| checks::parameters(&self.state, &cmd, &self.defaults));
        if let Some(reply) = check {
            return self.refuse(cmd, nth, &reply);
        }
        match cmd.verb {
            Verb::Auth => return self.authenticate(cmd, nth),
            Verb::Bdat => return self.answer_chunk(cmd, nth),
            _ => {}
        }
        let query = self.query(&cmd, cmd.verb, nth);
        match rules::find(&self.scenario, &query) {
            Some(index) => self.run_rule(index, 0, cmd, nth, None),
            None => self.answer_by_default(cmd, nth),
        }
    }

    /// Answers a command with a refusal the server decides by itself.
    pub(super) fn refuse(&mut self, cmd: Command, nth: u32, reply: &Reply) -> Next {
        if cmd.verb == Verb::Bdat {
            // The chunk was read; it belongs to no message.
            self.chunks = None;
            self.state.chunking = self.state.envelope.is_some();
        }
        self.answering = Some(Answering::new(cmd, nth));
        self.reply(reply);
        self.idle()
    }

    pub(super) fn query<'a>(&self, cmd: &'a Command, verb: Verb, nth: u32) -> Query<'a> {
        Query {
            verb,
            args: &cmd.args,
            nth,
            connection: self.connection,
            tls: self.tls,
            advertised: self.advertised(cmd.verb),
            credentials: None,
        }
    }

    /// Was the extension `verb` belongs to in the last EHLO reply (true for base commands)?
    pub(super) fn advertised(&self, verb: Verb) -> bool {
        let ext = &self.state.extensions;
        match verb {
            Verb::StartTls => ext.has("STARTTLS"),
            Verb::Auth => !ext.auth.is_empty(),
            Verb::Bdat => ext.has("CHUNKING"),
            Verb::Etrn => ext.has("ETRN"),
            _ => true,
        }
    }

    pub(super) fn run_rule(
        &mut self,
        index: usize,
        pos: usize,
        cmd: Command,
        nth: u32,
        who: Option<String>,
    ) -> Next {
        self.answering = Some(Answering {
            who,
            ..Answering::new(cmd, nth)
        });
        self.program = Program::Rule { index, pos };
        self.resume()
    }

    pub(super) fn answer_by_default(&mut self, cmd: Command, nth: u32) -> Next {
        let reply = self.default_reply(&cmd);
        let handshake = cmd.verb == Verb::StartTls && reply.code() == 220;
        self.answering = Some(Answering::new(cmd, nth));
        self.reply(&reply);
        if handshake {
            return Next::StartTls;
        }
        self.idle()
    }

    /// The built-in answer to a command no rule answers.
    pub(super) fn default_reply(&self, cmd: &Command) -> Reply {
        let d = &self.defaults;
        if let Err(e) = &cmd.request {
            return d.parse_error(e);
        }
        match cmd.verb {
            Verb::Ehlo => d.ehlo(&cmd.args, self.tls),
            Verb::Helo => d.helo(),
            Verb::Mail => {
                // RFC 1870 section 6: a declared size over the limit is refused at MAIL.
                // A SIZE too large for a u64 is larger than any limit.
                let declared = cmd
                    .param("SIZE")
                    .map(|s| s.parse::<u64>().unwrap_or(u64::MAX));
                match declared {
                    Some(size) if size > self.size_limit() => d.size_exceeded(),
                    _ => d.mail_ok(),
                }
            }
            Verb::Rcpt => d.rcpt_ok(),
            Verb::Data => d.start_data(),
            Verb::Rset | Verb::Noop => d.ok(),
            Verb::Vrfy => d.vrfy(),
            Verb::Help => d.help(),
            Verb::Quit => d.bye(),
            Verb::StartTls => {
                if !cmd.args.is_empty() {
                    // Postfix 3.7: "501 5.5.4 Syntax: STARTTLS".
                    d.syntax("STARTTLS")
                } else if self.tls {
                    d.tls_active()
                } else if self.scenario.header.certificate.is_none()
                    || (self.state.esmtp && !self.state.extensions.has("STARTTLS"))
                {
                    // A list that left STARTTLS out means the server does not offer it.
                    d.not_implemented()
                } else {
                    // Postfix 3.7 starts TLS after HELO, or before any greeting, too.
                    d.tls_ready()
                }
            }
            Verb::Expn => match self.scenario.wording {
                // Postfix 3.7 does not know EXPN.
                crate::scenario::Wording::Postfix => d.not_recognized(),
                crate::scenario::Wording::Rfc => d.not_implemented(),
            },
            Verb::Unknown => d.not_recognized(),
            _ => d.not_implemented(),
        }
    }

    /// The default final reply to a message's content.
    pub(super) fn final_reply(&self, content: &Content) -> Reply {
        let d = &self.defaults;
        let id = self.queue_id();
        let bdat = self
            .answering
            .as_ref()
            .is_some_and(|a| a.cmd.verb == Verb::Bdat);
        if content.too_big {
            d.too_big()
        } else if bdat {
            d.chunks_queued(content.bytes.len(), &id)
        } else if content.long_line {
            d.text_line_too_long()
        } else {
            d.queued(&id)
        }
    }

    /// A BDAT chunk is in: rules for BDAT, then (for the last chunk) the DATA rules answer
    /// the end of the transfer, then the defaults.
    pub(super) fn answer_chunk(&mut self, cmd: Command, nth: u32) -> Next {
        let (size, last) = bdat::parse_args(&cmd.args).unwrap_or((0, true));
        self.state.chunking = true;
        let too_big = self.chunks.as_ref().is_some_and(ChunkDecoder::too_big);
        if last {
            let content = self.chunks.take().unwrap_or_default().take();
            self.content = ContentStage::Ready(content);
        }
        let query = self.query(&cmd, Verb::Bdat, nth);
        if let Some(index) = rules::find(&self.scenario, &query) {
            return self.run_rule(index, 0, cmd, nth, None);
        }
        if !self.advertised(Verb::Bdat) {
            self.content = ContentStage::None;
            self.chunks = None;
            let reply = self.defaults.not_implemented();
            return self.refuse(cmd, nth, &reply);
        }
        if !last {
            let reply = if too_big {
                self.defaults.too_big()
            } else {
                self.defaults.chunk_received(size)
            };
            self.answering = Some(Answering::new(cmd, nth));
            self.reply(&reply);
            return self.idle();
        }
        // The end of a transfer: DATA rules answer it as they answer the content after 354,
        // and their `#N` counts transfers.
        self.state.transfers += 1;
        let data_query = Query {
            nth: self.state.transfers,
            args: "",
            ..self.query(&cmd, Verb::Data, nth)
        };
        match rules::find(&self.scenario, &data_query) {
            Some(index) => {
                let pos = rules::after_start_of_data(&self.scenario.rules[index]);
                self.run_rule(index, pos, cmd, nth, None)
            }
            None => {
                self.answering = Some(Answering::new(cmd, nth));
                self.idle()
            }
        }
    }

    /// Updates the session state after `reply` answered a command.
    pub(super) fn note_exchange(&mut self, answering: &Answering, reply: &Reply) {
        let cmd = &answering.cmd;
        let positive = (200..300).contains(&reply.code());
        match cmd.verb {
            Verb::Ehlo if positive => {
                self.state.helo = Some(cmd.args.clone());
                self.state.esmtp = true;
                self.state.extensions = Extensions::from_ehlo_reply(reply);
                self.state.end_transaction();
                self.chunks = None;
            }
            Verb::Helo if positive => {
                self.state.helo = Some(cmd.args.clone());
                self.state.esmtp = false;
                self.state.extensions = Extensions::default();
                self.state.end_transaction();
                self.chunks = None;
            }
            Verb::Mail if positive => {
                self.state.envelope = Some(Envelope {
                    mail_from: cmd.path(),
                    rcpt_to: Vec::new(),
                    smtputf8: cmd
                        .param_words()
                        .iter()
                        .any(|w| w.eq_ignore_ascii_case("SMTPUTF8")),
                });
                self.state.chunking = false;
                self.chunks = None;
            }
            Verb::Rcpt if positive => {
                if let Some(envelope) = self.state.envelope.as_mut() {
                    envelope.rcpt_to.push(cmd.path());
                }
            }
            Verb::Rset if positive => {
                self.state.end_transaction();
                self.chunks = None;
            }
            Verb::Auth if reply.code() == 235 => {
                self.state.authenticated_as = Some(answering.who.clone().unwrap_or_default());
            }
            Verb::Auth if reply.code() >= 400 => self.sasl_guard = true,
            // RFC 3030 section 2: after a refused chunk the transaction has failed.
            Verb::Bdat if !positive => {
                self.state.end_transaction();
                self.chunks = None;
            }
            Verb::Quit => self.quit = true,
            _ => {}
        }
    }

    /// Ends the mail transaction; a positive final reply captures the message.
    pub(super) fn finish_message(&mut self, content: Content, reply: &Reply) {
        let envelope = self.state.envelope.take().unwrap_or_default();
        self.state.end_transaction();
        self.chunks = None;
        if !(200..300).contains(&reply.code()) {
            return;
        }
        self.state.messages += 1;
        self.note(Event::MessageCaptured {
            mail_from: envelope.mail_from.clone(),
            rcpt_to: envelope.rcpt_to.clone(),
            size: content.bytes.len(),
        });
        self.captured.push(ReceivedMessage {
            session: self.connection,
            helo: self.state.helo.clone(),
            mail_from: envelope.mail_from,
            rcpt_to: envelope.rcpt_to,
            data: content.bytes,
            tls: self.tls,
            authenticated_as: self.state.authenticated_as.clone(),
        });
    }

    pub(super) fn size_limit(&self) -> u64 {
        self.state.extensions.size.unwrap_or(self.scenario.max_size)
    }

    pub(super) fn queue_id(&self) -> String {
        format!("{:04X}{:04X}", self.connection, self.state.messages + 1)
    }
}
