//! The session's I/O: feeds what the client sends to the [`SessionCore`], sends its replies,
//! and does what it asks for (a TLS handshake, a pause that keeps listening, a close), with the
//! idle timeout on every read, a deadline on every write, and the server's shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::core::{End, Next, SessionCore};
use crate::server::Shared;
use crate::wire::line::MAX_AUTH_LINE;
use crate::wire::{Connection, WireError};

/// How long a write to a client that does not read may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// What a client may send during a pause before the server gives up on it.
const MAX_EARLY_INPUT: usize = MAX_AUTH_LINE * 4;

/// Plays the scenario on one accepted connection and hands its record to the server.
pub(crate) async fn run(
    tcp: TcpStream,
    peer: SocketAddr,
    connection: u64,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    // One shutdown future and one idle timer for the whole session, not one of each per read:
    // the timer is moved only when it fires early (the client was active meanwhile).
    let shutdown = shutdown.changed();
    tokio::pin!(shutdown);
    let mut active = Instant::now();
    let mut conn = Connection::new(tcp);
    let mut core = SessionCore::new(
        Arc::clone(&shared.scenario),
        Arc::clone(&shared.defaults),
        connection,
        peer.to_string(),
        shared.transcript_limit,
    );
    let idle = core.idle_timeout();
    let timer = tokio::time::sleep_until(active + idle);
    tokio::pin!(timer);
    let mut next = core.start();
    let end = loop {
        for message in core.take_captured() {
            shared.capture(message);
        }
        match next {
            Next::Read if !conn.input().is_empty() => {
                // Input kept from a pause: the session has not seen it yet.
                let (used, after) = core.receive(conn.input());
                conn.consume(used);
                next = after;
            }
            Next::Read => {
                if let Err(end) = flush(&mut conn, &mut core).await {
                    break end;
                }
                tokio::select! {
                    read = conn.read_more() => match read {
                        Ok(_) => {
                            active = Instant::now();
                            let (used, after) = core.receive(conn.input());
                            conn.consume(used);
                            if core.output().is_empty() {
                                // Nothing to answer yet (a message line, half a command):
                                // acknowledge now, or a Nagle client waits for the ACK.
                                conn.quick_ack();
                            }
                            next = after;
                        }
                        Err(e) => break client_gone(&mut core, &e),
                    },
                    () = &mut timer => {
                        if active + idle > Instant::now() {
                            timer.as_mut().reset(active + idle);
                        } else {
                            break core.timed_out();
                        }
                    }
                    _ = &mut shutdown => break core.shutting_down(),
                }
            }
            Next::StartTls => {
                if let Err(end) = flush(&mut conn, &mut core).await {
                    break end;
                }
                let Some(config) = shared.tls.clone() else {
                    break End::server(Some("no certificate for TLS"));
                };
                match conn.accept_tls(config, core.idle_timeout()).await {
                    Ok(upgrade) => next = core.tls_upgraded(upgrade),
                    Err(_) => break End::server(Some("TLS requested inside TLS")),
                }
            }
            Next::Pause(d) => {
                if let Err(end) = flush(&mut conn, &mut core).await {
                    break end;
                }
                let before = conn.input().len();
                let paused = pause(&mut conn, d, shutdown.as_mut()).await;
                active = Instant::now();
                core.spoke_early(conn.input().len().saturating_sub(before));
                match paused {
                    Ok(()) => next = core.resume(),
                    Err(Paused::Shutdown) => break core.shutting_down(),
                    Err(Paused::Ended(end)) => break end,
                }
            }
            Next::Close(end) => break end,
        }
    };
    for message in core.take_captured() {
        shared.capture(message);
    }
    // Best effort: a client that has gone away cannot be told anything.
    let _ = flush(&mut conn, &mut core).await;
    if conn.is_tls() {
        // TLS ends with close_notify; plain TCP needs no more than the close on drop.
        conn.shutdown(Duration::from_millis(200)).await;
    }
    shared.finish(core.finish(end));
}

/// Sends what the session has written.
async fn flush(conn: &mut Connection, core: &mut SessionCore) -> Result<(), End> {
    conn.output_mut().append(core.output());
    match conn.flush(WRITE_TIMEOUT).await {
        Ok(()) => Ok(()),
        Err(WireError::TimedOut(_)) => Err(End::server(Some("client stopped reading"))),
        Err(_) => Err(End::client(Some("connection lost while writing".into()))),
    }
}

fn client_gone(core: &mut SessionCore, error: &WireError) -> End {
    let reason = match error {
        WireError::Closed => None,
        other => Some(other.to_string()),
    };
    core.client_gone(reason, error.tls_alert())
}

enum Paused {
    Shutdown,
    Ended(End),
}

/// Waits `d` while still listening: what the client sends meanwhile is kept for later (an early
/// talker), and a client that hangs up ends the session at once.
async fn pause<F: std::future::Future>(
    conn: &mut Connection,
    d: Duration,
    mut shutdown: std::pin::Pin<&mut F>,
) -> Result<(), Paused> {
    let deadline = tokio::time::sleep(d);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return Ok(()),
            _ = &mut shutdown => return Err(Paused::Shutdown),
            read = conn.read_more() => match read {
                Ok(_) if conn.input().len() > MAX_EARLY_INPUT => {
                    return Err(Paused::Ended(End::server(Some(
                        "client sent too much during a pause",
                    ))));
                }
                Ok(_) => {}
                Err(WireError::Closed) => return Err(Paused::Ended(End::client(None))),
                Err(e) => return Err(Paused::Ended(End::client(Some(e.to_string())))),
            },
        }
    }
}
