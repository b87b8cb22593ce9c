//! `smtp-harness import`: a customer's evidence (a conversation log, a support bundle, a
//! client's debug output) turned into a `role server` scenario that replays the server's side.
//!
//! Every input format is first parsed into one common model, an ordered list of [`Entry`]s
//! (a server line, a client line, or "TLS started", each with its input line number); the
//! scenario text is then made from that list by [`render`], with the renderer that lives with
//! the scenario model ([`crate::scenario::render`]): server lines verbatim (a cut one repaired,
//! with a comment), client lines as globs, credentials as `C: *`, TLS as `tls`.
//!
//! Input that cannot be read gives an [`ImportError`] naming the file and line; nothing is
//! half-made.

mod bundle;
mod curl;
mod log;
mod msmtp;
mod phpmailer;
mod smtplib;
mod swaks;
mod transcript;

use std::path::Path;

pub use crate::scenario::render::{Entry, Item};
use crate::scenario::render::{Preamble, RenderError, render_scenario};

/// The input formats `import` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The reference log format (`unicorn.log`): `-> "220 …\r\n"`, `<- "EHLO\r\n"`.
    Log,
    /// A support bundle (`.tar.gz`) carrying `enterprise-manage-logs/unicorn.log`.
    Bundle,
    /// swaks output: `<-`, ` ->`, and `<~`, ` ~>` inside TLS.
    Swaks,
    /// A plain transcript of `S:` / `C:` lines.
    Transcript,
    /// Python smtplib `set_debuglevel(1)` output: `send: b'…'`, `reply: b'…'`.
    Smtplib,
    /// `curl -v` output: `< 250 …`, `> EHLO …`.
    Curl,
    /// PHPMailer's SMTPDebug output: `SERVER -> CLIENT: …`, `CLIENT -> SERVER: …`.
    Phpmailer,
    /// `msmtp --debug` output: `<-- 220 …`, `--> EHLO …`.
    Msmtp,
}

impl Format {
    /// Every format, in the order auto-detection prefers them on a tie.
    pub const ALL: [Format; 8] = [
        Format::Log,
        Format::Bundle,
        Format::Swaks,
        Format::Transcript,
        Format::Smtplib,
        Format::Curl,
        Format::Phpmailer,
        Format::Msmtp,
    ];

    /// The name used by `--format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Log => "log",
            Format::Bundle => "bundle",
            Format::Swaks => "swaks",
            Format::Transcript => "transcript",
            Format::Smtplib => "smtplib",
            Format::Curl => "curl",
            Format::Phpmailer => "phpmailer",
            Format::Msmtp => "msmtp",
        }
    }

    /// Human description, for the scenario's header.
    pub fn describe(self) -> &'static str {
        match self {
            Format::Log => "the reference log format (unicorn.log)",
            Format::Bundle => "a support bundle's enterprise-manage-logs/unicorn.log",
            Format::Swaks => "swaks output",
            Format::Transcript => "a plain S:/C: transcript",
            Format::Smtplib => "Python smtplib debug output",
            Format::Curl => "curl -v output",
            Format::Phpmailer => "PHPMailer SMTPDebug output",
            Format::Msmtp => "msmtp --debug output",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                format!("unknown format {s:?}: one of {}", names.join(", "))
            })
    }
}

/// Why an input could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line of the input is in no form the format knows.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The file (a bundle's member is named `BUNDLE!MEMBER`).
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The input as a whole cannot be used (empty, no conversation, unknown format, a
    /// bundle without its log).
    #[error("{path}: {message}")]
    Input {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl ImportError {
    pub(crate) fn line(path: &str, line: usize, message: impl Into<String>) -> Self {
        ImportError::Line {
            path: path.to_owned(),
            line,
            message: message.into(),
        }
    }

    fn input(path: &str, message: impl Into<String>) -> Self {
        ImportError::Input {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

impl From<RenderError> for ImportError {
    fn from(error: RenderError) -> Self {
        let message = error.message();
        match error.line() {
            Some(line) => ImportError::line(error.origin(), line, message),
            None => ImportError::input(error.origin(), message),
        }
    }
}

/// The result of an import: the scenario text and what it was made from.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The format that was read.
    pub format: Format,
    /// The conversation, as parsed.
    pub entries: Vec<Entry>,
    /// The scenario text (it passes [`crate::ServerScenario::parse`]).
    pub scenario: String,
}

/// Imports a file: reads it, detects its format (unless given), and makes the scenario.
///
/// # Errors
/// [`ImportError`] naming the file (and the line) that could not be read.
pub fn import_file(path: &Path, format: Option<Format>) -> Result<Imported, ImportError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        path: name.clone(),
        source,
    })?;
    let label = path
        .file_name()
        .map_or_else(|| name.clone(), |n| n.to_string_lossy().into_owned());
    import_bytes(&bytes, &name, &label, format)
}

/// Imports bytes: `path` names them in errors, `label` in the scenario's `name`.
///
/// # Errors
/// [`ImportError`] naming the line that could not be read.
pub fn import_bytes(
    bytes: &[u8],
    path: &str,
    label: &str,
    format: Option<Format>,
) -> Result<Imported, ImportError> {
    let is_gzip = bytes.starts_with(&[0x1f, 0x8b]);
    let format = match format {
        Some(f) => f,
        None if is_gzip => Format::Bundle,
        None => {
            let text = to_text(bytes, path)?;
            detect(&text).ok_or_else(|| unknown_format(&text, path))?
        }
    };
    let (entries, source, notes) = if format == Format::Bundle {
        let (log, member) = bundle::unicorn_log(bytes, path)?;
        let origin = format!("{path}!{member}");
        (log::parse(&log, &origin)?, origin, log::notes(&log))
    } else {
        let text = to_text(bytes, path)?;
        let notes = if format == Format::Log {
            log::notes(&text)
        } else {
            Vec::new()
        };
        (parse_as(format, &text, path)?, path.to_owned(), notes)
    };
    let scenario = render_with_notes(&entries, &source, label, format, &notes)?;
    Ok(Imported {
        format,
        entries,
        scenario,
    })
}

fn to_text(bytes: &[u8], path: &str) -> Result<String, ImportError> {
    match std::str::from_utf8(bytes) {
        Ok(t) => Ok(t.to_owned()),
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            Err(ImportError::line(path, line, "not UTF-8 text"))
        }
    }
}

