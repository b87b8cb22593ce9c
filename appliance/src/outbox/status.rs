//! What is in the outbox: every entry by state, as `outbox status` and the support bundle
//! show it (rendered in [`super::report`]).

use std::io;

use super::entry::{Entry, EntryMeta};
use super::owner::split_in_flight;
use super::{Outbox, State, list_names};

/// One entry as [`Outbox::status`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryStatus {
    /// Where it is.
    pub state: State,
    /// What its file says (`None` for a file that cannot be read).
    pub meta: Option<EntryMeta>,
    /// The file name (for in-flight entries, `ID@OWNER`).
    pub file: String,
    /// For in-flight entries: whether the owning process is alive.
    pub owner_alive: Option<bool>,
}

/// Every entry, by state, each list sorted by id (oldest first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// `new/`.
    pub pending: Vec<EntryStatus>,
    /// `inflight/`.
    pub in_flight: Vec<EntryStatus>,
    /// `sent/`.
    pub sent: Vec<EntryStatus>,
    /// `failed/`.
    pub failed: Vec<EntryStatus>,
}

impl Status {
    /// The list for a state.
    pub fn list(&self, state: State) -> &[EntryStatus] {
        match state {
            State::Pending => &self.pending,
            State::InFlight => &self.in_flight,
            State::Sent => &self.sent,
            State::Failed => &self.failed,
        }
    }

    /// The earliest next attempt of a pending entry.
    pub fn next_due_ms(&self) -> Option<u64> {
        self.pending
            .iter()
            .filter_map(|e| e.meta.as_ref().map(|m| m.next_attempt_ms))
            .min()
    }
}

impl Outbox {
    /// Lists every entry by state.
    ///
    /// # Errors
    /// When a directory cannot be read.
    pub fn status(&self) -> io::Result<Status> {
        let mut status = Status::default();
        for state in State::ALL {
            let mut names = list_names(&self.dir(state))?;
            names.sort();
            let list: Vec<EntryStatus> = names
                .into_iter()
                .map(|file| {
                    let meta = Entry::read(&self.dir(state).join(&file))
                        .ok()
                        .map(|e| e.meta);
                    let owner_alive = (state == State::InFlight).then(|| {
                        split_in_flight(&file).is_some_and(|(_, owner)| self.owner_alive(owner))
                    });
                    EntryStatus {
                        state,
                        meta,
                        file,
                        owner_alive,
                    }
                })
                .collect();
            match state {
                State::Pending => status.pending = list,
                State::InFlight => status.in_flight = list,
                State::Sent => status.sent = list,
                State::Failed => status.failed = list,
            }
        }
        Ok(status)
    }
}
