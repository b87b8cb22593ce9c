//! `appliance email test` end to end: the real binary against the fake SMTP server, for the
//! reference log's conversation, every way of succeeding, and every way of failing the admin
//! must be told about.
//!
//! Over 500 lines on purpose: one file is one test binary that links the whole crate, so a
//! capability's tests stay together with the helpers they share instead of being split into
//! binaries that each pay the link.

mod common;

use common::*;
use serde_json::Value;

const REFERENCE_USER: &str = "thisismy@address.com";
const REFERENCE_PASSWORD: &str = "itreallywas";

/// Asserts a failed test: exit code, the step named, the settings not saved.
fn assert_failed(run: &Run, dir: &TempDir, exit: i32, step: &str) {
    assert_eq!(run.code, exit, "{run:#?}");
    assert!(
        run.stderr
            .contains(&format!("Sending the test email failed at the {step} step")),
        "{run:#?}"
    );
    assert!(run.stderr.contains("Settings were not saved."), "{run:#?}");
    assert!(
        !dir.active_settings().exists(),
        "settings must not be saved"
    );
}

/// Asserts a successful test: exit 0, the message and the saved settings.
fn assert_sent(run: &Run, dir: &TempDir, candidate: &Candidate) {
    assert_eq!(run.code, 0, "{run:#?}\nlog:\n{}", dir.log());
    assert_eq!(
        run.stdout,
        "Test email sent to admin@example.com. Settings saved.\n"
    );
    let saved = std::fs::read_to_string(dir.active_settings()).expect("settings saved");
    assert_eq!(saved, candidate.toml(), "the candidate is saved as it was");
}

#[tokio::test]
async fn reference_log_535_is_reported_with_both_lines_and_nothing_is_saved() {
    let dir = TempDir::new("reference");
    let server = server(shipped("reference/auth-login-535.scn")).await;
    let candidate = Candidate::new(server.port())
        .set("authentication", "login")
        .set("username", REFERENCE_USER)
        .set("password", REFERENCE_PASSWORD);
    let run = email_test(&dir, &candidate, &[]).await;

    assert_failed(&run, &dir, 69, "AUTH");
    assert_eq!(
        run.stderr,
        "Sending the test email failed at the AUTH step (authentication).\n\
         The server answered with a permanent error (5xx):\n    \
         535-5.7.1 Username and Password not accepted. Learn more at\n    \
         535 5.7.1 nt3sm2942435pbc.14\n\
         Hint: check the user name and password; if the account uses two-factor authentication, use an app password.\n\
         Settings were not saved.\n"
    );

    let log = dir.log();
    let port = server.port();
    for expected in [
        format!("Connection opened: 127.0.0.1:{port}\n"),
        "-> \"220 ESMTP nt3sm2942435pbc.14\\r\\n\"\n".to_owned(),
        "<- \"EHLO appliance.example.com\\r\\n\"\n".to_owned(),
        "<- \"STARTTLS\\r\\n\"\n-> \"220 2.0.0 Ready to start TLS\\r\\n\"\nTLS connection started\n"
            .to_owned(),
        "<- \"AUTH LOGIN\\r\\n\"\n-> \"334 VXNlcm5hbWU6\\r\\n\"\n<- \"[redacted]\\r\\n\"\n\
         -> \"334 UGFzc3dvcmQ6\\r\\n\"\n<- \"[redacted]\\r\\n\"\n\
         -> \"535-5.7.1 Username and Password not accepted. Learn more at\\r\\n\"\n\
         -> \"535 5.7.1 nt3sm2942435pbc.14\\r\\n\"\n\
         <- \"QUIT\\r\\n\"\n"
            .to_owned(),
        "Connection closed\n".to_owned(),
    ] {
        assert!(log.contains(&expected), "missing {expected:?} in\n{log}");
    }
    assert_eq!(log.matches("[redacted]").count(), 2, "{log}");
    for secret in [
        REFERENCE_USER,
        REFERENCE_PASSWORD,
        "dGhpc2lzbXlAYWRkcmVzcy5jb20=", // base64 of the user name, as in the published log
        "aXRyZWFsbHl3YXM=",             // base64 of the password
    ] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
        assert!(
            !run.output().contains(secret),
            "{secret} leaked into the output"
        );
    }

    // The server saw exactly what the log says, line for line, and the scenario's
    // expectations (STARTTLS before AUTH, no MAIL, QUIT after 535) hold.
    let sessions = server.wait_for_sessions(1, WAIT).await.expect("session");
    let transcript = sessions[0].transcript.to_string();
    assert_eq!(wire_lines(&log), wire_lines(&transcript));
    assert!(sessions[0].passed(), "{:?}", sessions[0].failures);
    server
        .verify()
        .expect("expectations of the reference scenario");
}

