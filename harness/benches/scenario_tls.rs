//! One complete scenario run per iteration, over a new TCP connection each time:
//!
//! - `tls_scenario_run`: `scenarios/outbound/starttls-plain.scn` with EHLO, STARTTLS, a real
//!   TLS handshake (tokio-rustls, the embedded test CA), EHLO, AUTH PLAIN, MAIL, RCPT, DATA with a
//!   1 KiB body and QUIT;
//! - `plain_scenario_run`: the same without TLS and AUTH against `ServerScenario::accept_all()`.
//!
//! The server starts once per benchmark, outside the measured loop; the client reads every reply
//! and then the server's EOF, so an iteration is a whole session. After each benchmark every
//! session record is checked (all expectations met, one message each).
//!
//! `cargo bench -p smtp-harness --bench scenario_tls`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use criterion::{Criterion, criterion_group, criterion_main};
use smtp_harness::{ConversationRecord, Event, FakeSmtpServer, ServerScenario};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;

const SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../scenarios/outbound/starttls-plain.scn"
);

/// A tiny SMTP client: commands out, replies in (a line reader over any stream).
struct Client<S> {
    stream: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    fn new(stream: S) -> Self {
        Client {
            stream,
            buf: Vec::with_capacity(1024),
        }
    }

    /// Reads one reply (every line of it) and returns its code.
    async fn reply(&mut self) -> u16 {
        loop {
            while let Some(lf) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=lf).collect();
                if line.get(3) != Some(&b'-') {
                    let code = std::str::from_utf8(&line[..3])
                        .ok()
                        .and_then(|c| c.parse().ok());
                    return code.unwrap_or_else(|| panic!("not a reply: {line:?}"));
                }
            }
            let n = self.stream.read_buf(&mut self.buf).await.expect("read");
            assert!(
                n > 0,
                "the server closed the connection in the middle of the session"
            );
        }
    }

    /// Sends `bytes` and checks the reply code.
    async fn send(&mut self, bytes: &[u8], expect: u16) {
        self.stream.write_all(bytes).await.expect("write");
        self.stream.flush().await.expect("flush");
        let code = self.reply().await;
        assert_eq!(
            code,
            expect,
            "reply to {:?}",
            String::from_utf8_lossy(bytes)
        );
    }

    /// MAIL, RCPT, DATA with a 1 KiB body, QUIT, then waits for the server's EOF.
    async fn mail_and_quit(mut self) {
        self.send(b"MAIL FROM:<noreply@appliance.test>\r\n", 250)
            .await;
        self.send(b"RCPT TO:<bob@example.com>\r\n", 250).await;
        self.send(b"DATA\r\n", 354).await;
        self.send(&body(), 250).await;
        self.send(b"QUIT\r\n", 221).await;
        // The server closes after 221 (a TLS server with close_notify, or not: either is an end).
        let _ = self.stream.read_buf(&mut self.buf).await;
    }
}

/// A message of exactly 1 KiB (16 lines of 64 octets with CRLF), then the end-of-data line.
fn body() -> Vec<u8> {
    let mut body = Vec::with_capacity(1027);
    body.extend_from_slice(b"Subject: benchmark message, one kibibyte in all, 16 lines long\r\n");
    for i in 0..15u8 {
        let fill = b'a' + i;
        body.extend(std::iter::repeat_n(fill, 62));
        body.extend_from_slice(b"\r\n");
    }
    debug_assert_eq!(body.len(), 1024);
    body.extend_from_slice(b".\r\n");
    body
}

async fn connect(server: std::net::SocketAddr) -> Client<TcpStream> {
    let tcp = TcpStream::connect(server).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let mut client = Client::new(tcp);
    assert_eq!(client.reply().await, 220, "greeting");
    client
}

