//! `harness-adapter receive`: the appliance's inbound side for one client scenario of the
//! harness, on the data folder it is given.
//!
//! The receiver block's settings (`--set KEY=VALUE`):
//!
//! | setting | meaning | default |
//! |---|---|---|
//! | `hostname NAME` | reply.NAME and noreply.NAME are its domains | `appliance.test` |
//! | `discard-to-noreply on\|off` | drop mail sent only to noreply.NAME | `on` |
//! | `size OCTETS` | the message size limit | the appliance's |
//! | `notify KIND REPO NUMBER USER ADDRESS` | queue a notification first (KIND: issue, pr, commit) | none |
//! | `token-age DURATION` | date that notification and its token this long ago (`40d`) | now |
//!
//! With `notify` it prints `var reply_to …` (the notification's Reply-To), `var
//! reply_to_tampered …` (the same with one character of the token changed), `var noreply_cc …`
//! (its Cc), `var in_reply_to <…>` (its Message-ID) and `var user_address …`: the whole
//! notification → reply → comment loop is one scenario. The notification is queued in the
//! outbox and read from there; nothing is sent. Then it starts `inbound serve` and `replies
//! process --watch` (children of this process, on the same data folder), prints `listening
//! on ADDR`, and waits for SIGTERM or SIGINT; then it stops the processor and the server
//! (each with SIGTERM, killed after 3 s) and prints what they did ([`super::effects`]).

use std::process::Stdio;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::signal::unix::{SignalKind, signal};

use super::ReceiveArgs;
use crate::datadir::DataDir;
use crate::exit;
use crate::notify::{self, Enqueued, Notification, Reason, Recipient, Thread};
use crate::outbox::{Outbox, State};

/// How long `inbound serve` may take to say where it listens.
const START: Duration = Duration::from_secs(10);
/// How long each child may take to stop after SIGTERM.
const STOP: Duration = Duration::from_secs(3);

/// What the receiver block asks for.
#[derive(Debug, PartialEq, Eq)]
struct ReceiverSettings {
    hostname: String,
    discard_to_noreply: bool,
    size: Option<u64>,
    notify: Option<NotifySettings>,
    token_age: Option<Duration>,
}

/// `notify KIND REPO NUMBER USER ADDRESS`.
#[derive(Debug, PartialEq, Eq)]
struct NotifySettings {
    kind: String,
    repo: String,
    number: String,
    user: String,
    address: String,
}

/// Runs the inbound side until SIGTERM; returns the exit code.
pub(super) fn run(args: &ReceiveArgs) -> anyhow::Result<u8> {
    let settings = match parse_settings(&args.settings) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("appliance harness-adapter: {message}");
            return Ok(exit::USAGE);
        }
    };
    let data_dir = DataDir::new(&args.work);
    let tls = (!args.cert.is_empty() && !args.key.is_empty()).then_some((&args.cert, &args.key));
    let text = settings_file(&settings, tls);
    if let Err(e) = std::fs::write(data_dir.settings_file(), text) {
        eprintln!(
            "appliance harness-adapter: cannot write {}: {e}",
            data_dir.settings_file().display()
        );
        return Ok(exit::IOERR);
    }
    let vars = match &settings.notify {
        Some(notify) => match notification(&data_dir, notify, settings.token_age) {
            Ok(vars) => vars,
            Err(message) => {
                eprintln!("appliance harness-adapter: the notification: {message}");
                return Ok(exit::SOFTWARE);
            }
        },
        None => Vec::new(),
    };
    super::super::runtime()?.block_on(serve(&data_dir, &vars))
}

/// Starts the server and the processor, says where it listens, waits for SIGTERM, stops them
/// and reports.
async fn serve(data_dir: &DataDir, vars: &[(String, String)]) -> anyhow::Result<u8> {
    // Signals are caught before the readiness line, so a SIGTERM sent at once stops it cleanly.
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut server = spawn(data_dir, &["inbound", "serve", "--listen", "127.0.0.1:0"])?;
    let stdout = server.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(START, lines.next_line()).await;
    let addr = match first {
        Ok(Ok(Some(line))) if line.starts_with("listening on ") => line,
        other => {
            eprintln!(
                "appliance harness-adapter: appliance inbound serve did not start listening ({other:?})"
            );
            stop(&mut server).await;
            return Ok(exit::SOFTWARE);
        }
    };
    // Whatever else the server prints is read and dropped.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let mut processor = spawn(data_dir, &["replies", "process", "--watch"])?;
    for (name, value) in vars {
        println!("var {name} {value}");
    }
    println!("{addr}");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    stop(&mut processor).await;
    stop(&mut server).await;
    print!("{}", super::effects::report(data_dir.root()));
    Ok(exit::OK)
}

