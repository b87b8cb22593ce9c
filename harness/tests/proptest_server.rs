//! Property tests against a real fake server on 127.0.0.1 (one server per test function, one
//! connection per case) and against the scenario parser.
//!
//! Every exchange is checked twice: on the wire (what the client read) and in the session's
//! transcript (what the server says it did). The transcript is walked against the bytes the
//! client sent to check that the server consumed them in order, line by line, skipping only what
//! it must (DATA content, BDAT chunks, clear text behind STARTTLS) and answering every line.
//!
//! Over 500 lines on purpose: one file is one test binary that links the whole crate, so a
//! capability's tests stay together with the helpers they share instead of being split into
//! binaries that each pay the link.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use smtp_harness::reply::{Reply, is_reply_line};
use smtp_harness::scenario::AnyScenarioFile;
use smtp_harness::transcript::{Closer, Event};
use smtp_harness::{AnyScenario, ConversationRecord, FakeSmtpServer, ServerScenario};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

/// The scenarios' idle timeout: a session must end well before it once the client half-closes.
const IDLE: Duration = Duration::from_secs(2);
/// How long the client waits for the server's EOF, per case.
const CLIENT_WAIT: Duration = Duration::from_secs(5);
/// How long the session record may take to appear once the client has read the server's EOF.
const RECORD_WAIT: Duration = Duration::from_secs(1);
const MAX_COMMAND_LINE: usize = 512;

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        max_shrink_time: 30_000,
        ..Config::default()
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn start(rt: &Runtime, scenario_text: &str) -> FakeSmtpServer {
    let scenario = ServerScenario::parse(scenario_text, "<inline>").expect("test scenario parses");
    assert_eq!(scenario.header.idle_timeout, IDLE);
    rt.block_on(
        FakeSmtpServer::builder(scenario)
            .verify_on_drop(false)
            .start(),
    )
    .expect("server starts")
}

/// Runs `cases` cases of `strategy`, each sending its bytes on a new connection.
fn run_property(
    cases: u32,
    scenario_text: &str,
    strategy: impl Strategy<Value = Input>,
    tls: bool,
) {
    let rt = runtime();
    let server = start(&rt, scenario_text);
    let mut runner = TestRunner::new(config(cases));
    let result = runner.run(&strategy, |input| {
        rt.block_on(one_case(&server, &input, tls))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The bytes a client sends, and where it splits them into separate writes.
#[derive(Clone)]
struct Input {
    bytes: Vec<u8>,
    /// Offsets (ascending) where a new write starts, after a short pause.
    cuts: Vec<usize>,
}

impl Input {
    /// All the bytes in one write.
    fn whole(bytes: Vec<u8>) -> Self {
        Input {
            bytes,
            cuts: Vec::new(),
        }
    }

    /// The writes, in order.
    fn pieces(&self) -> Vec<&[u8]> {
        let mut pieces = Vec::new();
        let mut from = 0;
        for &cut in self.cuts.iter().chain([&self.bytes.len()]) {
            pieces.push(&self.bytes[from..cut]);
            from = cut;
        }
        pieces
    }
}

/// Failure reports show the bytes as an escaped string.
impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "b\"{}\" cut at {:?}",
            self.bytes.escape_ascii(),
            self.cuts
        )
    }
}

