//! `smtp-harness run` as a user drives it: real senders through the shipped scenarios, a
//! failure explained step by step, JUnit for CI, a scenario's own command as the sender.

mod common;

use std::path::PathBuf;

use common::WAIT;

/// `smtp-harness run ARGS`.
async fn run(args: &[&str]) -> common::CliRun {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    common::smtp_harness(&all, WAIT * 6).await
}

/// `smtp-harness run ARGS` for scenarios that list the appliance too: this build's appliance.
async fn run_with_the_appliance(args: &[&str]) -> common::CliRun {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    common::smtp_harness_driving_the_appliance(&all, WAIT * 6).await
}

fn temp_scenario(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smtp-harness-run-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write scenario");
    path
}

#[tokio::test]
async fn lettre_plays_every_outbound_scenario_with_the_expected_outcome() {
    let r = run(&["scenarios/outbound", "--sender", "lettre"]).await;
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    for line in [
        "PASS  scenarios/outbound/cert-expired.scn  [lettre]  failure at TLS",
        "PASS  scenarios/outbound/data-554.scn  [lettre]  failure at DATA 554",
        "PASS  scenarios/outbound/mail-451.scn  [lettre]  failure at MAIL 451",
        "PASS  scenarios/outbound/multiline-success.scn  [lettre]  success",
        "PASS  scenarios/outbound/cert-self-signed-trusted.scn  [lettre]  success",
        "SKIP  scenarios/outbound/starttls-cram-md5.scn  [lettre]  lettre cannot authenticate with CRAM-MD5",
        "KNOWN scenarios/outbound/greeting-slow.scn  [lettre]  success",
        "KNOWN scenarios/outbound/starttls-opportunistic-no-tls.scn  [lettre]  success (AUTH sent in clear text)",
    ] {
        assert!(r.stdout.contains(line), "missing {line:?} in\n{}", r.stdout);
    }
    assert!(
        r.stdout
            .trim_end()
            .ends_with("19 passed, 0 failed, 1 skipped"),
        "{}",
        r.stdout
    );
}

#[tokio::test]
async fn curl_and_swaks_play_the_reference_scenario_to_the_535() {
    let r = run_with_the_appliance(&[
        "scenarios/reference/auth-login-535.scn",
        "scenarios/outbound/starttls-cram-md5.scn",
    ])
    .await;
    // The appliance is driven too; this test looks at the external clients.
    for line in [
        "PASS  scenarios/reference/auth-login-535.scn  [curl]  failure at AUTH 535",
        "PASS  scenarios/reference/auth-login-535.scn  [swaks]  failure at AUTH 535",
        "PASS  scenarios/reference/auth-login-535.scn  [lettre]  failure at AUTH 535",
        "PASS  scenarios/outbound/starttls-cram-md5.scn  [curl]  success",
        "PASS  scenarios/outbound/starttls-cram-md5.scn  [swaks]  success",
    ] {
        assert!(r.stdout.contains(line), "missing {line:?} in\n{}", r.stdout);
    }
    // Several senders: a matrix.
    assert!(r.stdout.contains("scenario"), "{}", r.stdout);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("scenarios/reference/auth-login-535.scn") && l.contains("pass")),
        "{}",
        r.stdout
    );
}

#[tokio::test]
async fn a_failing_run_is_explained_step_by_step_without_credentials() {
    // The script wants AUTH LOGIN; the sender is told to use PLAIN.
    let path = temp_scenario(
        "wants-login.scn",
        "certificate valid\nS: 220 mx.test ESMTP\nC: EHLO *\nS: 250-mx.test\nS: 250-STARTTLS\nS: 250 AUTH PLAIN LOGIN\nC: STARTTLS\nS: 220 go\ntls\nC: EHLO *\nS: 250-mx.test\nS: 250 AUTH PLAIN LOGIN\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\n\
         sender lettre\n    encryption starttls\n    auth plain\n    user alice\n    password hunter2hunter2\noutcome success\n",
    );
    let junit = path.with_extension("xml");
    let r = run(&[
        path.to_str().expect("utf8"),
        "--junit",
        junit.to_str().expect("utf8"),
    ])
    .await;

    assert_eq!(r.code, Some(1), "{}", r.stdout);
    let text = &r.stdout;
    // Off the script the defaults take over, so lettre gets its 235 and succeeds: the outcome
    // holds, the script does not.
    assert!(
        text.contains("FAIL  ") && text.contains("[lettre]  success"),
        "{text}"
    );
    assert!(text.contains("expected the client line \"AUTH LOGIN\" of the script, but the client left the script there"), "{text}");
    assert!(text.contains("ok line   9  tls"), "{text}");
    assert!(
        text.contains("Scenario diverged: line 13 expected \"AUTH LOGIN\""),
        "{text}"
    );
    assert!(text.contains("!! line  13  C: AUTH LOGIN"), "{text}");
    assert!(
        text.contains("<- \"AUTH PLAIN [redacted]\\r\\n\""),
        "{text}"
    );
    assert!(text.contains("-- line  14  S: 334 VXNlcm5hbWU6"), "{text}");
    assert!(
        !text.contains("hunter2") && !text.contains("AGFsaWNlAGh1bnRlcjJodW50ZXIy"),
        "a credential leaked:\n{text}"
    );
    assert!(
        text.trim_end().ends_with("0 passed, 1 failed, 0 skipped"),
        "{text}"
    );

    let xml = std::fs::read_to_string(&junit).expect("JUnit written");
    assert!(
        xml.contains("<testsuites name=\"smtp-harness\" tests=\"1\""),
        "{xml}"
    );
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert!(xml.contains("wants-login.scn [lettre]"), "{xml}");
    assert!(xml.contains("<failure"), "{xml}");
    assert!(!xml.contains("hunter2"), "{xml}");
}

