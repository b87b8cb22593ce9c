//! Command-line interface. Exit codes: 0 success; 1 a scenario's expectations were broken,
//! `check` found a broken file or `record` recorded nothing; 2 bad usage, a scenario that cannot be loaded or input `import`
//! cannot read; 3 the environment failed (cannot listen, cannot write a file).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use smtp_harness::certs::{self, CertSource};
use smtp_harness::scenario::ScenarioFile;
use smtp_harness::server::SessionRecord;
use smtp_harness::{FakeSmtpServer, Render, Scenario};

/// A scriptable fake SMTP server and conformance harness.
#[derive(Parser, Debug)]
#[command(name = "smtp-harness", version, about, long_about = None, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 success; 1 expectations broken (serve --once), broken files (check) \
or nothing recorded (record); 2 bad usage, a scenario that cannot be loaded or input import cannot read; 3 cannot listen or write.";

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve a scenario to every connection until SIGINT/SIGTERM (or after one with --once).
    ///
    /// The first line on stdout is `listening on ADDR`. Each connection's transcript is
    /// appended to --transcript when it closes; a one-line verdict per connection goes to stderr.
    Serve(ServeArgs),
    /// Drive real senders through scenarios, each against its own fake server, in parallel.
    ///
    /// Prints one PASS/FAIL/SKIP line per scenario and sender (with a step-by-step account of
    /// each failure), a matrix when several senders ran, and `N passed, N failed, N skipped`.
    Run(RunArgs),
    /// Play a `role client` scenario against an SMTP server, as a remote MTA would.
    ///
    /// Prints the transcript (`->` what the server sent, `<-` what was sent to it) and the
    /// steps or expectations that were not met; exit code 1 if any.
    Send(SendArgs),
    /// Validate scenario files (directories are searched for *.scn).
    Check {
        /// Files or directories.
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
    },
    /// Turn a customer's evidence (the reference log, a support bundle, swaks, curl -v,
    /// smtplib, PHPMailer or msmtp debug output, an S:/C: transcript) into a scenario.
    ///
    /// Prints the scenario (or writes it with -o); exit code 2 on input it cannot read, with
    /// the line named.
    Import(ImportArgs),
    /// Record a real SMTP server: a proxy in front of it that writes a scenario replaying it.
    ///
    /// The first line on stdout is `listening on ADDR`. Each connection is relayed to the
    /// upstream (STARTTLS and implicit TLS terminated on both sides) and recorded; when it ends,
    /// the scenario of that connection is written to -o (replacing the last one), or printed
    /// when record exits. Runs until SIGINT/SIGTERM, or until the first connection ends with
    /// --once. AUTH payloads are never written.
    Record(RecordArgs),
    /// (Re)generate the test CA and certificate variants with rcgen.
    Certs {
        /// Directory to write into.
        #[arg(long, default_value = "certs")]
        out: PathBuf,
    },
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum Format {
    /// The reference log format (`-> "220 …\r\n"`).
    Log,
    /// One JSON object per event.
    Json,
}

/// Runs the CLI and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => run_serve(args),
        Command::Check { paths } => run_check(&paths),
        Command::Send(args) => run_send(args),
        Command::Run(args) => run_scenarios(args),
        Command::Certs { out } => run_certs(&out),
        Command::Import(args) => run_import(args),
        Command::Record(args) => run_record(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}

/// `smtp-harness serve`.
#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// The scenario file to play.
    scenario: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Append each connection's transcript to this file.
    #[arg(long)]
    transcript: Option<PathBuf>,
    /// Transcript format.
    #[arg(long, value_enum, default_value_t = Format::Log)]
    format: Format,
    /// Write AUTH payloads and passwords into the transcript instead of [redacted].
    #[arg(long)]
    show_secrets: bool,
    /// Exit after the first connection closes (exit code 1 if it broke expectations).
    #[arg(long)]
    once: bool,
    /// Read certificates from this directory (as written by `smtp-harness certs`) instead
    /// of the built-in ones.
    #[arg(long)]
    certs: Option<PathBuf>,
    /// Serve this case of a persona file (`--case bad-password`) instead of the persona alone.
    #[arg(long)]
    case: Option<String>,
    /// Worker threads (a multi-threaded runtime); the default, 1, runs everything on one.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: u16,
}

