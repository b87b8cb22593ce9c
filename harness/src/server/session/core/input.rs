//! What the session reads: a command line (or a SASL answer), message content after `354`, a
//! BDAT chunk, and the switch to reading content or a chunk.

use super::*;

impl SessionCore {
    pub(super) fn on_line(&mut self, line: Line) -> Next {
        if let Mode::Sasl(_) = self.mode {
            return self.on_sasl_answer(line);
        }
        let sasl_answer = std::mem::take(&mut self.sasl_next);
        self.lines.expect(LineKind::Command);
        let verb = if sasl_answer {
            Verb::Unknown
        } else {
            Verb::parse(first_word(&line.bytes))
        };
        self.record_client(&line.bytes, verb, sasl_answer);
        if self.script.live
            && let Some(step) = self.scenario.script.get(self.script.pos)
            && let StepKind::Expect(pattern) = &step.kind
        {
            let text = String::from_utf8_lossy(&line.bytes);
            if !line.too_long && pattern.matches(text.trim_end_matches(['\r', '\n'])) {
                self.script.pos += 1;
                return self.follow_script(line, sasl_answer);
            }
            self.note(Event::Diverged {
                step_line: step.line,
                expected: pattern.as_str().to_owned(),
            });
            self.script.live = false;
        }
        if line.too_long {
            let reply = self.defaults.line_too_long();
            self.send(&reply);
            return Next::Read;
        }
        self.respond(Command::new(&line.bytes))
    }

    pub(super) fn on_content(&mut self, content: Content) -> Next {
        self.mode = Mode::Command;
        self.note(Event::DataSent {
            bytes: content.wire_octets,
        });
        self.content = ContentStage::Ready(content);
        self.resume()
    }

    pub(super) fn on_chunk(&mut self) -> Next {
        let Mode::Chunk { last, then } = std::mem::replace(&mut self.mode, Mode::Command) else {
            unreachable!("called in chunk mode");
        };
        let Some(answering) = self.answering.take() else {
            return Next::Read;
        };
        let size = bdat::parse_args(&answering.cmd.args).map_or(0, |(size, _)| size);
        self.note(Event::DataSent { bytes: size });
        match then {
            AfterChunk::Script => {
                if last {
                    let content = self.chunks.take().unwrap_or_default().take();
                    self.content = ContentStage::Ready(content);
                }
                self.answering = Some(answering);
                self.resume()
            }
            AfterChunk::Answer => self.answer(answering.cmd, answering.nth),
        }
    }

    /// Switches to reading message content; the program goes on once it is in.
    pub(super) fn expect_content(&mut self) -> Next {
        let limit = usize::try_from(self.size_limit()).unwrap_or(usize::MAX);
        self.mode = Mode::Data(DataDecoder::new(limit));
        Next::Read
    }

    /// Starts reading a BDAT chunk of `size` octets.
    pub(super) fn begin_chunk(&mut self, size: usize, last: bool, then: AfterChunk) -> Next {
        let limit = usize::try_from(self.size_limit()).unwrap_or(usize::MAX);
        self.chunks
            .get_or_insert_with(|| ChunkDecoder::new(limit))
            .begin(size);
        self.mode = Mode::Chunk { last, then };
        if size == 0 {
            return self.on_chunk();
        }
        Next::Read
    }
}
