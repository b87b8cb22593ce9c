//! `appliance email check-dns`: are the DNS records inbound mail needs in place, and does the
//! mail port answer?
//!
//! The requirements (`docs/email-subsystem.md`) ask for an A record (or CNAME) for
//! `reply.HOSTNAME` (or a wildcard `*.HOSTNAME`), an MX record routing `reply.HOSTNAME` to the
//! appliance, and an MX record pointing `noreply.HOSTNAME` to `HOSTNAME`; mail servers must
//! then reach port 25. Four checks, each reported on its own line:
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
//!
//! - `checks`: the four checks;
//! - `resolver`: the resolver set-up, bounded lookups and how answers are written;
//! - `greeting`: the SMTP greeting of check 4;
//! - [`Report`]: the outcome, as text, JSON and an exit code.

mod checks;
mod greeting;
mod report;
mod resolver;

use std::net::SocketAddr;
use std::time::Duration;

pub use report::{Check, Report};

use crate::syntax::{self, SyntaxError};
use resolver::Dns;

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

    let mut checks = vec![checks::address(&mut dns, &reply).await];
    let (mx_check, reply_mx) = checks::reply_mx(&mut dns, &reply, &host).await;
    checks.push(mx_check);
    checks.push(checks::noreply_mx(&mut dns, &noreply, &host).await);
    checks.push(checks::smtp(&mut dns, options, &reply, &host, reply_mx).await);
    Ok(Report { checks })
}
