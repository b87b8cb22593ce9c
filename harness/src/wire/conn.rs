//! One connection type for the server, the client role and the recording proxy: a TCP stream,
//! plain or TLS (as the server or as the client of the handshake), with its input and output
//! buffers and a deadline on each operation.
//!
//! The STARTTLS upgrade throws away whatever clear text was buffered behind the command (RFC
//! 3207 section 5: bytes sent before the handshake must not be read as if they came after it,
//! the "STARTTLS command injection" of CVE-2011-0411) and reports how many octets that was.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector, client, server};

/// How many octets one read asks for.
const READ_SIZE: usize = 16 * 1024;

/// Why an operation on a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The peer closed the connection (end of stream).
    #[error("the peer closed the connection")]
    Closed,
    /// The operation did not finish before its deadline.
    #[error("no progress within {0:?}")]
    TimedOut(Duration),
    /// The socket or the TLS layer failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl WireError {
    /// The TLS alert the peer sent, when that is what ended the connection (`BadCertificate`,
    /// `UnknownCA`, …): how a client that refuses the certificate says so.
    pub fn tls_alert(&self) -> Option<String> {
        let WireError::Io(e) = self else { return None };
        let inner = e.get_ref()?.downcast_ref::<tokio_rustls::rustls::Error>()?;
        match inner {
            tokio_rustls::rustls::Error::AlertReceived(alert) => Some(format!("{alert:?}")),
            _ => None,
        }
    }
}

/// The TLS session a handshake set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSession {
    /// Protocol version, e.g. `TLSv1.3`.
    pub version: String,
    /// Cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
}

/// Why a TLS handshake failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeError {
    /// What rustls said, or that the peer took too long.
    pub error: String,
    /// The handshake did not finish before its deadline (the peer did not fail it).
    pub timed_out: bool,
}

/// What a TLS upgrade did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upgrade {
    /// Clear-text octets that were buffered behind the STARTTLS exchange and thrown away.
    pub discarded: usize,
    /// The session, or why the handshake failed.
    pub result: Result<TlsSession, HandshakeError>,
}

/// The failure of a handshake future run under a deadline.
fn handshake_error<E: std::fmt::Display>(
    outcome: Result<E, tokio::time::error::Elapsed>,
    limit: Duration,
) -> HandshakeError {
    match outcome {
        Ok(e) => HandshakeError {
            error: e.to_string(),
            timed_out: false,
        },
        Err(_) => HandshakeError {
            error: format!("no handshake within {}", seconds(limit)),
            timed_out: true,
        },
    }
}

enum Stream {
    Plain(TcpStream),
    /// TLS where this side is the server.
    Server(Box<server::TlsStream<TcpStream>>),
    /// TLS where this side is the client.
    Client(Box<client::TlsStream<TcpStream>>),
    /// Only while a handshake holds the TCP stream, or after it failed.
    Gone,
}

/// A connection with its buffers. Reads go into the input buffer, whose unread part
/// [`Connection::input`] shows until [`Connection::consume`] takes it; writes are queued with
/// [`Connection::queue`] and sent by [`Connection::flush`].
pub struct Connection {
    stream: Stream,
    input: Vec<u8>,
    /// Octets at the front of `input` already consumed.
    start: usize,
    output: Vec<u8>,
}

impl Connection {
    /// Wraps an accepted or connected TCP stream (clear text).
    pub fn new(tcp: TcpStream) -> Self {
        // Replies go out as soon as they are written (no Nagle delay meeting delayed ACKs).
        let _ = tcp.set_nodelay(true);
        Connection {
            stream: Stream::Plain(tcp),
            input: Vec::with_capacity(READ_SIZE),
            start: 0,
            output: Vec::new(),
        }
    }

    fn tcp(&self) -> Option<&TcpStream> {
        match &self.stream {
            Stream::Plain(t) => Some(t),
            Stream::Server(s) => Some(s.get_ref().0),
            Stream::Client(s) => Some(s.get_ref().0),
            Stream::Gone => None,
        }
    }

