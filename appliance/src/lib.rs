//! # appliance
//!
//! The appliance's email subsystem, written to ship: the settings an
//! administrator enters ([`settings`]), the SMTP client that sends notification mail through
//! the configured server ([`smtp`]), the conversation log a support bundle carries
//! ([`convlog`]), "test email settings" ([`email_test`]), which saves settings only when a
//! test mail gets through, notifications with signed reply tokens ([`notify`]), the durable
//! outbox that delivers them ([`outbox`]), the support bundle ([`bundle`]), and the inbound
//! side: the SMTP server that receives replies into a maildir ([`inbound`]) and the reply
//! processor that turns them into comments ([`replies`]), with a check of the DNS records
//! inbound mail needs ([`dns_check`]). The long-running parts stop one way ([`shutdown`]).
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use appliance::convlog::ConversationLog;
//! use appliance::settings::Settings;
//! use appliance::smtp::{self, Envelope};
//!
//! let settings = Settings::load("/var/lib/appliance/settings.toml".as_ref())?;
//! let email = settings.require_email("settings.toml")?;
//! let envelope = Envelope::new(email.noreply_address.clone(), ["admin@example.com"])?;
//! let log = ConversationLog::new("/var/lib/appliance/logs/unicorn.log");
//! let message = b"From: noreply@appliance.example.com\r\nTo: admin@example.com\r\nSubject: hi\r\n\r\nhello\r\n";
//! match smtp::send(email, &envelope, message, &log).await {
//!     Ok(delivered) => println!("accepted: {}", delivered.reply.lines.join(" ")),
//!     Err(e) if e.is_temporary() => println!("try again later: {e}"),
//!     Err(e) => println!("failed at {}: {e}\nhint: {}", e.step, e.hint()),
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod bundle;
pub mod cli;
pub mod convlog;
pub mod datadir;
pub mod dns_check;
pub mod email_test;
pub mod exit;
mod fsutil;
pub mod inbound;
pub mod notify;
pub mod outbox;
pub mod replies;
pub mod settings;
pub mod shutdown;
pub mod smtp;
pub mod syntax;
pub mod trust;
