//! `email check-dns`: the host name (given, or from the settings), the checks, their report.

use std::time::Duration;

use super::{CheckDnsArgs, runtime};
use crate::datadir::DataDir;
use crate::dns_check::{self, Options};
use crate::exit;
use crate::settings::Settings;

/// `appliance email check-dns …`
pub(super) fn run(data_dir: &DataDir, args: &CheckDnsArgs) -> anyhow::Result<u8> {
    let hostname = match &args.hostname {
        Some(name) => name.clone(),
        None => {
            let path = data_dir.settings_file();
            match Settings::load(&path) {
                Ok(settings) => settings.hostname,
                Err(e) => {
                    eprintln!("{e}");
                    eprintln!("appliance email check-dns: give --hostname, or fix the settings");
                    return Ok(exit::CONFIG);
                }
            }
        }
    };
    let options = Options {
        hostname,
        resolver: args.resolver,
        smtp_port: args.smtp_port,
        smtp_timeout: Duration::from_secs(args.smtp_timeout_secs),
    };
    let report = match runtime()?.block_on(dns_check::run(&options)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("appliance email check-dns: {e}");
            return Ok(exit::CONFIG);
        }
    };
    if args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.text());
    }
    Ok(report.exit_code())
}
