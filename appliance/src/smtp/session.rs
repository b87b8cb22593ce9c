//! The conversation itself, step by step: connect, (implicit TLS), greeting, EHLO (HELO as a
//! fallback), STARTTLS and EHLO again, AUTH, MAIL, RCPT, DATA, QUIT. On a failure after the
//! greeting the appliance still says QUIT, briefly, before closing.

use std::time::Duration;

use tokio_rustls::TlsConnector;

use super::capabilities::Capabilities;
use super::connection::Connection;
use super::envelope::Envelope;
use super::error::{Cause, ErrorKind, SendError};
use super::reply::Reply;
use super::step::Step;
use super::{Delivered, data, sasl, tls};
use crate::convlog::Conversation;
use crate::settings::{Auth, EmailSettings, Encryption, Mechanism};

/// The longest wait for QUIT's reply and for closing, whatever the configured timeout.
const GOODBYE_WAIT: Duration = Duration::from_secs(2);

/// Has the whole conversation, recording it in `conversation`.
pub(crate) async fn converse(
    settings: &EmailSettings,
    envelope: &Envelope,
    message: &[u8],
    conversation: &mut Conversation,
    on_accepted: &mut (dyn FnMut(&Reply) + Send),
) -> Result<Delivered, SendError> {
    let connector = match settings.encryption {
        Encryption::None => None,
        _ => Some(tls::connector(settings)?),
    };
    let conn = Connection::open(
        &settings.address,
        settings.port,
        settings.timeout,
        conversation,
    )
    .await?;
    let mut session = Session {
        settings,
        conn,
        connector,
        on_accepted,
    };
    let result = session.run(envelope, message).await;
    let wait = GOODBYE_WAIT.min(settings.timeout);
    session.conn.close(wait).await;
    result
}

struct Session<'s, 'c, 'h> {
    settings: &'s EmailSettings,
    conn: Connection<'c>,
    connector: Option<TlsConnector>,
    /// Told about the final 250 at once, before QUIT (see `smtp::send_logged_with`).
    on_accepted: &'h mut (dyn FnMut(&Reply) + Send),
}

