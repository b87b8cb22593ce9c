//! What every scenario has, whichever side it plays: the [`Header`] (name, origin, host name,
//! TLS, timeout, case), and the server's own settings' types and defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::certs::CertVariant;

/// Host name used in default replies when a scenario names none.
pub const DEFAULT_HOSTNAME: &str = "smtp.harness.test";
/// Idle timeout when a scenario sets none: a silent client gets `421` after this long.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// SIZE limit advertised and enforced by default (10 MiB).
pub const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024;

/// The settings both roles share, and where the scenario came from.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Header {
    /// A short human name (the `name` setting, or the file stem).
    pub name: String,
    /// The file it came from, if any.
    pub path: Option<PathBuf>,
    /// Host name used in default replies.
    pub hostname: String,
    /// The certificate presented for STARTTLS and implicit TLS, if any (a server's; a client
    /// scenario has none).
    pub certificate: Option<CertVariant>,
    /// TLS from the first byte (the port-465 style) instead of STARTTLS (a server's).
    pub implicit_tls: bool,
    /// How long the server waits for the client before `421` and closing; for a client
    /// scenario, how long it waits for the server.
    pub idle_timeout: Duration,
    /// The `case` section this scenario was made from (a persona combined with a failure,
    /// `bad-password`), if any.
    pub case: Option<String>,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            name: String::new(),
            path: None,
            hostname: DEFAULT_HOSTNAME.into(),
            certificate: None,
            implicit_tls: false,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            case: None,
        }
    }
}

impl Header {
    /// Where the scenario came from, for `FILE:LINE` in messages: its file, or `<inline>`.
    pub fn origin(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "<inline>".to_owned(), |p| p.display().to_string())
    }

    /// Records the file a scenario came from, and names it after the file if it has no name.
    pub(super) fn name_after(&mut self, path: &Path) {
        self.path = Some(path.to_path_buf());
        if self.name.is_empty() {
            self.name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
    }
}

/// Whose wording the server's built-in replies use, for whatever a scenario does not script.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Wording {
    /// Postfix's texts (`500 5.5.2 Error: command not recognized`), checked against Debian's
    /// Postfix 3.7: the harness's default, a familiar server for any client.
    #[default]
    Postfix,
    /// The neutral texts of RFC 5321 section 4.2 (`500 5.5.2 Syntax error, command
    /// unrecognized`): for a persona of a server whose own texts were not published, so that
    /// it never speaks with another vendor's words.
    Rfc,
}
