//! AUTH: rules that answer at once, the advertisement checks, the SASL exchange the server
//! runs (with or without an initial response), then the rules that judge the credentials.

use super::*;

impl SessionCore {
    /// AUTH: rules that answer at once, the advertisement checks, the SASL exchange, then
    /// the rules that judge credentials (or the default: accept).
    pub(super) fn authenticate(&mut self, cmd: Command, nth: u32) -> Next {
        let mut words = cmd.args.split_ascii_whitespace();
        let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
        let initial = words.next().map(str::to_owned);
        let query = self.query(&cmd, Verb::Auth, nth);
        if let Some(index) = rules::find(&self.scenario, &query) {
            return self.run_rule(index, 0, cmd, nth, None);
        }
        let offered = &self.state.extensions.auth;
        let refusal = if offered.is_empty() {
            Some(self.defaults.auth_not_enabled())
        } else if mechanism.is_empty() {
            Some(self.defaults.syntax("AUTH mechanism"))
        } else if !offered.contains(&mechanism) {
            Some(self.defaults.unknown_mechanism())
        } else {
            None
        };
        if let Some(reply) = refusal {
            return self.refuse(cmd, nth, &reply);
        }
        let Some(mech) = Mechanism::parse(&mechanism) else {
            let reply = self.defaults.unknown_mechanism();
            return self.refuse(cmd, nth, &reply);
        };
        self.challenges += 1;
        let challenge = format!(
            "<{}.{}@{}>",
            self.connection, self.challenges, self.scenario.header.hostname
        );
        let (exchange, step) = SaslExchange::start(mech, initial.as_deref(), || challenge);
        self.answering = Some(Answering::new(cmd, nth));
        self.sasl_step(exchange, step)
    }

    pub(super) fn on_sasl_answer(&mut self, line: Line) -> Next {
        self.sasl_next = false;
        self.lines.expect(LineKind::Command);
        self.record_client(&line.bytes, Verb::Unknown, true);
        let Mode::Sasl(exchange) = std::mem::replace(&mut self.mode, Mode::Command) else {
            unreachable!("called in SASL mode");
        };
        if line.too_long {
            let reply = Reply::new(500, "5.5.6 Authentication exchange line is too long");
            self.reply(&reply);
            return self.idle();
        }
        let answer = trim_line_end(&line.bytes);
        let (exchange, step) = exchange.respond(answer);
        self.sasl_step(exchange, step)
    }

    pub(super) fn sasl_step(&mut self, exchange: Option<SaslExchange>, step: SaslStep) -> Next {
        match (exchange, step) {
            (Some(exchange), SaslStep::Challenge(text)) => {
                let reply = Reply::from_lines([format!("334 {text}")])
                    .unwrap_or_else(|_| Reply::new(334, &text));
                self.reply(&reply);
                self.mode = Mode::Sasl(exchange);
                Next::Read
            }
            (_, SaslStep::Done(Ok(credentials))) => self.judge_credentials(&credentials),
            (_, SaslStep::Done(Err(reply))) => {
                self.reply(&reply);
                self.idle()
            }
            (None, SaslStep::Challenge(_)) => unreachable!("a challenge goes on"),
        }
    }

    pub(super) fn judge_credentials(&mut self, credentials: &Credentials) -> Next {
        let Some(answering) = self.answering.take() else {
            return Next::Read;
        };
        let query = Query {
            credentials: Some(credentials),
            ..self.query(&answering.cmd, Verb::Auth, answering.nth)
        };
        let who = Some(credentials.user.clone());
        match rules::find(&self.scenario, &query) {
            Some(index) => self.run_rule(index, 0, answering.cmd, answering.nth, who),
            None => {
                self.answering = Some(Answering { who, ..answering });
                let reply = self.defaults.auth_ok();
                self.reply(&reply);
                self.idle()
            }
        }
    }
}
