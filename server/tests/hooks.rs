//! Hooks (docs/BACKEND.md): a real HTTP backend in the test answers the
//! server's signed hook requests. It lets users in or not (connect, join),
//! changes what is kept (who the user is, a member's info, a payload), and
//! when it fails, times out or answers nonsense the hooked request is
//! refused (`hook_unavailable`) unless `fail_open`; a slow backend slows
//! only hooked rooms; the seed routes and the HTTP API follow the same
//! hooks; a config file that hooks rooms without a `[hooks]` table, or
//! hooks without a secret, does not start.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use common::bystanders::Bystanders;
use common::process::{free_port, temp_dir, Node, SECRET};
use common::tokens::claims;
use common::*;
use confab_server::auth::mint;
use confab_server::backend::{sign, HookSettings};
use confab_server::policy::Policy;
use confab_server::Config;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const BACKEND_SECRET: &str = "hook-secret";
const BIN: &str = env!("CARGO_BIN_EXE_confab-server");

/// How the backend answers one request: status, body, after a delay.
type Decide = dyn Fn(&Value) -> (StatusCode, String, Duration) + Send + Sync;

/// A backend: every request's body (each checked to be signed with
/// [`BACKEND_SECRET`]), how many are in flight and the most ever at once.
struct Backend {
    decide: Mutex<Arc<Decide>>,
    seen: Mutex<Vec<Value>>,
    in_flight: AtomicUsize,
    most: AtomicUsize,
}

impl Backend {
    fn answer(&self, f: impl Fn(&Value) -> (StatusCode, String, Duration) + Send + Sync + 'static) {
        *self.decide.lock().unwrap() = Arc::new(f);
    }

    fn seen(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }

    /// Requests for `hook`.
    fn seen_for(&self, hook: &str) -> Vec<Value> {
        (self.seen().into_iter())
            .filter(|r| r["hook"] == hook)
            .collect()
    }
}

