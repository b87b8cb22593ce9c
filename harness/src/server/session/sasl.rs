//! AUTH: advertisement checks, rules that answer at once, the SASL exchange, and the rules that
//! judge its credentials.

use super::*;

impl Session {
    /// AUTH: advertisement checks, rules that answer at once, the SASL exchange, then the
    /// rules that judge credentials (or the default: accept).
    pub(super) async fn authenticate(&mut self, cmd: &Command, nth: u32) -> Flow {
        let mechanism = cmd
            .args
            .split_ascii_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let initial = cmd.args.split_ascii_whitespace().nth(1).map(str::to_owned);
        if self.state.extensions.auth.is_empty() {
            self.send(&defaults::auth_not_enabled());
            return Ok(());
        }
        if mechanism.is_empty() {
            self.send(&defaults::syntax("AUTH mechanism"));
            return Ok(());
        }
        if !self.state.extensions.auth.contains(&mechanism) {
            self.send(&defaults::unknown_mechanism());
            return Ok(());
        }
        let scenario = self.scenario.clone();
        if let Some(rule) = self.find_rule(&scenario, cmd, nth, None) {
            return self.perform(cmd, &rule.actions, None).await;
        }
        if !SASL_MECHANISMS.contains(&mechanism.as_str()) {
            self.send(&defaults::unknown_mechanism());
            return Ok(());
        }
        let credentials = match self.sasl_exchange(&mechanism, initial.as_deref()).await? {
            Ok(c) => c,
            Err(reply) => {
                self.send(&reply);
                return Ok(());
            }
        };
        let actions = match self.find_rule(&scenario, cmd, nth, Some(&credentials)) {
            Some(rule) => rule.actions.clone(),
            None => vec![Action::Reply(defaults::auth_ok())],
        };
        self.perform(cmd, &actions, Some(&credentials.user)).await
    }

    /// Runs the SASL exchange for a mechanism the server knows.
    pub(super) async fn sasl_exchange(
        &mut self,
        mechanism: &str,
        initial: Option<&str>,
    ) -> Flow<Result<Credentials, Reply>> {
        let decoded = |line: &str| auth::decode(line);
        Ok(match mechanism {
            "PLAIN" | "XOAUTH2" => {
                let response = match initial {
                    Some(ir) => decoded(ir),
                    None => self.challenge("").await?,
                };
                response.and_then(|r| {
                    if mechanism == "PLAIN" {
                        auth::plain(&r)
                    } else {
                        auth::xoauth2(&r)
                    }
                })
            }
            "LOGIN" => {
                let user = match initial {
                    Some(ir) => decoded(ir),
                    None => self.challenge(auth::LOGIN_USERNAME).await?,
                };
                match user {
                    Err(reply) => Err(reply),
                    Ok(user) => {
                        self.challenge(auth::LOGIN_PASSWORD)
                            .await?
                            .map(|password| Credentials {
                                user: String::from_utf8_lossy(&user).into_owned(),
                                secret: auth::Secret::Password(
                                    String::from_utf8_lossy(&password).into_owned(),
                                ),
                            })
                    }
                }
            }
            "CRAM-MD5" => {
                self.challenges += 1;
                let challenge = format!(
                    "<{}.{}@{}>",
                    self.transcript.session, self.challenges, self.scenario.hostname
                );
                let encoded = auth::encode(&challenge);
                self.challenge(&encoded)
                    .await?
                    .and_then(|r| auth::cram_md5(&r, &challenge))
            }
            _ => Err(defaults::unknown_mechanism()),
        })
    }

    /// Sends `334 text` and reads the client's (secret) answer, decoded.
    pub(super) async fn challenge(&mut self, text: &str) -> Flow<Result<Vec<u8>, Reply>> {
        let reply =
            Reply::from_lines([format!("334 {text}")]).unwrap_or_else(|_| Reply::new(334, text));
        self.send(&reply);
        let (raw, too_long) = self.read_line().await?;
        let cmd = Command::new(raw);
        self.record_client(&cmd, true);
        if too_long {
            return Ok(Err(Reply::new(
                500,
                "5.5.6 Authentication exchange line is too long",
            )));
        }
        Ok(auth::decode(&cmd.text))
    }
}

/// Reply codes that answer the end of a SASL exchange (RFC 4954 section 6, and 451, which
/// SendGrid sends after the password: `451 Authentication failed: Maximum credits exceeded`):
/// rules replying with these are judged once the client has answered the challenges.
pub(super) const AUTH_OUTCOME_CODES: &[u16] = &[235, 432, 451, 454, 534, 535];

/// `true` if the rule's first reply is an outcome of the exchange (so it waits for it).
pub(super) fn answers_after_exchange(rule: &Rule) -> bool {
    rule.auth.checks_credentials()
        || rule.actions.iter().find_map(|a| match a {
            Action::Reply(r) => Some(AUTH_OUTCOME_CODES.contains(&r.code())),
            _ => None,
        }) == Some(true)
}

/// Does an AUTH rule apply, given what is known (credentials only after the exchange)?
pub(super) fn auth_rule_applies(
    rule: &Rule,
    cmd: &Command,
    credentials: Option<&Credentials>,
) -> bool {
    let mechanism = cmd.args.split_ascii_whitespace().next().unwrap_or("");
    if rule
        .auth
        .mechanism
        .as_ref()
        .is_some_and(|m| !m.eq_ignore_ascii_case(mechanism))
    {
        return false;
    }
    match credentials {
        // Before the exchange: rules that answer at once, and for a mechanism the server
        // cannot run, any rule that does not look at credentials.
        None => {
            !rule.auth.checks_credentials()
                && (!answers_after_exchange(rule)
                    || !SASL_MECHANISMS.contains(&mechanism.to_ascii_uppercase().as_str()))
        }
        Some(c) => {
            answers_after_exchange(rule)
                && rule.auth.user.as_ref().is_none_or(|u| *u == c.user)
                && rule.auth.password.as_ref().is_none_or(|p| c.proves(p))
        }
    }
}
