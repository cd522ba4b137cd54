//! Webhooks (docs/BACKEND.md): a real HTTP receiver in the test records
//! what the server posts. Events come in order, signed, each with an id;
//! a receiver that is down gets every event once it is back (duplicates
//! only with the same id); with two nodes on Redis each event is delivered
//! once per cluster (one Redis, two shards, a Redis Cluster), and a user
//! with tabs on both nodes is online once and offline once.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use common::process::{as_user, prefix, redis_args, token_args, Node, Redis, RedisCluster};
use common::*;
use confab_server::backend::sign;
use confab_server::Config;
use serde_json::{json, Value};

const SECRET: &str = "backend-secret";

/// What the receiver saw: every event of every accepted request, and the
/// ids of events in refused requests.
#[derive(Default)]
struct Received {
    events: Mutex<Vec<Value>>,
    refused: Mutex<Vec<Value>>,
    down: AtomicBool,
}

async fn receive(State(r): State<Arc<Received>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let ts: u64 = headers[sign::TIMESTAMP_HEADER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let sig = headers[sign::SIGNATURE_HEADER].to_str().unwrap();
    assert!(
        sign::verify(SECRET, ts, &body, sig, confab_server::clock::unix_now()),
        "bad signature"
    );
    let v: Value = serde_json::from_slice(&body).unwrap();
    let events = v["events"].as_array().unwrap().clone();
    if r.down.load(Ordering::SeqCst) {
        r.refused.lock().unwrap().extend(events);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    r.events.lock().unwrap().extend(events);
    StatusCode::NO_CONTENT
}

async fn receiver() -> (SocketAddr, Arc<Received>) {
    let r = Arc::new(Received::default());
    let app = Router::new()
        .route("/hooks", post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, r)
}

/// The events received so far, as `(event, room, user id)`.
fn seen(r: &Received) -> Vec<(String, String, String)> {
    r.events
        .lock()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (s(&e["event"]), s(&e["room"]), s(&e["user"]["id"]))
        })
        .collect()
}

/// Waits until `pred` holds for what was received (panics after 20 s).
async fn wait_for(r: &Received, pred: impl Fn(&[(String, String, String)]) -> bool) {
    wait_within(r, Duration::from_secs(20), pred).await
}