#[tokio::test]
async fn reference_log_535_as_json() {
    let dir = TempDir::new("reference-json");
    let server = server(shipped("reference/auth-login-535.scn")).await;
    let candidate = Candidate::new(server.port()).set("authentication", "login");
    let run = email_test(&dir, &candidate, &["--json"]).await;
    assert_eq!(run.code, 69, "{run:#?}");
    let json: Value = serde_json::from_str(run.stdout.trim()).expect("one JSON object");
    assert_eq!(json["outcome"], "failure");
    assert_eq!(json["step"], "AUTH");
    assert_eq!(json["code"], 535);
    assert_eq!(json["permanent"], true);
    assert_eq!(
        json["reply"],
        serde_json::json!([
            "535-5.7.1 Username and Password not accepted. Learn more at",
            "535 5.7.1 nt3sm2942435pbc.14"
        ])
    );
    assert!(
        json["hint"]
            .as_str()
            .unwrap()
            .contains("use an app password")
    );
    assert_eq!(json["settings_saved"], false);
    assert!(!dir.active_settings().exists());
}

/// Success through STARTTLS with each mechanism: saved, message captured with From and To.
async fn succeeds_with(mechanism: &str) {
    let dir = TempDir::new(mechanism);
    let server = server(inline(ACCEPT_ALICE)).await;
    let candidate = Candidate::new(server.port()).set("authentication", mechanism);
    let run = email_test(&dir, &candidate, &[]).await;
    assert_sent(&run, &dir, &candidate);

    let messages = server.wait_for_messages(1, WAIT).await.expect("message");
    let m = &messages[0];
    assert_eq!(m.mail_from, "noreply@appliance.example.com");
    assert_eq!(m.rcpt_to, ["admin@example.com"]);
    assert!(m.tls, "sent inside TLS");
    assert_eq!(m.authenticated_as.as_deref(), Some(USER));
    assert_eq!(m.helo.as_deref(), Some("appliance.example.com"));
    assert!(
        m.header("From")
            .unwrap()
            .contains("noreply@appliance.example.com")
    );
    assert!(m.header("To").unwrap().contains("admin@example.com"));
    assert_eq!(
        m.subject().as_deref(),
        Some("Test email from appliance.example.com")
    );
    assert!(m.header("Date").is_some() && m.header("Message-ID").is_some());
    assert!(m.body().contains("test email"), "{}", m.body());

    let log = dir.log();
    let sasl = mechanism.to_ascii_uppercase();
    assert!(log.contains(&format!("<- \"AUTH {sasl}")), "{log}");
    assert!(log.contains("TLS connection started"), "{log}");
    assert!(log.contains("<- [message: "), "{log}");
    assert!(!log.contains(PASSWORD), "{log}");
    assert!(
        !log.contains("AGFsaWNlAHMzY3JldA=="),
        "PLAIN's payload leaked: {log}"
    );
    assert!(!log.contains("YWxpY2U="), "LOGIN's user name leaked: {log}");
    let sessions = server.wait_for_sessions(1, WAIT).await.expect("session");
    assert_eq!(
        wire_lines(&log),
        wire_lines(&sessions[0].transcript.to_string())
    );
}

#[tokio::test]
async fn starttls_and_plain_succeed() {
    succeeds_with("plain").await;
}

