//! `appliance email check-dns`: are the DNS records inbound mail needs in place, and does the
//! mail port answer?
//!
//! The reference (`email-setup.md`) asks for an A record (or CNAME) for `reply.HOSTNAME` (or a
//! wildcard `*.HOSTNAME`), an MX record routing `reply.HOSTNAME` to the appliance, and an MX
//! record pointing `noreply.HOSTNAME` to `HOSTNAME`; mail servers must then reach port 25. Four
//! checks, each reported on its own line:
//!
//! 1. `reply.HOSTNAME` resolves (A, AAAA or CNAME). A wildcard answers like a record of the
//!    name itself, so it counts and cannot be told apart.
//! 2. `reply.HOSTNAME` has an MX record (its target is named; it should be the appliance).
//! 3. Every MX record of `noreply.HOSTNAME` points to `HOSTNAME` (case-insensitive, a trailing
//!    dot ignored).
//! 4. The SMTP port of the preferred MX target of `reply.HOSTNAME` (of `HOSTNAME` when it has
//!    none) answers with a `220` greeting.
//!
//! Every lookup is bounded (half a second, two tries); once the resolver has not answered,
//! the remaining lookups are not tried (each is reported as not checked), so a dead resolver
//! fails in about a second.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::exit;
use crate::syntax::{self, SyntaxError};

/// How long one DNS query may take before it is tried again.
pub const DNS_TIMEOUT: Duration = Duration::from_millis(500);
/// How many times a DNS query is sent before giving up.
pub const DNS_ATTEMPTS: usize = 2;
/// The default bound on connecting to the SMTP port and reading its greeting.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(5);

/// What to check.
#[derive(Clone, Debug)]
pub struct Options {
    /// The appliance's host name (`reply.` and `noreply.` are prefixed to it).
    pub hostname: String,
    /// The DNS server to ask; `None` for the system's (`/etc/resolv.conf`).
    pub resolver: Option<SocketAddr>,
    /// The port that must answer with an SMTP greeting (25).
    pub smtp_port: u16,
    /// The bound on connecting to that port and on reading the greeting.
    pub smtp_timeout: Duration,
}

impl Options {
    /// The checks of `hostname` through the system's resolver, port 25.
    pub fn new(hostname: impl Into<String>) -> Self {
        Options {
            hostname: hostname.into(),
            resolver: None,
            smtp_port: 25,
            smtp_timeout: SMTP_TIMEOUT,
        }
    }
}

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked, e.g. `MX of noreply.example.com`.
    pub check: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, e.g. `MX 10 example.com` or `none (NXDOMAIN: the name does not exist)`.
    pub found: String,
    /// What is expected.
    pub expected: String,
}

/// The outcome of all checks, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether every check passed.
    pub fn all_ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// One line per check: `OK   WHAT: FOUND`, or `FAIL WHAT: FOUND (expected EXPECTED)`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            if c.ok {
                let _ = writeln!(out, "OK   {}: {}", c.check, c.found);
            } else {
                let _ = writeln!(
                    out,
                    "FAIL {}: {} (expected {})",
                    c.check, c.found, c.expected
                );
            }
        }
        out
    }

    /// A JSON array of `{check, ok, found, expected}`.
    pub fn json(&self) -> String {
        serde_json::to_string(&self.checks).expect("checks serialize")
    }

    /// 0 when every check passed, 69 (EX_UNAVAILABLE) otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.all_ok() {
            exit::OK
        } else {
            exit::UNAVAILABLE
        }
    }
}

/// Why the checks could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckDnsError {
    /// The host name is not one.
    #[error("--hostname {name:?} is {error}")]
    HostName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        error: SyntaxError,
    },
    /// The system's resolver configuration cannot be read.
    #[error("cannot use the system's DNS configuration: {0}")]
    SystemResolver(String),
}

/// Runs the four checks.
///
/// # Errors
/// When the host name is not valid or the system's resolver configuration cannot be read;
/// every failed check is a [`Check`] with `ok: false` instead.
pub async fn run(options: &Options) -> Result<Report, CheckDnsError> {
    let host = options
        .hostname
        .strip_suffix('.')
        .unwrap_or(&options.hostname)
        .to_ascii_lowercase();
    syntax::check_host_name(&host).map_err(|error| CheckDnsError::HostName {
        name: options.hostname.clone(),
        error,
    })?;
    let mut dns = Dns::new(options.resolver)?;
    let reply = format!("reply.{host}");
    let noreply = format!("noreply.{host}");

    let mut checks = vec![check_address(&mut dns, &reply).await];
    let (mx_check, reply_mx) = check_reply_mx(&mut dns, &reply, &host).await;
    checks.push(mx_check);
    checks.push(check_noreply_mx(&mut dns, &noreply, &host).await);
    checks.push(check_smtp(&mut dns, options, &reply, &host, reply_mx).await);
    Ok(Report { checks })
}

