//! One proxied connection: the client on one side, the upstream on the other, relayed line by
//! line in both directions while the conversation is written into a [`Transcript`].
//!
//! The relay understands just enough SMTP to stay correct and keep secrets out: the end of a
//! reply (`250 ` after `250-`), `STARTTLS` (TLS terminated on both sides), `DATA` (the content
//! up to the final `.` is relayed and counted, not recorded), `BDAT n` (n octets relayed raw)
//! and `AUTH` (the payload of the command and every client line up to the final reply are
//! stored as `[redacted]`, never as sent). Every wait is bounded by the timeout; when the
//! upstream cannot be reached, does not answer or breaks, the client is told `421 4.4.0`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::RecordOptions;
use crate::transcript::{Closer, Event, REDACTED, Transcript};

/// A byte stream: TCP, or TLS over it.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

type Io = Box<dyn Stream>;

/// Lines longer than this are relayed in pieces of this size.
const MAX_LINE: usize = 64 * 1024;

/// One side of the relay: its stream and what was read but not yet used.
struct Side {
    io: Io,
    buf: Vec<u8>,
}

impl Side {
    fn new(io: Io) -> Self {
        Side {
            io,
            buf: Vec::new(),
        }
    }

    /// The next line with its ending (the rest at EOF); `None` at EOF. Cancel-safe: bytes read
    /// stay in the buffer if another branch of a `select!` wins.
    async fn line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                return Ok(Some(self.buf.drain(..=end).collect()));
            }
            if self.buf.len() >= MAX_LINE {
                return Ok(Some(self.buf.drain(..MAX_LINE).collect()));
            }
            let mut chunk = [0u8; 8192];
            let n = self.io.read(&mut chunk).await?;
            if n == 0 {
                return Ok((!self.buf.is_empty()).then(|| std::mem::take(&mut self.buf)));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Up to `max` bytes: what is buffered first, else what the next read brings (empty at EOF).
    async fn some(&mut self, max: usize) -> std::io::Result<Vec<u8>> {
        if !self.buf.is_empty() {
            let n = max.min(self.buf.len());
            return Ok(self.buf.drain(..n).collect());
        }
        let mut chunk = vec![0u8; max.min(64 * 1024)];
        let n = self.io.read(&mut chunk).await?;
        chunk.truncate(n);
        Ok(chunk)
    }

    async fn write(&mut self, bytes: &[u8], timeout: Duration) -> std::io::Result<()> {
        let io = async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        };
        match tokio::time::timeout(timeout, io).await {
            Ok(result) => result,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }

    /// Takes the stream out (for a TLS upgrade), leaving a closed placeholder.
    fn take_io(&mut self) -> Io {
        std::mem::replace(&mut self.io, Box::new(tokio::io::duplex(1).0))
    }

    async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(Duration::from_millis(500), self.io.shutdown()).await;
    }
}

/// The note for a STARTTLS whose handshake failed after the upstream's `220`.
const UNFINISHED_TLS: &str = "saw the handshake after the upstream's 220 to STARTTLS fail: \
the scenario still has the `tls` step the upstream offered";

/// Why the relay stopped early.
struct Stop;

/// The relay of one connection and what it has recorded so far.
struct Relay<'a> {
    options: &'a RecordOptions,
    client: Side,
    upstream: Side,
    transcript: Transcript,
    notes: Vec<String>,
    /// Replies still owed by the upstream (the greeting, one per command, one per message).
    awaiting: usize,
    /// The code of the upstream's last complete reply.
    last_code: Option<u16>,
    /// TLS is on (both sides).
    tls: bool,
    /// The client's STARTTLS went upstream; its reply decides.
    starttls_sent: bool,
    /// The client's DATA went upstream; a 354 starts the content.
    data_sent: bool,
    /// Relaying message content, and how many octets so far.
    in_data: Option<usize>,
    /// Inside an AUTH exchange: client lines are secrets.
    in_sasl: bool,
}

