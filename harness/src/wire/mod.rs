//! The wire layer: what the server, the client role and the recording proxy share about bytes
//! on a connection, with no SMTP policy in it.
//!
//! - [`Connection`] (`conn.rs`): a TCP stream, plain or TLS on either side of the handshake,
//!   with input and output buffers, a deadline on each operation, and the STARTTLS upgrade
//!   that drops (and reports) clear text buffered behind the command.
//! - Pure, byte-fed decoders, each fed whatever arrived in pieces of any size and tested over
//!   every split of its input: [`LineDecoder`] (command lines, 512 octets; AUTH and SASL
//!   lines, 12288), [`DataDecoder`] (message content after 354: dot-unstuffing, 1000-octet
//!   text lines, the size limit, the end only on CRLF.CRLF), [`ChunkDecoder`] (BDAT chunks),
//!   [`ReplyLineDecoder`] (a server's reply lines, bounded).
//! - [`sasl`]: the SASL exchanges the server runs (PLAIN, LOGIN, CRAM-MD5, XOAUTH2, with and
//!   without initial response) and where the secret starts in an AUTH line.
//! - [`Verb`]: command verbs as an enum.

pub mod bdat;
mod conn;
pub mod data;
pub mod line;
pub mod reply;
pub mod sasl;
#[cfg(test)]
pub(crate) mod splits;
mod verb;

pub use bdat::ChunkDecoder;
pub use conn::{Connection, HandshakeError, TlsSession, Upgrade, WireError, seconds};
pub use data::{Content, DataDecoder};
pub use line::{Line, LineDecoder, LineKind};
pub use reply::{ReplyLine, ReplyLineDecoder};
pub use verb::Verb;
