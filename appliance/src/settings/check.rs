//! Validation of the settings file, field by field, collecting every error (rather than
//! stopping at the first, as serde's `deny_unknown_fields` would): each key is taken out of its
//! table as it is checked, so the keys left over are the unknown ones.

use std::path::PathBuf;
use std::time::Duration;

use toml::{Table, Value};

use super::{
    Auth, EmailSettings, Encryption, FieldError, InboundSettings, Mechanism, Password, Problem,
    Settings, SupportLink, TlsFiles,
};
use crate::syntax;

/// Timeout when `timeout_secs` is not set.
const DEFAULT_TIMEOUT_SECS: i64 = 30;
/// The longest timeout allowed.
const MAX_TIMEOUT_SECS: i64 = 3600;
/// `inbound.max_message_size` when not set (Postfix's `message_size_limit`).
pub(super) const DEFAULT_MAX_MESSAGE_SIZE: u64 = 10_240_000;
/// `inbound.timeout_secs` when not set (Postfix's `smtpd_timeout`).
pub(super) const DEFAULT_INBOUND_TIMEOUT_SECS: i64 = 300;
/// `inbound.reply_max_age_days` when not set.
pub(super) const DEFAULT_REPLY_MAX_AGE_DAYS: i64 = 30;

/// Checks a whole settings table; returns every error found.
pub(super) fn settings(table: Table) -> Result<Settings, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut top = Fields::new("", table, &mut errors);
    let hostname = top
        .required_string("hostname")
        .and_then(|h| top.parsed("hostname", h, HOST_NAME, host_name));
    let email_table = match top.take("email") {
        None => None,
        Some(Value::Table(t)) => Some(t),
        Some(other) => {
            top.wrong_type("email", "a table ([email])", &other);
            None
        }
    };
    let inbound_table = match top.take("inbound") {
        None => Some(Table::new()),
        Some(Value::Table(t)) => Some(t),
        Some(other) => {
            top.wrong_type("inbound", "a table ([inbound])", &other);
            None
        }
    };
    top.finish();
    let email = email_table.and_then(|t| email(t, hostname.as_deref(), &mut errors));
    let inbound = inbound_table.and_then(|t| inbound(t, &mut errors));
    match (hostname, inbound) {
        (Some(hostname), Some(inbound)) if errors.is_empty() => Ok(Settings {
            hostname,
            email,
            inbound,
        }),
        _ => Err(errors),
    }
}

/// Checks the `[inbound]` table (an empty one gives the defaults).
fn inbound(table: Table, errors: &mut Vec<FieldError>) -> Option<InboundSettings> {
    let defaults = InboundSettings::default();
    let mut f = Fields::new("inbound", table, errors);
    let listen = match f.string("listen") {
        Some(text) => match text.parse::<std::net::SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                f.malformed(
                    "listen",
                    "an address and port like 0.0.0.0:25 or [::]:25",
                    text,
                    None,
                );
                None
            }
        },
        None => Some(defaults.listen),
    };
    let max_message_size = f
        .integer("max_message_size", 1, 1 << 30)
        .map_or(defaults.max_message_size, i64::unsigned_abs);
    let cert = f.string("tls_cert").map(PathBuf::from);
    let key = f.string("tls_key").map(PathBuf::from);
    let tls = match (cert, key) {
        (None, None) => None,
        (Some(_), None) => {
            f.error(
                "tls_key",
                Problem::MissingBecause("inbound.tls_cert is set".into()),
            );
            None
        }
        (None, Some(_)) => {
            f.error(
                "tls_cert",
                Problem::MissingBecause("inbound.tls_key is set".into()),
            );
            None
        }
        (Some(cert), Some(key)) => match crate::inbound::tls::load_server_config(&cert, &key) {
            Ok(_) => Some(TlsFiles { cert, key }),
            Err(e) => {
                f.error(e.field(), Problem::Other(e.to_string()));
                None
            }
        },
    };
    let timeout_secs = f
        .integer("timeout_secs", 1, MAX_TIMEOUT_SECS)
        .unwrap_or(DEFAULT_INBOUND_TIMEOUT_SECS);
    let max_age_days = f
        .integer("reply_max_age_days", 1, 3650)
        .unwrap_or(DEFAULT_REPLY_MAX_AGE_DAYS);
    if !f.finish() {
        return None;
    }
    Some(InboundSettings {
        listen: listen?,
        max_message_size,
        tls,
        timeout: Duration::from_secs(timeout_secs.unsigned_abs()),
        reply_max_age: Duration::from_secs(max_age_days.unsigned_abs() * 86_400),
    })
}

/// What a host name field must be.
const HOST_NAME: &str = "a host name like appliance.example.com";

