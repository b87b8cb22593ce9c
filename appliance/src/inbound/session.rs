//! One SMTP session of the receiving server (RFC 5321) as a state machine with no socket: it
//! is given command lines and message content, and answers with what to send and log
//! ([`Output`]) and what the connection must do next ([`Next`]: read a command, read content,
//! run the TLS handshake, deliver a message, or close). [`super::connection`] does the I/O.
//!
//! The state machine is the RFC's: `EHLO`/`HELO` first (`503` otherwise), then `MAIL`, one or
//! more `RCPT`, `DATA`; `RSET` and a new `EHLO` start over. `STARTTLS` (offered only with a
//! certificate) forgets the `EHLO` and the transaction (RFC 3207). Recipients outside
//! `reply.HOSTNAME` and `noreply.HOSTNAME` are refused (`554 … Relay access denied`); content
//! over the size limit is refused with `552`; after [`MAX_ERRORS`] refusals the client is
//! disconnected. With email turned off, every session is greeted with `554` and only `QUIT` is
//! accepted (RFC 5321 section 3.1).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use tokio_rustls::rustls::ServerConfig;

use super::command::{self, Command, CommandError};
pub use super::decode::{Content, Line, MAX_COMMAND_LINE};
use super::delivery::{self, Delivery, Outcome, Trace};
use super::mail_log::Event;
use super::{Domain, InboundConfig};

/// The most recipients of one message.
pub const MAX_RECIPIENTS: usize = 100;
/// Errors after which the client is disconnected (Postfix's `smtpd_hard_error_limit`).
pub const MAX_ERRORS: u32 = 20;

/// Something to do now, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send this reply (lines joined with `\n`, without the final CRLF).
    Reply(String),
    /// Log this.
    Log(Event),
}

/// What the connection does after the outputs.
#[derive(Debug)]
pub enum Next {
    /// Read the next command line; give it to [`Session::command`].
    Command,
    /// Read message content; give it to [`Session::content`].
    Content,
    /// Drop the clear text read so far and run the TLS handshake with this configuration;
    /// then call [`Session::tls_started`] and read the next command.
    StartTls(Arc<ServerConfig>),
    /// Deliver the message ([`delivery::deliver`]); give the outcome to
    /// [`Session::delivered`].
    Deliver(Delivery),
    /// Close the connection: the session is over.
    Close,
}

/// The answer to one input: outputs to perform in order, then the next thing to do.
#[derive(Debug)]
pub struct Step {
    /// Replies to send and lines to log, in order.
    pub outputs: Vec<Output>,
    /// What to do after them.
    pub next: Next,
}

impl Step {
    /// The replies among the outputs.
    pub fn replies(&self) -> Vec<&str> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Reply(text) => Some(text.as_str()),
                Output::Log(_) => None,
            })
            .collect()
    }
}

/// The message being received.
#[derive(Debug)]
struct Transaction {
    from: String,
    recipients: Vec<(String, Domain)>,
    queue_id: Option<String>,
    started: Instant,
}

/// One client's session.
#[derive(Debug)]
pub struct Session {
    config: Arc<InboundConfig>,
    peer: IpAddr,
    client: String,
    tls: bool,
    helo: Option<String>,
    esmtp: bool,
    tx: Option<Transaction>,
    errors: u32,
    /// The last command's verb, for `lost connection after VERB`.
    last: &'static str,
}

/// The reply to a client silent for longer than the timeout.
pub fn timeout_reply(host: &str) -> String {
    format!("421 4.4.2 {host} Error: timeout exceeded")
}

/// The reply to a client waiting for a command when the server stops.
pub fn shutdown_reply(host: &str) -> String {
    format!("421 4.3.2 {host} Service shutting down, closing transmission channel")
}

/// The reply to a connection over the session limit.
pub fn too_busy_reply(host: &str) -> String {
    format!("421 4.7.0 {host} Error: too many connections, try again later")
}

impl Session {
    /// A session with the client at `peer`.
    pub fn new(config: Arc<InboundConfig>, peer: SocketAddr) -> Self {
        Session {
            config,
            peer: peer.ip(),
            client: format!("unknown[{}]", peer.ip()),
            tls: false,
            helo: None,
            esmtp: false,
            tx: None,
            errors: 0,
            last: "CONNECT",
        }
    }

    /// The client as the log names it: `unknown[IP]`.
    pub fn client(&self) -> &str {
        &self.client
    }

