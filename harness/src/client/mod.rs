//! The harness as a remote MTA: plays a `role client` scenario against any SMTP server (an
//! inbound MTA, Postfix, the appliance's receiver) and records the conversation from the
//! client's side, in the same [`crate::Transcript`] form the fake server uses, as a
//! [`crate::ConversationRecord`].
//!
//! - `options.rs`: [`ClientOptions`], how the client connects.
//! - `player.rs`: [`play`], the steps against one connection.
//! - `effects.rs`: effect expectations, read from the receiver's folder.

mod effects;
mod options;
mod player;

pub use options::ClientOptions;
pub use player::play;

/// Message content as it goes after 354 (see [`crate::wire::data::dot_stuff`]).
pub use crate::wire::data::dot_stuff;
