//! The outcome of the checks: one line each for people, a JSON array for machines, and the
//! exit code.

use std::fmt::Write as _;

use serde::Serialize;

use crate::exit;

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked, e.g. `MX of noreply.example.com`.
    pub check: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, e.g. `MX 10 example.com` or `none (NXDOMAIN: the name does not exist)`.
    pub found: String,
    /// What is expected.
    pub expected: String,
}

/// The outcome of all checks, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether every check passed.
    pub fn all_ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// One line per check: `OK   WHAT: FOUND`, or `FAIL WHAT: FOUND (expected EXPECTED)`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            if c.ok {
                let _ = writeln!(out, "OK   {}: {}", c.check, c.found);
            } else {
                let _ = writeln!(
                    out,
                    "FAIL {}: {} (expected {})",
                    c.check, c.found, c.expected
                );
            }
        }
        out
    }

    /// A JSON array of `{check, ok, found, expected}`.
    pub fn json(&self) -> String {
        serde_json::to_string(&self.checks).expect("checks serialize")
    }

    /// 0 when every check passed, 69 (EX_UNAVAILABLE) otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.all_ok() {
            exit::OK
        } else {
            exit::UNAVAILABLE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines_say_what_was_found_and_expected() {
        let report = Report {
            checks: vec![
                Check {
                    check: "reply.h.example has an address".into(),
                    ok: true,
                    found: "A 127.0.0.1".into(),
                    expected: "an A record".into(),
                },
                Check {
                    check: "MX of noreply.h.example".into(),
                    ok: false,
                    found: "none".into(),
                    expected: "an MX record pointing to h.example".into(),
                },
            ],
        };
        assert_eq!(
            report.text(),
            "OK   reply.h.example has an address: A 127.0.0.1\n\
             FAIL MX of noreply.h.example: none (expected an MX record pointing to h.example)\n"
        );
        assert_eq!(report.exit_code(), exit::UNAVAILABLE);
        let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
        assert_eq!(json[1]["ok"], false);
        assert_eq!(json[1]["check"], "MX of noreply.h.example");
        assert_eq!(json[0]["found"], "A 127.0.0.1");
    }
}
