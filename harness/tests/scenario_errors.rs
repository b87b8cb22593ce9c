//! A broken scenario is refused when loaded, with an error naming file, line (and column) and
//! what was expected; a scenario that cannot be played is refused too.

mod common;

use smtp_harness::scenario::{AnyScenario, AnyScenarioFile, ScenarioFile};
use smtp_harness::{ClientScenario, ServerScenario};

fn error(text: &str) -> String {
    AnyScenario::parse(text, "x.scn")
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
            r#"x.scn:2:1: expected a setting (name, hostname, certificate, implicit-tls, timeout, size, role, wording), a step (S:, C:, raw, tls, pause, close, message, slow), `when`, `default`, `expect`, `sender` or `outcome`, found "foo""#,
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
            "sender lettre post/fix\n",
            r#"x.scn:1:15: expected a sender: lettre, curl, swaks, command, or an adapter's name from smtp-harness.toml, found "post/fix""#,
        ),
        (
            "sender\n",
            r#"x.scn:1:8: expected a sender: lettre, curl, swaks, command, or an adapter's name from smtp-harness.toml, found the end of the line"#,
        ),
        (
            "role client\nreceiver\n",
            r#"x.scn:2:10: expected the name of a receiver adapter from smtp-harness.toml (`receiver appliance`), found the end of the line"#,
        ),
        (
            "role client\nreceiver appliance postfix\n",
            r#"x.scn:2:20: expected the end of the line, found "postfix""#,
        ),
        (
            "role client\nreceiver appliance\n    tls maybe\n",
            r#"x.scn:3:9: expected `on` or `off` after `tls`, found "maybe""#,
        ),
        (
            "role client\nreceiver appliance\n    \"a b\" c\n",
            r#"x.scn:3:5: expected a receiver setting: `tls on|off`, or a KEY (letters, digits, `-`, `_`, `.`) and its value for the adapter, found "a b""#,
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
fn each_role_refuses_the_other_roles_lines_where_they_stand() {
    for (text, expected) in [
        (
            "S: 220 hi\nmessage hello.eml\n",
            "x.scn:2: `message` is a client step: add `role client` to the settings",
        ),
        (
            "receiver appliance\n",
            "x.scn:1: `receiver` is for client scenarios: add `role client` to the settings",
        ),
        (
            "role client\nS: 220*\nwhen EHLO\n    S: 250 ok\n",
            "x.scn:3: a client scenario has no `when` rules: it plays its script",
        ),
        (
            "role client\ndefault unrecognized\n    S: 500 no\n",
            "x.scn:2: a client scenario has no `default` replies",
        ),
        (
            "role client\nS: 220*\nsender lettre\n",
            "x.scn:3: a client scenario plays the sender itself: it has no `sender` line",
        ),
        (
            "role client\nS: 220*\noutcome success\n",
            "x.scn:3: a client scenario has no `outcome`: it passes when its script and its `expect` lines hold",
        ),
        (
            "role client\nsize 1000\n",
            "x.scn:2: `size` is a server setting: a client scenario (`role client`) has no built-in replies",
        ),
        (
            "certificate valid\nrole client\nS: 220*\n",
            "x.scn:1: `certificate` and `implicit-tls` are server settings; a client scenario gets its TLS trust from `smtp-harness send --ca`",
        ),
        (
            "role client\nS: 220*\ncase a\nexpect 250\n",
            "x.scn:3: a client scenario (`role client`) has no `case` sections: write each conversation in its own file",
        ),
        (
            "S: 220 hi\nrole client\n",
            "x.scn:2: settings such as `role` must come before the script and the rules",
        ),
        (
            "S: 220 hi\nexpect files \"mail/*\" 1\n",
            r#"x.scn:2:8: expected a command verb (AUTH), a quoted command line glob ("MAIL FROM:<*>"), a reply code (535) or tls, found "files""#,
        ),
    ] {
        assert_eq!(error(text), expected, "for {text:?}");
    }
    // What a client scenario holds, where it goes.
    let client = ClientScenario::parse(
        "name c\nrole client\ntimeout 5s\nS: 220*\nC: EHLO me\nS: 250*\n\
         expect 250 times 2\nexpect files \"mail/*\" 1\n",
        "x.scn",
    )
    .expect("parses");
    assert_eq!(
        client.header.idle_timeout,
        std::time::Duration::from_secs(5)
    );
    assert_eq!(client.script.len(), 3);
    assert_eq!(client.expectations.len(), 1);
    assert_eq!(client.effects.len(), 1);
}

#[test]
fn a_loader_for_one_role_refuses_the_other_naming_the_command_that_plays_it() {
    let client = "# a remote MTA\nname c\nrole client\nS: 220*\n";
    assert_eq!(
        ServerScenario::parse(client, "c.scn")
            .expect_err("refused")
            .to_string(),
        "c.scn:3: `role client`: this scenario plays a remote MTA, not a server: play it with `smtp-harness send`"
    );
    assert_eq!(
        ScenarioFile::parse(client, "c.scn")
            .expect_err("refused")
            .to_string(),
        "c.scn:3: `role client`: this scenario plays a remote MTA, not a server: play it with `smtp-harness send`"
    );
    assert_eq!(
        ClientScenario::parse("S: 220 hi\n", "s.scn")
            .expect_err("refused")
            .to_string(),
        "s.scn:1: this scenario plays the server (it has no `role client` line): serve it with `smtp-harness serve`, or add `role client` to its settings to play a remote MTA"
    );
    assert!(matches!(
        AnyScenario::parse(client, "c.scn"),
        Ok(AnyScenario::Client(_))
    ));
    assert!(matches!(
        AnyScenarioFile::parse("S: 220 hi\ncase a\noutcome success\n", "s.scn"),
        Ok(AnyScenarioFile::Server(f)) if f.cases.len() == 1
    ));
}

#[test]
fn a_missing_file_is_named() {
    let e = ServerScenario::from_file("no/such/file.scn")
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
                // The persona and every `case` section combined with it.
                AnyScenarioFile::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
                count += 1;
            }
        }
    }
    assert!(count >= 8, "found only {count} scenarios");
}

