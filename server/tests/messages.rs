//! What a chat needs from its messages (issue #15), in one process on the
//! in-memory layer: exactly-once publishing by client message id,
//! ephemeral signals, history pages, member state (read receipts), history
//! TTL. The durable and Redis layers are checked in durable.rs and
//! redis.rs with real processes.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::*;
use confab_server::Config;
use serde_json::{json, Value};

/// Publishes with a client message id and returns the reply.
async fn publish_cid(ws: &mut Ws, room: &str, r: &str, cid: &str, payload: Value) -> Value {
    send(
        ws,
        json!({"type": "publish", "ref": r, "room": room, "cid": cid, "payload": payload}),
    )
    .await;
    loop {
        let v = recv(ws).await;
        if (v["type"] == "ack" || v["type"] == "error") && v["ref"] == r {
            return v;
        }
    }
}

/// Every `message` of `room` that arrives within `d`.
async fn messages_within(ws: &mut Ws, room: &str, d: Duration) -> Vec<Value> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + d;
    while let Ok(v) = tokio::time::timeout_at(deadline, recv(ws)).await {
        if v["type"] == "message" && v["room"] == room {
            out.push(v);
        }
    }
    out
}

#[tokio::test]
async fn a_repeated_client_message_id_is_stored_once_and_acked_with_the_first_place() {
    let server = start(Config {
        api_key: Some("k".into()),
        ..config()
    })
    .await;
    let (mut alice, _) = native(&server, "?name=alice").await;
    let (mut bob, _) = native(&server, "?name=bob").await;
    join(&mut alice, "once").await;
    join(&mut bob, "once").await;
    let first = publish_cid(&mut alice, "once", "p1", "alice-1", json!({"n": 1})).await;
    assert_eq!(first["offset"], 1, "{first}");
    // The ack was "lost": the same publish again, then on a new connection.
    let again = publish_cid(&mut alice, "once", "p2", "alice-1", json!({"n": 1})).await;
    assert_eq!(
        (again["offset"].clone(), again["ts"].clone()),
        (first["offset"].clone(), first["ts"].clone())
    );
    drop(alice);
    let (mut alice, _) = native(&server, "?name=alice").await;
    join(&mut alice, "once").await;
    let third = publish_cid(&mut alice, "once", "p3", "alice-1", json!({"n": 1})).await;
    assert_eq!(third["offset"], 1, "{third}");
    let next = publish_cid(&mut alice, "once", "p4", "alice-2", json!({"n": 2})).await;
    assert_eq!(next["offset"], 2, "{next}");
    // Bob saw each message once, with its cid.
    let seen = messages_within(&mut bob, "once", Duration::from_millis(500)).await;
    let got: Vec<(u64, &str)> = seen
        .iter()
        .map(|m| (m["offset"].as_u64().unwrap(), m["cid"].as_str().unwrap()))
        .collect();
    assert_eq!(got, [(1, "alice-1"), (2, "alice-2")]);
    // Direct messages too.
    let (mut alice2, w) = native(&server, "?name=alice2").await;
    let to = w["user"]["id"].as_str().unwrap().to_owned();
    let d = json!({"type": "direct", "ref": "d1", "to": to, "cid": "dm-1", "payload": "hi"});
    send(&mut alice2, d.clone()).await;
    let a1 = recv_type(&mut alice2, "ack").await;
    send(
        &mut alice2,
        json!({"type": "direct", "ref": "d2", "to": to, "cid": "dm-1", "payload": "hi"}),
    )
    .await;
    let a2 = recv_type(&mut alice2, "ack").await;
    assert_eq!(
        (a1["room"].clone(), a1["offset"].clone()),
        (a2["room"].clone(), a2["offset"].clone())
    );
    // The HTTP API: Idempotency-Key; 201 stored, 200 already stored.
    let headers = [("Authorization", "Bearer k"), ("Idempotency-Key", "job-7")];
    let body = r#"{"n":"api"}"#;
    let (s1, b1) = http(
        server.addr,
        "POST",
        "/api/rooms/once/messages",
        &headers,
        body,
    )
    .await;
    let (s2, b2) = http(
        server.addr,
        "POST",
        "/api/rooms/once/messages",
        &headers,
        body,
    )
    .await;
    assert_eq!((s1, s2), (201, 200), "{b1} / {b2}");
    let (v1, v2): (Value, Value) = (
        serde_json::from_str(&b1).unwrap(),
        serde_json::from_str(&b2).unwrap(),
    );
    assert_eq!(v1["offset"], 3);
    assert_eq!(v1, v2);
    assert!(metric(server.addr, "confab_duplicates_total").await >= 4);
    // A malformed cid is refused.
    let bad = publish_cid(&mut alice, "once", "p5", "has space", json!(0)).await;
    assert_eq!(bad["code"], "bad_request", "{bad}");
}

