//! The `appliance` command line: argument parsing and output. The work is done by the library
//! modules; this module only wires them to arguments, standard output and exit codes.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::datadir::{DEFAULT_DATA_DIR, DataDir};
use crate::settings::Settings;
use crate::{email_test, exit};

mod check_dns;
mod commands;
pub mod harness_adapter;
mod inbound;
mod replies;

/// The appliance's email subsystem.
#[derive(Debug, Parser)]
#[command(name = "appliance", version, about)]
pub struct Cli {
    /// The appliance's data directory (settings.toml, logs/unicorn.log).
    #[arg(long, global = true, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The settings file.
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// Outbound email.
    #[command(subcommand)]
    Email(EmailCommand),
    /// Queue a notification about a new comment (sent by `outbox deliver`, or at once with
    /// --send-now).
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// The outbox of notifications: deliver, list, retry.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Inbound email: the SMTP server that receives replies.
    #[command(subcommand)]
    Inbound(InboundCommand),
    /// The reply processor: replies in DATA_DIR/mail/reply/new/ become comments.
    #[command(subcommand)]
    Replies(RepliesCommand),
    /// The comments recorded from replies.
    #[command(subcommand)]
    Comments(CommentsCommand),
    /// The adapter smtp-harness drives the appliance through (send, receive).
    #[command(subcommand)]
    HarnessAdapter(harness_adapter::HarnessAdapterCommand),
    /// Write the support bundle: the logs and the settings, secrets redacted.
    SupportBundle {
        /// The bundle to write (a .tar.gz).
        #[arg(short = 'o', long = "output", value_name = "FILE.tar.gz")]
        output: PathBuf,
    },
}

/// `appliance inbound …`
#[derive(Debug, Subcommand)]
pub enum InboundCommand {
    /// Receive mail for reply.HOSTNAME and noreply.HOSTNAME into DATA_DIR/mail/reply/ (runs
    /// until SIGTERM or SIGINT; the first line on standard output is `listening on ADDR`).
    Serve {
        /// The address to listen on (default: the `inbound.listen` setting, 0.0.0.0:25).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
}

/// `appliance replies …`
#[derive(Debug, Subcommand)]
pub enum RepliesCommand {
    /// Handle every message in DATA_DIR/mail/reply/new/: record good replies as comments and
    /// move each file to incoming-mail/success/ or incoming-mail/failure/.
    Process {
        /// Handle what is there, then exit (the default).
        #[arg(long, conflicts_with = "watch")]
        once: bool,
        /// Keep handling new messages until SIGTERM or SIGINT.
        #[arg(long)]
        watch: bool,
        /// With --watch: how often to look for new messages.
        #[arg(long, value_name = "MS", default_value_t = 200)]
        poll_ms: u64,
        /// Fault injection for tests: wait this long between recording a comment and moving
        /// its file.
        #[arg(long, value_name = "MS", hide = true, default_value_t = 0)]
        debug_move_delay_ms: u64,
    },
}

/// `appliance comments …`
#[derive(Debug, Subcommand)]
pub enum CommentsCommand {
    /// List the recorded comments, oldest first.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `appliance notify …`
#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// A comment on an issue.
    IssueComment {
        /// The issue's number.
        #[arg(long, value_name = "N")]
        number: u64,
        /// What every notification needs.
        #[command(flatten)]
        common: NotifyArgs,
    },
    /// A comment on a pull request.
    PrComment {
        /// The pull request's number.
        #[arg(long, value_name = "N")]
        number: u64,
        /// What every notification needs.
        #[command(flatten)]
        common: NotifyArgs,
    },
    /// A comment on a commit.
    CommitComment {
        /// The commit's SHA (7-40 hex digits).
        #[arg(long, value_name = "SHA")]
        commit: String,
        /// What every notification needs.
        #[command(flatten)]
        common: NotifyArgs,
    },
}

/// What every notification needs.
#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// The repository, OWNER/NAME.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: String,
    /// The comment's id (unique in the thread; it makes the Message-ID).
    #[arg(long, value_name = "ID")]
    pub comment_id: u64,
    /// The recipient's email address (the envelope's RCPT TO).
    #[arg(long, value_name = "ADDRESS")]
    pub to: String,
    /// The recipient's user name (named by the reply token).
    #[arg(long, value_name = "USERNAME")]
    pub to_user: String,
    /// The comment's author, shown in From.
    #[arg(long, value_name = "NAME")]
    pub author: String,
    /// The thread's title; the subject becomes "Re: [OWNER/NAME] TITLE (#N)".
    #[arg(long, alias = "title", value_name = "TITLE")]
    pub subject: String,
    /// A file with the comment's text (plain text; `-` for standard input).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "body",
        required_unless_present = "body"
    )]
    pub body_file: Option<PathBuf>,
    /// The comment's text.
    #[arg(long, value_name = "TEXT")]
    pub body: Option<String>,
    /// Why the user gets it: subscribed, mention, author, comment, assign, review-requested.
    #[arg(long, value_name = "REASON", default_value = "subscribed")]
    pub reason: String,
    /// After queueing, run one delivery pass.
    #[arg(long)]
    pub send_now: bool,
    /// Date the message and its reply token at this time (seconds since 1970) instead of now:
    /// to reproduce a reply to an old notification, such as an expired token.
    #[arg(long, value_name = "UNIX_SECONDS")]
    pub issued_at: Option<u64>,
}