impl Session<'_, '_, '_> {
    async fn run(&mut self, envelope: &Envelope, message: &[u8]) -> Result<Delivered, SendError> {
        if self.settings.encryption == Encryption::Tls {
            self.handshake().await?;
        }
        let greeting = self.conn.read_reply(Step::Greeting).await?;
        if greeting.code != 220 {
            return Err(SendError::from_reply(Step::Greeting, greeting));
        }
        let result = self.transaction(envelope, message).await;
        self.conn
            .quit(GOODBYE_WAIT.min(self.settings.timeout))
            .await;
        result
    }

    /// Everything between the greeting and QUIT.
    async fn transaction(
        &mut self,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<Delivered, SendError> {
        let mut caps = self.hello().await?;
        let offered = caps.starttls;
        match self.settings.encryption {
            Encryption::StartTls if !offered => {
                return Err(SendError::new(
                    Step::StartTls,
                    ErrorKind::Configuration,
                    Cause::StartTlsNotOffered,
                    "encryption is starttls, but the server does not offer STARTTLS (it is not in the EHLO reply)",
                ));
            }
            Encryption::StartTls | Encryption::StartTlsOpportunistic if offered => {
                self.starttls().await?;
                caps = self.hello().await?;
            }
            _ => {}
        }
        if let Some(auth) = &self.settings.auth {
            if self.settings.encryption == Encryption::StartTlsOpportunistic && !self.conn.is_tls()
            {
                return Err(SendError::new(
                    Step::Auth,
                    ErrorKind::Configuration,
                    Cause::ClearTextRefused,
                    "the server offers no encryption; refusing to send the password in clear text",
                ));
            }
            self.authenticate(auth, &caps).await?;
        }
        let wire = data::encode(message);
        self.mail(envelope, message, &wire, &caps).await?;
        for recipient in envelope.to() {
            self.expect_positive(Step::Rcpt, &format!("RCPT TO:<{recipient}>"))
                .await?;
        }
        let reply = self.data(&wire).await?;
        (self.on_accepted)(&reply);
        Ok(Delivered {
            reply,
            encrypted: self.conn.is_tls(),
            authenticated: self.settings.auth.is_some(),
        })
    }

    async fn handshake(&mut self) -> Result<(), SendError> {
        let name = tls::server_name(&self.settings.address)?;
        let Some(connector) = self.connector.as_ref() else {
            return Err(SendError::new(
                Step::TlsHandshake,
                ErrorKind::Configuration,
                Cause::TlsHandshake,
                "TLS was asked for, but encryption is none",
            ));
        };
        self.conn.start_tls(connector, name).await
    }

    /// EHLO, or HELO when the server refuses EHLO for good (5xx).
    async fn hello(&mut self) -> Result<Capabilities, SendError> {
        let domain = &self.settings.domain;
        let reply = self
            .conn
            .command(Step::Ehlo, &format!("EHLO {domain}"))
            .await?;
        if reply.is_positive() {
            return Ok(Capabilities::from_ehlo(&reply));
        }
        if !reply.is_permanent() {
            return Err(SendError::from_reply(Step::Ehlo, reply));
        }
        let reply = self
            .conn
            .command(Step::Ehlo, &format!("HELO {domain}"))
            .await?;
        if reply.is_positive() {
            return Ok(Capabilities::default());
        }
        Err(SendError::from_reply(Step::Ehlo, reply))
    }

    async fn starttls(&mut self) -> Result<(), SendError> {
        let reply = self.conn.command(Step::StartTls, "STARTTLS").await?;
        if reply.code != 220 {
            return Err(SendError::from_reply(Step::StartTls, reply));
        }
        self.handshake().await
    }

    async fn authenticate(&mut self, auth: &Auth, caps: &Capabilities) -> Result<(), SendError> {
        let mechanism = auth.mechanism.sasl_name();
        match &caps.auth {
            None => {
                return Err(SendError::new(
                    Step::Auth,
                    ErrorKind::Configuration,
                    Cause::AuthNotOffered,
                    "the server does not offer authentication (there is no AUTH in its EHLO reply)",
                ));
            }
            Some(offered) if !caps.offers(mechanism) => {
                return Err(SendError::new(
                    Step::Auth,
                    ErrorKind::Configuration,
                    Cause::MechanismNotOffered {
                        offered: offered.clone(),
                    },
                    format!(
                        "the server does not offer {mechanism} authentication (it offers {})",
                        if offered.is_empty() {
                            "none".to_owned()
                        } else {
                            offered.join(", ")
                        }
                    ),
                ));
            }
            Some(_) => {}
        }
        let user = auth.username.as_str();
        let password = auth.password.expose();
        let reply = match auth.mechanism {
            Mechanism::Plain => {
                self.conn
                    .send_secret(Step::Auth, "AUTH PLAIN ", &sasl::plain(user, password))
                    .await?;
                self.conn.read_reply(Step::Auth).await?
            }
            Mechanism::Login => {
                self.challenge("AUTH LOGIN").await?;
                self.conn
                    .send_secret(Step::Auth, "", &sasl::login(user))
                    .await?;
                self.continue_challenge().await?;
                self.conn
                    .send_secret(Step::Auth, "", &sasl::login(password))
                    .await?;
                self.conn.read_reply(Step::Auth).await?
            }
            Mechanism::CramMd5 => {
                let challenge = self.challenge("AUTH CRAM-MD5").await?;
                let text = challenge.texts().next().unwrap_or("").to_owned();
                let Some(answer) = sasl::cram_md5(user, password, &text) else {
                    self.conn.send_line(Step::Auth, "*").await?;
                    let _ = self.conn.read_reply(Step::Auth).await;
                    return Err(SendError::new(
                        Step::Auth,
                        ErrorKind::Permanent,
                        Cause::Malformed,
                        format!("the CRAM-MD5 challenge is not base64: {text:?}"),
                    ));
                };
                self.conn.send_secret(Step::Auth, "", &answer).await?;
                self.conn.read_reply(Step::Auth).await?
            }
        };
        if reply.is_positive() {
            return Ok(());
        }
        if reply.code == 334 {
            // The server wants more than the mechanism has: cancel the exchange (RFC 4954).
            self.conn.send_line(Step::Auth, "*").await?;
            let _ = self.conn.read_reply(Step::Auth).await;
        }
        Err(SendError::from_reply(Step::Auth, reply))
    }

    /// Sends an AUTH command that must be answered by a `334` challenge.
    async fn challenge(&mut self, command: &str) -> Result<Reply, SendError> {
        let reply = self.conn.command(Step::Auth, command).await?;
        if reply.code == 334 {
            Ok(reply)
        } else {
            Err(SendError::from_reply(Step::Auth, reply))
        }
    }

    /// Reads the next `334` of an exchange under way.
    async fn continue_challenge(&mut self) -> Result<Reply, SendError> {
        let reply = self.conn.read_reply(Step::Auth).await?;
        if reply.code == 334 {
            Ok(reply)
        } else {
            Err(SendError::from_reply(Step::Auth, reply))
        }
    }

    /// MAIL FROM, declaring the size (RFC 1870) and 8-bit content (RFC 6152) when the server
    /// understands them.
    async fn mail(
        &mut self,
        envelope: &Envelope,
        message: &[u8],
        wire: &[u8],
        caps: &Capabilities,
    ) -> Result<(), SendError> {
        let mut command = format!("MAIL FROM:<{}>", envelope.from());
        if caps.size.is_some() {
            // The content as sent, without the terminating ".\r\n".
            command.push_str(&format!(" SIZE={}", wire.len().saturating_sub(3)));
        }
        if caps.eight_bit_mime && data::is_8bit(message) {
            command.push_str(" BODY=8BITMIME");
        }
        self.expect_positive(Step::Mail, &command).await
    }

    /// DATA, the content (already encoded for the wire), and the reply after the final dot.
    async fn data(&mut self, wire: &[u8]) -> Result<Reply, SendError> {
        let reply = self.conn.command(Step::Data, "DATA").await?;
        if reply.code != 354 {
            return Err(SendError::from_reply(Step::Data, reply));
        }
        self.conn.send_content(Step::Data, wire).await?;
        let reply = self.conn.read_reply(Step::Data).await?;
        if reply.is_positive() {
            Ok(reply)
        } else {
            Err(SendError::from_reply(Step::Data, reply))
        }
    }

    async fn expect_positive(&mut self, step: Step, command: &str) -> Result<(), SendError> {
        let reply = self.conn.command(step, command).await?;
        if reply.is_positive() {
            Ok(())
        } else {
            Err(SendError::from_reply(step, reply))
        }
    }
}
