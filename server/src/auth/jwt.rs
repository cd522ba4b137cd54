//! User tokens: RFC 7519 JWTs, verified with the `jsonwebtoken` crate.
//!
//! Keys: HMAC secrets (`--token-secret`, HS256/384/512; several for
//! rotation, the first signs), public key files (`--token-public-key`,
//! PEM: RSA for RS*/PS*, EC P-256/P-384 for ES256/ES384, Ed25519 for
//! EdDSA) and a JWKS URL (`--jwks-url`, see [`super::jwks`]). A token is
//! only ever checked with keys of its `alg`'s family, so an HS256 token
//! "signed" with a public key as the secret finds no HMAC key that
//! verifies it (algorithm confusion), and `alg: none` is not an algorithm
//! here at all. Keys named by the token itself (`jku`, `jwk`, `x5u`
//! headers) are ignored.
//!
//! Claims: `sub` (user id, required), `exp` (required), `name`, `info`
//! (small JSON shown to other members), `rooms` (grants, see
//! [`crate::policy::Grants`]), and `nbf`, `iat`, `iss`, `aud` (standard).
//!
//! ```
//! use confab_server::auth::{mint, verify, Claims};
//! let secrets = vec!["s3cret".to_owned()];
//! let claims = Claims { sub: "alice".into(), name: Some("Alice".into()), exp: 2_000_000_000, ..Claims::default() };
//! let token = mint(&secrets[0], &claims);
//! assert_eq!(token.split('.').count(), 3); // a JWT
//! assert_eq!(verify(&secrets, &token, 1_999_999_000).unwrap(), claims);
//! assert!(verify(&["other".to_owned()], &token, 1_999_999_000).is_err());
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use confab_protocol::{Json, Member};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Deserializer, Serialize};

use super::jwks::{Jwks, PublicKey};
use super::{display_name, is_reserved_id, valid_user_id, Identity};
use crate::policy::Grants;

/// Longest token accepted, in bytes; a longer one is refused before any
/// parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Longest `info` claim, in bytes of JSON.
pub const MAX_INFO_BYTES: usize = 1024;

/// The `aud` claim: one audience or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// `"aud": "confab"`.
    One(String),
    /// `"aud": ["confab", "api"]`.
    Many(Vec<String>),
}

/// What a user token says. Unknown claims are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id (`[A-Za-z0-9_.-]{1,40}`, not `server` or `g-…`).
    pub sub: String,
    /// Display name; defaults to the user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Expiry, seconds since the Unix epoch (required).
    #[serde(deserialize_with = "date")]
    pub exp: u64,
    /// Not valid before (seconds since the epoch).
    #[serde(
        default,
        deserialize_with = "opt_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub nbf: Option<u64>,
    /// Issued at (seconds since the epoch); a token issued in the future
    /// (beyond the leeway) is refused.
    #[serde(
        default,
        deserialize_with = "opt_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub iat: Option<u64>,
    /// Issuer (checked against `--token-issuer` when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience (checked against `--token-audience` when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Small JSON (at most [`MAX_INFO_BYTES`]) other members see with the
    /// user's presence, e.g. `{"avatar": "https://…"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
    /// Room grants: pattern → actions, e.g.
    /// `{"team.42.**": ["join", "publish", "presence", "history"]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<BTreeMap<String, Vec<String>>>,
}

/// A NumericDate: an integer, or a non-negative number (floored).
fn date<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_u64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1e19)
                .map(|f| f as u64)
        })
        .ok_or_else(|| serde::de::Error::custom("not a NumericDate"))
}

fn opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    date(d).map(Some)
}

/// Why a token was refused (said in the 401 body, or in the `unauthorized`
/// error of a `refresh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a JWT, or its claims are not the expected JSON.
    #[error("malformed token")]
    Malformed,
    /// Longer than [`MAX_TOKEN_BYTES`].
    #[error("token too large")]
    TooLarge,
    /// `alg` is `none`, unknown, or one this server has no key for.
    #[error("token algorithm not accepted")]
    BadAlgorithm,
    /// No key of the token's algorithm verifies its signature.
    #[error("bad token signature")]
    BadSignature,
    /// `exp` is in the past.
    #[error("token expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` is missing or not one of `--token-issuer`.
    #[error("token issuer not accepted")]
    BadIssuer,
    /// `aud` is missing or names none of `--token-audience`.
    #[error("token audience not accepted")]
    BadAudience,
    /// The user id is not `[A-Za-z0-9_.-]{1,40}`, is reserved for the
    /// server ([`is_reserved_id`]), or the name, `info` or `rooms` claim
    /// is invalid.
    #[error("invalid or reserved user id, or invalid name, info or rooms, in token")]
    BadClaims,
    /// `exp` is further away than the server's `--max-token-lifetime`.
    #[error("token lifetime exceeds the server's maximum")]
    TooLong,
    /// A JWKS is configured and none of its keys (even after a refetch)
    /// has the token's `kid` and algorithm.
    #[error("no key for this token (unknown kid)")]
    UnknownKey,
    /// The server has no key configured.
    #[error(
        "this server does not accept tokens (no --token-secret, --token-public-key or --jwks-url)"
    )]
    Disabled,
}

