//! User tokens for the tests: HS256 with a secret, RS256/ES256/EdDSA with
//! the test keys in `server/tests/keys/`, and JWKS documents of them.

use confab_server::auth::{unix_now, Claims};
use jsonwebtoken::jwk::{Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// A file of `server/tests/keys/`.
pub fn key_path(name: &str) -> String {
    format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Claims of user `sub` (named after it), valid for 10 minutes.
pub fn claims(sub: &str) -> Claims {
    Claims {
        sub: sub.to_owned(),
        name: Some(sub.to_owned()),
        exp: unix_now() + 600,
        ..Claims::default()
    }
}

/// `c` with the `rooms` grants `(pattern, actions)`.
pub fn granting(mut c: Claims, grants: &[(&str, &[&str])]) -> Claims {
    c.rooms = Some(
        grants
            .iter()
            .map(|(p, a)| ((*p).to_owned(), a.iter().map(|s| (*s).to_owned()).collect()))
            .collect(),
    );
    c
}

/// Every action.
pub const ALL: &[&str] = &["join", "publish", "presence", "history"];

fn encoding_key(alg: Algorithm, key_file: &str) -> EncodingKey {
    let pem = std::fs::read(key_path(key_file)).unwrap();
    match alg {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 | Algorithm::PS256 => {
            EncodingKey::from_rsa_pem(&pem).unwrap()
        }
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem).unwrap(),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem).unwrap(),
        _ => panic!("use mint() for HMAC"),
    }
}

/// `claims` signed with `alg` and the private key `key_file` (`rsa.key`,
/// `ec.key`, `ed.key`), with header `kid` when given.
pub fn sign(alg: Algorithm, key_file: &str, kid: Option<&str>, claims: &impl Serialize) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &encoding_key(alg, key_file)).unwrap()
}

/// The public JWK of private key `key_file` for `alg`, with `kid`.
pub fn jwk(alg: Algorithm, key_file: &str, kid: &str) -> serde_json::Value {
    let mut jwk = Jwk::from_encoding_key(&encoding_key(alg, key_file), alg).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.key_algorithm = Some(match alg {
        Algorithm::RS256 => KeyAlgorithm::RS256,
        Algorithm::ES256 => KeyAlgorithm::ES256,
        Algorithm::EdDSA => KeyAlgorithm::EdDSA,
        _ => panic!("no JWK alg for {alg:?}"),
    });
    serde_json::to_value(jwk).unwrap()
}

/// A JWT with arbitrary header and claims JSON, HMAC-signed with `secret`
/// (for forged and odd tokens).
pub fn hs_raw(secret: &str, header: &str, claims: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use hmac::Mac;
    let msg = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(msg.as_bytes());
    format!(
        "{msg}.{}",
        URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
    )
}
