//! Who a connection is: token users (JWTs, [`jwt`]), guests ([`guest`]),
//! the API key; and the name rules a token's claims must follow.

pub mod guest;
pub mod jwks;
pub mod jwt;

use confab_protocol::{normalize_display_name, Member};
use rand::Rng;

pub use crate::clock::unix_now;
use crate::policy::{Action, Grants, Policy, Who};
pub use guest::{is_guest_id, GuestKey, GUEST_TOKEN_TTL_SECS};
pub use jwt::{
    mint, verify, Audience, Claims, TokenError, TokenSettings, Verifier, MAX_INFO_BYTES,
};

/// Longest user id accepted from a token.
pub const MAX_USER_ID: usize = 40;

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

/// The authenticated party of one connection (or of one HTTP request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Id, display name and the token's `info`.
    pub member: Member,
    /// A guest: no token, and no user given by the connect hook.
    pub guest: bool,
    /// Token expiry (seconds since the epoch); `None` without a token.
    pub expires: Option<u64>,
    /// The rooms the token (or the connect hook) grants.
    pub grants: Grants,
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
            guest: true,
            expires: None,
            grants: Grants::default(),
        }
    }

    /// Whether this is a guest (no token, and no user from the connect
    /// hook).
    pub fn is_guest(&self) -> bool {
        self.guest
    }

    /// Who this is, for [`Policy`] decisions.
    pub fn who(&self) -> Who<'_> {
        if self.is_guest() {
            Who::guest(&self.member.id)
        } else {
            Who::user(&self.member.id, &self.grants)
        }
    }

    /// Whether `policy` lets this identity take `action` in `room`.
    pub fn may(&self, policy: &Policy, room: &str, action: Action) -> bool {
        policy.allows(self.who(), room, action)
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
    use hmac::Mac;
    let mut m = guest::mac("confab-api-key");
    m.update(configured.as_bytes());
    let expected = m.finalize().into_bytes();
    let mut m = guest::mac("confab-api-key");
    m.update(presented.as_bytes());
    m.verify_slice(&expected).is_ok()
}
