//! The senders `smtp-harness run` can drive, each told the same settings in its own words:
//! lettre (in process), curl and swaks (third-party clients, built in), a scenario's own
//! program (`sender command` and its `run` line) and the adapters of the configuration file
//! (the system under test, say; see [`super::adapters`]). A sender reports only whether it
//! thinks it succeeded and what it said; what really happened is read from the server's
//! transcripts.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::adapters::{AdapterError, Adapters, expand};
use crate::scenario::{AuthMechanism, Encryption, SenderKind, SenderSpec};

/// Where the sender must go and what it may use.
#[derive(Clone, Debug)]
pub struct Target {
    /// The fake server's host (an IP literal).
    pub host: String,
    /// Its port.
    pub port: u16,
    /// A PEM file with the CA that signed the server's certificate.
    pub ca: PathBuf,
    /// A private directory for this run (the message file; the adapter's `{work}` inside).
    pub work: PathBuf,
}

/// What a sender said about its attempt.
#[derive(Clone, Debug)]
pub struct SenderReport {
    /// It believes the message went out.
    pub succeeded: bool,
    /// What it printed (or its error), for the report.
    pub said: String,
}

/// Why a sender could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    /// The sender cannot do what the scenario asks (e.g. lettre and CRAM-MD5).
    #[error("{sender} cannot {what}")]
    Unsupported {
        /// The sender.
        sender: SenderKind,
        /// What it cannot do.
        what: String,
    },
    /// The program could not be started.
    #[error(
        "cannot run {program}: {source} (scripts/setup installs curl and swaks; an adapter's program is the first word of its `run` in smtp-harness.toml)"
    )]
    Spawn {
        /// The program.
        program: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The work directory could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The scenario's `command` sender has no `run` line.
    #[error("the `command` sender needs a `run` line in the sender block")]
    NoCommand,
    /// The sender is an adapter the configuration does not declare.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

/// The message every sender sends (fixed, so transcripts repeat).
pub fn message_text(spec: &SenderSpec) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: smtp-harness run\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n\
         Message-ID: <run@smtp-harness.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         A message sent by smtp-harness run.\r\n.A line that starts with a dot.\r\n",
        from = spec.from,
        to = spec.to.join(", ")
    )
}

/// Runs one sender against the target; `Err` when it cannot be run at all. `at` names the
/// scenario's sender line, for the error about an undeclared adapter.
pub async fn drive(
    kind: SenderKind,
    spec: &SenderSpec,
    target: &Target,
    adapters: &Adapters,
    at: &str,
) -> Result<SenderReport, SenderError> {
    let env = adapters.env();
    match kind {
        SenderKind::Lettre => Ok(lettre_send(spec, target).await?),
        SenderKind::Adapter(name) => {
            let argv = adapters
                .sender(name, at)?
                .argv(&contract_values(spec, target)?, &[]);
            run_program(argv, env, spec.timeout).await
        }
        SenderKind::Curl => run_program(curl_command(spec, target)?, env, spec.timeout).await,
        SenderKind::Swaks => run_program(swaks_command(spec, target)?, env, spec.timeout).await,
        SenderKind::Command => {
            let template = spec.command.as_ref().ok_or(SenderError::NoCommand)?;
            let values = contract_values(spec, target)?;
            let argv = template.iter().map(|word| expand(word, &values)).collect();
            run_program(argv, env, spec.timeout).await
        }
    }
}

/// The values of the sender contract's placeholders (the message file is written for them).
fn contract_values(
    spec: &SenderSpec,
    target: &Target,
) -> Result<Vec<(&'static str, String)>, SenderError> {
    let message = message_file(spec, target)?;
    let work = target.work.join("work");
    std::fs::create_dir_all(&work).map_err(|source| SenderError::Io {
        path: work.clone(),
        source,
    })?;
    Ok(vec![
        ("host", target.host.clone()),
        ("port", target.port.to_string()),
        ("ca", target.ca.display().to_string()),
        ("user", spec.user.clone()),
        ("password", spec.password.clone()),
        ("from", spec.from.clone()),
        ("to", spec.to.join(",")),
        ("message", message.display().to_string()),
        ("encryption", spec.encryption.name().to_owned()),
        ("auth", spec.auth.name().to_owned()),
        ("timeout", spec.timeout.as_secs().max(1).to_string()),
        ("trust", spec.trust.name().to_owned()),
        ("work", work.display().to_string()),
    ])
}

