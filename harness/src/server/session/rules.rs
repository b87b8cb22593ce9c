//! Which of the scenario's `when` rules answers a command: the first whose verb, argument glob,
//! `#N`, `connection=`, `tls`/`plain`, `advertised`/`unadvertised` and AUTH conditions all hold.
//! AUTH rules that look at credentials, or whose reply is an outcome of the SASL exchange
//! (235, 535 …), are judged once the exchange is over.

use crate::scenario::{Action, Rule, ServerScenario};
use crate::wire::Verb;
use crate::wire::sasl::{Credentials, Mechanism};

/// Reply codes that answer the end of a SASL exchange (RFC 4954 section 6, and 451, which
/// SendGrid sends after the password: `451 Authentication failed: Maximum credits exceeded`):
/// rules replying with these are judged once the client has answered the challenges.
const AUTH_OUTCOME_CODES: &[u16] = &[235, 432, 451, 454, 534, 535];

/// What is known about a command when its rule is looked for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Query<'a> {
    /// The verb rules must name (DATA for the end of a BDAT transfer).
    pub verb: Verb,
    /// The command's arguments, for the rule's glob.
    pub args: &'a str,
    /// The command's number among those the rule counts (`#N`).
    pub nth: u32,
    /// The connection's number on the server.
    pub connection: u64,
    /// TLS is on.
    pub tls: bool,
    /// The extension the command belongs to was in the last EHLO reply (or it needs none).
    pub advertised: bool,
    /// For AUTH after the exchange: what the client proved.
    pub credentials: Option<&'a Credentials>,
}

/// The index of the first rule that answers the command.
pub(crate) fn find(scenario: &ServerScenario, q: &Query<'_>) -> Option<usize> {
    scenario.rules.iter().position(|rule| {
        rule.verb == q.verb
            && rule.nth.is_none_or(|n| n == q.nth)
            && rule.connection.is_none_or(|c| c == q.connection)
            && rule.tls.is_none_or(|t| t == q.tls)
            && rule.advertised.is_none_or(|a| a == q.advertised)
            && rule.args.as_ref().is_none_or(|p| p.matches(q.args))
            && (q.verb != Verb::Auth || auth_rule_applies(rule, q))
    })
}

/// `true` if the rule's first reply is an outcome of the exchange (so it waits for it).
fn answers_after_exchange(rule: &Rule) -> bool {
    rule.auth.checks_credentials()
        || rule.actions.iter().find_map(|a| match a {
            Action::Reply(r) => Some(AUTH_OUTCOME_CODES.contains(&r.code())),
            _ => None,
        }) == Some(true)
}

/// Does an AUTH rule apply, given what is known (credentials only after the exchange)?
fn auth_rule_applies(rule: &Rule, q: &Query<'_>) -> bool {
    let mechanism = q.args.split_ascii_whitespace().next().unwrap_or("");
    if rule
        .auth
        .mechanism
        .as_ref()
        .is_some_and(|m| !m.eq_ignore_ascii_case(mechanism))
    {
        return false;
    }
    match q.credentials {
        // Before the exchange: rules that answer at once, and for a mechanism the server
        // cannot run, any rule that does not look at credentials.
        None => {
            !rule.auth.checks_credentials()
                && (!answers_after_exchange(rule) || Mechanism::parse(mechanism).is_none())
        }
        Some(c) => {
            answers_after_exchange(rule)
                && rule.auth.user.as_ref().is_none_or(|u| *u == c.user)
                && rule.auth.password.as_ref().is_none_or(|p| c.proves(p))
        }
    }
}