/// Waits until `pred` holds for what was received (panics after `within`).
async fn wait_within(
    r: &Received,
    within: Duration,
    pred: impl Fn(&[(String, String, String)]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if pred(&seen(r)) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "received: {:?}",
            seen(r)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn hooks(addr: SocketAddr) -> Config {
    Config {
        webhook_url: Some(format!("http://{addr}/hooks")),
        backend_secret: Some(SECRET.into()),
        webhook_events: confab_server::backend::WebhookEvent::KINDS
            .iter()
            .map(|k| (*k).to_owned())
            .collect(),
        webhook_message_rooms: vec!["logged.*".into()],
        ..config()
    }
}

fn ev(event: &str, room: &str, user: &str) -> (String, String, String) {
    (event.to_owned(), room.to_owned(), user.to_owned())
}

#[tokio::test]
async fn events_arrive_in_order_signed_with_ids_and_messages_of_chosen_rooms() {
    let (addr, received) = receiver().await;
    let server = start(hooks(addr)).await;
    let (mut alice, w) = native(&server, "?name=alice").await;
    let a = w["user"]["id"].as_str().unwrap().to_owned();
    join(&mut alice, "r").await;
    let (mut bob, w) = native(&server, "?name=bob").await;
    let b = w["user"]["id"].as_str().unwrap().to_owned();
    join(&mut bob, "r").await;
    join(&mut alice, "logged.x").await;
    publish(&mut alice, "logged.x", "m", json!({"text": "keep me"})).await;
    publish(&mut alice, "r", "n", json!({"text": "not this one"})).await;
    drop(bob);
    drop(alice);
    let want = [
        ev("user_online", "", &a),
        ev("room_occupied", "r", ""),
        ev("member_joined", "r", &a),
        ev("user_online", "", &b),
        ev("member_joined", "r", &b),
        ev("room_occupied", "logged.x", ""),
        ev("member_joined", "logged.x", &a),
        ev("message_stored", "logged.x", ""),
    ];
    wait_for(&received, |got| got.len() >= want.len()).await;
    assert_eq!(seen(&received)[..want.len()], want);
    // The rest (leaves, vacated rooms, offline) come in some order of the
    // two closes, but each once and each user's offline after their leaves.
    wait_for(&received, |got| {
        got.iter().filter(|e| e.0 == "user_offline").count() == 2
    })
    .await;
    let all = seen(&received);
    let rest = &all[want.len()..];
    for e in [
        ev("member_left", "r", &b),
        ev("member_left", "r", &a),
        ev("room_vacated", "r", ""),
        ev("member_left", "logged.x", &a),
        ev("room_vacated", "logged.x", ""),
        ev("user_offline", "", &a),
        ev("user_offline", "", &b),
    ] {
        assert_eq!(
            rest.iter().filter(|x| **x == e).count(),
            1,
            "{e:?} in {rest:?}"
        );
    }
    let pos = |e: &(String, String, String)| rest.iter().position(|x| x == e).unwrap();
    assert!(pos(&ev("member_left", "r", &a)) < pos(&ev("user_offline", "", &a)));
    let events = received.events.lock().unwrap().clone();
    let stored = events
        .iter()
        .find(|e| e["event"] == "message_stored")
        .unwrap();
    assert_eq!(stored["message"]["payload"], json!({"text": "keep me"}));
    assert_eq!(stored["message"]["offset"], 1);
    let ids: std::collections::HashSet<&str> =
        events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events.len(), "every event has its own id");
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_every_event_once_it_is_back() {
    let (addr, received) = receiver().await;
    received.down.store(true, Ordering::SeqCst);
    let server = start(hooks(addr)).await;
    // The receiver is down for 30 s while members keep joining (retried
    // with backoff all along), then back.
    let down_since = tokio::time::Instant::now();
    let mut clients = Vec::new();
    for i in 0..5 {
        let (mut ws, _) = native(&server, &format!("?name=c{i}")).await;
        join(&mut ws, "busy").await;
        clients.push(ws);
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    tokio::time::sleep_until(down_since + Duration::from_secs(30)).await;
    assert!(seen(&received).is_empty());
    assert!(!received.refused.lock().unwrap().is_empty(), "it was tried");
    received.down.store(false, Ordering::SeqCst);
    // The next retry comes within the longest backoff (30 s).
    wait_within(&received, Duration::from_secs(45), |got| {
        got.iter().filter(|e| e.0 == "member_joined").count() == 5
    })
    .await;
    let events = received.events.lock().unwrap().clone();
    assert_eq!(
        events.len(),
        11,
        "5 online, 1 occupied, 5 joined: {events:?}"
    );
    // What was refused was sent again with the same ids.
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    for r in received.refused.lock().unwrap().iter() {
        assert!(ids.contains(&r["id"].as_str().unwrap()), "{r}");
    }
    assert!(metric(server.addr, "confab_webhook_failures_total").await >= 1);
    assert_eq!(
        metric(server.addr, "confab_webhook_delivered_total").await,
        11
    );
}

#[tokio::test]
async fn two_nodes_on_redis_deliver_each_event_once_and_a_user_on_both_is_online_once() {
    let redis = Redis::start().await;
    each_event_once(redis_args(&redis.url(), &prefix("webhooks"), 15)).await;
}

/// Shards: the queue is one stream on the first shard, whichever shard
/// the rooms (and the online room) live on.
#[tokio::test]
async fn two_nodes_on_two_shards_deliver_each_event_once() {
    let (first, second) = (Redis::start().await, Redis::start().await);
    let p = prefix("webhooks-shards");
    let urls = format!("{},{}", first.url(), second.url());
    each_event_once(redis_args(&urls, &p, 15)).await;
    let stream = format!("{p}:webhooks");
    assert_eq!(first.cli(&["exists", &stream]), "1");
    assert_eq!(second.cli(&["exists", &stream]), "0");
}

/// Redis Cluster: one stream (hash-tagged with its lease) for every node.
#[tokio::test]
async fn two_nodes_on_a_cluster_deliver_each_event_once() {
    let cluster = RedisCluster::start(3, 0).await;
    let p = prefix("webhooks-cluster");
    let mut args = vec!["--redis-cluster".to_owned()];
    args.extend(redis_args(&cluster.urls().join(","), &p, 15));
    each_event_once(args).await;
    let stream = format!("{p}:{{webhooks}}");
    let (owner, _) = cluster.owner(&stream);
    assert_eq!(cluster.nodes[owner].cli(&["exists", &stream]), "1");
    assert_eq!(cluster.owner(&format!("{stream}:lease")).0, owner);
}

/// Two nodes with `layer` (the `--redis-*` arguments): a user with tabs on
/// both and another user in one room; every event arrives once.
async fn each_event_once(layer: Vec<String>) {
    let (addr, received) = receiver().await;
    let mut args = layer;
    args.extend(token_args());
    args.extend([
        "--webhook-url".to_owned(),
        format!("http://{addr}/hooks"),
        "--backend-secret".to_owned(),
        SECRET.to_owned(),
    ]);
    let a = Node::start(&args).await;
    let b = Node::start(&args).await;
    let (mut tab1, _) = native_at(&a.ws(&format!("/ws{}", as_user("ann")))).await;
    let (mut tab2, _) = native_at(&b.ws(&format!("/ws{}", as_user("ann")))).await;
    join_since(&mut tab1, "both", None).await;
    join_since(&mut tab2, "both", None).await;
    let (mut bo, _) = native_at(&b.ws(&format!("/ws{}", as_user("bo")))).await;
    join_since(&mut bo, "both", None).await;
    drop(tab1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(tab2);
    drop(bo);
    wait_for(&received, |got| {
        got.iter().filter(|e| e.0 == "user_offline").count() == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = seen(&received);
    let count = |e: (String, String, String)| got.iter().filter(|x| **x == e).count();
    assert_eq!(count(ev("user_online", "", "ann")), 1, "{got:?}");
    assert_eq!(count(ev("user_offline", "", "ann")), 1, "{got:?}");
    assert_eq!(count(ev("member_joined", "both", "ann")), 1, "{got:?}");
    assert_eq!(count(ev("member_left", "both", "ann")), 1, "{got:?}");
    assert_eq!(count(ev("room_occupied", "both", "")), 1, "{got:?}");
    assert_eq!(count(ev("room_vacated", "both", "")), 1, "{got:?}");
    assert_eq!(got.len(), 10, "{got:?}");
    // Ann went offline only after her last tab closed.
    let offline = got
        .iter()
        .position(|x| *x == ev("user_offline", "", "ann"))
        .unwrap();
    let left = got
        .iter()
        .position(|x| *x == ev("member_left", "both", "ann"))
        .unwrap();
    assert!(left < offline, "{got:?}");
}
