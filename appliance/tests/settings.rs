//! Settings: `appliance settings validate` as an administrator runs it, and the typed settings
//! the library reads.

mod common;

use std::time::Duration;

use appliance::settings::{Encryption, Mechanism, Problem, Settings, SettingsError, SupportLink};
use common::*;

fn parse(text: &str) -> Result<Settings, SettingsError> {
    Settings::parse(text, "test.toml")
}

/// The messages of every bad value, as `field: problem`.
fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Err(e) => e.field_errors().iter().map(ToString::to_string).collect(),
        Ok(s) => panic!("expected errors, got {s:?}"),
    }
}

async fn validate(dir: &TempDir, text: &str) -> Run {
    let file = dir.write("settings.toml", text);
    appliance(&["settings", "validate", "--file", file.to_str().unwrap()]).await
}

#[tokio::test]
async fn a_valid_file_passes() {
    let dir = TempDir::new("valid");
    let run = validate(&dir, &Candidate::new(587).toml()).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout.ends_with(": the settings are valid\n"),
        "{run:#?}"
    );
    assert!(run.stderr.is_empty());
}

#[tokio::test]
async fn the_data_directory_file_is_the_default() {
    let dir = TempDir::new("default-file");
    std::fs::create_dir_all(dir.data_dir()).unwrap();
    std::fs::write(dir.active_settings(), "hostname = \"a.example\"\n").unwrap();
    let data_dir = dir.data_dir();
    let run = appliance(&[
        "--data-dir",
        data_dir.to_str().unwrap(),
        "settings",
        "validate",
    ])
    .await;
    assert_eq!(run.code, 0, "{run:#?}");

    let run = appliance(&[
        "settings",
        "validate",
        "--data-dir",
        "/nonexistent-appliance-dir",
    ])
    .await;
    assert_eq!(run.code, 78, "{run:#?}");
    assert!(
        run.stderr
            .contains("cannot read /nonexistent-appliance-dir/settings.toml"),
        "{run:#?}"
    );
}

#[tokio::test]
async fn every_bad_value_is_reported_at_once_with_its_field() {
    let dir = TempDir::new("all-errors");
    let text = r#"
colour = "blue"

[email]
enabled = "yes"
address = "smtp..gmail.com"
port = 0
domain = "bad_domain"
encryption = "ssl"
authentication = "login"
ca_file = "/nonexistent/ca.pem"
noreply_address = "noreply"
support = "ftp://x"
timeout_secs = 0
smtp_server = "x"
"#;
    let run = validate(&dir, text).await;
    assert_eq!(run.code, 78, "{run:#?}");
    let path = dir.path().join("settings.toml");
    let errors = [
        "hostname: is required",
        "colour: unknown setting",
        "email.enabled: expected true or false, got a string",
        "email.address: must be a host name or an IP address, got \"smtp..gmail.com\" (it has an empty label (two dots in a row, or a dot at an end))",
        "email.port: must be 1-65535, got 0",
        "email.domain: must be a host name like appliance.example.com, got \"bad_domain\" (only letters, digits, hyphens and dots are allowed)",
        "email.encryption: unknown value \"ssl\" (expected none, starttls, starttls-opportunistic, tls)",
        "email.username: is required when email.authentication is login",
        "email.password: is required when email.authentication is login",
        "email.ca_file: cannot read /nonexistent/ca.pem: No such file or directory (os error 2)",
        "email.noreply_address: must be an email address, got \"noreply\" (it has no @)",
        "email.support: must be an email address or a URL starting with http:// or https://, got \"ftp://x\"",
        "email.timeout_secs: must be 1-3600, got 0",
        "email.smtp_server: unknown setting",
    ];
    let mut expected = format!("{} has 14 invalid setting(s):\n", path.display());
    for e in errors {
        expected.push_str(&format!("  {e}\n"));
    }
    assert_eq!(run.stderr, expected);
    assert!(run.stdout.is_empty());
}

#[test]
fn wrong_types_name_the_type_but_never_echo_a_password() {
    let text = Candidate::new(587)
        .set("port", "587")
        .set_raw("password", "12345678")
        .toml();
    assert_eq!(
        errors(&text),
        [
            "email.port: expected an integer, got a string",
            "email.password: expected a string, got an integer",
        ]
    );
    let text = Candidate::new(587).set("password", "").toml();
    assert_eq!(errors(&text), ["email.password: must not be empty"]);
}

#[test]
fn credentials_without_authentication_are_refused() {
    let text = Candidate::new(587).set("authentication", "none").toml();
    let why =
        "is set, but email.authentication is none (remove it, or choose plain, login or cram-md5)";
    assert_eq!(
        errors(&text),
        [
            format!("email.username: {why}"),
            format!("email.password: {why}")
        ]
    );
    let text = Candidate::new(587).set("authentication", "xoauth2").toml();
    assert_eq!(
        errors(&text),
        ["email.authentication: unknown value \"xoauth2\" (expected none, plain, login, cram-md5)"]
    );
}