/// The most events `serve` keeps of one connection's transcript for `--transcript`: the first
/// and last half of them, so that a connection carrying any number of messages takes bounded
/// memory. Without `--transcript` none is kept (expectations are judged as events happen).
const SERVE_TRANSCRIPT_LIMIT: usize = 2000;

fn run_serve(args: ServeArgs) -> Result<ExitCode> {
    let loaded = match &args.case {
        Some(case) => Scenario::from_file_case(&args.scenario, case),
        None => Scenario::from_file(&args.scenario),
    };
    let scenario = match loaded {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let runtime = if args.threads > 1 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(args.threads))
            .enable_all()
            .build()
            .context("cannot start the tokio runtime")?
    } else {
        single_threaded_runtime()?
    };
    // The server runs as a task, not as the runtime's main future: sessions then wake it
    // (a connection closed) through the scheduler, without a system call to unpark the thread.
    runtime.block_on(async {
        tokio::spawn(serve(scenario, args))
            .await
            .context("the server task failed")?
    })
}

/// How long verdict lines may wait before they are written to stderr (one write for all the
/// connections that closed meanwhile).
const VERDICT_FLUSH: std::time::Duration = std::time::Duration::from_millis(50);

async fn serve(scenario: Scenario, args: ServeArgs) -> Result<ExitCode> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut builder = FakeSmtpServer::builder(scenario)
        .listen(args.listen.clone())
        .keep_records(false)
        .transcript_limit(if args.transcript.is_some() {
            SERVE_TRANSCRIPT_LIMIT
        } else {
            0
        })
        .verify_on_drop(false)
        .on_session_closed(tx);
    if let Some(dir) = &args.certs {
        builder = builder.certificates(CertSource::Dir(dir.clone()));
    }
    if args.once {
        builder = builder.accept_limit(1);
    }
    let server = builder.start().await.context("cannot start the server")?;
    // Signals are caught before the readiness line: a SIGTERM sent as soon as it is read stops
    // the server cleanly instead of killing it.
    use tokio::signal::unix::{SignalKind, signal};
    let mut sigterm = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut sigint = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", server.addr())?;
        stdout.flush()?;
    }
    let render = Render {
        show_secrets: args.show_secrets,
        ..Render::default()
    };
    let mut all_passed = true;
    // Verdict lines are gathered and written at most every VERDICT_FLUSH: a busy sink does not
    // pay a write to stderr for each connection.
    let mut verdicts = std::io::BufWriter::new(std::io::stderr());
    let mut unwritten = false;
    let mut tick = tokio::time::interval(VERDICT_FLUSH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            record = rx.recv() => {
                let Some(record) = record else { break };
                all_passed &= record.passed();
                report(&mut verdicts, &record, args.transcript.as_deref(), args.format, render)?;
                unwritten = true;
                if args.once {
                    break;
                }
            }
            _ = tick.tick(), if unwritten => {
                verdicts.flush()?;
                unwritten = false;
            }
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
        }
    }
    server.shutdown().await;
    // Connections that were still open when the signal came have closed now.
    while let Ok(record) = rx.try_recv() {
        all_passed &= record.passed();
        report(
            &mut verdicts,
            &record,
            args.transcript.as_deref(),
            args.format,
            render,
        )?;
    }
    verdicts.flush()?;
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Writes a connection's verdict line to `verdicts` and, when asked, appends its transcript.
fn report(
    verdicts: &mut impl Write,
    record: &SessionRecord,
    file: Option<&Path>,
    format: Format,
    render: Render,
) -> Result<()> {
    let closed = record
        .transcript
        .closed_by()
        .map_or("open".to_owned(), |c| format!("closed by {c}"));
    if record.passed() {
        writeln!(
            verdicts,
            "connection {}: {closed}; expectations met",
            record.transcript.session
        )?;
    } else {
        writeln!(
            verdicts,
            "connection {}: {closed}; {} expectation(s) broken:",
            record.transcript.session,
            record.failures.len()
        )?;
        for f in &record.failures {
            writeln!(verdicts, "  - {f}")?;
        }
    }
    if let Some(path) = file {
        let text = match format {
            Format::Log => record.transcript.to_log(render),
            Format::Json => record.transcript.to_json_lines(render),
        };
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The runtime of the long-running servers (`serve`, `record`): one thread keeps up with
/// smtp-sink (see the README's speed table).
fn single_threaded_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")
}

/// `smtp-harness run`.
#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Scenario files or directories (searched for *.scn); FILE#CASE runs one case of a
    /// persona, as the result lines name it.
    #[arg(default_value = "scenarios")]
    paths: Vec<PathBuf>,
    /// Drive every scenario with this sender only (lettre, curl, swaks, command, or an
    /// adapter of smtp-harness.toml such as appliance).
    #[arg(long)]
    sender: Option<String>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// How many scenarios run at once (default: twice the CPUs).
    #[arg(long)]
    jobs: Option<usize>,
    /// The configuration file that declares the adapters (default: $SMTP_HARNESS_CONFIG, or
    /// the first smtp-harness.toml in the current directory or its parents).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the compatibility matrix of persona cases (vendor × case) is written, as
    /// compatibility.md and compatibility.html.
    #[arg(long, default_value = "smtp-harness-report")]
    matrix_dir: PathBuf,
}

