//! Settings: `name`, `hostname`, `certificate`, `implicit-tls`, `timeout` (both roles), `size`
//! and `wording` (the server's), and `role`, which is read before any other line.

use super::lexer::{Word, duration, split_words};
use super::{Draft, Origin};
use crate::certs::CertVariant;
use crate::scenario::{ScenarioError, Wording};

/// The keywords of the settings.
pub(super) const KEYWORDS: [&str; 8] = [
    "name",
    "hostname",
    "certificate",
    "implicit-tls",
    "timeout",
    "size",
    "role",
    "wording",
];

/// Which side of the conversation a scenario plays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(in crate::scenario) enum Role {
    /// The fake server: `S:` lines are sent, `C:` lines are awaited.
    #[default]
    Server,
    /// A remote MTA (`smtp-harness send`): `C:` lines are sent, `S:` lines are globs the
    /// server's replies must match (each `S:` one reply, matched on its last line).
    Client,
}

/// Keywords that start the script or the rules: a `role` line after one of them is refused
/// where it stands, so it does not decide the role.
const BODY_KEYWORDS: [&str; 9] = [
    "C:", "raw", "tls", "pause", "close", "message", "slow", "when", "default",
];

/// The role of a file's persona lines: the last well-formed `role` line before the script
/// and the rules (settings come first; a malformed one is reported when its line is read).
/// With `want`, a scenario of the other role is refused, naming its `role` line and the
/// command that plays it.
pub(super) fn role_of(
    lines: &[(usize, &str)],
    origin: Origin<'_>,
    want: Option<Role>,
) -> Result<Role, ScenarioError> {
    let mut role = Role::Server;
    let mut role_line = None;
    for &(n, raw) in lines {
        if raw.starts_with(char::is_whitespace) || raw.starts_with('#') {
            continue;
        }
        if raw.starts_with("S:") {
            break;
        }
        let Ok(words) = split_words(origin, n, raw.trim_end(), 1) else {
            continue;
        };
        match words.as_slice() {
            [keyword, ..] if BODY_KEYWORDS.contains(&keyword.text) => break,
            [keyword, value] if keyword.text == "role" => {
                role = match value.text {
                    "server" => Role::Server,
                    "client" => Role::Client,
                    _ => continue,
                };
                role_line = Some(n);
            }
            _ => {}
        }
    }
    match (want, role) {
        (Some(Role::Server), Role::Client) => Err(origin.invalid(
            role_line.unwrap_or(1),
            "`role client`: this scenario plays a remote MTA, not a server: play it with `smtp-harness send`",
        )),
        (Some(Role::Client), Role::Server) => Err(origin.invalid(
            role_line.unwrap_or(1),
            "this scenario plays the server (it has no `role client` line): serve it with `smtp-harness serve`, or add `role client` to its settings to play a remote MTA",
        )),
        _ => Ok(role),
    }
}

