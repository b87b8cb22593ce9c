//! # smtp-harness
//!
//! A scriptable fake SMTP server for tests: it plays whatever a [`Scenario`] says (any
//! greeting, EHLO list, real STARTTLS and implicit TLS, AUTH challenges and rejections, faults),
//! records every connection as a [`Transcript`] in the reference log format, and captures the
//! messages it accepts.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use smtp_harness::{FakeSmtpServer, Scenario};
//!
//! let server = FakeSmtpServer::start(Scenario::from_file("../scenarios/reference/auth-login-535.scn")?).await?;
//! println!("point your sender at {}", server.addr());
//! # Ok(()) }
//! ```
//!
//! ## Layout
//! - [`scenario`]: the scenario language (parse, validate).
//! - [`server`]: the fake server ([`FakeSmtpServer`]) and its sessions.
//! - [`transcript`]: transcripts and their renderers; [`verify`]: expectations.
//! - [`reply`], [`pattern`], [`message`]: replies, client-line globs, captured messages.
//! - [`certs`], [`tls`]: test certificates (rcgen) and rustls configurations.
//! - [`snapshot`]: stable text for insta snapshots.
#![warn(missing_docs)]

pub mod certs;
pub mod message;
pub mod pattern;
pub mod reply;
pub mod scenario;
pub mod server;
pub mod snapshot;
pub mod tls;
pub mod transcript;
pub mod verify;

pub use certs::CertVariant;
pub use message::ReceivedMessage;
pub use reply::Reply;
pub use scenario::{Scenario, ScenarioError};
pub use server::{FakeSmtpServer, SessionRecord};
pub use transcript::{Event, Render, Transcript};