/// Proxies one client to the upstream until either side closes; returns the transcript and
/// notes about what the proxy itself did.
pub(super) async fn relay(
    tcp: TcpStream,
    peer: SocketAddr,
    number: u64,
    options: &RecordOptions,
) -> (Transcript, Vec<String>) {
    let _ = tcp.set_nodelay(true);
    let mut transcript = Transcript::new(number);
    transcript.push(Event::Opened {
        peer: peer.to_string(),
    });
    let mut relay = Relay {
        options,
        client: Side::new(Box::new(tcp)),
        upstream: Side::new(Box::new(tokio::io::duplex(1).0)),
        transcript,
        notes: Vec::new(),
        awaiting: 1,
        last_code: None,
        tls: false,
        starttls_sent: false,
        data_sent: false,
        in_data: None,
        in_sasl: false,
    };
    if relay.open().await.is_ok() {
        let _ = relay.run().await;
    }
    relay.client.shutdown().await;
    relay.upstream.shutdown().await;
    (relay.transcript, relay.notes)
}

/// The CRLF (or LF) a line ends with; empty if none.
fn line_ending(line: &[u8]) -> &[u8] {
    let len = if line.ends_with(b"\r\n") {
        2
    } else {
        usize::from(line.ends_with(b"\n"))
    };
    &line[line.len() - len..]
}

/// A duration for a message: `30s`, `0.5s`.
fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// A reply line made safe to send: one line, no CR or LF inside.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