    /// The last command's verb (`CONNECT` before the first).
    pub fn last_command(&self) -> &'static str {
        self.last
    }

    fn host(&self) -> &str {
        &self.config.hostname
    }

    /// The connection is open: the greeting (`220`, or `554` when email is off).
    pub fn open(&mut self) -> Step {
        let greeting = if self.config.enabled {
            format!("220 {} ESMTP appliance", self.host())
        } else {
            format!(
                "554 5.3.2 {} ESMTP email is disabled on this appliance",
                self.host()
            )
        };
        Step {
            outputs: vec![
                Output::Log(Event::Connect {
                    client: self.client.clone(),
                }),
                Output::Reply(greeting),
            ],
            next: Next::Command,
        }
    }

    /// The client sent a command line.
    pub fn command(&mut self, line: Line) -> Step {
        let mut out = Vec::new();
        let next = if self.config.enabled {
            self.serve(&mut out, line)
        } else {
            self.refuse_all(&mut out, &line)
        };
        Step { outputs: out, next }
    }

    /// The TLS handshake after `STARTTLS` succeeded.
    pub fn tls_started(&mut self) {
        self.tls = true;
    }

    /// The message content after `DATA` has been read.
    pub fn content(&mut self, content: Content) -> Step {
        let mut out = Vec::new();
        // The transaction ends with the content, whatever happens to it.
        let Some(tx) = self.tx.take() else {
            return Step {
                outputs: out,
                next: Next::Command,
            };
        };
        let queue_id = tx.queue_id.unwrap_or_else(delivery::new_queue_id);
        let next = match content {
            Content::TooBig => {
                let reply = "552 5.3.4 Message size exceeds fixed limit";
                out.push(Output::Log(Event::TooBig {
                    queue_id,
                    client: self.client.clone(),
                    reply: reply.to_owned(),
                    from: tx.from,
                    proto: self.proto(),
                    helo: self.helo.clone().unwrap_or_default(),
                }));
                self.refuse(&mut out, reply)
            }
            Content::Complete(content) => Next::Deliver(Delivery {
                queue_id,
                from: tx.from,
                recipients: tx.recipients,
                started: tx.started,
                content,
                trace: Trace {
                    helo: self.helo.clone(),
                    peer: self.peer,
                    proto: self.proto(),
                },
            }),
        };
        Step { outputs: out, next }
    }

    /// The message has been delivered (`250` once it is durable) or could not be (`451`).
    pub fn delivered(&mut self, outcome: Outcome) -> Step {
        let mut out = Vec::new();
        let next = match outcome {
            Outcome::Accepted { queue_id, log } => {
                out.extend(log.into_iter().map(Output::Log));
                out.push(Output::Reply(format!("250 2.0.0 Ok: queued as {queue_id}")));
                Next::Command
            }
            Outcome::NotWritten { warning } => {
                out.push(Output::Log(warning));
                self.refuse(&mut out, "451 4.3.0 Error: queue file write error")
            }
        };
        Step { outputs: out, next }
    }

    /// A 4xx or 5xx reply to a command; too many of them end the session.
    fn refuse(&mut self, out: &mut Vec<Output>, text: &str) -> Next {
        out.push(Output::Reply(text.to_owned()));
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            out.push(Output::Reply(format!(
                "421 4.7.0 {} Error: too many errors",
                self.host()
            )));
            out.push(Output::Log(Event::TooManyErrors {
                after: self.last,
                client: self.client.clone(),
            }));
            return Next::Close;
        }
        Next::Command
    }

    /// Email is off: nothing but `QUIT`.
    fn refuse_all(&mut self, out: &mut Vec<Output>, line: &Line) -> Next {
        match line {
            Line::Command(line) if matches!(command::parse(line), Ok(Command::Quit)) => {
                self.last = "QUIT";
                out.push(Output::Reply("221 2.0.0 Bye".into()));
                Next::Close
            }
            _ => self.refuse(out, "503 5.5.1 Error: no SMTP service here"),
        }
    }

    fn serve(&mut self, out: &mut Vec<Output>, line: Line) -> Next {
        let line = match line {
            Line::TooLong => return self.refuse(out, "500 5.5.2 Error: line too long"),
            Line::Command(line) => line,
        };
        match command::parse(&line) {
            Ok(command) => self.execute(out, command),
            Err(CommandError::Unknown) => {
                self.refuse(out, "500 5.5.2 Error: command not recognized")
            }
            Err(CommandError::Syntax(text)) => self.refuse(out, &format!("501 {text}")),
            Err(CommandError::Parameter(p)) => {
                self.refuse(out, &format!("555 5.5.4 Unsupported option: {p}"))
            }
        }
    }

    fn reply(out: &mut Vec<Output>, text: impl Into<String>) -> Next {
        out.push(Output::Reply(text.into()));
        Next::Command
    }

    /// Runs one command.
    fn execute(&mut self, out: &mut Vec<Output>, command: Command) -> Next {
        match command {
            Command::Ehlo(name) => {
                self.last = "EHLO";
                self.helo = Some(name);
                self.esmtp = true;
                self.tx = None;
                Self::reply(out, self.ehlo_reply())
            }
            Command::Helo(name) => {
                self.last = "HELO";
                self.helo = Some(name);
                self.esmtp = false;
                self.tx = None;
                Self::reply(out, format!("250 {}", self.host()))
            }
            Command::Mail { from, size } => {
                self.last = "MAIL";
                if self.helo.is_none() {
                    self.refuse(out, "503 5.5.1 Error: send HELO/EHLO first")
                } else if self.tx.is_some() {
                    self.refuse(out, "503 5.5.1 Error: nested MAIL command")
                } else if size.is_some_and(|s| s > self.config.max_message_size) {
                    self.refuse(out, "552 5.3.4 Message size exceeds fixed limit")
                } else {
                    self.tx = Some(Transaction {
                        from,
                        recipients: Vec::new(),
                        queue_id: None,
                        started: Instant::now(),
                    });
                    Self::reply(out, "250 2.1.0 Ok")
                }
            }
            Command::Rcpt(to) => {
                self.last = "RCPT";
                self.rcpt(out, to)
            }
            Command::Data => {
                self.last = "DATA";
                match &self.tx {
                    None => self.refuse(out, "503 5.5.1 Error: need MAIL command"),
                    Some(tx) if tx.recipients.is_empty() => {
                        self.refuse(out, "503 5.5.1 Error: need RCPT command")
                    }
                    Some(_) => {
                        out.push(Output::Reply("354 End data with <CR><LF>.<CR><LF>".into()));
                        Next::Content
                    }
                }
            }
            Command::Rset => {
                self.last = "RSET";
                self.tx = None;
                Self::reply(out, "250 2.0.0 Ok")
            }
            Command::Noop => {
                self.last = "NOOP";
                Self::reply(out, "250 2.0.0 Ok")
            }
            Command::Vrfy => {
                self.last = "VRFY";
                Self::reply(out, "252 2.0.0 Cannot VRFY user, but will accept message")
            }
            Command::Help => {
                self.last = "HELP";
                Self::reply(out, "214 2.0.0 See RFC 5321")
            }
            Command::Quit => {
                self.last = "QUIT";
                out.push(Output::Reply("221 2.0.0 Bye".into()));
                Next::Close
            }
            Command::StartTls => {
                self.last = "STARTTLS";
                self.starttls(out)
            }
            Command::NotImplemented => {
                self.last = "UNKNOWN";
                self.refuse(out, "502 5.5.1 Error: command not implemented")
            }
        }
    }

    fn ehlo_reply(&self) -> String {
        let mut lines = vec![
            self.host().to_owned(),
            "PIPELINING".into(),
            format!("SIZE {}", self.config.max_message_size),
        ];
        if self.config.tls.is_some() && !self.tls {
            lines.push("STARTTLS".into());
        }
        lines.extend(["ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8"].map(String::from));
        let last = lines.len() - 1;
        let text: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
            .collect();
        text.join("\n")
    }

    fn rcpt(&mut self, out: &mut Vec<Output>, to: String) -> Next {
        let Some(tx) = &self.tx else {
            return self.refuse(out, "503 5.5.1 Error: need MAIL command");
        };
        if tx.recipients.len() >= MAX_RECIPIENTS {
            return self.refuse(out, "452 4.5.3 Error: too many recipients");
        }
        let Some(domain) = self.config.domain_of(&to) else {
            let reply = format!("554 5.7.1 <{to}>: Relay access denied");
            out.push(Output::Log(Event::RelayDenied {
                client: self.client.clone(),
                reply: reply.clone(),
                from: tx.from.clone(),
                to,
                proto: self.proto(),
                helo: self.helo.clone().unwrap_or_default(),
            }));
            return self.refuse(out, &reply);
        };
        let client = self.client.clone();
        if let Some(tx) = &mut self.tx {
            if tx.queue_id.is_none() {
                let id = delivery::new_queue_id();
                out.push(Output::Log(Event::QueueClient {
                    queue_id: id.clone(),
                    client,
                }));
                tx.queue_id = Some(id);
            }
            tx.recipients.push((to, domain));
        }
        Self::reply(out, "250 2.1.5 Ok")
    }

    fn proto(&self) -> &'static str {
        match (self.esmtp, self.tls) {
            (true, true) => "ESMTPS",
            (true, false) => "ESMTP",
            (false, true) => "SMTPS",
            (false, false) => "SMTP",
        }
    }

    fn starttls(&mut self, out: &mut Vec<Output>) -> Next {
        let Some(tls) = self.config.tls.clone() else {
            return self.refuse(out, "502 5.5.1 Error: command not implemented");
        };
        if self.tls {
            return self.refuse(out, "554 5.5.1 Error: TLS already active");
        }
        out.push(Output::Reply("220 2.0.0 Ready to start TLS".into()));
        // RFC 3207: what was said in clear text does not count.
        self.helo = None;
        self.esmtp = false;
        self.tx = None;
        Next::StartTls(tls)
    }
}

#[cfg(test)]
mod tests;
