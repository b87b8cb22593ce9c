//! What the session sends: replies with their effect on the conversation, raw bytes, a rule's
//! actions, and the client's lines recorded with their secrets marked.

use super::*;

impl SessionCore {
    /// Sends a reply without effect on the conversation (a 421, say).
    pub(super) fn send(&mut self, reply: &Reply) {
        for line in reply.lines() {
            let start = self.out.len();
            self.out.extend_from_slice(line.as_bytes());
            self.out.extend_from_slice(b"\r\n");
            if self.wants_lines() {
                self.note(Event::Server(self.out[start..].to_vec()));
            }
        }
    }

    /// Sends bytes as they are (`raw "…"`), one transcript line per line of them.
    pub(super) fn send_raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        if self.wants_lines() {
            for line in bytes.split_inclusive(|b| *b == b'\n') {
                self.note(Event::Server(line.to_vec()));
            }
        }
    }

    /// Sends a reply to the command being answered, with its effect on the session.
    pub(super) fn reply(&mut self, reply: &Reply) {
        self.send(reply);
        self.sasl_next = reply.code() == 334;
        if self.sasl_next {
            self.lines.expect(LineKind::SaslResponse);
        }
        let Some(answering) = self.answering.as_mut() else {
            return;
        };
        answering.answered = true;
        if answering.cmd.verb == Verb::Data
            && reply.code() == 354
            && matches!(self.content, ContentStage::None)
        {
            self.content = ContentStage::Expected;
            return;
        }
        if let ContentStage::Ready(content) = std::mem::take(&mut self.content) {
            self.answering = None;
            self.finish_message(content, reply);
            return;
        }
        if reply.code() == 334 {
            return;
        }
        if let Some(answering) = self.answering.take() {
            self.note_exchange(&answering, reply);
        }
    }

    /// Carries out one action of a rule; `Some` when the connection must act first.
    pub(super) fn perform(&mut self, action: &Action) -> Option<Next> {
        match action {
            Action::Reply(reply) => self.reply(reply),
            Action::Raw(bytes) => self.send_raw(bytes),
            Action::Tls => return Some(Next::StartTls),
            Action::Pause(d) => return Some(Next::Pause(*d)),
            Action::Close => return Some(Next::Close(End::server(Some("scripted close")))),
        }
        None
    }

    /// Records a client line; what is secret (an AUTH payload, a SASL answer) is marked.
    pub(super) fn record_client(&mut self, line: &[u8], verb: Verb, sasl_answer: bool) {
        let secret_from = if sasl_answer {
            Some(0)
        } else if verb == Verb::Auth {
            sasl::secret_offset(line)
        } else if self.sasl_guard && verb == Verb::Unknown {
            // A SASL payload pipelined behind an AUTH that was refused (530, 503, 504 …):
            // never shown, even though no challenge asked for it.
            Some(0)
        } else {
            None
        };
        if verb != Verb::Unknown {
            self.sasl_guard = false;
        }
        if !self.wants_lines() {
            return;
        }
        self.note(Event::Client {
            line: line.to_vec(),
            secret_from,
        });
    }
}
