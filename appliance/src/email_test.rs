//! "Test email settings": send a test mail with candidate settings, and save them as the
//! active settings only when the server accepted it.
//!
//! [`run`] does the work and returns an [`EmailTestReport`]; the report renders itself for
//! people ([`EmailTestReport::human`]) or machines ([`EmailTestReport::json`]) and knows the
//! exit code ([`EmailTestReport::exit_code`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use mail_builder::MessageBuilder;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use serde_json::{Value, json};

use crate::convlog::{ConversationLog, LogError};
use crate::datadir::DataDir;
use crate::exit;
use crate::settings::{self, EmailSettings, Settings, SettingsError};
use crate::smtp::{self, AddressError, Envelope, SendError};

/// What the test came to.
#[derive(Debug)]
pub enum Outcome {
    /// The candidate settings cannot be read or are invalid.
    InvalidSettings(SettingsError),
    /// The `--to` address is not a valid email address.
    BadRecipient(AddressError),
    /// The server did not take the test mail; the settings were not saved.
    Failed(SendError),
    /// The test mail was accepted and the settings saved.
    Sent {
        /// The recipient.
        to: String,
        /// Where the settings were saved.
        saved_to: PathBuf,
    },
    /// The test mail was accepted, but the settings could not be saved.
    NotSaved {
        /// The recipient.
        to: String,
        /// Where the settings should have gone.
        path: PathBuf,
        /// Why they could not.
        error: std::io::Error,
    },
}

/// The outcome, plus a problem writing the conversation log (a warning, never a failure).
#[derive(Debug)]
pub struct EmailTestReport {
    /// What happened.
    pub outcome: Outcome,
    /// The conversation could not be appended to the log.
    pub log_error: Option<LogError>,
}

/// Sends a test mail to `to` with the settings in `candidate` (the active settings file when
/// `None`), and saves them atomically as the data directory's settings file if it was
/// accepted. The conversation is appended to the data directory's log.
pub async fn run(data_dir: &DataDir, candidate: Option<&Path>, to: &str) -> EmailTestReport {
    let report = |outcome| EmailTestReport {
        outcome,
        log_error: None,
    };
    let active = data_dir.settings_file();
    let path = candidate.unwrap_or(&active);
    let origin = path.display().to_string();
    let (text, settings) = match Settings::load_with_text(path) {
        Ok(loaded) => loaded,
        Err(e) => return report(Outcome::InvalidSettings(e)),
    };
    let email = match settings.require_email(&origin) {
        Ok(email) => email,
        Err(e) => return report(Outcome::InvalidSettings(e)),
    };
    let envelope = match Envelope::new(email.noreply_address.clone(), [to]) {
        Ok(envelope) => envelope,
        Err(e) => return report(Outcome::BadRecipient(e)),
    };
    let message = test_message(&settings.hostname, email, to, SystemTime::now());
    let log = ConversationLog::new(data_dir.log_file());
    let sent = smtp::send_logged(email, &envelope, &message, &log).await;
    let outcome = match sent.result {
        Err(e) => Outcome::Failed(e),
        Ok(_) => match settings::save_atomically(&active, text.as_bytes()) {
            Ok(()) => Outcome::Sent {
                to: to.to_owned(),
                saved_to: active,
            },
            Err(error) => Outcome::NotSaved {
                to: to.to_owned(),
                path: active,
                error,
            },
        },
    };
    EmailTestReport {
        outcome,
        log_error: sent.log_error,
    }
}

