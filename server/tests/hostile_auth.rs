//! Hostile input, credentials, origins and content (docs/SECURITY.md):
//! forged and expired tokens, guest tokens, origins, the publish API key,
//! static-file traversal, markup in messages; each ends by checking that two
//! bystanders keep talking.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::bystanders::*;
use common::*;
use confab_server::auth::{mint, unix_now, Claims};
use confab_server::Config;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

// ---------------------------------------------------------------------------
// Credentials and origins
// ---------------------------------------------------------------------------

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(secret: &str, body: &str) -> String {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body.as_bytes());
    b64(&m.finalize().into_bytes())
}

#[tokio::test]
async fn forged_tampered_and_malformed_tokens_are_401() {
    let server = start(Config {
        token_secret: vec!["current-secret".into(), "previous-secret".into()],
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "tokens").await;
    let later = unix_now() + 600;
    let good = mint(
        "current-secret",
        &Claims {
            sub: "mallory".into(),
            name: None,
            exp: later,
            ..Default::default()
        },
    );
    let (head_body, sig) = good.rsplit_once('.').unwrap();
    let (_, body) = head_body.split_once('.').unwrap();
    let admin_body = b64(format!(r#"{{"sub":"admin","exp":{later}}}"#).as_bytes());
    let jwt_header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let hs_header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    // A JWT with these claims, really signed with the server's secret.
    let forged = |claims: &str| {
        let b = b64(claims.as_bytes());
        format!(
            "{hs_header}.{b}.{}",
            sign("current-secret", &format!("{hs_header}.{b}"))
        )
    };
    let bad: Vec<(&str, String)> = vec![
        (
            "signed with another secret",
            mint(
                "attacker-secret",
                &Claims {
                    sub: "mallory".into(),
                    name: None,
                    exp: later,
                    ..Default::default()
                },
            ),
        ),
        (
            "payload swapped, old signature",
            format!("{hs_header}.{admin_body}.{sig}"),
        ),
        ("alg none, JWT style", format!("{jwt_header}.{admin_body}.")),
        ("alg none, two parts", format!("{admin_body}.")),
        (
            "the old two-part format with the right secret",
            format!("{admin_body}.{}", sign("current-secret", &admin_body)),
        ),
        (
            "signature truncated",
            format!("{head_body}.{}", &sig[..sig.len() - 2]),
        ),
        ("signature padded", format!("{head_body}.{sig}==")),
        (
            "signature standard base64",
            format!(
                "{head_body}.{}",
                sig.replace('-', "+").replace('_', "/") + "+"
            ),
        ),
        ("extra part", format!("{good}.x")),
        ("empty", String::new()),
        ("dot", ".".into()),
        ("body only", format!("{body}.")),
        ("sig only", format!(".{sig}")),
        ("two dots", "..".into()),
        ("huge", format!("{hs_header}.{}.{sig}", "A".repeat(60_000))),
        (
            "expired now",
            forged(&format!(r#"{{"sub":"x","exp":{}}}"#, unix_now())),
        ),
        ("exp as string", forged(r#"{"sub":"x","exp":"9999999999"}"#)),
        ("exp negative", forged(r#"{"sub":"x","exp":-1}"#)),
        ("exp float, too far", forged(r#"{"sub":"x","exp":9.9e9}"#)),
        ("no exp", forged(r#"{"sub":"x"}"#)),
        ("no sub", forged(&format!(r#"{{"exp":{later}}}"#))),
        (
            "sub too long",
            forged(&format!(r#"{{"sub":"{}","exp":{later}}}"#, "x".repeat(41))),
        ),
        (
            "sub with colon",
            forged(&format!(r#"{{"sub":"a:b","exp":{later}}}"#)),
        ),
        (
            "name with control",
            forged(&format!(r#"{{"sub":"x","name":"a\u0007","exp":{later}}}"#)),
        ),
        (
            "rooms claim with an unknown action",
            forged(&format!(
                r#"{{"sub":"x","exp":{later},"rooms":{{"**":["own"]}}}}"#
            )),
        ),
        (
            "rooms claim not a map",
            forged(&format!(r#"{{"sub":"x","exp":{later},"rooms":["**"]}}"#)),
        ),
        ("claims not JSON", {
            let b = b64(b"not json");
            format!(
                "{hs_header}.{b}.{}",
                sign("current-secret", &format!("{hs_header}.{b}"))
            )
        }),
    ];
    for (what, token) in &bad {
        let url = server.ws_url(&format!("/ws?token={token}"));
        assert_eq!(connect_status(url.as_str()).await, 401, "query: {what}");
        // (`Authorization: Bearer` with nothing after it is no credential:
        // such a client is a guest, like one without the header.)
        let mut req = server.ws_url("/ws").into_client_request().unwrap();
        if let (false, Ok(v)) = (token.is_empty(), format!("Bearer {token}").parse()) {
            req.headers_mut().insert("Authorization", v);
            assert_eq!(connect_status(req).await, 401, "header: {what}");
        }
    }
    // A bad header token is not rescued by a good query token.
    let mut req = server
        .ws_url(&format!("/ws?token={good}"))
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Authorization", "Bearer forged.token".parse().unwrap());
    assert_eq!(connect_status(req).await, 401);
    // A token of 1 MB: refused before any HMAC work (431/414/400 or reset).
    let huge = format!("/ws?token={}", "A".repeat(1 << 20));
    let status = connect_status_or_reset(&server.ws_url(&huge)).await;
    assert!(status.is_none_or(|s| (400..500).contains(&s)), "{status:?}");
    // The genuine token still works, and the room never noticed.
    let (_, w) = native(&server, &format!("?token={good}")).await;
    assert_eq!(w["user"]["id"], "mallory");
    by.assert_receiving().await;
}

#[tokio::test]
async fn token_expiring_while_connected_closes_4003_and_leaves_the_room() {
    let server = start(Config {
        heartbeat_ms: 300,
        token_secret: vec!["s".into()],
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "expiry").await;
    let t = mint(
        "s",
        &Claims {
            sub: "brief".into(),
            name: None,
            exp: unix_now() + 1,
            ..Default::default()
        },
    );
    let (mut a, _) = native(&server, &format!("?token={t}")).await;
    join(&mut a, "expiry").await;
    // Reading answers the server's pings: only the expiry can close it.
    let (seen, code) = tokio::join!(
        by.idle(Duration::from_millis(2500)),
        recv_close_or_end(&mut a)
    );
    assert_eq!(code, Some(4003));
    assert!(
        seen.iter()
            .any(|v| v["type"] == "presence" && v["leaves"][0]["id"] == "brief"),
        "{seen:?}"
    );
    by.assert_receiving().await;
}

#[tokio::test]
async fn forged_guest_tokens_never_adopt_a_chosen_guest_id() {
    use confab_server::auth::{GuestKey, GUEST_TOKEN_TTL_SECS};
    let server = start(Config {
        token_secret: vec!["s".into()],
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "guests").await;
    let (_, w) = native(&server, "").await;
    let victim = w["user"]["id"].as_str().unwrap().to_owned();
    let real = w["guest_token"].as_str().unwrap().to_owned();
    // Positive control: the genuine token keeps the id.
    let (_, w) = native(&server, &format!("?guest={real}")).await;
    assert_eq!(w["user"]["id"], victim.as_str());
    let now = unix_now();
    let (body, sig) = real.split_once('.').unwrap();
    let other_body = b64(format!(
        r#"{{"sub":"g-0123456789abcdef","exp":{},"kind":"guest"}}"#,
        now + 600
    )
    .as_bytes());
    let forged: Vec<(&str, String)> = vec![
        ("another key", GuestKey::new("not-s").mint(&victim, now)),
        ("raw secret as key", {
            let b = b64(
                format!(r#"{{"sub":"{victim}","exp":{},"kind":"guest"}}"#, now + 600).as_bytes(),
            );
            format!("{b}.{}", sign("s", &b))
        }),
        (
            "user token for the id",
            mint(
                "s",
                &Claims {
                    sub: victim.clone(),
                    name: None,
                    exp: now + 600,
                    ..Default::default()
                },
            ),
        ),
        ("other id, old signature", format!("{other_body}.{sig}")),
        ("signature cut", format!("{body}.{}", &sig[..10])),
        (
            "expired",
            GuestKey::new("s").mint(&victim, now - GUEST_TOKEN_TTL_SECS - 10),
        ),
        ("garbage", "x.y".into()),
        ("empty", String::new()),
    ];
    for (what, t) in &forged {
        // Never an error (a browser cannot see the status): a new guest.
        let (_, w) = native(&server, &format!("?guest={t}")).await;
        let id = w["user"]["id"].as_str().unwrap();
        assert!(
            id != victim && id != "g-0123456789abcdef",
            "{what}: adopted {id}"
        );
    }
    // A guest token is not a user token.
    assert_eq!(
        connect_status(server.ws_url(&format!("/ws?token={real}")).as_str()).await,
        401
    );
    by.assert_receiving().await;
}

#[tokio::test]
async fn an_empty_rotation_secret_does_not_let_anyone_sign() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }
    // A trailing comma (`CONFAB_TOKEN_SECRET=current,` after removing the
    // old key) must not make the empty string a signing key.
    let cli = Cli::parse_from(["confab-server", "--token-secret", "current,"]);
    let server = start(Config {
        token_secret: cli.config.token_secret.clone(),
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "rotation").await;
    let forged = mint(
        "",
        &Claims {
            sub: "admin".into(),
            name: None,
            exp: unix_now() + 600,
            ..Default::default()
        },
    );
    assert_eq!(
        connect_status(server.ws_url(&format!("/ws?token={forged}")).as_str()).await,
        401,
        "secrets {:?} accept a token signed with the empty key",
        cli.config.token_secret
    );
    by.assert_receiving().await;
}

#[tokio::test]
async fn foreign_and_lookalike_origins_are_403() {
    let server = start(config()).await;
    let mut by = Bystanders::join(&server, "origin").await;
    let own = server.addr.to_string();
    let host = server.addr.ip().to_string();
    for origin in [
        "http://evil.example".to_owned(),
        format!("http://{own}.evil.example"),
        format!("http://evil.example/{own}"),
        format!("http://{own}@evil.example"),
        format!("http://evil.example#{own}"),
        format!("http://{host}:1"),
        format!("http://{host}"),
        "null".to_owned(),
        "file://".to_owned(),
        String::new(),
        "http://".to_owned(),
    ] {
        for path in ["/ws", "/ws/chat/origin/", "/ws/echo/", "/test_websocket/"] {
            let mut req = server.ws_url(path).into_client_request().unwrap();
            req.headers_mut().insert("Origin", origin.parse().unwrap());
            assert_eq!(connect_status(req).await, 403, "{origin:?} on {path}");
        }
    }
    // Same origin, any case: allowed.
    let mut req = server.ws_url("/ws").into_client_request().unwrap();
    req.headers_mut()
        .insert("Origin", format!("HTTP://{own}").parse().unwrap());
    assert_eq!(connect_status(req).await, 101);
    by.assert_receiving().await;
}

#[tokio::test]
async fn publish_api_without_or_with_a_wrong_key_is_401_and_stores_nothing() {
    let server = start(Config {
        api_key: Some("the-api-key".into()),
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "api").await;
    let path = "/api/rooms/api/messages";
    for headers in [
        vec![],
        vec![("Authorization", "")],
        vec![("Authorization", "Bearer")],
        vec![("Authorization", "Bearer ")],
        vec![("Authorization", "Bearer the-api-ke")],
        vec![("Authorization", "Bearer the-api-key2")],
        vec![("Authorization", "Bearer THE-API-KEY")],
        vec![("Authorization", "Basic dGhlLWFwaS1rZXk6")],
        vec![("Authorization", "the-api-key")],
        vec![("X-Api-Key", "the-api-key")],
    ] {
        let (status, body) = http(server.addr, "POST", path, &headers, r#"{"pwned":1}"#).await;
        assert_eq!(status, 401, "{headers:?}: {body}");
    }
    let (status, _) = http(
        server.addr,
        "POST",
        &format!("{path}?key=the-api-key"),
        &[],
        "1",
    )
    .await;
    assert_eq!(status, 401);
    // Wrong methods are not a way in either.
    for method in ["GET", "PUT", "DELETE"] {
        let (status, _) = http(server.addr, method, path, &[], "1").await;
        assert!(
            status == 405 || status == 404 || status == 401,
            "{method}: {status}"
        );
    }
    let before = by.assert_receiving().await;
    assert!(before.iter().all(|v| v["type"] != "message"), "{before:?}");
    // The room's offsets show nothing was stored in between.
    let (status, body) = http(
        server.addr,
        "POST",
        path,
        &[("Authorization", "Bearer the-api-key")],
        "1",
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["offset"], 3, "two bystander messages, then this one");
}

#[tokio::test]
async fn static_file_traversal_leaks_nothing() {
    let root = std::env::temp_dir().join(format!("confab-hostile-static-{}", std::process::id()));
    let dist = root.join("dist");
    std::fs::create_dir_all(dist.join("assets")).unwrap();
    std::fs::write(dist.join("index.html"), "<h1>index</h1>").unwrap();
    std::fs::write(root.join("secret.txt"), "TOP-SECRET").unwrap();
    let server = start(Config {
        static_dir: dist.clone(),
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "static").await;
    let secret_abs = root.join("secret.txt").display().to_string();
    for path in [
        "/..\\secret.txt".to_owned(),
        "/assets\\..\\..\\secret.txt".to_owned(),
        "/%5c..%5csecret.txt".to_owned(),
        "/assets/..%5c..%5csecret.txt".to_owned(),
        "/%252e%252e/secret.txt".to_owned(),
        "/%2e%2e%2f%2e%2e%2fsecret.txt".to_owned(),
        "/.%2e/secret.txt".to_owned(),
        "/%c0%ae%c0%ae/secret.txt".to_owned(),
        "/..;/secret.txt".to_owned(),
        "/assets/%00/../../secret.txt".to_owned(),
        "//secret.txt".to_owned(),
        format!("/{}", secret_abs.trim_start_matches('/')),
        format!("/%2f{}", secret_abs.trim_start_matches('/')),
        format!("//{}", secret_abs.trim_start_matches('/')),
        "/../../../../../../etc/passwd".to_owned(),
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd".to_owned(),
    ] {
        let (status, body) = http(server.addr, "GET", &path, &[], "").await;
        assert!(
            !body.contains("TOP-SECRET") && !body.contains("root:"),
            "{path} leaked ({status})"
        );
        assert!(
            status == 200 && body == "<h1>index</h1>" || (400..500).contains(&status),
            "{path}: {status} {body}"
        );
    }
    // Absolute-form request target.
    let (status, body) = http(
        server.addr,
        "GET",
        &format!("http://{}/../secret.txt", server.addr),
        &[],
        "",
    )
    .await;
    assert!(
        !body.contains("TOP-SECRET"),
        "absolute form leaked ({status})"
    );
    let _ = std::fs::remove_dir_all(&root);
    by.assert_receiving().await;
}

// ---------------------------------------------------------------------------
// Markup in content
// ---------------------------------------------------------------------------

#[tokio::test]
async fn html_and_script_in_messages_and_names_arrive_verbatim_as_json_strings() {
    let server = start(config()).await;
    let mut by = Bystanders::join(&server, "xss").await;
    let evil_name = "<img src=x onerror=alert(1)>";
    let (mut a, welcome) = native(&server, "?name=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E").await;
    assert_eq!(welcome["user"]["name"], evil_name);
    join(&mut a, "xss").await;
    let payload = json!({
        "message": "</script><script>alert(document.cookie)</script>",
        "html": "<b onmouseover=\"x()\">'\"&amp;</b>",
        "sep": "\u{2028}\u{2029}\u{0}",
    });
    let ack = publish(&mut a, "xss", "x1", payload.clone()).await;
    let renamed = "\"><svg/onload=alert(2)>";
    send(
        &mut a,
        json!({"type": "rename", "ref": "r", "name": renamed}),
    )
    .await;
    assert_eq!(recv_type(&mut a, "ack").await["ref"], "r");
    let before = by.assert_receiving().await;
    let msg = before
        .iter()
        .find(|v| v["type"] == "message")
        .expect("message");
    assert_eq!(msg["payload"], payload);
    assert_eq!(msg["offset"], ack["offset"]);
    assert_eq!(msg["from"]["name"], evil_name);
    assert!(before
        .iter()
        .any(|v| v["type"] == "presence" && v["joins"][0]["name"] == evil_name));
    assert!(before
        .iter()
        .any(|v| v["type"] == "presence" && v["updates"][0]["name"] == renamed));
    // A compat client of the room gets the payload as JSON text, escaped.
    let mut c = connect(&server.ws_url("/ws/chat/xss/")).await;
    publish(&mut a, "xss", "x2", payload.clone()).await;
    let text = recv_text(&mut c).await;
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), payload);
    // Pages and plain-text errors do not reflect input.
    let (_, page) = http(
        server.addr,
        "GET",
        "/test_websocket/?x=%3Cscript%3Ealert(3)%3C/script%3E",
        &[],
        "",
    )
    .await;
    assert!(!page.contains("alert(3)"), "{page}");
    let (status, body) = http(server.addr, "GET", "/ws/chat/%3Cscript%3E/", &[], "").await;
    assert!(!body.contains("<script>"), "{status} {body}");
    by.assert_receiving().await;
}

/// DNS rebinding: a page on a foreign domain whose name now resolves to
/// this server sends `Host` (and `Origin`) with that domain. Every route
/// refuses it with 400, the WebSocket handshake included.
#[tokio::test]
async fn a_foreign_host_is_400_on_every_route() {
    let server = start(Config {
        api_key: Some("k".into()),
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "rebind").await;
    let evil = [
        ("Host", "rebound.evil.example"),
        ("Origin", "http://rebound.evil.example"),
    ];
    let upgrade = [
        evil[0],
        evil[1],
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];
    for path in ["/ws", "/ws/chat/rebind/", "/test_websocket/"] {
        let (status, _) = http(server.addr, "GET", path, &upgrade, "").await;
        assert_eq!(status, 400, "upgrade on {path}");
    }
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/index.html"),
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("POST", "/api/rooms/rebind/messages"),
    ] {
        let mut headers = evil.to_vec();
        headers.push(("Authorization", "Bearer k"));
        let (status, body) = http(server.addr, method, path, &headers, "{}").await;
        assert_eq!(status, 400, "{method} {path}: {body}");
    }
    // Nothing was published by the refused API call.
    let frames = by.assert_receiving().await;
    assert!(frames.iter().all(|f| f["type"] != "message"), "{frames:?}");
    // The default names of this machine are fine, any port.
    for host in ["localhost:1234", "127.0.0.1", "[::1]:8000"] {
        let (status, _) = http(server.addr, "GET", "/healthz", &[("Host", host)], "").await;
        assert_eq!(status, 200, "{host}");
    }
}

#[tokio::test]
async fn allowed_hosts_replace_the_defaults() {
    let server = start(Config {
        allowed_hosts: vec!["chat.example.com".into(), ".example.org".into()],
        ..config()
    })
    .await;
    for (host, want) in [
        ("chat.example.com", 200),
        ("CHAT.example.com:443", 200),
        ("example.org", 200),
        ("a.b.example.org", 200),
        ("evil-example.org", 400),
        ("127.0.0.1", 400),
        ("", 400),
    ] {
        let (status, _) = http(server.addr, "GET", "/healthz", &[("Host", host)], "").await;
        assert_eq!(status, want, "Host: {host:?}");
    }
}

/// `/metrics` behind `--metrics-token`; the `Bearer` scheme is
/// case-insensitive (RFC 9110 §11.1), for the API key and tokens too.
#[tokio::test]
async fn metrics_token_and_a_case_insensitive_bearer_scheme() {
    let server = start(Config {
        api_key: Some("k".into()),
        metrics_token: Some("m3trics".into()),
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "bearer").await;
    let (status, body) = http(server.addr, "GET", "/metrics", &[], "").await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("confab_connections"), "{body}");
    let wrong = [("Authorization", "Bearer nope")];
    assert_eq!(
        http(server.addr, "GET", "/metrics", &wrong, "").await.0,
        401
    );
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let auth = format!("{scheme} m3trics");
        let (status, body) = http(
            server.addr,
            "GET",
            "/metrics",
            &[("Authorization", &auth)],
            "",
        )
        .await;
        assert_eq!(status, 200, "{scheme}");
        assert!(body.contains("confab_connections 2"), "{body}");
        let auth = format!("{scheme} k");
        let (status, body) = http(
            server.addr,
            "POST",
            "/api/rooms/bearer/messages",
            &[("Authorization", &auth)],
            r#"{"text":"api"}"#,
        )
        .await;
        assert_eq!(status, 201, "{scheme}: {body}");
    }
    by.assert_receiving().await;
}

/// The server's own ids cannot be claimed by a token: `server` is the
/// sender of HTTP API messages and `g-…` are guests the server named.
/// And a token cannot be valid forever: `--max-token-lifetime` (30 days).
#[tokio::test]
async fn reserved_ids_and_tokens_valid_too_long_are_401() {
    let server = start(Config {
        token_secret: vec!["s".into()],
        max_token_lifetime_secs: 30 * 86_400,
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "reserved").await;
    let token = |sub: &str, exp: u64| {
        mint(
            "s",
            &Claims {
                sub: sub.into(),
                name: None,
                exp,
                ..Default::default()
            },
        )
    };
    let now = unix_now();
    for (sub, exp, want) in [
        ("server", now + 60, 401),
        ("SERVER", now + 60, 401),
        ("g-0123456789abcdef", now + 60, 401),
        ("G-x", now + 60, 401),
        ("alice", now + 31 * 86_400, 401),
        ("alice", u64::MAX - 1, 401),
        ("alice", now + 29 * 86_400, 101),
        ("gary", now + 60, 101),
    ] {
        let url = server.ws_url(&format!("/ws?token={}", token(sub, exp)));
        assert_eq!(
            connect_status(url.as_str()).await,
            want,
            "sub {sub}, exp in {}",
            exp.saturating_sub(now)
        );
    }
    by.assert_receiving().await;
}

/// Display names that impersonate: bidirectional overrides and names with
/// nothing visible are refused; compatibility forms (fullwidth letters) are
/// folded to plain ones (NFKC), so `Ａｌｉｃｅ` is `Alice`. Look-alikes across
/// scripts stay allowed (people write in every script); the user id, which
/// cannot be spoofed, tells them apart, and the demo shows it when two
/// members' names look alike (docs/SECURITY.md).
#[tokio::test]
async fn names_with_overrides_or_nothing_visible_are_refused_and_compat_forms_folded() {
    let server = start(config()).await;
    let mut by = Bystanders::join(&server, "names").await;
    let enc = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    for bad in [
        "\u{200B}",
        "\u{2060}\u{FEFF}",
        "\u{3164}",
        "\u{115F}\u{1160}",
        " \u{200B} ",
        "adm\u{202E}nim",
        "\u{2067}bob",
        "eve\u{200F}",
    ] {
        let url = server.ws_url(&format!("/ws?name={}", enc(bad)));
        assert_eq!(connect_status(url.as_str()).await, 400, "{bad:?}");
    }
    let (mut ws, welcome) = native(&server, &format!("?name={}", enc("Ａｌｉｃｅ"))).await;
    assert_eq!(welcome["user"]["name"], "Alice");
    for bad in ["\u{200B}\u{200B}", "x\u{202E}y", "\u{3164}"] {
        send(&mut ws, json!({"type": "rename", "ref": "r", "name": bad})).await;
        let e = recv_type(&mut ws, "error").await;
        assert_eq!(e["code"], "name_invalid", "{bad:?}: {e}");
    }
    send(
        &mut ws,
        json!({"type": "rename", "ref": "ok", "name": "ｂｏｂ"}),
    )
    .await;
    let ack = recv_type(&mut ws, "ack").await;
    assert_eq!(ack["ref"], "ok");
    by.assert_receiving().await;
}