/// Applies a setting line (`keyword` one of [`KEYWORDS`]; `rest_text` is the line after it).
pub(super) fn apply(
    draft: &mut Draft,
    origin: Origin<'_>,
    n: usize,
    keyword: &Word<'_>,
    rest: &[Word<'_>],
    rest_text: &str,
) -> Result<(), ScenarioError> {
    let end = keyword.column + keyword.text.len() + 1;
    let one = |what: &str| -> Result<&Word<'_>, ScenarioError> {
        match rest {
            [w] => Ok(w),
            [] => Err(origin.syntax(n, end, what, "")),
            [_, extra, ..] => {
                Err(origin.syntax(n, extra.column, "the end of the line", extra.text))
            }
        }
    };
    if matches!(keyword.text, "size" | "wording") && matches!(draft, Draft::Client(_)) {
        return Err(origin.invalid(
            n,
            format!(
                "`{}` is a server setting: a client scenario (`role client`) has no built-in replies",
                keyword.text
            ),
        ));
    }
    let header = draft.header_mut();
    match keyword.text {
        "name" => {
            if rest_text.is_empty() {
                return Err(origin.syntax(n, end, "a name for the scenario", ""));
            }
            header.name = rest_text.to_owned();
        }
        "hostname" => header.hostname = one("a host name")?.text.to_owned(),
        "certificate" => {
            const WHAT: &str =
                "a certificate variant (valid, expired, wrong-host, self-signed, unknown-ca)";
            let w = one(WHAT)?;
            let variant = CertVariant::from_name(w.text)
                .ok_or_else(|| origin.syntax(n, w.column, WHAT, w.text))?;
            header.certificate = Some(variant);
        }
        // The role was read first (`role_of`); here the line is only checked.
        "role" => {
            let w = one("`server` or `client`")?;
            if !matches!(w.text, "server" | "client") {
                return Err(origin.syntax(n, w.column, "`server` or `client`", w.text));
            }
        }
        "implicit-tls" => {
            if let Some(w) = rest.first() {
                return Err(origin.syntax(n, w.column, "the end of the line", w.text));
            }
            header.implicit_tls = true;
        }
        "timeout" => {
            let w = one("a duration such as 30s")?;
            header.idle_timeout = duration(origin, n, w)?;
        }
        "wording" => {
            const WHAT: &str = "`postfix` or `rfc` (whose texts the built-in replies use)";
            let w = one(WHAT)?;
            let wording = match w.text {
                "postfix" => Wording::Postfix,
                "rfc" => Wording::Rfc,
                other => return Err(origin.syntax(n, w.column, WHAT, other)),
            };
            if let Draft::Server(s) = draft {
                s.wording = wording;
            }
        }
        "size" => {
            let w = one("a size limit in octets")?;
            let size = w.text.parse().map_err(|_| {
                origin.syntax(n, w.column, "a size limit in octets (digits only)", w.text)
            })?;
            if let Draft::Server(s) = draft {
                s.max_size = size;
            }
        }
        _ => unreachable!("only called for settings"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Origin<'static> = Origin("t.scn");

    fn role(text: &str, want: Option<Role>) -> Result<Role, String> {
        let lines: Vec<(usize, &str)> = text.lines().enumerate().map(|(i, l)| (i + 1, l)).collect();
        role_of(&lines, AT, want).map_err(|e| e.to_string())
    }

    #[test]
    fn the_role_is_the_last_role_line_among_the_settings() {
        assert_eq!(role("name x\nS: 220 hi\n", None), Ok(Role::Server));
        assert_eq!(
            role("name x\nrole client\nS: 220*\n", None),
            Ok(Role::Client)
        );
        assert_eq!(role("role client\nrole server\n", None), Ok(Role::Server));
        // A role line after the script does not count (it is refused when read).
        assert_eq!(role("S: 220*\nrole client\n", None), Ok(Role::Server));
        assert_eq!(role("C: EHLO x\nrole client\n", None), Ok(Role::Server));
        assert_eq!(
            role("when EHLO\n    S: 250 x\nrole client\n", None),
            Ok(Role::Server)
        );
        // Malformed role lines do not count either; an indented one is no setting.
        assert_eq!(role("role client extra\n", None), Ok(Role::Server));
        assert_eq!(role("role robot\n", None), Ok(Role::Server));
        assert_eq!(
            role("sender lettre\n    role client\n", None),
            Ok(Role::Server)
        );
    }

    #[test]
    fn the_wrong_role_is_refused_at_its_role_line_with_the_command_to_use() {
        assert_eq!(
            role("name x\n\nrole client\nS: 220*\n", Some(Role::Server)),
            Err("t.scn:3: `role client`: this scenario plays a remote MTA, not a server: play it with `smtp-harness send`".into())
        );
        assert_eq!(
            role("S: 220 hi\n", Some(Role::Client)),
            Err("t.scn:1: this scenario plays the server (it has no `role client` line): serve it with `smtp-harness serve`, or add `role client` to its settings to play a remote MTA".into())
        );
        assert_eq!(role("role client\n", Some(Role::Client)), Ok(Role::Client));
        assert_eq!(role("", Some(Role::Server)), Ok(Role::Server));
    }

    fn apply_line(role: Role, line: &str) -> Result<Draft, String> {
        let mut draft = Draft::new(role);
        let words = split_words(AT, 1, line, 1).expect("words");
        let rest_text = line[words[0].text.len()..].trim();
        apply(&mut draft, AT, 1, &words[0], &words[1..], rest_text).map_err(|e| e.to_string())?;
        Ok(draft)
    }

    fn server(line: &str) -> crate::scenario::ServerScenario {
        match apply_line(Role::Server, line) {
            Ok(Draft::Server(s)) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn settings_fill_the_header_and_the_server_settings() {
        assert_eq!(
            server("name Gmail, bad password").header.name,
            "Gmail, bad password"
        );
        assert_eq!(server("hostname mx.example").header.hostname, "mx.example");
        assert_eq!(
            server("certificate expired").header.certificate,
            Some(CertVariant::Expired)
        );
        assert!(server("implicit-tls").header.implicit_tls);
        assert_eq!(
            server("timeout 2s").header.idle_timeout,
            std::time::Duration::from_secs(2)
        );
        assert_eq!(server("size 1000").max_size, 1000);
        assert_eq!(server("wording rfc").wording, Wording::Rfc);
    }

    #[test]
    fn bad_settings_name_the_column_and_what_was_expected() {
        let error = |line| apply_line(Role::Server, line).expect_err("refused");
        assert_eq!(
            error("name"),
            "t.scn:1:6: expected a name for the scenario, found the end of the line"
        );
        assert_eq!(
            error("hostname a b"),
            r#"t.scn:1:12: expected the end of the line, found "b""#
        );
        assert_eq!(
            error("size ten"),
            r#"t.scn:1:6: expected a size limit in octets (digits only), found "ten""#
        );
        assert_eq!(
            error("role robot"),
            r#"t.scn:1:6: expected `server` or `client`, found "robot""#
        );
        assert_eq!(
            error("implicit-tls yes"),
            r#"t.scn:1:14: expected the end of the line, found "yes""#
        );
        assert_eq!(
            error("wording shakespeare"),
            r#"t.scn:1:9: expected `postfix` or `rfc` (whose texts the built-in replies use), found "shakespeare""#
        );
    }

    #[test]
    fn a_client_scenario_has_no_server_settings() {
        for line in ["size 1000", "wording rfc"] {
            let e = apply_line(Role::Client, line).expect_err("refused");
            assert!(
                e.ends_with(
                    "is a server setting: a client scenario (`role client`) has no built-in replies"
                ),
                "{e}"
            );
        }
        assert!(apply_line(Role::Client, "timeout 5s").is_ok());
    }
}
