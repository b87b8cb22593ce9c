//! What a client scenario delivers to in `smtp-harness run`: `receiver NAME` names a receiver
//! adapter of the configuration file (`[receiver.NAME]` in `smtp-harness.toml`, see
//! [`crate::run::adapters`]), and the indented lines below it are its settings.
//!
//! ```text
//! role client
//! receiver appliance
//!     tls on                           # the harness's own: offer STARTTLS with its certificate
//!     hostname appliance.test          # everything else goes to the adapter, unread
//!     notify issue octo/widgets 42 bob bob@example.com
//! ```
//!
//! The harness understands one setting, `tls on|off`: with `on` it hands the adapter the
//! certificate and key of its `valid` variant. Every other line is a `KEY VALUE…` setting kept
//! in file order and passed to the adapter as it is (`--set=KEY=VALUE`); the adapter decides
//! what it means and refuses what it does not know when it starts.

use super::ScenarioError;
use super::keyword_line::KeywordLine;
use super::sender::AdapterName;

/// The receiver a client scenario drives in `run`, and its settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReceiverSpec {
    /// The receiver adapter's name (`appliance`).
    pub name: String,
    /// 1-based line of the `receiver` line.
    pub line: usize,
    /// Offer STARTTLS with the harness's `valid` certificate (`tls on`).
    pub tls: bool,
    /// Every other setting, in file order, for the adapter.
    pub settings: Vec<ReceiverSetting>,
}

impl ReceiverSpec {
    /// A receiver spec for the adapter `name`, with no settings (as a test would build one).
    pub fn new(name: &str) -> Self {
        ReceiverSpec {
            name: name.to_owned(),
            ..ReceiverSpec::default()
        }
    }

    /// Adds a pass-through setting: `.setting("notify", "issue octo/widgets 42 bob b@x.test")`.
    pub fn setting(mut self, key: &str, value: &str) -> Self {
        self.settings.push(ReceiverSetting {
            line: 0,
            key: key.to_owned(),
            value: value.to_owned(),
        });
        self
    }
}

/// One `KEY VALUE…` line of a `receiver` block, for the adapter.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReceiverSetting {
    /// 1-based line (0 when built in code).
    pub line: usize,
    /// The first word.
    pub key: String,
    /// The words after it, joined by one space (may be empty).
    pub value: String,
}

/// Reads the `receiver NAME` line.
pub(super) fn parse_receiver(line: &KeywordLine<'_>) -> Result<ReceiverSpec, ScenarioError> {
    const WHAT: &str =
        "the name of a receiver adapter from smtp-harness.toml (`receiver appliance`)";
    let name = line.one_value(WHAT)?;
    if !AdapterName::is_valid(name.text) {
        return Err(line.expected(&name, WHAT));
    }
    Ok(ReceiverSpec {
        name: name.text.to_owned(),
        line: line.number,
        ..ReceiverSpec::default()
    })
}

/// Applies one indented line of a `receiver` block (its key is the line's keyword).
pub(super) fn apply_setting(
    spec: &mut ReceiverSpec,
    line: &KeywordLine<'_>,
) -> Result<(), ScenarioError> {
    let key = line.keyword.text;
    if key == "tls" {
        const WHAT: &str = "`on` or `off` after `tls`";
        let value = line.one_value(WHAT)?;
        spec.tls = match value.text {
            "on" => true,
            "off" => false,
            _ => return Err(line.expected(&value, WHAT)),
        };
        return Ok(());
    }
    let well_formed = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !well_formed {
        return Err(line.expected(
            &line.keyword,
            "a receiver setting: `tls on|off`, or a KEY (letters, digits, `-`, `_`, `.`) and its value for the adapter",
        ));
    }
    spec.settings.push(ReceiverSetting {
        line: line.number,
        key: key.to_owned(),
        value: line
            .values
            .iter()
            .map(|w| w.text)
            .collect::<Vec<_>>()
            .join(" "),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receiver_block_keeps_tls_and_passes_every_other_setting_through_in_order() {
        let scenario = crate::ClientScenario::parse(
            "role client\nreceiver appliance\n    notify issue octo/widgets 42 bob bob@example.com\n    tls on\n    hostname example.test\n    flag\nS: 220*\n",
            "x.scn",
        )
        .expect("parses");
        let spec = scenario.receiver.expect("a receiver");
        assert_eq!(
            (spec.name.as_str(), spec.line, spec.tls),
            ("appliance", 2, true)
        );
        let settings: Vec<(usize, &str, &str)> = spec
            .settings
            .iter()
            .map(|s| (s.line, s.key.as_str(), s.value.as_str()))
            .collect();
        assert_eq!(
            settings,
            [
                (3, "notify", "issue octo/widgets 42 bob bob@example.com"),
                (5, "hostname", "example.test"),
                (6, "flag", ""),
            ]
        );
    }

    #[test]
    fn a_spec_built_in_code_has_the_same_shape() {
        let spec = ReceiverSpec::new("appliance").setting("size", "1000");
        assert_eq!(spec.name, "appliance");
        assert!(!spec.tls);
        assert_eq!(spec.settings[0].key, "size");
        assert_eq!(spec.settings[0].value, "1000");
    }
}
