//! Reply tokens: the `TOKEN` of `Reply-To: reply+TOKEN@reply.HOSTNAME`.
//!
//! A token names the user a notification went to and the thread it is about, with the time it
//! was issued, and is signed with the appliance's reply key so that the inbound side can trust
//! what it names. It is short enough for an email local part (`reply+` and the token are at
//! most 56 octets, under the 64 that RFC 5321 allows) and uses only lower-case letters and
//! digits, which survive any mail system (some change the case of local parts).
//!
//! Layout, before encoding (all integers big-endian or LEB128):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | version (high 4 bits, `1`) and thread kind (low 4 bits: 1 issue, 2 pull request, 3 commit) |
//! | 4 | issue time, seconds since the Unix epoch |
//! | 1-5 | user id (LEB128) |
//! | 1-5 | thread id (LEB128) |
//! | 16 | HMAC-SHA256 over `"appliance reply token v1\0"` and the bytes above, truncated to 16 bytes |
//!
//! The bytes are written in base32 (RFC 4648 alphabet, lower case, no padding): 23 to 31
//! bytes, 37 to 50 characters. Decoding accepts upper case too, and refuses non-canonical
//! encodings (stray bits in the last character), so one token has exactly one spelling.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ThreadKind;

/// The reply key: 32 secret bytes that sign reply tokens. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplyKey([u8; 32]);

impl ReplyKey {
    /// The key with these bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ReplyKey(bytes)
    }

    /// A new random key.
    ///
    /// # Errors
    /// When the kernel's random number generator cannot be read.
    pub fn generate() -> std::io::Result<Self> {
        crate::fsutil::random_bytes().map(ReplyKey)
    }

    /// Reads the key from its file text (64 hex digits, surrounding white space ignored).
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(ReplyKey(bytes.try_into().ok()?))
    }

    /// The key as its file text: 64 hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn mac(&self) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(MAC_CONTEXT);
        mac
    }
}

impl fmt::Debug for ReplyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplyKey([redacted])")
    }
}

/// What a token says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenClaims {
    /// The user the notification was sent to (an id from the [`super::ReplyDirectory`]).
    pub user_id: u32,
    /// The thread the notification is about (an id from the [`super::ReplyDirectory`]).
    pub thread_id: u32,
    /// The kind of thread.
    pub kind: ThreadKind,
    /// When the token was issued, to the second.
    pub issued_at: SystemTime,
}

/// Why a token was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a token at all: bad characters, wrong length, bad fields.
    #[error("not a valid reply token: {0}")]
    BadEncoding(&'static str),
    /// The signature does not match: the token was altered, or signed with another key.
    #[error("the reply token's signature does not match")]
    BadSignature,
    /// The token is older than allowed.
    #[error("the reply token has expired (issued {age_secs}s ago, valid for {max_age_secs}s)")]
    Expired {
        /// How old it is, in seconds.
        age_secs: u64,
        /// How old it may be, in seconds.
        max_age_secs: u64,
    },
    /// The token claims to be issued in the future (beyond a few minutes of clock skew).
    #[error("the reply token was issued in the future ({ahead_secs}s ahead)")]
    IssuedInFuture {
        /// How far ahead, in seconds.
        ahead_secs: u64,
    },
}

const VERSION: u8 = 1;
const MAC_CONTEXT: &[u8] = b"appliance reply token v1\0";
const MAC_LEN: usize = 16;
/// Clock skew tolerated for tokens issued "in the future".
const MAX_SKEW: Duration = Duration::from_secs(300);
/// The longest token: 1 + 4 + 5 + 5 + 16 bytes.
pub const MAX_TOKEN_LEN: usize = 50;

fn kind_code(kind: ThreadKind) -> u8 {
    match kind {
        ThreadKind::Issue => 1,
        ThreadKind::PullRequest => 2,
        ThreadKind::Commit => 3,
    }
}

fn kind_from_code(code: u8) -> Option<ThreadKind> {
    Some(match code {
        1 => ThreadKind::Issue,
        2 => ThreadKind::PullRequest,
        3 => ThreadKind::Commit,
        _ => return None,
    })
}

/// Signs `claims` into a token. The issue time is kept to the second (times before 1970 or
/// after 2106 are clamped).
pub fn issue_token(key: &ReplyKey, claims: &TokenClaims) -> String {
    let secs = claims
        .issued_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
    let mut bytes = Vec::with_capacity(31);
    bytes.push((VERSION << 4) | kind_code(claims.kind));
    bytes.extend_from_slice(&secs.to_be_bytes());
    put_varint(&mut bytes, claims.user_id);
    put_varint(&mut bytes, claims.thread_id);
    let mut mac = key.mac();
    mac.update(&bytes);
    let tag = mac.finalize().into_bytes();
    bytes.extend_from_slice(&tag[..MAC_LEN]);
    base32_encode(&bytes)
}

