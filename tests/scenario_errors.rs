//! A broken scenario is refused when loaded, with an error naming file, line (and column) and
//! what was expected; a scenario that cannot be played is refused too.

mod common;

use smtp_harness::Scenario;

fn error(text: &str) -> String {
    Scenario::parse(text, "x.scn")
        .expect_err("refused")
        .to_string()
}

#[test]
fn syntax_errors_name_line_column_and_what_was_expected() {
    for (text, expected) in [
        (
            "S: 25O ok\n",
            r#"x.scn:1:4: expected a reply line: a code from 200 to 599, then '-', ' ' or the end of the line, found "25O ok""#,
        ),
        (
            "S: 250-first\nC: EHLO *\n",
            r#"x.scn:1:4: expected a last line `250 text` to end the reply begun at line 1, found "250-first""#,
        ),
        (
            "S: 220 hi\nfoo bar\n",
            r#"x.scn:2:1: expected a setting (name, hostname, certificate, implicit-tls, timeout, size, role), a step (S:, C:, raw, tls, pause, close, message, slow), `when`, `expect`, `sender` or `outcome`, found "foo""#,
        ),
        (
            "certificate shiny\n",
            r#"x.scn:1:13: expected a certificate variant (valid, expired, wrong-host, self-signed, unknown-ca), found "shiny""#,
        ),
        (
            "S: 220 hi\npause soon\n",
            r#"x.scn:2:7: expected a duration such as 500ms, 2s or 1m, found "soon""#,
        ),
        (
            "when FROB\n    S: 250 ok\n",
            r#"x.scn:1:6: expected an SMTP command after `when` (EHLO, HELO, MAIL, RCPT, DATA, BDAT, RSET, NOOP, QUIT, VRFY, EXPN, HELP, STARTTLS, AUTH, ETRN), found "FROB""#,
        ),
        (
            "when RCPT #0\n    S: 452 no\n",
            r##"x.scn:1:11: expected a count from 1 after '#', as in `#2`, found "#0""##,
        ),
        (
            "when RCPT\n    frobnicate\n",
            r#"x.scn:2:5: expected a rule action: S:, raw, tls, pause or close, found "frobnicate""#,
        ),
        (
            "expect sometimes\n",
            r#"x.scn:1:8: expected a command verb (AUTH), a quoted command line glob ("MAIL FROM:<*>"), a reply code (535) or tls, found "sometimes""#,
        ),
        (
            "expect AUTH whenever\n",
            r#"x.scn:1:13: expected `times N`, `before X`, `after X` or the end of the line, found "whenever""#,
        ),
        (
            "expect closed by nobody\n",
            r#"x.scn:1:18: expected `client` or `server`, found "nobody""#,
        ),
        (
            "expect \"MAIL FROM:<*\n",
            r#"x.scn:1:8: expected a closing '"', found the end of the line"#,
        ),
        (
            "    S: 250 ok\n",
            r#"x.scn:1:1: expected a setting, step, `when`, `expect`, `sender` or `outcome` at the start of the line (only the bodies of `when` and `sender` are indented), found "S: 250 ok""#,
        ),
        (
            "sender postfix\n",
            r#"x.scn:1:8: expected a sender: appliance, lettre, curl, swaks or command, found "postfix""#,
        ),
        (
            "sender lettre\n    encryption ssl\n",
            r#"x.scn:2:16: expected none, starttls, starttls-opportunistic or tls, found "ssl""#,
        ),
        (
            "sender lettre\n    auth digest-md5\n",
            r#"x.scn:2:10: expected none, plain, login or cram-md5, found "digest-md5""#,
        ),
        (
            "sender lettre\n    colour blue\n",
            r#"x.scn:2:5: expected a sender setting: encryption, auth, user, password, from, to, timeout, trust, known or run, found "colour""#,
        ),
        (
            "outcome maybe\n",
            r#"x.scn:1:9: expected `success`, `failure [at STEP] [CODE]`, `refused cleartext-auth` or `refused certificate`, found "maybe""#,
        ),
        (
            "outcome failure at LOGIN\n",
            r#"x.scn:1:20: expected a step: GREETING, EHLO, STARTTLS, TLS, AUTH, MAIL, RCPT or DATA, found "LOGIN""#,
        ),
        (
            "outcome failure at AUTH 250\n",
            r#"x.scn:1:25: expected a reply code from 400 to 599, found "250""#,
        ),
    ] {
        assert_eq!(error(text), expected, "for {text:?}");
    }
}

