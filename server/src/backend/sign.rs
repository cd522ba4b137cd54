//! Signing requests to the application's backend: `X-Confab-Timestamp`
//! (seconds since the Unix epoch) and `X-Confab-Signature: v1=<hex of
//! HMAC-SHA256(secret, "<timestamp>.<body>")>`. The backend recomputes the
//! HMAC over the raw body, compares in constant time, and refuses a
//! timestamp more than [`MAX_SKEW_SECS`] away from its clock (a replay).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "X-Confab-Timestamp";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Confab-Signature";
/// How far a signed timestamp may be from the receiver's clock.
pub const MAX_SKEW_SECS: u64 = 300;

/// The signature of `body` sent at `timestamp`, as the header carries it.
///
/// ```
/// use confab_server::backend::sign::{signature, verify};
/// let s = signature("secret", 1_764_000_000, b"{}");
/// assert!(s.starts_with("v1="));
/// assert!(verify("secret", 1_764_000_000, b"{}", &s, 1_764_000_010));
/// assert!(!verify("secret", 1_764_000_000, b"{ }", &s, 1_764_000_010)); // body changed
/// assert!(!verify("other", 1_764_000_000, b"{}", &s, 1_764_000_010));
/// assert!(!verify("secret", 1_764_000_000, b"{}", &s, 1_764_000_400)); // too old: a replay
/// ```
pub fn signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(3 + digest.len() * 2);
    out.push_str("v1=");
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// `request` with `body` as its JSON body, signed now with `secret`.
pub fn signed(
    request: reqwest::RequestBuilder,
    secret: &str,
    body: impl Into<Vec<u8>>,
) -> reqwest::RequestBuilder {
    let body = body.into();
    let ts = crate::clock::unix_now();
    request
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, ts.to_string())
        .header(SIGNATURE_HEADER, signature(secret, ts, &body))
        .body(body)
}

/// Whether `header` is the signature of `body` at `timestamp` and the
/// timestamp is within [`MAX_SKEW_SECS`] of `now` (what a backend checks;
/// here for tests and for Rust backends).
pub fn verify(secret: &str, timestamp: u64, body: &[u8], header: &str, now: u64) -> bool {
    let Some(hex) = header.strip_prefix("v1=") else {
        return false;
    };
    let Some(given) = decode_hex(hex) else {
        return false;
    };
    let mut mac = mac(secret);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given).is_ok() && timestamp.abs_diff(now) <= MAX_SKEW_SECS
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn mac(secret: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|e| unreachable!("hmac key of any length: {e}"))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    s.as_bytes()
        .chunks(2)
        .map(|p| u8::try_from(digit(p[0])? * 16 + digit(p[1])?).ok())
        .collect()
}