fn run_scenarios(args: RunArgs) -> Result<ExitCode> {
    use smtp_harness::run::{self, Adapters, RunContext, Verdict, report};
    use smtp_harness::scenario::SenderKind;

    let adapters = match &args.config {
        Some(path) => Adapters::load(path),
        None => Adapters::discover(),
    };
    let adapters = match adapters {
        Ok(adapters) => adapters,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let only = match args.sender.as_deref() {
        None => None,
        Some(name) => match SenderKind::from_name(name) {
            Some(kind) => match adapters.check_sender(kind, "--sender") {
                Ok(()) => Some(kind),
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(2));
                }
            },
            None => {
                eprintln!(
                    "error: unknown sender {name:?} (expected lettre, curl, swaks, command or an adapter's name)"
                );
                return Ok(ExitCode::from(2));
            }
        },
    };
    let mut files = Vec::new();
    for path in &args.paths {
        collect_scenarios(path, &mut files)
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    let mut scenarios = Vec::new();
    let mut case_order: Vec<String> = Vec::new();
    let mut broken = 0;
    for given in &files {
        let (file, only_case) = split_case(given);
        match ScenarioFile::from_file(&file) {
            Ok(loaded) if loaded.cases.is_empty() && only_case.is_none() => {
                scenarios.push((file.display().to_string(), loaded.persona));
            }
            Ok(loaded) => {
                let names = loaded.case_names().join(", ");
                merge_case_order(&mut case_order, &loaded.case_names());
                let before = scenarios.len();
                for case in loaded.cases {
                    let name = case.case.clone().unwrap_or_default();
                    if only_case.as_ref().is_none_or(|only| *only == name) {
                        scenarios.push((format!("{}#{name}", file.display()), case));
                    }
                }
                if scenarios.len() == before {
                    broken += 1;
                    eprintln!(
                        "error: {}: no case `{}` (the file has {})",
                        file.display(),
                        only_case.unwrap_or_default(),
                        if names.is_empty() {
                            "none".into()
                        } else {
                            names
                        }
                    );
                }
            }
            Err(e) => {
                broken += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if broken > 0 || files.is_empty() {
        if files.is_empty() {
            eprintln!(
                "error: no scenario files (*.scn) found in {}",
                display_list(&args.paths)
            );
        }
        return Ok(ExitCode::from(2));
    }
    // Every adapter named must be declared (a persona's cases share its sender line: once).
    let undeclared: std::collections::BTreeSet<String> = scenarios
        .iter()
        .filter_map(|(_, scenario)| adapters.check_scenario(scenario).err())
        .map(|e| e.to_string())
        .collect();
    if !undeclared.is_empty() {
        for e in &undeclared {
            eprintln!("error: {e}");
        }
        return Ok(ExitCode::from(2));
    }
    let ctx = RunContext {
        adapters,
        ..RunContext::default()
    };
    let (jobs, skipped) = run::plan(scenarios, only);
    for s in &skipped {
        println!("{}", s.line());
    }
    let parallel = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get() * 2))
        .max(1);

    let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    let mut results = runtime.block_on(async {
        let progress = progress_bar(jobs.len() as u64);
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(parallel));
        let ctx = std::sync::Arc::new(ctx);
        let mut set = tokio::task::JoinSet::new();
        for job in jobs {
            let (limit, ctx) = (limit.clone(), ctx.clone());
            set.spawn(async move {
                let _permit = limit.acquire_owned().await;
                run::run_job(&job, &ctx).await
            });
        }
        let mut results = skipped;
        while let Some(done) = set.join_next().await {
            match done {
                Ok(result) => {
                    progress.suspend(|| println!("{}", result.line()));
                    progress.inc(1);
                    results.push(result);
                }
                Err(e) => progress.suspend(|| eprintln!("error: a scenario run crashed: {e}")),
            }
        }
        progress.finish_and_clear();
        results
    });
    results.sort_by(|a, b| (a.scenario.as_str(), a.sender).cmp(&(b.scenario.as_str(), b.sender)));
    let failures: Vec<_> = results
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .collect();
    if !failures.is_empty() {
        println!("\nfailures:");
        for f in &failures {
            println!("\n{}", f.full());
        }
    }
    let senders: std::collections::BTreeSet<_> = results
        .iter()
        .filter(|r| !matches!(r.verdict, Verdict::Skip(_)) || r.observed.is_empty())
        .map(|r| r.sender)
        .collect();
    if senders.len() > 1 {
        println!("\n{}", report::matrix(&results));
    }
    let compat = run::compat::matrices(&results, &case_order);
    if !compat.is_empty() {
        for m in &compat {
            println!("\n{}{}", m.to_text(), m.summary());
        }
        let dir = &args.matrix_dir;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let (md, html) = (dir.join("compatibility.md"), dir.join("compatibility.html"));
        std::fs::write(&md, run::compat::markdown(&compat))
            .with_context(|| format!("cannot write {}", md.display()))?;
        std::fs::write(&html, run::compat::html(&compat))
            .with_context(|| format!("cannot write {}", html.display()))?;
        println!(
            "compatibility matrix written to {} and {}",
            md.display(),
            html.display()
        );
    }
    if let Some(path) = &args.junit {
        let xml = report::junit(&results).context("cannot write the JUnit report")?;
        std::fs::write(path, xml).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("\n{}", report::summary(&results));
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `gmail.scn#bad-password` (as run's lines name a case) → the file and the case, when no file
/// has the whole name; anything else is a file on its own.
fn split_case(given: &Path) -> (PathBuf, Option<String>) {
    let text = given.to_string_lossy();
    match text.rsplit_once('#') {
        Some((file, case)) if !given.exists() && Path::new(file).is_file() => {
            (PathBuf::from(file), Some(case.to_owned()))
        }
        _ => (given.to_path_buf(), None),
    }
}

/// Adds a file's case names to the matrix's column order: a new name goes right after the
/// case it follows in the file (so `app-password-required`, first seen after `bad-password`,
/// sits next to it), or first if it is the file's first case.
fn merge_case_order(order: &mut Vec<String>, names: &[&str]) {
    for (i, name) in names.iter().enumerate() {
        if order.iter().any(|o| o == name) {
            continue;
        }
        let at = match i.checked_sub(1) {
            Some(before) => order
                .iter()
                .position(|o| o == names[before])
                .map_or(order.len(), |p| p + 1),
            None => 0,
        };
        order.insert(at, (*name).to_owned());
    }
}

/// A progress bar on stderr for long runs in a terminal (hidden under CI or when piped).
fn progress_bar(len: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let interactive = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    if !interactive {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} scenarios {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// `smtp-harness send`.
#[derive(clap::Args, Debug)]
struct SendArgs {
    /// The `role client` scenario to play.
    scenario: PathBuf,
    /// The server, HOST:PORT.
    #[arg(long)]
    to: String,
    /// PEM CA certificates to trust for `tls` steps (default: the harness's test CA).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// The name to verify the server's certificate against.
    #[arg(long, default_value = "localhost")]
    tls_name: String,
    /// Show AUTH payloads instead of [redacted].
    #[arg(long)]
    show_secrets: bool,
    /// A template variable, NAME=VALUE: `{NAME}` in C: lines, raw bytes and message files.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// The receiver's folder, where `expect files` and `expect line` look.
    #[arg(long)]
    effects_dir: Option<PathBuf>,
}

fn run_send(args: SendArgs) -> Result<ExitCode> {
    use smtp_harness::client::{self, ClientOptions};
    let scenario = match Scenario::from_file(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    let target = match runtime
        .block_on(tokio::net::lookup_host(args.to.as_str()))
        .map(|mut a| a.next())
    {
        Ok(Some(addr)) => addr,
        _ => {
            eprintln!("error: cannot resolve {:?} (expected HOST:PORT)", args.to);
            return Ok(ExitCode::from(2));
        }
    };
    let ca = match &args.ca {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        None => certs::embedded_ca_pem().to_owned(),
    };
    let mut options = ClientOptions::trusting(&ca, &args.tls_name, scenario.idle_timeout)
        .context("cannot set up TLS")?;
    for var in &args.vars {
        let Some((name, value)) = var.split_once('=') else {
            eprintln!("error: --var {var:?}: expected NAME=VALUE");
            return Ok(ExitCode::from(2));
        };
        options = options.var(name, value);
    }
    if let Some(dir) = &args.effects_dir {
        options = options.effects_dir(dir);
    }
    let record = runtime.block_on(client::play(&scenario, target, &options));
    print!(
        "{}",
        record.transcript.to_log(Render {
            show_secrets: args.show_secrets,
            ..Render::default()
        })
    );
    for f in &record.failures {
        println!("FAILED {f}");
    }
    Ok(if record.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_check(paths: &[PathBuf]) -> Result<ExitCode> {
    let mut files = Vec::new();
    for path in paths {
        collect_scenarios(path, &mut files)
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    if files.is_empty() {
        eprintln!(
            "error: no scenario files (*.scn) found in {}",
            display_list(paths)
        );
        return Ok(ExitCode::from(2));
    }
    let mut broken = 0;
    for file in &files {
        match ScenarioFile::from_file(file) {
            Ok(f) if f.cases.is_empty() => {
                println!("ok      {}  ({})", file.display(), f.persona.name);
            }
            Ok(f) => println!(
                "ok      {}  ({}; cases: {})",
                file.display(),
                f.persona.name,
                f.case_names().join(", ")
            ),
            Err(e) => {
                broken += 1;
                println!("broken  {e}");
            }
        }
    }
    println!("{} file(s) checked, {} broken", files.len(), broken);
    Ok(if broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn display_list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds `path` if it is a file, or every `*.scn` below it (sorted) if it is a directory.
fn collect_scenarios(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !path.is_dir() {
        // A missing file is reported by the loader with its name.
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            collect_scenarios(&entry, out)?;
        } else if entry.extension().is_some_and(|e| e == "scn") {
            out.push(entry);
        }
    }
    Ok(())
}

fn run_certs(out: &Path) -> Result<ExitCode> {
    let files = certs::generate(out)
        .with_context(|| format!("cannot write certificates to {}", out.display()))?;
    for f in files {
        println!("wrote {}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `smtp-harness import`.
#[derive(clap::Args, Debug)]
struct ImportArgs {
    /// The evidence: a log, a support bundle (.tar.gz) or a client's debug output.
    file: PathBuf,
    /// Write the scenario here instead of printing it.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The input format (default: detected): log, bundle, swaks, transcript, smtplib, curl,
    /// phpmailer, msmtp.
    #[arg(long, value_parser = parse_import_format)]
    format: Option<smtp_harness::import::Format>,
}

fn parse_import_format(s: &str) -> Result<smtp_harness::import::Format, String> {
    s.parse()
}

fn run_import(args: ImportArgs) -> Result<ExitCode> {
    let imported = match smtp_harness::import::import_file(&args.file, args.format) {
        Ok(imported) => imported,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    match &args.output {
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(imported.scenario.as_bytes())?;
            stdout.flush()?;
        }
        Some(path) => {
            write_whole(path, &imported.scenario)?;
            eprintln!(
                "imported {} ({}) into {}",
                args.file.display(),
                imported.format.name(),
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` to `path` whole or not at all: a temporary file in the same folder, renamed.
fn write_whole(path: &Path, text: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write into {}", dir.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// `smtp-harness record`.
#[derive(clap::Args, Debug)]
struct RecordArgs {
    /// The real SMTP server, HOST:PORT.
    #[arg(long)]
    upstream: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Write the scenario here (whole, replaced after each connection) instead of printing it.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Speak TLS from the first byte on both sides (port 465); the scenario gets `implicit-tls`.
    #[arg(long)]
    implicit_tls: bool,
    /// Trust these PEM CA certificates for the upstream (default: the webpki roots).
    #[arg(long, conflicts_with = "upstream_insecure")]
    upstream_ca: Option<PathBuf>,
    /// Accept any certificate from the upstream (self-signed lab servers).
    #[arg(long)]
    upstream_insecure: bool,
    /// The name to send as SNI and verify in the upstream's certificate (default: its host).
    #[arg(long)]
    upstream_name: Option<String>,
    /// Present the `valid` certificate from this directory (as written by `smtp-harness
    /// certs`) to clients instead of the built-in one.
    #[arg(long)]
    certs: Option<PathBuf>,
    /// Append each connection's transcript (AUTH payloads redacted) to this file.
    #[arg(long)]
    transcript: Option<PathBuf>,
    /// Exit after the first connection ends (exit code 1 if nothing was recorded).
    #[arg(long)]
    once: bool,
    /// Longest wait for connecting, a handshake, a reply or the client's next line.
    #[arg(long, default_value = "30s", value_parser = smtp_harness::record::parse_timeout)]
    timeout: std::time::Duration,
}

fn run_record(args: RecordArgs) -> Result<ExitCode> {
    use smtp_harness::record::{RecordOptions, UpstreamTrust};
    let trust = if args.upstream_insecure {
        UpstreamTrust::Insecure
    } else if let Some(path) = &args.upstream_ca {
        match std::fs::read_to_string(path) {
            Ok(pem) => UpstreamTrust::CaPem(pem),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return Ok(ExitCode::from(2));
            }
        }
    } else {
        UpstreamTrust::WebpkiRoots
    };
    let options = RecordOptions::new(&args.upstream)
        .and_then(|o| o.trust(&trust))
        .and_then(|o| match &args.upstream_name {
            Some(name) => o.upstream_name(name),
            None => Ok(o),
        })
        .and_then(|o| match &args.certs {
            Some(dir) => o.certificates(&CertSource::Dir(dir.clone())),
            None => Ok(o),
        })
        .map(|o| o.implicit_tls(args.implicit_tls).timeout(args.timeout));
    let options = match options {
        Ok(options) => options,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let runtime = single_threaded_runtime()?;
    runtime.block_on(record(options, args))
}

async fn record(
    options: smtp_harness::record::RecordOptions,
    args: RecordArgs,
) -> Result<ExitCode> {
    use smtp_harness::record::{Recorder, Recording};
    let mut recorder = Recorder::bind(&args.listen, options)
        .await
        .context("cannot start the proxy")?;
    use tokio::signal::unix::{SignalKind, signal};
    let mut sigterm = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut sigint = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", recorder.local_addr())?;
        stdout.flush()?;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Recording>();
    let mut tasks = tokio::task::JoinSet::new();
    let mut accepting = true;
    // The scenario of the last connection that ended with something recorded.
    let mut last: Option<String> = None;
    loop {
        tokio::select! {
            accepted = recorder.accept(), if accepting => match accepted {
                Ok(connection) => {
                    let tx = tx.clone();
                    tasks.spawn(async move {
                        let _ = tx.send(connection.run().await);
                    });
                    if args.once {
                        accepting = false;
                    }
                }
                Err(e) => eprintln!("error: accept: {e}"),
            },
            recording = rx.recv() => {
                let Some(recording) = recording else { break };
                if let Some(scenario) = finish(&recording, &args)? {
                    last = Some(scenario);
                }
                if args.once {
                    break;
                }
            }
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
        }
    }
    // Connections still open are cut; what they recorded so far is not used.
    tasks.shutdown().await;
    let Some(scenario) = last else {
        eprintln!(
            "nothing recorded: no connection to {} made a scenario",
            args.upstream
        );
        return Ok(ExitCode::from(1));
    };
    if args.output.is_none() {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(scenario.as_bytes())?;
        stdout.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Reports one finished connection on stderr, appends its transcript, writes its scenario to
/// -o; returns the scenario (`None` if nothing was recorded).
fn finish(
    recording: &smtp_harness::record::Recording,
    args: &RecordArgs,
) -> Result<Option<String>> {
    eprintln!("{}", recording.summary());
    for note in &recording.notes {
        eprintln!("  the proxy {note}");
    }
    if let Some(path) = &args.transcript {
        let text = recording.transcript.to_log(Render::default());
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let scenario = match recording.scenario() {
        Ok(scenario) => scenario,
        Err(e) => {
            eprintln!("  {e}");
            return Ok(None);
        }
    };
    if let Some(path) = &args.output {
        write_whole(path, &scenario)?;
        eprintln!(
            "  wrote {} (connection {})",
            path.display(),
            recording.transcript.session
        );
    }
    Ok(Some(scenario))
}
