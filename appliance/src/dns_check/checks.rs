//! The four checks, in the order they run: `reply.HOSTNAME` has an address, an MX of its own,
//! `noreply.HOSTNAME`'s MX points to `HOSTNAME`, and the mail port answers.

use std::net::SocketAddr;

use hickory_resolver::proto::rr::{RData, Record, RecordType};

use super::report::Check;
use super::resolver::{Answer, Dns, join, plain};
use super::{Options, greeting};

/// Check 1: `reply.HOSTNAME` has an address (A, AAAA) or a CNAME.
pub(super) async fn address(dns: &mut Dns, reply: &str) -> Check {
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
pub(super) async fn reply_mx(dns: &mut Dns, reply: &str, host: &str) -> (Check, Option<String>) {
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
pub(super) async fn noreply_mx(dns: &mut Dns, noreply: &str, host: &str) -> Check {
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
pub(super) async fn smtp(
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
        match greeting::read(addr, options.smtp_timeout).await {
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