/// Signs `claims` as an HS256 JWT with `secret` (what `confab-server
/// token` prints; an application's backend does the same with its own JWT
/// library). An empty secret signs nothing: the result is an empty string,
/// which no server accepts.
pub fn mint(secret: &str, claims: &Claims) -> String {
    EncodingKey::from_secret(secret.as_bytes())
        .and_then(|key| jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key))
        .unwrap_or_default()
}

/// Checks an HS256/384/512 token against every (non-empty) secret and its
/// times against `now` (seconds since the epoch), with no leeway, no
/// issuer or audience and no lifetime limit: the [`Verifier`] a server
/// with only `secrets` uses, for tools and tests.
pub fn verify(secrets: &[String], token: &str, now: u64) -> Result<Claims, TokenError> {
    let v = Verifier {
        leeway: 0,
        max_lifetime: u64::MAX,
        ..Verifier::with_secrets(secrets)
    };
    v.check(token, now, &[]).map(|(c, _)| c)
}

/// What the token settings of a [`crate::Config`] verify with.
#[derive(Debug, Clone, Default)]
pub struct TokenSettings {
    /// HMAC secrets (`--token-secret`).
    pub secrets: Vec<String>,
    /// PEM public key files (`--token-public-key`).
    pub public_keys: Vec<std::path::PathBuf>,
    /// JWKS URL (`--jwks-url`).
    pub jwks_url: Option<String>,
    /// How long fetched JWKS keys are used before a refetch.
    pub jwks_cache_secs: u64,
    /// Least time between two fetches of the JWKS.
    pub jwks_min_refetch_secs: u64,
    /// Accepted issuers (empty: `iss` not checked).
    pub issuers: Vec<String>,
    /// Accepted audiences (empty: `aud` not checked).
    pub audiences: Vec<String>,
    /// Clock skew allowed for `nbf` and `iat`, seconds.
    pub leeway_secs: u64,
    /// Longest a token may still be valid for.
    pub max_lifetime_secs: u64,
}

/// Verifies user tokens against the server's keys and settings.
pub struct Verifier {
    hmac: Vec<DecodingKey>,
    keys: Vec<PublicKey>,
    jwks: Option<Arc<Jwks>>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: u64,
    max_lifetime: u64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("secrets", &self.hmac.len())
            .field("keys", &self.keys)
            .field("jwks", &self.jwks)
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

/// Reads one PEM public key: RSA, EC (P-256/P-384) or Ed25519.
fn read_public_key(path: &Path) -> Result<PublicKey, String> {
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let key = DecodingKey::from_rsa_pem(&pem)
        .or_else(|_| DecodingKey::from_ec_pem(&pem))
        .or_else(|_| DecodingKey::from_ed_pem(&pem))
        .map_err(|_| {
            format!(
                "{}: not a PEM RSA, EC or Ed25519 public key",
                path.display()
            )
        })?;
    Ok(PublicKey {
        kid: None,
        alg: None,
        key,
    })
}

impl Verifier {
    fn with_secrets(secrets: &[String]) -> Self {
        Self {
            hmac: (secrets.iter())
                .filter(|s| !s.is_empty())
                .filter_map(|s| DecodingKey::from_secret(s.as_bytes()).ok())
                .collect(),
            keys: Vec::new(),
            jwks: None,
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: 30,
            max_lifetime: u64::MAX,
        }
    }

