//! One SMTP connection of the receiving server (RFC 5321), from the greeting to the close.
//!
//! The state machine is the RFC's: `EHLO`/`HELO` first (`503` otherwise), then `MAIL`, one or
//! more `RCPT`, `DATA`; `RSET` and a new `EHLO` start over. Commands may be pipelined (they are
//! read from one buffer, one line at a time). A command line longer than 512 octets is refused
//! with `500` (and read to its end). `STARTTLS` (offered only with a certificate) discards
//! whatever clear text followed it in the buffer and forgets the `EHLO` and the transaction
//! (RFC 3207). Message content is read until `CRLF.CRLF` only (a bare LF before or after the dot
//! does not end it), with dot-unstuffing; content over the size limit is read and thrown away,
//! then refused with `552`. A client silent for longer than the timeout gets `421`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::command::{self, Command, CommandError};
use super::mail_log::Program;
use super::{Domain, InboundConfig};

/// The longest command line, CRLF included (RFC 5321 section 4.5.3.1.4).
pub const MAX_COMMAND_LINE: usize = 512;
/// The most recipients of one message.
pub const MAX_RECIPIENTS: usize = 100;
/// Errors after which the client is disconnected (Postfix's `smtpd_hard_error_limit`).
pub const MAX_ERRORS: u32 = 20;

/// A connection, in clear text or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Why a session ends early.
#[derive(Debug)]
enum End {
    /// The client closed the connection (or it broke).
    Lost,
    /// The client was silent too long (`421` sent).
    Timeout,
    /// The server is stopping (`421` sent).
    Stopping,
}

/// A command line, or why there is none.
enum Line {
    Command(Vec<u8>),
    TooLong,
}

/// The message being received.
struct Transaction {
    from: String,
    recipients: Vec<(String, Domain)>,
    queue_id: Option<String>,
    started: Instant,
}

struct Session {
    io: Box<dyn Io>,
    buf: Vec<u8>,
    config: Arc<InboundConfig>,
    peer: SocketAddr,
    client: String,
    tls: bool,
    helo: Option<String>,
    esmtp: bool,
    tx: Option<Transaction>,
    errors: u32,
    /// The last command's verb, for `lost connection after VERB`.
    last: &'static str,
    stop: watch::Receiver<bool>,
}

/// Runs one session to its end; every outcome is logged, none is returned.
pub async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    config: Arc<InboundConfig>,
    stop: watch::Receiver<bool>,
) {
    let client = format!("unknown[{}]", peer.ip());
    let mut session = Session {
        io: Box::new(stream),
        buf: Vec::with_capacity(4096),
        config,
        peer,
        client,
        tls: false,
        helo: None,
        esmtp: false,
        tx: None,
        errors: 0,
        last: "CONNECT",
        stop,
    };
    session.log(Program::Smtpd, &format!("connect from {}", session.client));
    match session.converse().await {
        Ok(()) => {}
        Err(End::Lost) => {
            let text = format!(
                "lost connection after {} from {}",
                session.last, session.client
            );
            session.log(Program::Smtpd, &text);
        }
        Err(End::Timeout) => {
            let text = format!("timeout after {} from {}", session.last, session.client);
            session.log(Program::Smtpd, &text);
        }
        Err(End::Stopping) => {}
    }
    let _ = session.io.shutdown().await;
    session.log(
        Program::Smtpd,
        &format!("disconnect from {}", session.client),
    );
}

/// Answers a connection over the session limit with `421` and closes it.
pub async fn too_busy(mut stream: TcpStream, peer: SocketAddr, config: Arc<InboundConfig>) {
    let text = format!(
        "421 4.7.0 {} Error: too many connections, try again later\r\n",
        config.hostname
    );
    let _ = tokio::time::timeout(config.timeout, stream.write_all(text.as_bytes())).await;
    let _ = stream.shutdown().await;
    let line = format!(
        "warning: too many connections: refused unknown[{}]",
        peer.ip()
    );
    let _ = config.log.line(Program::Smtpd, &line);
}

impl Session {
    fn log(&self, program: Program, text: &str) {
        // A log that cannot be written must not stop mail; the error goes to stderr once per line.
        if let Err(e) = self.config.log.line(program, text) {
            eprintln!(
                "appliance inbound: cannot write {}: {e}",
                self.config.log.path().display()
            );
        }
    }

    fn host(&self) -> &str {
        &self.config.hostname
    }

