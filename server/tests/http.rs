//! HTTP surface and handshake checks: /healthz, /metrics, publish API,
//! static files (SPA fallback, traversal), origin check, tokens.

mod common;

use common::*;
use confab_server::auth::{mint, unix_now, Claims};
use confab_server::Config;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn healthz_and_metrics() {
    let server = start(config()).await;
    assert_eq!(
        http(server.addr, "GET", "/healthz", &[], "").await,
        (200, "ok".into())
    );
    let (mut ws, _) = native(&server, "").await;
    join(&mut ws, "m").await;
    publish(&mut ws, "m", "1", json!(1)).await;
    let (status, body) = http(server.addr, "GET", "/metrics", &[], "").await;
    assert_eq!(status, 200);
    for line in [
        "confab_connections 1",
        "confab_rooms 1",
        "confab_messages_in_total 1",
        "# TYPE confab_messages_out_total counter",
        "confab_dropped_total 0",
        "confab_errors_total{code=\"bad_json\"} 0",
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "missing {line:?} in\n{body}"
        );
    }
    // welcome + joined + message + ack = 4 frames out.
    assert!(
        body.lines().any(|l| l == "confab_messages_out_total 4"),
        "{body}"
    );
}

#[tokio::test]
async fn publish_api_requires_the_key() {
    let server = start(Config {
        api_key: Some("sekrit".into()),
        ..config()
    })
    .await;
    let (mut ws, _) = native(&server, "").await;
    join(&mut ws, "news").await;
    let path = "/api/rooms/news/messages";
    let auth = [
        ("Authorization", "Bearer sekrit"),
        ("Content-Type", "application/json"),
    ];
    let (status, body) = http(server.addr, "POST", path, &auth, r#"{"headline":"hi"}"#).await;
    assert_eq!(status, 201, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["room"], "news");
    assert_eq!(v["offset"], 1);
    let m = recv_type(&mut ws, "message").await;
    assert_eq!(m["payload"], json!({"headline": "hi"}));
    assert_eq!(m["from"], json!({"id": "server", "name": "server"}));
    assert_eq!(m["ts"], v["ts"]);

    for headers in [
        vec![],
        vec![("Authorization", "Bearer wrong")],
        vec![("Authorization", "sekrit")],
        vec![("Authorization", "Bearer sekrit2")],
    ] {
        let (status, body) = http(server.addr, "POST", path, &headers, "1").await;
        assert_eq!(status, 401, "{headers:?}: {body}");
        assert!(body.contains("unauthorized"));
    }
    let (status, _) = http(
        server.addr,
        "POST",
        "/api/rooms/bad%20room/messages",
        &auth,
        "1",
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = http(server.addr, "POST", path, &auth, "{not json").await;
    assert_eq!(status, 400);
    let big = format!("\"{}\"", "x".repeat(70_000));
    let (status, body) = http(server.addr, "POST", path, &auth, &big).await;
    assert_eq!(status, 413, "{body}");
    // Nothing else reached the room.
    expect_silence(&mut ws, std::time::Duration::from_millis(200)).await;

    // No key configured: the endpoint is disabled.
    let plain = start(config()).await;
    let (status, body) = http(plain.addr, "POST", path, &auth, "1").await;
    assert_eq!(status, 503, "{body}");
}

#[tokio::test]
async fn static_files_spa_fallback_and_no_traversal() {
    let root = std::env::temp_dir().join(format!("confab-static-{}", std::process::id()));
    let dist = root.join("dist");
    std::fs::create_dir_all(dist.join("assets")).unwrap();
    std::fs::write(dist.join("index.html"), "<h1>demo index</h1>").unwrap();
    std::fs::write(dist.join("assets/app.js"), "console.log(1)").unwrap();
    std::fs::write(root.join("secret.txt"), "TOP-SECRET").unwrap();
    let server = start(Config {
        static_dir: dist.clone(),
        ..config()
    })
    .await;
    assert_eq!(
        http(server.addr, "GET", "/", &[], "").await,
        (200, "<h1>demo index</h1>".into())
    );
    assert_eq!(
        http(server.addr, "GET", "/assets/app.js", &[], "").await,
        (200, "console.log(1)".into())
    );
    // SPA route → index.html.
    assert_eq!(
        http(server.addr, "GET", "/rooms/lobby", &[], "").await.1,
        "<h1>demo index</h1>"
    );
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/../../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
    ] {
        let (_, body) = http(server.addr, "GET", path, &[], "").await;
        assert!(!body.contains("TOP-SECRET"), "{path} leaked");
    }
    let _ = std::fs::remove_dir_all(&root);

    // Missing directory: a placeholder page, not a failure.
    let server = start(config()).await;
    let (status, body) = http(server.addr, "GET", "/", &[], "").await;
    assert_eq!(status, 200);
    assert!(body.contains("not built"), "{body}");
}

#[tokio::test]
async fn foreign_origin_is_403_own_and_listed_origins_pass() {
    let server = start(Config {
        allowed_origins: vec!["https://app.example.com".into(), "localhost:8080".into()],
        ..config()
    })
    .await;
    let status = |origin: Option<String>, path: &'static str| {
        let url = server.ws_url(path);
        async move {
            let mut req = url.into_client_request().unwrap();
            if let Some(o) = origin {
                req.headers_mut().insert("Origin", o.parse().unwrap());
            }
            connect_status(req).await
        }
    };
    let own = format!("http://{}", server.addr);
    assert_eq!(status(Some("http://evil.example".into()), "/ws").await, 403);
    assert_eq!(
        status(Some("http://evil.example".into()), "/ws/chat/lobby/").await,
        403
    );
    assert_eq!(status(Some("null".into()), "/ws").await, 403);
    assert_eq!(
        status(Some("http://app.example.com".into()), "/ws").await,
        403
    );
    assert_eq!(status(Some(own), "/ws").await, 101);
    assert_eq!(
        status(Some("https://app.example.com".into()), "/ws").await,
        101
    );
    assert_eq!(
        status(Some("http://localhost:8080".into()), "/ws").await,
        101
    );
    // No Origin (websocat, native programs): allowed.
    assert_eq!(status(None, "/ws").await, 101);
}