fn host_name(name: &str) -> Result<String, syntax::SyntaxError> {
    syntax::check_host_name(name).map(|()| name.to_owned())
}

/// Checks the `[email]` table.
fn email(
    table: Table,
    hostname: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<EmailSettings> {
    let mut f = Fields::new("email", table, errors);
    let enabled = f.boolean("enabled").unwrap_or(false);
    let address = f.required_string("address").and_then(|a| {
        f.parsed(
            "address",
            a,
            "a host name or an IP address",
            syntax::parse_server_address,
        )
    });
    let port = f.required_integer("port", 1, 65535).map(|p| p as u16);
    let domain = match f.string("domain") {
        Some(d) => f.parsed("domain", d, HOST_NAME, host_name),
        None => hostname.map(str::to_owned),
    };
    let encryption = f.word(
        "encryption",
        "starttls",
        Encryption::NAMES,
        Encryption::from_name,
    );
    // Some(None): authentication = "none"; None: an invalid value (already reported).
    let mechanism = f.word(
        "authentication",
        "none",
        Mechanism::NAMES,
        |name| match name {
            "none" => Some(None),
            other => Mechanism::from_name(other).map(Some),
        },
    );
    let username = f.given_string("username");
    let password = f.given_string("password");
    let auth = match mechanism {
        Some(Some(mechanism)) => credentials(&mut f, mechanism, username, password),
        Some(None) => {
            let why =
                "email.authentication is none (remove it, or choose plain, login or cram-md5)";
            if matches!(username, Some(Some(_))) {
                f.error("username", Problem::NotAllowed(why.into()));
            }
            if matches!(password, Some(Some(_))) {
                f.error("password", Problem::NotAllowed(why.into()));
            }
            None
        }
        None => None,
    };
    let ca_file = f.string("ca_file").and_then(|path| ca_file(&mut f, path));
    let noreply_address = f.required_string("noreply_address").and_then(|a| {
        f.parsed("noreply_address", a, "an email address", |a| {
            syntax::check_email_address(a).map(|()| a.to_owned())
        })
    });
    let discard_to_noreply = f.boolean("discard_to_noreply").unwrap_or(false);
    let support = f.string("support").and_then(|s| support(&mut f, s));
    let timeout_secs = f
        .integer("timeout_secs", 1, MAX_TIMEOUT_SECS)
        .unwrap_or(DEFAULT_TIMEOUT_SECS);
    // Every error has been reported; build the settings only when there was none (optional
    // fields are `None` both when unset and when bad, so the table's verdict decides).
    if !f.finish() {
        return None;
    }
    Some(EmailSettings {
        enabled,
        address: address?,
        port: port?,
        domain: domain?,
        encryption: encryption?,
        auth,
        ca_file,
        noreply_address: noreply_address?,
        discard_to_noreply,
        support,
        timeout: Duration::from_secs(timeout_secs.unsigned_abs()),
    })
}

/// Username and password for a mechanism; `Some` when both are good. Each is `None` when
/// absent, `Some(None)` when of the wrong type (already reported).
fn credentials(
    f: &mut Fields<'_>,
    mechanism: Mechanism,
    username: Option<Option<String>>,
    password: Option<Option<String>>,
) -> Option<Auth> {
    let because = format!("email.authentication is {}", mechanism.name());
    let username = match username.map(|u| u.ok_or(())) {
        Some(Err(())) => None,
        None => {
            f.error("username", Problem::MissingBecause(because.clone()));
            None
        }
        Some(Ok(u)) if u.is_empty() => {
            f.error("username", Problem::Other("must not be empty".into()));
            None
        }
        Some(Ok(u)) if u.chars().any(char::is_control) => {
            f.error(
                "username",
                Problem::Other("must not contain control characters".into()),
            );
            None
        }
        Some(Ok(u)) => Some(u),
    };
    // The password is never echoed back in a message.
    let password = match password.map(|p| p.ok_or(())) {
        Some(Err(())) => None,
        None => {
            f.error("password", Problem::MissingBecause(because));
            None
        }
        Some(Ok(p)) if p.is_empty() => {
            f.error("password", Problem::Other("must not be empty".into()));
            None
        }
        Some(Ok(p)) if p.contains('\0') => {
            f.error(
                "password",
                Problem::Other("must not contain a NUL character".into()),
            );
            None
        }
        Some(Ok(p)) => Some(Password::new(p)),
    };
    Some(Auth {
        mechanism,
        username: username?,
        password: password?,
    })
}

fn ca_file(f: &mut Fields<'_>, path: String) -> Option<PathBuf> {
    let path = PathBuf::from(path);
    if !path.is_absolute() {
        f.error(
            "ca_file",
            Problem::Other(format!(
                "must be an absolute path, got {:?}",
                path.display().to_string()
            )),
        );
        return None;
    }
    match crate::trust::load_ca_file(&path) {
        Ok(_) => Some(path),
        Err(e) => {
            f.error("ca_file", Problem::Other(e.to_string()));
            None
        }
    }
}

fn support(f: &mut Fields<'_>, value: String) -> Option<SupportLink> {
    if syntax::is_web_url(&value) {
        return Some(SupportLink::Url(value));
    }
    if !value.contains("://") && syntax::check_email_address(&value).is_ok() {
        return Some(SupportLink::Email(value));
    }
    f.malformed(
        "support",
        "an email address or a URL starting with http:// or https://",
        value,
        None,
    );
    None
}

/// The keys of one table, taken out as they are checked; errors go to a shared list.
struct Fields<'e> {
    prefix: &'static str,
    table: Table,
    errors: &'e mut Vec<FieldError>,
    /// Errors before this table was checked, to tell whether it added any.
    errors_before: usize,
}

