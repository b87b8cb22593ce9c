//! `appliance email check-dns` against a DNS server the tests start on 127.0.0.1 (a small UDP
//! responder answering from a table, messages encoded with hickory-proto) and the harness's
//! fake SMTP server as the greeter. No test leaves the machine.
//!
//! Over 500 lines on purpose: one file is one test binary that links the whole crate, so a
//! capability's tests stay together with the helpers they share instead of being split into
//! binaries that each pay the link.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{TempDir, WAIT, closed_port};
use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, CNAME, MX};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use smtp_harness::{FakeSmtpServer, ServerScenario};
use tokio::net::UdpSocket;

const H: &str = "appliance.example.test";

/// A zone: owner names (lower case, no trailing dot; `*.` for a wildcard) and their data.
#[derive(Clone, Default)]
struct Zone(Vec<(String, RData)>);

impl Zone {
    fn a(mut self, owner: &str, ip: [u8; 4]) -> Self {
        self.0.push((owner.into(), RData::A(A(Ipv4Addr::from(ip)))));
        self
    }

    fn mx(mut self, owner: &str, preference: u16, exchange: &str) -> Self {
        let exchange = if exchange.is_empty() {
            Name::root()
        } else {
            Name::from_ascii(format!("{exchange}.")).unwrap()
        };
        self.0
            .push((owner.into(), RData::MX(MX::new(preference, exchange))));
        self
    }

    fn cname(mut self, owner: &str, target: &str) -> Self {
        let target = Name::from_ascii(format!("{target}.")).unwrap();
        self.0.push((owner.into(), RData::CNAME(CNAME(target))));
        self
    }

    /// The full zone of a correct setup.
    fn good() -> Self {
        Zone::default()
            .a(H, [127, 0, 0, 1])
            .a(&format!("reply.{H}"), [127, 0, 0, 1])
            .mx(&format!("reply.{H}"), 10, H)
            .mx(&format!("noreply.{H}"), 10, H)
    }

    /// The data of `name`: its own records, or else those of the closest wildcard.
    fn records_of(&self, name: &str) -> Vec<RData> {
        let own: Vec<RData> = self
            .0
            .iter()
            .filter(|(owner, _)| owner == name)
            .map(|(_, d)| d.clone())
            .collect();
        if !own.is_empty() {
            return own;
        }
        let mut parent = name;
        while let Some((_, rest)) = parent.split_once('.') {
            let wildcard = format!("*.{rest}");
            let data: Vec<RData> = self
                .0
                .iter()
                .filter(|(owner, _)| *owner == wildcard)
                .map(|(_, d)| d.clone())
                .collect();
            if !data.is_empty() {
                return data;
            }
            parent = rest;
        }
        Vec::new()
    }

    /// Whether `name` exists (has data, or names below it do).
    fn exists(&self, name: &str) -> bool {
        !self.records_of(name).is_empty()
            || self
                .0
                .iter()
                .any(|(owner, _)| owner.ends_with(&format!(".{name}")))
    }

    /// The answer section and the response code for a query.
    fn answer(&self, qname: &Name, qtype: RecordType) -> (Vec<Record>, ResponseCode) {
        let mut answers = Vec::new();
        let mut name = qname.clone();
        for _ in 0..8 {
            let key = name.to_ascii().trim_end_matches('.').to_ascii_lowercase();
            if !self.exists(&key) {
                let code = if answers.is_empty() {
                    ResponseCode::NXDomain
                } else {
                    ResponseCode::NoError
                };
                return (answers, code);
            }
            let data = self.records_of(&key);
            let matching: Vec<&RData> = data.iter().filter(|d| d.record_type() == qtype).collect();
            if !matching.is_empty() || qtype == RecordType::CNAME {
                answers.extend(
                    matching
                        .into_iter()
                        .map(|d| Record::from_rdata(name.clone(), 60, d.clone())),
                );
                return (answers, ResponseCode::NoError);
            }
            match data.iter().find(|d| matches!(d, RData::CNAME(_))) {
                Some(RData::CNAME(target)) => {
                    answers.push(Record::from_rdata(
                        name.clone(),
                        60,
                        RData::CNAME(target.clone()),
                    ));
                    name = target.0.clone();
                }
                _ => return (answers, ResponseCode::NoError),
            }
        }
        (answers, ResponseCode::NoError)
    }
}