/// `bytes`, split into writes at up to 5 random places.
fn with_cuts(bytes: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Input> {
    (
        bytes,
        prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    )
        .prop_map(|(bytes, cuts)| {
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
            cuts.sort_unstable();
            cuts.dedup();
            Input { bytes, cuts }
        })
}

fn fail(message: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(message.into())
}

// ----- the client ---------------------------------------------------------------------------

/// What one connection saw from the client's side.
struct Wire {
    /// Everything read until EOF (or a reset).
    received: Vec<u8>,
    /// The read ended with an error (a reset after the server closed with unread input).
    reset: bool,
    /// The client's address, as the server records it.
    peer: String,
}

/// Connects, writes the input (in one write per piece), half-closes, and reads until EOF,
/// concurrently.
async fn converse(addr: SocketAddr, input: &Input) -> Result<Wire, TestCaseError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| fail(format!("connect: {e}")))?;
    stream
        .set_nodelay(true)
        .map_err(|e| fail(format!("nodelay: {e}")))?;
    let peer = stream
        .local_addr()
        .map_err(|e| fail(format!("local_addr: {e}")))?
        .to_string();
    let (mut rd, mut wr) = stream.into_split();
    let write = async move {
        // Errors are expected when the server closes first (QUIT, a failed TLS handshake).
        for (i, piece) in input.pieces().into_iter().enumerate() {
            if i > 0 {
                // Let the server read what came so far: the next piece is a new segment.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            if wr.write_all(piece).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    };
    let read = async move {
        let mut received = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match rd.read(&mut chunk).await {
                Ok(0) => return (received, false),
                Ok(n) => received.extend_from_slice(&chunk[..n]),
                Err(_) => return (received, true),
            }
        }
    };
    let started = Instant::now();
    let ((), (received, reset)) =
        tokio::time::timeout(CLIENT_WAIT, async { tokio::join!(write, read) })
            .await
            .map_err(|_| {
                fail(format!(
                    "the server did not close within {CLIENT_WAIT:?} of the client's half-close"
                ))
            })?;
    prop_assert!(
        started.elapsed() < IDLE,
        "the server took {:?} to close after the client's half-close (idle timeout {IDLE:?})",
        started.elapsed()
    );
    Ok(Wire {
        received,
        reset,
        peer,
    })
}

/// The record of the connection from `peer`, among the records after the first `known` ones
/// (ports are reused, so earlier connections may have had the same address).
async fn record_of(
    server: &FakeSmtpServer,
    peer: &str,
    known: usize,
) -> Result<ConversationRecord, TestCaseError> {
    let deadline = Instant::now() + RECORD_WAIT;
    loop {
        let records = server.sessions();
        let mine = records[known..].iter().find(
            |r| matches!(r.transcript.events.first(), Some(Event::Opened { peer: p }) if p == peer),
        );
        if let Some(record) = mine {
            return Ok(record.clone());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero()
            || server
                .wait_for_sessions(records.len() + 1, left)
                .await
                .is_err()
        {
            return Err(fail(format!(
                "no session record for {peer}: the session task never finished (panic or hang)"
            )));
        }
    }
}

async fn one_case(server: &FakeSmtpServer, input: &Input, tls: bool) -> Result<(), TestCaseError> {
    let known = server.sessions().len();
    let wire = converse(server.addr(), input).await?;
    let input = &input.bytes[..];
    let record = record_of(server, &wire.peer, known).await?;
    let context = || format!("\ntranscript:\n{}", record.transcript);
    let session = Session::from_record(&record).map_err(|e| fail(format!("{e}{}", context())))?;
    check_wire(&wire, &session).map_err(|e| fail(format!("{e}{}", context())))?;
    check_consumption(&session, input).map_err(|e| fail(format!("{e}{}", context())))?;
    check_replies(&session, tls).map_err(|e| fail(format!("{e}{}", context())))?;
    let groups = 1 + session.turns.iter().map(|t| t.groups.len()).sum::<usize>();
    let lines = input.iter().filter(|b| **b == b'\n').count();
    prop_assert!(
        groups <= lines + 1,
        "{groups} replies for {lines} client lines (plus the greeting){}",
        context()
    );
    Ok(())
}

// ----- reply lines --------------------------------------------------------------------------

/// One reply as sent: its code and lines (without CRLF).
#[derive(Clone, Debug)]
struct Group {
    code: u16,
    lines: Vec<String>,
}

/// Checks one reply line (without CRLF) against `^[2-5]\d\d([ -].*)?$`, and that the library's
/// `is_reply_line` agrees.
fn check_reply_line(line: &str) -> Result<(), String> {
    let b = line.as_bytes();
    let ok = b.len() >= 3
        && (b'2'..=b'5').contains(&b[0])
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && (b.len() == 3 || b[3] == b' ' || b[3] == b'-');
    if ok != is_reply_line(line) {
        return Err(format!("is_reply_line({line:?}) says {}", !ok));
    }
    if !ok {
        return Err(format!("malformed reply line {line:?}"));
    }
    Ok(())
}

/// Splits bytes into CRLF-terminated reply lines (no bare CR or LF). A last line without its
/// CRLF is an error unless `partial_ok`.
fn reply_lines(bytes: &[u8], partial_ok: bool) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    let mut rest = bytes;
    while let Some(lf) = rest.iter().position(|b| *b == b'\n') {
        let (line, tail) = rest.split_at(lf + 1);
        rest = tail;
        let body = line
            .strip_suffix(b"\r\n")
            .ok_or_else(|| format!("bare LF in reply line {:?}", String::from_utf8_lossy(line)))?;
        if body.contains(&b'\r') {
            return Err(format!(
                "bare CR in reply line {:?}",
                String::from_utf8_lossy(line)
            ));
        }
        let text =
            std::str::from_utf8(body).map_err(|_| format!("reply line is not UTF-8: {body:?}"))?;
        check_reply_line(text)?;
        lines.push(text.to_owned());
    }
    if !rest.is_empty() && !partial_ok {
        return Err(format!(
            "reply line without CRLF: {:?}",
            String::from_utf8_lossy(rest)
        ));
    }
    Ok(lines)
}

/// Groups checked lines into replies: one code per reply, `code-` on all lines but the last.
/// An unfinished last reply is an error unless `partial_ok`.
fn groups(lines: &[String], partial_ok: bool) -> Result<Vec<Group>, String> {
    let mut out = Vec::new();
    let mut current: Option<Group> = None;
    for line in lines {
        let code: u16 = line[..3]
            .parse()
            .map_err(|_| format!("bad code in {line:?}"))?;
        let group = current.get_or_insert_with(|| Group {
            code,
            lines: Vec::new(),
        });
        if group.code != code {
            return Err(format!(
                "{line:?} inside a {} reply: {:?}",
                group.code, group.lines
            ));
        }
        group.lines.push(line.clone());
        if line.as_bytes().get(3) != Some(&b'-') {
            out.extend(current.take());
        }
    }
    if let Some(open) = current
        && !partial_ok
    {
        return Err(format!("unfinished multi-line reply {:?}", open.lines));
    }
    if !partial_ok {
        let library = Reply::split_lines(lines).map_err(|e| format!("Reply::split_lines: {e}"))?;
        if library.len() != out.len() {
            return Err(format!(
                "Reply::split_lines finds {} replies, not {}",
                library.len(),
                out.len()
            ));
        }
    }
    Ok(out)
}

// ----- the transcript -----------------------------------------------------------------------

/// One client line the server read, and the replies it sent before reading the next one.
#[derive(Debug)]
struct Turn {
    line: Vec<u8>,
    /// An answer to a 334 challenge.
    sasl: bool,
    groups: Vec<Group>,
}

impl Turn {
    /// A line the server cut at the command line limit (it keeps the first 512 octets).
    fn too_long(&self) -> bool {
        !self.line.ends_with(b"\n")
    }

    /// The verb (upper case) and the trimmed arguments, as the session splits a command.
    fn verb_args(&self) -> (String, String) {
        let text = String::from_utf8_lossy(&self.line);
        let trimmed = text.trim_end_matches(['\r', '\n']).trim_start();
        match trimmed.split_once([' ', '\t']) {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_owned()),
            None => (trimmed.to_ascii_uppercase(), String::new()),
        }
    }

    /// The line starts with white space (before the verb).
    fn leading_space(&self) -> bool {
        let text = String::from_utf8_lossy(&self.line);
        let text = text.trim_end_matches(['\r', '\n']);
        text.trim_start().len() != text.len()
    }

    /// The verb of a command line (`None` for SASL answers and cut lines).
    fn verb(&self) -> Option<String> {
        (!self.sasl && !self.too_long()).then(|| self.verb_args().0)
    }

    fn codes(&self) -> Vec<u16> {
        self.groups.iter().map(|g| g.code).collect()
    }

    fn show(&self) -> String {
        format!(
            "{:?} -> {:?}",
            String::from_utf8_lossy(&self.line),
            self.codes()
        )
    }
}

