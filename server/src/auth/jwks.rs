//! A JWKS (RFC 7517 key set) fetched from `--jwks-url` and cached: keys
//! are used for `--jwks-cache` (default 10 min), then fetched again; a
//! token naming an unknown `kid` (the identity provider rotated its keys)
//! triggers a fetch at once, but never more than one per
//! `--jwks-min-refetch` (default 10 s), so a stream of tokens with made-up
//! `kid`s cannot turn the server into a load generator against the
//! provider. A failed fetch keeps the keys it had. Symmetric (`oct`) keys
//! and keys this server cannot use are skipped; a key with an `alg` is
//! used only for tokens of that algorithm.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

/// A public key from a file or a JWKS.
#[derive(Clone)]
pub(super) struct PublicKey {
    /// The JWKS `kid`, if any.
    pub(super) kid: Option<String>,
    /// The JWKS `alg`, if any: then only tokens of that algorithm.
    pub(super) alg: Option<Algorithm>,
    pub(super) key: DecodingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("family", &self.key.family())
            .finish()
    }
}

impl PublicKey {
    pub(super) fn fits(&self, alg: Algorithm) -> bool {
        self.key.family() == alg.family() && self.alg.is_none_or(|a| a == alg)
    }
}

/// Most bytes of a JWKS response.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// Longest a fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Cache {
    keys: Arc<Vec<PublicKey>>,
    fetched: Option<Instant>,
    attempted: Option<Instant>,
}

/// The key cache of one JWKS URL.
pub struct Jwks {
    url: String,
    client: reqwest::Client,
    ttl: Duration,
    min_refetch: Duration,
    cache: RwLock<Cache>,
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn algorithm(a: &KeyAlgorithm) -> Option<Algorithm> {
    Some(match a {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// The usable public keys of a JWKS document (others skipped).
pub(super) fn parse_jwks(body: &[u8]) -> Result<Vec<PublicKey>, String> {
    #[derive(serde::Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set = serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut out = Vec::new();
    for value in set.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        if matches!(
            jwk.algorithm,
            AlgorithmParameters::OctetKey(_) | AlgorithmParameters::Other(_)
        ) {
            continue;
        }
        let alg = match &jwk.common.key_algorithm {
            None => None,
            Some(a) => match algorithm(a) {
                Some(a) => Some(a),
                None => continue,
            },
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        out.push(PublicKey {
            kid: jwk.common.key_id.clone(),
            alg,
            key,
        });
    }
    Ok(out)
}

impl Jwks {
    /// A cache for `url` (`http://` or `https://`); nothing is fetched yet.
    pub fn new(url: &str, ttl: Duration, min_refetch: Duration) -> Result<Self, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("--jwks-url {url:?}: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("--jwks-url {url:?}: not an http(s) URL"));
        }
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| format!("--jwks-url: cannot build an HTTP client: {e}"))?;
        Ok(Self {
            url: url.to_owned(),
            client,
            ttl,
            min_refetch,
            cache: RwLock::new(Cache::default()),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    fn snapshot(&self) -> (Arc<Vec<PublicKey>>, Option<Instant>, Option<Instant>) {
        let c = self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (c.keys.clone(), c.fetched, c.attempted)
    }

    /// Fetches the set (unless another fetch happened within
    /// `min_refetch`, or `force`); on failure the old keys stay.
    pub(super) async fn refresh(&self, force: bool) {
        let _one_at_a_time = self.fetching.lock().await;
        let (_, _, attempted) = self.snapshot();
        if !force && attempted.is_some_and(|t| t.elapsed() < self.min_refetch) {
            return;
        }
        self.cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .attempted = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "fetched JWKS");
                let mut c = self
                    .cache
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                c.keys = Arc::new(keys);
                c.fetched = Some(Instant::now());
            }
            Err(e) => {
                tracing::warn!(url = %self.url, error = %e, "JWKS fetch failed; keeping the keys we had")
            }
        }
    }

    async fn fetch(&self) -> Result<Vec<PublicKey>, String> {
        let mut response = self
            .client
            .get(&self.url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("JWKS larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        parse_jwks(&body)
    }

    /// The keys a token with `kid` and `alg` may be checked with: fetched
    /// first when the cache is empty or stale, or when `kid` is unknown
    /// (rate-bounded, see the module docs).
    pub(super) async fn keys_for(&self, kid: Option<&str>, alg: Algorithm) -> Vec<PublicKey> {
        let (keys, fetched, _) = self.snapshot();
        let stale = fetched.is_none_or(|t| t.elapsed() >= self.ttl);
        let unknown = kid.is_some_and(|k| !keys.iter().any(|p| p.kid.as_deref() == Some(k)));
        let keys = if stale || unknown {
            self.refresh(false).await;
            self.snapshot().0
        } else {
            keys
        };
        (keys.iter())
            .filter(|k| kid.is_none() || k.kid.is_none() || k.kid.as_deref() == kid)
            .filter(|k| k.key.family() == alg.family())
            .cloned()
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unusable_keys_are_skipped() {
        let set = br#"{"keys":[
            {"kty":"oct","k":"c2VjcmV0","kid":"sym"},
            {"kty":"EC","crv":"P-256","kid":"ec1","alg":"ES256",
             "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty":"weird"},
            {"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        ]}"#;
        let keys = parse_jwks(set).unwrap();
        let kids: Vec<_> = keys.iter().map(|k| k.kid.clone().unwrap()).collect();
        assert_eq!(kids, ["ec1", "ed1"]);
        assert_eq!(keys[0].alg, Some(Algorithm::ES256));
        assert!(parse_jwks(b"[]").is_err());
    }
}
