//! The native `/ws` protocol: every envelope, presence, history, DMs, rename.

mod common;

use common::*;
use confab_server::Config;
use serde_json::json;

#[tokio::test]
async fn welcome_join_publish_ack_message_presence() {
    let server = start(config()).await;
    let (mut alice, welcome) = native(&server, "?name=Alice").await;
    assert_eq!(welcome["version"], 1);
    assert_eq!(welcome["user"]["name"], "Alice");
    let alice_id = welcome["user"]["id"].as_str().unwrap().to_owned();
    assert!(alice_id.starts_with("g-"), "{alice_id}");
    assert!(welcome["session_id"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert_eq!(welcome["heartbeat_ms"], 25_000);
    assert_eq!(welcome["limits"]["max_message_bytes"], 65536);

    let joined = join(&mut alice, "lobby").await;
    assert_eq!(joined["ref"], "j-lobby");
    assert_eq!(joined["offset"], 0);
    assert_eq!(joined["recovered"], false);
    assert_eq!(ids(&joined["members"]), vec![alice_id.clone()]);
    assert_eq!(joined["history"], json!([]));

    let (mut bob, bw) = native(&server, "?name=Bob").await;
    let bob_id = bw["user"]["id"].as_str().unwrap().to_owned();
    let joined = join(&mut bob, "lobby").await;
    let mut both = vec![alice_id.clone(), bob_id.clone()];
    both.sort();
    assert_eq!(ids(&joined["members"]), both);

    // Alice sees Bob arrive.
    let p = recv(&mut alice).await;
    assert_eq!(p["type"], "presence", "{p}");
    assert_eq!(p["room"], "lobby");
    assert_eq!(p["joins"], json!([{"id": bob_id, "name": "Bob"}]));

    // Bob publishes: both get the message; Bob gets the ack after it is stored.
    send(
        &mut bob,
        json!({"type": "publish", "ref": "p1", "room": "lobby", "payload": {"text": "hi"}}),
    )
    .await;
    let mut got_msg = None;
    let mut got_ack = None;
    while got_msg.is_none() || got_ack.is_none() {
        let v = recv(&mut bob).await;
        match v["type"].as_str() {
            Some("message") => got_msg = Some(v),
            Some("ack") => got_ack = Some(v),
            _ => {}
        }
    }
    let ack = got_ack.unwrap();
    assert_eq!(
        ack,
        json!({"type": "ack", "ref": "p1", "room": "lobby", "offset": 1, "ts": ack["ts"]})
    );
    let m = recv(&mut alice).await;
    assert_eq!(m["type"], "message");
    assert_eq!(m["room"], "lobby");
    assert_eq!(m["offset"], 1);
    assert_eq!(m["from"], json!({"id": bob_id, "name": "Bob"}));
    assert_eq!(m["payload"], json!({"text": "hi"}));
    assert_eq!(m["ts"], ack["ts"]);
    assert_eq!(got_msg.unwrap(), m);

    // Bob leaves: ack, then Alice sees the leave.
    send(
        &mut bob,
        json!({"type": "leave", "ref": "l1", "room": "lobby"}),
    )
    .await;
    assert_eq!(
        recv(&mut bob).await,
        json!({"type": "ack", "ref": "l1", "room": "lobby"})
    );
    let p = recv(&mut alice).await;
    assert_eq!(
        p,
        json!({"type": "presence", "room": "lobby", "leaves": [{"id": bob_id, "name": "Bob"}]})
    );
}

fn with_tokens() -> confab_server::Config {
    confab_server::Config {
        token_secret: vec!["test-secret".into()],
        ..config()
    }
}

fn token(user: &str, name: &str) -> String {
    confab_server::auth::mint(
        "test-secret",
        &confab_server::auth::Claims {
            sub: user.into(),
            name: Some(name.into()),
            exp: confab_server::auth::unix_now() + 3600,
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn user_with_two_connections_joins_once_and_leaves_with_the_last() {
    let server = start(with_tokens()).await;
    let (mut watcher, _) = native(&server, "?name=W").await;
    join(&mut watcher, "room1").await;

    let q = format!("?token={}", token("carol", "Carol"));
    let (mut c1, w1) = native(&server, &q).await;
    assert_eq!(w1["user"], json!({"id": "carol", "name": "Carol"}));
    join(&mut c1, "room1").await;
    let p = recv(&mut watcher).await;
    assert_eq!(p["joins"], json!([{"id": "carol", "name": "Carol"}]));

    let (mut c2, _) = native(&server, &q).await;
    let j = join(&mut c2, "room1").await;
    assert!(ids(&j["members"]).contains(&"carol".to_owned()));
    // Second connection: no new presence diff.
    expect_silence(&mut watcher, std::time::Duration::from_millis(300)).await;

    c1.close(None).await.unwrap();
    expect_silence(&mut watcher, std::time::Duration::from_millis(300)).await;
    drop(c2);
    let p = recv(&mut watcher).await;
    assert_eq!(
        p,
        json!({"type": "presence", "room": "room1", "leaves": [{"id": "carol", "name": "Carol"}]})
    );
}

#[tokio::test]
async fn history_resume_exact_gap_and_unrecoverable() {
    let server = start(confab_server::Config {
        history_size: 5,
        join_history: 3,
        ..config()
    })
    .await;
    let (mut a, _) = native(&server, "").await;
    let j = join(&mut a, "hist").await;
    let epoch = j["epoch"].as_str().unwrap().to_owned();
    for i in 1..=4 {
        let ack = publish(&mut a, "hist", &format!("r{i}"), json!({"n": i})).await;
        assert_eq!(ack["offset"], i);
    }
    let (mut b, _) = native(&server, "").await;
    // Exact resume after offset 2: messages 3 and 4.
    send(
        &mut b,
        json!({"type": "join", "ref": "x", "room": "hist", "since": {"epoch": epoch, "offset": 2}}),
    )
    .await;
    let j = recv_type(&mut b, "joined").await;
    assert_eq!(j["recovered"], true);
    assert_eq!(j["offset"], 4);
    let offs: Vec<u64> = j["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offs, vec![3, 4]);
    assert_eq!(j["history"][0]["payload"], json!({"n": 3}));

    // Wrong epoch: not recovered, recent history (join_history = 3).
    send(&mut b, json!({"type": "join", "ref": "y", "room": "hist", "since": {"epoch": "other", "offset": 2}})).await;
    let j = recv_type(&mut b, "joined").await;
    assert_eq!(j["recovered"], false);
    let offs: Vec<u64> = j["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offs, vec![2, 3, 4]);

    // Too old: history keeps 5; after 8 messages offset 1 is gone.
    for i in 5..=8 {
        publish(&mut a, "hist", &format!("r{i}"), json!({"n": i})).await;
    }
    send(
        &mut b,
        json!({"type": "join", "ref": "z", "room": "hist", "since": {"epoch": epoch, "offset": 1}}),
    )
    .await;
    let j = recv_type(&mut b, "joined").await;
    assert_eq!(j["recovered"], false);
    assert_eq!(j["offset"], 8);
    // Still in range (offset 3 → 4..8 kept): recovered.
    send(
        &mut b,
        json!({"type": "join", "ref": "w", "room": "hist", "since": {"epoch": epoch, "offset": 3}}),
    )
    .await;
    let j = recv_type(&mut b, "joined").await;
    assert_eq!(j["recovered"], true);
    assert_eq!(j["history"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn live_messages_never_overtake_the_joined_reply() {
    let server = start(config()).await;
    let (mut a, _) = native(&server, "").await;
    join(&mut a, "busy").await;
    // Publish continuously while B joins; B must see `joined` first and then
    // offsets strictly after the history, without gaps or duplicates.
    let publisher = tokio::spawn(async move {
        for i in 0..40 {
            publish(&mut a, "busy", &format!("p{i}"), json!(i)).await;
        }
        a
    });
    let (mut b, _) = native(&server, "").await;
    send(&mut b, json!({"type": "join", "ref": "j", "room": "busy"})).await;
    let first = recv(&mut b).await;
    assert_eq!(first["type"], "joined", "{first}");
    let mut last = first["offset"].as_u64().unwrap();
    let _a = publisher.await.unwrap();
    while last < 40 {
        let v = recv(&mut b).await;
        if v["type"] == "message" {
            assert_eq!(v["offset"].as_u64().unwrap(), last + 1, "{v}");
            last += 1;
        }
    }
}

#[tokio::test]
async fn direct_messages_reach_only_both_users() {
    let server = start(with_tokens()).await;
    let (mut alice1, _) = native(&server, &format!("?token={}", token("alice", "Alice"))).await;
    let (mut alice2, _) = native(&server, &format!("?token={}", token("alice", "Alice"))).await;
    let (mut bob, _) = native(&server, &format!("?token={}", token("bob", "Bob"))).await;
    let (mut eve, _) = native(&server, &format!("?token={}", token("eve", "Eve"))).await;

    send(
        &mut bob,
        json!({"type": "direct", "ref": "d1", "to": "alice", "payload": {"text": "psst"}}),
    )
    .await;
    let mut ack = None;
    let mut own = None;
    while ack.is_none() || own.is_none() {
        let v = recv(&mut bob).await;
        match v["type"].as_str() {
            Some("ack") => ack = Some(v),
            Some("message") => own = Some(v),
            _ => panic!("unexpected {v}"),
        }
    }
    let ack = ack.unwrap();
    assert_eq!(ack["room"], "dm:alice:bob");
    assert_eq!(ack["offset"], 1);
    for a in [&mut alice1, &mut alice2] {
        let m = recv(a).await;
        assert_eq!(m["type"], "message");
        assert_eq!(m["room"], "dm:alice:bob");
        assert_eq!(m["from"], json!({"id": "bob", "name": "Bob"}));
        assert_eq!(m["payload"], json!({"text": "psst"}));
    }
    assert_eq!(own.unwrap()["offset"], 1);
    expect_silence(&mut eve, std::time::Duration::from_millis(300)).await;

    // A third party cannot join or list the DM room; a party can, with history.
    send(
        &mut eve,
        json!({"type": "join", "ref": "e1", "room": "dm:alice:bob"}),
    )
    .await;
    let e = recv(&mut eve).await;
    assert_eq!(e["code"], "unauthorized", "{e}");
    assert_eq!(e["ref"], "e1");
    send(
        &mut eve,
        json!({"type": "list", "ref": "e2", "room": "dm:alice:bob"}),
    )
    .await;
    assert_eq!(recv(&mut eve).await["code"], "unauthorized");
    let j = join(&mut alice1, "dm:alice:bob").await;
    assert_eq!(j["history"][0]["payload"], json!({"text": "psst"}));

    // Joined connection gets the next DM once (not twice).
    send(
        &mut bob,
        json!({"type": "direct", "ref": "d2", "to": "alice", "payload": 2}),
    )
    .await;
    let m = recv_type(&mut alice1, "message").await;
    assert_eq!(m["offset"], 2);
    expect_silence(&mut alice1, std::time::Duration::from_millis(300)).await;

    // Invalid recipient.
    send(
        &mut bob,
        json!({"type": "direct", "ref": "d3", "to": "no body!", "payload": 1}),
    )
    .await;
    let e = recv_type(&mut bob, "error").await;
    assert_eq!(e["code"], "unknown_user");
    assert_eq!(e["ref"], "d3");
}

#[tokio::test]
async fn rename_updates_presence_everywhere_and_list_ping_work() {
    let server = start(config()).await;
    let (mut a, wa) = native(&server, "?name=Old").await;
    let a_id = wa["user"]["id"].as_str().unwrap().to_owned();
    let (mut b, _) = native(&server, "").await;
    for room in ["r1", "r2"] {
        join(&mut a, room).await;
        join(&mut b, room).await;
    }
    send(
        &mut a,
        json!({"type": "rename", "ref": "n1", "name": "  New Name "}),
    )
    .await;
    assert_eq!(
        recv_type(&mut a, "ack").await,
        json!({"type": "ack", "ref": "n1"})
    );
    let mut rooms = Vec::new();
    while rooms.len() < 2 {
        let v = recv(&mut b).await;
        if v["type"] == "presence" && v.get("updates").is_some() {
            assert_eq!(v["updates"], json!([{"id": a_id, "name": "New Name"}]));
            rooms.push(v["room"].as_str().unwrap().to_owned());
        }
    }
    rooms.sort();
    assert_eq!(rooms, vec!["r1", "r2"]);
    // New name on later messages and in lists (also of rooms not joined).
    let ack = publish(&mut a, "r1", "p", json!("x")).await;
    assert_eq!(ack["offset"], 1);
    let m = recv_type(&mut b, "message").await;
    assert_eq!(m["from"]["name"], "New Name");
    let (mut c, _) = native(&server, "").await;
    send(&mut c, json!({"type": "list", "ref": "l", "room": "r2"})).await;
    let l = recv(&mut c).await;
    assert_eq!(l["type"], "members");
    assert_eq!(l["ref"], "l");
    assert!(l["members"]
        .as_array()
        .unwrap()
        .contains(&json!({"id": a_id, "name": "New Name"})));
    send(&mut c, json!({"type": "ping", "ref": "pp"})).await;
    let p = recv(&mut c).await;
    assert_eq!(p["type"], "pong");
    assert_eq!(p["ref"], "pp");
    assert!(p["ts"].as_u64().unwrap() > 1_700_000_000_000);

    send(
        &mut c,
        json!({"type": "rename", "ref": "bad", "name": "   "}),
    )
    .await;
    let e = recv(&mut c).await;
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_str()),
        (Some("name_invalid"), Some("bad"))
    );
}

#[tokio::test]
async fn every_request_error_code_and_the_connection_stays_open() {
    let server = start(confab_server::Config {
        max_rooms: 2,
        ..config()
    })
    .await;
    let (mut ws, _) = native(&server, "").await;
    let cases: Vec<(&str, &str, Option<&str>)> = vec![
        ("{nope", "bad_json", None),
        ("[1,2]", "bad_json", None),
        (r#"{"type":"dance","ref":"u"}"#, "unknown_type", Some("u")),
        (r#"{"ref":"u2"}"#, "unknown_type", None),
        (r#"{"type":"join","ref":"b"}"#, "bad_request", Some("b")),
        (
            r#"{"type":"publish","ref":"nj","room":"nowhere","payload":1}"#,
            "not_joined",
            Some("nj"),
        ),
        (
            r#"{"type":"leave","ref":"nl","room":"nowhere"}"#,
            "not_joined",
            Some("nl"),
        ),
        (
            r#"{"type":"join","ref":"rn","room":"../etc"}"#,
            "room_name_invalid",
            Some("rn"),
        ),
        (
            r#"{"type":"join","ref":"rn2","room":""}"#,
            "room_name_invalid",
            Some("rn2"),
        ),
        (
            r#"{"type":"rename","ref":"nm","name":""}"#,
            "name_invalid",
            Some("nm"),
        ),
        (
            r#"{"type":"join","ref":"ua","room":"dm:x:y"}"#,
            "unauthorized",
            Some("ua"),
        ),
        (
            r#"{"type":"direct","ref":"uu","to":"","payload":1}"#,
            "unknown_user",
            Some("uu"),
        ),
    ];
    for (frame, code, r) in cases {
        send_text(&mut ws, frame).await;
        let e = recv(&mut ws).await;
        assert_eq!(e["type"], "error", "{frame}: {e}");
        assert_eq!(e["code"], code, "{frame}: {e}");
        assert_eq!(e["ref"].as_str(), r, "{frame}: {e}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    join(&mut ws, "one").await;
    join(&mut ws, "two").await;
    send(
        &mut ws,
        json!({"type": "join", "ref": "t", "room": "three"}),
    )
    .await;
    let e = recv(&mut ws).await;
    assert_eq!(
        (e["code"].as_str(), e["room"].as_str()),
        (Some("too_many_rooms"), Some("three"))
    );
    // Re-joining a joined room is a resume, not a new room.
    join(&mut ws, "two").await;
    // Still usable.
    send(&mut ws, json!({"type": "ping", "ref": "alive"})).await;
    assert_eq!(recv(&mut ws).await["type"], "pong");
    let (_, metrics) = http(server.addr, "GET", "/metrics", &[], "").await;
    assert!(
        metrics.contains("confab_errors_total{code=\"bad_json\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("confab_errors_total{code=\"too_many_rooms\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn subprotocol_is_negotiated() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let server = start(config()).await;
    let mut req = server.ws_url("/ws").into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "confab.v1".parse().unwrap());
    let (_ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "confab.v1");
}

fn guest_query(name: &str, token: &str) -> String {
    format!("?name={name}&guest={token}")
}

#[tokio::test]
async fn guest_token_keeps_the_guest_id_across_reconnects() {
    let server = start(config()).await;
    let (mut a, welcome) = native(&server, "?name=Robert").await;
    let id = welcome["user"]["id"].as_str().unwrap().to_owned();
    let token = welcome["guest_token"].as_str().unwrap().to_owned();
    join(&mut a, "lobby").await;
    publish(&mut a, "lobby", "p1", json!("hello")).await;
    drop(a);

    // Same token: same id (name from ?name=), and a fresh token.
    let (mut b, again) = native(&server, &guest_query("Bob", &token)).await;
    assert_eq!(again["user"]["id"], id.as_str(), "{again}");
    assert_eq!(again["user"]["name"], "Bob");
    assert!(again["guest_token"].is_string(), "{again}");
    let joined = join(&mut b, "lobby").await;
    assert_eq!(joined["history"][0]["from"]["id"], id.as_str());

    // Tampered, forged or garbage: accepted, with a new guest id.
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let (body, _) = token.split_once('.').unwrap();
    let forged = format!("{body}.{}", "A".repeat(43));
    for bad in [tampered.as_str(), forged.as_str(), "garbage", ""] {
        let (_ws, w) = native(&server, &guest_query("Eve", bad)).await;
        let other = w["user"]["id"].as_str().unwrap();
        assert!(other.starts_with("g-") && other != id, "{bad:?}: {w}");
    }

    // A token of another server (other key) is not accepted either.
    let other = start(config()).await;
    let (_ws, w) = native(&other, &guest_query("Robert", &token)).await;
    assert_ne!(w["user"]["id"], id.as_str());
}

#[tokio::test]
async fn guest_tokens_are_for_guests_only_and_not_user_tokens() {
    let server = start(Config {
        token_secret: vec!["s3cret".into()],
        ..config()
    })
    .await;
    let (_g, welcome) = native(&server, "?name=G").await;
    let guest_token = welcome["guest_token"].as_str().unwrap().to_owned();
    // A guest token is no user token.
    assert_eq!(
        connect_status(server.ws_url(&format!("/ws?token={guest_token}")).as_str()).await,
        401
    );
    let user = confab_server::auth::mint(
        "s3cret",
        &confab_server::auth::Claims {
            sub: "alice".into(),
            name: None,
            exp: confab_server::auth::unix_now() + 600,
            ..Default::default()
        },
    );
    let (_u, uw) = native(&server, &format!("?token={user}")).await;
    assert_eq!(uw["user"]["id"], "alice");
    assert!(uw.get("guest_token").is_none(), "{uw}");
    // A user token is no guest token.
    let (_x, xw) = native(&server, &format!("?guest={user}")).await;
    assert_ne!(xw["user"]["id"], "alice");
}

#[tokio::test]
async fn rename_applies_to_every_connection_of_the_user() {
    let server = start(Config {
        token_secret: vec!["k".into()],
        ..config()
    })
    .await;
    let token = confab_server::auth::mint(
        "k",
        &confab_server::auth::Claims {
            sub: "robert".into(),
            name: Some("Robert".into()),
            exp: confab_server::auth::unix_now() + 600,
            ..Default::default()
        },
    );
    let q = format!("?token={token}");
    // Tab 1 is in `a`, tab 2 in `b`; a watcher is in both.
    let (mut tab1, _) = native(&server, &q).await;
    let (mut tab2, _) = native(&server, &q).await;
    let (mut watcher, _) = native(&server, "?name=W").await;
    join(&mut tab1, "a").await;
    join(&mut tab2, "b").await;
    join(&mut watcher, "a").await;
    join(&mut watcher, "b").await;

    send(
        &mut tab1,
        json!({"type": "rename", "ref": "r", "name": "Bob"}),
    )
    .await;
    assert_eq!(recv_type(&mut tab1, "ack").await["ref"], "r");
    let mut updated = Vec::new();
    while updated.len() < 2 {
        let v = recv_type(&mut watcher, "presence").await;
        if let Some(u) = v["updates"].as_array().filter(|u| !u.is_empty()) {
            assert_eq!(u[0]["id"], "robert");
            assert_eq!(u[0]["name"], "Bob", "{v}");
            updated.push(v["room"].as_str().unwrap().to_owned());
        }
    }
    updated.sort();
    assert_eq!(updated, ["a", "b"], "every room of the user gets the diff");

    // Tab 2 (which did not rename) now publishes as Bob and is listed as Bob.
    publish(&mut tab2, "b", "p", json!("hi")).await;
    let m = recv_type(&mut watcher, "message").await;
    assert_eq!(m["from"]["name"], "Bob", "{m}");
    let joined = join(&mut tab2, "c").await;
    assert_eq!(joined["members"][0]["name"], "Bob", "{joined}");
    // A new connection of the same user while the others are open: Bob.
    let (_tab3, w3) = native(&server, &q).await;
    assert_eq!(w3["user"]["name"], "Bob", "{w3}");
}

#[tokio::test]
async fn payload_nested_deeper_than_64_is_bad_request_for_publish_and_direct() {
    let server = start(config()).await;
    let (mut a, _) = native(&server, "").await;
    let (mut b, bw) = native(&server, "").await;
    join(&mut a, "deep").await;
    join(&mut b, "deep").await;
    let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
    let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
    let to = bw["user"]["id"].as_str().unwrap();
    for frame in [
        format!(r#"{{"type":"publish","ref":"x","room":"deep","payload":{deep}}}"#),
        format!(r#"{{"type":"direct","ref":"x","to":"{to}","payload":{{"a":{deep}}}}}"#),
    ] {
        send_text(&mut a, &frame).await;
        let e = recv_type(&mut a, "error").await;
        assert_eq!(
            (e["code"].as_str(), e["ref"].as_str()),
            (Some("bad_request"), Some("x")),
            "{e}"
        );
    }
    // Brackets inside strings do not count; 64 levels are fine.
    publish(&mut a, "deep", "s", json!("[".repeat(500))).await;
    send_text(
        &mut a,
        &format!(r#"{{"type":"publish","ref":"ok","room":"deep","payload":{ok}}}"#),
    )
    .await;
    assert_eq!(recv_type(&mut a, "ack").await["ref"], "ok");
    // b got exactly the two accepted messages.
    assert_eq!(recv_type(&mut b, "message").await["offset"], 1);
    assert_eq!(recv_type(&mut b, "message").await["offset"], 2);
    expect_silence(&mut b, std::time::Duration::from_millis(200)).await;
}