/// The DNS server: answers from its zone until dropped; records the questions it was asked.
struct FakeDns {
    addr: SocketAddr,
    questions: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeDns {
    async fn start(zone: Zone) -> FakeDns {
        FakeDns::start_with(zone, None).await
    }

    /// `fail`: answer every question with this response code instead.
    async fn start_with(zone: Zone, fail: Option<ResponseCode>) -> FakeDns {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
        let addr = socket.local_addr().unwrap();
        let questions = Arc::new(Mutex::new(Vec::new()));
        let asked = questions.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let Some(question) = query.queries.first().cloned() else {
                    continue;
                };
                asked.lock().unwrap().push(format!(
                    "{} {}",
                    question.name(),
                    question.query_type()
                ));
                let (answers, code) = match fail {
                    Some(code) => (Vec::new(), code),
                    None => zone.answer(question.name(), question.query_type()),
                };
                let mut response = Message::response(query.metadata.id, query.metadata.op_code);
                response.metadata.message_type = MessageType::Response;
                response.metadata.authoritative = true;
                response.metadata.recursion_desired = query.metadata.recursion_desired;
                response.metadata.recursion_available = true;
                response.metadata.response_code = code;
                response.add_query(question);
                response.add_answers(answers);
                if let Ok(bytes) = response.to_vec() {
                    let _ = socket.send_to(&bytes, peer).await;
                }
            }
        });
        FakeDns {
            addr,
            questions,
            task,
        }
    }

    fn questions(&self) -> Vec<String> {
        self.questions.lock().unwrap().clone()
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `appliance email check-dns --hostname H --resolver DNS --smtp-port PORT [extra]`.
async fn check_dns(dns: SocketAddr, smtp_port: u16, extra: &[&str]) -> common::Run {
    let dir = TempDir::new("check-dns");
    let data_dir = dir.data_dir();
    let resolver = dns.to_string();
    let port = smtp_port.to_string();
    let mut args = vec![
        "--data-dir",
        data_dir.to_str().unwrap(),
        "email",
        "check-dns",
        "--hostname",
        H,
        "--resolver",
        &resolver,
        "--smtp-port",
        &port,
    ];
    args.extend_from_slice(extra);
    common::appliance(&args).await
}

/// The line of the report that starts with `OK` or `FAIL` and mentions `what`.
fn line<'a>(run: &'a common::Run, what: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no line about {what:?} in:\n{}", run.output()))
}

async fn greeter() -> FakeSmtpServer {
    FakeSmtpServer::start(ServerScenario::accept_all())
        .await
        .expect("the fake SMTP server starts")
}

#[tokio::test]
async fn a_correct_setup_passes_every_check() {
    let dns = FakeDns::start(Zone::good()).await;
    let smtp = greeter().await;
    let run = check_dns(dns.addr, smtp.port(), &[]).await;
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(run.stdout.lines().count(), 4, "{}", run.output());
    assert!(
        run.stdout.lines().all(|l| l.starts_with("OK   ")),
        "{}",
        run.output()
    );
    assert_eq!(
        line(&run, "has an address"),
        format!("OK   reply.{H} has an address: A 127.0.0.1")
    );
    assert_eq!(
        line(&run, &format!("MX of reply.{H}")),
        format!("OK   MX of reply.{H}: MX 10 {H}")
    );
    assert_eq!(
        line(&run, &format!("MX of noreply.{H}")),
        format!("OK   MX of noreply.{H}: MX 10 {H}")
    );
    let smtp_line = line(&run, "port ");
    assert!(
        smtp_line.starts_with(&format!(
            "OK   port {} of {H} (the MX target of reply.{H}): 127.0.0.1:{} answered \"220 ",
            smtp.port(),
            smtp.port()
        )),
        "{smtp_line}"
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    // Fully qualified questions only: no search domain was appended.
    assert!(
        dns.questions()
            .iter()
            .all(|q| q.contains(".example.test. ")),
        "{:?}",
        dns.questions()
    );
}

#[tokio::test]
async fn json_gives_check_ok_found_expected() {
    let dns = FakeDns::start(Zone::good()).await;
    let smtp = greeter().await;
    let run = check_dns(dns.addr, smtp.port(), &["--json"]).await;
    assert_eq!(run.code, 0, "{}", run.output());
    let checks: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("JSON");
    let checks = checks.as_array().expect("an array");
    assert_eq!(checks.len(), 4);
    for c in checks {
        assert_eq!(c["ok"], true, "{c}");
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["check", "expected", "found", "ok"], "{c}");
    }
    assert_eq!(checks[2]["check"], format!("MX of noreply.{H}"));
    assert_eq!(checks[2]["found"], format!("MX 10 {H}"));
    assert_eq!(
        checks[2]["expected"],
        format!("an MX record pointing to {H}")
    );
}

