//! SASL for the server side of AUTH (RFC 4954): the exchange of each mechanism the harness can
//! run itself (PLAIN, LOGIN, CRAM-MD5, XOAUTH2) as a pure state machine, decoding what the
//! client proves, and where the secret starts in an `AUTH` line (for redaction).
//!
//! An initial response (`AUTH LOGIN dXNlcg==`, `AUTH PLAIN AGEAYg==`, `=` for an empty one)
//! answers the first challenge, which is then never sent (RFC 4954 section 4): with LOGIN the
//! next prompt is `334 UGFzc3dvcmQ6` (Password:), with PLAIN the exchange is over at once.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};

use crate::reply::Reply;

/// The challenge `Username:` of AUTH LOGIN, base64.
pub const LOGIN_USERNAME: &str = "VXNlcm5hbWU6";
/// The challenge `Password:` of AUTH LOGIN, base64.
pub const LOGIN_PASSWORD: &str = "UGFzc3dvcmQ6";

/// The mechanisms whose exchange the harness runs itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 4616.
    Plain,
    /// The `Username:` / `Password:` exchange (draft-murchison-sasl-login).
    Login,
    /// RFC 2195.
    CramMd5,
    /// Google's OAuth 2.0 mechanism.
    XOAuth2,
}

impl Mechanism {
    /// The names the harness can run, upper case.
    pub const NAMES: [&'static str; 4] = ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"];

    /// The mechanism named `name` (any case), if the harness can run it.
    pub fn parse(name: &str) -> Option<Mechanism> {
        match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Some(Mechanism::Plain),
            "LOGIN" => Some(Mechanism::Login),
            "CRAM-MD5" => Some(Mechanism::CramMd5),
            "XOAUTH2" => Some(Mechanism::XOAuth2),
            _ => None,
        }
    }
}

/// What the client proved it knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Secret {
    /// A clear password (PLAIN, LOGIN).
    Password(String),
    /// A CRAM-MD5 answer: the HMAC-MD5 of the challenge, hex.
    CramDigest {
        /// The challenge the server sent (not base64).
        challenge: String,
        /// The client's hex digest.
        digest: String,
    },
    /// An OAuth bearer token (XOAUTH2).
    Token(String),
}

/// The outcome of a finished SASL exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The user name (authentication identity).
    pub user: String,
    /// What the client proved.
    pub secret: Secret,
}

impl Credentials {
    /// Does the client's proof match `password`?
    pub fn proves(&self, password: &str) -> bool {
        match &self.secret {
            Secret::Password(p) | Secret::Token(p) => p == password,
            Secret::CramDigest { challenge, digest } => {
                cram_md5_digest(password, challenge).eq_ignore_ascii_case(digest)
            }
        }
    }
}

/// The next step of an exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaslStep {
    /// Send `334 TEXT` (TEXT is base64, or empty) and feed the client's answer to
    /// [`SaslExchange::respond`].
    Challenge(String),
    /// The exchange is over: the credentials, or the reply that ends it (the client
    /// cancelled with `*`, or sent what cannot be decoded).
    Done(Result<Credentials, Reply>),
}

/// Where an exchange stands: which answer comes next.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Awaiting {
    PlainResponse,
    XOAuth2Response,
    LoginUser,
    LoginPassword { user: Vec<u8> },
    CramResponse { challenge: String },
}

/// One SASL exchange on the server side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaslExchange {
    awaiting: Awaiting,
}