/// Parses text in a known (non-bundle) format into the common model.
///
/// # Errors
/// [`ImportError::Line`] for the first line in no form the format knows.
pub fn parse_as(format: Format, text: &str, path: &str) -> Result<Vec<Entry>, ImportError> {
    match format {
        Format::Log | Format::Bundle => log::parse(text, path),
        Format::Swaks => swaks::parse(text, path),
        Format::Transcript => transcript::parse(text, path),
        Format::Smtplib => smtplib::parse(text, path),
        Format::Curl => curl::parse(text, path),
        Format::Phpmailer => phpmailer::parse(text, path),
        Format::Msmtp => msmtp::parse(text, path),
    }
}

/// How strongly a line says "this format": the first few conversation lines decide.
fn vote(line: &str) -> Option<Format> {
    if log::recognises(line) {
        Some(Format::Log)
    } else if swaks::recognises(line) {
        Some(Format::Swaks)
    } else if smtplib::recognises(line) {
        Some(Format::Smtplib)
    } else if phpmailer::recognises(line) {
        Some(Format::Phpmailer)
    } else if msmtp::recognises(line) {
        Some(Format::Msmtp)
    } else if curl::recognises(line) {
        Some(Format::Curl)
    } else if transcript::recognises(line) {
        Some(Format::Transcript)
    } else {
        None
    }
}

/// Detects the format of a text input: the format most of its lines speak.
pub fn detect(text: &str) -> Option<Format> {
    let mut counts = [0usize; Format::ALL.len()];
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some(f) = vote(line.strip_suffix('\r').unwrap_or(line)) {
            counts[Format::ALL.iter().position(|&g| g == f).unwrap_or(0)] += 1;
        }
    }
    let best = counts.iter().copied().max().unwrap_or(0);
    if best == 0 {
        return None;
    }
    counts
        .iter()
        .position(|&c| c == best)
        .map(|i| Format::ALL[i])
}

fn unknown_format(text: &str, path: &str) -> ImportError {
    match text.lines().enumerate().find(|(_, l)| !l.trim().is_empty()) {
        None => ImportError::input(
            path,
            "the file is empty: there is no conversation to import",
        ),
        Some((i, _)) => ImportError::line(
            path,
            i + 1,
            "a line in no known format (the reference log, swaks, a S:/C: transcript, smtplib, curl -v, PHPMailer or msmtp --debug output); use --format to name one",
        ),
    }
}

/// The lines of `text` with their 1-based numbers, CR stripped, blank lines and `#` comment
/// lines (a note added to the evidence) left out.
pub(crate) fn numbered(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
}

/// What an importer says of a bad escape in a quoted log string.
pub(crate) fn escape_problem(bad: &crate::escape::BadEscape<'_>) -> &'static str {
    if bad.is_hex() {
        "a bad \\x escape (two hex digits expected)"
    } else {
        "an unknown escape"
    }
}

/// Splits a decoded chunk of wire text into lines (CRLF or LF), dropping the last empty one.
pub(crate) fn wire_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned())
        .collect();
    if lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// Makes the scenario text from the common model.
///
/// # Errors
/// [`ImportError`] when there is no conversation, or a server line cannot be repaired.
pub fn render(
    entries: &[Entry],
    source: &str,
    label: &str,
    format: Format,
) -> Result<String, ImportError> {
    render_with_notes(entries, source, label, format, &[])
}

/// [`render`], with notes about the input for the header (one comment line each).
fn render_with_notes(
    entries: &[Entry],
    source: &str,
    label: &str,
    format: Format,
    notes: &[String],
) -> Result<String, ImportError> {
    let mut comments = vec![
        format!("Imported by `smtp-harness import` from {source}"),
        format!("Format: {}.", format.describe()),
        "Server lines are as logged; client lines are globs (arguments that vary are `*`);"
            .to_owned(),
        "credentials (AUTH payloads, answers to 334) are `*` and were not copied.".to_owned(),
        "Add a `sender` block and an `outcome` line to drive it with `smtp-harness run`."
            .to_owned(),
    ];
    comments.extend(notes.iter().cloned());
    let preamble = Preamble {
        comments,
        name: format!("Imported from {}", label.replace('\n', " ")),
        client_heading: "What the customer's client did.".to_owned(),
    };
    Ok(render_scenario(entries, source, &preamble)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
        }
        assert!("nope".parse::<Format>().is_err());
    }
}

#[cfg(test)]
mod reference_tests {
    #[test]
    fn the_reference_log_becomes_a_scenario() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/import/unicorn.log"
        );
        let imported = super::import_file(std::path::Path::new(path), None).expect("imports");
        assert_eq!(imported.format, super::Format::Log);
    }
}