    /// `true` once TLS is on.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Server(_) | Stream::Client(_))
    }

    /// What was read and not yet consumed.
    pub fn input(&self) -> &[u8] {
        &self.input[self.start..]
    }

    /// Marks `n` octets of the input as used.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.input.len());
        if self.start == self.input.len() {
            self.input.clear();
            self.start = 0;
        }
    }

    /// Queues octets to send.
    pub fn queue(&mut self, bytes: &[u8]) {
        self.output.extend_from_slice(bytes);
    }

    /// The output buffer itself, for writers that append to it.
    pub fn output_mut(&mut self) -> &mut Vec<u8> {
        &mut self.output
    }

    /// Reads more into the input buffer; returns how many octets came. Without a deadline of
    /// its own and cancel-safe (nothing is lost if another branch of a `select!` wins), for
    /// callers that wait on several things.
    ///
    /// # Errors
    /// [`WireError::Closed`] at the end of the stream, [`WireError::Io`] when reading fails.
    pub async fn read_more(&mut self) -> Result<usize, WireError> {
        if self.start > 0 && self.start * 2 >= self.input.len() {
            self.input.drain(..self.start);
            self.start = 0;
        }
        // `read_buf` fills spare capacity and only then sets the length: cancel-safe.
        self.input.reserve(READ_SIZE);
        let read = match &mut self.stream {
            Stream::Plain(s) => s.read_buf(&mut self.input).await,
            Stream::Server(s) => s.read_buf(&mut self.input).await,
            Stream::Client(s) => s.read_buf(&mut self.input).await,
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        };
        match read {
            Ok(0) => Err(WireError::Closed),
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(WireError::Closed),
            Err(e) => Err(WireError::Io(e)),
        }
    }

    /// [`Connection::read_more`] within `limit`.
    ///
    /// # Errors
    /// As [`Connection::read_more`], and [`WireError::TimedOut`].
    pub async fn read_more_within(&mut self, limit: Duration) -> Result<usize, WireError> {
        tokio::time::timeout(limit, self.read_more())
            .await
            .unwrap_or(Err(WireError::TimedOut(limit)))
    }

    /// Sends everything queued, within `limit` (a peer that does not read cannot hold the
    /// writer forever).
    ///
    /// # Errors
    /// [`WireError::TimedOut`], or [`WireError::Io`] when the peer is gone.
    pub async fn flush(&mut self, limit: Duration) -> Result<(), WireError> {
        if self.output.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.output);
        let write = async {
            match &mut self.stream {
                Stream::Plain(s) => s.write_all(&out).await,
                Stream::Server(s) => {
                    s.write_all(&out).await?;
                    s.flush().await
                }
                Stream::Client(s) => {
                    s.write_all(&out).await?;
                    s.flush().await
                }
                Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
            }
        };
        let result = tokio::time::timeout(limit, write).await;
        // Keep the buffer's allocation for the next replies.
        self.output = out;
        self.output.clear();
        match result {
            Ok(r) => r.map_err(WireError::Io),
            Err(_) => Err(WireError::TimedOut(limit)),
        }
    }

    /// Runs the server side of a TLS handshake (after `220` to STARTTLS, or at once for
    /// implicit TLS), within `limit`. Clear text buffered so far is discarded and counted.
    ///
    /// # Errors
    /// Only when there is no clear-text stream to upgrade; a failed handshake is reported in
    /// [`Upgrade::result`] (the connection is unusable then).
    pub async fn accept_tls(
        &mut self,
        config: Arc<ServerConfig>,
        limit: Duration,
    ) -> Result<Upgrade, WireError> {
        let (tcp, discarded) = self.take_plain()?;
        let handshake = TlsAcceptor::from(config).accept(tcp);
        let result = match tokio::time::timeout(limit, handshake).await {
            Ok(Ok(tls)) => {
                let session = describe(tls.get_ref().1);
                self.stream = Stream::Server(Box::new(tls));
                Ok(session)
            }
            Ok(Err(e)) => Err(handshake_error(Ok(e), limit)),
            Err(elapsed) => Err(handshake_error::<io::Error>(Err(elapsed), limit)),
        };
        Ok(Upgrade { discarded, result })
    }

    /// Runs the client side of a TLS handshake with `name` as SNI and the name checked,
    /// within `limit`. Clear text buffered so far (a reply injected behind the server's `220`)
    /// is discarded and counted.
    ///
    /// # Errors
    /// Only when there is no clear-text stream to upgrade; a failed handshake is reported in
    /// [`Upgrade::result`].
    pub async fn connect_tls(
        &mut self,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
        limit: Duration,
    ) -> Result<Upgrade, WireError> {
        let (tcp, discarded) = self.take_plain()?;
        let handshake = TlsConnector::from(config).connect(name, tcp);
        let result = match tokio::time::timeout(limit, handshake).await {
            Ok(Ok(tls)) => {
                let session = describe(tls.get_ref().1);
                self.stream = Stream::Client(Box::new(tls));
                Ok(session)
            }
            Ok(Err(e)) => Err(handshake_error(Ok(e), limit)),
            Err(elapsed) => Err(handshake_error::<io::Error>(Err(elapsed), limit)),
        };
        Ok(Upgrade { discarded, result })
    }

    /// Takes the clear-text stream out for a handshake, dropping the buffered input.
    fn take_plain(&mut self) -> Result<(TcpStream, usize), WireError> {
        match std::mem::replace(&mut self.stream, Stream::Gone) {
            Stream::Plain(tcp) => {
                let discarded = self.input().len();
                self.input.clear();
                self.start = 0;
                Ok((tcp, discarded))
            }
            other => {
                self.stream = other;
                Err(WireError::Io(io::Error::other(
                    "TLS is already on (or the connection is gone)",
                )))
            }
        }
    }

    /// Closes the connection (a TLS close_notify first), waiting at most `limit`.
    pub async fn shutdown(&mut self, limit: Duration) {
        let close = async {
            match &mut self.stream {
                Stream::Plain(s) => s.shutdown().await,
                Stream::Server(s) => s.shutdown().await,
                Stream::Client(s) => s.shutdown().await,
                Stream::Gone => Ok(()),
            }
        };
        let _ = tokio::time::timeout(limit, close).await;
    }

    /// Asks the kernel to acknowledge the peer's next segments at once instead of delaying the
    /// ACK. A client that writes a message line by line without TCP_NODELAY (msmtp, s-nail)
    /// holds each small write back until the previous one is acknowledged (Nagle); with
    /// delayed ACKs that costs about 40 ms per session. Linux resets the mode by itself, so a
    /// server calls this after each read it does not answer at once (a reply carries the ACK
    /// anyway, and the system call is not free).
    pub fn quick_ack(&self) {
        #[cfg(target_os = "linux")]
        if let Some(tcp) = self.tcp() {
            // Only a latency hint: failure changes nothing else.
            let _ = socket2::SockRef::from(tcp).set_tcp_quickack(true);
        }
    }
}

