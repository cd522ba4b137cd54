//! `refresh`: a new token for a live connection, against a real server.
//! Before expiry it keeps the connection and its rooms; without it the
//! connection is closed with 4003; a token of another user, or a bad one,
//! changes nothing; new grants replace old ones (rooms no longer allowed
//! are left with `forbidden`).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::bystanders::{recv_close_or_end, Bystanders};
use common::process::{temp_dir, Node, SECRET};
use common::tokens::{claims, granting, ALL};
use common::*;
use confab_server::auth::{mint, unix_now, Claims};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const POLICY: &str = r#"
[[policy.rooms]]
match = "team.**"
"#;

async fn node() -> Node {
    let file = temp_dir("refresh").join("confab.toml");
    std::fs::write(&file, POLICY).unwrap();
    Node::start(&[
        "--config".into(),
        file.to_str().unwrap().into(),
        "--token-secret".into(),
        SECRET.into(),
        "--heartbeat-ms".into(),
        "300".into(),
    ])
    .await
}

fn token(sub: &str, ttl: u64, grants: &[(&str, &[&str])]) -> String {
    let c = Claims {
        exp: unix_now() + ttl,
        ..granting(claims(sub), grants)
    };
    mint(SECRET, &c)
}

/// Reads `ws` for `d`, pinging every 100 ms; panics if it closes. Returns
/// the frames (pongs left out).
async fn stay(ws: &mut Ws, d: Duration) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + d;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut got = Vec::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return got,
            _ = tick.tick() => send(ws, json!({"type": "ping"})).await,
            m = ws.next() => match m.expect("stream ended").expect("socket error") {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if v["type"] != "pong" {
                        got.push(v);
                    }
                }
                Message::Close(f) => panic!("closed: {f:?}"),
                _ => {}
            },
        }
    }
}

async fn reply(ws: &mut Ws, r: &str) -> Value {
    loop {
        let v = recv(ws).await;
        if v["ref"] == r {
            return v;
        }
    }
}

#[tokio::test]
async fn refresh_before_expiry_keeps_the_connection_and_its_rooms() {
    let n = node().await;
    let team: &[(&str, &[&str])] = &[("team.**", ALL)];
    let mut by = Bystanders::join_at(
        &n.ws("/ws"),
        "team.1",
        &format!("?token={}", token("speaker", 600, team)),
        &format!("?token={}", token("listener", 600, team)),
    )
    .await;
    let first = token("alice", 2, team);
    let (mut ws, welcome) = {
        let mut ws = connect(&n.ws(&format!("/ws?token={first}"))).await;
        let w = recv(&mut ws).await;
        (ws, w)
    };
    let exp = welcome["expires"].as_u64().unwrap();
    assert!(exp <= unix_now() + 2, "{welcome}");
    join(&mut ws, "team.1").await;
    // (Everyone answers the server's pings meanwhile: --heartbeat-ms 300.)
    tokio::join!(
        stay(&mut ws, Duration::from_millis(800)),
        by.idle(Duration::from_millis(800))
    );

    let second = token("alice", 600, team);
    send(
        &mut ws,
        json!({"type": "refresh", "ref": "r1", "token": second}),
    )
    .await;
    let ack = reply(&mut ws, "r1").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let new_exp = ack["expires"].as_u64().unwrap();
    assert!(new_exp > unix_now() + 500, "{ack}");

    // Well past the first token's expiry: still connected, still joined.
    tokio::join!(
        stay(&mut ws, Duration::from_millis(2500)),
        by.idle(Duration::from_millis(2500))
    );
    let ack = publish(&mut ws, "team.1", "p1", json!({"text": "still here"})).await;
    assert_eq!(ack["room"], "team.1");
    by.assert_receiving().await;
}