    /// The verifier of `settings`: reads the key files (an unreadable or
    /// invalid one is an error) and prepares the JWKS cache (fetched on
    /// first use; call [`Verifier::prefetch`] to warm it).
    pub fn new(settings: &TokenSettings) -> Result<Self, String> {
        let keys = (settings.public_keys.iter())
            .map(|p| read_public_key(p))
            .collect::<Result<_, _>>()?;
        let jwks = match &settings.jwks_url {
            None => None,
            Some(url) => Some(Arc::new(Jwks::new(
                url,
                std::time::Duration::from_secs(settings.jwks_cache_secs.max(1)),
                std::time::Duration::from_secs(settings.jwks_min_refetch_secs),
            )?)),
        };
        Ok(Self {
            keys,
            jwks,
            issuers: settings.issuers.clone(),
            audiences: settings.audiences.clone(),
            leeway: settings.leeway_secs,
            max_lifetime: settings.max_lifetime_secs,
            ..Self::with_secrets(&settings.secrets)
        })
    }

    /// Whether any key is configured (else every token is refused with
    /// [`TokenError::Disabled`]).
    pub fn enabled(&self) -> bool {
        !self.hmac.is_empty() || !self.keys.is_empty() || self.jwks.is_some()
    }

    /// Fetches the JWKS now (at start), logging a failure.
    pub async fn prefetch(&self) {
        if let Some(jwks) = &self.jwks {
            jwks.refresh(true).await;
        }
    }

    /// Verifies `token` (fetching the JWKS when its `kid` is unknown, at
    /// most once per `--jwks-min-refetch`) and returns who it names.
    pub async fn identify(&self, token: &str, now: u64) -> Result<Identity, TokenError> {
        let fetched;
        let extra: &[PublicKey] = match (&self.jwks, peek_header(token)) {
            (Some(jwks), Ok((alg, kid))) if alg.family() != AlgorithmFamily::Hmac => {
                fetched = jwks.keys_for(kid.as_deref(), alg).await;
                &fetched
            }
            _ => &[],
        };
        self.check(token, now, extra).map(|(_, id)| id)
    }

    /// Verifies with the configured keys plus `extra` (JWKS keys).
    fn check(
        &self,
        token: &str,
        now: u64,
        extra: &[PublicKey],
    ) -> Result<(Claims, Identity), TokenError> {
        if !self.enabled() {
            return Err(TokenError::Disabled);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge);
        }
        let (alg, _) = peek_header(token)?;
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        if !self.issuers.is_empty() {
            validation.set_issuer(&self.issuers);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        validation.validate_aud = !self.audiences.is_empty();
        if validation.validate_aud {
            validation.set_audience(&self.audiences);
            validation.required_spec_claims.insert("aud".to_owned());
        }
        let hmac = self.hmac.iter();
        let public = (self.keys.iter().chain(extra))
            .filter(|k| k.fits(alg))
            .map(|k| &k.key);
        let candidates: Vec<&DecodingKey> = if alg.family() == AlgorithmFamily::Hmac {
            hmac.collect()
        } else {
            public.collect()
        };
        if candidates.is_empty() {
            let jwks = self.jwks.is_some() && alg.family() != AlgorithmFamily::Hmac;
            return Err(if jwks {
                TokenError::UnknownKey
            } else {
                TokenError::BadAlgorithm
            });
        }
        let mut result = Err(TokenError::BadSignature);
        for key in candidates {
            match jsonwebtoken::decode::<Claims>(token, key, &validation) {
                Ok(data) => {
                    result = Ok(data.claims);
                    break;
                }
                Err(e) => match e.kind() {
                    // Not this key: try the next one.
                    ErrorKind::InvalidSignature
                    | ErrorKind::InvalidKeyFormat
                    | ErrorKind::InvalidRsaKey(_)
                    | ErrorKind::InvalidEcdsaKey
                    | ErrorKind::InvalidEddsaKey => {}
                    // The signature verified (claims are checked after it).
                    ErrorKind::InvalidIssuer => return Err(TokenError::BadIssuer),
                    ErrorKind::InvalidAudience => return Err(TokenError::BadAudience),
                    ErrorKind::MissingRequiredClaim(c) if c == "iss" => {
                        return Err(TokenError::BadIssuer)
                    }
                    ErrorKind::MissingRequiredClaim(c) if c == "aud" => {
                        return Err(TokenError::BadAudience)
                    }
                    ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
                        return Err(TokenError::BadAlgorithm)
                    }
                    _ => return Err(TokenError::Malformed),
                },
            }
        }
        let claims = result?;
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        let skewed = now.saturating_add(self.leeway);
        if claims.nbf.is_some_and(|t| t > skewed) || claims.iat.is_some_and(|t| t > skewed) {
            return Err(TokenError::NotYetValid);
        }
        if claims.exp - now > self.max_lifetime {
            return Err(TokenError::TooLong);
        }
        let identity = identity(&claims)?;
        Ok((claims, identity))
    }
}

