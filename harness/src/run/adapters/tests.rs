use std::path::{Path, PathBuf};

use super::*;
use crate::scenario::{AdapterName, AnyScenario, SenderKind};

const CONFIG: &str = r#"
[sender.appliance]
run = ["appliance/harness-adapter", "send", "--host={host}", "--port={port}", "--work={work}"]

[sender.smtplib]
run = ["python3", "send.py", "{host}:{port}", "{to}"]

[receiver.appliance]
run = ["appliance/harness-adapter", "receive", "--work={work}", "--cert={cert}", "{settings}"]
"#;

fn config() -> Adapters {
    Adapters::parse(CONFIG, Path::new("/repo/smtp-harness.toml")).expect("the config parses")
}

fn values(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

fn scenario(text: &str) -> AnyScenario {
    let mut scenario = AnyScenario::parse(text, "x.scn").expect("the scenario parses");
    match &mut scenario {
        AnyScenario::Server(s) => s.header.path = Some(PathBuf::from("x.scn")),
        AnyScenario::Client(c) => c.header.path = Some(PathBuf::from("x.scn")),
    }
    scenario
}

#[test]
fn placeholders_are_filled_in_one_pass_and_unknown_ones_are_kept() {
    let v = values(&[("host", "127.0.0.1"), ("port", "2525"), ("user", "{port}")]);
    assert_eq!(
        expand("--server={host}:{port}", &v),
        "--server=127.0.0.1:2525"
    );
    // A value is never expanded again, and braces that name nothing stay as written.
    assert_eq!(expand("{user}", &v), "{port}");
    assert_eq!(expand("find {} {nope} {", &v), "find {} {nope} {");
    assert_eq!(expand("", &v), "");
}

#[test]
fn an_adapter_command_line_resolves_its_program_and_expands_settings_as_words() {
    let adapters = config();
    let sender = adapters
        .sender(AdapterName::new("appliance"), "x.scn:3")
        .expect("declared");
    let argv = sender.argv(
        &values(&[("host", "127.0.0.1"), ("port", "2525"), ("work", "/tmp/w")]),
        &[],
    );
    assert_eq!(
        argv,
        [
            "/repo/appliance/harness-adapter",
            "send",
            "--host=127.0.0.1",
            "--port=2525",
            "--work=/tmp/w"
        ]
    );
    // A bare program name is left for PATH.
    let smtplib = adapters
        .sender(AdapterName::new("smtplib"), "x.scn:3")
        .expect("declared");
    assert_eq!(smtplib.program, PathBuf::from("python3"));

    let receiver = adapters.receiver("appliance", "x.scn:2").expect("declared");
    let settings = vec![
        "--set=hostname=appliance.test".to_owned(),
        "--set=notify=issue octo/widgets 42 bob bob@example.com".to_owned(),
    ];
    let argv = receiver.argv(
        &values(&[("work", "/tmp/w"), ("cert", "")]),
        &[("settings", settings.clone())],
    );
    assert_eq!(argv[2..4], ["--work=/tmp/w", "--cert="]);
    assert_eq!(argv[4..], settings[..]);
    let none = receiver.argv(&values(&[("work", "/tmp/w")]), &[("settings", Vec::new())]);
    assert_eq!(none.len(), 4, "no settings, no words: {none:?}");
}

#[test]
fn a_scenario_naming_an_undeclared_adapter_is_refused_with_its_line_and_the_file() {
    let adapters = config();
    let ok = scenario("S: 220 hi\nsender appliance lettre smtplib\noutcome success\n");
    adapters
        .check_scenario(&ok)
        .expect("all declared or built in");

    let typo = scenario("S: 220 hi\nsender lettre appliacne\noutcome success\n");
    let e = adapters.check_scenario(&typo).expect_err("undeclared");
    assert_eq!(
        e.to_string(),
        "x.scn:2: no sender adapter `appliacne`: not built in (lettre, curl, swaks, command), and /repo/smtp-harness.toml declares only [sender.appliance], [sender.smtplib]"
    );

    let receiver = scenario("role client\nreceiver postfix\n    hostname example.test\nS: 220*\n");
    let e = adapters
        .check_scenario(&receiver)
        .expect_err("undeclared receiver");
    assert_eq!(
        e.to_string(),
        "x.scn:2: no receiver adapter `postfix`: /repo/smtp-harness.toml declares only [receiver.appliance]"
    );
}

#[test]
fn without_a_configuration_file_the_error_names_the_files_searched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let nested = dir.path().join("a/b");
    std::fs::create_dir_all(&nested).expect("dirs");
    let adapters = Adapters::discover_from(&nested).expect("nothing found is not an error");
    assert_eq!(adapters.file(), None);
    let e = adapters
        .check_sender(SenderKind::adapter("appliance"), "--sender")
        .expect_err("no adapters");
    let text = e.to_string();
    assert!(
        text.starts_with("--sender: no sender adapter `appliance`"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "searched {}, {}",
            nested.join(CONFIG_FILE).display(),
            dir.path().join("a").join(CONFIG_FILE).display()
        )),
        "{text}"
    );
    // Built-in senders need no configuration.
    adapters
        .check_sender(SenderKind::Curl, "--sender")
        .expect("built in");
}