#[test]
fn ca_file_must_be_an_absolute_pem_file_of_certificates() {
    let text = Candidate::new(587).set("ca_file", "certs/ca.pem").toml();
    assert_eq!(
        errors(&text),
        ["email.ca_file: must be an absolute path, got \"certs/ca.pem\""]
    );
    let readme = repo("certs/README.md");
    let text = Candidate::new(587).set("ca_file", &readme).toml();
    let errs = errors(&text);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].contains("holds no certificate"), "{errs:?}");
    // A key is PEM, but not a certificate.
    let key = repo("certs/ca.key.pem");
    let errs = errors(&Candidate::new(587).set("ca_file", &key).toml());
    assert!(errs[0].contains("holds no certificate"), "{errs:?}");
}

#[test]
fn addresses_and_support_links() {
    for (support, expected) in [
        (
            "https://support.example.com/x",
            SupportLink::Url("https://support.example.com/x".into()),
        ),
        (
            "http://intranet/help",
            SupportLink::Url("http://intranet/help".into()),
        ),
        (
            "help@example.com",
            SupportLink::Email("help@example.com".into()),
        ),
    ] {
        let s = parse(&Candidate::new(587).set("support", support).toml()).unwrap();
        assert_eq!(s.email.unwrap().support, Some(expected));
    }
    for bad in [
        "https://",
        "www.example.com",
        "mailto:help@example.com",
        "ftp://x",
    ] {
        let errs = errors(&Candidate::new(587).set("support", bad).toml());
        assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
        assert!(errs[0].starts_with("email.support: must be an email address or a URL"));
    }
    let s = parse(&Candidate::new(587).set("address", "[::1]").toml()).unwrap();
    assert_eq!(s.email.unwrap().address, "::1");
    for bad in ["300.1.1.1", "smtp.gmail.com:587", "-smtp.example", ""] {
        let errs = errors(&Candidate::new(587).set("address", bad).toml());
        assert!(
            errs[0].starts_with("email.address: must be a host name or an IP address"),
            "{bad}: {errs:?}"
        );
    }
    let errs = errors(
        &Candidate::new(587)
            .set("noreply_address", "Appliance <noreply@x.example>")
            .toml(),
    );
    assert!(
        errs[0].contains("without a name or angle brackets"),
        "{errs:?}"
    );
}

#[test]
fn defaults_and_typed_values() {
    let s = parse(
        "hostname = \"appliance.example.com\"\n[email]\naddress = \"smtp.example.com\"\nport = 25\nnoreply_address = \"noreply@appliance.example.com\"\n",
    )
    .unwrap();
    let e = s.email.unwrap();
    assert!(!e.enabled && !e.discard_to_noreply);
    assert_eq!(e.encryption, Encryption::StartTls, "secure by default");
    assert_eq!(e.auth, None);
    assert_eq!(e.domain, "appliance.example.com", "EHLO uses the host name");
    assert_eq!(e.timeout, Duration::from_secs(30));
    assert_eq!(e.support, None);

    let s = parse(
        &Candidate::new(465)
            .set("authentication", "cram-md5")
            .set("domain", "mx.example.com")
            .toml(),
    )
    .unwrap();
    let e = s.email.unwrap();
    let auth = e.auth.unwrap();
    assert_eq!(auth.mechanism, Mechanism::CramMd5);
    assert_eq!(auth.username, USER);
    assert_eq!(auth.password.expose(), PASSWORD);
    assert_eq!(
        format!("{:?}", auth.password),
        "[redacted]",
        "Debug never shows it"
    );
    assert_eq!(e.domain, "mx.example.com");

    assert_eq!(parse("hostname = \"a.example\"\n").unwrap().email, None);
}

#[test]
fn syntax_errors_say_where() {
    let err = parse("hostname = \"a.example\"\n[email\n").unwrap_err();
    assert!(matches!(err, SettingsError::Syntax { .. }), "{err:?}");
    assert!(err.to_string().contains("line 2"), "{err}");
    let err = parse("hostname = \"a\"\nhostname = \"b\"\n").unwrap_err();
    assert!(
        matches!(err, SettingsError::Syntax { .. }),
        "duplicate keys: {err:?}"
    );
    let err = parse("email = 3\n").unwrap_err();
    assert_eq!(
        err.field_errors()
            .iter()
            .map(|e| (e.field.as_str(), e.problem.clone()))
            .collect::<Vec<_>>(),
        [
            ("hostname", Problem::Missing),
            (
                "email",
                Problem::WrongType {
                    expected: "a table ([email])",
                    got: "an integer"
                }
            )
        ]
    );
}

#[tokio::test]
async fn syntax_errors_exit_78() {
    let dir = TempDir::new("syntax");
    let run = validate(&dir, "hostname = \n").await;
    assert_eq!(run.code, 78, "{run:#?}");
    assert!(run.stderr.contains("is not valid TOML"), "{run:#?}");
}

#[tokio::test]
async fn usage_errors_exit_64() {
    let run = appliance(&["settings", "frobnicate"]).await;
    assert_eq!(run.code, 64, "{run:#?}");
    let run = appliance(&["--help"]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("email"), "{run:#?}");
}