/// A closed session, read from its record.
struct Session {
    greeting: Vec<Group>,
    turns: Vec<Turn>,
    server_bytes: Vec<u8>,
    closed_by: Closer,
    reason: Option<String>,
    tls_failed: bool,
}

impl Session {
    fn from_record(record: &ConversationRecord) -> Result<Session, String> {
        let events = &record.transcript.events;
        let closes = events
            .iter()
            .filter(|e| matches!(e, Event::Closed { .. }))
            .count();
        let Some(Event::Closed { by, reason }) = events.last() else {
            return Err("the transcript does not end with the close".into());
        };
        if closes != 1 {
            return Err(format!("{closes} close events"));
        }
        let mut greeting = Vec::new();
        let mut raw_turns: Vec<(Vec<u8>, bool, Vec<u8>)> = Vec::new();
        let mut server_bytes = Vec::new();
        let mut tls_failed = false;
        for event in events {
            match event {
                Event::Server(bytes) => {
                    server_bytes.extend_from_slice(bytes);
                    match raw_turns.last_mut() {
                        Some(turn) => turn.2.extend_from_slice(bytes),
                        None => greeting.extend_from_slice(bytes),
                    }
                }
                Event::Client { line, secret_from } => {
                    raw_turns.push((line.clone(), *secret_from == Some(0), Vec::new()));
                }
                Event::TlsFailed { .. } => tls_failed = true,
                Event::TlsStarted { .. } => {
                    return Err("a TLS session started with a plain-text client".into());
                }
                _ => {}
            }
        }
        let greeting = groups(&reply_lines(&greeting, false)?, false)?;
        let mut turns = Vec::new();
        for (line, sasl, bytes) in raw_turns {
            if !line.ends_with(b"\n") && line.len() != MAX_COMMAND_LINE {
                return Err(format!(
                    "a cut line of {} octets, not {MAX_COMMAND_LINE}: {line:?}",
                    line.len()
                ));
            }
            let groups = groups(&reply_lines(&bytes, false)?, false)?;
            turns.push(Turn { line, sasl, groups });
        }
        Ok(Session {
            greeting,
            turns,
            server_bytes,
            closed_by: *by,
            reason: reason.clone(),
            tls_failed,
        })
    }

    /// The STARTTLS turn answered 220 (the server then awaited a handshake), if any.
    fn tls_turn(&self) -> Option<usize> {
        self.turns
            .iter()
            .position(|t| t.verb().as_deref() == Some("STARTTLS") && t.codes() == [220])
    }
}

/// What the client read is what the transcript says the server sent (a prefix after a reset),
/// followed at most by a TLS alert after a failed handshake; all of it well-formed replies.
fn check_wire(wire: &Wire, session: &Session) -> Result<(), String> {
    let sent = &session.server_bytes;
    let smtp_len = if wire.received.starts_with(sent) {
        sent.len()
    } else if wire.reset && sent.starts_with(&wire.received) {
        wire.received.len()
    } else {
        let same = wire
            .received
            .iter()
            .zip(sent)
            .take_while(|(a, b)| a == b)
            .count();
        let tail =
            |b: &[u8]| String::from_utf8_lossy(&b[same..(same + 200).min(b.len())]).into_owned();
        return Err(format!(
            "the client read {} octets (reset: {}), the transcript says the server sent {}; \
             they differ from octet {same}: the client read {:?}, the transcript has {:?}",
            wire.received.len(),
            wire.reset,
            sent.len(),
            tail(&wire.received),
            tail(sent)
        ));
    };
    let (smtp, extra) = wire.received.split_at(smtp_len);
    let lines = reply_lines(smtp, wire.reset)?;
    groups(&lines, wire.reset)?;
    if !extra.is_empty() {
        // rustls answers a bad handshake with an alert record: 0x15 0x03 0x0? 0x00 0x02 level desc
        // (cut short by a reset, perhaps).
        let alert = |r: &[u8]| {
            let pattern: [Option<u8>; 5] = [Some(0x15), Some(3), None, Some(0), Some(2)];
            (r.len() == 7 || wire.reset)
                && r.iter()
                    .zip(pattern)
                    .all(|(b, p)| p.is_none_or(|p| *b == p))
        };
        let alerts = extra.chunks(7).all(alert);
        if !session.tls_failed || !alerts {
            return Err(format!("bytes after the last reply: {extra:02x?}"));
        }
    }
    Ok(())
}

/// The first chunk size of a BDAT command, as the session reads it.
/// RFC 3030 section 2: `BDAT chunk-size [SP LAST]`, the size in digits.
fn bdat_size(args: &str) -> Option<usize> {
    let mut words = args.split_ascii_whitespace();
    let size = words.next()?;
    if !size.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest: Vec<&str> = words.collect();
    match rest.as_slice() {
        [] => size.parse().ok(),
        [last] if last.eq_ignore_ascii_case("LAST") => size.parse().ok(),
        _ => None,
    }
}