/// Checks a token: its encoding, its signature under `key`, and its age at `now` (at most
/// `max_age`), and returns what it says.
///
/// # Errors
/// [`TokenError::BadEncoding`], [`TokenError::BadSignature`] (altered, or another key),
/// [`TokenError::Expired`], [`TokenError::IssuedInFuture`].
pub fn verify_token(
    key: &ReplyKey,
    token: &str,
    now: SystemTime,
    max_age: Duration,
) -> Result<TokenClaims, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::BadEncoding("too long"));
    }
    let bytes = base32_decode(token)?;
    if bytes.len() < 1 + 4 + 1 + 1 + MAC_LEN {
        return Err(TokenError::BadEncoding("too short"));
    }
    let (payload, tag) = bytes.split_at(bytes.len() - MAC_LEN);
    let mut mac = key.mac();
    mac.update(payload);
    mac.verify_truncated_left(tag)
        .map_err(|_| TokenError::BadSignature)?;

    // Signed by us: the fields can be read.
    if payload[0] >> 4 != VERSION {
        return Err(TokenError::BadEncoding("unknown version"));
    }
    let kind = kind_from_code(payload[0] & 0x0f).ok_or(TokenError::BadEncoding("unknown kind"))?;
    let secs = u32::from_be_bytes(payload[1..5].try_into().expect("4 bytes"));
    let mut rest = &payload[5..];
    let user_id = take_varint(&mut rest)?;
    let thread_id = take_varint(&mut rest)?;
    if !rest.is_empty() {
        return Err(TokenError::BadEncoding("trailing bytes"));
    }
    let issued_at = UNIX_EPOCH + Duration::from_secs(u64::from(secs));
    match now.duration_since(issued_at) {
        Ok(age) if age > max_age => {
            return Err(TokenError::Expired {
                age_secs: age.as_secs(),
                max_age_secs: max_age.as_secs(),
            });
        }
        Ok(_) => {}
        Err(e) if e.duration() > MAX_SKEW => {
            return Err(TokenError::IssuedInFuture {
                ahead_secs: e.duration().as_secs(),
            });
        }
        Err(_) => {}
    }
    Ok(TokenClaims {
        user_id,
        thread_id,
        kind,
        issued_at,
    })
}

/// The reply address for a token: `reply+TOKEN@reply.HOSTNAME`.
pub fn reply_address(token: &str, hostname: &str) -> String {
    format!("reply+{token}@reply.{hostname}")
}

/// The token of a reply address `reply+TOKEN@reply.HOSTNAME` (the domain compared without
/// regard to case), or `None` if the address is not one.
pub fn token_of_address<'a>(address: &'a str, hostname: &str) -> Option<&'a str> {
    let (local, domain) = address.rsplit_once('@')?;
    let token = local.strip_prefix("reply+")?;
    let expected = format!("reply.{hostname}");
    (domain.eq_ignore_ascii_case(&expected) && !token.is_empty()).then_some(token)
}

fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn take_varint(input: &mut &[u8]) -> Result<u32, TokenError> {
    let mut value: u64 = 0;
    for (i, &byte) in input.iter().enumerate().take(5) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return Err(TokenError::BadEncoding("overlong number"));
            }
            *input = &input[i + 1..];
            return u32::try_from(value).map_err(|_| TokenError::BadEncoding("number too large"));
        }
    }
    Err(TokenError::BadEncoding("unterminated number"))
}

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// RFC 4648 base32, lower case, without padding.
pub(crate) fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes [`base32_encode`]'s output (either case); refuses other characters, impossible
/// lengths and non-zero padding bits.
pub(crate) fn base32_decode(text: &str) -> Result<Vec<u8>, TokenError> {
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return Err(TokenError::BadEncoding("impossible length"));
    }
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c.to_ascii_lowercase() {
            c @ b'a'..=b'z' => c - b'a',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return Err(TokenError::BadEncoding("a character outside a-z and 2-7")),
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    if buffer != 0 {
        return Err(TokenError::BadEncoding("non-canonical last character"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> ReplyKey {
        ReplyKey::from_bytes([b; 32])
    }

    fn claims(at: u64) -> TokenClaims {
        TokenClaims {
            user_id: 4242,
            thread_id: 7,
            kind: ThreadKind::PullRequest,
            issued_at: UNIX_EPOCH + Duration::from_secs(at),
        }
    }

    const T0: u64 = 1_714_564_800;
    const DAY: Duration = Duration::from_secs(86400);

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn base32_round_trips_and_matches_rfc4648() {
        // RFC 4648 test vectors, lower case, without padding.
        for (raw, enc) in [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ] {
            assert_eq!(base32_encode(raw.as_bytes()), enc);
            assert_eq!(base32_decode(enc).unwrap(), raw.as_bytes());
            assert_eq!(base32_decode(&enc.to_uppercase()).unwrap(), raw.as_bytes());
        }
        assert!(
            base32_decode("mz").is_err(),
            "stray bits in the last character"
        );
        assert!(base32_decode("m").is_err(), "impossible length");
        assert!(base32_decode("mzxw6!").is_err());
        assert!(base32_decode("mzxw61").is_err());
    }

    #[test]
    fn varints() {
        for v in [0, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut slice = &out[..];
            assert_eq!(take_varint(&mut slice).unwrap(), v);
            assert!(slice.is_empty());
        }
        assert!(take_varint(&mut &[0x80, 0x00][..]).is_err(), "overlong");
        assert!(
            take_varint(&mut &[0xff, 0xff, 0xff, 0xff, 0x7f][..]).is_err(),
            "> u32"
        );
        assert!(take_varint(&mut &[0x80][..]).is_err(), "unterminated");
    }

    #[test]
    fn issued_tokens_verify_and_are_short() {
        let token = issue_token(&key(1), &claims(T0));
        assert_eq!(
            verify_token(&key(1), &token, at(T0 + 60), DAY),
            Ok(claims(T0))
        );
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        let longest = TokenClaims {
            user_id: u32::MAX,
            thread_id: u32::MAX,
            ..claims(T0)
        };
        let long = issue_token(&key(1), &longest);
        assert_eq!(long.len(), MAX_TOKEN_LEN);
        assert!(format!("reply+{long}").len() <= 64);
        assert_eq!(verify_token(&key(1), &long, at(T0), DAY), Ok(longest));
        // Mail systems may upper-case the local part.
        assert_eq!(
            verify_token(&key(1), &token.to_uppercase(), at(T0), DAY),
            Ok(claims(T0))
        );
    }

    #[test]
    fn every_altered_character_is_refused() {
        let token = issue_token(&key(1), &claims(T0));
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            let tampered = String::from_utf8(bytes).unwrap();
            let err = verify_token(&key(1), &tampered, at(T0), DAY).unwrap_err();
            if i + 1 < token.len() {
                assert_eq!(err, TokenError::BadSignature, "character {i}");
            } else {
                // The last character also carries padding bits.
                assert!(
                    matches!(err, TokenError::BadSignature | TokenError::BadEncoding(_)),
                    "{err:?}"
                );
            }
        }
    }

    #[test]
    fn wrong_key_expired_future_and_garbage() {
        let token = issue_token(&key(1), &claims(T0));
        assert_eq!(
            verify_token(&key(2), &token, at(T0), DAY),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify_token(&key(1), &token, at(T0) + DAY + Duration::from_secs(1), DAY),
            Err(TokenError::Expired {
                age_secs: 86401,
                max_age_secs: 86400
            })
        );
        assert!(verify_token(&key(1), &token, at(T0) + DAY, DAY).is_ok());
        assert!(
            verify_token(&key(1), &token, at(T0 - 60), DAY).is_ok(),
            "skew"
        );
        assert_eq!(
            verify_token(&key(1), &token, at(T0 - 3600), DAY),
            Err(TokenError::IssuedInFuture { ahead_secs: 3600 })
        );
        for garbage in [
            "",
            "abc",
            "not a token",
            &"a".repeat(51),
            &token[..token.len() - 8],
        ] {
            assert!(
                verify_token(&key(1), garbage, at(T0), DAY).is_err(),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn addresses() {
        let address = reply_address("abc234", "appliance.example.com");
        assert_eq!(address, "reply+abc234@reply.appliance.example.com");
        assert_eq!(
            token_of_address(&address, "appliance.example.com"),
            Some("abc234")
        );
        assert_eq!(
            token_of_address(
                "reply+x@REPLY.Appliance.Example.com",
                "appliance.example.com"
            ),
            Some("x")
        );
        assert_eq!(token_of_address("reply@reply.a.example", "a.example"), None);
        assert_eq!(token_of_address("reply+x@other.example", "a.example"), None);
        assert_eq!(format!("{:?}", key(9)), "ReplyKey([redacted])");
        assert_eq!(ReplyKey::from_hex(&key(9).to_hex()), Some(key(9)));
        assert_eq!(ReplyKey::from_hex("abcd"), None);
    }
}