/// Version and cipher of a TLS session.
fn describe(conn: &tokio_rustls::rustls::CommonState) -> TlsSession {
    let (version, cipher) = crate::tls::describe(conn);
    TlsSession { version, cipher }
}

/// A duration for a message: `30s`, `0.5s`.
pub fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn pair() -> (Connection, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (Connection::new(accepted.unwrap().0), client.unwrap())
    }

    #[tokio::test]
    async fn input_is_kept_until_consumed_and_eof_is_closed() {
        let (mut conn, mut peer) = pair().await;
        peer.write_all(b"EHLO a\r\nNOOP\r\n").await.unwrap();
        while conn.input().len() < 14 {
            conn.read_more_within(Duration::from_secs(5)).await.unwrap();
        }
        conn.consume(8);
        assert_eq!(conn.input(), b"NOOP\r\n");
        conn.queue(b"250 ok\r\n");
        conn.flush(Duration::from_secs(5)).await.unwrap();
        let mut got = [0u8; 8];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"250 ok\r\n");
        drop(peer);
        conn.consume(6);
        assert!(matches!(
            conn.read_more_within(Duration::from_secs(5)).await,
            Err(WireError::Closed)
        ));
    }

    /// A read that loses a `select!` (a pause ending, a shutdown) must leave the input as it
    /// was: no octets invented, none lost.
    #[tokio::test]
    async fn a_cancelled_read_leaves_the_input_untouched() {
        let (mut conn, mut peer) = pair().await;
        peer.write_all(b"EHLO a\r\n").await.unwrap();
        conn.read_more_within(Duration::from_secs(5)).await.unwrap();
        for _ in 0..3 {
            tokio::select! {
                _ = conn.read_more() => panic!("nothing was sent"),
                () = tokio::time::sleep(Duration::from_millis(5)) => {}
            }
        }
        assert_eq!(conn.input(), b"EHLO a\r\n");
    }

    #[tokio::test]
    async fn a_silent_peer_times_out() {
        let (mut conn, _peer) = pair().await;
        let err = conn
            .read_more_within(Duration::from_millis(20))
            .await
            .unwrap_err();
        assert!(matches!(err, WireError::TimedOut(_)), "{err}");
    }

    /// RFC 3207 section 5: clear text behind STARTTLS is never read as if it came inside TLS.
    #[tokio::test]
    async fn a_tls_upgrade_discards_and_counts_buffered_clear_text() {
        let (mut server, mut peer) = pair().await;
        peer.write_all(b"STARTTLS\r\nMAIL FROM:<evil@x>\r\n")
            .await
            .unwrap();
        while server.input().len() < 30 {
            server
                .read_more_within(Duration::from_secs(5))
                .await
                .unwrap();
        }
        server.consume(10);
        let config = crate::tls::embedded_server_config(crate::CertVariant::Valid).unwrap();
        let client_config =
            crate::tls::client_config_trusting(crate::certs::embedded_ca_pem()).unwrap();
        let mut client = Connection::new(peer);
        let name = ServerName::try_from("localhost").unwrap();
        let (server_side, client_side) = tokio::join!(
            server.accept_tls(config, Duration::from_secs(5)),
            client.connect_tls(client_config, name, Duration::from_secs(5)),
        );
        let server_side = server_side.unwrap();
        assert_eq!(server_side.discarded, 20);
        assert_eq!(server_side.result.unwrap().version, "TLSv1.3");
        assert!(client_side.unwrap().result.is_ok());
        assert!(server.is_tls() && client.is_tls());
        assert!(server.input().is_empty());
    }
}