async fn hook(
    State(b): State<Arc<Backend>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let ts: u64 = headers[sign::TIMESTAMP_HEADER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let sig = headers[sign::SIGNATURE_HEADER].to_str().unwrap();
    assert!(
        sign::verify(
            BACKEND_SECRET,
            ts,
            &body,
            sig,
            confab_server::clock::unix_now()
        ),
        "a hook request that is not signed"
    );
    let request: Value = serde_json::from_slice(&body).unwrap();
    b.seen.lock().unwrap().push(request.clone());
    let now = b.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    b.most.fetch_max(now, Ordering::SeqCst);
    let decide = b.decide.lock().unwrap().clone();
    let (status, text, delay) = decide(&request);
    tokio::time::sleep(delay).await;
    b.in_flight.fetch_sub(1, Ordering::SeqCst);
    (status, text)
}

fn ok(v: Value) -> (StatusCode, String, Duration) {
    (StatusCode::OK, v.to_string(), Duration::ZERO)
}

fn allow() -> (StatusCode, String, Duration) {
    ok(json!({"result": "allow"}))
}

async fn backend() -> (SocketAddr, Arc<Backend>) {
    let b = Arc::new(Backend {
        decide: Mutex::new(Arc::new(|_: &Value| allow())),
        seen: Mutex::default(),
        in_flight: AtomicUsize::new(0),
        most: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/hooks", post(hook))
        .with_state(b.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, b)
}

/// The settings of a `[hooks]` table.
fn settings(table: &str) -> HookSettings {
    HookSettings::from_toml(toml::from_str::<toml::Value>(table).unwrap()).unwrap()
}

/// A server whose policy hooks `team.*` (join, publish) and `team_*` (the
/// seed routes' room names), asking the backend at `addr` with `extra`
/// lines in its `[hooks]` table.
fn hooked(addr: SocketAddr, extra: &str) -> Config {
    let policy = Policy::from_toml_str(
        r#"
        [[policy.rooms]]
        match = "team.*"
        guest = ["join", "publish", "presence", "history"]
        hooks = ["join", "publish"]
        [[policy.rooms]]
        match = "team_*"
        guest = ["join", "publish", "presence", "history"]
        hooks = ["join", "publish"]
        "#,
    )
    .unwrap();
    Config {
        policy: Arc::new(policy),
        hooks: Some(settings(&format!("url = \"http://{addr}/hooks\"\n{extra}"))),
        backend_secret: Some(BACKEND_SECRET.into()),
        token_secret: vec![SECRET.into()],
        api_key: Some("app-key".into()),
        ..config()
    }
}

fn token(user: &str) -> String {
    mint(SECRET, &claims(user))
}

async fn user(server: &Server, id: &str) -> Ws {
    native(server, &format!("?token={}", token(id))).await.0
}

/// Sends a join and returns the reply (`joined` or `error`).
async fn try_join(ws: &mut Ws, room: &str) -> Value {
    send(ws, json!({"type": "join", "ref": "j", "room": room})).await;
    loop {
        let v = recv(ws).await;
        if v["ref"] == "j" {
            return v;
        }
    }
}

/// Sends a publish and returns the reply (`ack` or `error`).
async fn try_publish(ws: &mut Ws, room: &str, r: &str, payload: Value) -> Value {
    send(
        ws,
        json!({"type": "publish", "ref": r, "room": room, "payload": payload}),
    )
    .await;
    loop {
        let v = recv(ws).await;
        if v["ref"] == r {
            return v;
        }
    }
}

#[tokio::test]
async fn join_hook_lets_members_in_with_the_info_it_sets_and_keeps_others_out() {
    let (addr, b) = backend().await;
    b.answer(|r| match r["user"]["id"].as_str().unwrap() {
        "alice" => ok(json!({"result": "modify", "info": {"role": "owner"}})),
        "bob" => ok(
            json!({"result": "deny", "code": "not_a_member", "message": "you are not in team 42"}),
        ),
        _ => allow(),
    });
    let server = start(hooked(addr, "")).await;
    let mut alice = user(&server, "alice").await;
    let joined = join(&mut alice, "team.42").await;
    let me = (joined["members"].as_array().unwrap().iter())
        .find(|m| m["id"] == "alice")
        .unwrap();
    assert_eq!(me["info"], json!({"role": "owner"}), "{joined}");
    let asked = b.seen_for("join");
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0]["room"], "team.42");
    assert_eq!(asked[0]["user"]["id"], "alice");
    assert_eq!(asked[0]["user"]["name"], "alice");

    let mut bob = user(&server, "bob").await;
    let refused = try_join(&mut bob, "team.42").await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "hook_denied");
    assert_eq!(refused["room"], "team.42");
    assert_eq!(refused["message"], "not_a_member: you are not in team 42");
    // Bob is not in the room: Alice hears nothing of him, a list has only her.
    expect_silence(&mut alice, Duration::from_millis(300)).await;
    send(
        &mut alice,
        json!({"type": "list", "ref": "l", "room": "team.42"}),
    )
    .await;
    assert_eq!(
        ids(&recv_type(&mut alice, "members").await["members"]),
        ["alice"]
    );
    // Bob's publish there is refused as from someone who never joined.
    let p = try_publish(&mut bob, "team.42", "p", json!({"message": "hi"})).await;
    assert_eq!(p["code"], "not_joined", "{p}");

    // A rename keeps the info the hook gave in that room.
    let mut carol = user(&server, "carol").await;
    join(&mut carol, "team.42").await;
    send(
        &mut alice,
        json!({"type": "rename", "ref": "r", "name": "Alice A."}),
    )
    .await;
    let diff = wait_presence(&mut carol, "team.42", WAIT, |d| {
        (d["updates"].as_array().into_iter().flatten()).any(|m| m["name"] == "Alice A.")
    })
    .await;
    let renamed = (diff["updates"].as_array().unwrap().iter())
        .find(|m| m["id"] == "alice")
        .unwrap();
    assert_eq!(renamed["info"], json!({"role": "owner"}), "{diff}");

    // Rooms no rule hooks never reach the backend.
    let before = b.seen().len();
    join(&mut alice, "lobby").await;
    publish(&mut alice, "lobby", "l1", json!({"message": "hi"})).await;
    assert_eq!(b.seen().len(), before);
    assert_eq!(
        metric(
            server.addr,
            "confab_hook_requests_total{hook=\"join\",outcome=\"deny\"}"
        )
        .await,
        1
    );
    assert_eq!(
        metric(
            server.addr,
            "confab_hook_requests_total{hook=\"join\",outcome=\"modify\"}"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn publish_hook_stores_what_the_backend_says_or_nothing() {
    let (addr, b) = backend().await;
    b.answer(|r| {
        if r["hook"] != "publish" {
            return allow();
        }
        let text = r["payload"]["message"].as_str().unwrap_or_default();
        if text.contains("spam") {
            ok(json!({"result": "deny", "code": "spam", "message": "no ads here"}))
        } else {
            let clean = text.trim().replace("darn", "d***");
            ok(json!({"result": "modify", "payload": {"message": clean, "checked": true}}))
        }
    });
    let server = start(hooked(addr, "")).await;
    let mut alice = user(&server, "alice").await;
    let mut carol = user(&server, "carol").await;
    join(&mut alice, "team.42").await;
    join(&mut carol, "team.42").await;

    let ack = try_publish(
        &mut alice,
        "team.42",
        "p1",
        json!({"message": "  darn it  "}),
    )
    .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let got = next_message(&mut carol, "team.42").await;
    assert_eq!(
        got["payload"],
        json!({"message": "d*** it", "checked": true}),
        "{got}"
    );
    let asked = b.seen_for("publish");
    assert_eq!(asked[0]["payload"], json!({"message": "  darn it  "}));
    assert_eq!(asked[0]["room"], "team.42");
    assert_eq!(asked[0]["user"]["id"], "alice");

    let refused = try_publish(&mut alice, "team.42", "p2", json!({"message": "buy spam"})).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "hook_denied");
    assert_eq!(refused["message"], "spam: no ads here");
    assert_eq!(refused["room"], "team.42");
    expect_silence(&mut carol, Duration::from_millis(300)).await;

    // What is kept is the modified message only: a late joiner's history.
    let mut dave = user(&server, "dave").await;
    let joined = join(&mut dave, "team.42").await;
    let history: Vec<&Value> = (joined["history"].as_array().unwrap().iter())
        .map(|m| &m["payload"])
        .collect();
    assert_eq!(
        history,
        [&json!({"message": "d*** it", "checked": true})],
        "{joined}"
    );

    // A user's publish through the HTTP API goes through the hook too; the
    // application's own (the API key) does not.
    let alice_token = format!("Bearer {}", token("alice"));
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/rooms/team.42/messages",
        &[
            ("Authorization", &alice_token),
            ("Content-Type", "application/json"),
        ],
        r#"{"message": "darn http"}"#,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let got = next_message(&mut carol, "team.42").await;
    assert_eq!(
        got["payload"],
        json!({"message": "d*** http", "checked": true})
    );
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/rooms/team.42/messages",
        &[
            ("Authorization", &alice_token),
            ("Content-Type", "application/json"),
        ],
        r#"{"message": "spam http"}"#,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("hook_denied"), "{body}");
    let hooked_so_far = b.seen_for("publish").len();
    let (status, _) = http(
        server.addr,
        "POST",
        "/api/rooms/team.42/messages",
        &[
            ("Authorization", "Bearer app-key"),
            ("Content-Type", "application/json"),
        ],
        r#"{"message": "darn, from the app"}"#,
    )
    .await;
    assert_eq!(status, 201);
    let got = next_message(&mut carol, "team.42").await;
    assert_eq!(got["payload"], json!({"message": "darn, from the app"}));
    assert_eq!(b.seen_for("publish").len(), hooked_so_far);
}

#[tokio::test]
async fn a_backend_that_cannot_answer_refuses_hooked_requests_unless_fail_open() {
    let (addr, b) = backend().await;
    let server = start(hooked(addr, "timeout_ms = 400")).await;
    let mut alice = user(&server, "alice").await;
    type Mode = fn() -> (StatusCode, String, Duration);
    let modes: [(&str, Mode); 6] = [
        ("500", || {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "oops".into(),
                Duration::ZERO,
            )
        }),
        ("204", || {
            (StatusCode::NO_CONTENT, String::new(), Duration::ZERO)
        }),
        ("not JSON", || {
            (StatusCode::OK, "<html>".into(), Duration::ZERO)
        }),
        ("unknown result", || ok(json!({"result": "maybe"}))),
        ("modify of the wrong field", || {
            ok(json!({"result": "modify", "payload": {"x": 1}}))
        }),
        ("too slow", || {
            (
                StatusCode::OK,
                json!({"result": "allow"}).to_string(),
                Duration::from_secs(3),
            )
        }),
    ];
    for (i, (name, mode)) in modes.into_iter().enumerate() {
        b.answer(move |_| mode());
        let started = std::time::Instant::now();
        let refused = try_join(&mut alice, &format!("team.{i}")).await;
        assert_eq!(refused["code"], "hook_unavailable", "{name}: {refused}");
        assert_eq!(refused["room"], format!("team.{i}"), "{name}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{name}: answered after {:?}",
            started.elapsed()
        );
    }
    assert_eq!(
        metric(
            server.addr,
            "confab_hook_requests_total{hook=\"join\",outcome=\"unavailable\"}"
        )
        .await,
        6
    );
    // Nobody listening at all.
    let gone = free_port();
    let down: SocketAddr = format!("127.0.0.1:{gone}").parse().unwrap();
    let closed = start(hooked(down, "")).await;
    let mut ws = user(&closed, "alice").await;
    assert_eq!(
        try_join(&mut ws, "team.1").await["code"],
        "hook_unavailable"
    );
    // With fail_open the same requests go ahead unchanged.
    let open = start(hooked(down, "fail_open = true")).await;
    let mut ws = user(&open, "alice").await;
    let joined = try_join(&mut ws, "team.1").await;
    assert_eq!(joined["type"], "joined", "{joined}");
    let ack = try_publish(&mut ws, "team.1", "p", json!({"message": "hi"})).await;
    assert_eq!(ack["type"], "ack", "{ack}");
}

#[tokio::test]
async fn a_slow_backend_slows_hooked_requests_only_and_never_more_at_once_than_allowed() {
    let (addr, b) = backend().await;
    b.answer(|r| {
        let delay = if r["hook"] == "publish" {
            Duration::from_millis(800)
        } else {
            Duration::ZERO
        };
        (
            StatusCode::OK,
            json!({"result": "allow"}).to_string(),
            delay,
        )
    });
    let server = start(hooked(addr, "concurrency = 2\ntimeout_ms = 10000")).await;
    let mut bystanders = Bystanders::join(&server, "lobby").await;
    let mut writers = Vec::new();
    for i in 0..6 {
        let mut ws = user(&server, &format!("u{i}")).await;
        join(&mut ws, "team.1").await;
        writers.push(ws);
    }
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (writers.into_iter().enumerate())
        .map(|(i, mut ws)| {
            tokio::spawn(async move {
                send(
                    &mut ws,
                    json!({"type": "publish", "ref": "p", "room": "team.1", "payload": {"n": i}}),
                )
                .await;
                loop {
                    let v = message_within(&mut ws, "team.1", Duration::from_secs(10)).await;
                    if v["payload"]["n"] == i {
                        return ws;
                    }
                }
            })
        })
        .collect();
    // While six hooked publishes wait for the backend, other rooms talk.
    tokio::time::sleep(Duration::from_millis(200)).await;
    bystanders.assert_receiving().await;
    assert!(started.elapsed() < Duration::from_millis(1500));
    for t in tasks {
        t.await.unwrap();
    }
    // Two at a time, 0.8 s each: three rounds.
    assert_eq!(b.most.load(Ordering::SeqCst), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(2300),
        "{:?}",
        started.elapsed()
    );
}

/// A handshake's status and body.
async fn handshake(
    request: tokio_tungstenite::tungstenite::handshake::client::Request,
) -> (u16, String) {
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .unwrap()
    {
        Ok((mut ws, _)) => (101, recv_text(&mut ws).await),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let body = resp.body().as_deref().map(String::from_utf8_lossy);
            (
                resp.status().as_u16(),
                body.unwrap_or_default().into_owned(),
            )
        }
        Err(e) => panic!("handshake failed: {e}"),
    }
}