/// Reads the `--set KEY=VALUE` settings.
fn parse_settings(pairs: &[String]) -> Result<ReceiverSettings, String> {
    let mut settings = ReceiverSettings {
        hostname: "appliance.test".into(),
        discard_to_noreply: true,
        size: None,
        notify: None,
        token_age: None,
    };
    for pair in pairs {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let words: Vec<&str> = value.split_whitespace().collect();
        let bad = |expected: &str| {
            format!("receiver setting `{key}`: expected {expected}, found {value:?}")
        };
        match (key, words.as_slice()) {
            ("hostname", [name]) => settings.hostname = (*name).to_owned(),
            ("hostname", _) => return Err(bad("a host name")),
            ("discard-to-noreply", ["on"]) => settings.discard_to_noreply = true,
            ("discard-to-noreply", ["off"]) => settings.discard_to_noreply = false,
            ("discard-to-noreply", _) => return Err(bad("`on` or `off`")),
            ("size", [n]) => settings.size = Some(n.parse().map_err(|_| bad("a size in octets"))?),
            ("size", _) => return Err(bad("a size in octets")),
            ("token-age", [age]) => {
                settings.token_age =
                    Some(parse_duration(age).ok_or_else(|| bad("a duration such as 40d"))?);
            }
            ("token-age", _) => return Err(bad("a duration such as 40d")),
            ("notify", [kind, repo, number, user, address])
                if matches!(*kind, "issue" | "pr" | "commit") =>
            {
                settings.notify = Some(NotifySettings {
                    kind: (*kind).to_owned(),
                    repo: (*repo).to_owned(),
                    number: (*number).to_owned(),
                    user: (*user).to_owned(),
                    address: (*address).to_owned(),
                });
            }
            ("notify", _) => {
                return Err(bad(
                    "KIND REPO NUMBER USER ADDRESS with KIND issue, pr or commit, as in `notify issue octo/widgets 42 bob bob@example.com`",
                ));
            }
            _ => {
                return Err(format!(
                    "unknown receiver setting `{key}` (the appliance knows hostname, discard-to-noreply, size, notify and token-age)"
                ));
            }
        }
    }
    Ok(settings)
}

