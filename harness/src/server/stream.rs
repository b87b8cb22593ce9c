//! The connection's byte stream: plain TCP until STARTTLS (or from the start with implicit
//! TLS), then TLS. One enum, so that the upgrade can take the TCP stream back out.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// A plain or TLS connection to the client.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while a handshake holds the TCP stream.
    Gone,
}

impl Stream {
    pub(crate) async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let mut chunk = [0u8; 8192];
        let n = match self {
            Stream::Plain(s) => {
                let n = s.read(&mut chunk).await?;
                quick_ack(s);
                n
            }
            Stream::Tls(s) => {
                let n = s.read(&mut chunk).await?;
                quick_ack(s.get_ref().0);
                n
            }
            Stream::Gone => return Err(io::ErrorKind::NotConnected.into()),
        };
        buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    pub(crate) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(bytes).await,
            Stream::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    pub(crate) async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(s) => s.shutdown().await,
            Stream::Gone => Ok(()),
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

/// Asks the kernel to acknowledge the client's next segments at once instead of delaying the
/// ACK. A client that writes a message line by line without TCP_NODELAY (msmtp, s-nail) holds
/// each small write back until the previous one is acknowledged (Nagle); with delayed ACKs that
/// costs about 40 ms per session. Linux resets the mode by itself, so it is set after each read.
fn quick_ack(tcp: &TcpStream) {
    #[cfg(target_os = "linux")]
    {
        // Only a latency hint: failure changes nothing else.
        let _ = socket2::SockRef::from(tcp).set_tcp_quickack(true);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = tcp;
}