#[test]
fn the_configuration_is_found_in_a_parent_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let nested = dir.path().join("scenarios/inbound");
    std::fs::create_dir_all(&nested).expect("dirs");
    std::fs::write(dir.path().join(CONFIG_FILE), CONFIG).expect("config");
    let adapters = Adapters::discover_from(&nested).expect("found");
    assert_eq!(
        adapters.file(),
        Some(dir.path().join(CONFIG_FILE).as_path())
    );
    let sender = adapters
        .sender(AdapterName::new("appliance"), "x")
        .expect("declared");
    assert_eq!(
        sender.program,
        dir.path().join("appliance/harness-adapter"),
        "relative to the file's folder"
    );
}

#[test]
fn a_broken_configuration_is_refused_with_the_reason() {
    let file = Path::new("/repo/smtp-harness.toml");
    let refused = |text: &str| {
        Adapters::parse(text, file)
            .expect_err("refused")
            .to_string()
    };
    let e = refused("[sender.x]\nrun = [\"prog\", \"{hots}\"]\n");
    assert!(
        e.starts_with("/repo/smtp-harness.toml: [sender.x]: unknown placeholder {hots} in \"{hots}\" (a sender has {host} {port}"),
        "{e}"
    );
    let e = refused("[receiver.x]\nrun = [\"prog\", \"{host}\"]\n");
    assert!(e.contains("unknown placeholder {host}"), "{e}");
    let e = refused("[receiver.x]\nrun = [\"prog\", \"--{settings}\"]\n");
    assert!(e.contains("{settings} stands alone as a word"), "{e}");
    let e = refused("[sender.lettre]\nrun = [\"prog\"]\n");
    assert!(e.contains("`lettre` is a built-in sender"), "{e}");
    let e = refused("[sender.x]\nrun = []\n");
    assert!(e.contains("[sender.x]: `run` needs the program"), "{e}");
    let e = refused("[sender.x]\nrun = [\"prog\"]\nstop = 3\n");
    assert!(e.contains("unknown field `stop`"), "{e}");
    let e = refused("[senders.x]\nrun = [\"prog\"]\n");
    assert!(e.contains("unknown field `senders`"), "{e}");
    let e = refused("[sender.\"a b\"]\nrun = [\"prog\"]\n");
    assert!(e.contains("an adapter's name is made of"), "{e}");
}

#[test]
fn adapter_names_are_interned_and_sort_before_the_built_in_senders() {
    assert_eq!(
        SenderKind::from_name("appliance"),
        Some(SenderKind::adapter("appliance"))
    );
    assert_eq!(
        AdapterName::new("appliance").as_str().as_ptr(),
        AdapterName::new(&String::from("appliance"))
            .as_str()
            .as_ptr()
    );
    assert_eq!(SenderKind::from_name("swaks"), Some(SenderKind::Swaks));
    assert_eq!(SenderKind::from_name("post/fix"), None);
    assert_eq!(SenderKind::from_name(""), None);
    let mut kinds = [
        SenderKind::Swaks,
        SenderKind::adapter("zeta"),
        SenderKind::Lettre,
        SenderKind::adapter("appliance"),
    ];
    kinds.sort();
    let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    assert_eq!(names, ["appliance", "zeta", "lettre", "swaks"]);
}