    async fn reply(&mut self, text: &str) -> Result<(), End> {
        let mut wire = text.replace('\n', "\r\n");
        wire.push_str("\r\n");
        let write = async {
            self.io.write_all(wire.as_bytes()).await?;
            self.io.flush().await
        };
        match tokio::time::timeout(self.config.timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Lost),
            Err(_) => Err(End::Timeout),
        }
    }

    /// A 4xx or 5xx reply to a command; too many of them end the session.
    async fn refuse(&mut self, text: &str) -> Result<(), End> {
        self.reply(text).await?;
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            let bye = format!("421 4.7.0 {} Error: too many errors", self.host());
            self.reply(&bye).await?;
            let text = format!("too many errors after {} from {}", self.last, self.client);
            self.log(Program::Smtpd, &text);
            return Err(End::Stopping);
        }
        Ok(())
    }

    /// Reads more bytes into the buffer; `stoppable` while waiting for a command.
    async fn fill(&mut self, stoppable: bool) -> Result<(), End> {
        let mut chunk = [0u8; 16 * 1024];
        let timeout = self.config.timeout;
        let read = tokio::time::timeout(timeout, self.io.read(&mut chunk));
        let mut stop = self.stop.clone();
        let stopping = async move {
            if !stoppable {
                return std::future::pending::<()>().await;
            }
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    return std::future::pending::<()>().await;
                }
            }
        };
        let n = tokio::select! {
            r = read => match r {
                Ok(Ok(0)) | Ok(Err(_)) => return Err(End::Lost),
                Ok(Ok(n)) => n,
                Err(_) => {
                    let text = format!("421 4.4.2 {} Error: timeout exceeded", self.host());
                    let _ = self.reply(&text).await;
                    return Err(End::Timeout);
                }
            },
            () = stopping => {
                let text = format!("421 4.3.2 {} Service shutting down, closing transmission channel", self.host());
                let _ = self.reply(&text).await;
                return Err(End::Stopping);
            }
        };
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// The next command line (without its line ending).
    async fn read_command(&mut self) -> Result<Line, End> {
        let mut too_long = false;
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                if too_long || line.len() > MAX_COMMAND_LINE {
                    return Ok(Line::TooLong);
                }
                let end = line.len() - if line.ends_with(b"\r\n") { 2 } else { 1 };
                return Ok(Line::Command(line[..end].to_vec()));
            }
            if self.buf.len() > MAX_COMMAND_LINE {
                too_long = true;
                self.buf.clear();
            }
            self.fill(true).await?;
        }
    }

    /// Email is off: `554` instead of the greeting, and nothing but `QUIT` (RFC 5321 3.1).
    async fn refuse_all(&mut self) -> Result<(), End> {
        let greeting = format!(
            "554 5.3.2 {} ESMTP email is disabled on this appliance",
            self.host()
        );
        self.reply(&greeting).await?;
        loop {
            match self.read_command().await? {
                Line::Command(line) if matches!(command::parse(&line), Ok(Command::Quit)) => {
                    self.last = "QUIT";
                    return self.reply("221 2.0.0 Bye").await;
                }
                _ => self.refuse("503 5.5.1 Error: no SMTP service here").await?,
            }
        }
    }

    async fn converse(&mut self) -> Result<(), End> {
        if !self.config.enabled {
            return self.refuse_all().await;
        }
        let greeting = format!("220 {} ESMTP appliance", self.host());
        self.reply(&greeting).await?;
        loop {
            let line = match self.read_command().await? {
                Line::TooLong => {
                    self.refuse("500 5.5.2 Error: line too long").await?;
                    continue;
                }
                Line::Command(line) => line,
            };
            let command = match command::parse(&line) {
                Ok(c) => c,
                Err(CommandError::Unknown) => {
                    self.refuse("500 5.5.2 Error: command not recognized")
                        .await?;
                    continue;
                }
                Err(CommandError::Syntax(text)) => {
                    self.refuse(&format!("501 {text}")).await?;
                    continue;
                }
                Err(CommandError::Parameter(p)) => {
                    let text = format!("555 5.5.4 Unsupported option: {p}");
                    self.refuse(&text).await?;
                    continue;
                }
            };
            if !self.execute(command).await? {
                return Ok(());
            }
        }
    }

    /// Runs one command; `false` when the session is over (QUIT).
    async fn execute(&mut self, command: Command) -> Result<bool, End> {
        match command {
            Command::Ehlo(name) => {
                self.last = "EHLO";
                self.helo = Some(name);
                self.esmtp = true;
                self.tx = None;
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
                self.reply(&text.join("\n")).await?;
            }
            Command::Helo(name) => {
                self.last = "HELO";
                self.helo = Some(name);
                self.esmtp = false;
                self.tx = None;
                let text = format!("250 {}", self.host());
                self.reply(&text).await?;
            }
            Command::Mail { from, size } => {
                self.last = "MAIL";
                if self.helo.is_none() {
                    self.refuse("503 5.5.1 Error: send HELO/EHLO first").await?;
                } else if self.tx.is_some() {
                    self.refuse("503 5.5.1 Error: nested MAIL command").await?;
                } else if size.is_some_and(|s| s > self.config.max_message_size) {
                    self.refuse("552 5.3.4 Message size exceeds fixed limit")
                        .await?;
                } else {
                    self.tx = Some(Transaction {
                        from,
                        recipients: Vec::new(),
                        queue_id: None,
                        started: Instant::now(),
                    });
                    self.reply("250 2.1.0 Ok").await?;
                }
            }
            Command::Rcpt(to) => {
                self.last = "RCPT";
                self.rcpt(to).await?;
            }
            Command::Data => {
                self.last = "DATA";
                self.data().await?;
            }
            Command::Rset => {
                self.last = "RSET";
                self.tx = None;
                self.reply("250 2.0.0 Ok").await?;
            }
            Command::Noop => {
                self.last = "NOOP";
                self.reply("250 2.0.0 Ok").await?;
            }
            Command::Vrfy => {
                self.last = "VRFY";
                self.reply("252 2.0.0 Cannot VRFY user, but will accept message")
                    .await?;
            }
            Command::Help => {
                self.last = "HELP";
                self.reply("214 2.0.0 See RFC 5321").await?;
            }
            Command::Quit => {
                self.last = "QUIT";
                self.reply("221 2.0.0 Bye").await?;
                return Ok(false);
            }
            Command::StartTls => {
                self.last = "STARTTLS";
                self.starttls().await?;
            }
            Command::NotImplemented => {
                self.last = "UNKNOWN";
                self.refuse("502 5.5.1 Error: command not implemented")
                    .await?;
            }
        }
        Ok(true)
    }

    async fn rcpt(&mut self, to: String) -> Result<(), End> {
        let Some(tx) = &self.tx else {
            return self.refuse("503 5.5.1 Error: need MAIL command").await;
        };
        if tx.recipients.len() >= MAX_RECIPIENTS {
            return self.refuse("452 4.5.3 Error: too many recipients").await;
        }
        let Some(domain) = self.config.domain_of(&to) else {
            let reply = format!("554 5.7.1 <{to}>: Relay access denied");
            let text = format!(
                "NOQUEUE: reject: RCPT from {}: {reply}; from=<{}> to=<{to}> proto={} helo=<{}>",
                self.client,
                tx.from,
                self.proto(),
                self.helo.as_deref().unwrap_or_default()
            );
            self.log(Program::Smtpd, &text);
            return self.refuse(&reply).await;
        };
        let new_id = tx.queue_id.is_none().then(queue_id);
        if let Some(id) = &new_id {
            self.log(Program::Smtpd, &format!("{id}: client={}", self.client));
        }
        if let Some(tx) = &mut self.tx {
            if let Some(id) = new_id {
                tx.queue_id = Some(id);
            }
            tx.recipients.push((to, domain));
        }
        self.reply("250 2.1.5 Ok").await
    }

    fn proto(&self) -> &'static str {
        match (self.esmtp, self.tls) {
            (true, true) => "ESMTPS",
            (true, false) => "ESMTP",
            (false, true) => "SMTPS",
            (false, false) => "SMTP",
        }
    }

    async fn data(&mut self) -> Result<(), End> {
        match &self.tx {
            None => return self.refuse("503 5.5.1 Error: need MAIL command").await,
            Some(tx) if tx.recipients.is_empty() => {
                return self.refuse("503 5.5.1 Error: need RCPT command").await;
            }
            Some(_) => {}
        }
        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
        let content = self.read_content().await;
        // The transaction ends with the content, whatever happens to it.
        let Some(tx) = self.tx.take() else {
            return Ok(());
        };
        let queue_id = tx.queue_id.clone().unwrap_or_else(queue_id);
        match content? {
            None => {
                let reply = "552 5.3.4 Message size exceeds fixed limit";
                let text = format!(
                    "{queue_id}: reject: END-OF-MESSAGE from {}: {reply}; from=<{}> proto={} helo=<{}>",
                    self.client,
                    tx.from,
                    self.proto(),
                    self.helo.as_deref().unwrap_or_default()
                );
                self.log(Program::Cleanup, &text);
                self.refuse(reply).await
            }
            Some(content) => self.accept(tx, &queue_id, content).await,
        }
    }

    /// Delivers (or discards) a complete message, logs it, and answers `250` once it is
    /// durable (or `451` when it could not be written).
    async fn accept(
        &mut self,
        tx: Transaction,
        queue_id: &str,
        content: Vec<u8>,
    ) -> Result<(), End> {
        let discard = self.config.discard_to_noreply;
        let (dropped, kept): (Vec<_>, Vec<_>) = tx
            .recipients
            .iter()
            .partition(|(_, d)| discard && *d == Domain::NoReply);
        let message_id = header_value(&content, "message-id").unwrap_or_default();
        let message_id = message_id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        if !kept.is_empty() {
            let prefix = self.trace_headers(&tx.from, &kept, queue_id);
            let maildir = self.config.maildir.clone();
            let content_len = content.len();
            let written = tokio::task::spawn_blocking(move || {
                maildir.deliver(&[prefix.as_bytes(), &content])
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
            if let Err(e) = written {
                let text = format!("{queue_id}: warning: cannot deliver to maildir: {e}");
                self.log(Program::Virtual, &text);
                return self.refuse("451 4.3.0 Error: queue file write error").await;
            }
            self.log_accepted(&tx, queue_id, message_id, content_len, &kept, &dropped);
        } else {
            self.log_accepted(&tx, queue_id, message_id, content.len(), &kept, &dropped);
        }
        let text = format!("250 2.0.0 Ok: queued as {queue_id}");
        self.reply(&text).await
    }

    fn log_accepted(
        &self,
        tx: &Transaction,
        queue_id: &str,
        message_id: &str,
        size: usize,
        kept: &[&(String, Domain)],
        dropped: &[&(String, Domain)],
    ) {
        self.log(
            Program::Cleanup,
            &format!("{queue_id}: message-id=<{message_id}>"),
        );
        let text = format!(
            "{queue_id}: from=<{}>, size={size}, nrcpt={} (queue active)",
            tx.from,
            tx.recipients.len()
        );
        self.log(Program::Qmgr, &text);
        let delay = tx.started.elapsed().as_secs_f64();
        for (to, _) in kept {
            let text = format!(
                "{queue_id}: to=<{to}>, relay=virtual, delay={delay:.2}, dsn=2.0.0, status=sent (delivered to maildir)"
            );
            self.log(Program::Virtual, &text);
        }
        for (to, _) in dropped {
            let text = format!(
                "{queue_id}: to=<{to}>, relay=none, delay={delay:.2}, dsn=2.0.0, status=sent (discarded)"
            );
            self.log(Program::Discard, &text);
        }
        self.log(Program::Qmgr, &format!("{queue_id}: removed"));
    }

    /// `Return-Path`, `X-Original-To`, `Delivered-To` and `Received`, as Postfix's virtual
    /// delivery agent writes them before the message.
    fn trace_headers(&self, from: &str, to: &[&(String, Domain)], queue_id: &str) -> String {
        let all: Vec<&str> = to.iter().map(|(a, _)| a.as_str()).collect();
        let date = time::OffsetDateTime::from(SystemTime::now())
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default();
        format!(
            "Return-Path: <{from}>\r\nX-Original-To: {}\r\nDelivered-To: {}\r\nReceived: from {} ({} [{}])\r\n\tby {} (appliance) with {} id {queue_id}\r\n\tfor <{}>; {date}\r\n",
            all.join(", "),
            all[0],
            self.helo.as_deref().unwrap_or("unknown"),
            "unknown",
            self.peer.ip(),
            self.host(),
            self.proto(),
            all[0],
        )
    }

    /// Reads message content up to `CRLF.CRLF`, unstuffed; `Ok(None)` when it was over the size
    /// limit (read to its end and thrown away).
    async fn read_content(&mut self) -> Result<Option<Vec<u8>>, End> {
        /// A line longer than this is taken in pieces.
        const PIECE: usize = 8192;
        let max = usize::try_from(self.config.max_message_size).unwrap_or(usize::MAX);
        let mut content = Content {
            bytes: Vec::new(),
            size: 0,
            max,
            too_big: false,
        };
        let mut prev_crlf = true;
        let mut line: Vec<u8> = Vec::new();
        let mut continued = false;
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                line.extend(self.buf.drain(..=i));
                if prev_crlf && !continued && line == b".\r\n" {
                    return Ok((!content.too_big).then_some(content.bytes));
                }
                let body = match line.first() {
                    Some(b'.') if !continued => &line[1..],
                    _ => &line[..],
                };
                content.add(body);
                prev_crlf = line.ends_with(b"\r\n");
                line.clear();
                continued = false;
                continue;
            }
            line.append(&mut self.buf);
            if line.len() > PIECE {
                let keep = usize::from(line.last() == Some(&b'\r'));
                let mut piece: Vec<u8> = line.drain(..line.len() - keep).collect();
                if !continued && piece.first() == Some(&b'.') {
                    piece.remove(0);
                }
                continued = true;
                content.add(&piece);
            }
            self.fill(false).await?;
        }
    }

    async fn starttls(&mut self) -> Result<(), End> {
        let Some(tls) = self.config.tls.clone() else {
            return self
                .refuse("502 5.5.1 Error: command not implemented")
                .await;
        };
        if self.tls {
            return self.refuse("554 5.5.1 Error: TLS already active").await;
        }
        self.reply("220 2.0.0 Ready to start TLS").await?;
        // RFC 3207: nothing sent in clear text after STARTTLS counts.
        self.buf.clear();
        self.helo = None;
        self.esmtp = false;
        self.tx = None;
        let io = std::mem::replace(&mut self.io, Box::new(tokio::io::empty()));
        let accept = TlsAcceptor::from(tls).accept(io);
        match tokio::time::timeout(self.config.timeout, accept).await {
            Ok(Ok(stream)) => {
                self.io = Box::new(stream);
                self.tls = true;
                Ok(())
            }
            Ok(Err(e)) => {
                let text = format!("SSL_accept error from {}: {e}", self.client);
                self.log(Program::Smtpd, &text);
                Err(End::Lost)
            }
            Err(_) => Err(End::Timeout),
        }
    }
}

