//! One connection of the receiving server, from accept to close: the I/O around a
//! [`Session`]. It reads (one buffer, so pipelined commands are read one line at a time),
//! writes the session's replies, logs its lines, runs the TLS handshake after `STARTTLS`,
//! hands complete messages to [`delivery`], and bounds every wait: a client silent for longer
//! than the timeout gets `421`, and so does a client waiting for a command when the server
//! stops.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use super::InboundConfig;
use super::decode::{Content, ContentDecoder, Line, LineDecoder};
use super::delivery;
use super::mail_log::Event;
use super::session::{self, Next, Output, Session};
use crate::shutdown::Shutdown;

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

struct Connection {
    io: Box<dyn Io>,
    buf: Vec<u8>,
    lines: LineDecoder,
    config: Arc<InboundConfig>,
    shutdown: Shutdown,
}

/// Runs one connection to its end; every outcome is logged, none is returned.
pub async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    config: Arc<InboundConfig>,
    shutdown: Shutdown,
) {
    let mut session = Session::new(Arc::clone(&config), peer);
    let mut connection = Connection {
        io: Box::new(stream),
        buf: Vec::with_capacity(4096),
        lines: LineDecoder::default(),
        config,
        shutdown,
    };
    let ended = connection.converse(&mut session).await;
    let client = session.client().to_owned();
    let after = session.last_command();
    match ended {
        Ok(()) | Err(End::Stopping) => {}
        Err(End::Lost) => connection.log(&Event::LostConnection {
            after,
            client: client.clone(),
        }),
        Err(End::Timeout) => connection.log(&Event::Timeout {
            after,
            client: client.clone(),
        }),
    }
    let _ = connection.io.shutdown().await;
    connection.log(&Event::Disconnect { client });
}

/// Answers a connection over the session limit with `421` and closes it.
pub async fn too_busy(mut stream: TcpStream, peer: SocketAddr, config: Arc<InboundConfig>) {
    let mut text = session::too_busy_reply(&config.hostname);
    text.push_str("\r\n");
    let _ = tokio::time::timeout(config.timeout, stream.write_all(text.as_bytes())).await;
    let _ = stream.shutdown().await;
    let _ = config
        .log
        .record(&Event::TooManyConnections { ip: peer.ip() });
}

impl Connection {
    fn log(&self, event: &Event) {
        self.config.log.record_or_warn(event);
    }

    /// The session from greeting to close.
    async fn converse(&mut self, session: &mut Session) -> Result<(), End> {
        let mut step = session.open();
        loop {
            for output in &step.outputs {
                match output {
                    Output::Reply(text) => self.reply(text).await?,
                    Output::Log(event) => self.log(event),
                }
            }
            step = match step.next {
                Next::Command => {
                    let line = self.read_command().await?;
                    session.command(line)
                }
                Next::Content => {
                    let content = self.read_content().await?;
                    session.content(content)
                }
                Next::StartTls(tls) => {
                    self.start_tls(tls, session).await?;
                    session.tls_started();
                    let line = self.read_command().await?;
                    session.command(line)
                }
                Next::Deliver(delivery) => {
                    let outcome = delivery::deliver(&self.config, delivery).await;
                    session.delivered(outcome)
                }
                Next::Close => return Ok(()),
            };
        }
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

    /// Reads more bytes into the buffer; `stoppable` while waiting for a command.
    async fn fill(&mut self, stoppable: bool) -> Result<(), End> {
        let mut chunk = [0u8; 16 * 1024];
        let read = tokio::time::timeout(self.config.timeout, self.io.read(&mut chunk));
        let mut shutdown = self.shutdown.clone();
        let stopping = async move {
            if !stoppable {
                return std::future::pending::<()>().await;
            }
            shutdown.recv().await;
        };
        let n = tokio::select! {
            r = read => match r {
                Ok(Ok(0)) | Ok(Err(_)) => return Err(End::Lost),
                Ok(Ok(n)) => n,
                Err(_) => {
                    let text = session::timeout_reply(&self.config.hostname);
                    let _ = self.reply(&text).await;
                    return Err(End::Timeout);
                }
            },
            () = stopping => {
                let text = session::shutdown_reply(&self.config.hostname);
                let _ = self.reply(&text).await;
                return Err(End::Stopping);
            }
        };
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// The next command line.
    async fn read_command(&mut self) -> Result<Line, End> {
        loop {
            if let Some(line) = self.lines.next_line(&mut self.buf) {
                return Ok(line);
            }
            self.fill(true).await?;
        }
    }

    /// Message content up to `CRLF.CRLF`.
    async fn read_content(&mut self) -> Result<Content, End> {
        let mut decoder = ContentDecoder::new(self.config.max_message_size);
        loop {
            if let Some(content) = decoder.feed(&mut self.buf) {
                return Ok(content);
            }
            self.fill(false).await?;
        }
    }

    /// The TLS handshake after `220 Ready to start TLS`; clear text read before it is dropped
    /// (RFC 3207).
    async fn start_tls(&mut self, tls: Arc<ServerConfig>, session: &Session) -> Result<(), End> {
        self.buf.clear();
        self.lines = LineDecoder::default();
        let io = std::mem::replace(&mut self.io, Box::new(tokio::io::empty()));
        let accept = TlsAcceptor::from(tls).accept(io);
        match tokio::time::timeout(self.config.timeout, accept).await {
            Ok(Ok(stream)) => {
                self.io = Box::new(stream);
                Ok(())
            }
            Ok(Err(e)) => {
                self.log(&Event::TlsFailed {
                    client: session.client().to_owned(),
                    error: e.to_string(),
                });
                Err(End::Lost)
            }
            Err(_) => Err(End::Timeout),
        }
    }
}
