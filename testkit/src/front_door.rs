//! A private Postfix instance as the appliance's front door (`scripts/postfix-front-door`),
//! for a fresh data folder on a free loopback port, stopped on drop. Used by
//! `harness/tests/record.rs` (a real MTA to record), `real_clients.rs` and `postfix_parity.rs`,
//! and by `appliance/tests/postfix_front_door.rs` (the reply processor behind Postfix).

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The appliance's host name: Postfix takes `reply.appliance.test` and `noreply.appliance.test`.
pub const HOSTNAME: &str = "appliance.test";

/// The longest wait for the script to start Postfix.
const WAIT: Duration = Duration::from_secs(20);

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/postfix-front-door")
}

/// A private Postfix instance for a fresh data folder; stopped on drop.
pub struct FrontDoor {
    /// The appliance's data folder (`mail/reply/`, `logs/mail.log`, `postfix/`).
    pub data: PathBuf,
    /// Where Postfix listens.
    pub addr: SocketAddr,
    _work: tempfile::TempDir,
}

impl FrontDoor {
    /// Starts Postfix (it needs root); panics with the script's output if it cannot.
    pub async fn start() -> FrontDoor {
        Self::start_with(&[]).await
    }

    /// Starts Postfix offering STARTTLS with the harness's `valid` test certificate.
    pub async fn start_with_tls() -> FrontDoor {
        let certs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../certs");
        let cert = certs.join("valid.pem");
        let key = certs.join("valid.key.pem");
        Self::start_with(&[
            "--tls-cert".as_ref(),
            cert.as_os_str(),
            "--tls-key".as_ref(),
            key.as_os_str(),
        ])
        .await
    }

    async fn start_with(extra: &[&std::ffi::OsStr]) -> FrontDoor {
        assert!(
            Path::new("/usr/sbin/postfix").is_file() && Path::new("/usr/sbin/postconf").is_file(),
            "Postfix is not installed (/usr/sbin/postfix): run scripts/setup"
        );
        let work = tempfile::Builder::new()
            .prefix("smtp-harness-postfix-")
            .tempdir()
            .expect("a temporary directory");
        // The delivery user (not root: virtual(8) refuses uids below 100) must reach the maildir.
        std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o711))
            .expect("chmod the temporary directory");
        let data = work.path().join("appliance");
        std::fs::create_dir(&data).expect("the data folder");
        // A free port can be taken between the probe and Postfix's bind: try a few.
        let mut door = FrontDoor {
            data,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            _work: work,
        };
        let mut errors = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            door.addr.set_port(port);
            let run = tokio::process::Command::new(script())
                .arg("start")
                .arg("--data-dir")
                .arg(&door.data)
                .args(["--hostname", HOSTNAME, "--port", &port.to_string()])
                .args(extra)
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output();
            let out = tokio::time::timeout(WAIT + Duration::from_secs(10), run)
                .await
                .expect("scripts/postfix-front-door start finished in time")
                .expect("scripts/postfix-front-door runs");
            if out.status.success() {
                return door;
            }
            errors.push(format!(
                "port {port}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
            door.stop();
        }
        panic!(
            "scripts/postfix-front-door start failed:\n{}",
            errors.join("\n")
        );
    }

    /// Stops Postfix (also on drop).
    pub fn stop(&mut self) {
        let out = Command::new(script())
            .arg("stop")
            .arg("--data-dir")
            .arg(&self.data)
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "scripts/postfix-front-door stop failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("cannot run scripts/postfix-front-door stop: {e}"),
        }
    }

    /// A path inside the data folder.
    pub fn dir(&self, path: &str) -> PathBuf {
        self.data.join(path)
    }

    /// Postfix's log so far.
    pub fn mail_log(&self) -> String {
        std::fs::read_to_string(self.dir("logs/mail.log")).unwrap_or_default()
    }
}

impl Drop for FrontDoor {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}