#[tokio::test]
async fn a_missing_mx_for_noreply_fails_that_check_only() {
    let zone = Zone::default()
        .a(H, [127, 0, 0, 1])
        .a(&format!("reply.{H}"), [127, 0, 0, 1])
        .mx(&format!("reply.{H}"), 10, H)
        .a(&format!("noreply.{H}"), [127, 0, 0, 1]);
    let dns = FakeDns::start(zone).await;
    let smtp = greeter().await;
    let run = check_dns(dns.addr, smtp.port(), &[]).await;
    assert_eq!(run.code, 69, "{}", run.output());
    assert_eq!(
        line(&run, &format!("MX of noreply.{H}")),
        format!("FAIL MX of noreply.{H}: none (expected an MX record pointing to {H})")
    );
    assert_eq!(run.stdout.matches("FAIL").count(), 1, "{}", run.output());

    // The name not existing at all says so.
    let zone = Zone::default()
        .a(H, [127, 0, 0, 1])
        .a(&format!("reply.{H}"), [127, 0, 0, 1])
        .mx(&format!("reply.{H}"), 10, H);
    let dns = FakeDns::start(zone).await;
    let run = check_dns(dns.addr, smtp.port(), &[]).await;
    assert_eq!(run.code, 69, "{}", run.output());
    assert_eq!(
        line(&run, &format!("MX of noreply.{H}")),
        format!(
            "FAIL MX of noreply.{H}: none (NXDOMAIN: the name does not exist) \
             (expected an MX record pointing to {H})"
        )
    );
}

#[tokio::test]
async fn an_mx_pointing_elsewhere_fails_and_names_it() {
    let zone = Zone::default()
        .a(H, [127, 0, 0, 1])
        .a(&format!("reply.{H}"), [127, 0, 0, 1])
        .mx(&format!("reply.{H}"), 10, H)
        .mx(&format!("noreply.{H}"), 10, "mail.elsewhere.test");
    let dns = FakeDns::start(zone).await;
    let smtp = greeter().await;
    let run = check_dns(dns.addr, smtp.port(), &[]).await;
    assert_eq!(run.code, 69, "{}", run.output());
    assert_eq!(
        line(&run, &format!("MX of noreply.{H}")),
        format!(
            "FAIL MX of noreply.{H}: MX 10 mail.elsewhere.test \
             (expected an MX record pointing to {H})"
        )
    );
    assert_eq!(run.stdout.matches("FAIL").count(), 1, "{}", run.output());

    // Case does not matter.
    let zone = Zone::default()
        .a(H, [127, 0, 0, 1])
        .a(&format!("reply.{H}"), [127, 0, 0, 1])
        .mx(&format!("reply.{H}"), 10, H)
        .mx(&format!("noreply.{H}"), 10, &H.to_ascii_uppercase());
    let dns = FakeDns::start(zone).await;
    let run = check_dns(dns.addr, smtp.port(), &[]).await;
    assert_eq!(run.code, 0, "{}", run.output());

    // One MX of two pointing elsewhere is a failure too.
    let zone = Zone::good().mx(&format!("noreply.{H}"), 20, "backup.elsewhere.test");
    let dns = FakeDns::start(zone).await;
    let run = check_dns(dns.addr, smtp.port(), &[]).await;
    assert_eq!(run.code, 69, "{}", run.output());
    assert_eq!(
        line(&run, &format!("MX of noreply.{H}")),
        format!(
            "FAIL MX of noreply.{H}: MX 10 {H}, MX 20 backup.elsewhere.test \
             (expected every MX record pointing to {H})"
        )
    );

    // A null MX for reply.H (RFC 7505: no mail accepted) fails check 2; check 4 falls back to H.
    let zone = Zone::default()
        .a(H, [127, 0, 0, 1])
        .a(&format!("reply.{H}"), [127, 0, 0, 1])
        .mx(&format!("reply.{H}"), 0, "")
        .mx(&format!("noreply.{H}"), 10, H);
    let dns = FakeDns::start(zone).await;
    let run = check_dns(dns.addr, smtp.port(), &[]).await;
    assert_eq!(run.code, 69, "{}", run.output());
    assert!(
        line(&run, &format!("MX of reply.{H}")).starts_with(&format!(
            "FAIL MX of reply.{H}: MX 0 . (a null MX: reply.{H} accepts no mail)"
        )),
        "{}",
        run.output()
    );
    assert!(
        line(&run, "port ").starts_with(&format!(
            "OK   port {} of {H} (no usable MX of reply.{H})",
            smtp.port()
        )),
        "{}",
        run.output()
    );
}