#[tokio::test]
async fn a_scenario_can_drive_its_own_command_python_smtplib() {
    let text = "certificate valid\nwhen AUTH user=alice password=s3cret\n    S: 235 2.7.0 ok\nwhen AUTH\n    S: 535 5.7.8 no\n\
        expect STARTTLS before AUTH\nexpect messages 1\n\
        sender command\n    encryption starttls\n    auth login\n    user alice\n    password s3cret\n\
        \x20   run python3 scripts/senders/smtplib-send.py {host} {port} {ca} {encryption} {auth} {user} {password} {from} {to} {message}\n\
        outcome success\n";
    let path = temp_scenario("smtplib.scn", text);
    let r = run(&[path.to_str().expect("utf8")]).await;
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("[command]  success"), "{}", r.stdout);

    let wrong = temp_scenario(
        "smtplib-wrong.scn",
        &text.replace("password s3cret", "password wrong"),
    );
    let r = run(&[wrong.to_str().expect("utf8")]).await;
    assert_eq!(r.code, Some(1));
    assert!(
        r.stdout.contains("observed failure at AUTH 535"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("smtplib: SMTPAuthenticationError: (535, b'5.7.8 no')"),
        "{}",
        r.stdout
    );
}

#[tokio::test]
async fn bad_input_is_refused_with_exit_2() {
    let r = run(&["scenarios/outbound", "--sender", "telnet"]).await;
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr
            .contains("error: --sender: no sender adapter `telnet`: not built in (lettre, curl, swaks, command), and "),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("smtp-harness.toml declares only [sender.appliance]"),
        "{}",
        r.stderr
    );
    let r = run(&["scenarios/outbound", "--sender", "tel/net"]).await;
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("unknown sender \"tel/net\""),
        "{}",
        r.stderr
    );

    let broken = temp_scenario("broken.scn", "sender lettre\n    encryption ssl\n");
    let r = run(&[broken.to_str().expect("utf8")]).await;
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains(
            "broken.scn:2:16: expected none, starttls, starttls-opportunistic or tls, found \"ssl\""
        ),
        "{}",
        r.stderr
    );
}