#[test]
fn a_scenario_reads_the_way_the_docs_say() {
    let s: ServerScenario = "name Demo\nhostname mx.example\ncertificate valid\ntimeout 5s\nsize 1000\n\
        S: 220 mx.example ESMTP\nC: EHLO *\nS: 250-mx.example\nS: 250 STARTTLS\n\
        when AUTH LOGIN user=alice password=s3cret tls\n    S: 235 2.7.0 ok\n\
        when RCPT TO:<*@other.example> #2\n    pause 10ms\n    S: 550 5.7.1 no relay\n\
        expect STARTTLS before AUTH\nexpect QUIT after 535\nexpect messages 1\nexpect \"MAIL FROM:<*>*\" times 1\n"
        .parse()
        .expect("parses");
    assert_eq!(s.header.name, "Demo");
    assert_eq!(s.header.hostname, "mx.example");
    assert_eq!(s.header.idle_timeout, std::time::Duration::from_secs(5));
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

/// A persona (the part above the first `case`) with two cases, as `scenarios/vendors/` has them.
const PERSONA: &str = "name Acme\ncertificate valid\nS: 220 acme ESMTP\n\
    when AUTH user=alice password=s3cret\n    S: 235 2.7.0 ok\n\
    when AUTH\n    S: 535 5.7.8 persona says no\n\
    sender appliance lettre\n    encryption starttls\n    auth login\n    user alice\n    password s3cret\n";

fn case_error(cases: &str) -> String {
    ScenarioFile::parse(&format!("{PERSONA}{cases}"), "v.scn")
        .expect_err("refused")
        .to_string()
}

#[test]
fn a_case_combines_the_persona_with_a_failure_whose_rules_come_first() {
    let file = ScenarioFile::parse(
        &format!(
            "{PERSONA}case success\noutcome success\n\
             case bad-password\nwhen AUTH\n    S: 535 5.7.8 the case says no\n\
             expect no MAIL\nsender\n    password wrong\noutcome failure at AUTH 535\n\
             case plain-text\nsender swaks\n    encryption none\noutcome failure at MAIL 530\n"
        ),
        "v.scn",
    )
    .expect("parses");
    assert_eq!(file.persona.header.case, None);
    assert_eq!(file.persona.rules.len(), 2);
    assert_eq!(file.case_names(), ["success", "bad-password", "plain-text"]);

    let success = &file.cases[0];
    assert_eq!(success.rules, file.persona.rules);
    assert_eq!(success.sender, file.persona.sender);

    let bad = &file.cases[1];
    assert_eq!(bad.header.case.as_deref(), Some("bad-password"));
    assert_eq!(bad.header.name, "Acme");
    // The case's rule is tried before the persona's, which stay as they were.
    assert_eq!(bad.rules.len(), 3);
    assert_eq!(bad.rules[0].line, 16);
    assert_eq!(bad.rules[1..], file.persona.rules[..]);
    assert_eq!(bad.expectations.len(), 1);
    // `sender` without names overrides one setting and keeps the rest.
    let spec = bad.sender.as_ref().expect("sender");
    assert_eq!(spec.password, "wrong");
    assert_eq!(spec.user, "alice");
    assert_eq!(spec.senders.len(), 2);

    // `sender NAMES` replaces the block.
    let plain = file.cases[2].sender.as_ref().expect("sender");
    assert_eq!(plain.senders.len(), 1);
    assert_eq!(plain.user, "");
}

#[test]
fn broken_cases_are_refused_with_line_and_reason() {
    for (cases, expected) in [
        (
            "case success\n",
            "v.scn:13: case `success` has no `outcome` line: say what the sender must conclude (`outcome failure at AUTH 535`)",
        ),
        (
            "case\noutcome success\n",
            "v.scn:13:6: expected a case name such as bad-password, found the end of the line",
        ),
        (
            "case Bad_Password\noutcome success\n",
            r#"v.scn:13:6: expected a case name of lower-case letters, digits and '-', found "Bad_Password""#,
        ),
        (
            "case a\noutcome success\ncase a\noutcome success\n",
            "v.scn:15: case `a` is already defined on line 13",
        ),
        (
            "case a\nhostname other.test\noutcome success\n",
            "v.scn:14: a case holds `when` rules, `expect` lines, a `sender` override and its `outcome`; `hostname` belongs to the persona, above the first `case` line",
        ),
        (
            "case a\nS: 421 busy\noutcome success\n",
            "v.scn:14: a case holds `when` rules, `expect` lines, a `sender` override and its `outcome`; `S:` belongs to the persona, above the first `case` line",
        ),
        (
            "case a\noutcome success\noutcome failure\n",
            "v.scn:15: a case has one `outcome` line",
        ),
        (
            "case a\nwhen AUTH\n    S: 535 one\nwhen AUTH\n    S: 535 two\noutcome success\n",
            "v.scn:16: this rule can never match: the rule at line 14 answers every AUTH first (put the more specific rule first)",
        ),
        (
            "case a\nsender\n    encryption sometimes\noutcome success\n",
            r#"v.scn:15:16: expected none, starttls, starttls-opportunistic or tls, found "sometimes""#,
        ),
    ] {
        assert_eq!(case_error(cases), expected, "{cases}");
    }
    // Overriding the sender block of a persona that has none.
    let e = ScenarioFile::parse(
        "S: 220 hi\ncase a\nsender\n    auth none\noutcome success\n",
        "v.scn",
    )
    .expect_err("refused")
    .to_string();
    assert_eq!(
        e,
        "v.scn:3: this `sender` line overrides the persona's sender block, but the persona has none: name the senders (`sender appliance`)"
    );
}

#[test]
fn a_case_is_picked_by_name_and_a_missing_one_lists_the_cases() {
    let dir = std::env::temp_dir().join(format!("smtp-harness-cases-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("acme.scn");
    std::fs::write(
        &path,
        format!("{PERSONA}case success\noutcome success\ncase bad-password\nwhen AUTH\n    S: 535 no\noutcome failure at AUTH 535\n"),
    )
    .expect("write");
    let bad = ServerScenario::from_file_case(&path, "bad-password").expect("the case");
    assert_eq!(bad.header.case.as_deref(), Some("bad-password"));
    assert_eq!(bad.rules.len(), 3);
    // The file alone is the persona.
    assert_eq!(
        ServerScenario::from_file(&path)
            .expect("persona")
            .rules
            .len(),
        2
    );
    let e = ServerScenario::from_file_case(&path, "throttled")
        .expect_err("no such case")
        .to_string();
    assert!(
        e.ends_with("no case `throttled`: the file has success, bad-password"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
