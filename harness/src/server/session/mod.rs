//! One connection of the fake server: a sans-IO session core that plays the scenario, and the
//! driver that connects it to a socket.
//!
//! Order of judgement for a command outside the script: line length, then the protocol checks
//! (503 "send HELO first", "need MAIL", parameters against the EHLO reply …), then the scenario's
//! rules, then the built-in replies.
//!
//! - `core/`: `SessionCore`: bytes in, replies, transcript events and captured messages out;
//!   one mode (command, SASL, DATA, BDAT); the script or rule being played (`mod.rs` its
//!   interface and state, `input.rs` what it reads, `reply.rs` what it sends, `script.rs` the
//!   linear script, `answer.rs` commands outside it, `auth.rs` AUTH).
//! - `command.rs`: a command line parsed once (verb, arguments, smtp-proto's request).
//! - `checks.rs`: sequence and parameter checks; `rules.rs`: which rule answers;
//!   `defaults.rs`: the built-in replies; `state.rs`: what the session knows.
//! - `driver.rs`: the async loop: reads, writes, TLS, pauses, timeouts, shutdown.

mod checks;
mod command;
mod core;
pub(crate) mod defaults;
mod driver;
mod rules;
mod state;

pub(crate) use driver::run;

#[cfg(test)]
mod tests;
