//! `smtp-harness import`: a customer's evidence (a conversation log, a support bundle, a
//! client's debug output) turned into a `role server` scenario that replays the server's side.
//!
//! Every input format is first parsed into one common model, an ordered list of [`Entry`]s
//! (a server line, a client line, or "TLS started", each with its input line number); the
//! scenario text is then made from that list by [`render`]:
//!
//! - server lines become `S:` lines, verbatim (multi-line replies byte for byte); a server line
//!   that was cut so badly that it is no reply line any more is repaired (its code taken from its
//!   neighbours) with a comment saying so;
//! - client lines become `C:` globs: the verb is kept, arguments that vary are `*`
//!   (`EHLO*`, `MAIL FROM:<*>*`, `RCPT TO:<*>*`, `AUTH LOGIN*`); AUTH payloads and every line
//!   answering a `334` become `C: *`, so credentials never reach the scenario;
//! - TLS started becomes `tls` (and `certificate valid`).
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

use std::fmt::Write as _;
use std::path::Path;

use crate::reply::is_reply_line;

/// One thing that happened in the imported conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A line the server sent (without CRLF).
    Server(String),
    /// A line the client sent (without CRLF).
    Client(String),
    /// The TLS handshake completed.
    TlsStarted,
}

/// An [`Item`] with the 1-based input line it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line of the input.
    pub line: usize,
    /// What happened.
    pub item: Item,
}

impl Entry {
    fn new(line: usize, item: Item) -> Self {
        Entry { line, item }
    }
}

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

/// The result of an import: the scenario text and what it was made from.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The format that was read.
    pub format: Format,
    /// The conversation, as parsed.
    pub entries: Vec<Entry>,
    /// The scenario text (it passes [`crate::Scenario::parse`]).
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

/// Host name put into a server line whose host name was cut.
const REPAIRED_HOST: &str = "smtp.example";
/// Address put into a server line whose address was cut (`[]`).
const REPAIRED_ADDRESS: &str = "[127.0.0.1]";

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
    let header = Header {
        comments,
        name: format!("Imported from {}", label.replace('\n', " ")),
        client_heading: "What the customer's client did.".to_owned(),
    };
    render_scenario(entries, source, &header)
}

/// What a rendered scenario starts with, and the heading of the expectations it ends with.
#[derive(Clone, Debug)]
pub(crate) struct Header {
    /// Comment lines (without `# `) at the top.
    pub comments: Vec<String>,
    /// The scenario's `name`.
    pub name: String,
    /// The comment above the expectations about the client (without `# `).
    pub client_heading: String,
}