#[tokio::test]
async fn without_refresh_the_connection_closes_4003() {
    let n = node().await;
    let mut by =
        Bystanders::join_at(&n.ws("/ws"), "lobby", "?name=speaker", "?name=listener").await;
    let t = token("brief", 1, &[]);
    let (mut ws, _) = native_at(&n.ws(&format!("/ws?token={t}"))).await;
    join(&mut ws, "lobby").await;
    // Reading answers the server's pings: only the expiry can close it.
    let (_, code) = tokio::join!(
        by.idle(Duration::from_millis(2000)),
        recv_close_or_end(&mut ws)
    );
    assert_eq!(code, Some(4003));
    by.assert_receiving().await;
}

#[tokio::test]
async fn a_bad_refresh_changes_nothing_and_the_old_expiry_still_closes() {
    let n = node().await;
    let mut by =
        Bystanders::join_at(&n.ws("/ws"), "lobby", "?name=speaker", "?name=listener").await;
    let (mut ws, _) = native_at(&n.ws(&format!("/ws?token={}", token("alice", 2, &[])))).await;
    join(&mut ws, "lobby").await;
    let expired = mint(
        SECRET,
        &Claims {
            exp: unix_now() - 5,
            ..claims("alice")
        },
    );
    for (i, (what, t)) in [
        ("another user's token", token("mallory", 600, &[])),
        (
            "a token signed with another key",
            mint("other", &claims("alice")),
        ),
        ("an expired token", expired),
        ("garbage", "x.y.z".to_owned()),
    ]
    .into_iter()
    .enumerate()
    {
        let r = format!("r{i}");
        send(&mut ws, json!({"type": "refresh", "ref": r, "token": t})).await;
        let e = reply(&mut ws, &r).await;
        assert_eq!(e["type"], "error", "{what}: {e}");
        assert_eq!(e["code"], "unauthorized", "{what}: {e}");
    }
    // A guest has nothing to refresh.
    let (mut guest, _) = native_at(&n.ws("/ws?name=g")).await;
    send(
        &mut guest,
        json!({"type": "refresh", "ref": "g", "token": token("alice", 600, &[])}),
    )
    .await;
    let e = reply(&mut guest, "g").await;
    assert_eq!(e["code"], "unauthorized", "{e}");
    // The first token still rules: closed at its expiry.
    let (_, code) = tokio::join!(
        by.idle(Duration::from_millis(2500)),
        recv_close_or_end(&mut ws)
    );
    assert_eq!(code, Some(4003));
    by.assert_receiving().await;
}

#[tokio::test]
async fn refreshed_grants_replace_the_old_ones() {
    let n = node().await;
    let team: &[(&str, &[&str])] = &[("team.**", ALL)];
    let mut by = Bystanders::join_at(
        &n.ws("/ws"),
        "team.1",
        &format!("?token={}", token("speaker", 600, team)),
        &format!("?token={}", token("listener", 600, team)),
    )
    .await;
    let (mut ws, _) = native_at(&n.ws(&format!("/ws?token={}", token("alice", 600, team)))).await;
    join(&mut ws, "team.1").await;
    join(&mut ws, "lobby").await;
    // The new token only grants team.2: team.1 is left, lobby is kept.
    let narrower = token("alice", 600, &[("team.2", ALL)]);
    send(
        &mut ws,
        json!({"type": "refresh", "ref": "r", "token": narrower}),
    )
    .await;
    assert_eq!(reply(&mut ws, "r").await["type"], "ack");
    let e = recv_type(&mut ws, "error").await;
    assert_eq!(e["code"], "forbidden", "{e}");
    assert_eq!(e["room"], "team.1", "{e}");
    let left = by.idle(Duration::from_millis(300)).await;
    assert!(
        left.iter()
            .any(|v| v["type"] == "presence" && v["leaves"][0]["id"] == "alice"),
        "{left:?}"
    );
    send(
        &mut ws,
        json!({"type": "publish", "ref": "p", "room": "team.1", "payload": 1}),
    )
    .await;
    assert_eq!(reply(&mut ws, "p").await["code"], "forbidden");
    publish(&mut ws, "lobby", "p2", json!(2)).await;
    join(&mut ws, "team.2").await;
    by.assert_receiving().await;
}