#[tokio::test]
async fn starttls_and_login_succeed() {
    succeeds_with("login").await;
}

#[tokio::test]
async fn starttls_and_cram_md5_succeed() {
    succeeds_with("cram-md5").await;
}

#[tokio::test]
async fn implicit_tls_succeeds() {
    let dir = TempDir::new("implicit-tls");
    let server = server(shipped("outbound/implicit-tls.scn")).await;
    let candidate = Candidate::new(server.port()).set("encryption", "tls");
    let run = email_test(&dir, &candidate, &[]).await;
    assert_sent(&run, &dir, &candidate);
    let log = dir.log();
    let opened = log.find("Connection opened").unwrap();
    let tls = log.find("TLS connection started").unwrap();
    let greeting = log.find("-> \"220 ").unwrap();
    assert!(
        opened < tls && tls < greeting,
        "TLS before the greeting:\n{log}"
    );
    assert!(!log.contains("STARTTLS"), "{log}");
    server.wait_for_sessions(1, WAIT).await.expect("session");
    server.verify().expect("AUTH once, one message");
}

#[tokio::test]
async fn the_shipped_starttls_success_scenario_is_met() {
    let dir = TempDir::new("starttls-shipped");
    let server = server(shipped("outbound/starttls-plain.scn")).await;
    let candidate = Candidate::new(server.port()).set("authentication", "login");
    let run = email_test(&dir, &candidate, &[]).await;
    assert_sent(&run, &dir, &candidate);
    server.wait_for_sessions(1, WAIT).await.expect("session");
    server
        .verify()
        .expect("STARTTLS before AUTH, tls before MAIL, 235, one message");
}

#[tokio::test]
async fn a_localhost_address_is_verified_by_name() {
    let dir = TempDir::new("localhost");
    let server = server(inline(ACCEPT_ALICE)).await;
    let candidate = Candidate::new(server.port()).set("address", "localhost");
    let run = email_test(&dir, &candidate, &[]).await;
    assert_sent(&run, &dir, &candidate);
}

#[tokio::test]
async fn starttls_required_but_not_offered_stops_before_auth() {
    let dir = TempDir::new("no-starttls");
    // No certificate: the server cannot offer STARTTLS.
    let server = server(inline(
        "when AUTH user=alice password=s3cret\n    S: 235 2.7.0 ok\n",
    ))
    .await;
    let run = email_test(&dir, &Candidate::new(server.port()), &[]).await;
    assert_failed(&run, &dir, 69, "STARTTLS");
    assert!(
        run.stderr.contains(
            "Hint: the server does not support the encryption you chose (STARTTLS); choose another encryption setting or port."
        ),
        "{run:#?}"
    );
    let sessions = server.wait_for_sessions(1, WAIT).await.expect("session");
    let transcript = sessions[0].transcript.to_string();
    assert!(!transcript.contains("<- \"AUTH"), "{transcript}");
    assert!(
        transcript.contains("<- \"QUIT\\r\\n\""),
        "polite QUIT: {transcript}"
    );
}

#[tokio::test]
async fn opportunistic_without_starttls_refuses_to_send_the_password() {
    let dir = TempDir::new("opportunistic-auth");
    let server = server(inline(
        "when AUTH user=alice password=s3cret\n    S: 235 2.7.0 ok\n",
    ))
    .await;
    let candidate = Candidate::new(server.port()).set("encryption", "starttls-opportunistic");
    let run = email_test(&dir, &candidate, &[]).await;
    assert_failed(&run, &dir, 69, "AUTH");
    assert!(
        run.stderr.contains(
            "the server offers no encryption; refusing to send the password in clear text"
        ),
        "{run:#?}"
    );
    let sessions = server.wait_for_sessions(1, WAIT).await.expect("session");
    let transcript = sessions[0].transcript.to_string();
    assert!(!transcript.contains("<- \"AUTH"), "{transcript}");
    assert!(!dir.log().contains("<- \"AUTH"), "{}", dir.log());
}

