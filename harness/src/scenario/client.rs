//! [`ClientScenario`]: the harness as a remote MTA (`role client`), played by
//! [`crate::client::play`].

use super::{ClientStep, Effect, Expectation, Header, ReceiverSpec};

/// A validated client scenario (`role client`): `C:` lines are sent, each `S:` line is a glob
/// one reply (its last line) must match.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ClientScenario {
    /// Name, origin, host name, idle timeout (here: how long to wait for the server).
    #[serde(flatten)]
    pub header: Header,
    /// The linear script, in order.
    pub script: Vec<ClientStep>,
    /// Expectations about the conversation, checked on its transcript.
    pub expectations: Vec<Expectation>,
    /// What the receiver must have done, looked for in its folder afterwards.
    pub effects: Vec<Effect>,
    /// What `smtp-harness run` starts to receive the conversation.
    pub receiver: Option<ReceiverSpec>,
}

impl ClientScenario {
    /// An empty client scenario with default settings (the parser fills it in).
    pub(super) fn empty() -> Self {
        ClientScenario {
            header: Header::default(),
            script: Vec::new(),
            expectations: Vec::new(),
            effects: Vec::new(),
            receiver: None,
        }
    }
}
