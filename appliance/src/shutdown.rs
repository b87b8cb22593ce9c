//! One way to stop: a [`ShutdownTrigger`] is pulled once (by SIGINT or SIGTERM, or by the
//! program itself, e.g. at `--max-time`), and every [`Shutdown`] made from it sees it, whether
//! it asks ([`Shutdown::is_shutdown`], for loops that check between two pieces of work) or
//! waits ([`Shutdown::recv`], for `select!`).
//!
//! The inbound server, the outbox deliverer and the reply processor all stop this way; what
//! each finishes first is its own business (a session waiting for a command gets `421`, a
//! message being sent is sent and recorded, a reply being handled is handled and moved).
//!
//! ```
//! use appliance::shutdown::ShutdownTrigger;
//!
//! let trigger = ShutdownTrigger::new();
//! let shutdown = trigger.subscribe();
//! assert!(!shutdown.is_shutdown());
//! trigger.trigger();
//! assert!(shutdown.is_shutdown());
//! assert!(trigger.subscribe().is_shutdown());
//! ```

use std::io;
use std::sync::Arc;

use tokio::sync::watch;

/// The side that says "stop". Cloning it gives another handle on the same shutdown.
#[derive(Clone, Debug)]
pub struct ShutdownTrigger {
    sender: Arc<watch::Sender<bool>>,
}

/// The side that is told to stop: cheap to clone, one per task or loop that must stop.
///
/// A `Shutdown` whose trigger is gone without having been pulled never shuts down.
#[derive(Clone, Debug)]
pub struct Shutdown {
    receiver: watch::Receiver<bool>,
}

impl ShutdownTrigger {
    /// A trigger not pulled yet.
    pub fn new() -> Self {
        let (sender, _) = watch::channel(false);
        ShutdownTrigger {
            sender: Arc::new(sender),
        }
    }

    /// A new [`Shutdown`] told by this trigger (already shut down if it has been pulled).
    pub fn subscribe(&self) -> Shutdown {
        Shutdown {
            receiver: self.sender.subscribe(),
        }
    }

    /// Pulls the trigger: every [`Shutdown`] made from it is shut down from now on.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }
}

impl Default for ShutdownTrigger {
    fn default() -> Self {
        ShutdownTrigger::new()
    }
}

impl Shutdown {
    /// A shutdown that never comes: for a run that only ends by itself (`--once`).
    pub fn never() -> Self {
        let (_, receiver) = watch::channel(false);
        Shutdown { receiver }
    }

    /// Whether the trigger has been pulled.
    pub fn is_shutdown(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Waits until the trigger is pulled (at once if it has been); forever if it never is.
    pub async fn recv(&mut self) {
        loop {
            if *self.receiver.borrow_and_update() {
                return;
            }
            if self.receiver.changed().await.is_err() {
                // The trigger is gone without having been pulled.
                return std::future::pending().await;
            }
        }
    }
}

/// A trigger pulled by the first SIGTERM or SIGINT: the handlers are installed before this
/// returns (a signal sent the moment after is caught, not fatal), and a task on the current
/// tokio runtime waits for them. The caller may pull the trigger itself too.
///
/// # Errors
/// When the signal handlers cannot be installed.
///
/// # Panics
/// Outside a tokio runtime.
pub fn on_signals() -> io::Result<ShutdownTrigger> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let trigger = ShutdownTrigger::new();
    let pulled = trigger.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        pulled.trigger();
    });
    Ok(trigger)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn recv_returns_once_pulled_and_at_once_after() {
        let trigger = ShutdownTrigger::new();
        let mut shutdown = trigger.subscribe();
        let waiting = tokio::time::timeout(Duration::from_millis(20), shutdown.recv()).await;
        assert!(waiting.is_err(), "not pulled yet");
        let pull = trigger.clone();
        tokio::spawn(async move { pull.trigger() });
        tokio::time::timeout(Duration::from_secs(5), shutdown.recv())
            .await
            .expect("pulled");
        assert!(shutdown.is_shutdown());
        let mut late = shutdown.clone();
        tokio::time::timeout(Duration::from_millis(100), late.recv())
            .await
            .expect("already pulled");
    }

    #[tokio::test]
    async fn never_and_a_dropped_trigger_never_shut_down() {
        let mut never = Shutdown::never();
        assert!(!never.is_shutdown());
        let waiting = tokio::time::timeout(Duration::from_millis(20), never.recv()).await;
        assert!(waiting.is_err());
        let trigger = ShutdownTrigger::new();
        let mut orphan = trigger.subscribe();
        drop(trigger);
        let waiting = tokio::time::timeout(Duration::from_millis(20), orphan.recv()).await;
        assert!(waiting.is_err());
        assert!(!orphan.is_shutdown());
    }
}