#[tokio::test]
async fn opportunistic_uses_starttls_when_offered() {
    let dir = TempDir::new("opportunistic-tls");
    let server = server(inline(ACCEPT_ALICE)).await;
    let candidate = Candidate::new(server.port()).set("encryption", "starttls-opportunistic");
    let run = email_test(&dir, &candidate, &[]).await;
    assert_sent(&run, &dir, &candidate);
    assert!(server.messages()[0].tls);
}

#[tokio::test]
async fn opportunistic_without_starttls_or_auth_sends_in_clear_text() {
    let dir = TempDir::new("opportunistic-plain");
    let server = server(inline("name plain")).await;
    let candidate = Candidate::plain(server.port()).set("encryption", "starttls-opportunistic");
    let run = email_test(&dir, &candidate, &[]).await;
    assert_sent(&run, &dir, &candidate);
    assert!(!server.messages()[0].tls);
}

/// A certificate the appliance must refuse: CERTIFICATE step, exit 69, the right hint.
async fn refuses_certificate(variant: &str, encryption: &str, hint: &str) {
    let dir = TempDir::new(variant);
    let mut text = format!("certificate {variant}\n");
    if encryption == "tls" {
        text.push_str("implicit-tls\n");
    }
    let server = server(inline(&text)).await;
    let candidate = Candidate::new(server.port()).set("encryption", encryption);
    let run = email_test(&dir, &candidate, &[]).await;
    assert_failed(&run, &dir, 69, "CERTIFICATE");
    assert!(
        run.stderr.contains("This is a permanent failure"),
        "{run:#?}"
    );
    assert!(run.stderr.contains(hint), "{hint:?} not in {run:#?}");
    let log = dir.log();
    assert!(log.contains("TLS handshake failed: "), "{log}");
    assert!(!log.contains("<- \"AUTH"), "{log}");
}

#[tokio::test]
async fn expired_certificate_is_refused() {
    refuses_certificate(
        "expired",
        "starttls",
        "the server's certificate has expired",
    )
    .await;
}

#[tokio::test]
async fn wrong_host_certificate_is_refused() {
    refuses_certificate(
        "wrong-host",
        "starttls",
        "does not match the server address (it is for wrong.example)",
    )
    .await;
}

#[tokio::test]
async fn self_signed_certificate_is_refused() {
    refuses_certificate("self-signed", "tls", "add it (PEM) to email.ca_file").await;
}

#[tokio::test]
async fn unknown_ca_certificate_is_refused() {
    refuses_certificate(
        "unknown-ca",
        "starttls",
        "not signed by an authority the appliance trusts",
    )
    .await;
}

#[tokio::test]
async fn self_signed_certificate_is_trusted_through_ca_file() {
    let dir = TempDir::new("self-signed-trusted");
    let server = server(inline(&ACCEPT_ALICE.replace("valid", "self-signed"))).await;
    let candidate = Candidate::new(server.port()).set("ca_file", &repo("certs/self-signed.pem"));
    let run = email_test(&dir, &candidate, &[]).await;
    assert_sent(&run, &dir, &candidate);
}

#[tokio::test]
async fn implicit_tls_against_a_starttls_port_fails_the_handshake() {
    let dir = TempDir::new("tls-on-starttls-port");
    let server = server(inline("certificate valid")).await;
    let candidate = Candidate::new(server.port()).set("encryption", "tls");
    let run = email_test(&dir, &candidate, &[]).await;
    assert_failed(&run, &dir, 69, "TLS_HANDSHAKE");
    assert!(
        run.stderr
            .contains("check the encryption setting for this port"),
        "{run:#?}"
    );
}

#[tokio::test]
async fn greeting_421_is_temporary() {
    let dir = TempDir::new("greeting-421");
    let server = server(shipped("outbound/greeting-421.scn")).await;
    let run = email_test(&dir, &Candidate::new(server.port()), &[]).await;
    assert_failed(&run, &dir, 75, "GREETING");
    assert!(run.stderr.contains("The server answered with a temporary error (4xx):\n    421 4.3.2 busy.harness.test Service not available, closing transmission channel\n"), "{run:#?}");
    assert!(
        run.stderr
            .contains("the server is busy or unavailable (421); try again later")
    );
}