#[tokio::test]
async fn reply_missing_fails_with_nxdomain() {
    let zone = Zone::default()
        .a(H, [127, 0, 0, 1])
        .mx(&format!("noreply.{H}"), 10, H);
    let dns = FakeDns::start(zone).await;
    let smtp = greeter().await;
    let run = check_dns(dns.addr, smtp.port(), &[]).await;
    assert_eq!(run.code, 69, "{}", run.output());
    assert_eq!(
        line(&run, "has an address"),
        format!(
            "FAIL reply.{H} has an address: none (NXDOMAIN: the name does not exist) \
             (expected an A or AAAA record, or a CNAME, for reply.{H} (or a wildcard *.{H}))"
        )
    );
    assert!(
        line(&run, &format!("MX of reply.{H}")).starts_with(&format!(
            "FAIL MX of reply.{H}: none (NXDOMAIN: the name does not exist)"
        )),
        "{}",
        run.output()
    );
    // Without an MX for reply.H, the port of H itself is tried, and it answers.
    assert!(
        line(&run, "port ").starts_with(&format!(
            "OK   port {} of {H} (no usable MX of reply.{H}): 127.0.0.1:",
            smtp.port()
        )),
        "{}",
        run.output()
    );
    assert_eq!(run.stdout.matches("FAIL").count(), 2, "{}", run.output());
}

#[tokio::test]
async fn a_wildcard_or_a_cname_counts_as_an_address() {
    let zone = Zone::default()
        .a(H, [127, 0, 0, 1])
        .a(&format!("*.{H}"), [127, 0, 0, 2])
        .mx(&format!("*.{H}"), 10, H);
    let dns = FakeDns::start(zone).await;
    let smtp = greeter().await;
    let run = check_dns(dns.addr, smtp.port(), &[]).await;
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(
        line(&run, "has an address"),
        format!("OK   reply.{H} has an address: A 127.0.0.2")
    );

    let zone = Zone::good();
    let mut zone = Zone(
        zone.0
            .into_iter()
            .filter(|(owner, d)| {
                !(owner == &format!("reply.{H}") && d.record_type() == RecordType::A)
            })
            .collect(),
    );
    zone = zone
        .cname(&format!("reply.{H}"), "front.example.test")
        .a("front.example.test", [127, 0, 0, 3]);
    let dns = FakeDns::start(zone).await;
    let run = check_dns(dns.addr, smtp.port(), &[]).await;
    assert_eq!(
        line(&run, "has an address"),
        format!("OK   reply.{H} has an address: CNAME front.example.test, A 127.0.0.3")
    );
}

#[tokio::test]
async fn a_port_that_does_not_answer_fails_the_last_check_clearly() {
    let dns = FakeDns::start(Zone::good()).await;
    let port = closed_port();
    let run = check_dns(dns.addr, port, &[]).await;
    assert_eq!(run.code, 69, "{}", run.output());
    let smtp_line = line(&run, "port ");
    assert!(
        smtp_line.starts_with(&format!(
            "FAIL port {port} of {H} (the MX target of reply.{H}): 127.0.0.1:{port}: cannot connect: "
        )) && smtp_line.contains("refused")
            && smtp_line.ends_with("(expected an SMTP greeting (220) within 5 s)"),
        "{smtp_line}"
    );
    assert_eq!(run.stdout.matches("FAIL").count(), 1, "{}", run.output());

    // Something that accepts but never greets: bounded by --smtp-timeout-secs.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = Instant::now();
    let run = check_dns(dns.addr, port, &["--smtp-timeout-secs", "1"]).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(run.code, 69, "{}", run.output());
    assert!(
        line(&run, "port ").contains("connected, but no greeting within 1 s"),
        "{}",
        run.output()
    );
    drop(silent);
}