#[test]
fn unplayable_scenarios_are_refused_when_loaded() {
    for (text, expected) in [
        (
            "S: 220 hi\nC: STARTTLS\nS: 220 go\ntls\n",
            "x.scn:4: `tls` needs a certificate: add `certificate valid` (or expired, wrong-host, self-signed, unknown-ca) before the script",
        ),
        (
            "implicit-tls\n",
            "x.scn:1: `implicit-tls` needs a certificate: add `certificate valid` (or expired, wrong-host, self-signed, unknown-ca) before the script",
        ),
        (
            "certificate valid\nS: 220 hi\nC: STARTTLS\nS: 220 go\nC: EHLO *\n",
            "x.scn:4: a 220 to STARTTLS must be followed by `tls` (or `pause`/`close` to fake a stalled handshake)",
        ),
        (
            "C: EHLO *\nS: 250 hi\n",
            "x.scn:1: the script must start with the server's greeting (S: lines) before the first C: line",
        ),
        (
            "S: 220 hi\nclose\nC: EHLO *\n",
            "x.scn:3: this step can never run: the script closes the connection at line 2",
        ),
        (
            "when RCPT\n    S: 250 ok\nwhen RCPT #2\n    S: 452 no\n",
            "x.scn:3: this rule can never match: the rule at line 1 answers every RCPT first (put the more specific rule first)",
        ),
        (
            "when AUTH NTLM user=a password=b\n    S: 235 ok\n",
            "x.scn:1: this rule can never match: the server cannot check credentials sent with NTLM (it can with PLAIN, LOGIN, CRAM-MD5, XOAUTH2)",
        ),
        (
            "when EHLO tls\n    S: 250 hi\n",
            "x.scn:1: this rule can never match: a TLS session needs a certificate: add `certificate valid` (or expired, wrong-host, self-signed, unknown-ca) before the script",
        ),
        (
            "when QUIT\n    close\n    S: 221 bye\n",
            "x.scn:1: nothing can follow `close` in a rule",
        ),
        (
            "S: 220 hi\nwhen RCPT\n    S: 250 ok\nS: 250 more\n",
            "x.scn:4: script steps must come before the first `when` rule (indent this line to make it part of the rule above)",
        ),
        (
            "S: 220 hi\nhostname late.example\n",
            "x.scn:2: settings such as `hostname` must come before the script and the rules",
        ),
        (
            "certificate valid\nwhen STARTTLS\n    S: 220 go ahead\n",
            "x.scn:2: a 220 to STARTTLS must be followed by `tls` (or `pause`/`close` to fake a stalled handshake)",
        ),
        (
            "sender command\n",
            "x.scn:1: the `command` sender needs a `run PROGRAM ARGS…` line in the sender block",
        ),
        (
            "sender lettre\n    run echo hi\n",
            "x.scn:1: a `run` line is only for the `command` sender: add `command` to the sender line",
        ),
        (
            "sender lettre\n    auth plain\n",
            "x.scn:1: `auth plain` needs `user` and `password` lines",
        ),
        (
            "outcome success\noutcome success\n",
            "x.scn:2: a scenario has one `outcome` line",
        ),
    ] {
        assert_eq!(error(text), expected, "for {text:?}");
    }
}

#[test]
fn a_missing_file_is_named() {
    let e = Scenario::from_file("no/such/file.scn")
        .expect_err("missing")
        .to_string();
    assert!(e.starts_with("no/such/file.scn: "), "{e}");
}

#[test]
fn every_shipped_scenario_loads() {
    let mut stack = vec![common::repo("scenarios")];
    let mut count = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "scn") {
                Scenario::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
                count += 1;
            }
        }
    }
    assert!(count >= 8, "found only {count} scenarios");
}

#[test]
fn a_scenario_reads_the_way_the_docs_say() {
    let s: Scenario = "name Demo\nhostname mx.example\ncertificate valid\ntimeout 5s\nsize 1000\n\
        S: 220 mx.example ESMTP\nC: EHLO *\nS: 250-mx.example\nS: 250 STARTTLS\n\
        when AUTH LOGIN user=alice password=s3cret tls\n    S: 235 2.7.0 ok\n\
        when RCPT TO:<*@other.example> #2\n    pause 10ms\n    S: 550 5.7.1 no relay\n\
        expect STARTTLS before AUTH\nexpect QUIT after 535\nexpect messages 1\nexpect \"MAIL FROM:<*>*\" times 1\n"
        .parse()
        .expect("parses");
    assert_eq!(s.name, "Demo");
    assert_eq!(s.hostname, "mx.example");
    assert_eq!(s.idle_timeout, std::time::Duration::from_secs(5));
    assert_eq!(s.max_size, 1000);
    assert_eq!(s.script.len(), 3, "greeting, C: EHLO, one two-line reply");
    assert_eq!(s.rules.len(), 2);
    assert_eq!(s.rules[0].auth.user.as_deref(), Some("alice"));
    assert_eq!(s.rules[0].auth.mechanism.as_deref(), Some("LOGIN"));
    assert_eq!(s.rules[0].tls, Some(true));
    assert_eq!(s.rules[1].nth, Some(2));
    assert_eq!(
        s.rules[1].args.as_ref().map(|p| p.as_str()),
        Some("TO:<*@other.example>")
    );
    assert_eq!(s.rules[1].actions.len(), 2);
    assert_eq!(s.expectations.len(), 4);
    assert_eq!(s.expectations[3].line, 18);
}
