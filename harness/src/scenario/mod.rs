//! Scenario files: what the fake server (or the harness as a remote MTA) plays, written by hand,
//! made from a customer's log or recorded in front of a real server.
//!
//! A scenario has up to three parts, all optional:
//!
//! 1. **A linear script** of top-level steps, the shape a replayed log takes: `S:` lines the server
//!    sends verbatim (consecutive lines form one or more replies), `C:` lines it then waits for (glob
//!    patterns: `*` any text, `?` one character, case ignored), `tls` (the TLS handshake, after the
//!    `220` to `STARTTLS`), `pause 2s`, `close`, and `raw "…"` (bytes sent as they are, with
//!    `\r`, `\n`, `\t`, `\\`, `\"` and `\xNN` escapes: a non-SMTP server, a response injection).
//!    The first steps are the greeting.
//! 2. **Reactive rules**, `when VERB [args-glob] [#N] [connection=N] [tls|plain]
//!    [advertised|unadvertised]` with an indented body of `S:` lines
//!    (and `tls`, `pause`, `close`). AUTH rules may add `MECHANISM`, `user=…` and `password=…`; they
//!    are judged once the SASL exchange (the 334 challenges) is over. Rules answer what the script
//!    does not (after it ends, or once the client strays from it); the first matching rule wins.
//! 3. **Expectations** about the client: `expect STARTTLS before AUTH`, `expect QUIT after 535`,
//!    `expect no DATA`, `expect messages 1`, `expect AUTH times 1`, `expect closed by client`.
//!
//! A scenario plays one side. By default it is a [`ServerScenario`], played by the fake server
//! ([`crate::FakeSmtpServer`], `smtp-harness serve`). With `role client` among its settings it is
//! a [`ClientScenario`] and plays a remote MTA instead ([`crate::client::play`], `smtp-harness
//! send`): `C:` lines are sent, each `S:` line is a glob one reply (its last line) must match,
//! `message FILE` sends a message file dot-stuffed, `slow 5ms` writes byte by byte, and `raw`,
//! `tls`, `pause` and `close` work as for the server. A client scenario has no rules, defaults,
//! `sender`, `outcome`, `size`, `wording`, certificate or cases; its expectations may add effects
//! on the receiver (`expect files "GLOB" N`, `expect line "FILE" "GLOB"`), and a `receiver`
//! block names what `smtp-harness run` starts to receive it (see [`ReceiverSpec`]). Each role's
//! lines are refused in the other's scenario when the file is loaded, and a file of the wrong
//! role is refused by the loader of the other ([`ServerScenario::from_file`] refuses `role
//! client`); [`AnyScenario`] loads either.
//!
//! For `smtp-harness run`, a `sender` block names the senders that drive a server scenario and
//! their settings, and `outcome` what they must conclude (see [`SenderSpec`]).
//!
//! A server scenario file may end in `case NAME` sections (a vendor persona and its failures,
//! see [`ScenarioFile`]): each case adds rules tried before the ones above, expectations, a
//! `sender` override and its own `outcome`.
//!
//! Anything neither scripted nor ruled gets sane RFC 5321 behaviour from the server, in
//! Postfix's wording, or in RFC 5321's neutral wording with `wording rfc` (see [`Wording`]);
//! `default SITUATION` blocks give a scenario's own reply for a situation the server answers
//! by itself (`default unrecognized`, `default sequence`, … see [`Situation`]). Settings come
//! first: `name`, `hostname`, `certificate VARIANT` (see [`crate::certs::CertVariant`]),
//! `implicit-tls`, `timeout 30s` (idle timeout), `size N` (the SIZE limit), `role` and
//! `wording`. The [`Header`] holds the ones both roles have (name, host name, certificate,
//! implicit TLS, timeout; a client scenario refuses a certificate and implicit TLS).
//!
//! An `S:` line is sent as written, without trailing white space; to send a line with it (Postfix's
//! smtp-sink ends its EHLO list with `250 `), quote it: `S: "250 "` (with the escapes of `raw`).
//!
//! ```text
//! name Gmail rejects the password
//! certificate valid
//! S: 220 smtp.gmail.com ESMTP ready
//! when AUTH user=alice password=s3cret
//!     S: 235 2.7.0 Accepted
//! when AUTH
//!     S: 535 5.7.8 Username and Password not accepted.
//! expect STARTTLS before AUTH
//! ```
//!
//! The model is in one file per part: `header.rs` (the shared settings), `server.rs` and
//! `client.rs` (the two scenarios), `script.rs` (steps and actions), `rules.rs`,
//! `expectations.rs`, `defaults.rs` (situations and their replies), `error.rs`, `file.rs`
//! (loading files and cases); `sender.rs` and `receiver.rs` (what `run` drives a scenario with);
//! `parse/` (text to model, with line and column), `validate.rs` (refuse what cannot be played),
//! `builder.rs` (the same model from Rust) and `render/` (a conversation to scenario text).

mod builder;
mod client;
mod defaults;
mod error;
mod expectations;
mod file;
mod header;
mod keyword_line;
mod parse;
mod receiver;
pub mod render;
mod rules;
mod script;
mod sender;
mod server;
mod validate;

pub use builder::{RuleBuilder, ScenarioBuilder};
pub use client::ClientScenario;
pub use defaults::{DefaultReply, Situation};
pub use error::ScenarioError;
pub use expectations::{Atom, Effect, EffectKind, Expectation, ExpectationKind};
pub use file::{AnyScenario, AnyScenarioFile, ScenarioFile};
pub use header::{DEFAULT_HOSTNAME, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_SIZE, Header, Wording};
pub(crate) use parse::parse_duration;
pub use receiver::{ReceiverSetting, ReceiverSpec};
pub use render::reply_line_text;
pub use rules::{AuthCondition, Rule};
pub use script::{Action, ClientStep, ClientStepKind, Step, StepKind};
pub use sender::{
    AdapterName, AuthMechanism, Encryption, Outcome, OutcomeKind, SenderKind, SenderSpec, SmtpStep,
    Trust,
};
pub use server::ServerScenario;
