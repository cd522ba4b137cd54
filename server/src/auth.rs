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

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use confab_protocol::{normalize_display_name, Member};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub use crate::clock::unix_now;

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
    /// The user id is not `[A-Za-z0-9_.-]{1,40}`, is reserved for the
    /// server ([`is_reserved_id`]), or the name is invalid.
    #[error("invalid or reserved user id, or invalid name, in token")]
    BadClaims,
    /// `exp` is further away than the server's `--max-token-lifetime`.
    #[error("token lifetime exceeds the server's maximum")]
    TooLong,
    /// The server has no token secret configured.
    #[error("this server does not accept tokens (no --token-secret)")]
    Disabled,
}

/// A display name as the server keeps it: Unicode NFKC (fullwidth and
/// other compatibility forms become their plain letters, so `Ａｌｉｃｅ` is
/// `Alice`), then [`normalize_display_name`]'s checks (length, no control
/// or bidirectional characters, something visible). `None` when refused.
///
/// ```
/// use confab_server::auth::display_name;
/// assert_eq!(display_name(" Ａｌｉｃｅ "), Some("Alice".to_owned()));
/// assert_eq!(display_name("\u{FEFF}\u{200B}"), None);
/// assert_eq!(display_name("bob\u{2067}"), None);
/// ```
pub fn display_name(raw: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    let nfkc: String = raw.nfkc().collect();
    normalize_display_name(&nfkc).map(str::to_owned)
}

/// What [`display_name`] requires, as said to a client it refuses.
pub const NAME_RULE: &str = "name must be 1-64 characters, something visible, without control or bidirectional-override characters";

/// The id messages from the HTTP API are sent as.
pub const SERVER_ID: &str = "server";

/// Whether `id` belongs to the server, not to a user a token may name: the
/// HTTP API's sender ([`SERVER_ID`]) and every guest id (`g-…`, given out
/// by the server). A token for one of them is refused.
///
/// ```
/// use confab_server::auth::is_reserved_id;
/// assert!(is_reserved_id("server") && is_reserved_id("SERVER") && is_reserved_id("g-0123"));
/// assert!(!is_reserved_id("alice") && !is_reserved_id("gary"));
/// ```
pub fn is_reserved_id(id: &str) -> bool {
    id.eq_ignore_ascii_case(SERVER_ID) || id.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("g-"))
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

fn sign(secret: &str, claims: &impl Serialize) -> String {
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let mut m = mac(secret);
    m.update(body.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{body}.{sig}")
}

/// Signs `claims` with `secret`.
pub fn mint(secret: &str, claims: &Claims) -> String {
    sign(secret, claims)
}

/// The JSON claims of a token signed by one of `secrets` (constant-time
/// comparison). Empty secrets never verify anything.
fn signed_body(secrets: &[String], token: &str) -> Result<Vec<u8>, TokenError> {
    if !secrets.iter().any(|s| !s.is_empty()) {
        return Err(TokenError::Disabled);
    }
    let (body, sig) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| TokenError::Malformed)?;
    let signed = secrets.iter().filter(|s| !s.is_empty()).any(|s| {
        let mut m = mac(s);
        m.update(body.as_bytes());
        m.verify_slice(&sig).is_ok()
    });
    if !signed {
        return Err(TokenError::BadSignature);
    }
    URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| TokenError::Malformed)
}

/// Checks a token against every (non-empty) secret, constant-time, and its
/// expiry against `now` (seconds since the Unix epoch).
pub fn verify(secrets: &[String], token: &str, now: u64) -> Result<Claims, TokenError> {
    let json = signed_body(secrets, token)?;
    let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    if !valid_user_id(&claims.sub) || is_reserved_id(&claims.sub) {
        return Err(TokenError::BadClaims);
    }
    if let Some(name) = &claims.name {
        if display_name(name).is_none() {
            return Err(TokenError::BadClaims);
        }
    }
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// Lifetime of a guest token: a guest who comes back within a week keeps
/// their id. Every `welcome` carries a fresh one.
pub const GUEST_TOKEN_TTL_SECS: u64 = 7 * 86_400;

/// Claims of a guest token (see [`GuestKey`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct GuestClaims {
    sub: String,
    exp: u64,
    kind: String,
}

const GUEST_KIND: &str = "guest";

