//! The `smtp-harness` command line. All the work is in [`cli`], one file per subcommand.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