/// Makes the scenario text from the common model, under `header`: the renderer shared by
/// `import` and `record`.
pub(crate) fn render_scenario(
    entries: &[Entry],
    source: &str,
    header: &Header,
) -> Result<String, ImportError> {
    if !entries.iter().any(|e| matches!(e.item, Item::Server(_))) {
        return Err(ImportError::input(
            source,
            "no server line found: there is no conversation to import",
        ));
    }
    let tls = entries.iter().any(|e| e.item == Item::TlsStarted);
    // TLS before the greeting: implicit TLS (port 465), a setting rather than a step.
    let implicit_tls = entries.first().is_some_and(|e| e.item == Item::TlsStarted);
    let entries = if implicit_tls { &entries[1..] } else { entries };
    let mut out = String::new();
    for comment in &header.comments {
        let _ = writeln!(out, "# {comment}");
    }
    let _ = writeln!(out, "name {}", header.name.replace('\n', " "));
    if tls {
        out.push_str("certificate valid\n");
    }
    if implicit_tls {
        out.push_str("implicit-tls\n");
    }
    out.push('\n');

    if matches!(
        entries.first(),
        Some(Entry {
            item: Item::Client(_),
            ..
        })
    ) {
        // Debug output often starts after the greeting (smtplib logs nothing before its first
        // command when the level is set after connecting).
        out.push_str(
            "# added: the input starts after the server's greeting; a scenario starts with one\n",
        );
        let _ = writeln!(out, "S: 220 {REPAIRED_HOST} ESMTP");
    }
    let mut last_code: Option<u16> = None;
    let mut in_sasl = false;
    let mut in_data = false;
    let mut advertised_auth = false;
    let mut starttls_seen = false;
    let mut auth_seen = false;
    let mut auth_before_starttls = false;
    let mut quit_after: Option<u16> = None;
    let mut last_verb = String::new();
    let mut i = 0;
    while i < entries.len() {
        match &entries[i].item {
            Item::TlsStarted => {
                out.push_str("tls\n");
                advertised_auth = false;
                i += 1;
            }
            Item::Client(line) => {
                if in_data {
                    // Message content between 354 and the final dot: the server reads it
                    // itself before the next reply.
                    if line == "." {
                        in_data = false;
                    }
                    i += 1;
                    continue;
                }
                let verb = line
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                last_verb.clone_from(&verb);
                let glob = if in_sasl || last_code == Some(334) {
                    "*".to_owned()
                } else {
                    client_glob(line)
                };
                if verb == "QUIT" && !in_sasl && quit_after.is_none() {
                    quit_after = last_code.filter(|c| *c >= 400);
                }
                if verb == "STARTTLS" && !in_sasl {
                    starttls_seen = true;
                }
                if verb == "AUTH" && !in_sasl {
                    if !auth_seen && !starttls_seen {
                        auth_before_starttls = true;
                    }
                    auth_seen = true;
                    in_sasl = true;
                }
                let _ = writeln!(out, "C: {glob}");
                i += 1;
            }
            Item::Server(_) => {
                // A reply after 354 means the content is over (curl does not show its dot).
                in_data = false;
                // One run of consecutive server lines: one or more replies.
                let start = i;
                while i < entries.len() && matches!(entries[i].item, Item::Server(_)) {
                    i += 1;
                }
                let run: Vec<(usize, &str)> = entries[start..i]
                    .iter()
                    .map(|e| match &e.item {
                        Item::Server(s) => (e.line, s.as_str()),
                        _ => unreachable!("the run holds server lines only"),
                    })
                    .collect();
                let lines = repair_run(&run, source)?;
                // An EHLO list without the AUTH the client then used: add it, so that clients
                // that only use advertised mechanisms take the same path.
                let next_auth = entries[i..]
                    .iter()
                    .find_map(|e| match &e.item {
                        Item::Client(c) => Some(c.as_str()),
                        _ => None,
                    })
                    .filter(|c| {
                        c.split_whitespace()
                            .next()
                            .is_some_and(|v| v.eq_ignore_ascii_case("AUTH"))
                    })
                    .and_then(|c| c.split_whitespace().nth(1))
                    .filter(|m| is_mechanism(m))
                    .map(str::to_ascii_uppercase);
                for (_, l, _) in &lines {
                    if l.len() > 4 && l[4..].to_ascii_uppercase().starts_with("AUTH") {
                        advertised_auth = true;
                    }
                }
                let ehlo_reply = last_verb == "EHLO"
                    && lines.len() > 1
                    && lines.iter().all(|(_, l, _)| l.starts_with("250"));
                let mut added_auth = None;
                if let (true, false, Some(mech)) = (ehlo_reply, advertised_auth, &next_auth) {
                    added_auth = Some(format!("250-AUTH {mech}"));
                }
                let count = lines.len();
                for (k, (line_no, text, repaired)) in lines.iter().enumerate() {
                    if let Some(original) = repaired {
                        let _ = writeln!(
                            out,
                            "# line {line_no} of the input, {}, is no reply line (it was cut): repaired, its code taken from its neighbours",
                            crate::transcript::quote(original.as_bytes())
                        );
                    }
                    if let (true, Some(auth)) = (k + 1 == count, &added_auth) {
                        let _ = writeln!(
                            out,
                            "# added: the client sent AUTH {} although this list did not offer it; clients that only use advertised mechanisms need it",
                            next_auth.as_deref().unwrap_or("")
                        );
                        let _ = writeln!(out, "S: {auth}");
                    }
                    let _ = writeln!(out, "S: {}", crate::scenario::reply_line_text(text));
                }
                let last = &lines[count - 1].1;
                let code: u16 = last[..3].parse().unwrap_or(0);
                last_code = Some(code);
                if in_sasl && code != 334 {
                    in_sasl = false;
                }
                if code == 354 {
                    in_data = true;
                }
            }
        }
    }
    let mut expectations = Vec::new();
    if starttls_seen && auth_seen && !auth_before_starttls {
        expectations.push("expect STARTTLS before AUTH".to_owned());
    }
    if let Some(code) = quit_after {
        expectations.push(format!("expect QUIT after {code}"));
    }
    if !expectations.is_empty() {
        let _ = writeln!(out, "\n# {}", header.client_heading);
        for e in expectations {
            let _ = writeln!(out, "{e}");
        }
    }

    // Positions in this error are the made scenario's, not the input's: say so.
    crate::scenario::parse(&out, "the made scenario").map_err(|e| {
        ImportError::input(
            source,
            format!("the scenario made from it does not load ({e}); please report this input"),
        )
    })?;
    Ok(out)
}