#[tokio::test]
async fn signals_reach_current_members_only_and_are_never_stored() {
    let server = start(Config {
        signal_rate_per_sec: 1,
        signal_burst: 3,
        ..config()
    })
    .await;
    let (mut alice, _) = native(&server, "?name=alice").await;
    let (mut bob, _) = native(&server, "?name=bob").await;
    let mut compat = connect(&server.ws_url("/ws/chat/typing/")).await;
    let joined = join(&mut alice, "typing").await;
    join(&mut bob, "typing").await;
    send(
        &mut alice,
        json!({"type": "signal", "room": "typing", "payload": {"typing": true}}),
    )
    .await;
    let s = recv_type(&mut bob, "signal").await;
    assert_eq!(s["room"], "typing");
    assert_eq!(s["from"]["name"], "alice");
    assert_eq!(s["payload"], json!({"typing": true}));
    assert!(s.get("offset").is_none(), "{s}");
    // Seed-compatible sockets get messages only.
    expect_silence(&mut compat, Duration::from_millis(200)).await;
    // Not stored: not in history, not replayed on resume.
    let since = json!({"epoch": joined["epoch"], "offset": 0});
    let (mut carol, _) = native(&server, "?name=carol").await;
    send(
        &mut carol,
        json!({"type": "join", "ref": "j", "room": "typing", "since": since}),
    )
    .await;
    let j = recv_type(&mut carol, "joined").await;
    assert_eq!(
        (j["offset"].clone(), j["history"].clone()),
        (json!(0), json!([]))
    );
    send(
        &mut carol,
        json!({"type": "history", "ref": "h", "room": "typing"}),
    )
    .await;
    assert_eq!(
        recv_type(&mut carol, "history").await["messages"],
        json!([])
    );
    // Their own budget: the burst of 3 (1 used), then rate_limited.
    for i in 0..2 {
        send(
            &mut alice,
            json!({"type": "signal", "ref": format!("s{i}"), "room": "typing", "payload": i}),
        )
        .await;
    }
    send(
        &mut alice,
        json!({"type": "signal", "ref": "over", "room": "typing", "payload": 9}),
    )
    .await;
    let e = recv_type(&mut alice, "error").await;
    assert_eq!(
        (e["code"].clone(), e["ref"].clone()),
        (json!("rate_limited"), json!("over"))
    );
    // ...which does not touch messages.
    publish(&mut alice, "typing", "m", json!("still fine")).await;
    // A room not joined.
    send(
        &mut bob,
        json!({"type": "signal", "ref": "x", "room": "elsewhere", "payload": 1}),
    )
    .await;
    assert_eq!(recv_type(&mut bob, "error").await["code"], "not_joined");
}

#[tokio::test]
async fn history_pages_walk_back_to_the_beginning() {
    let server = start(Config {
        rate_per_sec: 10_000,
        rate_burst: 10_000,
        ..config()
    })
    .await;
    let (mut ws, _) = native(&server, "").await;
    join(&mut ws, "long").await;
    for n in 1..=120 {
        publish(&mut ws, "long", &format!("p{n}"), json!({ "n": n })).await;
    }
    let page = |before: Option<u64>, limit: Option<u64>| {
        let mut req = json!({"type": "history", "ref": "h", "room": "long"});
        if let Some(b) = before {
            req["before"] = json!(b);
        }
        if let Some(l) = limit {
            req["limit"] = json!(l);
        }
        req
    };
    let offsets = |v: &Value| -> Vec<u64> {
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["offset"].as_u64().unwrap())
            .collect()
    };
    send(&mut ws, page(None, None)).await;
    let p = recv_type(&mut ws, "history").await;
    assert_eq!(offsets(&p), (71..=120).collect::<Vec<_>>());
    assert_eq!(
        (p["more"].clone(), p["ref"].clone()),
        (json!(true), json!("h"))
    );
    send(&mut ws, page(Some(71), None)).await;
    let p = recv_type(&mut ws, "history").await;
    assert_eq!(offsets(&p), (21..=70).collect::<Vec<_>>());
    send(&mut ws, page(Some(21), Some(500))).await;
    let p = recv_type(&mut ws, "history").await;
    assert_eq!(offsets(&p), (1..=20).collect::<Vec<_>>());
    assert_eq!(p["more"], false, "offset 1 is the beginning");
    // The limit is capped (100).
    send(&mut ws, page(None, Some(100_000))).await;
    assert_eq!(offsets(&recv_type(&mut ws, "history").await).len(), 100);
    // A DM's history is only for its two users.
    let (mut eve, _) = native(&server, "?name=eve").await;
    send(
        &mut eve,
        json!({"type": "history", "ref": "d", "room": "dm:a:b"}),
    )
    .await;
    assert_eq!(recv_type(&mut eve, "error").await["code"], "unauthorized");
}