#[tokio::test]
async fn a_resolver_that_does_not_answer_fails_fast() {
    // A socket that takes the queries and never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let closed = closed_port();
    let started = Instant::now();
    let run = check_dns(silent.local_addr().unwrap(), closed, &[]).await;
    let took = started.elapsed();
    assert_eq!(run.code, 69, "{}", run.output());
    assert!(took < Duration::from_secs(4), "took {took:?}");
    let first = line(&run, "has an address");
    assert!(
        first.starts_with(&format!(
            "FAIL reply.{H} has an address: not checked: the DNS server {} did not answer",
            silent.local_addr().unwrap()
        )),
        "{}",
        run.output()
    );
    assert_eq!(run.stdout.matches("FAIL").count(), 4, "{}", run.output());
    assert_eq!(
        run.stdout.matches("did not answer").count(),
        4,
        "{}",
        run.output()
    );
    assert!(
        line(&run, "port ").starts_with(&format!(
            "FAIL port {} of the mail server of reply.{H}: not checked:",
            closed
        )),
        "{}",
        run.output()
    );

    // Nothing at all on the port.
    let port = closed_port_udp();
    let started = Instant::now();
    let run = check_dns(
        SocketAddr::from(([127, 0, 0, 1], port)),
        closed_port(),
        &["--json"],
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(run.code, 69, "{}", run.output());
    let checks: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("JSON");
    for c in checks.as_array().unwrap() {
        assert_eq!(c["ok"], false, "{c}");
        assert!(
            c["found"].as_str().unwrap().contains("did not answer"),
            "{c}"
        );
    }
}

#[tokio::test]
async fn a_multi_line_greeting_passes_and_a_421_fails() {
    let dns = FakeDns::start(Zone::good()).await;
    let banner = common::server(common::inline(
        "S: 220-ml.harness.test ESMTP\nS: 220 second line\n",
    ))
    .await;
    let run = check_dns(dns.addr, banner.port(), &[]).await;
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(
        line(&run, "port ").ends_with(&format!(
            "127.0.0.1:{} answered \"220 second line\"",
            banner.port()
        )),
        "{}",
        run.output()
    );

    let busy = common::server(common::inline(
        "S: 421 4.3.2 busy.harness.test Service not available\nclose\n",
    ))
    .await;
    let run = check_dns(dns.addr, busy.port(), &[]).await;
    assert_eq!(run.code, 69, "{}", run.output());
    assert!(
        line(&run, "port ").contains(&format!(
            "127.0.0.1:{} answered \"421 4.3.2 busy.harness.test Service not available\" \
             (expected an SMTP greeting (220)",
            busy.port()
        )),
        "{}",
        run.output()
    );
}

#[tokio::test]
async fn a_server_failure_is_named() {
    let dns = FakeDns::start_with(Zone::good(), Some(ResponseCode::ServFail)).await;
    let smtp = greeter().await;
    let run = check_dns(dns.addr, smtp.port(), &[]).await;
    assert_eq!(run.code, 69, "{}", run.output());
    assert!(
        line(&run, "has an address").starts_with(&format!(
            "FAIL reply.{H} has an address: lookup failed: the DNS server {} answered ",
            dns.addr
        )),
        "{}",
        run.output()
    );
}

/// A UDP port on which nothing listens.
fn closed_port_udp() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.local_addr().expect("addr").port()
}

#[tokio::test]
async fn bad_input_is_a_configuration_error() {
    let run = common::appliance(&[
        "email",
        "check-dns",
        "--hostname",
        "not a host",
        "--resolver",
        "127.0.0.1:9",
    ])
    .await;
    assert_eq!(run.code, 78, "{}", run.output());
    assert!(
        run.stderr.contains("not a valid host name"),
        "{}",
        run.stderr
    );

    // No --hostname and no settings to take it from.
    let dir = TempDir::new("check-dns-no-settings");
    let data_dir = dir.data_dir();
    let run = common::appliance(&[
        "--data-dir",
        data_dir.to_str().unwrap(),
        "email",
        "check-dns",
        "--resolver",
        "127.0.0.1:9",
    ])
    .await;
    assert_eq!(run.code, 78, "{}", run.output());
    assert!(run.stderr.contains("--hostname"), "{}", run.stderr);

    let run =
        common::appliance(&["email", "check-dns", "--hostname", H, "--resolver", "dns"]).await;
    assert_eq!(run.code, 64, "{}", run.output());
    assert!(run.stderr.contains("not an IP address"), "{}", run.stderr);
}

#[tokio::test]
async fn the_hostname_defaults_to_the_setting() {
    let dns = FakeDns::start(Zone::good()).await;
    let smtp = greeter().await;
    let dir = TempDir::new("check-dns-settings");
    std::fs::create_dir_all(dir.data_dir()).unwrap();
    std::fs::write(dir.active_settings(), format!("hostname = \"{H}\"\n")).unwrap();
    let data_dir = dir.data_dir();
    let resolver = dns.addr.to_string();
    let port = smtp.port().to_string();
    let run = tokio::time::timeout(
        WAIT,
        common::appliance(&[
            "--data-dir",
            data_dir.to_str().unwrap(),
            "email",
            "check-dns",
            "--resolver",
            &resolver,
            "--smtp-port",
            &port,
        ]),
    )
    .await
    .unwrap();
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(
        run.stdout
            .contains(&format!("MX of noreply.{H}: MX 10 {H}"))
    );
}