fn write(path: &Path, text: &str) -> Result<(), SenderError> {
    std::fs::write(path, text).map_err(|source| SenderError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn message_file(spec: &SenderSpec, target: &Target) -> Result<PathBuf, SenderError> {
    let path = target.work.join("message.eml");
    write(&path, &message_text(spec))?;
    Ok(path)
}

async fn lettre_send(spec: &SenderSpec, target: &Target) -> Result<SenderReport, SenderError> {
    let unsupported = |what: &str| SenderError::Unsupported {
        sender: SenderKind::Lettre,
        what: what.into(),
    };
    let mechanism = match spec.auth {
        AuthMechanism::None => None,
        AuthMechanism::Plain => Some(Mechanism::Plain),
        AuthMechanism::Login => Some(Mechanism::Login),
        AuthMechanism::CramMd5 => return Err(unsupported("authenticate with CRAM-MD5")),
    };
    let ca = std::fs::read(&target.ca).map_err(|source| SenderError::Io {
        path: target.ca.clone(),
        source,
    })?;
    let params = || -> Result<TlsParameters, SenderError> {
        let cert =
            Certificate::from_pem(&ca).map_err(|e| unsupported(&format!("read the CA: {e}")))?;
        TlsParameters::builder("localhost".into())
            .certificate_store(CertificateStore::None)
            .add_root_certificate(cert)
            .build_rustls()
            .map_err(|e| unsupported(&format!("set up TLS: {e}")))
    };
    let tls = match spec.encryption {
        Encryption::None => Tls::None,
        Encryption::StartTls => Tls::Required(params()?),
        Encryption::StartTlsOpportunistic => Tls::Opportunistic(params()?),
        Encryption::Tls => Tls::Wrapper(params()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(target.host.as_str())
        .port(target.port)
        .tls(tls)
        .timeout(Some(spec.timeout))
        .hello_name(ClientId::Domain("client.test".into()));
    if let Some(mechanism) = mechanism {
        builder = builder
            .credentials(Credentials::new(spec.user.clone(), spec.password.clone()))
            .authentication(vec![mechanism]);
    }
    let transport = builder.build();
    let mut message = lettre::Message::builder()
        .from(
            spec.from
                .parse::<Mailbox>()
                .map_err(|e| unsupported(&format!("use the From address: {e}")))?,
        )
        .subject("smtp-harness run")
        .date(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .message_id(Some("<run@smtp-harness.test>".into()));
    for to in &spec.to {
        message = message.to(to
            .parse::<Mailbox>()
            .map_err(|e| unsupported(&format!("use the To address: {e}")))?);
    }
    let message = message
        .body(
            "A message sent by smtp-harness run.\r\n.A line that starts with a dot.\r\n".to_owned(),
        )
        .map_err(|e| unsupported(&format!("build the message: {e}")))?;
    let result = tokio::time::timeout(
        spec.timeout + Duration::from_secs(5),
        transport.send(message),
    )
    .await;
    Ok(match result {
        Ok(Ok(response)) => SenderReport {
            succeeded: true,
            said: format!(
                "{} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            ),
        },
        Ok(Err(e)) => SenderReport {
            succeeded: false,
            said: error_chain(&e),
        },
        Err(_) => SenderReport {
            succeeded: false,
            said: "lettre did not finish in time".into(),
        },
    })
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let more = e.to_string();
        // lettre repeats its source in its own message.
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = e.source();
    }
    text
}

fn curl_command(spec: &SenderSpec, target: &Target) -> Result<Vec<String>, SenderError> {
    let scheme = if spec.encryption == Encryption::Tls {
        "smtps"
    } else {
        "smtp"
    };
    let mut cmd: Vec<String> = vec![
        "curl".into(),
        "--silent".into(),
        "--show-error".into(),
        "--verbose".into(),
        // The path names the EHLO domain (without one curl uses the file name).
        format!("{scheme}://{}:{}/client.test", target.host, target.port),
        "--cacert".into(),
        target.ca.display().to_string(),
        "--connect-timeout".into(),
        spec.timeout.as_secs().max(1).to_string(),
        "--max-time".into(),
        spec.timeout.as_secs().max(1).to_string(),
        "--mail-from".into(),
        spec.from.clone(),
    ];
    match spec.encryption {
        Encryption::StartTls => cmd.push("--ssl-reqd".into()),
        Encryption::StartTlsOpportunistic => cmd.push("--ssl".into()),
        Encryption::None | Encryption::Tls => {}
    }
    for to in &spec.to {
        cmd.push("--mail-rcpt".into());
        cmd.push(to.clone());
    }
    if spec.auth != AuthMechanism::None {
        cmd.push("--user".into());
        cmd.push(format!("{}:{}", spec.user, spec.password));
        cmd.push("--login-options".into());
        cmd.push(format!("AUTH={}", spec.auth.sasl_name()));
    }
    cmd.push("--upload-file".into());
    cmd.push(message_file(spec, target)?.display().to_string());
    Ok(cmd)
}

fn swaks_command(spec: &SenderSpec, target: &Target) -> Result<Vec<String>, SenderError> {
    let mut cmd: Vec<String> = vec![
        "swaks".into(),
        "--server".into(),
        target.host.clone(),
        "--port".into(),
        target.port.to_string(),
        "--helo".into(),
        "client.test".into(),
        "--from".into(),
        spec.from.clone(),
        "--to".into(),
        spec.to.join(","),
        "--timeout".into(),
        format!("{}s", spec.timeout.as_secs().max(1)),
        "--data".into(),
        format!("@{}", message_file(spec, target)?.display()),
    ];
    let tls = match spec.encryption {
        Encryption::None => None,
        Encryption::StartTls => Some("--tls"),
        Encryption::StartTlsOpportunistic => Some("--tls-optional"),
        Encryption::Tls => Some("--tls-on-connect"),
    };
    if let Some(flag) = tls {
        cmd.extend([
            flag.into(),
            "--tls-verify".into(),
            "--tls-ca-path".into(),
            target.ca.display().to_string(),
        ]);
    }
    if spec.auth != AuthMechanism::None {
        cmd.extend([
            "--auth".into(),
            spec.auth.sasl_name().into(),
            "--auth-user".into(),
            spec.user.clone(),
            "--auth-password".into(),
            spec.password.clone(),
        ]);
    }
    Ok(cmd)
}

/// Runs a program with no input, a deadline, and its output captured.
async fn run_program(
    argv: Vec<String>,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<SenderReport, SenderError> {
    let (program, args) = argv.split_first().ok_or(SenderError::NoCommand)?;
    let child = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| SenderError::Spawn {
            program: program.clone(),
            source,
        })?;
    match tokio::time::timeout(timeout + Duration::from_secs(5), child.wait_with_output()).await {
        Ok(Ok(output)) => {
            let mut said = String::from_utf8_lossy(&output.stdout).into_owned();
            said.push_str(&String::from_utf8_lossy(&output.stderr));
            let code = output
                .status
                .code()
                .map_or("a signal".to_owned(), |c| c.to_string());
            said.push_str(&format!("[{program} exited with {code}]\n"));
            Ok(SenderReport {
                succeeded: output.status.success(),
                said,
            })
        }
        Ok(Err(e)) => Ok(SenderReport {
            succeeded: false,
            said: format!("waiting for {program} failed: {e}"),
        }),
        Err(_) => Ok(SenderReport {
            succeeded: false,
            said: format!("{program} did not finish in time (killed)"),
        }),
    }
}