#[tokio::test]
async fn connect_hook_says_who_a_cookie_is_and_what_they_may_do() {
    let (addr, b) = backend().await;
    b.answer(|r| {
        if r["hook"] != "connect" {
            return allow();
        }
        match r["headers"]["cookie"].as_str() {
            Some("session=s-alice") => ok(json!({
                "result": "modify",
                "user": {"id": "alice", "name": "Alice", "info": {"plan": "pro"}},
                "grants": {"vip.**": ["join", "publish"]}
            })),
            Some("session=s-banned") => {
                ok(json!({"result": "deny", "code": "banned", "message": "account suspended"}))
            }
            _ => allow(),
        }
    });
    let policy = Policy::from_toml_str(
        r#"
        [[policy.rooms]]
        match = "vip.**"
        granted = ["join", "publish"]
        "#,
    )
    .unwrap();
    let server = start(Config {
        policy: Arc::new(policy),
        guests: confab_server::config::Guests::Off,
        ..hooked(addr, "connect = true\nheaders = [\"cookie\", \"x-absent\"]")
    })
    .await;
    let with_cookie = |cookie: &str| {
        let mut r = server.ws_url("/ws").into_client_request().unwrap();
        r.headers_mut().insert("cookie", cookie.parse().unwrap());
        r
    };

    // The cookie is the user: a user (not a guest), with the hook's grants.
    let (status, welcome) = handshake(with_cookie("session=s-alice")).await;
    assert_eq!(status, 101);
    let welcome: Value = serde_json::from_str(&welcome).unwrap();
    assert_eq!(welcome["user"]["id"], "alice", "{welcome}");
    assert_eq!(welcome["user"]["name"], "Alice");
    assert_eq!(welcome["user"]["info"], json!({"plan": "pro"}));
    assert!(welcome.get("guest_token").is_none(), "{welcome}");
    let asked = b.seen_for("connect");
    assert_eq!(asked[0]["guest"], true, "{:?}", asked[0]);
    assert_eq!(asked[0]["headers"], json!({"cookie": "session=s-alice"}));
    assert_eq!(asked[0]["ip"], "127.0.0.1");
    let mut ws = connect_request(with_cookie("session=s-alice")).await;
    recv_type(&mut ws, "welcome").await;
    let joined = try_join(&mut ws, "vip.lounge").await;
    assert_eq!(joined["type"], "joined", "grants from the hook: {joined}");

    // Denied: 403 with the backend's reason; not identified: 401 (no guests).
    let (status, body) = handshake(with_cookie("session=s-banned")).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("hook_denied: banned: account suspended"),
        "{body}"
    );
    let (status, _) = handshake(server.ws_url("/ws").into_client_request().unwrap()).await;
    assert_eq!(status, 401);

    // A token user is asked about too, as who the token says.
    let (status, _) = handshake(
        server
            .ws_url(&format!("/ws?token={}", token("carol")))
            .into_client_request()
            .unwrap(),
    )
    .await;
    assert_eq!(status, 101);
    let last = b.seen_for("connect").pop().unwrap();
    assert_eq!(last["user"]["id"], "carol");
    assert_eq!(last["guest"], false);

    // The backend down: connections are refused with 503.
    let gone: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let down = start(hooked(gone, "connect = true")).await;
    let (status, body) = handshake(down.ws_url("/ws").into_client_request().unwrap()).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("hook_unavailable"), "{body}");
}

