//! SASL for the fake server: decoding what the client sends for PLAIN, LOGIN, CRAM-MD5 and
//! XOAUTH2, and checking it against a scenario's password. The exchange itself (the 334
//! challenges) is driven by the session, which owns the connection.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};

use crate::reply::Reply;

/// The challenge `Username:` of AUTH LOGIN, base64.
pub(crate) const LOGIN_USERNAME: &str = "VXNlcm5hbWU6";
/// The challenge `Password:` of AUTH LOGIN, base64.
pub(crate) const LOGIN_PASSWORD: &str = "UGFzc3dvcmQ6";

/// What the client proved it knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Secret {
    /// A clear password (PLAIN, LOGIN).
    Password(String),
    /// A CRAM-MD5 answer: the HMAC-MD5 of the challenge, hex.
    CramDigest { challenge: String, digest: String },
    /// An OAuth bearer token (XOAUTH2).
    Token(String),
}

/// The outcome of a finished SASL exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub user: String,
    pub secret: Secret,
}

impl Credentials {
    /// Does the client's proof match `password`?
    pub(crate) fn proves(&self, password: &str) -> bool {
        match &self.secret {
            Secret::Password(p) | Secret::Token(p) => p == password,
            Secret::CramDigest { challenge, digest } => {
                cram_md5_digest(password, challenge).eq_ignore_ascii_case(digest)
            }
        }
    }
}

/// Why a SASL exchange ended without credentials; each carries its reply.
pub(crate) fn aborted() -> Reply {
    Reply::new(501, "5.7.0 Authentication aborted")
}

fn undecodable() -> Reply {
    Reply::new(501, "5.5.2 Cannot decode response")
}

/// Decodes one base64 SASL line (`=` is the empty response).
pub(crate) fn decode(line: &str) -> Result<Vec<u8>, Reply> {
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
pub(crate) fn encode(text: &str) -> String {
    BASE64.encode(text)
}

/// PLAIN: `authzid NUL user NUL password`.
pub(crate) fn plain(response: &[u8]) -> Result<Credentials, Reply> {
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
pub(crate) fn cram_md5(response: &[u8], challenge: &str) -> Result<Credentials, Reply> {
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
pub(crate) fn xoauth2(response: &[u8]) -> Result<Credentials, Reply> {
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
pub(crate) fn cram_md5_digest(password: &str, challenge: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_login_cram_and_xoauth2_decode() {
        let c = plain(&decode("AGFsaWNlAHMzY3JldA==").unwrap()).unwrap();
        assert_eq!(c.user, "alice");
        assert!(c.proves("s3cret") && !c.proves("wrong"));

        // RFC 2195's own example.
        let challenge = "<1896.697170952@postoffice.reston.mci.net>";
        assert_eq!(
            cram_md5_digest("tanstaaftanstaaf", challenge),
            "b913a602c7eda7a495b4e6e7334d3890"
        );
        let c = cram_md5(b"tim b913a602c7eda7a495b4e6e7334d3890", challenge).unwrap();
        assert_eq!(c.user, "tim");
        assert!(c.proves("tanstaaftanstaaf") && !c.proves("x"));

        let c = xoauth2(b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01").unwrap();
        assert_eq!(c.user, "someuser@example.com");
        assert!(c.proves("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"));
    }

    #[test]
    fn bad_input_gets_a_501() {
        assert_eq!(decode("*").unwrap_err().code(), 501);
        assert_eq!(decode("not base64!").unwrap_err().code(), 501);
        assert_eq!(decode("=").unwrap(), Vec::<u8>::new());
        assert_eq!(plain(b"no nul bytes").unwrap_err().code(), 501);
    }
}
