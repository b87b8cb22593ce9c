//! The recording proxy as a handle, like [`crate::FakeSmtpServer`]: [`Recorder::start`] binds
//! and starts its own accept loop (one task per client), finished recordings come out of
//! [`Recorder::next_recording`], and [`Recorder::shutdown`] (or dropping it) stops accepting
//! and cuts the connections still open.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::{RecordError, RecordOptions, Recording, proxy};

/// What the accept loop sends: a finished recording, or an accept that failed (the proxy keeps
/// listening).
type Finished = Result<Recording, std::io::Error>;

/// A running recording proxy.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use smtp_harness::record::{RecordOptions, Recorder};
///
/// let options = RecordOptions::new("mail.example:587")?.accept_limit(1);
/// let mut recorder = Recorder::start("127.0.0.1:0", options).await?;
/// println!("point the client at {}", recorder.addr());
/// if let Some(Ok(recording)) = recorder.next_recording().await {
///     println!("{}", recording.scenario()?);
/// }
/// recorder.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Recorder {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    accept: Option<JoinHandle<()>>,
    finished: mpsc::UnboundedReceiver<Finished>,
}

impl Recorder {
    /// Listens on `addr` (`127.0.0.1:0` picks a free port) and starts accepting clients, each
    /// relayed to the upstream and recorded; with [`RecordOptions::accept_limit`] it stops
    /// accepting after that many.
    ///
    /// # Errors
    /// [`RecordError::Listen`] when the address cannot be bound.
    pub async fn start(addr: &str, options: RecordOptions) -> Result<Self, RecordError> {
        let listen_error = |source| RecordError::Listen {
            addr: addr.to_owned(),
            source,
        };
        let listener = TcpListener::bind(addr).await.map_err(listen_error)?;
        let local = listener.local_addr().map_err(listen_error)?;
        let (shutdown, stop) = watch::channel(false);
        let (tx, finished) = mpsc::unbounded_channel();
        let accept = tokio::spawn(accept_loop(listener, Arc::new(options), stop, tx));
        Ok(Recorder {
            addr: local,
            shutdown,
            accept: Some(accept),
            finished,
        })
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next connection to end, as recorded (`Err`: an accept failed, the proxy keeps
    /// listening); `None` once the accept limit is reached and every connection has ended.
    /// Cancel-safe: use it in `select!`.
    pub async fn next_recording(&mut self) -> Option<Finished> {
        self.finished.recv().await
    }

    /// Stops accepting and cuts the connections still open (what they recorded so far is not
    /// used); returns when they are gone.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(accept) = self.accept.take() {
            let _ = accept.await;
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    options: Arc<RecordOptions>,
    mut stop: watch::Receiver<bool>,
    tx: mpsc::UnboundedSender<Finished>,
) {
    let mut connections = JoinSet::new();
    let mut accepted = 0u64;
    loop {
        let accepting = options.accept_limit.is_none_or(|limit| accepted < limit);
        if !accepting && connections.is_empty() {
            break;
        }
        tokio::select! {
            result = listener.accept(), if accepting => match result {
                Ok((tcp, peer)) => {
                    accepted += 1;
                    let connection = Connection {
                        tcp,
                        peer,
                        number: accepted,
                        options: Arc::clone(&options),
                    };
                    let tx = tx.clone();
                    connections.spawn(async move {
                        let _ = tx.send(Ok(connection.run().await));
                    });
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    // Connections still open are cut.
    connections.shutdown().await;
}

/// An accepted client, not yet proxied.
struct Connection {
    tcp: TcpStream,
    peer: SocketAddr,
    number: u64,
    options: Arc<RecordOptions>,
}

impl Connection {
    /// Connects to the upstream and relays until either side closes (or a wait times out),
    /// recording the conversation. Never panics on network errors: they end the recording.
    async fn run(self) -> Recording {
        let started = time::OffsetDateTime::now_utc();
        let (transcript, notes) =
            proxy::relay(self.tcp, self.peer, self.number, &self.options).await;
        Recording {
            upstream: self.options.upstream.clone(),
            started,
            transcript,
            notes,
        }
    }
}
