//! Guest tokens: `welcome.guest_token`, presented back as `?guest=` to keep
//! a guest id across reconnects. An internal format (never minted by an
//! application): `base64url(json {"sub","exp","kind":"guest"}) "."
//! base64url(HMAC-SHA256)`, unpadded, with a key derived from a secret so
//! a guest token never verifies as a user token (user tokens are JWTs,
//! three parts; a guest token has two).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

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

pub(super) fn mac(secret: &str) -> HmacSha256 {
    // HMAC accepts keys of any length.
    HmacSha256::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|e| unreachable!("hmac key of any length: {e}"))
}

/// The key that signs guest tokens.
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
        let claims = GuestClaims {
            sub: id.to_owned(),
            exp: now.saturating_add(GUEST_TOKEN_TTL_SECS),
            kind: GUEST_KIND.to_owned(),
        };
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let mut m = mac(&self.0);
        m.update(body.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
        format!("{body}.{sig}")
    }

    /// The guest id of a valid, unexpired guest token signed with this key
    /// (constant-time signature check).
    pub fn verify(&self, token: &str, now: u64) -> Option<String> {
        if token.len() > 1024 {
            return None;
        }
        let (body, sig) = token.split_once('.')?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        let mut m = mac(&self.0);
        m.update(body.as_bytes());
        m.verify_slice(&sig).ok()?;
        let json = URL_SAFE_NO_PAD.decode(body).ok()?;
        let c: GuestClaims = serde_json::from_slice(&json).ok()?;
        (c.kind == GUEST_KIND && c.exp > now && is_guest_id(&c.sub)).then_some(c.sub)
    }
}