#[tokio::test]
async fn member_state_is_shown_to_the_room_and_kept_across_a_rename_and_a_rejoin() {
    let server = start(Config {
        max_state_bytes: 64,
        ..config()
    })
    .await;
    let (mut alice, w) = native(&server, "?name=alice").await;
    let alice_id = w["user"]["id"].clone();
    let (mut bob, _) = native(&server, "?name=bob").await;
    join(&mut alice, "seen").await;
    join(&mut bob, "seen").await;
    send(
        &mut alice,
        json!({"type": "state", "ref": "s", "room": "seen", "state": {"read": 5}}),
    )
    .await;
    assert_eq!(recv_type(&mut alice, "ack").await["ref"], "s");
    let diff = recv_type(&mut bob, "presence").await;
    let updated = &diff["updates"][0];
    assert_eq!(
        (updated["id"].clone(), updated["state"].clone()),
        (alice_id.clone(), json!({"read": 5}))
    );
    // A rename keeps it.
    send(
        &mut alice,
        json!({"type": "rename", "ref": "r", "name": "Alicia"}),
    )
    .await;
    let diff = recv_type(&mut bob, "presence").await;
    assert_eq!(diff["updates"][0]["name"], "Alicia");
    assert_eq!(diff["updates"][0]["state"], json!({"read": 5}));
    // A second device, after the first left: the state is still hers.
    drop(alice);
    let _ = recv_type(&mut bob, "presence").await; // her leave
    let (mut alice2, _) = native(
        &server,
        &format!("?name=Alicia&guest={}", w["guest_token"].as_str().unwrap()),
    )
    .await;
    let j = join(&mut alice2, "seen").await;
    let me = j["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == alice_id)
        .unwrap()
        .clone();
    assert_eq!(me["state"], json!({"read": 5}), "{j}");
    // null clears; too large and not joined are refused.
    send(
        &mut alice2,
        json!({"type": "state", "ref": "c", "room": "seen", "state": null}),
    )
    .await;
    let _ = recv_type(&mut alice2, "ack").await;
    let diff = loop {
        let d = recv_type(&mut bob, "presence").await;
        if !d["updates"].is_null() {
            break d;
        }
    };
    assert!(diff["updates"][0].get("state").is_none(), "{diff}");
    send(
        &mut alice2,
        json!({"type": "state", "ref": "big", "room": "seen", "state": {"x": "y".repeat(100)}}),
    )
    .await;
    assert_eq!(recv_type(&mut alice2, "error").await["code"], "too_large");
    send(
        &mut alice2,
        json!({"type": "state", "ref": "nj", "room": "other", "state": 1}),
    )
    .await;
    assert_eq!(recv_type(&mut alice2, "error").await["code"], "not_joined");
}

#[tokio::test]
async fn messages_past_the_history_ttl_are_gone_from_joins_pages_and_resumes() {
    let server = start(Config {
        history_ttl_secs: Some(1),
        ..config()
    })
    .await;
    let (mut ws, _) = native(&server, "").await;
    let joined = join(&mut ws, "short").await;
    publish(&mut ws, "short", "old", json!("old")).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    publish(&mut ws, "short", "new", json!("new")).await;
    let (mut late, _) = native(&server, "").await;
    let j = join(&mut late, "short").await;
    let texts: Vec<&Value> = j["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["payload"])
        .collect();
    assert_eq!(texts, [&json!("new")], "{j}");
    send(
        &mut late,
        json!({"type": "history", "ref": "h", "room": "short"}),
    )
    .await;
    let p = recv_type(&mut late, "history").await;
    assert_eq!(p["messages"].as_array().unwrap().len(), 1);
    assert_eq!(p["more"], false);
    // Resuming from before the expired message cannot be exact.
    let since = json!({"epoch": joined["epoch"], "offset": 0});
    send(
        &mut late,
        json!({"type": "join", "ref": "r", "room": "short", "since": since}),
    )
    .await;
    let r = recv_type(&mut late, "joined").await;
    assert_eq!(r["recovered"], false, "{r}");
}