/// Does the session know the verb of this line (as `smtp_harness::wire::Verb` does)?
fn known_verb(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    let word = text.split_ascii_whitespace().next().unwrap_or("");
    [
        "EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT", "VRFY", "EXPN",
        "HELP", "STARTTLS", "AUTH", "ETRN", "LHLO", "ATRN", "BURL", "TURN",
    ]
    .iter()
    .any(|v| v.eq_ignore_ascii_case(word))
}

/// Where DATA content that starts at `from` ends: just after its `.` line (a `.` CRLF line that
/// begins the content or follows a CRLF).
fn data_end(input: &[u8], from: usize) -> Option<usize> {
    (from..input.len())
        .find(|&p| input[p..].starts_with(b".\r\n") && (p == from || input[..p].ends_with(b"\r\n")))
        .map(|p| p + 3)
}

/// Walks the transcript over the client's bytes: every line the server read comes next in the
/// input, after exactly what the previous turn made it skip; every line is answered; nothing
/// complete is left unread unless the server closed first.
fn check_consumption(session: &Session, input: &[u8]) -> Result<(), String> {
    let mut cursor = 0usize;
    // `false` once a turn leaves the rest of the input unread on purpose.
    let mut reading = true;
    for (i, turn) in session.turns.iter().enumerate() {
        if !reading {
            return Err(format!(
                "turn {i} ({}) after the server stopped reading",
                turn.show()
            ));
        }
        let line = &turn.line;
        if !input[cursor..].starts_with(line) {
            return Err(format!(
                "turn {i}: the server read {:?} but the client's next bytes are {:?}",
                String::from_utf8_lossy(line),
                String::from_utf8_lossy(&input[cursor..(cursor + 80).min(input.len())])
            ));
        }
        cursor = if turn.too_long() {
            // The server reads a cut line to its end.
            match input[cursor..].iter().position(|b| *b == b'\n') {
                Some(lf) => cursor + lf + 1,
                None => return Err(format!("turn {i}: a cut line without its LF in the input")),
            }
        } else {
            cursor + line.len()
        };
        let last = i + 1 == session.turns.len();
        let unanswered_ok = last && session.closed_by == Closer::Client;
        match turn.verb().as_deref() {
            // A size that cannot be read: the server says 521 and reads no further.
            Some("BDAT") if turn.codes() == [521] => reading = false,
            Some("BDAT") if !turn.groups.is_empty() => {
                let (_, args) = turn.verb_args();
                let size = bdat_size(&args).unwrap_or(0);
                if cursor + size > input.len() {
                    return Err(format!(
                        "turn {i}: {} answered before its whole chunk came",
                        turn.show()
                    ));
                }
                cursor += size;
            }
            Some("BDAT") if unanswered_ok => {
                let (_, args) = turn.verb_args();
                let size = bdat_size(&args).unwrap_or(usize::MAX);
                if cursor.saturating_add(size) <= input.len() {
                    return Err(format!(
                        "turn {i}: {} never answered although its chunk came",
                        turn.show()
                    ));
                }
                reading = false;
                continue;
            }
            Some("DATA") if turn.codes().first() == Some(&354) => match data_end(input, cursor) {
                Some(end) if turn.groups.len() == 2 => cursor = end,
                Some(_) => {
                    return Err(format!(
                        "turn {i}: {} has no final reply after its content",
                        turn.show()
                    ));
                }
                None if turn.groups.len() == 1 && unanswered_ok => reading = false,
                None => {
                    return Err(format!(
                        "turn {i}: {} answered content that never ended",
                        turn.show()
                    ));
                }
            },
            Some("STARTTLS") if turn.codes() == [220] => reading = false,
            Some("QUIT") if turn.codes() == [221] => reading = false,
            _ => {}
        }
        if turn.groups.is_empty() {
            return Err(format!("turn {i}: {} was never answered", turn.show()));
        }
        if turn.groups.len() > 1
            && !(turn.verb().as_deref() == Some("DATA") && turn.groups.len() == 2)
        {
            return Err(format!("turn {i}: {} got more than one reply", turn.show()));
        }
    }
    if reading && input[cursor..].contains(&b'\n') {
        return Err(format!(
            "the server never read the complete line(s) {:?}",
            String::from_utf8_lossy(&input[cursor..])
        ));
    }
    Ok(())
}

/// Protocol state as the replies establish it.
#[derive(Default)]
struct Model {
    helo: bool,
    /// The greeting was EHLO (extensions were advertised).
    esmtp: bool,
    /// BDAT was used in this transaction.
    chunking: bool,
    starttls_offered: bool,
    auth_offered: bool,
    chunking_offered: bool,
    authenticated: bool,
    /// `Some(recipients)` inside a mail transaction.
    envelope: Option<usize>,
}

fn offers(group: &Group, keyword: &str) -> bool {
    group.lines.iter().skip(1).any(|l| {
        l.get(4..)
            .and_then(|t| t.split_ascii_whitespace().next())
            .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
    })
}

