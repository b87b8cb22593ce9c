//! lettre, configured the way the tests drive it: tokio, rustls trusting only the test CA, no
//! connection pool, a fixed EHLO name, and messages with a fixed date and Message-ID so that
//! transcripts are the same on every run.
#![allow(dead_code)]

use std::time::{Duration, SystemTime};

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How lettre protects the connection.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    Plain,
    StartTlsRequired,
    StartTlsOpportunistic,
    Implicit,
}

/// A lettre transport for `port` on 127.0.0.1.
pub fn transport(
    port: u16,
    mode: Mode,
    auth: Option<(&str, &str, Mechanism)>,
) -> AsyncSmtpTransport<Tokio1Executor> {
    let params = || {
        TlsParameters::builder("localhost".into())
            .certificate_store(CertificateStore::None)
            .add_root_certificate(
                Certificate::from_pem(crate::common::ca_pem().as_bytes()).expect("CA parses"),
            )
            .build_rustls()
            .expect("TLS parameters")
    };
    let tls = match mode {
        Mode::Plain => Tls::None,
        Mode::StartTlsRequired => Tls::Required(params()),
        Mode::StartTlsOpportunistic => Tls::Opportunistic(params()),
        Mode::Implicit => Tls::Wrapper(params()),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(10)))
        .hello_name(ClientId::Domain("client.test".into()));
    if let Some((user, password, mechanism)) = auth {
        builder = builder
            .credentials(Credentials::new(user.into(), password.into()))
            .authentication(vec![mechanism]);
    }
    builder.build()
}

/// A message with fixed headers (date, Message-ID) so its size never changes.
pub fn message(to: &[&str], body: &str) -> Message {
    let mut builder = Message::builder()
        .from(
            "Appliance <noreply@appliance.test>"
                .parse::<Mailbox>()
                .expect("from"),
        )
        .subject("[harness] test message")
        .date(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .message_id(Some("<test-1@appliance.test>".into()));
    for rcpt in to {
        builder = builder.to(rcpt.parse::<Mailbox>().expect("to"));
    }
    builder.body(body.to_owned()).expect("message builds")
}

/// Sends one message; the error text on failure.
pub async fn send(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    message: Message,
) -> Result<(), lettre::transport::smtp::Error> {
    tokio::time::timeout(crate::common::WAIT, transport.send(message))
        .await
        .expect("lettre finishes in time")
        .map(|_| ())
}
