//! Keeps credentials out of what a sender printed (curl -v and swaks echo AUTH payloads).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::scenario::SenderSpec;
use crate::transcript::REDACTED;

/// Replaces the password and every encoding of the credentials a client may have printed, and
/// the client line after each `334` challenge (CRAM-MD5 answers, LOGIN user names).
pub fn redact(text: &str, spec: &SenderSpec) -> String {
    let mut secrets: Vec<String> = Vec::new();
    if !spec.password.is_empty() {
        let (user, password) = (&spec.user, &spec.password);
        secrets.push(BASE64.encode(format!("\0{user}\0{password}")));
        secrets.push(BASE64.encode(format!("{user}\0{user}\0{password}")));
        secrets.push(BASE64.encode(format!("user={user}\x01auth=Bearer {password}\x01\x01")));
        secrets.push(BASE64.encode(password));
        secrets.push(password.clone());
    }
    let mut out = String::with_capacity(text.len());
    let mut after_challenge = false;
    for line in text.split_inclusive('\n') {
        let mut line = line.to_owned();
        for secret in &secrets {
            line = line.replace(secret.as_str(), REDACTED);
        }
        let client_marker = ["> ", " -> ", " ~> "]
            .into_iter()
            .find(|m| line.starts_with(m));
        if after_challenge && let Some(marker) = client_marker {
            let end = if line.ends_with('\n') { "\n" } else { "" };
            line = format!("{marker}{REDACTED}{end}");
            after_challenge = false;
        } else if line.contains("334 ") || line.trim_end().ends_with("334") {
            after_challenge = true;
        } else if client_marker.is_some() {
            after_challenge = false;
        }
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_client_output_are_redacted() {
        let spec = SenderSpec {
            user: "alice".into(),
            password: "s3cret".into(),
            ..Default::default()
        };
        let curl = "> AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n< 235 ok\r\n> AUTH LOGIN\r\n< 334 VXNlcm5hbWU6\r\n> YWxpY2U=\r\n< 334 UGFzc3dvcmQ6\r\n> czNjcmV0\r\n";
        let out = redact(curl, &spec);
        assert!(
            !out.contains("AGFsaWNlAHMzY3JldA==")
                && !out.contains("YWxpY2U=")
                && !out.contains("czNjcmV0"),
            "{out}"
        );
        assert!(out.contains("> AUTH PLAIN [redacted]"), "{out}");
        let swaks = " ~> AUTH CRAM-MD5\n<~  334 PDEuMUBteC50ZXN0Pg==\n ~> YWxpY2UgZGVhZGJlZWY=\n<~  235 ok\n";
        let out = redact(swaks, &spec);
        assert!(
            out.contains(" ~> [redacted]\n") && !out.contains("YWxpY2UgZGVhZGJlZWY="),
            "{out}"
        );
        assert!(out.contains("<~  235 ok"), "{out}");
    }
}
