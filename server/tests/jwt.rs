//! User tokens are standard JWTs, checked by a real `confab-server`:
//! HS256 (with secret rotation), RS256, ES256, EdDSA from key files, a
//! JWKS served by a local HTTP server (with key rotation and a bounded
//! refetch rate), and every kind of bad token refused with 401 while two
//! bystanders keep talking.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::bystanders::Bystanders;
use common::process::Node;
use common::tokens::{claims, hs_raw, jwk, key_path, sign};
use common::*;
use confab_server::auth::{mint, unix_now, Audience, Claims};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

async fn node(args: &[&str]) -> Node {
    Node::start(&args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).await
}

/// The HTTP status of a `/ws` handshake with `token`.
async fn status(node: &Node, token: &str) -> u16 {
    connect_status(node.ws(&format!("/ws?token={token}")).as_str()).await
}

/// Connects with `token` and returns the welcome's user id.
async fn user_of(node: &Node, token: &str) -> String {
    let (_, user) = native_at(&node.ws(&format!("/ws?token={token}"))).await;
    user["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn hs256_rs256_es256_and_eddsa_tokens_are_accepted_with_rotation() {
    let keys = format!(
        "{},{},{}",
        key_path("rsa.pub"),
        key_path("ec.pub"),
        key_path("ed.pub")
    );
    let n = node(&[
        "--token-secret",
        "new-secret,old-secret",
        "--token-public-key",
        &keys,
    ])
    .await;
    let mut by = Bystanders::join_at(&n.ws("/ws"), "jwt", "?name=speaker", "?name=listener").await;
    let cases = [
        ("hs256 current secret", mint("new-secret", &claims("hana"))),
        ("hs256 previous secret", mint("old-secret", &claims("hugo"))),
        (
            "rs256",
            sign(Algorithm::RS256, "rsa.key", None, &claims("rita")),
        ),
        (
            "es256",
            sign(Algorithm::ES256, "ec.key", None, &claims("emil")),
        ),
        (
            "eddsa",
            sign(Algorithm::EdDSA, "ed.key", None, &claims("edda")),
        ),
    ];
    for (what, token) in &cases {
        let want = token_sub(token);
        assert_eq!(user_of(&n, token).await, want, "{what}");
    }
    // A key the server does not have, of every family.
    for (what, token) in [
        ("hs256 other secret", mint("nope", &claims("x"))),
        (
            "rs256 other key",
            sign(Algorithm::RS256, "rsa2.key", None, &claims("x")),
        ),
    ] {
        assert_eq!(status(&n, &token).await, 401, "{what}");
    }
    // The token's info claim is shown to the room with presence.
    let mut with_info = claims("ines");
    with_info.info = Some(json!({"avatar": "https://example.com/i.png"}));
    let (mut ines, user) =
        native_at(&n.ws(&format!("/ws?token={}", mint("new-secret", &with_info)))).await;
    assert_eq!(
        user["info"]["avatar"], "https://example.com/i.png",
        "{user}"
    );
    let joined = join(&mut ines, "jwt").await;
    let me = joined["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "ines")
        .cloned()
        .unwrap();
    assert_eq!(
        me["info"]["avatar"], "https://example.com/i.png",
        "{joined}"
    );
    by.assert_receiving().await;
}

fn token_sub(token: &str) -> String {
    use base64::Engine;
    let body = token.split('.').nth(1).unwrap();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .unwrap();
    let v: Value = serde_json::from_slice(&json).unwrap();
    v["sub"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn bad_tokens_are_401_and_bystanders_still_talk() {
    let iss = "https://auth.example";
    let n = node(&[
        "--token-secret",
        "s",
        "--token-public-key",
        &key_path("rsa.pub"),
        "--token-issuer",
        iss,
        "--token-audience",
        "confab",
        "--token-leeway",
        "30s",
    ])
    .await;
    let mut by = Bystanders::join_at(&n.ws("/ws"), "bad", "?name=speaker", "?name=listener").await;
    let now = unix_now();
    let good = |sub: &str| Claims {
        iss: Some(iss.into()),
        aud: Some(Audience::Many(vec!["other".into(), "confab".into()])),
        ..claims(sub)
    };
    // Positive controls: the same tokens, valid.
    assert_eq!(user_of(&n, &mint("s", &good("ok1"))).await, "ok1");
    let rs = sign(Algorithm::RS256, "rsa.key", None, &good("ok2"));
    assert_eq!(user_of(&n, &rs).await, "ok2");
    let soon = Claims {
        nbf: Some(now + 10),
        iat: Some(now + 10),
        ..good("skewed")
    };
    assert_eq!(
        user_of(&n, &mint("s", &soon)).await,
        "skewed",
        "nbf/iat within the leeway"
    );

    let rsa_pub = std::fs::read_to_string(key_path("rsa.pub")).unwrap();
    let body = |c: &Claims| serde_json::to_string(c).unwrap();
    let (rs_head_body, rs_sig) = rs.rsplit_once('.').unwrap();
    let (rs_head, _) = rs_head_body.split_once('.').unwrap();
    let bad: Vec<(&str, String)> = vec![
        (
            "expired",
            mint(
                "s",
                &Claims {
                    exp: now - 1,
                    ..good("x")
                },
            ),
        ),
        (
            "expired within the leeway (exp gets none)",
            mint(
                "s",
                &Claims {
                    exp: now,
                    ..good("x")
                },
            ),
        ),
        (
            "not yet valid",
            mint(
                "s",
                &Claims {
                    nbf: Some(now + 120),
                    ..good("x")
                },
            ),
        ),
        (
            "issued in the future",
            mint(
                "s",
                &Claims {
                    iat: Some(now + 120),
                    ..good("x")
                },
            ),
        ),
        (
            "wrong aud",
            mint(
                "s",
                &Claims {
                    aud: Some(Audience::One("other".into())),
                    ..good("x")
                },
            ),
        ),
        (
            "no aud",
            mint(
                "s",
                &Claims {
                    aud: None,
                    ..good("x")
                },
            ),
        ),
        (
            "wrong iss",
            mint(
                "s",
                &Claims {
                    iss: Some("https://evil.example".into()),
                    ..good("x")
                },
            ),
        ),
        (
            "no iss",
            mint(
                "s",
                &Claims {
                    iss: None,
                    ..good("x")
                },
            ),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(r#"{"alg":"none","typ":"JWT"}"#),
                b64(&body(&good("x")))
            ),
        ),
        (
            "alg confusion: HS256 keyed with the RSA public key",
            hs_raw(
                &rsa_pub,
                r#"{"alg":"HS256","typ":"JWT"}"#,
                &body(&good("x")),
            ),
        ),
        (
            "tampered payload (sub changed, signature kept)",
            format!("{rs_head}.{}.{rs_sig}", b64(&body(&good("admin")))),
        ),
        (
            "RS256 header on an HMAC signature",
            hs_raw("s", r#"{"alg":"RS256","typ":"JWT"}"#, &body(&good("x"))),
        ),
        ("oversize (9 KiB, validly signed, otherwise fine)", {
            let mut c = serde_json::to_value(good("x")).unwrap();
            c["padding"] = json!("x".repeat(9 * 1024));
            hs_raw("s", r#"{"alg":"HS256","typ":"JWT"}"#, &c.to_string())
        }),
        (
            "lifetime over --max-token-lifetime",
            mint(
                "s",
                &Claims {
                    exp: now + 40 * 86_400,
                    ..good("x")
                },
            ),
        ),
    ];
    for (what, token) in &bad {
        assert_eq!(status(&n, token).await, 401, "query: {what}");
        let mut req = n.ws("/ws").into_client_request().unwrap();
        req.headers_mut()
            .insert("Authorization", format!("Bearer {token}").parse().unwrap());
        assert_eq!(connect_status(req).await, 401, "header: {what}");
        // The HTTP API refuses it too.
        let auth = format!("Bearer {token}");
        let (code, body) = http(
            n.addr,
            "GET",
            "/api/rooms/bad/presence",
            &[("Authorization", &auth)],
            "",
        )
        .await;
        assert_eq!(code, 401, "http: {what}: {body}");
    }
    by.assert_receiving().await;

    // A server with only a public key has no HMAC key at all: the
    // confusion token finds nothing to verify with.
    let pub_only = node(&["--token-public-key", &key_path("rsa.pub")]).await;
    let confused = hs_raw(
        &rsa_pub,
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &body(&claims("x")),
    );
    assert_eq!(status(&pub_only, &confused).await, 401);
    let ok = sign(Algorithm::RS256, "rsa.key", None, &claims("rita"));
    assert_eq!(user_of(&pub_only, &ok).await, "rita");
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A tiny JWKS server: serves the current document, counts fetches, and
/// can fail on purpose.
#[derive(Clone, Default)]
struct Jwks {
    doc: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    broken: Arc<std::sync::atomic::AtomicBool>,
}

impl Jwks {
    async fn serve(&self) -> std::net::SocketAddr {
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        let me = self.clone();
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let me = me.clone();
                async move {
                    me.fetches.fetch_add(1, Ordering::SeqCst);
                    if me.broken.load(Ordering::SeqCst) {
                        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                    }
                    axum::Json(me.doc.lock().unwrap().clone()).into_response()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    fn set(&self, keys: Vec<Value>) {
        *self.doc.lock().unwrap() = json!({ "keys": keys });
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn jwks_keys_rotate_and_unknown_kids_refetch_at_a_bounded_rate() {
    let jwks = Jwks::default();
    jwks.set(vec![jwk(Algorithm::RS256, "rsa.key", "k1")]);
    let addr = jwks.serve().await;
    let n = node(&[
        "--jwks-url",
        &format!("http://{addr}/jwks.json"),
        "--jwks-min-refetch",
        "2s",
        "--jwks-cache",
        "1h",
    ])
    .await;
    let mut by = Bystanders::join_at(&n.ws("/ws"), "jwks", "?name=speaker", "?name=listener").await;
    assert_eq!(jwks.fetches(), 1, "fetched once at start");
    let k1 = |sub: &str| sign(Algorithm::RS256, "rsa.key", Some("k1"), &claims(sub));
    let k2 = |sub: &str| sign(Algorithm::RS256, "rsa2.key", Some("k2"), &claims(sub));
    let e1 = |sub: &str| sign(Algorithm::ES256, "ec.key", Some("e1"), &claims(sub));
    assert_eq!(user_of(&n, &k1("amy")).await, "amy");
    assert_eq!(jwks.fetches(), 1, "a known kid is served from the cache");

    // The provider rotates: k1 is retired, k2 and an EC key e1 are new.
    jwks.set(vec![
        jwk(Algorithm::RS256, "rsa2.key", "k2"),
        jwk(Algorithm::ES256, "ec.key", "e1"),
    ]);
    assert_eq!(user_of(&n, &k1("amy")).await, "amy", "k1 still cached");
    // (The fetch at start counts: the next one waits --jwks-min-refetch.)
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        user_of(&n, &k2("ben")).await,
        "ben",
        "unknown kid: refetched"
    );
    assert_eq!(jwks.fetches(), 2);
    assert_eq!(user_of(&n, &e1("eve")).await, "eve");
    // k1 is gone from the new set, and a burst of made-up kids cannot
    // make the server fetch more than once per --jwks-min-refetch.
    assert_eq!(status(&n, &k1("amy")).await, 401, "retired key");
    for i in 0..20 {
        let bogus = sign(
            Algorithm::RS256,
            "rsa.key",
            Some(&format!("bogus-{i}")),
            &claims("x"),
        );
        assert_eq!(status(&n, &bogus).await, 401);
    }
    assert_eq!(jwks.fetches(), 2, "no refetch within --jwks-min-refetch");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(status(&n, &k1("amy")).await, 401);
    assert_eq!(jwks.fetches(), 3, "one refetch after the interval");

    // The provider fails: the keys we have keep working.
    jwks.broken.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let bogus = sign(Algorithm::RS256, "rsa.key", Some("bogus"), &claims("x"));
    assert_eq!(status(&n, &bogus).await, 401);
    assert_eq!(jwks.fetches(), 4);
    assert_eq!(user_of(&n, &k2("ben")).await, "ben");
    // A kid of the wrong algorithm finds no key either.
    let wrong_alg = sign(Algorithm::ES256, "ec.key", Some("k2"), &claims("x"));
    assert_eq!(status(&n, &wrong_alg).await, 401);
    by.assert_receiving().await;
}