/// A scenario with a rule, plain settings: the test fails at `step` with `exit`, and the
/// admin sees `lines` (every line of the reply) and `hint`.
async fn fails_with(name: &str, scenario: &str, step: &str, exit: i32, lines: &[&str], hint: &str) {
    fails_with_settings(name, scenario, Candidate::plain, step, exit, lines, hint).await;
}

async fn fails_with_settings(
    name: &str,
    scenario: &str,
    settings: impl Fn(u16) -> Candidate,
    step: &str,
    exit: i32,
    lines: &[&str],
    hint: &str,
) {
    let dir = TempDir::new(name);
    let server = server(inline(scenario)).await;
    let run = email_test(&dir, &settings(server.port()), &[]).await;
    assert_failed(&run, &dir, exit, step);
    let kind = if exit == 75 {
        "temporary error (4xx)"
    } else {
        "permanent error (5xx)"
    };
    if !lines.is_empty() {
        let mut shown = format!("The server answered with a {kind}:\n");
        for line in lines {
            shown.push_str(&format!("    {line}\n"));
        }
        assert!(run.stderr.contains(&shown), "{shown:?} not in {run:#?}");
    }
    assert!(
        run.stderr.contains(&format!("Hint: {hint}")),
        "{hint:?} not in {run:#?}"
    );
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn temporary_failure_at_mail() {
    fails_with(
        "mail-451",
        "when MAIL\n    S: 451 4.3.0 try later\n",
        "MAIL",
        75,
        &["451 4.3.0 try later"],
        "the server reported a temporary problem; try again later",
    )
    .await;
}

#[tokio::test]
async fn temporary_failure_at_rcpt() {
    fails_with(
        "rcpt-450",
        "when RCPT\n    S: 450 4.2.1 mailbox busy\n",
        "RCPT",
        75,
        &["450 4.2.1 mailbox busy"],
        "the server reported a temporary problem; try again later",
    )
    .await;
}

#[tokio::test]
async fn permanent_failure_at_rcpt() {
    fails_with(
        "rcpt-550",
        "when RCPT\n    S: 550 5.1.1 no such user\n",
        "RCPT",
        69,
        &["550 5.1.1 no such user"],
        "the server refused the recipient",
    )
    .await;
}

#[tokio::test]
async fn size_refused_with_552() {
    // The server's SIZE limit is below the test mail: it refuses MAIL FROM … SIZE=n.
    fails_with(
        "size-552",
        "size 100\n",
        "MAIL",
        69,
        &["552 5.3.4 Message size exceeds fixed limit"],
        "the server refused the message size (552)",
    )
    .await;
}

#[tokio::test]
async fn encryption_required_530() {
    fails_with(
        "must-starttls-530",
        "certificate valid\nwhen MAIL plain\n    S: 530 5.7.0 Must issue a STARTTLS command first\n",
        "MAIL",
        69,
        &["530 5.7.0 Must issue a STARTTLS command first"],
        "the server requires encryption (STARTTLS) before this step",
    )
    .await;
}

#[tokio::test]
async fn authentication_refused_with_503_by_the_server() {
    fails_with_settings(
        "auth-503",
        "certificate valid\nwhen AUTH\n    S: 503 5.5.1 Error: authentication not enabled\n",
        Candidate::new,
        "AUTH",
        69,
        &["503 5.5.1 Error: authentication not enabled"],
        "the server does not offer authentication on this port; choose no authentication or another port",
    )
    .await;
}

#[tokio::test]
async fn app_password_required_534() {
    fails_with_settings(
        "auth-534",
        "certificate valid\nwhen AUTH\n    S: 534-5.7.9 Application-specific password required.\n    S: 534 5.7.9 Learn more at https://support.example/apppasswords\n",
        |port| Candidate::new(port).set("authentication", "login"),
        "AUTH",
        69,
        &[
            "534-5.7.9 Application-specific password required.",
            "534 5.7.9 Learn more at https://support.example/apppasswords",
        ],
        "the account requires an app password",
    )
    .await;
}

#[tokio::test]
async fn authentication_not_advertised_is_not_attempted() {
    let dir = TempDir::new("no-auth-advertised");
    let server = server(inline(
        "certificate valid\nwhen EHLO tls\n    S: 250-mx.test\n    S: 250 8BITMIME\n",
    ))
    .await;
    let run = email_test(&dir, &Candidate::new(server.port()), &[]).await;
    assert_failed(&run, &dir, 69, "AUTH");
    assert!(
        run.stderr.contains("Hint: the server does not offer authentication on this port; choose no authentication or another port."),
        "{run:#?}"
    );
    let sessions = server.wait_for_sessions(1, WAIT).await.expect("session");
    let transcript = sessions[0].transcript.to_string();
    assert!(!transcript.contains("<- \"AUTH"), "{transcript}");
}

#[tokio::test]
async fn mechanism_not_advertised_names_the_ones_offered() {
    let dir = TempDir::new("mechanism-not-offered");
    let server = server(inline(
        "certificate valid\nwhen EHLO tls\n    S: 250-mx.test\n    S: 250 AUTH PLAIN LOGIN\n",
    ))
    .await;
    let candidate = Candidate::new(server.port()).set("authentication", "cram-md5");
    let run = email_test(&dir, &candidate, &[]).await;
    assert_failed(&run, &dir, 69, "AUTH");
    assert!(
        run.stderr
            .contains("it offers PLAIN, LOGIN: choose one of those"),
        "{run:#?}"
    );
}

#[tokio::test]
async fn message_rejected_after_the_final_dot() {
    fails_with(
        "data-554",
        "when DATA\n    S: 354 go ahead\n    S: 554 5.7.1 rejected as spam\n",
        "DATA",
        69,
        &["554 5.7.1 rejected as spam"],
        "the server rejected the message",
    )
    .await;
}

#[tokio::test]
async fn connection_dropped_during_data_is_temporary() {
    let dir = TempDir::new("data-dropped");
    let server = server(inline("when DATA\n    S: 354 go\n    close\n")).await;
    let run = email_test(&dir, &Candidate::plain(server.port()), &[]).await;
    assert_failed(&run, &dir, 75, "DATA");
    // Whether the client sees an orderly close or a reset is a race, as with any real server
    // that hangs up mid-DATA: if the message's bytes reach the server before it closes, its
    // kernel answers the unread data with RST. Both are the same temporary failure.
    let closed = "the server closed the connection";
    let broke = "the connection broke: ";
    assert!(
        run.stderr
            .contains(&format!("This is a temporary failure: {closed}."))
            || run
                .stderr
                .contains(&format!("This is a temporary failure: {broke}")),
        "{run:#?}"
    );
    let log = dir.log();
    assert!(
        log.contains(&format!("Connection lost: {closed}\n"))
            || log.contains(&format!("Connection lost: {broke}")),
        "{log}"
    );
}

#[tokio::test]
async fn a_greeting_slower_than_the_timeout_is_temporary() {
    let dir = TempDir::new("slow-greeting");
    let server = server(inline("pause 3s\nS: 220 slow.test ESMTP\n")).await;
    let candidate = Candidate::plain(server.port()).set_raw("timeout_secs", "1");
    let started = std::time::Instant::now();
    let run = email_test(&dir, &candidate, &[]).await;
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2900),
        "gave up after the timeout, not the pause"
    );
    assert_failed(&run, &dir, 75, "GREETING");
    assert!(
        run.stderr.contains("no reply from the server within 1s"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("implicit TLS"), "{run:#?}");
}