/// Where the part of a DATA rule that answers the end of the content begins: after its `354`
/// (its first reply when it refuses DATA outright, which then refuses the transfer).
pub(crate) fn after_start_of_data(rule: &Rule) -> usize {
    let first_reply = rule
        .actions
        .iter()
        .position(|a| matches!(a, Action::Reply(_)));
    match first_reply {
        Some(i) if matches!(&rule.actions[i], Action::Reply(r) if r.code() == 354) => i + 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::sasl::Secret;

    fn scenario(text: &str) -> ServerScenario {
        text.parse().unwrap()
    }

    fn query(verb: Verb, args: &str) -> Query<'_> {
        Query {
            verb,
            args,
            nth: 1,
            connection: 1,
            tls: false,
            advertised: true,
            credentials: None,
        }
    }

    #[test]
    fn the_first_rule_whose_conditions_hold_answers() {
        let s = scenario(
            "certificate valid\nwhen RCPT TO:<*@blocked.example>\n    S: 550 no\nwhen RCPT #2\n    S: 452 too many\nwhen RCPT tls\n    S: 250 tls\nwhen MAIL connection=2\n    S: 451 later\n",
        );
        assert_eq!(
            find(&s, &query(Verb::Rcpt, "TO:<a@blocked.example>")),
            Some(0)
        );
        assert_eq!(find(&s, &query(Verb::Rcpt, "TO:<a@ok.example>")), None);
        let second = Query {
            nth: 2,
            ..query(Verb::Rcpt, "TO:<a@ok.example>")
        };
        assert_eq!(find(&s, &second), Some(1));
        let tls = Query {
            tls: true,
            ..query(Verb::Rcpt, "TO:<a@ok.example>")
        };
        assert_eq!(find(&s, &tls), Some(2));
        assert_eq!(find(&s, &query(Verb::Mail, "FROM:<a@b>")), None);
        let conn2 = Query {
            connection: 2,
            ..query(Verb::Mail, "FROM:<a@b>")
        };
        assert_eq!(find(&s, &conn2), Some(3));
    }

    #[test]
    fn unadvertised_rules_answer_commands_the_ehlo_reply_did_not_offer() {
        // Exim answers STARTTLS after HELO (nothing advertised) with 503.
        let s = scenario(
            "certificate valid\nwhen STARTTLS unadvertised\n    S: 503 STARTTLS command used when not advertised\nwhen STARTTLS\n    S: 220 go ahead\n    tls\n",
        );
        let not_offered = Query {
            advertised: false,
            ..query(Verb::StartTls, "")
        };
        assert_eq!(find(&s, &not_offered), Some(0));
        assert_eq!(find(&s, &query(Verb::StartTls, "")), Some(1));
    }

    #[test]
    fn auth_rules_on_credentials_wait_for_the_exchange() {
        let s = scenario(
            "when AUTH plain\n    S: 530 5.7.0 Must issue a STARTTLS command first\nwhen AUTH user=alice password=s3cret\n    S: 235 2.7.0 ok\nwhen AUTH\n    S: 535 5.7.8 no\n",
        );
        // Before the exchange only the rule that answers at once applies.
        assert_eq!(find(&s, &query(Verb::Auth, "LOGIN")), Some(0));
        let tls = Query {
            tls: true,
            ..query(Verb::Auth, "LOGIN")
        };
        assert_eq!(find(&s, &tls), None);
        let right = Credentials {
            user: "alice".into(),
            secret: Secret::Password("s3cret".into()),
        };
        let wrong = Credentials {
            user: "alice".into(),
            secret: Secret::Password("nope".into()),
        };
        let after = |c| Query {
            tls: true,
            credentials: Some(c),
            ..query(Verb::Auth, "LOGIN")
        };
        assert_eq!(find(&s, &after(&right)), Some(1));
        assert_eq!(find(&s, &after(&wrong)), Some(2));
    }

    #[test]
    fn a_data_rule_answers_the_end_of_the_content_after_its_354() {
        let s = scenario(
            "when DATA #1\n    S: 354 go ahead\n    S: 550 5.7.1 rejected\nwhen DATA\n    S: 550 5.4.5 Daily user sending limit exceeded\n",
        );
        assert_eq!(after_start_of_data(&s.rules[0]), 1);
        assert_eq!(after_start_of_data(&s.rules[1]), 0);
    }
}