impl SaslExchange {
    /// Starts an exchange for `AUTH mechanism [initial]`. `cram_challenge` is the challenge
    /// text CRAM-MD5 would use (`<unique@host>`). Returns the exchange (when it goes on) and
    /// its first step.
    pub fn start(
        mechanism: Mechanism,
        initial: Option<&str>,
        cram_challenge: impl FnOnce() -> String,
    ) -> (Option<SaslExchange>, SaslStep) {
        let go_on = |awaiting, text: &str| {
            (
                Some(SaslExchange { awaiting }),
                SaslStep::Challenge(text.to_owned()),
            )
        };
        match (mechanism, initial) {
            (Mechanism::Plain, None) => go_on(Awaiting::PlainResponse, ""),
            (Mechanism::XOAuth2, None) => go_on(Awaiting::XOAuth2Response, ""),
            (Mechanism::Login, None) => go_on(Awaiting::LoginUser, LOGIN_USERNAME),
            (Mechanism::CramMd5, None) => {
                let challenge = cram_challenge();
                let text = BASE64.encode(&challenge);
                go_on(Awaiting::CramResponse { challenge }, &text)
            }
            (Mechanism::Plain, Some(ir)) => {
                (None, SaslStep::Done(decode(ir).and_then(|r| plain(&r))))
            }
            (Mechanism::XOAuth2, Some(ir)) => {
                (None, SaslStep::Done(decode(ir).and_then(|r| xoauth2(&r))))
            }
            (Mechanism::Login, Some(ir)) => match decode(ir) {
                Ok(user) => go_on(Awaiting::LoginPassword { user }, LOGIN_PASSWORD),
                Err(reply) => (None, SaslStep::Done(Err(reply))),
            },
            // RFC 4954 section 4: an initial response with a mechanism where the server
            // speaks first is refused with 501.
            (Mechanism::CramMd5, Some(_)) => (
                None,
                SaslStep::Done(Err(Reply::new(
                    501,
                    "5.5.4 CRAM-MD5 takes no initial response",
                ))),
            ),
        }
    }

    /// Feeds the client's answer to the last challenge (the line without its line ending).
    /// Returns the exchange again when it goes on.
    pub fn respond(self, answer: &[u8]) -> (Option<SaslExchange>, SaslStep) {
        let answer = String::from_utf8_lossy(answer);
        let decoded = match decode(&answer) {
            Ok(d) => d,
            Err(reply) => return (None, SaslStep::Done(Err(reply))),
        };
        let done = |result| (None, SaslStep::Done(result));
        match self.awaiting {
            Awaiting::PlainResponse => done(plain(&decoded)),
            Awaiting::XOAuth2Response => done(xoauth2(&decoded)),
            Awaiting::LoginUser => (
                Some(SaslExchange {
                    awaiting: Awaiting::LoginPassword { user: decoded },
                }),
                SaslStep::Challenge(LOGIN_PASSWORD.to_owned()),
            ),
            Awaiting::LoginPassword { user } => done(Ok(Credentials {
                user: String::from_utf8_lossy(&user).into_owned(),
                secret: Secret::Password(String::from_utf8_lossy(&decoded).into_owned()),
            })),
            Awaiting::CramResponse { challenge } => done(cram_md5(&decoded, &challenge)),
        }
    }
}

/// `true` if a `334` challenge's text is the one an initial response answers for
/// `mechanism`: `Username:` for LOGIN, the empty challenge for PLAIN and XOAUTH2. A script
/// written for clients without initial responses skips it for clients with one.
pub fn initial_response_answers(mechanism: &str, challenge_text: &str) -> bool {
    match Mechanism::parse(mechanism) {
        Some(Mechanism::Login) => {
            let decoded = BASE64.decode(challenge_text.trim()).unwrap_or_default();
            decoded.eq_ignore_ascii_case(b"Username:") || decoded.eq_ignore_ascii_case(b"User Name")
        }
        Some(Mechanism::Plain | Mechanism::XOAuth2) => challenge_text.trim().is_empty(),
        _ => false,
    }
}

/// The reply to a client that cancelled the exchange with `*` (RFC 4954 section 4).
pub fn aborted() -> Reply {
    Reply::new(501, "5.7.0 Authentication aborted")
}

fn undecodable() -> Reply {
    Reply::new(501, "5.5.2 Cannot decode response")
}

/// Decodes one base64 SASL line (`=` is the empty response, `*` cancels).
///
/// # Errors
/// The reply that ends the exchange: 501 for `*` and for what is not base64.
pub fn decode(line: &str) -> Result<Vec<u8>, Reply> {
    let line = line.trim();
    if line == "*" {
        return Err(aborted());
    }
    if line == "=" {
        return Ok(Vec::new());
    }
    BASE64.decode(line).map_err(|_| undecodable())
}

/// Base64 of `text`, for challenges.
pub fn encode(text: &str) -> String {
    BASE64.encode(text)
}