#[tokio::test]
async fn connection_refused_is_temporary() {
    let dir = TempDir::new("refused");
    let run = email_test(&dir, &Candidate::plain(closed_port()), &[]).await;
    assert_failed(&run, &dir, 75, "CONNECT");
    assert!(run.stderr.contains("refused the connection"), "{run:#?}");
    assert!(
        run.stderr.contains("check the server address and port"),
        "{run:#?}"
    );
    assert!(
        dir.log().contains("Connection to 127.0.0.1:"),
        "{}",
        dir.log()
    );
}

#[tokio::test]
async fn multi_line_replies_reach_the_admin_at_every_step() {
    struct Case {
        name: &'static str,
        scenario: &'static str,
        step: &'static str,
        exit: i32,
        lines: &'static [&'static str],
    }
    let cases = [
        Case {
            name: "greeting",
            scenario: "S: 554-mx.test no SMTP service here\nS: 554 5.7.1 go away\nclose\n",
            step: "GREETING",
            exit: 69,
            lines: &["554-mx.test no SMTP service here", "554 5.7.1 go away"],
        },
        Case {
            name: "ehlo",
            scenario: "when EHLO\n    S: 550-5.7.1 EHLO refused\n    S: 550 5.7.1 for you\n\
                       when HELO\n    S: 550-5.7.1 HELO refused\n    S: 550 5.7.1 as well\n",
            step: "EHLO",
            exit: 69,
            lines: &["550-5.7.1 HELO refused", "550 5.7.1 as well"],
        },
        Case {
            name: "starttls",
            scenario: "certificate valid\nwhen STARTTLS\n    S: 454-4.7.0 TLS not available\n    S: 454 4.7.0 try later\n",
            step: "STARTTLS",
            exit: 75,
            lines: &["454-4.7.0 TLS not available", "454 4.7.0 try later"],
        },
        Case {
            name: "auth",
            scenario: "certificate valid\nwhen AUTH\n    S: 535-5.7.8 Username and Password not accepted.\n    S: 535 5.7.8 Learn more\n",
            step: "AUTH",
            exit: 69,
            lines: &[
                "535-5.7.8 Username and Password not accepted.",
                "535 5.7.8 Learn more",
            ],
        },
        Case {
            name: "mail",
            scenario: "certificate valid\nwhen MAIL\n    S: 550-5.7.1 sender refused\n    S: 550 5.7.1 see policy\n",
            step: "MAIL",
            exit: 69,
            lines: &["550-5.7.1 sender refused", "550 5.7.1 see policy"],
        },
        Case {
            name: "rcpt",
            scenario: "certificate valid\nwhen RCPT\n    S: 452-4.5.3 too many recipients\n    S: 452 4.5.3 come back later\n",
            step: "RCPT",
            exit: 75,
            lines: &["452-4.5.3 too many recipients", "452 4.5.3 come back later"],
        },
        Case {
            name: "data-command",
            scenario: "certificate valid\nwhen DATA\n    S: 554-5.5.1 no DATA\n    S: 554 5.5.1 today\n",
            step: "DATA",
            exit: 69,
            lines: &["554-5.5.1 no DATA", "554 5.5.1 today"],
        },
        Case {
            name: "data-final",
            scenario: "certificate valid\nwhen DATA\n    S: 354 go ahead\n    S: 554-5.7.1 rejected\n    S: 554 5.7.1 as spam\n",
            step: "DATA",
            exit: 69,
            lines: &["554-5.7.1 rejected", "554 5.7.1 as spam"],
        },
    ];
    for case in cases {
        let dir = TempDir::new(case.name);
        // Anything not scripted gets the server's defaults (AUTH is accepted).
        let server = server(inline(case.scenario)).await;
        let run = email_test(&dir, &Candidate::new(server.port()), &[]).await;
        assert_failed(&run, &dir, case.exit, case.step);
        let mut shown = String::new();
        for line in case.lines {
            shown.push_str(&format!("    {line}\n"));
        }
        assert!(
            run.stderr.contains(&shown),
            "{}: {shown:?} not in {run:#?}",
            case.name
        );
    }
}

