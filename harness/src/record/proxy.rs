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

use tokio::net::TcpStream;

use super::RecordOptions;
use crate::transcript::{Closer, Event, REDACTED, Transcript};
use crate::wire::{Connection, ReplyLineDecoder, Upgrade, Verb, WireError, seconds};

/// One side of the relay: its connection and the line it is cutting out of the input.
/// Lines are cut in bounded pieces (a line longer than 64 KiB is relayed piece by piece).
struct Side {
    conn: Connection,
    lines: ReplyLineDecoder,
}

impl Side {
    fn new(tcp: TcpStream) -> Self {
        Side {
            conn: Connection::new(tcp),
            lines: ReplyLineDecoder::default(),
        }
    }

    /// The next line with its ending (the rest at EOF); `None` at EOF. Cancel-safe: bytes read
    /// stay buffered if another branch of a `select!` wins.
    async fn line(&mut self) -> Result<Option<Vec<u8>>, WireError> {
        loop {
            let (used, line) = self.lines.feed(self.conn.input());
            self.conn.consume(used);
            if let Some(line) = line {
                return Ok(Some(line.bytes));
            }
            match self.conn.read_more().await {
                Ok(_) => {}
                Err(WireError::Closed) => return Ok(self.lines.finish().map(|l| l.bytes)),
                Err(e) => return Err(e),
            }
        }
    }

    /// Up to `max` octets: what is buffered first, else what the next read brings.
    async fn some(&mut self, max: usize) -> Result<Vec<u8>, WireError> {
        if self.conn.input().is_empty() {
            self.conn.read_more().await?;
        }
        let n = max.min(self.conn.input().len());
        let piece = self.conn.input()[..n].to_vec();
        self.conn.consume(n);
        Ok(piece)
    }

    async fn write(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), WireError> {
        self.conn.queue(bytes);
        self.conn.flush(timeout).await
    }

    async fn shutdown(&mut self) {
        self.conn.shutdown(Duration::from_millis(500)).await;
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
    /// The upstream, once connected.
    upstream: Option<Side>,
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
    let mut transcript = Transcript::new(number);
    transcript.push(Event::Opened {
        peer: peer.to_string(),
    });
    let mut relay = Relay {
        options,
        client: Side::new(tcp),
        upstream: None,
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
    if let Some(upstream) = relay.upstream.as_mut() {
        upstream.shutdown().await;
    }
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

/// A reply line made safe to send: one line, no CR or LF inside.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

impl Relay<'_> {
    fn timeout(&self) -> Duration {
        self.options.timeout
    }

    fn upstream(&mut self) -> &mut Side {
        self.upstream
            .as_mut()
            .expect("the upstream is connected before anything is relayed")
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
        self.upstream = Some(Side::new(tcp));
        if !self.options.implicit_tls {
            return Ok(());
        }
        let (version, cipher) = match self.upstream_handshake().await.1 {
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

    /// TLS with the upstream (as a client): its version and cipher, or why it failed, and
    /// how many clear-text octets the upstream had sent behind its 220.
    async fn upstream_handshake(&mut self) -> (usize, Result<(String, String), String>) {
        let (config, name, timeout) = (
            self.options.upstream_tls.clone(),
            self.options.upstream_name.clone(),
            self.timeout(),
        );
        let upstream = self.upstream();
        upstream.lines = ReplyLineDecoder::default();
        match upstream.conn.connect_tls(config, name, timeout).await {
            Ok(Upgrade { discarded, result }) => (
                discarded,
                result.map(|s| (s.version, s.cipher)).map_err(|e| e.error),
            ),
            Err(e) => (0, Err(e.to_string())),
        }
    }

    /// TLS with the client (as a server, with the harness's certificate). Clear text the
    /// client sent behind its STARTTLS is thrown away (never relayed) and recorded.
    async fn client_handshake(&mut self) -> Result<(), Stop> {
        self.client.lines = ReplyLineDecoder::default();
        let upgrade = self
            .client
            .conn
            .accept_tls(self.options.client_tls.clone(), self.timeout())
            .await;
        let why = match upgrade {
            Ok(Upgrade { discarded, result }) => {
                if discarded > 0 {
                    // Commands behind STARTTLS in clear text (command injection): never executed.
                    self.transcript
                        .push(Event::ClearTextDiscarded { bytes: discarded });
                }
                match result {
                    Ok(_) => return Ok(()),
                    Err(e) => e.error,
                }
            }
            Err(e) => e.to_string(),
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
            let upstream = self
                .upstream
                .as_mut()
                .expect("the upstream is connected before anything is relayed");
            tokio::select! {
                line = self.client.line(), if !hold_client => match line {
                    Ok(Some(line)) => self.client_line(line).await?,
                    Ok(None) => return Err(self.client_gone(None)),
                    Err(e) => return Err(self.client_gone(Some(e.to_string()))),
                },
                line = upstream.line() => match line {
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
        let timeout = self.timeout();
        match self.upstream().write(bytes, timeout).await {
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
        let verb = Verb::parse(words.next().unwrap_or("").as_bytes());
        let eol = line_ending(&line);
        let (stored, secret_from) = if self.in_sasl {
            ([REDACTED.as_bytes(), eol].concat(), Some(0))
        } else if verb == Verb::Auth {
            match crate::wire::sasl::secret_offset(&line) {
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
        match verb {
            Verb::StartTls if !self.tls => self.starttls_sent = true,
            Verb::Data => self.data_sent = true,
            Verb::Auth => self.in_sasl = true,
            Verb::Bdat => {
                let args: Vec<&str> = words.collect();
                if let Some((size, _)) = crate::wire::bdat::parse_args(&args.join(" ")) {
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
        let (discarded, handshake) = self.upstream_handshake().await;
        if discarded > 0 {
            self.notes.push(format!(
                "discarded {discarded} bytes the upstream sent in clear text behind its 220 to STARTTLS"
            ));
        }
        let (version, cipher) = match handshake {
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
        if let Err(stop) = self.client_handshake().await {
            self.notes.push(UNFINISHED_TLS.to_owned());
            return Err(stop);
        }
        self.transcript.push(Event::TlsStarted { version, cipher });
        self.tls = true;
        Ok(())
    }
}