/// `appliance outbox …`
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Send what is due, retrying temporary failures with backoff (runs until stopped, or
    /// --max-time, or one pass with --once).
    Deliver(DeliverArgs),
    /// List the entries by state, with their last error.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Make failed entries pending again (due at once).
    Retry {
        /// The entries' ids.
        #[arg(value_name = "ID", required_unless_present = "all")]
        ids: Vec<String>,
        /// Every failed entry.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
}

/// `appliance outbox deliver` options.
#[derive(Debug, Args)]
pub struct DeliverArgs {
    /// Run one pass, then exit (0 all sent, 75 something deferred, 69 something failed).
    #[arg(long)]
    pub once: bool,
    /// Stop after this many seconds (a send under way is finished first).
    #[arg(long, value_name = "SECONDS")]
    pub max_time: Option<f64>,
    /// The wait after the first failed attempt; it doubles after each further one.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub retry_base_ms: u64,
    /// The longest wait between attempts.
    #[arg(long, value_name = "MS", default_value_t = 3_600_000)]
    pub retry_cap_ms: u64,
    /// Give up after this many attempts.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub max_attempts: u32,
    /// Give up on temporary failures this long after the entry was queued.
    #[arg(long, value_name = "SECONDS", default_value_t = 3 * 86_400)]
    pub max_age_secs: u64,
    /// How often to look for new entries between passes.
    #[arg(long, value_name = "MS", default_value_t = 1_000)]
    pub poll_ms: u64,
    /// Fault injection for tests: wait this long between the server's final 250 and
    /// recording it.
    #[arg(long, value_name = "MS", hide = true, default_value_t = 0)]
    pub debug_record_delay_ms: u64,
}

/// `appliance settings …`
#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Check a settings file and report every bad value (exit 78 if there is one).
    Validate {
        /// The file to check (default: DATA_DIR/settings.toml).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

/// `appliance email …`
#[derive(Debug, Subcommand)]
pub enum EmailCommand {
    /// Send a test email with candidate settings; save them only if it is accepted.
    Test {
        /// The address to send the test email to.
        #[arg(long, value_name = "ADDR")]
        to: String,
        /// The candidate settings (default: the active DATA_DIR/settings.toml).
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check the DNS records inbound mail needs and that the mail port answers.
    ///
    /// Four checks, one line each (OK or FAIL, what was found, what is expected): reply.HOSTNAME
    /// has an address (A, AAAA or CNAME; a wildcard *.HOSTNAME answers the same way, so it
    /// counts and cannot be told apart); reply.HOSTNAME has an MX record; every MX record of
    /// noreply.HOSTNAME points to HOSTNAME; the SMTP port of the preferred MX target of
    /// reply.HOSTNAME (of HOSTNAME when it has none) answers with a 220 greeting. Exit 0 when
    /// all pass, 69 when one fails, 78 for a bad host name or an unusable resolver
    /// configuration.
    CheckDns(CheckDnsArgs),
}

/// `appliance email check-dns` options.
#[derive(Debug, Args)]
pub struct CheckDnsArgs {
    /// The appliance's host name (default: the `hostname` setting of DATA_DIR/settings.toml).
    #[arg(long, value_name = "HOSTNAME")]
    pub hostname: Option<String>,
    /// The DNS server to ask, IP or IP:PORT (default: the system's resolver).
    #[arg(long, value_name = "IP:PORT", value_parser = parse_resolver)]
    pub resolver: Option<std::net::SocketAddr>,
    /// The port that must answer with an SMTP greeting.
    #[arg(long, value_name = "N", default_value_t = 25)]
    pub smtp_port: u16,
    /// How long to wait for the connection and for the greeting.
    #[arg(long, value_name = "SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub smtp_timeout_secs: u64,
    /// Print a JSON array of {check, ok, found, expected} instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `--resolver`: `IP:PORT`, `[IPv6]:PORT`, or a bare IP (port 53).
fn parse_resolver(text: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(addr) = text.parse::<std::net::SocketAddr>() {
        return Ok(addr);
    }
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .map(|ip| std::net::SocketAddr::new(ip, 53))
        .map_err(|_| format!("not an IP address or IP:PORT: {text:?}"))
}

/// Parses the process's arguments and runs the command; returns the exit code.
pub fn main() -> u8 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("appliance: {e:#}");
            exit::SOFTWARE
        }
    }
}

/// Runs a parsed command; returns the exit code.
///
/// # Errors
/// Only for internal failures (the async runtime cannot start); every expected failure is an
/// exit code with its message already printed.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let data_dir = DataDir::new(cli.data_dir);
    match cli.command {
        Command::Settings(SettingsCommand::Validate { file }) => {
            let path = file.unwrap_or_else(|| data_dir.settings_file());
            Ok(match Settings::load(&path) {
                Ok(_) => {
                    println!("{}: the settings are valid", path.display());
                    exit::OK
                }
                Err(e) => {
                    eprintln!("{e}");
                    exit::CONFIG
                }
            })
        }
        Command::Email(EmailCommand::Test { to, settings, json }) => {
            let runtime = runtime()?;
            let report = runtime.block_on(email_test::run(&data_dir, settings.as_deref(), &to));
            if json {
                println!("{}", report.json());
            } else if report.succeeded() {
                print!("{}", report.human());
            } else {
                eprint!("{}", report.human());
            }
            Ok(report.exit_code())
        }
        Command::Email(EmailCommand::CheckDns(args)) => check_dns::run(&data_dir, &args),
        Command::Notify(command) => commands::notify(&data_dir, command),
        Command::Outbox(OutboxCommand::Deliver(args)) => commands::deliver(&data_dir, &args),
        Command::Outbox(OutboxCommand::Status { json }) => commands::status(&data_dir, json),
        Command::Outbox(OutboxCommand::Retry { ids, all }) => commands::retry(&data_dir, &ids, all),
        Command::Inbound(InboundCommand::Serve { listen }) => inbound::serve(&data_dir, listen),
        Command::Replies(RepliesCommand::Process {
            once: _,
            watch,
            poll_ms,
            debug_move_delay_ms,
        }) => replies::process(
            &data_dir,
            watch,
            std::time::Duration::from_millis(poll_ms.max(1)),
            std::time::Duration::from_millis(debug_move_delay_ms),
        ),
        Command::Comments(CommentsCommand::List { json }) => Ok(replies::list(&data_dir, json)),
        Command::SupportBundle { output } => Ok(commands::support_bundle(&data_dir, &output)),
        Command::HarnessAdapter(command) => harness_adapter::run(command),
    }
}

/// A single-threaded tokio runtime for one command.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
