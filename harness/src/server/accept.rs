//! The accept loop: one session task per connection until the accept limit or shutdown, then
//! waits for the sessions still open.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{Shared, session};

/// Accepts connections (at most `limit`) until `shutdown` changes, each played by its own
/// session task; returns when every session has ended.
pub(super) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    limit: Option<u64>,
) {
    let mut sessions = tokio::task::JoinSet::new();
    let mut accepted = 0u64;
    while limit.is_none_or(|l| accepted < l) {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait a little rather than spin.
                Err(_) => { tokio::time::sleep(Duration::from_millis(10)).await; continue }
            },
            _ = shutdown.changed() => break,
        };
        accepted += 1;
        let id = shared.next_session.fetch_add(1, Ordering::Relaxed);
        shared.open.fetch_add(1, Ordering::AcqRel);
        sessions.spawn(session::run(
            tcp,
            peer,
            id,
            shared.clone(),
            shutdown.clone(),
        ));
        while sessions.try_join_next().is_some() {}
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
}