/// Headers of a JSON publish with `--api-key k`.
const API_K: [(&str, &str); 2] = [
    ("Authorization", "Bearer k"),
    ("Content-Type", "application/json"),
];

fn token_config() -> Config {
    Config {
        token_secret: vec!["new-secret".into(), "old-secret".into()],
        ..config()
    }
}

fn claims(sub: &str, exp: u64) -> Claims {
    Claims {
        sub: sub.into(),
        name: Some("Dana".into()),
        exp,
        ..Default::default()
    }
}

#[tokio::test]
async fn tokens_valid_rotated_bad_expired() {
    let server = start(token_config()).await;
    let later = unix_now() + 600;
    // Query parameter, signed with the current key.
    let t = mint("new-secret", &claims("dana", later));
    let (_, w) = native(&server, &format!("?token={t}")).await;
    assert_eq!(w["user"], json!({"id": "dana", "name": "Dana"}));
    // Header, signed with the old (still verifying) key.
    let t_old = mint("old-secret", &claims("dana.b", later));
    let mut req = server.ws_url("/ws").into_client_request().unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Bearer {t_old}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(recv(&mut ws).await["user"]["id"], "dana.b");

    let bad_sig = mint("not-our-secret", &claims("dana", later));
    let expired = mint("new-secret", &claims("dana", unix_now() - 1));
    let bad_user = mint("new-secret", &claims("dm:x", later));
    let mut tampered = t.clone();
    tampered.insert(3, 'A');
    for bad in [
        bad_sig,
        expired,
        bad_user,
        tampered,
        "garbage".into(),
        "a.b".into(),
    ] {
        assert_eq!(
            connect_status(server.ws_url(&format!("/ws?token={bad}"))).await,
            401,
            "{bad}"
        );
    }
    // Compat endpoints honour tokens too.
    assert_eq!(
        connect_status(server.ws_url("/ws/chat/lobby/?token=garbage")).await,
        401
    );
    // A server without secrets refuses tokens.
    let plain = start(config()).await;
    assert_eq!(
        connect_status(plain.ws_url(&format!("/ws?token={t}"))).await,
        401
    );
    // Guest names are validated.
    assert_eq!(
        connect_status(plain.ws_url(&format!("/ws?name={}", "n".repeat(65)))).await,
        400
    );
    let (_, w) = native(&plain, "").await;
    assert!(w["user"]["name"].as_str().unwrap().starts_with("guest-"));
}

#[tokio::test]
async fn token_expiring_while_connected_closes_4003() {
    let server = start(Config {
        heartbeat_ms: 100,
        ..token_config()
    })
    .await;
    let t = mint("new-secret", &claims("brief", unix_now() + 1));
    let (mut ws, _) = native(&server, &format!("?token={t}")).await;
    // Reading answers the server's pings, so only the expiry can close us.
    let code = tokio::time::timeout(WAIT, async {
        loop {
            match futures_util::StreamExt::next(&mut ws).await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(f)))) => {
                    break u16::from(f.code)
                }
                Some(Ok(_)) => {}
                other => panic!("{other:?}"),
            }
        }
    })
    .await
    .expect("no close within the wait");
    assert_eq!(code, 4003);
}

#[tokio::test]
async fn publish_api_refuses_payloads_nested_deeper_than_64_with_400() {
    let server = start(Config {
        api_key: Some("k".into()),
        ..config()
    })
    .await;
    let (mut ws, _) = native(&server, "").await;
    join(&mut ws, "deep").await;
    let auth = API_K;
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(64), "]".repeat(64));
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/rooms/deep/messages",
        &auth,
        &deep,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["code"], "bad_request", "{v}");
    let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
    let (status, body) = http(server.addr, "POST", "/api/rooms/deep/messages", &auth, &ok).await;
    assert_eq!(status, 201, "{body}");
    // Only the accepted one was stored and broadcast.
    let m = recv_type(&mut ws, "message").await;
    assert_eq!(
        (m["offset"].as_u64(), m["payload"].to_string()),
        (Some(1), ok)
    );
}

#[tokio::test]
async fn publishes_during_shutdown_are_refused_503_not_acked() {
    let server = start(Config {
        api_key: Some("k".into()),
        ..config()
    })
    .await;
    let auth = API_K;
    let path = "/api/rooms/bye/messages";
    let (status, body) = http(server.addr, "POST", path, &auth, "{\"n\":1}").await;
    assert_eq!(status, 201, "{body}");
    server.state.rooms.close_all(
        confab_protocol::close::SERVICE_RESTART,
        "server shutting down",
    );
    // Stored now, it could be acked after the room's members were closed.
    let (status, body) = http(server.addr, "POST", path, &auth, "{\"n\":2}").await;
    assert_eq!(status, 503, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["code"], "unavailable", "{v}");
}
