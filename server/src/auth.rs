//! Who a connection is: guests, signed user tokens, the API key.
//!
//! Token format: `base64url(json {"sub","name"?,"exp"}) "." base64url(hmac)`
//! where `hmac` is HMAC-SHA256 of the first part with the server secret, and
//! `exp` is in seconds since the Unix epoch. Both parts are unpadded.
//!
//! ```
//! use confab_server::auth::{mint, verify, Claims};
//! let secrets = vec!["s3cret".to_owned()];
//! let claims = Claims { sub: "alice".into(), name: Some("Alice".into()), exp: u64::MAX / 2 };
//! let token = mint(&secrets[0], &claims);
//! assert_eq!(verify(&secrets, &token, 0).unwrap(), claims);
//! assert!(verify(&["other".to_owned()], &token, 0).is_err());
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use confab_protocol::{normalize_display_name, Member};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Longest user id accepted from a token.
pub const MAX_USER_ID: usize = 40;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id (`[A-Za-z0-9_.-]{1,40}`).
    pub sub: String,
    /// Display name; defaults to the user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not two base64url parts, or the claims are not the expected JSON.
    #[error("malformed token")]
    Malformed,
    /// The signature matches none of the server's secrets.
    #[error("bad token signature")]
    BadSignature,
    /// `exp` is in the past.
    #[error("token expired")]
    Expired,
    /// The user id is not `[A-Za-z0-9_.-]{1,40}` or the name is invalid.
    #[error("invalid user id or name in token")]
    BadClaims,
    /// The server has no token secret configured.
    #[error("this server does not accept tokens (no --token-secret)")]
    Disabled,
}

/// Whether `id` is a valid user id: 1–40 of `A-Z a-z 0-9 _ . -`.
pub fn valid_user_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_USER_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn mac(secret: &str) -> HmacSha256 {
    // HMAC accepts keys of any length.
    HmacSha256::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|e| unreachable!("hmac key of any length: {e}"))
}

/// Signs `claims` with `secret`.
pub fn mint(secret: &str, claims: &Claims) -> String {
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let mut m = mac(secret);
    m.update(body.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{body}.{sig}")
}

/// Checks a token against every secret (constant-time) and its expiry
/// against `now` (seconds since the Unix epoch).
pub fn verify(secrets: &[String], token: &str, now: u64) -> Result<Claims, TokenError> {
    if secrets.is_empty() {
        return Err(TokenError::Disabled);
    }
    let (body, sig) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| TokenError::Malformed)?;
    let signed = secrets.iter().any(|s| {
        let mut m = mac(s);
        m.update(body.as_bytes());
        m.verify_slice(&sig).is_ok()
    });
    if !signed {
        return Err(TokenError::BadSignature);
    }
    let json = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    if !valid_user_id(&claims.sub) {
        return Err(TokenError::BadClaims);
    }
    if let Some(name) = &claims.name {
        if normalize_display_name(name).is_none() {
            return Err(TokenError::BadClaims);
        }
    }
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Parses a duration like `90s`, `30m`, `24h`, `7d` (a bare number is seconds).
///
/// ```
/// assert_eq!(confab_server::auth::parse_ttl("24h"), Ok(86_400));
/// assert!(confab_server::auth::parse_ttl("soon").is_err());
/// ```
pub fn parse_ttl(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (try 90s, 30m, 24h, 7d)"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit in {s:?} (use s, m, h or d)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| "duration too large".to_owned())
}

/// The authenticated party of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Id and display name.
    pub member: Member,
    /// Token expiry (seconds since the epoch), `None` for guests.
    pub expires: Option<u64>,
}

impl Identity {
    /// A guest with a random id `g-<16 hex>` and the given (already
    /// normalized) or a generated `guest-NNNN` name.
    pub fn guest(name: Option<&str>) -> Self {
        let mut rng = rand::rng();
        let id = format!("g-{:016x}", rng.random::<u64>());
        let name = name.map_or_else(
            || format!("guest-{:04}", rng.random_range(0..10_000)),
            str::to_owned,
        );
        Self {
            member: Member { id, name },
            expires: None,
        }
    }

    /// A user from verified token claims.
    pub fn from_claims(claims: Claims) -> Self {
        let name = claims
            .name
            .as_deref()
            .and_then(normalize_display_name)
            .unwrap_or(&claims.sub)
            .to_owned();
        Self {
            member: Member {
                id: claims.sub,
                name,
            },
            expires: Some(claims.exp),
        }
    }
}

/// Constant-time comparison of a presented API key with the configured one.
pub fn api_key_matches(configured: &str, presented: &str) -> bool {
    // Compare HMACs of both under a fixed key so the comparison does not
    // leak the key's length or prefix through timing.
    let mut m = mac("confab-api-key");
    m.update(configured.as_bytes());
    let expected = m.finalize().into_bytes();
    let mut m = mac("confab-api-key");
    m.update(presented.as_bytes());
    m.verify_slice(&expected).is_ok()
}