async fn connect_request(r: tokio_tungstenite::tungstenite::handshake::client::Request) -> Ws {
    tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(r))
        .await
        .unwrap()
        .unwrap()
        .0
}

#[tokio::test]
async fn seed_routes_follow_the_join_and_publish_hooks() {
    let (addr, b) = backend().await;
    b.answer(|r| match (r["hook"].as_str(), r["room"].as_str()) {
        (Some("join"), Some("team_7")) => ok(json!({"result": "deny", "code": "closed"})),
        (Some("publish"), _) if r["payload"]["message"] == "spam" => {
            ok(json!({"result": "deny", "code": "spam"}))
        }
        (Some("publish"), _) => ok(json!({
            "result": "modify",
            "payload": {"message": r["payload"]["message"].as_str().unwrap().to_uppercase()}
        })),
        _ => allow(),
    });
    let server = start(hooked(addr, "")).await;
    let (status, body) = handshake(
        server
            .ws_url("/ws/chat/team_7/")
            .into_client_request()
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("hook_denied: closed"), "{body}");

    let mut a = connect(&server.ws_url("/ws/chat/team_1/")).await;
    let mut c = connect(&server.ws_url("/ws/chat/team_1/")).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    send_text(&mut a, r#"{"message": "spam"}"#).await;
    send_text(&mut a, r#"{"message": "hello"}"#).await;
    // The refused frame is dropped; the next arrives as the backend made it.
    assert_eq!(recv(&mut c).await, json!({"message": "HELLO"}));
    assert_eq!(b.seen_for("join").len(), 3);
}

fn write(name: &str, text: &str) -> String {
    let path = temp_dir("hooks").join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_config_file_sets_hooks_and_refuses_hooks_it_cannot_run() {
    let (addr, b) = backend().await;
    b.answer(|r| match r["user"]["id"].as_str() {
        Some("bob") => ok(json!({"result": "deny", "code": "not_a_member"})),
        _ => allow(),
    });
    let file = write(
        "confab.toml",
        &format!(
            r#"
            backend_secret = "{BACKEND_SECRET}"
            token_secret = "{SECRET}"
            [hooks]
            url = "http://{addr}/hooks"
            timeout_ms = 1000
            [[policy.rooms]]
            match = "team.*"
            user = ["join", "publish", "presence", "history"]
            hooks = ["join"]
            "#
        ),
    );
    let node = Node::start(&["--config".into(), file]).await;
    let url = |u: &str| node.ws(&format!("/ws?token={}", token(u)));
    let (mut alice, _) = native_at(&url("alice")).await;
    assert_eq!(try_join(&mut alice, "team.1").await["type"], "joined");
    let (mut bob, _) = native_at(&url("bob")).await;
    let refused = try_join(&mut bob, "team.1").await;
    assert_eq!(refused["code"], "hook_denied", "{refused}");
    // Hooks on `join` only: a publish is not asked about.
    publish(&mut alice, "team.1", "p", json!({"message": "hi"})).await;
    assert!(b.seen_for("publish").is_empty());

    for (text, needle) in [
        (
            "[[policy.rooms]]\nmatch = \"team.*\"\nhooks = [\"join\"]\n".to_owned(),
            "no [hooks] table",
        ),
        (
            format!("[hooks]\nurl = \"http://{addr}/hooks\"\n"),
            "needs --backend-secret",
        ),
        (
            "backend_secret = \"s\"\n[hooks]\nurl = \"http://x/\"\nconcurency = 3\n".to_owned(),
            "unknown field",
        ),
    ] {
        let file = write("bad.toml", &text);
        let out = Command::new(BIN)
            .args(["--config", &file, "--in-memory", "--bind", "127.0.0.1:0"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text}: started");
        assert!(stderr.contains(needle), "{text}: {stderr}");
    }
}