/// A server line after repair: its input line, its text, and the original if it was repaired.
type Repaired<'a> = (usize, String, Option<&'a str>);

/// Repairs the server lines of one run: `(input line, text, Some(original) if repaired)`.
fn repair_run<'a>(
    run: &[(usize, &'a str)],
    source: &str,
) -> Result<Vec<Repaired<'a>>, ImportError> {
    let code_of = |l: &str| -> Option<u16> {
        if is_reply_line(l) {
            l.get(..3).and_then(|c| c.parse().ok())
        } else {
            None
        }
    };
    let mut out = Vec::with_capacity(run.len());
    for (k, &(line_no, text)) in run.iter().enumerate() {
        if is_reply_line(text) {
            out.push((line_no, text.to_owned(), None));
            continue;
        }
        let code = run[k + 1..]
            .iter()
            .find_map(|(_, l)| code_of(l))
            .or_else(|| run[..k].iter().rev().find_map(|(_, l)| code_of(l)))
            .ok_or_else(|| {
                ImportError::line(
                    source,
                    line_no,
                    format!(
                        "a server line that is no reply and has no neighbour to take a code from: {}",
                        crate::transcript::quote(text.as_bytes())
                    ),
                )
            })?;
        let separator = if k + 1 < run.len() { '-' } else { ' ' };
        let mut repaired = text.replace("[]", REPAIRED_ADDRESS);
        if repaired.starts_with(' ') || repaired.is_empty() {
            repaired = format!("{REPAIRED_HOST}{repaired}");
        }
        out.push((
            line_no,
            format!("{code}{separator}{}", repaired.trim_end()),
            Some(text),
        ));
    }
    Ok(out)
}

/// SASL mechanisms kept in `C: AUTH MECH*` (any other word after AUTH may be a payload).
const MECHANISMS: &[&str] = &[
    "PLAIN",
    "LOGIN",
    "CRAM-MD5",
    "DIGEST-MD5",
    "XOAUTH2",
    "XOAUTH",
    "OAUTHBEARER",
    "PLAIN-CLIENTTOKEN",
    "NTLM",
    "GSSAPI",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "EXTERNAL",
    "ANONYMOUS",
];

fn is_mechanism(word: &str) -> bool {
    MECHANISMS.iter().any(|m| m.eq_ignore_ascii_case(word))
}

