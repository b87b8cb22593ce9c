//! `smtp-harness certs`: the test CA and the certificate variants, generated into a folder.

use std::path::PathBuf;

use anyhow::Context;

use super::{CliError, Exit};

/// `smtp-harness certs`.
#[derive(clap::Args, Debug)]
pub struct CertsArgs {
    /// Directory to write into.
    #[arg(long, default_value = "certs")]
    out: PathBuf,
}

/// Writes the certificates and lists the files written.
pub fn certs(args: &CertsArgs) -> Result<Exit, CliError> {
    let files = smtp_harness::certs::generate(&args.out)
        .with_context(|| format!("cannot write certificates to {}", args.out.display()))?;
    for f in files {
        println!("wrote {}", f.display());
    }
    Ok(Exit::Success)
}