/// A folder with its own smtp-harness.toml: Python's smtplib as the sender adapter `smtplib`,
/// and the harness's own fake server (`serve`) behind a shell script as the receiver adapter
/// `sink`, with its transcript in the receiver's work folder as the effect.
fn adapter_folder() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("smtp-harness-adapters-")
        .tempdir()
        .expect("temp dir");
    let smtplib = common::repo("scripts/senders/smtplib-send.py");
    let config = format!(
        "[sender.smtplib]\nrun = [\"python3\", {smtplib:?}, \"{{host}}\", \"{{port}}\", \"{{ca}}\", \"{{encryption}}\", \"{{auth}}\", \"{{user}}\", \"{{password}}\", \"{{from}}\", \"{{to}}\", \"{{message}}\"]\n\n\
         [receiver.sink]\nrun = [\"./sink-adapter\", \"{{work}}\", \"{{settings}}\"]\n",
        smtplib = smtplib.display().to_string(),
    );
    std::fs::write(dir.path().join("smtp-harness.toml"), config).expect("config");
    let adapter = dir.path().join("sink-adapter");
    std::fs::write(
        &adapter,
        format!(
            "#!/bin/sh\n# The receiver contract in a few lines: var lines, then a server that prints\n\
             # `listening on ADDR` and stops on SIGTERM; --set=rcpt=ADDRESS becomes {{rcpt}}.\n\
             work=$1; shift\nrcpt=nobody@sink.test\n\
             for setting in \"$@\"; do case $setting in --set=rcpt=*) rcpt=${{setting#--set=rcpt=}} ;; esac; done\n\
             printf 'hostname sink.test\\n' > \"$work/sink.scn\"\n\
             echo \"var rcpt $rcpt\"\n\
             exec {harness} serve \"$work/sink.scn\" --transcript \"$work/transcript.log\"\n",
            harness = env!("CARGO_BIN_EXE_smtp-harness"),
        ),
    )
    .expect("adapter");
    let mut mode = std::fs::metadata(&adapter).expect("adapter").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut mode, 0o755);
    std::fs::set_permissions(&adapter, mode).expect("chmod");
    std::fs::write(
        dir.path().join("send.scn"),
        "name smtplib as an adapter\nexpect messages 1\nsender smtplib lettre\n    encryption none\noutcome success\n",
    )
    .expect("scenario");
    std::fs::write(
        dir.path().join("receive.scn"),
        "role client\nreceiver sink\n    rcpt bob@sink.test\n\
         S: 220*\nC: EHLO client.test\nS: 250*\nC: MAIL FROM:<alice@client.test>\nS: 250*\n\
         C: RCPT TO:<{rcpt}>\nS: 250*\nC: QUIT\nS: 221*\n\
         expect line \"transcript.log\" \"*RCPT TO:<bob@sink.test>*\"\n",
    )
    .expect("scenario");
    dir
}

/// `smtp-harness ARGS` run in `dir`, so that it finds the folder's smtp-harness.toml.
async fn run_in(dir: &std::path::Path, args: &[&str]) -> common::CliRun {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_smtp-harness"))
        .arg("run")
        .args(args)
        .current_dir(dir)
        .env_remove("SMTP_HARNESS_CONFIG")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(WAIT * 6, out)
        .await
        .expect("smtp-harness finishes in time")
        .expect("smtp-harness runs");
    common::CliRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test]
async fn adapters_declared_in_a_folders_config_drive_a_sender_and_a_receiver() {
    let dir = adapter_folder();

    // Found in the current folder: the sender adapter next to a built-in sender, and the
    // receiver adapter with its `var` line and its effect.
    let r = run_in(dir.path(), &["send.scn", "receive.scn"]).await;
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    for line in [
        "PASS  send.scn  [smtplib]  success",
        "PASS  send.scn  [lettre]  success",
        "PASS  receive.scn  [sink]  as scripted",
    ] {
        assert!(r.stdout.contains(line), "missing {line:?} in\n{}", r.stdout);
    }
    assert!(
        r.stdout
            .trim_end()
            .ends_with("3 passed, 0 failed, 0 skipped"),
        "{}",
        r.stdout
    );

    // Given with --config from elsewhere: `--sender` takes an adapter's name too.
    let config = dir.path().join("smtp-harness.toml");
    let send = dir.path().join("send.scn");
    let r = run(&[
        "--config",
        config.to_str().expect("utf8"),
        "--sender",
        "smtplib",
        send.to_str().expect("utf8"),
    ])
    .await;
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("[smtplib]  success"), "{}", r.stdout);
    assert!(!r.stdout.contains("[lettre]"), "{}", r.stdout);
}

#[tokio::test]
async fn an_undeclared_adapter_stops_the_run_naming_the_line_and_the_config() {
    let dir = adapter_folder();
    std::fs::write(
        dir.path().join("typo.scn"),
        "S: 220 hi\nsender lettre smtplibb\noutcome success\n",
    )
    .expect("scenario");
    let r = run_in(dir.path(), &["send.scn", "typo.scn"]).await;
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    let config = dir.path().join("smtp-harness.toml");
    assert!(
        r.stderr.contains(&format!(
            "error: typo.scn:2: no sender adapter `smtplibb`: not built in (lettre, curl, swaks, command), and {} declares only [sender.smtplib]",
            config.display()
        )),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "nothing runs: {}", r.stdout);

    // A receiver the adapter itself refuses fails at start, with what the adapter said.
    std::fs::write(
        dir.path().join("sink-adapter"),
        "#!/bin/sh\necho 'no such setting' >&2\nexit 64\n",
    )
    .expect("adapter");
    let r = run_in(dir.path(), &["receive.scn"]).await;
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("the receiver adapter `sink` exited before `listening on ADDR`; it said:"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("no such setting"), "{}", r.stdout);
}