/// PLAIN: `authzid NUL user NUL password`.
fn plain(response: &[u8]) -> Result<Credentials, Reply> {
    let parts: Vec<&[u8]> = response.split(|b| *b == 0).collect();
    match parts.as_slice() {
        [_authzid, user, password] => Ok(Credentials {
            user: String::from_utf8_lossy(user).into_owned(),
            secret: Secret::Password(String::from_utf8_lossy(password).into_owned()),
        }),
        _ => Err(undecodable()),
    }
}

/// CRAM-MD5: `user SP hex-digest`.
fn cram_md5(response: &[u8], challenge: &str) -> Result<Credentials, Reply> {
    let text = String::from_utf8_lossy(response);
    let (user, digest) = text.rsplit_once(' ').ok_or_else(undecodable)?;
    Ok(Credentials {
        user: user.to_owned(),
        secret: Secret::CramDigest {
            challenge: challenge.to_owned(),
            digest: digest.to_owned(),
        },
    })
}

/// XOAUTH2: `user=U ^A auth=Bearer TOKEN ^A ^A`.
fn xoauth2(response: &[u8]) -> Result<Credentials, Reply> {
    let text = String::from_utf8_lossy(response);
    let mut user = None;
    let mut token = None;
    for field in text.split('\x01') {
        if let Some(u) = field.strip_prefix("user=") {
            user = Some(u.to_owned());
        } else if let Some(auth) = field.strip_prefix("auth=") {
            let t = auth
                .strip_prefix("Bearer ")
                .or_else(|| auth.strip_prefix("bearer "))
                .unwrap_or(auth);
            token = Some(t.to_owned());
        }
    }
    match (user, token) {
        (Some(user), Some(token)) => Ok(Credentials {
            user,
            secret: Secret::Token(token),
        }),
        _ => Err(undecodable()),
    }
}