/// Judges each first reply against RFC 5321 sequencing and the session's documented order
/// (line length, then sequence, then syntax), following the state the replies establish.
fn check_replies(session: &Session, tls: bool) -> Result<(), String> {
    if session.greeting.len() != 1 || session.greeting[0].code != 220 {
        return Err(format!(
            "the greeting is not one 220 reply: {:?}",
            session.greeting
        ));
    }
    let mut m = Model::default();
    let mut challenged = false;
    // After a refused AUTH, a line with no known verb is a SASL payload the client pipelined
    // behind it: a secret, though no 334 asked for it.
    let mut guard = false;
    for (i, turn) in session.turns.iter().enumerate() {
        let last = i + 1 == session.turns.len();
        let guarded = !challenged && guard && !known_verb(&turn.line);
        if turn.sasl != (challenged || guarded) {
            return Err(format!(
                "turn {i}: {} read as a secret: {}, after a 334: {challenged}, after a refused AUTH: {guard}",
                turn.show(),
                turn.sasl
            ));
        }
        if !challenged && known_verb(&turn.line) {
            guard = false;
        }
        let sasl_answer = challenged;
        let Some(first) = turn.groups.first().map(|g| g.code) else {
            continue; // an unfinished BDAT chunk (checked in check_consumption)
        };
        let final_code = turn.groups.last().map_or(first, |g| g.code);
        challenged = final_code == 334;
        let (verb, args) = if sasl_answer {
            (String::new(), String::new())
        } else {
            turn.verb_args()
        };
        if (verb == "AUTH" || sasl_answer) && final_code >= 400 {
            guard = true;
        }
        let allowed: &[u16] = if turn.too_long() {
            &[500]
        } else if sasl_answer {
            &[235, 334, 501, 535]
        } else {
            match verb.as_str() {
                "EHLO" | "HELO" => &[250, 501],
                "MAIL" if !m.helo || m.envelope.is_some() => &[503],
                // 553 5.6.7: a non-ASCII path without SMTPUTF8 (RFC 6531); 555: a parameter
                // the EHLO reply did not advertise.
                "MAIL" => &[250, 501, 552, 553, 555],
                "RCPT" if m.envelope.is_none() || m.chunking => &[503],
                "RCPT" => &[250, 501, 553, 555],
                "DATA" if m.envelope.is_none() || m.chunking => &[503],
                "DATA" if m.envelope == Some(0) => &[554],
                "DATA" => &[354, 501],
                // Postfix: 521 and the connection closes (where the chunk ends is unknown).
                "BDAT" if bdat_size(&args).is_none() => &[521],
                "BDAT" if m.envelope.is_none() => &[503],
                "BDAT" if m.envelope == Some(0) => &[554],
                "BDAT" if !m.chunking_offered => &[502],
                "BDAT" => &[250, 552],
                "AUTH" if !m.helo || m.authenticated || m.envelope.is_some() || !m.auth_offered => {
                    &[503]
                }
                "AUTH" => &[235, 334, 501, 504, 535],
                "STARTTLS" if !args.is_empty() => &[501],
                // Postfix 3.7 starts TLS after HELO or before any greeting too; a list that
                // left STARTTLS out means it is not offered.
                "STARTTLS" if tls && (!m.esmtp || m.starttls_offered) => &[220],
                "STARTTLS" => &[502],
                "RSET" | "NOOP" => &[250, 501],
                "VRFY" => &[252, 501],
                // Postfix 3.7 knows neither HELP nor EXPN.
                "HELP" | "EXPN" => &[500, 501],
                "QUIT" => &[221],
                "ETRN" | "LHLO" | "ATRN" | "BURL" => &[501, 502],
                _ => &[500],
            }
        };
        let mut allowed = allowed.to_vec();
        if turn.leading_space() {
            // The session finds the verb after any leading white space; smtp-proto only after spaces
            // (a tab or CR first gets 500).
            allowed.push(500);
        }
        if !allowed.contains(&first) {
            return Err(format!(
                "turn {i}: {} but expected one of {allowed:?}",
                turn.show()
            ));
        }
        if turn.groups.len() == 2 && !(first == 354 && [250, 500, 552].contains(&final_code)) {
            return Err(format!(
                "turn {i}: {} is not DATA's 354 and final reply",
                turn.show()
            ));
        }
        // The state the replies establish.
        let positive = (200..300).contains(&final_code);
        match verb.as_str() {
            _ if turn.too_long() => {}
            _ if sasl_answer => m.authenticated |= final_code == 235,
            "EHLO" | "HELO" if positive => {
                let ehlo = verb == "EHLO";
                m.helo = true;
                m.esmtp = ehlo;
                m.envelope = None;
                m.chunking = false;
                m.starttls_offered = ehlo && offers(&turn.groups[0], "STARTTLS");
                m.auth_offered = ehlo && offers(&turn.groups[0], "AUTH");
                m.chunking_offered = ehlo && offers(&turn.groups[0], "CHUNKING");
                if m.starttls_offered && !tls {
                    return Err(format!("turn {i}: STARTTLS offered without a certificate"));
                }
            }
            "MAIL" if positive => m.envelope = Some(0),
            "RCPT" if positive => m.envelope = m.envelope.map(|n| n + 1),
            "RSET" if positive => {
                m.envelope = None;
                m.chunking = false;
            }
            "DATA" if first == 354 => m.envelope = None,
            "BDAT"
                if positive
                    && args
                        .split_ascii_whitespace()
                        .nth(1)
                        .is_some_and(|w| w.eq_ignore_ascii_case("LAST")) =>
            {
                m.envelope = None;
                m.chunking = false;
            }
            // RFC 3030: DATA and more RCPTs may not follow a chunk in the transaction.
            "BDAT" if positive => m.chunking = true,
            // A refused chunk fails the transaction.
            "BDAT" => {
                m.envelope = None;
                m.chunking = false;
            }
            "AUTH" => m.authenticated |= final_code == 235,
            "STARTTLS" if first == 220 => {
                if !last {
                    return Err(format!(
                        "turn {i}: commands read after STARTTLS was accepted"
                    ));
                }
                if !session.tls_failed || session.reason.as_deref() != Some("TLS handshake failed")
                {
                    return Err(
                        "plain text after STARTTLS did not end the session as a failed handshake"
                            .into(),
                    );
                }
            }
            "QUIT" if !last || session.closed_by != Closer::Server => {
                return Err(format!("turn {i}: the session went on after QUIT"));
            }
            _ => {}
        }
    }
    let quit = session.turns.last().and_then(Turn::verb).as_deref() == Some("QUIT");
    let tls_turn = session.tls_turn().is_some();
    let bad_bdat = session
        .turns
        .last()
        .is_some_and(|t| t.verb().as_deref() == Some("BDAT") && t.codes() == [521]);
    match (session.closed_by, session.reason.as_deref()) {
        (Closer::Server, None) if quit => {}
        (Closer::Server, Some("BDAT without a chunk size")) if bad_bdat => {}
        (Closer::Client, None) if !quit && !tls_turn => {}
        (Closer::Client, Some("TLS handshake failed")) if tls_turn => {}
        (by, reason) => {
            return Err(format!(
                "closed by {by} ({reason:?}) although the client half-closed"
            ));
        }
    }
    Ok(())
}

