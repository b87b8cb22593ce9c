//! The appliance's settings: a TOML file (`settings.toml` in the data directory) read into typed
//! [`Settings`], with every bad value reported at once, each message naming its field.
//!
//! ```toml
//! hostname = "appliance.example.com"
//! [email]
//! enabled = true
//! address = "smtp.gmail.com"
//! port = 587
//! encryption = "starttls"
//! authentication = "login"
//! username = "me@example.com"
//! password = "app password"
//! noreply_address = "noreply@appliance.example.com"
//! ```
//!
//! The checks live in `settings/check.rs`, the atomic save in `settings/store.rs`.

mod check;
mod store;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use store::save_atomically;

/// The settings file's name inside the data directory.
pub const SETTINGS_FILE: &str = "settings.toml";

/// All settings of the appliance, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The appliance's own host name (`reply.HOSTNAME` and `noreply.HOSTNAME` hang off it).
    pub hostname: String,
    /// Outbound (and inbound) email; `None` when the file has no `[email]` section.
    pub email: Option<EmailSettings>,
    /// The receiving side: the SMTP server for replies and the reply processor (`[inbound]`;
    /// defaults when the section is missing).
    pub inbound: InboundSettings,
}

/// The `[inbound]` section: the SMTP server that receives replies, and the reply processor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundSettings {
    /// Where the SMTP server listens (`listen`, default `0.0.0.0:25`).
    pub listen: std::net::SocketAddr,
    /// The largest message accepted, in octets (`max_message_size`, default 10240000, as
    /// Postfix's `message_size_limit`).
    pub max_message_size: u64,
    /// The certificate chain and key for STARTTLS (`tls_cert`, `tls_key`); STARTTLS is offered
    /// only with them.
    pub tls: Option<TlsFiles>,
    /// How long a client may stay silent before `421` (`timeout_secs`, default 300).
    pub timeout: Duration,
    /// How old a reply token may be (`reply_max_age_days`, default 30).
    pub reply_max_age: Duration,
}

impl Default for InboundSettings {
    fn default() -> Self {
        InboundSettings {
            listen: std::net::SocketAddr::from(([0, 0, 0, 0], 25)),
            max_message_size: check::DEFAULT_MAX_MESSAGE_SIZE,
            tls: None,
            timeout: Duration::from_secs(check::DEFAULT_INBOUND_TIMEOUT_SECS.unsigned_abs()),
            reply_max_age: Duration::from_secs(
                check::DEFAULT_REPLY_MAX_AGE_DAYS.unsigned_abs() * 86_400,
            ),
        }
    }
}

/// PEM files for a TLS server: the certificate chain (leaf first) and its private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (`tls_cert`).
    pub cert: PathBuf,
    /// The private key (`tls_key`).
    pub key: PathBuf,
}

/// The `[email]` section: how the appliance sends mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailSettings {
    /// Email is turned on (outbound and inbound together).
    pub enabled: bool,
    /// The SMTP server: a host name or an IP address (IPv6 without brackets).
    pub address: String,
    /// The SMTP server's port.
    pub port: u16,
    /// The name sent in EHLO/HELO (the `domain` setting, or the appliance's host name).
    pub domain: String,
    /// How the connection is encrypted.
    pub encryption: Encryption,
    /// How the appliance authenticates; `None` for no authentication.
    pub auth: Option<Auth>,
    /// Extra certificate authorities to trust (PEM), besides the system's.
    pub ca_file: Option<PathBuf>,
    /// The no-reply address: From and To of every notification.
    pub noreply_address: String,
    /// Inbound: discard mail addressed to the no-reply address.
    pub discard_to_noreply: bool,
    /// Where users get support, shown in notifications.
    pub support: Option<SupportLink>,
    /// Connect timeout and the longest wait for each reply.
    pub timeout: Duration,
}

/// The `encryption` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encryption {
    /// `none`: clear text throughout.
    None,
    /// `starttls`: STARTTLS is required; without it nothing is sent.
    StartTls,
    /// `starttls-opportunistic`: STARTTLS when the server offers it.
    StartTlsOpportunistic,
    /// `tls`: TLS from the first byte (the port-465 style).
    Tls,
}

impl Encryption {
    /// Every value, as written in the file.
    pub const NAMES: &'static str = "none, starttls, starttls-opportunistic, tls";

    /// Reads the value as written in the file.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "none" => Encryption::None,
            "starttls" => Encryption::StartTls,
            "starttls-opportunistic" => Encryption::StartTlsOpportunistic,
            "tls" => Encryption::Tls,
            _ => return None,
        })
    }

    /// The value as written in the file.
    pub fn name(self) -> &'static str {
        match self {
            Encryption::None => "none",
            Encryption::StartTls => "starttls",
            Encryption::StartTlsOpportunistic => "starttls-opportunistic",
            Encryption::Tls => "tls",
        }
    }
}

/// A SASL mechanism the appliance can authenticate with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// `plain`: AUTH PLAIN with an initial response.
    Plain,
    /// `login`: AUTH LOGIN, answering the `334` challenges.
    Login,
    /// `cram-md5`: AUTH CRAM-MD5 (the password itself is never sent).
    CramMd5,
}

impl Mechanism {
    /// Every value of the `authentication` setting, as written in the file.
    pub const NAMES: &'static str = "none, plain, login, cram-md5";

