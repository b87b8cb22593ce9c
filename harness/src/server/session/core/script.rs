//! Playing the scenario's linear script: a client line that follows it, the prompts an AUTH
//! initial response answers, the steps up to the next `C:` line, and a script left unfinished.

use super::*;

impl SessionCore {
    /// The client line matched the script's next `C:` step.
    pub(super) fn follow_script(&mut self, line: Line, sasl_answer: bool) -> Next {
        self.program = Program::Script;
        if sasl_answer {
            // The AUTH being answered goes on.
            return self.resume();
        }
        let cmd = Command::new(&line.bytes);
        let nth = self.count(&cmd);
        if cmd.verb == Verb::Auth {
            self.skip_prompts_answered_by(&cmd);
        }
        let chunk = (cmd.verb == Verb::Bdat)
            .then(|| bdat::parse_args(&cmd.args))
            .flatten();
        self.answering = Some(Answering::new(cmd, nth));
        if let Some((size, last)) = chunk {
            return self.begin_chunk(size, last, AfterChunk::Script);
        }
        self.resume()
    }

    /// RFC 4954 section 4: an initial response answers the first challenge, so a real server
    /// never sends it. A script written for a client without one (`C: AUTH LOGIN*`,
    /// `S: 334 VXNlcm5hbWU6`, `C: *`) skips that challenge and its answer for a client with
    /// one (`AUTH LOGIN dXNlcg==`).
    pub(super) fn skip_prompts_answered_by(&mut self, cmd: &Command) {
        let mut words = cmd.args.split_ascii_whitespace();
        let (Some(mechanism), Some(_initial)) = (words.next(), words.next()) else {
            return;
        };
        let steps = &self.scenario.script;
        let pos = self.script.pos;
        if let (Some(StepKind::Send(challenge)), Some(StepKind::Expect(_))) = (
            steps.get(pos).map(|s| &s.kind),
            steps.get(pos + 1).map(|s| &s.kind),
        ) && challenge.code() == 334
            && challenge.lines().len() == 1
            && sasl::initial_response_answers(mechanism, challenge.texts().next().unwrap_or(""))
        {
            self.script.pos += 2;
        }
    }

    /// Plays script steps until the next `C:` step, a handshake, a pause or the end.
    pub(super) fn run_script(&mut self) -> Next {
        let scenario = Arc::clone(&self.scenario);
        while self.script.live {
            let Some(step) = scenario.script.get(self.script.pos) else {
                self.script.live = false;
                break;
            };
            // Content after a scripted 354 is read when the script next speaks or listens.
            if matches!(self.content, ContentStage::Expected)
                && matches!(step.kind, StepKind::Send(_) | StepKind::Expect(_))
            {
                return self.expect_content();
            }
            match &step.kind {
                StepKind::Expect(_) => return Next::Read,
                StepKind::Send(reply) => {
                    self.script.pos += 1;
                    self.reply(reply);
                }
                StepKind::Raw(bytes) => {
                    self.script.pos += 1;
                    self.send_raw(bytes);
                }
                StepKind::Tls => {
                    self.script.pos += 1;
                    return Next::StartTls;
                }
                StepKind::Pause(d) => {
                    self.script.pos += 1;
                    return Next::Pause(*d);
                }
                StepKind::Close => {
                    self.script.pos += 1;
                    self.script.live = false;
                    return Next::Close(End::server(Some("scripted close")));
                }
            }
        }
        self.program = Program::Idle;
        // The script ended on a C: line: the rules or the defaults answer it.
        if let Some(unanswered) = self.answering.take_if(|a| !a.answered) {
            return self.answer(unanswered.cmd, unanswered.nth);
        }
        self.idle()
    }

    /// A script the client left before its end is a failure, unless it already diverged.
    pub(super) fn unfinished_script(&self) -> Option<Failure> {
        if !self.script.live {
            return None;
        }
        let step = self.scenario.script.get(self.script.pos)?;
        let StepKind::Expect(pattern) = &step.kind else {
            return None;
        };
        Some(Failure {
            line: step.line,
            expected: format!("the client line {:?} of the script", pattern.as_str()),
            actual: "the connection closed before it".to_owned(),
        })
    }
}
