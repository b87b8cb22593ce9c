//! One connection to the SMTP server: plain or TLS, reading whole replies and writing commands
//! with a timeout on every wait, and recording both directions in the [`Conversation`].

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;

use super::error::{Cause, ErrorKind, SendError};
use super::reply::{Reply, ReplyParser};
use super::step::Step;
use crate::convlog::Conversation;

/// The longest reply line accepted (RFC 5321 allows 512; servers write more).
const MAX_LINE: usize = 64 * 1024;
/// Message content is written in pieces of this size, each with its own timeout.
const WRITE_CHUNK: usize = 64 * 1024;

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Between taking the TCP stream for a handshake and getting it back, or after a failure.
    Gone,
}

/// An open connection and the conversation it records.
pub(crate) struct Connection<'c> {
    stream: Stream,
    inbuf: Vec<u8>,
    conversation: &'c mut Conversation,
    timeout: Duration,
    /// The connection can carry no more commands (EOF, I/O error, failed handshake).
    broken: bool,
}

/// `host:port` as the log and messages show a server, with IPv6 addresses in brackets.
pub fn target(address: &str, port: u16) -> String {
    if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    }
}

impl<'c> Connection<'c> {
    /// Resolves `address` and connects to the first address that answers, within `wait`.
    pub(crate) async fn open(
        address: &str,
        port: u16,
        wait: Duration,
        conversation: &'c mut Conversation,
    ) -> Result<Connection<'c>, SendError> {
        let target = target(address, port);
        let deadline = Instant::now() + wait;
        let fail = |conversation: &mut Conversation, cause: Cause, detail: String| {
            conversation.event(&format!("Connection to {target} failed: {detail}"));
            SendError::new(Step::Connect, ErrorKind::Temporary, cause, detail)
        };
        let addrs: Vec<SocketAddr> =
            match timeout_at(deadline, tokio::net::lookup_host((address, port))).await {
                Ok(Ok(addrs)) => addrs.collect(),
                Ok(Err(e)) => {
                    let detail = format!("cannot resolve {address}: {e}");
                    return Err(fail(conversation, Cause::Resolve, detail));
                }
                Err(_) => {
                    let detail = format!("resolving {address} took longer than {wait:?}");
                    return Err(fail(conversation, Cause::Timeout, detail));
                }
            };
        let mut last: Option<(Cause, String)> = None;
        for addr in &addrs {
            match timeout_at(deadline, TcpStream::connect(addr)).await {
                Ok(Ok(tcp)) => {
                    let _ = tcp.set_nodelay(true);
                    conversation.opened(&target);
                    return Ok(Connection {
                        stream: Stream::Plain(tcp),
                        inbuf: Vec::new(),
                        conversation,
                        timeout: wait,
                        broken: false,
                    });
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    last = Some((
                        Cause::ConnectionRefused,
                        format!("{addr} refused the connection"),
                    ));
                }
                Ok(Err(e)) => {
                    last = Some((Cause::Unreachable, format!("cannot connect to {addr}: {e}")))
                }
                Err(_) => {
                    last = Some((
                        Cause::Timeout,
                        format!("no answer from {target} within {}", seconds(wait)),
                    ));
                    break;
                }
            }
        }
        let (cause, detail) = last.unwrap_or((Cause::Resolve, format!("{address} has no address")));
        Err(fail(conversation, cause, detail))
    }

    /// `true` inside TLS.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Runs the TLS handshake on the connection (after STARTTLS's `220`, or at once for
    /// implicit TLS). Clear-text bytes the server sent before it are thrown away (RFC 3207).
    pub(crate) async fn start_tls(
        &mut self,
        connector: &TlsConnector,
        name: ServerName<'static>,
    ) -> Result<(), SendError> {
        if !self.inbuf.is_empty() {
            self.conversation.event(&format!(
                "Discarded {} bytes received in clear text before the TLS handshake",
                self.inbuf.len()
            ));
            self.inbuf.clear();
        }
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            self.broken = true;
            return Err(SendError::new(
                Step::TlsHandshake,
                ErrorKind::Permanent,
                Cause::TlsHandshake,
                "TLS was already started",
            ));
        };
        match timeout(self.timeout, connector.connect(name, tcp)).await {
            Ok(Ok(tls)) => {
                self.stream = Stream::Tls(Box::new(tls));
                self.conversation.event("TLS connection started");
                Ok(())
            }
            Ok(Err(e)) => {
                self.broken = true;
                self.conversation
                    .event(&format!("TLS handshake failed: {e}"));
                Err(super::tls::handshake_error(&e))
            }
            Err(_) => {
                self.broken = true;
                let detail = format!(
                    "the TLS handshake did not finish within {}",
                    seconds(self.timeout)
                );
                self.conversation
                    .event(&format!("TLS handshake failed: {detail}"));
                Err(SendError::new(
                    Step::TlsHandshake,
                    ErrorKind::Temporary,
                    Cause::Timeout,
                    detail,
                ))
            }
        }
    }

    /// Reads one whole reply (every line of a multi-line reply) within the timeout.
    pub(crate) async fn read_reply(&mut self, step: Step) -> Result<Reply, SendError> {
        let deadline = Instant::now() + self.timeout;
        let mut parser = ReplyParser::default();
        loop {
            let line = self.read_line(step, deadline).await?;
            self.conversation.server(&line);
            match parser.push(&line) {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(e) => {
                    self.broken = true;
                    return Err(SendError::new(
                        step,
                        ErrorKind::Permanent,
                        Cause::Malformed,
                        e.to_string(),
                    ));
                }
            }
        }
    }

    async fn read_line(&mut self, step: Step, deadline: Instant) -> Result<Vec<u8>, SendError> {
        loop {
            if let Some(end) = self.inbuf.iter().position(|b| *b == b'\n') {
                return Ok(self.inbuf.drain(..=end).collect());
            }
            if self.inbuf.len() > MAX_LINE {
                self.broken = true;
                return Err(SendError::new(
                    step,
                    ErrorKind::Permanent,
                    Cause::Malformed,
                    format!("the server sent a line longer than {MAX_LINE} bytes"),
                ));
            }
            self.inbuf.reserve(4096);
            let read = match &mut self.stream {
                Stream::Plain(s) => timeout_at(deadline, s.read_buf(&mut self.inbuf)).await,
                Stream::Tls(s) => timeout_at(deadline, s.read_buf(&mut self.inbuf)).await,
                Stream::Gone => Ok(Ok(0)),
            };
            match read {
                Ok(Ok(0)) => return Err(self.lost(step, None)),
                Ok(Ok(_)) => {}
                // A TLS peer that hangs up without close_notify: the same as an EOF.
                Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(self.lost(step, None));
                }
                Ok(Err(e)) => return Err(self.lost(step, Some(e))),
                Err(_) => {
                    let detail =
                        format!("no reply from the server within {}", seconds(self.timeout));
                    self.conversation.event(&format!("Timed out: {detail}"));
                    return Err(SendError::new(
                        step,
                        ErrorKind::Temporary,
                        Cause::Timeout,
                        detail,
                    ));
                }
            }
        }
    }

    /// The connection ended in the middle of the conversation.
    fn lost(&mut self, step: Step, error: Option<io::Error>) -> SendError {
        self.broken = true;
        if !self.inbuf.is_empty() {
            // An unfinished last line is still part of what the server said.
            let partial = std::mem::take(&mut self.inbuf);
            self.conversation.server(&partial);
        }
        let detail = match error {
            None => "the server closed the connection".to_owned(),
            Some(e) => format!("the connection broke: {e}"),
        };
        self.conversation
            .event(&format!("Connection lost: {detail}"));
        SendError::new(step, ErrorKind::Temporary, Cause::ConnectionLost, detail)
    }

    async fn write(&mut self, step: Step, bytes: &[u8]) -> Result<(), SendError> {
        let result = match &mut self.stream {
            Stream::Plain(s) => timeout(self.timeout, write_flush(s, bytes)).await,
            Stream::Tls(s) => timeout(self.timeout, write_flush(s.as_mut(), bytes)).await,
            Stream::Gone => Ok(Err(io::ErrorKind::NotConnected.into())),
        };
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.lost(step, Some(e))),
            Err(_) => {
                let detail = format!(
                    "the server did not take the data within {}",
                    seconds(self.timeout)
                );
                self.conversation.event(&format!("Timed out: {detail}"));
                self.broken = true;
                Err(SendError::new(
                    step,
                    ErrorKind::Temporary,
                    Cause::Timeout,
                    detail,
                ))
            }
        }
    }

    /// Sends one command line (CRLF added) and logs it.
    pub(crate) async fn send_line(&mut self, step: Step, line: &str) -> Result<(), SendError> {
        let bytes = format!("{line}\r\n");
        self.conversation.client(bytes.as_bytes());
        self.write(step, bytes.as_bytes()).await
    }

    /// Sends `prefix` followed by a secret (CRLF added); the log shows `prefix[redacted]`.
    pub(crate) async fn send_secret(
        &mut self,
        step: Step,
        prefix: &str,
        secret: &str,
    ) -> Result<(), SendError> {
        self.conversation.client_secret(prefix.as_bytes());
        let bytes = format!("{prefix}{secret}\r\n");
        self.write(step, bytes.as_bytes()).await
    }

    /// Sends a command and reads its reply.
    pub(crate) async fn command(&mut self, step: Step, line: &str) -> Result<Reply, SendError> {
        self.send_line(step, line).await?;
        self.read_reply(step).await
    }

    /// Sends message content already encoded for the wire; the log shows its size only.
    pub(crate) async fn send_content(&mut self, step: Step, wire: &[u8]) -> Result<(), SendError> {
        self.conversation.message(wire.len());
        for chunk in wire.chunks(WRITE_CHUNK) {
            self.write(step, chunk).await?;
        }
        Ok(())
    }

    /// Says goodbye as politely as a broken session allows: `QUIT` and its reply, each waited
    /// for at most `wait`, errors ignored (they are in the log).
    pub(crate) async fn quit(&mut self, wait: Duration) {
        if self.broken {
            return;
        }
        self.timeout = self.timeout.min(wait);
        let _ = self.command(Step::Quit, "QUIT").await;
    }

    /// Closes the connection (with a TLS close_notify when possible) and logs it.
    pub(crate) async fn close(mut self, wait: Duration) {
        let stream = std::mem::replace(&mut self.stream, Stream::Gone);
        match stream {
            Stream::Tls(mut s) if !self.broken => {
                let _ = timeout(wait, s.shutdown()).await;
            }
            Stream::Plain(mut s) => {
                let _ = timeout(wait, s.shutdown()).await;
            }
            _ => {}
        }
        self.conversation.event("Connection closed");
    }
}

async fn write_flush<W: AsyncWriteExt + Unpin>(w: &mut W, bytes: &[u8]) -> io::Result<()> {
    w.write_all(bytes).await?;
    w.flush().await
}

/// `1s`, `30s`, `1.5s`.
pub(crate) fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}