/// Message content as it is read, within the size limit.
struct Content {
    bytes: Vec<u8>,
    size: usize,
    max: usize,
    too_big: bool,
}

impl Content {
    fn add(&mut self, bytes: &[u8]) {
        self.size = self.size.saturating_add(bytes.len());
        if self.size > self.max {
            self.too_big = true;
            self.bytes = Vec::new();
        } else {
            self.bytes.extend_from_slice(bytes);
        }
    }
}

/// A new queue id: 11 upper-case hex digits, as Postfix's short ids.
fn queue_id() -> String {
    let bytes = crate::fsutil::random_bytes::<6>().unwrap_or_else(|_| {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
            .to_be_bytes();
        let mut b = [0u8; 6];
        b.copy_from_slice(&nanos[10..16]);
        b
    });
    let mut id = hex::encode_upper(bytes);
    id.truncate(11);
    id
}

/// The first value of header `name` in the message's header section (unfolded), for the log.
pub fn header_value(message: &[u8], name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    for raw in message.split(|&b| b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(line);
        if text.starts_with([' ', '\t']) {
            if let Some(v) = value.as_mut() {
                v.push(' ');
                v.push_str(text.trim());
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        if let Some((key, rest)) = text.split_once(':')
            && key.trim().eq_ignore_ascii_case(name)
        {
            value = Some(rest.trim().to_owned());
        }
    }
    value.map(|v| v.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values() {
        let m = b"Subject: hi\r\nMessage-ID:\r\n <a@b>\r\nX: y\r\n\r\nMessage-ID: <no@no>\r\n";
        assert_eq!(header_value(m, "message-id").as_deref(), Some("<a@b>"));
        assert_eq!(header_value(m, "subject").as_deref(), Some("hi"));
        assert_eq!(
            header_value(b"\r\nMessage-ID: <x@y>\r\n", "message-id"),
            None
        );
    }

    #[test]
    fn queue_ids() {
        let id = queue_id();
        assert_eq!(id.len(), 11);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
        );
    }
}
