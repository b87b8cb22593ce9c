//! # smtp-harness
//!
//! A scriptable fake SMTP server for tests: it plays whatever a [`ServerScenario`] says (any
//! greeting, EHLO list, real STARTTLS and implicit TLS, AUTH challenges and rejections, faults),
//! records every connection as a [`Transcript`] in the reference log format, and captures the
//! messages it accepts.
//!
//! Start a server from a scenario file in one line, point your sender at it, then assert on
//! what the sender saw, on the transcript and on the captured messages, and snapshot them:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//!
//! use lettre::transport::smtp::authentication::{Credentials, Mechanism};
//! use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
//! use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
//! use smtp_harness::{FakeSmtpServer, ServerScenario};
//!
//! // 1. A server playing the reference log: STARTTLS, AUTH LOGIN, then a two-line 535.
//! let server = FakeSmtpServer::start(ServerScenario::from_file("../scenarios/reference/auth-login-535.scn")?).await?;
//!
//! // 2. The sender under test (here lettre), trusting the harness's test CA.
//! let tls = TlsParameters::builder("localhost".into())
//!     .certificate_store(CertificateStore::None)
//!     .add_root_certificate(Certificate::from_pem(smtp_harness::certs::embedded_ca_pem().as_bytes())?)
//!     .build_rustls()?;
//! let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
//!     .port(server.port())
//!     .tls(Tls::Required(tls))
//!     .credentials(Credentials::new("me@example.com".into(), "wrong".into()))
//!     .authentication(vec![Mechanism::Login])
//!     .build();
//! let email = Message::builder()
//!     .from("a@example.com".parse()?)
//!     .to("b@example.com".parse()?)
//!     .subject("hello")
//!     .body(String::from("hello"))?;
//! let error = mailer.send(email).await.expect_err("the server says 535");
//!
//! // 3. What the sender saw, what went over the wire, what was captured.
//! assert_eq!(error.status().map(|code| code.to_string()).as_deref(), Some("535"));
//! let sessions = server.wait_for_sessions(1, Duration::from_secs(5)).await?;
//! let transcript = sessions[0].transcript.to_string();
//! assert!(transcript.contains("TLS connection started"));
//! assert!(transcript.contains(r#"<- "[redacted]\r\n""#)); // credentials never show
//! assert!(server.messages().is_empty());
//! server.verify()?; // the scenario's expectations: STARTTLS before AUTH, no MAIL
//!
//! // 4. In a test: insta::assert_snapshot!(smtp_harness::snapshot::sessions_text(&sessions));
//! # Ok(()) }
//! ```
//!
//! A scenario can also be built in Rust ([`ServerScenario::builder`]) or parsed from a string;
//! a [`ClientScenario`] (`role client`) plays a remote MTA instead ([`client::play`]).
//!
//! ## Layout
//! - [`scenario`]: the scenario language (model, parse, validate, render).
//! - [`server`]: the fake server ([`FakeSmtpServer`]) and its sessions.
//! - [`client`]: the harness as a remote MTA, playing `role client` scenarios.
//! - [`run`]: driving real senders through scenarios and judging them.
//! - [`import`]: a customer's log or debug output turned into a scenario.
//! - [`record`]: a recording proxy in front of a real server, writing a scenario.
//! - [`transcript`]: transcripts and their renderers; [`verify`]: expectations.
//! - [`reply`], [`pattern`], [`message`]: replies, client-line globs, captured messages.
//! - [`certs`], [`tls`]: test certificates (rcgen) and rustls configurations.
//! - [`snapshot`]: stable text for insta snapshots.
//! - [`wire`]: connections and the byte-fed decoders every role shares.
#![warn(missing_docs)]

pub mod certs;
pub mod client;
mod escape;
pub mod import;
pub mod message;
pub mod pattern;
pub mod record;
pub mod reply;
pub mod run;
pub mod scenario;
pub mod server;
pub mod snapshot;
pub mod tls;
pub mod transcript;
pub mod verify;
pub mod wire;

pub use certs::CertVariant;
pub use message::ReceivedMessage;
pub use reply::Reply;
pub use scenario::{AnyScenario, ClientScenario, ScenarioError, ServerScenario};
pub use server::FakeSmtpServer;
pub use transcript::{Event, Render, Transcript};
pub use verify::ConversationRecord;
