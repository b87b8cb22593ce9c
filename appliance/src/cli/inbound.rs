//! `inbound serve`: the receiving SMTP server on the command line.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::datadir::DataDir;
use crate::exit;
use crate::inbound::{self, InboundConfig, InboundError};
use crate::settings::Settings;
use crate::shutdown;

/// How long open sessions may take to finish after SIGTERM or SIGINT.
const GRACE: Duration = Duration::from_secs(10);

/// `appliance inbound serve [--listen ADDR]`.
pub(super) fn serve(data_dir: &DataDir, listen: Option<SocketAddr>) -> anyhow::Result<u8> {
    let path = data_dir.settings_file();
    let settings = match Settings::load(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(exit::CONFIG);
        }
    };
    let config = match InboundConfig::from_settings(&settings, data_dir) {
        Ok(c) => Arc::new(c),
        Err(e @ InboundError::Tls(_)) => {
            eprintln!("appliance inbound: {e}");
            return Ok(exit::CONFIG);
        }
        Err(e) => {
            eprintln!("appliance inbound: {e}");
            return Ok(exit::IOERR);
        }
    };
    let addr = listen.unwrap_or(settings.inbound.listen);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("appliance inbound: cannot listen on {addr}: {e}");
                return Ok(exit::UNAVAILABLE);
            }
        };
        let bound = inbound::bound(&listener)?;
        // Signals are caught before the readiness line, so a SIGTERM sent as soon as it is read
        // stops the server cleanly instead of killing it.
        let shutdown = shutdown::on_signals()?.subscribe();
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {bound}")?;
            out.flush()?;
        }
        inbound::serve(listener, config, shutdown, GRACE)
            .await
            .context("accepting connections failed")?;
        eprintln!("appliance inbound: stopped");
        Ok(exit::OK)
    })
}
