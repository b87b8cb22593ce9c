//! One error type for every subcommand: what went wrong, and the exit code it gives. The
//! messages are printed in one place ([`CliError::report`]), each as `error: …` on stderr.

use std::fmt::Display;
use std::process::ExitCode;

/// The exit codes, as `smtp-harness --help` lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: the command did what it was asked, and what it judged passed.
    Success = 0,
    /// 1: expectations were broken (`serve --once`, `run`, `send`), `check` found a broken
    /// file, or `record` recorded nothing.
    Broken = 1,
    /// 2: bad usage, a scenario that cannot be loaded, or input `import` cannot read.
    Usage = 2,
    /// 3: the environment failed: cannot listen, cannot read or write a file.
    Environment = 3,
}

impl Exit {
    /// [`Exit::Success`] if `passed`, else [`Exit::Broken`].
    pub fn verdict(passed: bool) -> Self {
        if passed { Exit::Success } else { Exit::Broken }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// Why a subcommand stopped: one or more messages and the exit code.
///
/// A message is its error written with `{:#}`: an [`anyhow::Error`] shows its whole chain
/// (`cannot open FILE: No such file or directory`), a library error its own message (which
/// names the file, line and cause).
#[derive(Debug)]
pub struct CliError {
    exit: Exit,
    messages: Vec<String>,
}

impl CliError {
    /// Bad usage or input that cannot be read (exit code 2).
    pub fn usage(error: impl Display) -> Self {
        Self::usage_each([error])
    }

    /// Several problems with the input, each on its own line (exit code 2).
    pub fn usage_each(errors: impl IntoIterator<Item = impl Display>) -> Self {
        CliError {
            exit: Exit::Usage,
            messages: errors.into_iter().map(|e| format!("{e:#}")).collect(),
        }
    }

    /// The environment failed: cannot listen, read or write (exit code 3).
    pub fn environment(error: impl Display) -> Self {
        CliError {
            exit: Exit::Environment,
            messages: vec![format!("{error:#}")],
        }
    }

    /// Prints the messages on stderr and gives the exit code.
    pub fn report(&self) -> ExitCode {
        for message in &self.messages {
            eprintln!("error: {message}");
        }
        self.exit.into()
    }
}

/// Anything not foreseen as bad input is the environment's failure (exit code 3).
impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> Self {
        CliError::environment(error)
    }
}

/// Writing to stdout or stderr failed (exit code 3).
impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> Self {
        CliError::environment(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_show_the_chain_of_an_anyhow_error_and_the_code_follows_the_kind() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let error: CliError = anyhow::Error::new(io).context("cannot open x").into();
        assert_eq!(error.exit, Exit::Environment);
        assert_eq!(error.messages, ["cannot open x: gone"]);
        let usage = CliError::usage_each(["a", "b"]);
        assert_eq!(usage.exit, Exit::Usage);
        assert_eq!(usage.messages, ["a", "b"]);
        assert_eq!(Exit::verdict(false), Exit::Broken);
        assert_eq!(Exit::verdict(true), Exit::Success);
    }
}