/// Whether `id` has the shape of a generated guest id, `g-<16 hex>`.
pub fn is_guest_id(id: &str) -> bool {
    id.strip_prefix("g-")
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The key that signs guest tokens: `welcome.guest_token`, presented back
/// as `?guest=` to keep a guest id across reconnects. Derived from a
/// secret so a guest token never verifies as a user token (and the claims
/// say `"kind":"guest"` besides).
///
/// ```
/// use confab_server::auth::GuestKey;
/// let key = GuestKey::new("k");
/// let token = key.mint("g-0123456789abcdef", 0);
/// assert_eq!(key.verify(&token, 1).as_deref(), Some("g-0123456789abcdef"));
/// assert_eq!(GuestKey::new("other").verify(&token, 1), None);
/// assert_eq!(key.verify(&token, u64::MAX), None); // expired
/// ```
#[derive(Clone)]
pub struct GuestKey(String);

impl std::fmt::Debug for GuestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GuestKey(..)")
    }
}

impl GuestKey {
    /// The key derived from `secret` (a token secret or a generated key).
    pub fn new(secret: &str) -> Self {
        Self(format!("confab-guest-v1:{secret}"))
    }

    /// A random key (32 bytes, hex) for [`GuestKey::new`].
    pub fn random_secret() -> String {
        let bytes: [u8; 32] = rand::random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A token for guest `id`, valid for [`GUEST_TOKEN_TTL_SECS`] after `now`.
    pub fn mint(&self, id: &str, now: u64) -> String {
        sign(
            &self.0,
            &GuestClaims {
                sub: id.to_owned(),
                exp: now.saturating_add(GUEST_TOKEN_TTL_SECS),
                kind: GUEST_KIND.to_owned(),
            },
        )
    }

    /// The guest id of a valid, unexpired guest token signed with this key.
    pub fn verify(&self, token: &str, now: u64) -> Option<String> {
        let json = signed_body(std::slice::from_ref(&self.0), token).ok()?;
        let c: GuestClaims = serde_json::from_slice(&json).ok()?;
        (c.kind == GUEST_KIND && c.exp > now && is_guest_id(&c.sub)).then_some(c.sub)
    }
}

/// The token secrets of `--token-secret` / `CONFAB_TOKEN_SECRET` as given
/// on the command line: empty entries left by a stray comma (`current,`)
/// are dropped; a whitespace-only secret, or a flag that names no secret at
/// all, is an error (the server must not start with a guessable key).
///
/// ```
/// use confab_server::auth::check_secrets;
/// assert_eq!(check_secrets(vec!["a".into(), "".into()]), Ok(vec!["a".to_owned()]));
/// assert_eq!(check_secrets(vec![]), Ok(vec![]));
/// assert!(check_secrets(vec!["".into()]).is_err());
/// assert!(check_secrets(vec!["a".into(), "  ".into()]).is_err());
/// ```
pub fn check_secrets(raw: Vec<String>) -> Result<Vec<String>, String> {
    if raw.iter().any(|s| !s.is_empty() && s.trim().is_empty()) {
        return Err("--token-secret: a secret is only whitespace".to_owned());
    }
    let given = !raw.is_empty();
    let secrets: Vec<String> = raw.into_iter().filter(|s| !s.is_empty()).collect();
    if given && secrets.is_empty() {
        return Err("--token-secret is empty (unset it to run without user tokens)".to_owned());
    }
    Ok(secrets)
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
        Self::guest_with_id(format!("g-{:016x}", rand::rng().random::<u64>()), name)
    }

    /// A guest with a known id (from a verified guest token) and the given
    /// (already normalized) or a generated `guest-NNNN` name.
    pub fn guest_with_id(id: String, name: Option<&str>) -> Self {
        let mut rng = rand::rng();
        let name = name.map_or_else(
            || format!("guest-{:04}", rng.random_range(0..10_000)),
            str::to_owned,
        );
        Self {
            member: Member::new(id, name),
            expires: None,
        }
    }

    /// A user from verified token claims.
    pub fn from_claims(claims: Claims) -> Self {
        let name = (claims.name.as_deref())
            .and_then(display_name)
            .unwrap_or_else(|| claims.sub.clone());
        Self {
            member: Member::new(claims.sub, name),
            expires: Some(claims.exp),
        }
    }
}

/// The credential of an `Authorization: Bearer <token>` header (the scheme
/// is case-insensitive, RFC 9110 §11.1), if any.
///
/// ```
/// use axum::http::{header, HeaderMap, HeaderValue};
/// use confab_server::auth::bearer;
/// let mut h = HeaderMap::new();
/// h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer  abc "));
/// assert_eq!(bearer(&h), Some("abc"));
/// h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
/// assert_eq!(bearer(&h), None);
/// h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer"));
/// assert_eq!(bearer(&h), None);
/// ```
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
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