/// The test mail: From the no-reply address, To the admin's address, with a subject and body
/// that say what it is, a Date and a Message-ID.
pub fn test_message(hostname: &str, email: &EmailSettings, to: &str, now: SystemTime) -> Vec<u8> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let id = format!(
        "{:x}.{:x}.{}.test@{hostname}",
        since_epoch.as_nanos(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let auth = email.auth.as_ref().map_or("none", |a| a.mechanism.name());
    let body = format!(
        "This is a test email from the appliance {hostname}.\r\n\
         \r\n\
         It was sent through the SMTP server {server} (encryption: {encryption}, \
         authentication: {auth}) to check the email settings.\r\n\
         If you can read it, outbound email works, and the settings have been saved.\r\n",
        server = smtp::server_target(&email.address, email.port),
        encryption = email.encryption.name(),
    );
    MessageBuilder::new()
        .from(email.noreply_address.as_str())
        .to(to)
        .subject(format!("Test email from {hostname}"))
        .date(Date::new(since_epoch.as_secs() as i64))
        .message_id(MessageId::new(id))
        .text_body(body)
        .write_to_vec()
        .unwrap_or_default()
}

impl EmailTestReport {
    /// The exit code: 0 sent and saved, 78 invalid settings, 64 bad `--to`, 75 temporary
    /// failure, 69 permanent failure, 74 sent but not saved.
    pub fn exit_code(&self) -> u8 {
        match &self.outcome {
            Outcome::Sent { .. } => exit::OK,
            Outcome::InvalidSettings(_) => exit::CONFIG,
            Outcome::BadRecipient(_) => exit::USAGE,
            Outcome::Failed(e) if e.is_temporary() => exit::TEMPFAIL,
            Outcome::Failed(_) => exit::UNAVAILABLE,
            Outcome::NotSaved { .. } => exit::IOERR,
        }
    }

    /// `true` when the test succeeded and the settings were saved.
    pub fn succeeded(&self) -> bool {
        matches!(self.outcome, Outcome::Sent { .. })
    }

    /// The text for the administrator.
    pub fn human(&self) -> String {
        let mut out = match &self.outcome {
            Outcome::Sent { to, .. } => format!("Test email sent to {to}. Settings saved.\n"),
            Outcome::InvalidSettings(e) => format!("{e}\nSettings were not saved.\n"),
            Outcome::BadRecipient(e) => format!("Cannot send the test email: {e}.\n"),
            Outcome::Failed(e) => failure_text(e),
            Outcome::NotSaved { to, path, error } => format!(
                "Test email sent to {to}, but the settings could not be saved to {}: {error}.\n",
                path.display()
            ),
        };
        if let Some(e) = &self.log_error {
            out.push_str(&format!("Warning: {e}\n"));
        }
        out
    }

    /// One JSON object for machines.
    pub fn json(&self) -> Value {
        let mut value = match &self.outcome {
            Outcome::Sent { to, saved_to } => json!({
                "outcome": "success",
                "to": to,
                "settings_saved": true,
                "settings_file": saved_to.display().to_string(),
            }),
            Outcome::InvalidSettings(e) => json!({
                "outcome": "invalid_settings",
                "message": e.to_string(),
                "errors": e.field_errors().iter().map(|f| json!({
                    "field": f.field,
                    "message": f.problem.to_string(),
                })).collect::<Vec<_>>(),
                "settings_saved": false,
            }),
            Outcome::BadRecipient(e) => json!({
                "outcome": "invalid_recipient",
                "message": e.to_string(),
                "settings_saved": false,
            }),
            Outcome::Failed(e) => json!({
                "outcome": "failure",
                "step": e.step.name(),
                "code": e.code(),
                "permanent": e.is_permanent(),
                "kind": e.kind.to_string(),
                "reply": e.reply.as_ref().map(|r| r.lines.clone()).unwrap_or_default(),
                "detail": e.detail,
                "hint": e.hint(),
                "settings_saved": false,
            }),
            Outcome::NotSaved { to, path, error } => json!({
                "outcome": "not_saved",
                "to": to,
                "settings_saved": false,
                "message": format!("cannot save {}: {error}", path.display()),
            }),
        };
        if let Some(e) = &self.log_error {
            value["log_warning"] = json!(e.to_string());
        }
        value
    }
}

/// The failure report: step, the server's whole reply, permanent or temporary, the hint.
fn failure_text(e: &SendError) -> String {
    let mut out = format!(
        "Sending the test email failed at the {} step ({}).\n",
        e.step.name(),
        e.step.description()
    );
    match &e.reply {
        Some(reply) => {
            let said = if reply.is_permanent() {
                "with a permanent error (5xx)"
            } else if reply.is_transient() {
                "with a temporary error (4xx)"
            } else {
                "unexpectedly"
            };
            out.push_str(&format!("The server answered {said}:\n"));
            for line in &reply.lines {
                out.push_str(&format!("    {line}\n"));
            }
        }
        None => {
            let kind = if e.is_temporary() {
                "temporary"
            } else {
                "permanent"
            };
            out.push_str(&format!("This is a {kind} failure: {}.\n", e.detail));
        }
    }
    out.push_str(&format!("Hint: {}.\n", e.hint()));
    out.push_str("Settings were not saved.\n");
    out
}
