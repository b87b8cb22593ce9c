//! Judging a run: what the server saw go wrong (from the transcripts), whether the sender said
//! it succeeded, and whether that is what the scenario expected.

use crate::scenario::{OutcomeKind, ServerScenario, SmtpStep};
use crate::transcript::{Closer, Event, Transcript};
use crate::verify::ConversationRecord;

/// Where a conversation failed, as the server saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailurePoint {
    /// The step.
    pub step: SmtpStep,
    /// The refusing reply's code, if the server refused (none for a failed handshake or a drop).
    pub code: Option<u16>,
}

/// The first place a connection failed: the first 4xx/5xx reply (attributed to the command it
/// answered, the greeting when there was none), a failed TLS handshake (or a client that hangs
/// up right after it), a server that closed in the middle of a step, or a client that gave up
/// before sending any command.
pub fn failure_point(transcript: &Transcript) -> Option<FailurePoint> {
    let mut last_verb: Option<String> = None;
    let mut server_spoke = false;
    let mut previous: Option<&Event> = None;
    for event in &transcript.events {
        let before = previous.replace(event);
        if let Some(verb) = event.command_verb() {
            last_verb = Some(verb);
            continue;
        }
        if event.reply_code().is_some() || matches!(event, Event::Server(_)) {
            server_spoke = true;
        }
        if let Some(code) = event.reply_code()
            && code >= 400
            && last_verb.as_deref() != Some("QUIT")
        {
            return Some(FailurePoint {
                step: step_of(last_verb.as_deref()),
                code: Some(code),
            });
        }
        match event {
            // The client talked before the greeting came (swaks says QUIT after its timeout
            // even though no greeting came): it gave up waiting at the greeting.
            Event::ClientSpokeEarly { .. } if !server_spoke => {
                return Some(FailurePoint {
                    step: SmtpStep::Greeting,
                    code: None,
                });
            }
            // A failed handshake, or one the client completed and then walked away from
            // (it refused the certificate after the handshake, as TLS 1.3 clients may).
            Event::TlsFailed { .. } | Event::TlsAbandoned { .. } => {
                return Some(FailurePoint {
                    step: SmtpStep::Tls,
                    code: None,
                });
            }
            Event::Closed {
                by: Closer::Server,
                reason: Some(_),
            } if last_verb.as_deref() != Some("QUIT") => {
                return Some(FailurePoint {
                    step: step_of(last_verb.as_deref()),
                    code: None,
                });
            }
            // A client that hangs up right after the handshake refused what it saw there (a
            // certificate checked after the handshake, as curl checks host names).
            Event::Closed {
                by: Closer::Client, ..
            } if matches!(before, Some(Event::TlsStarted { .. })) => {
                return Some(FailurePoint {
                    step: SmtpStep::Tls,
                    code: None,
                });
            }
            // A client that hangs up without a single command gave up at the greeting (it
            // never came in time, or the client did not like it).
            Event::Closed {
                by: Closer::Client, ..
            } if last_verb.is_none() => {
                return Some(FailurePoint {
                    step: SmtpStep::Greeting,
                    code: None,
                });
            }
            _ => {}
        }
    }
    None
}

/// Did the client send AUTH before any TLS session started?
fn auth_in_clear(transcript: &Transcript) -> bool {
    for event in &transcript.events {
        if let Event::TlsStarted { .. } = event {
            return false;
        }
        if event.command_verb().as_deref() == Some("AUTH") {
            return true;
        }
    }
    false
}

fn step_of(verb: Option<&str>) -> SmtpStep {
    verb.map_or(SmtpStep::Greeting, SmtpStep::of_verb)
}

/// What was observed of one sender against one scenario.
#[derive(Clone, Debug)]
pub struct Observed {
    /// The sender said it succeeded (exit code 0, `Ok`).
    pub sender_succeeded: bool,
    /// The first failure the server saw, over all connections in order.
    pub failure: Option<FailurePoint>,
    /// Messages the server accepted.
    pub messages: usize,
    /// The sender sent AUTH outside TLS on some connection.
    pub auth_in_clear: bool,
}

