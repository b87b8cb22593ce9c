//! Hints for the administrator: what to check or change after a failed send, chosen from the
//! step, the reply code and the cause.

use super::error::{Cause, CertificateProblem, SendError};
use super::reply::Reply;
use super::step::Step;

const NO_AUTH_ON_PORT: &str = "the server does not offer authentication on this port; choose no authentication or another port";

/// The hint for a failure.
pub(super) fn hint(e: &SendError) -> String {
    match (&e.cause, &e.reply) {
        (Cause::Reply, Some(reply)) => reply_hint(e.step, reply),
        (cause, _) => cause_hint(e.step, cause),
    }
}

fn cause_hint(step: Step, cause: &Cause) -> String {
    match cause {
        Cause::Reply => "the server's answer was not the one expected".into(),
        Cause::Resolve => "the server address does not resolve: check its spelling (email.address) and the appliance's DNS settings".into(),
        Cause::ConnectionRefused => "nothing accepts connections at this address and port: check the server address and port (email.address, email.port), and that a firewall lets the appliance reach the server".into(),
        Cause::Unreachable => "the appliance cannot reach the server: check the address, the network and the firewall".into(),
        Cause::Timeout => match step {
            Step::Connect => "the server did not accept the connection in time: check the address and port, and that a firewall lets the appliance reach the server".into(),
            Step::Greeting => "the server did not send its greeting in time; if the port expects implicit TLS (usually 465) choose encryption tls, otherwise check the address and port, or raise email.timeout_secs".into(),
            _ => "the server did not answer in time; try again later, or raise email.timeout_secs".into(),
        },
        Cause::ConnectionLost => "the server closed the connection unexpectedly; try again later, and check the server's logs if it keeps happening".into(),
        Cause::Malformed => "the server's answer is not SMTP: check that the address and port are those of an SMTP server, and the encryption setting for this port".into(),
        Cause::StartTlsNotOffered => "the server does not support the encryption you chose (STARTTLS); choose another encryption setting or port".into(),
        Cause::AuthNotOffered => NO_AUTH_ON_PORT.into(),
        Cause::MechanismNotOffered { offered } => format!(
            "the server does not offer the authentication you chose; it offers {}: choose one of those",
            offered.join(", ")
        ),
        Cause::ClearTextRefused => "the server offers no encryption; refusing to send the password in clear text: choose a port and encryption with STARTTLS or TLS, or no authentication".into(),
        Cause::Certificate(problem) => certificate_hint(problem),
        Cause::TlsHandshake => "the TLS handshake failed: check the encryption setting for this port (tls is for implicit TLS, usually port 465; starttls for ports 587 and 25)".into(),
        Cause::CaFile => "check email.ca_file: it must be a readable PEM file of CA certificates".into(),
    }
}

fn certificate_hint(problem: &CertificateProblem) -> String {
    match problem {
        CertificateProblem::Expired => "the server's certificate has expired; the server's administrator must renew it".into(),
        CertificateProblem::NotYetValid => "the server's certificate is not valid yet; check the appliance's clock, and the server's certificate".into(),
        CertificateProblem::NameMismatch { presented } if !presented.is_empty() => format!(
            "the server's certificate does not match the server address (it is for {}); use the host name the certificate was issued for as email.address",
            presented.join(", ")
        ),
        CertificateProblem::NameMismatch { .. } => "the server's certificate does not match the server address; use the host name the certificate was issued for as email.address".into(),
        CertificateProblem::UnknownIssuer => "the server's certificate is not signed by an authority the appliance trusts (an unknown issuer, or self-signed); if it is your organisation's own CA or a self-signed certificate, add it (PEM) to email.ca_file".into(),
        CertificateProblem::Revoked => "the server's certificate has been revoked; the server's administrator must replace it".into(),
        CertificateProblem::Other => "the server's certificate cannot be verified; the server's administrator must fix it".into(),
    }
}

fn reply_hint(step: Step, reply: &Reply) -> String {
    let text = reply.text().to_ascii_lowercase();
    match (reply.code, step) {
        (421, Step::Greeting) => "the server is busy or unavailable (421); try again later".into(),
        (421, _) => "the server is closing the session (421, service not available); try again later".into(),
        (554, Step::Greeting) | (550, Step::Greeting) => "the server refuses connections from the appliance; its address may be blocked: ask the server's administrator".into(),
        (_, Step::Greeting) => "the server did not greet the appliance as an SMTP server should; check the address and port".into(),
        (535, _) => "check the user name and password; if the account uses two-factor authentication, use an app password".into(),
        (534, _) => "the account requires an app password (an application-specific password): create one in the mail account's security settings and use it as the password".into(),
        (538, _) => "the server requires encryption for this authentication mechanism; choose encryption starttls or tls".into(),
        (530, _) if !text.contains("tls") && text.contains("auth") => "the server requires authentication before this step; choose an authentication mechanism and set the user name and password".into(),
        (530, _) => "the server requires encryption (STARTTLS) before this step; choose encryption starttls".into(),
        (503, Step::Auth) | (502, Step::Auth) => NO_AUTH_ON_PORT.into(),
        (504, Step::Auth) => "the server does not support the authentication mechanism you chose; choose another one".into(),
        (454, Step::Auth) => "the server could not check the credentials just now (454); try again later".into(),
        (_, Step::Auth) if reply.is_permanent() => "the server refused the authentication; check the user name, password and mechanism".into(),
        (_, Step::StartTls) if reply.is_transient() => "the server cannot start encryption just now; try again later".into(),
        (_, Step::StartTls) => "the server refused STARTTLS; choose another encryption setting or port".into(),
        (552, _) => "the server refused the message size (552): the message is larger than it accepts, or the mailbox is over its quota".into(),
        (452, Step::Rcpt) => "the server has too many recipients or too little storage for now (452); try again later".into(),
        (_, Step::Ehlo) if reply.is_permanent() => "the server refused the name the appliance introduced itself with; set email.domain to a name the server accepts".into(),
        (_, Step::Mail) if reply.is_permanent() => "the server refused the sender address (email.noreply_address); the account may not be allowed to send as this address".into(),
        (_, Step::Rcpt) if reply.is_permanent() => "the server refused the recipient: check the address, and that the server relays mail from this account to it".into(),
        (_, Step::Data) if reply.is_permanent() => "the server rejected the message (for example as spam, or by policy); see its answer, or ask the server's administrator".into(),
        _ if reply.is_transient() => "the server reported a temporary problem; try again later".into(),
        _ if reply.is_permanent() => "the server refused; see its answer".into(),
        _ => "the server's answer was not the one expected at this step".into(),
    }
}
