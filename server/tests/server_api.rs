//! The server API (`docs/openapi.json`): every documented route exists and
//! answers its documented status codes; and what each route does, checked
//! on real sockets (a removed member is told and can no longer publish, a
//! disconnected user is closed with 4004, publish to many rooms).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use common::*;
use confab_server::Config;
use serde_json::{json, Value};

fn spec() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json"))
            .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn api() -> Config {
    Config {
        api_key: Some("k".into()),
        ..config()
    }
}

/// The documented status codes of one operation.
fn documented(op: &Value) -> Vec<u16> {
    op["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.parse().unwrap())
        .collect()
}

#[tokio::test]
async fn every_documented_route_exists_and_answers_a_documented_status() {
    let spec = spec();
    let server = start(api()).await;
    let no_key = start(config()).await;
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        let path = path.replace("{room}", "lobby").replace("{user}", "alice");
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let codes = documented(op);
            let m = method.to_uppercase();
            let test = &op["x-test"];
            let url = format!("{path}{}", test["query"].as_str().unwrap_or(""));
            let body = test.get("body").map_or(String::new(), Value::to_string);
            // Without the key: 401; with no key configured: 503.
            let (status, _) = http(server.addr, &m, &url, &[], &body).await;
            assert_eq!(status, 401, "{m} {url}");
            let (status, _) = http(
                no_key.addr,
                &m,
                &url,
                &[("Authorization", "Bearer k")],
                &body,
            )
            .await;
            assert_eq!(status, 503, "{m} {url}");
            // With the key and the documented example: a documented success.
            let (status, text) = http(
                server.addr,
                &m,
                &url,
                &[("Authorization", "Bearer k")],
                &body,
            )
            .await;
            assert!((200..300).contains(&status), "{m} {url}: {status} {text}");
            for s in [status, 401, 503] {
                assert!(
                    codes.contains(&s),
                    "{m} {path}: {s} is not documented ({codes:?})"
                );
            }
            // A bad room or user name, where the path has one: 400.
            if path.contains("lobby") || path.contains("alice") {
                let bad = url
                    .replace("lobby", "no%20spaces")
                    .replace("alice", "no%20spaces");
                let (status, _) = http(
                    server.addr,
                    &m,
                    &bad,
                    &[("Authorization", "Bearer k")],
                    &body,
                )
                .await;
                assert_eq!(status, 400, "{m} {bad}");
                assert!(codes.contains(&400), "{m} {path}: 400 is not documented");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 7, "every operation of the spec");
    // And nothing undocumented answers under /api.
    let (status, _) = http(
        server.addr,
        "GET",
        "/api/nope",
        &[("Authorization", "Bearer k")],
        "",
    )
    .await;
    assert!(status == 404 || status == 405, "{status}");
}

#[tokio::test]
async fn rooms_presence_history_and_publish_to_many() {
    let server = start(api()).await;
    let key = [("Authorization", "Bearer k")];
    let (mut alice, _) = native(&server, "?name=alice").await;
    join(&mut alice, "lobby").await;
    join(&mut alice, "team.42").await;
    for n in 1..=3 {
        publish(&mut alice, "lobby", &format!("p{n}"), json!({ "n": n })).await;
    }
    let (s, body) = http(server.addr, "GET", "/api/rooms", &key, "").await;
    assert_eq!(s, 200);
    let rooms: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        rooms["rooms"],
        json!([{"room": "lobby", "members": 1}, {"room": "team.42", "members": 1}])
    );
    let (_, body) = http(server.addr, "GET", "/api/rooms/lobby/presence", &key, "").await;
    let presence: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(presence["members"][0]["name"], "alice");
    let (_, body) = http(
        server.addr,
        "GET",
        "/api/rooms/lobby/messages?before=3&limit=1",
        &key,
        "",
    )
    .await;
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (page["messages"][0]["offset"].clone(), page["more"].clone()),
        (json!(2), json!(true))
    );
    let many = json!({"rooms": ["lobby", "team.42"], "payload": {"message": "all"}, "idempotency_key": "m-1"});
    let (s, body) = http(server.addr, "POST", "/api/publish", &key, &many.to_string()).await;
    assert_eq!(s, 200, "{body}");
    let results: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (
            results["results"][0]["offset"].clone(),
            results["results"][1]["offset"].clone()
        ),
        (json!(4), json!(1))
    );
    // The same key again: the same places, nothing stored twice.
    let (_, again) = http(server.addr, "POST", "/api/publish", &key, &many.to_string()).await;
    assert_eq!(serde_json::from_str::<Value>(&again).unwrap(), results);
    let mut got = Vec::new();
    while got.len() < 2 {
        let m = recv_type(&mut alice, "message").await;
        got.push((
            m["room"].as_str().unwrap().to_owned(),
            m["from"]["id"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(
        got,
        [
            ("lobby".to_owned(), "server".to_owned()),
            ("team.42".to_owned(), "server".to_owned())
        ]
    );
    expect_silence(&mut alice, std::time::Duration::from_millis(300)).await;
    let too_many = json!({"rooms": vec!["r"; 101], "payload": 1});
    assert_eq!(
        http(
            server.addr,
            "POST",
            "/api/publish",
            &key,
            &too_many.to_string()
        )
        .await
        .0,
        400
    );
}

#[tokio::test]
async fn a_removed_member_is_told_and_a_disconnected_user_is_closed_4004() {
    let server = start(api()).await;
    let key = [("Authorization", "Bearer k")];
    let (mut mallory, w) = native(&server, "?name=mallory").await;
    let mallory_id = w["user"]["id"].as_str().unwrap().to_owned();
    let (mut bob, _) = native(&server, "?name=bob").await;
    join(&mut mallory, "moderated").await;
    join(&mut mallory, "other").await;
    join(&mut bob, "moderated").await;
    let mut compat = connect(&server.ws_url(&format!(
        "/ws/chat/moderated/?guest={}",
        w["guest_token"].as_str().unwrap()
    )))
    .await;
    let path = format!("/api/rooms/moderated/members/{mallory_id}");
    let (s, _) = http(server.addr, "DELETE", &path, &key, "").await;
    assert_eq!(s, 202);
    let e = recv_type(&mut mallory, "error").await;
    assert_eq!(
        (e["code"].clone(), e["room"].clone()),
        (json!("forbidden"), json!("moderated"))
    );
    // Bob sees her leave; she can no longer publish there, but still elsewhere.
    let leave = recv_type(&mut bob, "presence").await;
    assert_eq!(leave["leaves"][0]["id"], mallory_id.as_str(), "{leave}");
    send(
        &mut mallory,
        json!({"type": "publish", "ref": "x", "room": "moderated", "payload": 1}),
    )
    .await;
    assert_eq!(recv_type(&mut mallory, "error").await["code"], "not_joined");
    publish(&mut mallory, "other", "ok", json!(1)).await;
    // Her seed-compatible socket, bound to the room, is closed.
    assert_eq!(recv_close(&mut compat).await, 4004);
    // Disconnect: every connection of hers, 4004.
    let (s, _) = http(
        server.addr,
        "POST",
        &format!("/api/users/{mallory_id}/disconnect"),
        &key,
        "",
    )
    .await;
    assert_eq!(s, 202);
    assert_eq!(recv_close(&mut mallory).await, 4004);
    // Bob is untouched.
    publish(&mut bob, "moderated", "b", json!("still here")).await;
}