/// `40d`, `12h`, `30m`, `90s`, `500ms`.
fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let number: u64 = text[..split].parse().ok()?;
    let seconds = match &text[split..] {
        "ms" => return Some(Duration::from_millis(number)),
        "s" => number,
        "m" => number.checked_mul(60)?,
        "h" => number.checked_mul(3600)?,
        "d" => number.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

/// The appliance's settings for the inbound side. Outbound mail is enabled (a notification
/// needs it) but never sent: its server is never contacted.
fn settings_file(settings: &ReceiverSettings, tls: Option<(&String, &String)>) -> String {
    let host = &settings.hostname;
    let mut text = format!(
        "hostname = {host:?}\n\n[email]\nenabled = true\naddress = \"127.0.0.1\"\nport = 25\n\
         encryption = \"none\"\nauthentication = \"none\"\nnoreply_address = \"noreply@{host}\"\n\
         discard_to_noreply = {}\nsupport = \"https://support.{host}\"\ntimeout_secs = 5\n\n[inbound]\nlisten = \"127.0.0.1:0\"\n",
        settings.discard_to_noreply
    );
    if let Some(size) = settings.size {
        text.push_str(&format!("max_message_size = {size}\n"));
    }
    if let Some((cert, key)) = tls {
        text.push_str(&format!("tls_cert = {cert:?}\ntls_key = {key:?}\n"));
    }
    text
}

/// Queues the notification and returns the variables its message gives the script.
fn notification(
    data_dir: &DataDir,
    notify: &NotifySettings,
    age: Option<Duration>,
) -> Result<Vec<(String, String)>, String> {
    let number = || -> Result<u64, String> {
        notify
            .number
            .parse()
            .map_err(|_| format!("not an issue or pull request number: {:?}", notify.number))
    };
    let thread = match notify.kind.as_str() {
        "issue" => Thread::issue(&notify.repo, number()?),
        "pr" => Thread::pull_request(&notify.repo, number()?),
        _ => Thread::commit(&notify.repo, &notify.number),
    }
    .map_err(|e| e.to_string())?;
    let notification = Notification {
        thread,
        comment_id: 1,
        recipient: Recipient::new(&notify.user, &notify.address).map_err(|e| e.to_string())?,
        author: "Octo Cat".into(),
        title: "A thread for the harness".into(),
        body: "A comment to reply to.".into(),
        reason: Reason::Subscribed,
    };
    let now = SystemTime::now();
    let issued_at = age.map_or(now, |age| {
        let seconds = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_sub(age)
            .as_secs();
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    });
    let queued = match notify::enqueue_dated(data_dir, &notification, now, issued_at) {
        Ok(Enqueued::Queued(q)) => q,
        Ok(Enqueued::EmailDisabled) => return Err("email is disabled".into()),
        Err(e) => return Err(e.to_string()),
    };
    let entry = Outbox::open(data_dir)
        .and_then(|outbox| outbox.read(State::Pending, &queued.id))
        .map_err(|e| format!("cannot read it back from the outbox: {e}"))?;
    let message = mail_parser::MessageParser::default()
        .parse(&entry.message)
        .ok_or("the queued message does not parse")?;
    let mut vars = vec![
        ("reply_to_tampered".to_owned(), tampered(&queued.reply_to)),
        ("reply_to".to_owned(), queued.reply_to.clone()),
    ];
    if let Some(cc) = message
        .cc()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
    {
        vars.push(("noreply_cc".into(), cc.to_owned()));
    }
    vars.push(("in_reply_to".into(), format!("<{}>", queued.message_id)));
    vars.push(("user_address".into(), notify.address.clone()));
    Ok(vars)
}

/// The reply address with one character of its token changed (`reply+abc…` → `reply+bbc…`).
fn tampered(address: &str) -> String {
    let Some(at) = address
        .find('+')
        .map(|i| i + 1)
        .filter(|i| *i < address.len())
    else {
        return address.to_owned();
    };
    let mut bytes = address.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
    String::from_utf8(bytes).unwrap_or_else(|_| address.to_owned())
}

/// Runs this same program on the data folder (`appliance --data-dir DIR ARGS`).
fn spawn(data_dir: &DataDir, args: &[&str]) -> anyhow::Result<Child> {
    let program = std::env::current_exe()?;
    let child = Command::new(&program)
        .arg("--data-dir")
        .arg(data_dir.root())
        .args(args)
        .stdin(Stdio::null())
        .stdout(if args[0] == "inbound" {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot run {} {}: {e}", program.display(), args.join(" ")))?;
    Ok(child)
}

/// Stops a child with SIGTERM, then kills it if it lingers.
async fn stop(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
    }
    if tokio::time::timeout(STOP, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_to_the_appliance_test_host_and_read_every_key() {
        let s = parse_settings(&[]).expect("defaults");
        assert_eq!(s.hostname, "appliance.test");
        assert!(s.discard_to_noreply);

        let s = parse_settings(&[
            "hostname=example.test".into(),
            "discard-to-noreply=off".into(),
            "size=1000".into(),
            "token-age=40d".into(),
            "notify=issue octo/widgets 42 bob bob@example.com".into(),
        ])
        .expect("all settings");
        assert_eq!(s.hostname, "example.test");
        assert!(!s.discard_to_noreply);
        assert_eq!(s.size, Some(1000));
        assert_eq!(s.token_age, Some(Duration::from_secs(40 * 86_400)));
        assert_eq!(s.notify.expect("notify").address, "bob@example.com");
    }

    #[test]
    fn an_unknown_or_malformed_setting_is_refused_with_what_was_expected() {
        let e = parse_settings(&["colour=blue".into()]).expect_err("unknown");
        assert!(e.contains("unknown receiver setting `colour`"), "{e}");
        let e = parse_settings(&["discard-to-noreply=maybe".into()]).expect_err("bad value");
        assert!(e.contains("expected `on` or `off`, found \"maybe\""), "{e}");
        let e = parse_settings(&["notify=issue octo/widgets".into()]).expect_err("short");
        assert!(e.contains("KIND REPO NUMBER USER ADDRESS"), "{e}");
    }

    #[test]
    fn the_tampered_address_differs_in_the_first_character_of_the_token() {
        assert_eq!(
            tampered("reply+abc@reply.example.test"),
            "reply+bbc@reply.example.test"
        );
        assert_eq!(
            tampered("reply+xyz@reply.example.test"),
            "reply+ayz@reply.example.test"
        );
    }
}