// ----- property 1: arbitrary bytes ----------------------------------------------------------

const VERBS: &[&str] = &[
    "EHLO",
    "HELO",
    "MAIL FROM:",
    "RCPT TO:",
    "DATA",
    "BDAT",
    "RSET",
    "NOOP",
    "VRFY",
    "HELP",
    "AUTH",
    "AUTH PLAIN",
    "AUTH LOGIN",
    "STARTTLS",
    "QUIT",
    "ehlo",
    "mail from:",
    "rcpt to:",
    "EXPN",
];

fn arbitrary_input() -> impl Strategy<Value = Vec<u8>> {
    let specials: Vec<Vec<u8>> = [
        &b"\r\n"[..],
        b"\n",
        b"\r",
        b"\0",
        b"\xff\xfe",
        b".\r\n",
        b"\r\n.\r\n",
        b"EHLO client.test\r\n",
        b"MAIL FROM:<a@b.test>\r\n",
        b"RCPT TO:<c@d.test>\r\n",
        b"DATA\r\n",
        b"BDAT 5\r\n",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect();
    let fragment = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..40),
        3 => prop::sample::select(specials),
        3 => (prop::sample::select(VERBS), prop::collection::vec(any::<u8>(), 0..30))
            .prop_map(|(verb, args)| [verb.as_bytes(), b" ", &args, b"\r\n"].concat()),
        1 => (1usize..1500, any::<u8>()).prop_map(|(n, b)| vec![if b == b'\n' { b'x' } else { b }; n]),
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2000),
        prop::collection::vec(fragment, 0..40).prop_map(|f| {
            let mut bytes = f.concat();
            bytes.truncate(2000);
            bytes
        }),
    ]
}

#[test]
fn arbitrary_bytes_get_well_formed_replies_and_a_clean_close() {
    run_property(64, "timeout 2s\n", with_cuts(arbitrary_input()), false);
}

// ----- property 2: EHLO and HELO names -------------------------------------------------------

/// EHLO or HELO with a name of any octets but LF (EHLO's is echoed in the reply), then a
/// command that needs the greeting to have counted.
fn greeting_with_any_name() -> impl Strategy<Value = Vec<u8>> {
    let odd = prop::sample::select(vec![
        &b"\r"[..],
        b"\0",
        b"\x0b",
        b"\x7f",
        b"\xc3\xa9",
        b"\xff",
        b"\t",
    ]);
    let name = prop_oneof![
        prop::collection::vec(any::<u8>(), 1..40),
        ("[a-z]{1,5}", odd, "[a-z]{1,5}")
            .prop_map(|(a, odd, b)| [a.as_bytes(), odd, b.as_bytes()].concat()),
    ];
    let verb = prop::sample::select(vec!["EHLO", "HELO", "ehlo"]);
    (verb, name).prop_map(|(verb, name)| {
        let name: Vec<u8> = name.into_iter().filter(|b| *b != b'\n').collect();
        [
            verb.as_bytes(),
            b" ",
            &name,
            b"\r\nMAIL FROM:<a@b.test>\r\nQUIT\r\n",
        ]
        .concat()
    })
}

#[test]
fn ehlo_and_helo_take_any_name() {
    run_property(
        64,
        "timeout 2s\n",
        greeting_with_any_name().prop_map(Input::whole),
        false,
    );
}

// ----- property 3: pipelined command sequences -----------------------------------------------

#[derive(Clone, Debug)]
enum Cmd {
    Ehlo(String),
    Helo(String),
    Mail { from: String, size: Option<u64> },
    Rcpt(String),
    Data(Vec<String>),
    Bdat { chunk: Vec<u8>, last: bool },
    Rset,
    Noop,
    Vrfy(String),
    Help,
    AuthPlain(String),
    AuthLogin(String, String),
    StartTls,
    Unknown(String),
    Overlong(String),
    Quit,
}