/// The glob a client line becomes: the verb kept, what varies `*`.
fn client_glob(line: &str) -> String {
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or("").to_ascii_uppercase();
    match verb.as_str() {
        "" => "*".to_owned(),
        "EHLO" | "HELO" | "LHLO" => format!("{verb}*"),
        "MAIL" => "MAIL FROM:<*>*".to_owned(),
        "RCPT" => "RCPT TO:<*>*".to_owned(),
        "AUTH" => match words.next().map(str::to_ascii_uppercase) {
            Some(mech) if is_mechanism(&mech) => format!("AUTH {mech}*"),
            _ => "AUTH*".to_owned(),
        },
        "STARTTLS" | "QUIT" | "RSET" | "DATA" | "NOOP" if words.next().is_none() => verb,
        "STARTTLS" | "QUIT" | "RSET" | "DATA" | "NOOP" | "BDAT" | "VRFY" | "EXPN" | "HELP"
        | "ETRN" | "XCLIENT" | "XFORWARD" | "BURL" | "ATRN" | "TURN" => format!("{verb}*"),
        // Anything else may be a credential (base64 without padding looks like a word).
        _ => "*".to_owned(),
    }
}

/// For formats that log no TLS event: a `220` answering `STARTTLS` is followed by the handshake.
pub(crate) fn infer_tls(entries: Vec<Entry>) -> Vec<Entry> {
    let mut out = Vec::with_capacity(entries.len() + 1);
    let mut after_starttls = false;
    let mut iter = entries.into_iter().peekable();
    while let Some(entry) = iter.next() {
        let line = entry.line;
        let ends_reply = match &entry.item {
            Item::Server(s) => {
                let done = s.as_bytes().get(3) != Some(&b'-');
                after_starttls && done && s.starts_with("220")
            }
            _ => false,
        };
        match &entry.item {
            Item::Client(c) => after_starttls = c.trim().eq_ignore_ascii_case("STARTTLS"),
            Item::TlsStarted => after_starttls = false,
            Item::Server(_) => {}
        }
        out.push(entry);
        if ends_reply
            && !matches!(
                iter.peek(),
                Some(Entry {
                    item: Item::TlsStarted,
                    ..
                })
            )
        {
            out.push(Entry::new(line, Item::TlsStarted));
            after_starttls = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_globs_keep_the_verb_and_hide_what_varies() {
        assert_eq!(client_glob("EHLO"), "EHLO*");
        assert_eq!(client_glob("ehlo host.example"), "EHLO*");
        assert_eq!(
            client_glob("MAIL FROM:<a@b.example> SIZE=12"),
            "MAIL FROM:<*>*"
        );
        assert_eq!(client_glob("RCPT TO:<c@d.example>"), "RCPT TO:<*>*");
        assert_eq!(
            client_glob("AUTH PLAIN AGFsaWNlAHMzY3JldA=="),
            "AUTH PLAIN*"
        );
        assert_eq!(client_glob("STARTTLS"), "STARTTLS");
        assert_eq!(client_glob("[redacted]"), "*");
        assert_eq!(
            client_glob("aXRyZWFsbHl3YXM"),
            "*",
            "unpadded base64 is no verb"
        );
        assert_eq!(client_glob("BDAT 12 LAST"), "BDAT*");
        assert_eq!(
            client_glob("AUTH cHc="),
            "AUTH*",
            "no mechanism: maybe a payload"
        );
    }

    #[test]
    fn a_cut_ehlo_line_is_repaired_with_the_code_of_its_neighbours() {
        let run = [
            (3, " at your service, []"),
            (4, "250-SIZE 35882577"),
            (5, "250 PIPELINING"),
        ];
        let out = repair_run(&run, "x").expect("repairs");
        assert_eq!(out[0].1, "250-smtp.example at your service, [127.0.0.1]");
        assert_eq!(out[0].2, Some(" at your service, []"));
        assert_eq!(out[1].2, None);
    }

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
            "/../tests/fixtures/import/unicorn.log"
        );
        let imported = super::import_file(std::path::Path::new(path), None).expect("imports");
        assert_eq!(imported.format, super::Format::Log);
    }
}