#[tokio::test]
async fn helo_is_used_when_ehlo_is_refused() {
    let dir = TempDir::new("helo");
    let server = server(inline(
        "when EHLO\n    S: 502 5.5.2 Error: command not recognized\n",
    ))
    .await;
    let candidate = Candidate::plain(server.port());
    let run = email_test(&dir, &candidate, &[]).await;
    assert_sent(&run, &dir, &candidate);
    assert!(
        dir.log()
            .contains("<- \"HELO appliance.example.com\\r\\n\"")
    );
}

#[tokio::test]
async fn a_failed_test_keeps_the_active_settings() {
    let dir = TempDir::new("keep-active");
    let good = server(inline(ACCEPT_ALICE)).await;
    let first = Candidate::new(good.port());
    assert_sent(&email_test(&dir, &first, &[]).await, &dir, &first);

    let bad = server(inline(
        "certificate valid\nwhen AUTH\n    S: 535 5.7.8 no\n",
    ))
    .await;
    let second = Candidate::new(bad.port()).set("password", "wrong");
    let run = email_test(&dir, &second, &[]).await;
    assert_eq!(run.code, 69, "{run:#?}");
    assert_eq!(
        std::fs::read_to_string(dir.active_settings()).unwrap(),
        first.toml(),
        "the active settings are untouched"
    );

    // Without --settings, the active settings are tested.
    let data_dir = dir.data_dir();
    let run = appliance(&[
        "--data-dir",
        data_dir.to_str().unwrap(),
        "email",
        "test",
        "--to",
        "admin@example.com",
    ])
    .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        good.wait_for_messages(2, WAIT)
            .await
            .expect("two messages")
            .len(),
        2
    );
}