/// EHLO, STARTTLS, handshake, EHLO, AUTH PLAIN alice/s3cret, then a message.
async fn tls_run(server: std::net::SocketAddr, tls: Arc<ClientConfig>, auth: &[u8]) {
    let mut plain = connect(server).await;
    plain.send(b"EHLO bench.client.test\r\n", 250).await;
    plain.send(b"STARTTLS\r\n", 220).await;
    assert!(plain.buf.is_empty(), "bytes after the 220 to STARTTLS");
    let name = ServerName::try_from("localhost").expect("server name");
    let stream = TlsConnector::from(tls)
        .connect(name, plain.stream)
        .await
        .expect("TLS handshake");
    let mut client = Client::new(stream);
    client.send(b"EHLO bench.client.test\r\n", 250).await;
    client.send(auth, 235).await;
    client.mail_and_quit().await;
}

/// EHLO, then a message, in clear text.
async fn plain_run(server: std::net::SocketAddr) {
    let mut client = connect(server).await;
    client.send(b"EHLO bench.client.test\r\n", 250).await;
    client.mail_and_quit().await;
}

/// A server that counts the sessions it finishes and remembers the first that broke
/// expectations (records are not kept in memory).
struct Counted {
    server: FakeSmtpServer,
    closed: Arc<AtomicUsize>,
    broken: Arc<Mutex<Option<ConversationRecord>>>,
}

impl Counted {
    fn start(rt: &Runtime, scenario: ServerScenario) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<ConversationRecord>();
        let closed = Arc::new(AtomicUsize::new(0));
        let broken = Arc::new(Mutex::new(None));
        let (c, b) = (closed.clone(), broken.clone());
        rt.spawn(async move {
            while let Some(record) = rx.recv().await {
                let events = &record.transcript.events;
                let captured = events
                    .iter()
                    .filter(|e| matches!(e, Event::MessageCaptured { .. }));
                let ok = record.passed() && captured.count() == 1;
                if !ok {
                    b.lock().expect("lock").get_or_insert(record);
                }
                c.fetch_add(1, Ordering::Relaxed);
            }
        });
        let server = rt
            .block_on(
                FakeSmtpServer::builder(scenario)
                    .keep_records(false)
                    .on_session_closed(tx)
                    .verify_on_drop(false)
                    .start(),
            )
            .expect("server starts");
        Counted {
            server,
            closed,
            broken,
        }
    }

    /// Checks that sessions were recorded and that each met its expectations.
    fn check(&self, rt: &Runtime, name: &str) {
        // The record of the last session arrives just after the client saw the server's EOF.
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
        if let Some(record) = self.broken.lock().expect("lock").take() {
            panic!(
                "{name}: a session broke expectations: {:?}\n{}",
                record.failures, record.transcript
            );
        }
        let n = self.closed.load(Ordering::Relaxed);
        assert!(n > 0, "{name}: no session was recorded");
        eprintln!("{name}: {n} sessions, each one message, all expectations met");
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn tls_scenario_run(c: &mut Criterion) {
    let rt = runtime();
    let scenario = ServerScenario::from_file(SCENARIO).expect("scenario");
    let counted = Counted::start(&rt, scenario);
    let addr = counted.server.addr();
    let tls = smtp_harness::tls::client_config_trusting(smtp_harness::certs::embedded_ca_pem())
        .expect("client TLS config");
    let auth = format!("AUTH PLAIN {}\r\n", BASE64.encode("\0alice\0s3cret"));
    c.bench_function("tls_scenario_run", |b| {
        b.to_async(&rt)
            .iter(|| tls_run(addr, tls.clone(), auth.as_bytes()));
    });
    counted.check(&rt, "tls_scenario_run");
}

fn plain_scenario_run(c: &mut Criterion) {
    let rt = runtime();
    let counted = Counted::start(&rt, ServerScenario::accept_all());
    let addr = counted.server.addr();
    c.bench_function("plain_scenario_run", |b| {
        b.to_async(&rt).iter(|| plain_run(addr));
    });
    counted.check(&rt, "plain_scenario_run");
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = benches;
    config = config();
    targets = tls_scenario_run, plain_scenario_run
}
criterion_main!(benches);
