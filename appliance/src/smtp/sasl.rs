//! The client side of the SASL mechanisms the appliance uses: PLAIN (RFC 4616), LOGIN, and
//! CRAM-MD5 (RFC 2195). Everything returned here is a secret and is logged as `[redacted]`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};

/// PLAIN's initial response: base64 of `NUL user NUL password`.
pub(crate) fn plain(username: &str, password: &str) -> String {
    BASE64.encode(format!("\0{username}\0{password}"))
}

/// One LOGIN answer: base64 of the user name or the password.
pub(crate) fn login(value: &str) -> String {
    BASE64.encode(value)
}

/// CRAM-MD5's answer to a base64 challenge: base64 of `user SP hex(HMAC-MD5(password,
/// challenge))`. `None` if the challenge is not base64.
pub(crate) fn cram_md5(username: &str, password: &str, challenge_b64: &str) -> Option<String> {
    let challenge = BASE64.decode(challenge_b64.trim()).ok()?;
    let mut mac = Hmac::<md5::Md5>::new_from_slice(password.as_bytes()).ok()?;
    mac.update(&challenge);
    let digest = hex::encode(mac.finalize().into_bytes());
    Some(BASE64.encode(format!("{username} {digest}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_login() {
        assert_eq!(plain("alice", "s3cret"), "AGFsaWNlAHMzY3JldA==");
        assert_eq!(login("alice"), "YWxpY2U=");
    }

    #[test]
    fn cram_md5_matches_rfc_2195() {
        // RFC 2195's example: user "tim", password "tanstaaftanstaaf".
        let challenge = BASE64.encode("<1896.697170952@postoffice.reston.mci.net>");
        let answer = cram_md5("tim", "tanstaaftanstaaf", &challenge).unwrap();
        assert_eq!(
            BASE64.decode(answer).unwrap(),
            b"tim b913a602c7eda7a495b4e6e7334d3890"
        );
        assert_eq!(cram_md5("tim", "x", "not base64!"), None);
    }
}