/// What a lookup gave.
enum Answer {
    /// The records of the answer section (CNAMEs on the way included).
    Records(Vec<Record>),
    /// The name exists but has no record of the type.
    NoData,
    /// The name does not exist.
    NxDomain,
    /// The resolver did not answer (or this lookup was skipped because it did not before).
    Unreachable(String),
    /// Any other failure (SERVFAIL, REFUSED, a malformed answer).
    Failed(String),
}

impl Answer {
    /// The "found" text of an answer without usable records.
    fn none_text(&self) -> String {
        match self {
            Answer::Records(_) | Answer::NoData => "none".to_owned(),
            Answer::NxDomain => "none (NXDOMAIN: the name does not exist)".to_owned(),
            Answer::Unreachable(why) => format!("not checked: {why}"),
            Answer::Failed(why) => format!("lookup failed: {why}"),
        }
    }
}

/// The resolver, and whether it has already failed to answer.
struct Dns {
    resolver: TokioResolver,
    server: String,
    unreachable: Option<String>,
}

impl Dns {
    fn new(server: Option<SocketAddr>) -> Result<Dns, CheckDnsError> {
        let (builder, description) = match server {
            Some(addr) => {
                let mut connection = ConnectionConfig::udp();
                connection.port = addr.port();
                let ns = NameServerConfig::new(addr.ip(), true, vec![connection]);
                let builder = TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    TokioRuntimeProvider::default(),
                );
                (builder, format!("the DNS server {addr}"))
            }
            None => (
                TokioResolver::builder_tokio()
                    .map_err(|e| CheckDnsError::SystemResolver(e.to_string()))?,
                "the system's DNS resolver".to_owned(),
            ),
        };
        let mut builder = builder;
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.timeout = DNS_TIMEOUT;
        opts.attempts = DNS_ATTEMPTS;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.preserve_intermediates = true;
        let resolver = builder
            .build()
            .map_err(|e| CheckDnsError::SystemResolver(e.to_string()))?;
        Ok(Dns {
            resolver,
            server: description,
            unreachable: None,
        })
    }

    /// Looks `name` up (as a fully qualified name: no search domains).
    async fn lookup(&mut self, name: &str, kind: RecordType) -> Answer {
        if let Some(why) = &self.unreachable {
            return Answer::Unreachable(why.clone());
        }
        let fqdn = match Name::from_ascii(format!("{name}.")) {
            Ok(fqdn) => fqdn,
            Err(e) => return Answer::Failed(format!("{name} is not a DNS name: {e}")),
        };
        match self.resolver.lookup(fqdn, kind).await {
            Ok(lookup) if lookup.answers().is_empty() => Answer::NoData,
            Ok(lookup) => Answer::Records(lookup.answers().to_vec()),
            Err(e) => self.classify(e),
        }
    }

    fn classify(&mut self, e: NetError) -> Answer {
        use hickory_resolver::net::DnsError;
        match e {
            NetError::Dns(DnsError::NoRecordsFound(no)) => match no.response_code {
                ResponseCode::NXDomain => Answer::NxDomain,
                ResponseCode::NoError => Answer::NoData,
                code => Answer::Failed(format!("{} answered {code}", self.server)),
            },
            NetError::Dns(DnsError::ResponseCode(code)) => {
                Answer::Failed(format!("{} answered {code}", self.server))
            }
            NetError::Timeout | NetError::NoConnections | NetError::Busy | NetError::Io(_) => {
                let why = format!(
                    "{} did not answer ({e}; {DNS_ATTEMPTS} tries of {} ms)",
                    self.server,
                    DNS_TIMEOUT.as_millis()
                );
                self.unreachable = Some(why.clone());
                Answer::Unreachable(why)
            }
            other => Answer::Failed(other.to_string()),
        }
    }

    /// The addresses `name` resolves to (A, then AAAA), following CNAMEs.
    async fn addresses(&mut self, name: &str) -> Result<Vec<IpAddr>, Answer> {
        let mut found = Vec::new();
        let mut last = Answer::NoData;
        for kind in [RecordType::A, RecordType::AAAA] {
            match self.lookup(name, kind).await {
                Answer::Records(records) => {
                    found.extend(records.iter().filter_map(|r| r.data.ip_addr()));
                }
                Answer::NoData => {}
                other => {
                    last = other;
                    break;
                }
            }
        }
        if found.is_empty() {
            Err(last)
        } else {
            Ok(found)
        }
    }
}

/// A name as people write it: no trailing dot, lower case.
fn plain(name: &Name) -> String {
    let text = name.to_ascii().to_ascii_lowercase();
    text.strip_suffix('.').unwrap_or(&text).to_owned()
}