#[tokio::test]
async fn invalid_settings_are_refused_before_connecting() {
    let dir = TempDir::new("invalid-candidate");
    let server = server(inline(ACCEPT_ALICE)).await;
    let candidate = Candidate::new(server.port())
        .set_raw("port", "0")
        .set("encryption", "ssl");
    let run = email_test(&dir, &candidate, &[]).await;
    assert_eq!(run.code, 78, "{run:#?}");
    assert!(
        run.stderr.contains("email.port: must be 1-65535, got 0"),
        "{run:#?}"
    );
    assert!(
        run.stderr
            .contains("email.encryption: unknown value \"ssl\""),
        "{run:#?}"
    );
    assert!(run.stderr.contains("Settings were not saved."));
    assert!(!dir.active_settings().exists());
    assert!(dir.log().is_empty(), "no conversation: {}", dir.log());

    let run = email_test(&dir, &candidate, &["--json"]).await;
    assert_eq!(run.code, 78);
    let json: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(json["outcome"], "invalid_settings");
    assert_eq!(json["errors"][0]["field"], "email.port");
}

#[tokio::test]
async fn unreadable_candidate_and_bad_recipient() {
    let dir = TempDir::new("unreadable");
    let data_dir = dir.data_dir();
    let missing = dir.path().join("missing.toml");
    let run = appliance(&[
        "--data-dir",
        data_dir.to_str().unwrap(),
        "email",
        "test",
        "--to",
        "admin@example.com",
        "--settings",
        missing.to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.code, 78, "{run:#?}");
    assert!(run.stderr.contains("cannot read"), "{run:#?}");

    let candidate = Candidate::plain(closed_port());
    let file = candidate.write(&dir);
    let run = appliance(&[
        "--data-dir",
        data_dir.to_str().unwrap(),
        "email",
        "test",
        "--to",
        "not an address",
        "--settings",
        file.to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.code, 64, "{run:#?}");
    assert!(
        run.stderr.contains("is not a valid email address"),
        "{run:#?}"
    );
}

#[tokio::test]
async fn success_as_json() {
    let dir = TempDir::new("success-json");
    let server = server(inline(ACCEPT_ALICE)).await;
    let candidate = Candidate::new(server.port());
    let run = email_test(&dir, &candidate, &["--json"]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    let json: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(json["outcome"], "success");
    assert_eq!(json["settings_saved"], true);
    assert!(dir.active_settings().exists());
}
