//! The `smtp-harness` command line: `serve`, `check` and `certs`. All the work is in [`cli`].

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