impl Observed {
    /// Builds the observation from the sender's verdict and the server's records.
    pub fn new(sender_succeeded: bool, records: &[ConversationRecord], messages: usize) -> Self {
        let failure = records.iter().find_map(|r| failure_point(&r.transcript));
        let auth_in_clear = records.iter().any(|r| auth_in_clear(&r.transcript));
        Observed {
            sender_succeeded,
            failure,
            messages,
            auth_in_clear,
        }
    }

    /// The observation in the words of an `outcome` line.
    pub fn describe(&self) -> String {
        let kind = if self.sender_succeeded {
            OutcomeKind::Success
        } else {
            OutcomeKind::Failure {
                step: self.failure.map(|f| f.step),
                code: self.failure.and_then(|f| f.code),
            }
        };
        let mut text = kind.to_string();
        if self.sender_succeeded && self.messages == 0 {
            text.push_str(" (but no message was accepted)");
        }
        if self.auth_in_clear {
            text.push_str(" (AUTH sent in clear text)");
        }
        text
    }

    /// Does the observation satisfy the expected outcome?
    pub fn satisfies(&self, expected: &OutcomeKind) -> bool {
        match expected {
            OutcomeKind::Success => self.sender_succeeded && self.messages > 0,
            OutcomeKind::RefusedCleartextAuth => !self.sender_succeeded && !self.auth_in_clear,
            OutcomeKind::RefusedCertificate => {
                !self.sender_succeeded && self.failure.is_some_and(|f| f.step == SmtpStep::Tls)
            }
            OutcomeKind::Failure { step, code } => {
                !self.sender_succeeded
                    && step.is_none_or(|s| self.failure.is_some_and(|f| f.step == s))
                    && code.is_none_or(|c| self.failure.is_some_and(|f| f.code == Some(c)))
            }
        }
    }
}