impl Cmd {
    /// The bytes of the command (and what goes with it), with a lower-case verb if `lower`.
    fn render(&self, lower: bool, out: &mut Vec<u8>) {
        let verb = |v: &str| {
            if lower {
                v.to_ascii_lowercase()
            } else {
                v.to_owned()
            }
        };
        let line = match self {
            Cmd::Ehlo(name) => format!("{} {name}\r\n", verb("EHLO")),
            Cmd::Helo(name) => format!("{} {name}\r\n", verb("HELO")),
            Cmd::Mail { from, size } => match size {
                Some(n) => format!("{} FROM:<{from}> SIZE={n}\r\n", verb("MAIL")),
                None => format!("{} FROM:<{from}>\r\n", verb("MAIL")),
            },
            Cmd::Rcpt(to) => format!("{} TO:<{to}>\r\n", verb("RCPT")),
            Cmd::Data(body) => {
                let mut text = format!("{}\r\n", verb("DATA"));
                for line in body {
                    text.push_str(line);
                    text.push_str("\r\n");
                }
                text.push_str(".\r\n");
                text
            }
            Cmd::Bdat { chunk, last } => {
                let tail = if *last { " LAST" } else { "" };
                out.extend_from_slice(
                    format!("{} {}{tail}\r\n", verb("BDAT"), chunk.len()).as_bytes(),
                );
                out.extend_from_slice(chunk);
                return;
            }
            Cmd::Rset => format!("{}\r\n", verb("RSET")),
            Cmd::Noop => format!("{}\r\n", verb("NOOP")),
            Cmd::Vrfy(who) => format!("{} {who}\r\n", verb("VRFY")),
            Cmd::Help => format!("{}\r\n", verb("HELP")),
            Cmd::AuthPlain(b64) => format!("{} PLAIN {b64}\r\n", verb("AUTH")),
            Cmd::AuthLogin(user, pass) => format!("{} LOGIN\r\n{user}\r\n{pass}\r\n", verb("AUTH")),
            Cmd::StartTls => format!("{}\r\n", verb("STARTTLS")),
            Cmd::Unknown(v) => format!("{v} something\r\n"),
            Cmd::Overlong(v) => format!("{} {}\r\n", verb(v), "x".repeat(600)),
            Cmd::Quit => format!("{}\r\n", verb("QUIT")),
        };
        out.extend_from_slice(line.as_bytes());
    }
}

fn domain() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){0,2}",
        Just("[127.0.0.1]".to_owned()),
        Just("client.example.com".to_owned()),
    ]
}

fn address() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ("[a-z0-9.+_-]{1,12}", domain()).prop_map(|(l, d)| format!("{l}@{d}")),
        1 => Just(String::new()),
        1 => "[ -~]{0,20}".prop_filter("no angle bracket", |s| !s.contains(['<', '>'])),
    ]
}

fn b64(text: &str) -> String {
    BASE64.encode(text)
}

fn sasl_line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z0-9]{0,10}".prop_map(|s| b64(&s)),
        1 => Just("*".to_owned()),
        1 => Just("=".to_owned()),
        1 => "[ -~]{0,12}",
    ]
}

fn body_line() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[ -~]{0,60}",
        1 => Just(String::new()),
        1 => "\\.[ -~]{0,10}",
        1 => (1001usize..1100).prop_map(|n| "y".repeat(n)),
        1 => Just(".".to_owned()),
    ]
}

fn command() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        3 => domain().prop_map(Cmd::Ehlo),
        1 => domain().prop_map(Cmd::Helo),
        3 => (address(), prop::option::weighted(0.3, prop_oneof![0u64..20_000_000, Just(u64::MAX)]))
            .prop_map(|(from, size)| Cmd::Mail { from, size }),
        3 => address().prop_map(Cmd::Rcpt),
        2 => prop::collection::vec(body_line(), 0..6).prop_map(Cmd::Data),
        1 => (prop::collection::vec(any::<u8>(), 0..200), any::<bool>())
            .prop_map(|(chunk, last)| Cmd::Bdat { chunk, last }),
        1 => Just(Cmd::Rset),
        1 => Just(Cmd::Noop),
        1 => address().prop_map(Cmd::Vrfy),
        1 => Just(Cmd::Help),
        1 => prop_oneof![
            Just(b64("\0alice\0s3cret")),
            "[a-z]{0,6}".prop_map(|u| b64(&format!("\0{u}\0pw"))),
            sasl_line(),
        ]
        .prop_map(Cmd::AuthPlain),
        1 => (sasl_line(), sasl_line()).prop_map(|(u, p)| Cmd::AuthLogin(u, p)),
        1 => Just(Cmd::StartTls),
        1 => prop::sample::select(vec!["XYZZY", "FOO", "MAILX", "HELLO", "EHLOO", "X-CMD"])
            .prop_map(|v| Cmd::Unknown(v.to_owned())),
        1 => prop::sample::select(vec!["NOOP", "MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>", "EHLO"])
            .prop_map(|v| Cmd::Overlong(v.to_owned())),
        1 => Just(Cmd::Quit),
    ]
}

/// A whole mail transaction: MAIL, RCPTs, then DATA or BDAT chunks.
fn transaction() -> impl Strategy<Value = Vec<Cmd>> {
    let content = prop_oneof![
        prop::collection::vec(body_line(), 0..6).prop_map(|body| vec![Cmd::Data(body)]),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..4).prop_map(
            |chunks| {
                let n = chunks.len();
                let bdat = |(i, chunk)| Cmd::Bdat {
                    chunk,
                    last: i + 1 == n,
                };
                chunks.into_iter().enumerate().map(bdat).collect()
            }
        ),
    ];
    (address(), prop::collection::vec(address(), 1..3), content).prop_map(|(from, to, content)| {
        let mail = Cmd::Mail { from, size: None };
        std::iter::once(mail)
            .chain(to.into_iter().map(Cmd::Rcpt))
            .chain(content)
            .collect()
    })
}