/// `A 192.0.2.1`, `AAAA 2001:db8::1`, `CNAME x.example.net`, `MX 10 example.com`.
fn describe(record: &Record) -> String {
    match &record.data {
        RData::A(a) => format!("A {}", a.0),
        RData::AAAA(aaaa) => format!("AAAA {}", aaaa.0),
        RData::CNAME(cname) => format!("CNAME {}", plain(&cname.0)),
        RData::MX(mx) if mx.exchange.is_root() => format!("MX {} .", mx.preference),
        RData::MX(mx) => format!("MX {} {}", mx.preference, plain(&mx.exchange)),
        other => format!("{} {other}", other.record_type()),
    }
}

fn join(records: &[&Record]) -> String {
    records
        .iter()
        .map(|r| describe(r))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Check 1: `reply.HOSTNAME` has an address (A, AAAA) or a CNAME.
async fn check_address(dns: &mut Dns, reply: &str) -> Check {
    let check = format!("{reply} has an address");
    let expected = format!(
        "an A or AAAA record, or a CNAME, for {reply} (or a wildcard *.{})",
        reply.strip_prefix("reply.").unwrap_or(reply)
    );
    let mut found = Vec::new();
    let mut failure = None;
    for kind in [RecordType::A, RecordType::AAAA, RecordType::CNAME] {
        match dns.lookup(reply, kind).await {
            Answer::Records(records) => {
                for r in records {
                    if matches!(r.data, RData::A(_) | RData::AAAA(_) | RData::CNAME(_))
                        && !found.contains(&r)
                    {
                        found.push(r);
                    }
                }
            }
            Answer::NoData => {}
            other => {
                failure = Some(other);
                break;
            }
        }
        if !found.is_empty() {
            // An address (possibly through a CNAME) is enough.
            break;
        }
    }
    if found.is_empty() {
        let answer = failure.unwrap_or(Answer::NoData);
        return Check {
            check,
            ok: false,
            found: answer.none_text(),
            expected,
        };
    }
    let refs: Vec<&Record> = found.iter().collect();
    Check {
        check,
        ok: true,
        found: join(&refs),
        expected,
    }
}

/// The MX records of an answer, preferred first (CNAMEs on the way left out).
fn mx_records(answer: &Answer) -> Vec<&Record> {
    let mut mx: Vec<&Record> = match answer {
        Answer::Records(records) => records
            .iter()
            .filter(|r| matches!(r.data, RData::MX(_)))
            .collect(),
        _ => Vec::new(),
    };
    mx.sort_by_key(|r| match &r.data {
        RData::MX(mx) => mx.preference,
        _ => u16::MAX,
    });
    mx
}

fn exchange(record: &Record) -> Option<String> {
    match &record.data {
        RData::MX(mx) => Some(plain(&mx.exchange)),
        _ => None,
    }
}

/// Check 2: `reply.HOSTNAME` has an MX record. Returns the preferred target too.
async fn check_reply_mx(dns: &mut Dns, reply: &str, host: &str) -> (Check, Option<String>) {
    let check = format!("MX of {reply}");
    let expected = format!("an MX record pointing to this appliance (e.g. {host})");
    let answer = dns.lookup(reply, RecordType::MX).await;
    let mx = mx_records(&answer);
    if mx.is_empty() {
        let found = answer.none_text();
        return (
            Check {
                check,
                ok: false,
                found,
                expected,
            },
            None,
        );
    }
    let target = exchange(mx[0]).unwrap_or_default();
    if target.is_empty() {
        // RFC 7505's null MX (`0 .`): the domain accepts no mail.
        return (
            Check {
                check,
                ok: false,
                found: format!("{} (a null MX: {reply} accepts no mail)", join(&mx)),
                expected,
            },
            None,
        );
    }
    (
        Check {
            check,
            ok: true,
            found: join(&mx),
            expected,
        },
        Some(target),
    )
}

/// Check 3: every MX record of `noreply.HOSTNAME` points to `HOSTNAME`.
async fn check_noreply_mx(dns: &mut Dns, noreply: &str, host: &str) -> Check {
    let check = format!("MX of {noreply}");
    let expected = format!("an MX record pointing to {host}");
    let answer = dns.lookup(noreply, RecordType::MX).await;
    let mx = mx_records(&answer);
    if mx.is_empty() {
        return Check {
            check,
            ok: false,
            found: answer.none_text(),
            expected,
        };
    }
    let ok = mx
        .iter()
        .all(|r| exchange(r).is_some_and(|target| target == host));
    Check {
        check,
        ok,
        found: join(&mx),
        expected: if mx.len() > 1 {
            format!("every MX record pointing to {host}")
        } else {
            expected
        },
    }
}

/// Check 4: the SMTP port of the preferred MX target of `reply.HOSTNAME` (or of `HOSTNAME`)
/// answers with a `220` greeting.
async fn check_smtp(
    dns: &mut Dns,
    options: &Options,
    reply: &str,
    host: &str,
    reply_mx: Option<String>,
) -> Check {
    let port = options.smtp_port;
    if let Some(why) = &dns.unreachable {
        return Check {
            check: format!("port {port} of the mail server of {reply}"),
            ok: false,
            found: format!("not checked: {why}"),
            expected: format!(
                "an SMTP greeting (220) within {} s",
                options.smtp_timeout.as_secs_f64()
            ),
        };
    }
    let (target, why) = match reply_mx {
        Some(target) => (target, format!("the MX target of {reply}")),
        None => (host.to_owned(), format!("no usable MX of {reply}")),
    };
    let check = format!("port {port} of {target} ({why})");
    let expected = format!(
        "an SMTP greeting (220) within {} s",
        options.smtp_timeout.as_secs_f64()
    );
    let addresses = match dns.addresses(&target).await {
        Ok(addresses) => addresses,
        Err(answer) => {
            let found = match answer {
                Answer::Unreachable(_) | Answer::Failed(_) => answer.none_text(),
                _ => format!("{target} has no address: {}", answer.none_text()),
            };
            return Check {
                check,
                ok: false,
                found,
                expected,
            };
        }
    };
    let mut failures = Vec::new();
    for ip in addresses {
        let addr = SocketAddr::new(ip, port);
        match greeting(addr, options.smtp_timeout).await {
            Ok(line) if line.starts_with("220") => {
                return Check {
                    check,
                    ok: true,
                    found: format!("{addr} answered {line:?}"),
                    expected,
                };
            }
            Ok(line) => failures.push(format!("{addr} answered {line:?}")),
            Err(why) => failures.push(format!("{addr}: {why}")),
        }
    }
    Check {
        check,
        ok: false,
        found: failures.join("; "),
        expected,
    }
}

/// Connects to `addr` and reads the greeting (the last line of a multi-line one), then says
/// QUIT.
async fn greeting(addr: SocketAddr, limit: Duration) -> Result<String, String> {
    let stream = match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
        Err(_) => {
            return Err(format!(
                "no connection within {} s (a firewall dropping port {}?)",
                limit.as_secs_f64(),
                addr.port()
            ));
        }
        Ok(Err(e)) => return Err(format!("cannot connect: {e}")),
        Ok(Ok(stream)) => stream,
    };
    let mut reader = BufReader::new(stream);
    let read = async {
        let mut line = String::new();
        loop {
            line.clear();
            let n = (&mut reader)
                .take(1024)
                .read_line(&mut line)
                .await
                .map_err(|e| format!("the connection failed before a greeting: {e}"))?;
            if n == 0 {
                return Err("the connection was closed without a greeting".to_owned());
            }
            let text = line.trim_end_matches(['\r', '\n']).to_owned();
            // `220-…` continues; `220 …` (or anything that is not a continuation) ends it.
            if text.len() < 4 || text.as_bytes()[3] != b'-' {
                return Ok(text);
            }
        }
    };
    let result = match tokio::time::timeout(limit, read).await {
        Err(_) => Err(format!(
            "connected, but no greeting within {} s",
            limit.as_secs_f64()
        )),
        Ok(result) => result,
    };
    if result.is_ok() {
        let mut stream = reader.into_inner();
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            stream.write_all(b"QUIT\r\n").await?;
            stream.shutdown().await
        })
        .await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines_say_what_was_found_and_expected() {
        let report = Report {
            checks: vec![
                Check {
                    check: "reply.h.example has an address".into(),
                    ok: true,
                    found: "A 127.0.0.1".into(),
                    expected: "an A record".into(),
                },
                Check {
                    check: "MX of noreply.h.example".into(),
                    ok: false,
                    found: "none".into(),
                    expected: "an MX record pointing to h.example".into(),
                },
            ],
        };
        assert_eq!(
            report.text(),
            "OK   reply.h.example has an address: A 127.0.0.1\n\
             FAIL MX of noreply.h.example: none (expected an MX record pointing to h.example)\n"
        );
        assert_eq!(report.exit_code(), exit::UNAVAILABLE);
        let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
        assert_eq!(json[1]["ok"], false);
        assert_eq!(json[1]["check"], "MX of noreply.h.example");
        assert_eq!(json[0]["found"], "A 127.0.0.1");
    }

    #[test]
    fn names_are_shown_without_the_root_dot_in_lower_case() {
        let name = Name::from_ascii("Appliance.Example.COM.").unwrap();
        assert_eq!(plain(&name), "appliance.example.com");
        assert_eq!(plain(&Name::root()), "");
    }
}