    /// Reads the value as written in the file (`none` is not a mechanism).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "plain" => Mechanism::Plain,
            "login" => Mechanism::Login,
            "cram-md5" => Mechanism::CramMd5,
            _ => return None,
        })
    }

    /// The value as written in the file.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "plain",
            Mechanism::Login => "login",
            Mechanism::CramMd5 => "cram-md5",
        }
    }

    /// The SASL name, as in `AUTH LOGIN`.
    pub fn sasl_name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
        }
    }
}

/// Credentials and the mechanism to present them with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Auth {
    /// How to authenticate.
    pub mechanism: Mechanism,
    /// The account's user name.
    pub username: String,
    /// The account's password (never printed).
    pub password: Password,
}

/// A password: `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Password(password.into())
    }

    /// The password itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The support link: an internal email address or a web page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SupportLink {
    /// An email address.
    Email(String),
    /// An `http://` or `https://` URL.
    Url(String),
}

/// One bad value, named by its field (`email.port`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    /// The field, dotted: `hostname`, `email.port`.
    pub field: String,
    /// What is wrong with it.
    pub problem: Problem,
}

/// What is wrong with a field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The field must be set.
    #[error("is required")]
    Missing,
    /// The field must be set because of another one.
    #[error("is required when {0}")]
    MissingBecause(String),
    /// The field is set although another setting makes it meaningless.
    #[error("is set, but {0}")]
    NotAllowed(String),
    /// No such setting.
    #[error("unknown setting")]
    Unknown,
    /// The TOML value has the wrong type.
    #[error("expected {expected}, got {got}")]
    WrongType {
        /// The type wanted (`an integer`).
        expected: &'static str,
        /// The type found (`a string`).
        got: &'static str,
    },
    /// A number outside its range.
    #[error("must be {min}-{max}, got {got}")]
    OutOfRange {
        /// The smallest value allowed.
        min: i64,
        /// The largest value allowed.
        max: i64,
        /// The value found.
        got: i64,
    },
    /// A value that is not one of the allowed words.
    #[error("unknown value {value:?} (expected {expected})")]
    UnknownValue {
        /// The value found.
        value: String,
        /// The values allowed, comma separated.
        expected: &'static str,
    },
    /// A value of the wrong form.
    #[error("must be {expected}, got {value:?}{}", reason.map(|r| format!(" ({r})")).unwrap_or_default())]
    Malformed {
        /// What it must be (`an email address`).
        expected: &'static str,
        /// The value found.
        value: String,
        /// What exactly is wrong, when that helps.
        reason: Option<&'static str>,
    },
    /// Something else, said in full.
    #[error("{0}")]
    Other(String),
}

/// Why settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file cannot be read.
    #[error("cannot read {origin}: {source}")]
    Read {
        /// The file.
        origin: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML (or not UTF-8).
    #[error("{origin} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        origin: String,
        /// What the TOML reader says, with line and column.
        message: String,
    },
    /// Values are wrong; every one is listed.
    #[error("{origin} has {} invalid setting(s):\n{}", errors.len(), list(errors))]
    Invalid {
        /// The file.
        origin: String,
        /// Every bad value, in file order of the fields.
        errors: Vec<FieldError>,
    },
}

fn list(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("  {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl SettingsError {
    /// The bad values, if that is what is wrong.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            SettingsError::Invalid { errors, .. } => errors,
            _ => &[],
        }
    }
}

impl Settings {
    /// Reads and validates a settings file.
    ///
    /// # Errors
    /// [`SettingsError`]: unreadable, not TOML, or invalid values (all of them).
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        Settings::load_with_text(path).map(|(_, settings)| settings)
    }

    /// Reads and validates a settings file, and returns its text too (to save it as it is).
    ///
    /// # Errors
    /// As [`Settings::load`].
    pub fn load_with_text(path: &Path) -> Result<(String, Settings), SettingsError> {
        let text = read_text(path)?;
        let settings = Settings::parse(&text, &path.display().to_string())?;
        Ok((text, settings))
    }

    /// Validates settings given as TOML text; `origin` names it in errors.
    ///
    /// # Errors
    /// [`SettingsError::Syntax`] or [`SettingsError::Invalid`] with every bad value.
    pub fn parse(text: &str, origin: &str) -> Result<Settings, SettingsError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| SettingsError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        check::settings(table).map_err(|errors| SettingsError::Invalid {
            origin: origin.to_owned(),
            errors,
        })
    }

    /// The `[email]` section, which sending mail needs.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming `email` when the section is missing.
    pub fn require_email(&self, origin: &str) -> Result<&EmailSettings, SettingsError> {
        self.email.as_ref().ok_or_else(|| SettingsError::Invalid {
            origin: origin.to_owned(),
            errors: vec![FieldError {
                field: "email".into(),
                problem: Problem::Other(
                    "the [email] section is missing; sending mail needs it".into(),
                ),
            }],
        })
    }
}

/// Reads a settings file as UTF-8 text.
///
/// # Errors
/// [`SettingsError::Read`], or [`SettingsError::Syntax`] when it is not UTF-8.
pub fn read_text(path: &Path) -> Result<String, SettingsError> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| SettingsError::Read {
        origin: origin.clone(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| SettingsError::Syntax {
        origin,
        message: format!("not UTF-8 (at byte {})", e.utf8_error().valid_up_to()),
    })
}