/// Sessions that mostly start properly (EHLO first), then single commands and whole
/// transactions in any order, pipelined in one write.
fn pipelined() -> impl Strategy<Value = Vec<u8>> {
    let item = prop_oneof![
        4 => (command(), prop::bool::weighted(0.2)).prop_map(|(cmd, lower)| vec![(cmd, lower)]),
        1 => (transaction(), prop::bool::weighted(0.1))
            .prop_map(|(cmds, lower)| cmds.into_iter().map(|c| (c, lower)).collect()),
    ];
    (
        prop::bool::weighted(0.8),
        prop::collection::vec(item, 0..12),
    )
        .prop_map(|(ehlo_first, items)| {
            let mut out = Vec::new();
            if ehlo_first {
                Cmd::Ehlo("client.test".into()).render(false, &mut out);
            }
            for (cmd, lower) in items.iter().flatten() {
                cmd.render(*lower, &mut out);
            }
            out
        })
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    run_property(
        64,
        "timeout 2s\n",
        pipelined().prop_map(Input::whole),
        false,
    );
}

#[test]
fn pipelined_commands_with_a_certificate_end_at_a_failed_handshake() {
    run_property(
        64,
        "certificate valid\ntimeout 2s\n",
        pipelined().prop_map(Input::whole),
        true,
    );
}

// ----- property 4: the scenario parser ------------------------------------------------------

/// `AnyScenario::parse` (either role, the persona) and `AnyScenarioFile::parse` (with every
/// case) return, and an error names `<inline>:LINE:` with a line of the input.
fn check_parse(text: &str) -> Result<(), TestCaseError> {
    let persona = AnyScenario::parse(text, "<inline>").err();
    let file = AnyScenarioFile::parse(text, "<inline>").err();
    for error in persona.into_iter().chain(file) {
        check_error_names_a_line(text, &error.to_string())?;
    }
    Ok(())
}

fn check_error_names_a_line(text: &str, shown: &str) -> Result<(), TestCaseError> {
    let rest = shown
        .strip_prefix("<inline>:")
        .ok_or_else(|| fail(format!("error without the origin: {shown:?}")))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let line: usize = digits
        .parse()
        .map_err(|_| fail(format!("error without a line number: {shown:?}")))?;
    prop_assert!(
        rest[digits.len()..].starts_with(':'),
        "no ':' after the line number: {shown:?}"
    );
    let lines = text.lines().count();
    prop_assert!(
        (1..=lines).contains(&line),
        "error names line {line} of a {lines}-line input: {shown:?}\ninput: {text:?}"
    );
    Ok(())
}

fn scenario_fragment() -> impl Strategy<Value = String> {
    let pieces: Vec<&str> = vec![
        "S: 250 ok",
        "S: 220 mx.example.com ESMTP",
        "S: 250-first",
        "S: 250 last",
        "S: 535-5.7.1 a",
        "S: 535 5.7.1 b",
        "S: 99 short",
        "S: 250x",
        "C: *",
        "C: EHLO *",
        "C: \"quoted",
        "when RCPT #2",
        "when AUTH PLAIN user=alice password=s3cret",
        "when AUTH",
        "when MAIL \"FROM:<*>\" tls",
        "when DATA plain",
        "when",
        "    S: 452 x",
        "    S: 250-a",
        "    tls",
        "    close",
        "    pause 10ms",
        "\tS: 250 tab",
        "expect no DATA",
        "expect STARTTLS before AUTH",
        "expect QUIT after 535",
        "expect messages 1",
        "expect AUTH times 99999999999",
        "expect closed by client",
        "expect",
        "tls",
        "close",
        "pause 1s",
        "pause 99999999999999999999m",
        "pause",
        "certificate valid",
        "certificate nonsense",
        "implicit-tls",
        "timeout 0s",
        "timeout 2s",
        "size 100",
        "size -1",
        "name x",
        "hostname h",
        "# comment",
        "",
        "\"",
        "\\",
        "\"é\"",
        "sender appliance lettre curl swaks",
        "sender command",
        "sender",
        "sender bogus",
        "    encryption starttls",
        "    encryption",
        "    auth login",
        "    auth nonsense",
        "    user me@example.com",
        "    password \"it really was\"",
        "    to a@b.test c@d.test",
        "    to",
        "    timeout 5s",
        "    run echo hi",
        "    run",
        "    bogus setting",
        "outcome success",
        "outcome success extra",
        "outcome failure at AUTH 535",
        "outcome failure at",
        "outcome failure 99999",
        "outcome",
        "role client",
        "role server",
        "message m.eml",
        "slow 5ms",
        "receiver appliance",
        "    notify issue octo/widgets 42 bob bob@example.com",
        "    tls on",
        "expect files \"mail/*\" 1",
        "expect line \"logs/mail.log\" \"*sent*\"",
        "default unrecognized",
        "case a",
        "case b",
    ];
    prop_oneof![
        4 => prop::sample::select(pieces).prop_map(str::to_owned),
        1 => "[ -~]{0,20}",
        1 => "\\PC{0,10}",
        1 => prop::sample::select(vec!["    ", "  ", "\t", " "]).prop_flat_map(|indent| {
            "[ -~]{0,15}".prop_map(move |s: String| format!("{indent}{s}"))
        }),
    ]
}

fn scenario_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(scenario_fragment(), 0..12),
        prop::sample::select(vec!["\n", "\r\n"]),
        any::<bool>(),
    )
        .prop_map(|(lines, eol, trailing)| {
            let mut text = lines.join(eol);
            if trailing {
                text.push_str(eol);
            }
            text
        })
}

#[test]
fn scenario_parser_never_panics_and_locates_its_errors() {
    let mut runner = TestRunner::new(config(1024));
    let strategy =
        prop_oneof![1 => any::<String>(), 1 => "(\\PC|\n|\r|\t){0,80}", 4 => scenario_text()];
    if let Err(e) = runner.run(&strategy, |text| check_parse(&text)) {
        panic!("{e}");
    }
}