impl<'e> Fields<'e> {
    fn new(prefix: &'static str, table: Table, errors: &'e mut Vec<FieldError>) -> Self {
        let errors_before = errors.len();
        Fields {
            prefix,
            table,
            errors,
            errors_before,
        }
    }

    fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    fn error(&mut self, key: &str, problem: Problem) {
        let field = self.name(key);
        self.errors.push(FieldError { field, problem });
    }

    fn wrong_type(&mut self, key: &str, expected: &'static str, value: &Value) {
        self.error(
            key,
            Problem::WrongType {
                expected,
                got: type_name(value),
            },
        );
    }

    fn malformed(
        &mut self,
        key: &str,
        expected: &'static str,
        value: String,
        reason: Option<&'static str>,
    ) {
        self.error(
            key,
            Problem::Malformed {
                expected,
                value,
                reason,
            },
        );
    }

    /// What `parse` makes of a string field, or a "must be `expected`" error.
    fn parsed<T>(
        &mut self,
        key: &str,
        value: String,
        expected: &'static str,
        parse: impl FnOnce(&str) -> Result<T, syntax::SyntaxError>,
    ) -> Option<T> {
        match parse(&value) {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                self.malformed(key, expected, value, Some(e.reason()));
                None
            }
        }
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        self.table.remove(key)
    }

    fn string(&mut self, key: &str) -> Option<String> {
        match self.take(key)? {
            Value::String(s) => Some(s),
            other => {
                self.wrong_type(key, "a string", &other);
                None
            }
        }
    }

    /// `None` when absent, `Some(None)` when of the wrong type (reported), else the value.
    fn given_string(&mut self, key: &str) -> Option<Option<String>> {
        let given = self.table.contains_key(key);
        let value = self.string(key);
        given.then_some(value)
    }

    fn required_string(&mut self, key: &str) -> Option<String> {
        if !self.table.contains_key(key) {
            self.error(key, Problem::Missing);
        }
        self.string(key)
    }

    fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.take(key)? {
            Value::Boolean(b) => Some(b),
            other => {
                self.wrong_type(key, "true or false", &other);
                None
            }
        }
    }

    fn integer(&mut self, key: &str, min: i64, max: i64) -> Option<i64> {
        match self.take(key)? {
            Value::Integer(n) if (min..=max).contains(&n) => Some(n),
            Value::Integer(got) => {
                self.error(key, Problem::OutOfRange { min, max, got });
                None
            }
            other => {
                self.wrong_type(key, "an integer", &other);
                None
            }
        }
    }

    fn required_integer(&mut self, key: &str, min: i64, max: i64) -> Option<i64> {
        if !self.table.contains_key(key) {
            self.error(key, Problem::Missing);
        }
        self.integer(key, min, max)
    }

    /// A string that must be one of a set of words (`default` when missing).
    fn word<T>(
        &mut self,
        key: &str,
        default: &str,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let value = if self.table.contains_key(key) {
            self.string(key)?
        } else {
            default.to_owned()
        };
        let parsed = parse(&value);
        if parsed.is_none() {
            self.error(key, Problem::UnknownValue { value, expected });
        }
        parsed
    }

    /// Reports the keys nobody asked for; returns `true` if this table had no error at all.
    fn finish(mut self) -> bool {
        let unknown: Vec<String> = self.table.keys().cloned().collect();
        for key in unknown {
            self.error(&key, Problem::Unknown);
        }
        self.errors.len() == self.errors_before
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number with a fraction",
        Value::Boolean(_) => "true or false",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "a list",
        Value::Table(_) => "a table",
    }
}