/// The hex HMAC-MD5 of `challenge` keyed with `password` (RFC 2195).
pub fn cram_md5_digest(password: &str, challenge: &str) -> String {
    let Ok(mut mac) = Hmac::<md5::Md5>::new_from_slice(password.as_bytes()) else {
        return String::new();
    };
    mac.update(challenge.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where the secret part of an `AUTH MECHANISM initial-response` line starts: its third word
/// (`None` when there is none). Everything from there to the line ending is a secret.
pub fn secret_offset(line: &[u8]) -> Option<usize> {
    let mut words = 0;
    let mut in_word = false;
    for (i, b) in line.iter().enumerate() {
        let space = b.is_ascii_whitespace();
        if !space && !in_word {
            words += 1;
            if words == 3 {
                return Some(i);
            }
        }
        in_word = !space;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs an exchange to its end, answering the challenges with `answers`; returns the
    /// challenges sent and the outcome.
    fn run(
        mechanism: Mechanism,
        initial: Option<&str>,
        answers: &[&str],
    ) -> (Vec<String>, Result<Credentials, Reply>) {
        let mut challenges = Vec::new();
        let (mut exchange, mut step) = SaslExchange::start(mechanism, initial, || {
            "<1896.697170952@postoffice.reston.mci.net>".to_owned()
        });
        let mut answers = answers.iter();
        loop {
            match step {
                SaslStep::Done(result) => {
                    assert!(exchange.is_none());
                    assert!(answers.next().is_none(), "answers left over");
                    return (challenges, result);
                }
                SaslStep::Challenge(text) => {
                    challenges.push(text);
                    let answer = answers.next().expect("an answer for each challenge");
                    (exchange, step) = exchange.expect("goes on").respond(answer.as_bytes());
                }
            }
        }
    }

    #[test]
    fn login_prompts_for_user_then_password() {
        let (challenges, result) = run(Mechanism::Login, None, &["YWxpY2U=", "czNjcmV0"]);
        assert_eq!(challenges, [LOGIN_USERNAME, LOGIN_PASSWORD]);
        let c = result.unwrap();
        assert_eq!(c.user, "alice");
        assert!(c.proves("s3cret"));
    }

    /// RFC 4954 section 4: the initial response answers the first challenge, which is not
    /// sent: after `AUTH LOGIN <user>` comes `334 UGFzc3dvcmQ6` (Password:), never Username:.
    #[test]
    fn an_initial_response_skips_the_prompt_it_answers() {
        let (challenges, result) = run(Mechanism::Login, Some("YWxpY2U="), &["czNjcmV0"]);
        assert_eq!(challenges, [LOGIN_PASSWORD]);
        assert_eq!(result.unwrap().user, "alice");
        // `=` is an empty initial response: an empty user name, still no Username: prompt.
        let (challenges, result) = run(Mechanism::Login, Some("="), &["czNjcmV0"]);
        assert_eq!(challenges, [LOGIN_PASSWORD]);
        assert_eq!(result.unwrap().user, "");
        // PLAIN with an initial response is over at once; without one it asks with `334 `.
        let (challenges, result) = run(Mechanism::Plain, Some("AGFsaWNlAHMzY3JldA=="), &[]);
        assert!(challenges.is_empty());
        assert!(result.unwrap().proves("s3cret"));
        let (challenges, result) = run(Mechanism::Plain, None, &["AGFsaWNlAHMzY3JldA=="]);
        assert_eq!(challenges, [""]);
        assert_eq!(result.unwrap().user, "alice");
        // An empty PLAIN response cannot be decoded into credentials.
        let (_, result) = run(Mechanism::Plain, Some("="), &[]);
        assert_eq!(result.unwrap_err().code(), 501);
        // CRAM-MD5: the server speaks first, so an initial response is refused with 501.
        let (_, result) = run(Mechanism::CramMd5, Some("eA=="), &[]);
        assert_eq!(result.unwrap_err().code(), 501);
    }

    #[test]
    fn cram_md5_checks_the_digest_of_its_own_challenge() {
        // RFC 2195's own example.
        let challenge = "<1896.697170952@postoffice.reston.mci.net>";
        assert_eq!(
            cram_md5_digest("tanstaaftanstaaf", challenge),
            "b913a602c7eda7a495b4e6e7334d3890"
        );
        let answer = encode("tim b913a602c7eda7a495b4e6e7334d3890");
        let (challenges, result) = run(Mechanism::CramMd5, None, &[&answer]);
        assert_eq!(challenges, [encode(challenge)]);
        let c = result.unwrap();
        assert_eq!(c.user, "tim");
        assert!(c.proves("tanstaaftanstaaf") && !c.proves("x"));
    }

    #[test]
    fn xoauth2_reads_user_and_token() {
        let ir = encode(
            "user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01",
        );
        let (_, result) = run(Mechanism::XOAuth2, Some(&ir), &[]);
        let c = result.unwrap();
        assert_eq!(c.user, "someuser@example.com");
        assert!(c.proves("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"));
    }

    #[test]
    fn cancelling_or_garbage_ends_the_exchange_with_501() {
        let (_, result) = run(Mechanism::Login, None, &["*"]);
        assert_eq!(result.unwrap_err(), aborted());
        let (_, result) = run(Mechanism::Login, None, &["YWxpY2U=", "not base64!"]);
        assert_eq!(result.unwrap_err().code(), 501);
        let (_, result) = run(Mechanism::Plain, None, &["bm8gbnVscw=="]);
        assert_eq!(result.unwrap_err().code(), 501);
    }

    #[test]
    fn which_challenge_an_initial_response_answers() {
        assert!(initial_response_answers("LOGIN", LOGIN_USERNAME));
        assert!(initial_response_answers("login", "dXNlcm5hbWU6"));
        assert!(!initial_response_answers("LOGIN", LOGIN_PASSWORD));
        assert!(initial_response_answers("PLAIN", ""));
        assert!(!initial_response_answers("PLAIN", "abc"));
        assert!(!initial_response_answers("CRAM-MD5", ""));
    }

    #[test]
    fn secrets_start_at_the_third_word() {
        assert_eq!(secret_offset(b"AUTH PLAIN AGFi\r\n"), Some(11));
        assert_eq!(secret_offset(b"auth  login   dXNl\r\n"), Some(14));
        assert_eq!(secret_offset(b"AUTH LOGIN\r\n"), None);
        assert_eq!(secret_offset(b"AUTH LOGIN \r\n"), None);
    }
}
