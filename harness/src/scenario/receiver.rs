//! What a client scenario delivers to in `smtp-harness run`: `receiver appliance` starts the
//! appliance's inbound side (its SMTP server and its reply processor) with these settings.
//!
//! ```text
//! role client
//! receiver appliance
//!     hostname appliance.test          # reply.HOSTNAME and noreply.HOSTNAME are its domains
//!     discard-to-noreply on            # on | off
//!     tls on                           # offer STARTTLS with the test certificate
//!     size 1000000                     # the message size limit
//!     notify issue octo/widgets 42 bob bob@example.com
//!     token-age 40d                    # date the notification (and its token) 40 days ago
//! ```
//!
//! `notify KIND REPO NUMBER USER ADDRESS` makes the appliance send a notification first (to a
//! fake server) and hands its addresses to the script as `{reply_to}`, `{noreply_cc}` and
//! `{in_reply_to}`: the whole notification → reply loop.

/// The receiver a client scenario drives in `run`, and its settings.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReceiverSpec {
    /// 1-based line of the `receiver` line.
    pub line: usize,
    /// The appliance's host name.
    pub hostname: String,
    /// Drop mail addressed only to noreply.HOSTNAME.
    pub discard_to_noreply: bool,
    /// Offer STARTTLS (with the harness's `valid` certificate).
    pub tls: bool,
    /// The message size limit, if set.
    pub size: Option<u64>,
    /// A notification to send first, for the loop.
    pub notify: Option<NotifySpec>,
    /// Date that notification (and its reply token) this long ago: `token-age 40d`.
    pub token_age: Option<std::time::Duration>,
}

impl Default for ReceiverSpec {
    fn default() -> Self {
        ReceiverSpec {
            line: 0,
            hostname: "appliance.test".into(),
            discard_to_noreply: true,
            tls: false,
            size: None,
            notify: None,
            token_age: None,
        }
    }
}

/// A notification the appliance sends before the script runs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NotifySpec {
    /// `issue`, `pr` or `commit`.
    pub kind: String,
    /// `owner/name`.
    pub repo: String,
    /// The issue or pull request number, or the commit.
    pub number: String,
    /// The recipient's user name.
    pub user: String,
    /// The recipient's address.
    pub address: String,
}

/// Applies one indented line of a `receiver` block.
pub(super) fn apply_setting<'a>(
    spec: &mut ReceiverSpec,
    words: &[(usize, &'a str)],
) -> Result<(), super::sender::Problem<'a>> {
    let (col, key) = words[0];
    let values = &words[1..];
    let on_off = |what: &'a str| -> Result<bool, super::sender::Problem<'a>> {
        match values {
            [(_, "on")] => Ok(true),
            [(_, "off")] => Ok(false),
            [(c, v), ..] => Err((*c, format!("`on` or `off` after `{what}`"), v)),
            [] => Err((
                col + key.len() + 1,
                format!("`on` or `off` after `{what}`"),
                "",
            )),
        }
    };
    match key {
        "hostname" => match values {
            [(_, v)] => spec.hostname = (*v).to_owned(),
            _ => {
                return Err((
                    col + key.len() + 1,
                    "a host name".into(),
                    values.first().map_or("", |v| v.1),
                ));
            }
        },
        "discard-to-noreply" => spec.discard_to_noreply = on_off("discard-to-noreply")?,
        "tls" => spec.tls = on_off("tls")?,
        "size" => match values {
            [(c, v)] => {
                spec.size = Some(
                    v.parse()
                        .map_err(|_| (*c, "a size in octets".to_owned(), *v))?,
                )
            }
            _ => {
                return Err((
                    col + key.len() + 1,
                    "a size in octets".into(),
                    values.first().map_or("", |v| v.1),
                ));
            }
        },
        "token-age" => match values {
            [(c, v)] => {
                let age = super::parse::parse_duration(v);
                spec.token_age = Some(age.ok_or((*c, "a duration such as 40d".to_owned(), *v))?);
            }
            _ => {
                return Err((
                    col + key.len() + 1,
                    "a duration such as 40d".into(),
                    values.first().map_or("", |v| v.1),
                ));
            }
        },
        "notify" => match values {
            [(c, kind), (_, repo), (_, number), (_, user), (_, address)] => {
                if !matches!(*kind, "issue" | "pr" | "commit") {
                    return Err((*c, "issue, pr or commit".into(), kind));
                }
                spec.notify = Some(NotifySpec {
                    kind: (*kind).to_owned(),
                    repo: (*repo).to_owned(),
                    number: (*number).to_owned(),
                    user: (*user).to_owned(),
                    address: (*address).to_owned(),
                });
            }
            _ => {
                return Err((
                    values.first().map_or(col + key.len() + 1, |v| v.0),
                    "KIND REPO NUMBER USER ADDRESS, as in `notify issue octo/widgets 42 bob bob@example.com`".into(),
                    values.first().map_or("", |v| v.1),
                ));
            }
        },
        other => {
            return Err((
                col,
                "a receiver setting: hostname, discard-to-noreply, tls, size, notify or token-age"
                    .into(),
                other,
            ));
        }
    }
    Ok(())
}