impl Relay<'_> {
    fn timeout(&self) -> Duration {
        self.options.timeout
    }

    /// Connects to the upstream (and, with implicit TLS, runs both handshakes).
    async fn open(&mut self) -> Result<(), Stop> {
        let upstream = &self.options.upstream;
        let connect = TcpStream::connect(upstream.as_str());
        let tcp = match tokio::time::timeout(self.timeout(), connect).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => {
                let why = format!("cannot connect to {upstream}: {e}");
                return Err(self.fail_before_greeting(&why).await);
            }
            Err(_) => {
                let why = format!(
                    "cannot connect to {upstream}: no answer within {}",
                    seconds(self.timeout())
                );
                return Err(self.fail_before_greeting(&why).await);
            }
        };
        let _ = tcp.set_nodelay(true);
        self.upstream = Side::new(Box::new(tcp));
        if !self.options.implicit_tls {
            return Ok(());
        }
        let (version, cipher) = match self.upstream_handshake().await {
            Ok(described) => described,
            Err(why) => {
                self.transcript
                    .push(Event::TlsFailed { error: why.clone() });
                let why = format!("TLS with {upstream} failed: {why}");
                return Err(self.fail_before_greeting(&why).await);
            }
        };
        self.client_handshake().await?;
        self.transcript.push(Event::TlsStarted { version, cipher });
        self.tls = true;
        Ok(())
    }

    /// The upstream is unusable before its greeting: the client (inside TLS with implicit TLS)
    /// is told `421 4.4.0` instead.
    async fn fail_before_greeting(&mut self, why: &str) -> Stop {
        if self.options.implicit_tls && self.client_handshake().await.is_err() {
            return Stop;
        }
        self.fail(why).await
    }

    /// Tells the client `421 4.4.0 …` and records why the connection ends.
    async fn fail(&mut self, why: &str) -> Stop {
        let why = one_line(why);
        self.notes
            .push(format!("told the client 421 4.4.0 ({why})"));
        let reply = format!("421 4.4.0 smtp-harness record: {why}\r\n");
        let _ = self.client.write(reply.as_bytes(), self.timeout()).await;
        self.transcript.push(Event::Closed {
            by: Closer::Server,
            reason: Some(why),
        });
        Stop
    }

    /// TLS with the upstream (as a client): its version and cipher, or why it failed.
    async fn upstream_handshake(&mut self) -> Result<(String, String), String> {
        let io = self.upstream.take_io();
        let connector = TlsConnector::from(self.options.upstream_tls.clone());
        let handshake = connector.connect(self.options.upstream_name.clone(), io);
        match tokio::time::timeout(self.timeout(), handshake).await {
            Ok(Ok(tls)) => {
                let (version, cipher) = crate::tls::describe(tls.get_ref().1);
                self.upstream = Side::new(Box::new(tls));
                Ok((version, cipher))
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no handshake within {}", seconds(self.timeout()))),
        }
    }

    /// TLS with the client (as a server, with the harness's certificate).
    async fn client_handshake(&mut self) -> Result<(), Stop> {
        let io = self.client.take_io();
        let acceptor = TlsAcceptor::from(self.options.client_tls.clone());
        let why = match tokio::time::timeout(self.timeout(), acceptor.accept(io)).await {
            Ok(Ok(tls)) => {
                self.client = Side::new(Box::new(tls));
                return Ok(());
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no handshake within {}", seconds(self.timeout())),
        };
        self.notes
            .push(format!("saw the client's TLS handshake fail ({why})"));
        self.transcript
            .push(Event::TlsFailed { error: why.clone() });
        self.transcript.push(Event::Closed {
            by: Closer::Client,
            reason: Some(format!("TLS handshake failed: {why}")),
        });
        Err(Stop)
    }

    /// Relays until a side closes or a wait times out.
    async fn run(&mut self) -> Result<(), Stop> {
        loop {
            // The client waits while its STARTTLS or DATA is answered: what it sends meanwhile
            // is read afterwards (and thrown away after a 220 to STARTTLS).
            let hold_client = self.starttls_sent || self.data_sent;
            let idle = tokio::time::sleep(self.timeout());
            tokio::select! {
                line = self.client.line(), if !hold_client => match line {
                    Ok(Some(line)) => self.client_line(line).await?,
                    Ok(None) => return Err(self.client_gone(None)),
                    Err(e) => return Err(self.client_gone(Some(e.to_string()))),
                },
                line = self.upstream.line() => match line {
                    Ok(Some(line)) => self.upstream_line(line).await?,
                    Ok(None) => return Err(self.upstream_gone(None).await),
                    Err(e) => return Err(self.upstream_gone(Some(e.to_string())).await),
                },
                () = idle => return Err(self.idle().await),
            }
        }
    }

    fn client_gone(&mut self, error: Option<String>) -> Stop {
        self.transcript.push(Event::Closed {
            by: Closer::Client,
            reason: error,
        });
        Stop
    }

    async fn upstream_gone(&mut self, error: Option<String>) -> Stop {
        // After `221` (QUIT) or `421` the upstream closes as it should: so does the proxy.
        if error.is_none() && self.awaiting == 0 && matches!(self.last_code, Some(221 | 421)) {
            self.transcript.push(Event::Closed {
                by: Closer::Server,
                reason: None,
            });
            return Stop;
        }
        let why = match error {
            Some(e) => format!("the connection to the upstream broke: {e}"),
            None => "the upstream closed the connection".to_owned(),
        };
        self.fail(&why).await
    }

    async fn idle(&mut self) -> Stop {
        let secs = seconds(self.timeout());
        if self.awaiting > 0 {
            self.fail(&format!("the upstream did not answer within {secs}"))
                .await
        } else {
            let why = format!("the client was idle for {secs}");
            self.notes
                .push(format!("told the client 421 4.4.2 ({why})"));
            let reply = format!("421 4.4.2 smtp-harness record: {why}, closing\r\n");
            let _ = self.client.write(reply.as_bytes(), self.timeout()).await;
            self.transcript.push(Event::Closed {
                by: Closer::Server,
                reason: Some("idle timeout".into()),
            });
            Stop
        }
    }

    async fn send_upstream(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        match self.upstream.write(bytes, self.timeout()).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self
                .fail(&format!("cannot write to the upstream: {e}"))
                .await),
        }
    }

    async fn send_client(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        match self.client.write(bytes, self.timeout()).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.client_gone(Some(e.to_string()))),
        }
    }

    async fn client_line(&mut self, line: Vec<u8>) -> Result<(), Stop> {
        if let Some(octets) = self.in_data {
            let octets = octets + line.len();
            self.send_upstream(&line).await?;
            if line == b".\r\n" || line == b".\n" {
                self.in_data = None;
                self.awaiting += 1;
                self.transcript.push(Event::DataSent { bytes: octets });
            } else {
                self.in_data = Some(octets);
            }
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        let mut words = text.split_ascii_whitespace();
        let verb = words.next().unwrap_or("").to_ascii_uppercase();
        let eol = line_ending(&line);
        let (stored, secret_from) = if self.in_sasl {
            ([REDACTED.as_bytes(), eol].concat(), Some(0))
        } else if verb == "AUTH" {
            match crate::client::auth_secret_offset(&line) {
                Some(at) => ([&line[..at], REDACTED.as_bytes(), eol].concat(), Some(at)),
                None => (line.clone(), None),
            }
        } else {
            (line.clone(), None)
        };
        self.transcript.push(Event::Client {
            line: stored,
            secret_from,
        });
        self.send_upstream(&line).await?;
        self.awaiting += 1;
        if self.in_sasl {
            return Ok(());
        }
        match verb.as_str() {
            "STARTTLS" if !self.tls => self.starttls_sent = true,
            "DATA" => self.data_sent = true,
            "AUTH" => self.in_sasl = true,
            "BDAT" => {
                let size = words.next().and_then(|n| n.parse::<usize>().ok());
                if let Some(size) = size {
                    self.relay_chunk(size).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Relays a BDAT chunk of `size` octets from the client, raw.
    async fn relay_chunk(&mut self, size: usize) -> Result<(), Stop> {
        let mut left = size;
        while left > 0 {
            let piece = match tokio::time::timeout(self.timeout(), self.client.some(left)).await {
                Ok(Ok(piece)) if !piece.is_empty() => piece,
                Ok(Ok(_)) => return Err(self.client_gone(None)),
                Ok(Err(e)) => return Err(self.client_gone(Some(e.to_string()))),
                Err(_) => return Err(self.idle().await),
            };
            left -= piece.len();
            self.send_upstream(&piece).await?;
        }
        self.transcript.push(Event::DataSent { bytes: size });
        Ok(())
    }

    async fn upstream_line(&mut self, line: Vec<u8>) -> Result<(), Stop> {
        self.transcript.push(Event::Server(line.clone()));
        let last = line.get(3) != Some(&b'-');
        let code = std::str::from_utf8(line.get(..3).unwrap_or_default())
            .ok()
            .and_then(|c| c.parse::<u16>().ok());
        let (Some(code), true) = (code, last) else {
            return self.send_client(&line).await;
        };
        self.awaiting = self.awaiting.saturating_sub(1);
        self.last_code = Some(code);
        if self.in_sasl && code != 334 {
            self.in_sasl = false;
        }
        if self.data_sent {
            self.data_sent = false;
            if code == 354 {
                self.in_data = Some(0);
            }
        }
        if self.starttls_sent {
            self.starttls_sent = false;
            if code == 220 {
                return self.start_tls(&line).await;
            }
        }
        self.send_client(&line).await
    }

    /// The upstream said `220` to STARTTLS: TLS with the upstream, the `220` to the client,
    /// TLS with the client.
    async fn start_tls(&mut self, reply: &[u8]) -> Result<(), Stop> {
        if !self.upstream.buf.is_empty() {
            let bytes = std::mem::take(&mut self.upstream.buf).len();
            self.notes.push(format!(
                "discarded {bytes} bytes the upstream sent in clear text behind its 220 to STARTTLS"
            ));
        }
        let (version, cipher) = match self.upstream_handshake().await {
            Ok(described) => described,
            Err(why) => {
                self.transcript
                    .push(Event::TlsFailed { error: why.clone() });
                let stop = self
                    .fail(&format!("TLS with {} failed: {why}", self.options.upstream))
                    .await;
                self.notes.push(UNFINISHED_TLS.to_owned());
                return Err(stop);
            }
        };
        self.send_client(reply).await?;
        if !self.client.buf.is_empty() {
            // Commands behind STARTTLS in clear text (command injection): never executed.
            let bytes = std::mem::take(&mut self.client.buf).len();
            self.transcript.push(Event::ClearTextDiscarded { bytes });
        }
        if let Err(stop) = self.client_handshake().await {
            self.notes.push(UNFINISHED_TLS.to_owned());
            return Err(stop);
        }
        self.transcript.push(Event::TlsStarted { version, cipher });
        self.tls = true;
        Ok(())
    }
}