/// The reasons a run failed (empty: it passed).
pub fn problems(
    scenario: &ServerScenario,
    observed: &Observed,
    records: &[ConversationRecord],
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(outcome) = &scenario.outcome
        && !observed.satisfies(&outcome.kind)
    {
        out.push(format!(
            "line {}: expected outcome {}, observed {}",
            outcome.line,
            outcome.kind,
            observed.describe()
        ));
    }
    if records.is_empty() && (!scenario.expectations.is_empty() || !scenario.script.is_empty()) {
        out.push("the sender never connected".to_owned());
    }
    for record in records {
        for failure in &record.failures {
            out.push(format!(
                "connection {}: {failure}",
                record.transcript.session
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(events: Vec<Event>) -> Transcript {
        Transcript { session: 1, events }
    }

    fn server(line: &str) -> Event {
        Event::Server(format!("{line}\r\n").into_bytes())
    }

    fn client(line: &str) -> Event {
        Event::Client {
            line: format!("{line}\r\n").into_bytes(),
            secret_from: None,
        }
    }

    #[test]
    fn the_first_refusal_names_the_step_it_answered() {
        let t = transcript(vec![
            server("220 hi"),
            client("EHLO me"),
            server("250 ok"),
            client("AUTH LOGIN"),
            server("334 VXNlcm5hbWU6"),
            Event::Client {
                line: b"eA==\r\n".to_vec(),
                secret_from: Some(0),
            },
            server("535-5.7.1 no"),
            server("535 5.7.1 really"),
            client("QUIT"),
            server("221 bye"),
        ]);
        assert_eq!(
            failure_point(&t),
            Some(FailurePoint {
                step: SmtpStep::Auth,
                code: Some(535)
            })
        );
    }

    #[test]
    fn greetings_handshakes_and_drops_have_their_steps() {
        let greeting = transcript(vec![
            server("421 busy"),
            Event::Closed {
                by: Closer::Server,
                reason: Some("scripted close".into()),
            },
        ]);
        assert_eq!(
            failure_point(&greeting),
            Some(FailurePoint {
                step: SmtpStep::Greeting,
                code: Some(421)
            })
        );
        let tls = transcript(vec![
            server("220 hi"),
            client("STARTTLS"),
            server("220 go"),
            Event::TlsFailed { error: "x".into() },
        ]);
        assert_eq!(
            failure_point(&tls),
            Some(FailurePoint {
                step: SmtpStep::Tls,
                code: None
            })
        );
        let drop = transcript(vec![
            server("220 hi"),
            client("DATA"),
            server("354 go"),
            Event::Closed {
                by: Closer::Server,
                reason: Some("scripted close".into()),
            },
        ]);
        assert_eq!(
            failure_point(&drop),
            Some(FailurePoint {
                step: SmtpStep::Data,
                code: None
            })
        );
        let refused = transcript(vec![
            Event::TlsStarted {
                version: "v".into(),
                cipher: "c".into(),
            },
            Event::Closed {
                by: Closer::Client,
                reason: None,
            },
        ]);
        assert_eq!(
            failure_point(&refused),
            Some(FailurePoint {
                step: SmtpStep::Tls,
                code: None
            })
        );
        // As the session core records it now: the refusal is its own event.
        let abandoned = transcript(vec![
            Event::TlsStarted {
                version: "v".into(),
                cipher: "c".into(),
            },
            Event::TlsAbandoned {
                alert: Some("BadCertificate".into()),
            },
            Event::Closed {
                by: Closer::Client,
                reason: None,
            },
        ]);
        assert_eq!(
            failure_point(&abandoned),
            Some(FailurePoint {
                step: SmtpStep::Tls,
                code: None
            })
        );
        let silent = transcript(vec![Event::Closed {
            by: Closer::Client,
            reason: None,
        }]);
        assert_eq!(
            failure_point(&silent),
            Some(FailurePoint {
                step: SmtpStep::Greeting,
                code: None
            })
        );
        let gave_up = transcript(vec![
            Event::ClientSpokeEarly { bytes: 6 },
            server("220 late"),
            client("QUIT"),
            server("221 bye"),
        ]);
        assert_eq!(
            failure_point(&gave_up),
            Some(FailurePoint {
                step: SmtpStep::Greeting,
                code: None
            })
        );
        let fine = transcript(vec![
            server("220 hi"),
            client("QUIT"),
            server("221 bye"),
            Event::Closed {
                by: Closer::Server,
                reason: None,
            },
        ]);
        assert_eq!(failure_point(&fine), None);
    }

    #[test]
    fn outcomes_are_judged_from_verdict_and_failure_point() {
        let auth = Observed {
            sender_succeeded: false,
            failure: Some(FailurePoint {
                step: SmtpStep::Auth,
                code: Some(535),
            }),
            messages: 0,
            auth_in_clear: false,
        };
        assert!(auth.satisfies(&OutcomeKind::Failure {
            step: Some(SmtpStep::Auth),
            code: Some(535)
        }));
        assert!(auth.satisfies(&OutcomeKind::Failure {
            step: None,
            code: None
        }));
        assert!(!auth.satisfies(&OutcomeKind::Failure {
            step: Some(SmtpStep::Mail),
            code: None
        }));
        assert!(!auth.satisfies(&OutcomeKind::Success));
        assert_eq!(auth.describe(), "failure at AUTH 535");
        let ok = Observed {
            sender_succeeded: true,
            failure: None,
            messages: 1,
            auth_in_clear: false,
        };
        assert!(ok.satisfies(&OutcomeKind::Success));
        let silent_ok = Observed {
            sender_succeeded: true,
            failure: None,
            messages: 0,
            auth_in_clear: false,
        };
        assert!(!silent_ok.satisfies(&OutcomeKind::Success));
        assert_eq!(
            silent_ok.describe(),
            "success (but no message was accepted)"
        );
        // Refusals: no AUTH in clear text; a certificate refused at the handshake.
        assert!(auth.satisfies(&OutcomeKind::RefusedCleartextAuth));
        let leaky = Observed {
            auth_in_clear: true,
            ..auth.clone()
        };
        assert!(!leaky.satisfies(&OutcomeKind::RefusedCleartextAuth));
        assert_eq!(
            leaky.describe(),
            "failure at AUTH 535 (AUTH sent in clear text)"
        );
        assert!(!auth.satisfies(&OutcomeKind::RefusedCertificate));
        let tls = Observed {
            failure: Some(FailurePoint {
                step: SmtpStep::Tls,
                code: None,
            }),
            ..auth.clone()
        };
        assert!(tls.satisfies(&OutcomeKind::RefusedCertificate));
    }
}
