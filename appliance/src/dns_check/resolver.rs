//! The resolver: set up for one DNS server (or the system's), every lookup bounded and fully
//! qualified, `/etc/hosts` never read; once the server has not answered, the remaining lookups
//! are not sent. And how records are written in the report.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

use super::{CheckDnsError, DNS_ATTEMPTS, DNS_TIMEOUT};

/// What a lookup gave.
pub(super) enum Answer {
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
    pub(super) fn none_text(&self) -> String {
        match self {
            Answer::Records(_) | Answer::NoData => "none".to_owned(),
            Answer::NxDomain => "none (NXDOMAIN: the name does not exist)".to_owned(),
            Answer::Unreachable(why) => format!("not checked: {why}"),
            Answer::Failed(why) => format!("lookup failed: {why}"),
        }
    }
}

/// The resolver, and whether it has already failed to answer.
pub(super) struct Dns {
    resolver: TokioResolver,
    server: String,
    pub(super) unreachable: Option<String>,
}

impl Dns {
    pub(super) fn new(server: Option<SocketAddr>) -> Result<Dns, CheckDnsError> {
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
    pub(super) async fn lookup(&mut self, name: &str, kind: RecordType) -> Answer {
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
    pub(super) async fn addresses(&mut self, name: &str) -> Result<Vec<IpAddr>, Answer> {
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
pub(super) fn plain(name: &Name) -> String {
    let text = name.to_ascii().to_ascii_lowercase();
    text.strip_suffix('.').unwrap_or(&text).to_owned()
}

/// `A 192.0.2.1`, `AAAA 2001:db8::1`, `CNAME x.example.net`, `MX 10 example.com`.
pub(super) fn describe(record: &Record) -> String {
    match &record.data {
        RData::A(a) => format!("A {}", a.0),
        RData::AAAA(aaaa) => format!("AAAA {}", aaaa.0),
        RData::CNAME(cname) => format!("CNAME {}", plain(&cname.0)),
        RData::MX(mx) if mx.exchange.is_root() => format!("MX {} .", mx.preference),
        RData::MX(mx) => format!("MX {} {}", mx.preference, plain(&mx.exchange)),
        other => format!("{} {other}", other.record_type()),
    }
}

pub(super) fn join(records: &[&Record]) -> String {
    records
        .iter()
        .map(|r| describe(r))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_shown_without_the_root_dot_in_lower_case() {
        let name = Name::from_ascii("Appliance.Example.COM.").unwrap();
        assert_eq!(plain(&name), "appliance.example.com");
        assert_eq!(plain(&Name::root()), "");
    }
}
