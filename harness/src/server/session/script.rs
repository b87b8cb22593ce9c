//! Playing the scenario's linear script: its replies, its pauses and closes, and what each
//! scripted reply means for the session (a 354 means content follows).

use super::*;

impl Session {
    /// Runs script steps until the next `C:` step (or the end of the script).
    pub(super) async fn run_script(&mut self) -> Flow {
        let scenario = self.scenario.clone();
        while self.script_live {
            let Some(step) = scenario.script.get(self.script_pos) else {
                self.script_live = false;
                break;
            };
            // Content after a scripted 354 is read when the script next speaks or listens.
            if self.script_data_pending
                && matches!(step.kind, StepKind::Send(_) | StepKind::Expect(_))
            {
                self.script_data_pending = false;
                self.script_data = Some(self.read_data().await?);
            }
            match &step.kind {
                StepKind::Expect(_) => return Ok(()),
                StepKind::Send(reply) => {
                    self.script_pos += 1;
                    self.send(reply);
                    self.after_script_reply(reply);
                }
                StepKind::Raw(bytes) => {
                    self.script_pos += 1;
                    self.send_raw(bytes);
                }
                StepKind::Tls => {
                    self.script_pos += 1;
                    self.start_tls().await?;
                }
                StepKind::Pause(d) => {
                    self.script_pos += 1;
                    self.pause(*d).await?;
                }
                // Client steps: a server scenario never holds them (the parser refuses them).
                StepKind::Message(_) | StepKind::Slow(_) => self.script_pos += 1,
                StepKind::Close => {
                    self.script_pos += 1;
                    self.script_live = false;
                    return Err(End::Server(Some("scripted close".into())));
                }
            }
        }
        if std::mem::take(&mut self.script_data_pending) {
            // The script ended right after a 354: the defaults finish the message.
            self.script_command = None;
            self.finish_data_by_default().await?;
        }
        Ok(())
    }

    /// Lets a scripted reply have its protocol effect on the command it answers.
    pub(super) fn after_script_reply(&mut self, reply: &Reply) {
        let Some(cmd) = self.script_command.take() else {
            return;
        };
        if cmd.verb == "DATA" && reply.code() == 354 && self.script_data.is_none() {
            self.script_data_pending = true;
            self.script_command = Some(cmd);
        } else if let Some(content) = self.script_data.take() {
            self.finish_message(content, reply);
        } else {
            self.note_exchange(&cmd, reply, None);
        }
    }
}