/// The `alg` and `kid` of a token's header. `none` and unknown algorithms
/// are [`TokenError::BadAlgorithm`].
fn peek_header(token: &str) -> Result<(Algorithm, Option<String>), TokenError> {
    #[derive(Deserialize)]
    struct Peek {
        alg: String,
        #[serde(default)]
        kid: Option<String>,
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(head), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let json = URL_SAFE_NO_PAD
        .decode(head)
        .map_err(|_| TokenError::Malformed)?;
    let peek: Peek = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    let alg = peek
        .alg
        .parse::<Algorithm>()
        .map_err(|_| TokenError::BadAlgorithm)?;
    Ok((alg, peek.kid))
}

/// The identity of verified claims: checks the user id, name, `info` and
/// `rooms`.
fn identity(claims: &Claims) -> Result<Identity, TokenError> {
    if !valid_user_id(&claims.sub) || is_reserved_id(&claims.sub) {
        return Err(TokenError::BadClaims);
    }
    let name = match &claims.name {
        None => claims.sub.clone(),
        Some(n) => display_name(n).ok_or(TokenError::BadClaims)?,
    };
    let info = match &claims.info {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => {
            let text = v.to_string();
            if text.len() > MAX_INFO_BYTES {
                return Err(TokenError::BadClaims);
            }
            Some(Json::parse(&text).map_err(|_| TokenError::BadClaims)?)
        }
    };
    let grants = match &claims.rooms {
        None => Grants::default(),
        Some(map) => Grants::from_claim(map).map_err(|_| TokenError::BadClaims)?,
    };
    let mut member = Member::new(claims.sub.clone(), name);
    member.info = info;
    Ok(Identity {
        member,
        guest: false,
        expires: Some(claims.exp),
        grants,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn claims(sub: &str, exp: u64) -> Claims {
        Claims {
            sub: sub.into(),
            exp,
            ..Claims::default()
        }
    }

    #[test]
    fn alg_none_and_garbage_are_refused() {
        let body = URL_SAFE_NO_PAD.encode(br#"{"sub":"alice","exp":9999999999}"#);
        for head in [r#"{"alg":"none"}"#, r#"{"alg":"None"}"#, r#"{"alg":"HS1"}"#] {
            let t = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(head));
            assert_eq!(
                verify(&["s".into()], &t, 0),
                Err(TokenError::BadAlgorithm),
                "{head}"
            );
        }
        for t in [
            "",
            "a",
            "a.b",
            "a.b.c.d",
            "!!.b.c",
            &"a".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            assert!(verify(&["s".into()], t, 0).is_err(), "{t}");
        }
    }

    #[test]
    fn times_and_claims() {
        let s = vec!["s".to_owned()];
        let ok = claims("alice", 100);
        assert!(verify(&s, &mint("s", &ok), 99).is_ok());
        assert_eq!(verify(&s, &mint("s", &ok), 100), Err(TokenError::Expired));
        let early = Claims {
            nbf: Some(50),
            ..ok.clone()
        };
        assert_eq!(
            verify(&s, &mint("s", &early), 49),
            Err(TokenError::NotYetValid)
        );
        assert!(verify(&s, &mint("s", &early), 50).is_ok());
        for bad in [
            claims("server", 100),
            claims("g-1", 100),
            claims("dm:x", 100),
            Claims {
                name: Some("\u{202E}x".into()),
                ..ok.clone()
            },
            Claims {
                info: Some(serde_json::json!({"a": "x".repeat(MAX_INFO_BYTES)})),
                ..ok.clone()
            },
            Claims {
                rooms: Some([("team.*".to_owned(), vec!["own".to_owned()])].into()),
                ..ok.clone()
            },
        ] {
            assert_eq!(
                verify(&s, &mint("s", &bad), 0),
                Err(TokenError::BadClaims),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn float_dates_are_numeric_dates() {
        let c: Claims = serde_json::from_str(r#"{"sub":"a","exp":1700000000.5}"#).unwrap();
        assert_eq!(c.exp, 1_700_000_000);
        assert!(serde_json::from_str::<Claims>(r#"{"sub":"a","exp":"soon"}"#).is_err());
        assert!(serde_json::from_str::<Claims>(r#"{"sub":"a","exp":-1}"#).is_err());
    }
}
