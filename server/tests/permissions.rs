//! The room permission matrix of issue #14, against a real `confab-server`
//! started with a `--config` file: every action × (guest, user without a
//! grant, user with a grant) × (public, private, read-only, support)
//! room, over the native protocol and over the HTTP API. Each refusal is
//! `forbidden` naming the room, and ends with two bystanders of that room
//! still exchanging a message.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use common::bystanders::Bystanders;
use common::process::{temp_dir, Node, SECRET};
use common::tokens::{claims, granting, ALL};
use common::*;
use confab_server::auth::mint;
use serde_json::{json, Value};

/// The policy under test (docs/PERMISSIONS.md explains each rule).
pub const POLICY: &str = r#"
[[policy.rooms]]
match = "public.**"
guest = ["join", "publish", "presence", "history"]

[[policy.rooms]]
match = "team.**"
# private: nothing without a grant

[[policy.rooms]]
match = "announce.**"
guest = ["join", "presence", "history"]

[[policy.rooms]]
match = "support.**"
guest = ["join", "publish"]
"#;

const ROOMS: [(&str, &str); 4] = [
    ("public", "public.lobby"),
    ("private", "team.42"),
    ("read-only", "announce.news"),
    ("support", "support.queue"),
];

/// What each (room kind, who) may do: the expected outcome of every cell.
const MATRIX: [(&str, &str, &[&str]); 12] = [
    ("public", "guest", ALL),
    ("public", "user", ALL),
    ("public", "granted", ALL),
    ("private", "guest", &[]),
    ("private", "user", &[]),
    ("private", "granted", ALL),
    ("read-only", "guest", &["join", "presence", "history"]),
    ("read-only", "user", &["join", "presence", "history"]),
    ("read-only", "granted", ALL),
    ("support", "guest", &["join", "publish"]),
    ("support", "user", &["join", "publish"]),
    ("support", "granted", ALL),
];

const API_KEY: &str = "matrix-api-key";

async fn start_node() -> Node {
    let dir = temp_dir("policy");
    let file = dir.join("confab.toml");
    std::fs::write(&file, POLICY).unwrap();
    Node::start(&[
        "--config".into(),
        file.to_str().unwrap().into(),
        "--token-secret".into(),
        SECRET.into(),
        "--api-key".into(),
        API_KEY.into(),
    ])
    .await
}

/// A token for `sub` granting every action in every room of the matrix.
fn granted_token(sub: &str) -> String {
    let grants: Vec<(&str, &[&str])> = ROOMS.iter().map(|(_, r)| (*r, ALL)).collect();
    mint(SECRET, &granting(claims(sub), &grants))
}

/// The `?…` query `who` connects with.
fn query(who: &str) -> String {
    match who {
        "guest" => "?name=guest".into(),
        "user" => format!("?token={}", mint(SECRET, &claims("alice"))),
        "granted" => format!("?token={}", granted_token("carol")),
        _ => unreachable!(),
    }
}

/// The `Authorization` header of `who` on the HTTP API (guests have none).
fn bearer(who: &str) -> Option<String> {
    match who {
        "guest" => None,
        "user" => Some(format!("Bearer {}", mint(SECRET, &claims("alice")))),
        "granted" => Some(format!("Bearer {}", granted_token("carol"))),
        "key" => Some(format!("Bearer {API_KEY}")),
        _ => unreachable!(),
    }
}

/// The reply whose `ref` is `r` (skipping room traffic).
async fn reply(ws: &mut Ws, r: &str) -> Value {
    loop {
        let v = recv(ws).await;
        if v["ref"] == r {
            return v;
        }
    }
}

/// Asserts `v` is a `forbidden` error naming `room`.
fn assert_forbidden(v: &Value, room: &str, cell: &str) {
    assert_eq!(v["type"], "error", "{cell}: {v}");
    assert_eq!(v["code"], "forbidden", "{cell}: {v}");
    assert_eq!(v["room"], room, "{cell}: the error names the room: {v}");
}

#[tokio::test]
async fn every_cell_of_the_permission_matrix_native_and_http() {
    let node = start_node().await;
    let ws_url = node.ws("/ws");
    let http_addr = node.addr;
    // Bystanders: two granted users in each room; every room has one
    // message of history from the application.
    let mut bystanders = HashMap::new();
    for (kind, room) in ROOMS {
        let (status, body) = http(
            http_addr,
            "POST",
            &format!("/api/rooms/{room}/messages"),
            &[("Authorization", &bearer("key").unwrap())],
            r#"{"text":"welcome"}"#,
        )
        .await;
        assert_eq!(
            status, 201,
            "the API key publishes anywhere ({room}): {body}"
        );
        let speaker = format!("?token={}", granted_token("speaker"));
        let listener = format!("?token={}", granted_token("listener"));
        bystanders.insert(
            kind,
            Bystanders::join_at(&ws_url, room, &speaker, &listener).await,
        );
    }
    let mut table = vec!["room       who      | native: join publish presence history | http: publish presence history".to_owned()];
    let mut refusals = 0;
    let mut probes = 0;
    for (kind, who, allowed) in MATRIX {
        let room = ROOMS.iter().find(|(k, _)| *k == kind).unwrap().1;
        let may = |a: &str| allowed.contains(&a);
        let by = bystanders.get_mut(kind).unwrap();
        let mut row = format!("{kind:<10} {who:<8} |");

        // Native: join (with its member list and history), publish, list.
        let (mut ws, _) = native_at(&format!("{ws_url}{}", query(who))).await;
        send(&mut ws, json!({"type": "join", "ref": "j", "room": room})).await;
        let joined = reply(&mut ws, "j").await;
        let cell = format!("native join {kind}/{who}");
        if may("join") {
            assert_eq!(joined["type"], "joined", "{cell}: {joined}");
            let members = joined["members"].as_array().unwrap();
            let history = joined["history"].as_array().unwrap();
            assert_eq!(
                !members.is_empty(),
                may("presence"),
                "{cell}: members {joined}"
            );
            assert_eq!(
                !history.is_empty(),
                may("history"),
                "{cell}: history {joined}"
            );
            row.push_str(" ok");
        } else {
            assert_forbidden(&joined, room, &cell);
            by.assert_receiving().await;
            refusals += 1;
            row.push_str(" 403");
        }
        row.push_str(if may("join") && !may("presence") {
            "(no members)"
        } else {
            ""
        });
        let cell = format!("native publish {kind}/{who}");
        send(
            &mut ws,
            json!({"type": "publish", "ref": "p", "room": room, "payload": {"from": who}}),
        )
        .await;
        let ack = reply(&mut ws, "p").await;
        if may("publish") {
            assert_eq!(ack["type"], "ack", "{cell}: {ack}");
            row.push_str(" ok");
        } else {
            assert_forbidden(&ack, room, &cell);
            by.assert_receiving().await;
            refusals += 1;
            row.push_str(" 403");
        }
        let cell = format!("native list {kind}/{who}");
        send(&mut ws, json!({"type": "list", "ref": "l", "room": room})).await;
        let members = reply(&mut ws, "l").await;
        if may("presence") {
            assert_eq!(members["type"], "members", "{cell}: {members}");
            assert!(
                ids(&members["members"]).contains(&"speaker".to_owned()),
                "{cell}: {members}"
            );
            row.push_str(" ok");
        } else {
            assert_forbidden(&members, room, &cell);
            by.assert_receiving().await;
            refusals += 1;
            row.push_str(" 403");
        }
        // History: a `history` request (and the `joined` reply's, above).
        let cell = format!("native history {kind}/{who}");
        send(
            &mut ws,
            json!({"type": "history", "ref": "h", "room": room}),
        )
        .await;
        let page = reply(&mut ws, "h").await;
        if may("history") {
            assert_eq!(page["type"], "history", "{cell}: {page}");
            assert!(
                !page["messages"].as_array().unwrap().is_empty(),
                "{cell}: {page}"
            );
            row.push_str(" ok");
        } else {
            assert_forbidden(&page, room, &cell);
            by.assert_receiving().await;
            refusals += 1;
            row.push_str(" 403");
        }
        // Presence diffs: someone joins; a member who may not see the
        // members gets the next message but no diff.
        if may("join") {
            probes += 1;
            let probe_id = format!("probe{probes}");
            let probe = format!("{ws_url}?token={}", granted_token(&probe_id));
            let (mut p, _) = native_at(&probe).await;
            join(&mut p, room).await;
            publish(&mut p, room, "sentinel", json!({"text": "probe-sentinel"})).await;
            let mut diffs = 0;
            loop {
                let v = recv(&mut ws).await;
                if v["type"] == "presence" && lists(&v, "joins", &json!(probe_id)) {
                    diffs += 1;
                }
                if v["type"] == "message" && v["payload"]["text"] == "probe-sentinel" {
                    break;
                }
            }
            let cell = format!("native presence diffs {kind}/{who}");
            assert_eq!(diffs > 0, may("presence"), "{cell}: {diffs} diffs");
        }
        row.push_str(" |");

        // HTTP API: publish, members, history with the user's token.
        let auth = bearer(who);
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("Authorization", a)])
            .unwrap_or_default();
        let requests = [
            (
                "publish",
                "POST",
                format!("/api/rooms/{room}/messages"),
                201,
            ),
            (
                "presence",
                "GET",
                format!("/api/rooms/{room}/presence"),
                200,
            ),
            ("history", "GET", format!("/api/rooms/{room}/messages"), 200),
        ];
        for (action, method, path, ok) in requests {
            let cell = format!("http {action} {kind}/{who}");
            let (status, body) =
                http(http_addr, method, &path, &headers, r#"{"via":"http"}"#).await;
            let want = match (who, may(action)) {
                ("guest", _) => 401, // no guests on the HTTP API
                (_, true) => ok,
                (_, false) => 403,
            };
            assert_eq!(status, want, "{cell}: {body}");
            if status == 403 {
                let v: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["code"], "forbidden", "{cell}: {v}");
                assert_eq!(v["room"], room, "{cell}: {v}");
            }
            if status == 200 && action == "history" {
                let v: Value = serde_json::from_str(&body).unwrap();
                assert!(!v["messages"].as_array().unwrap().is_empty(), "{cell}: {v}");
            }
            if status != ok {
                by.assert_receiving().await;
                refusals += 1;
            }
            row.push_str(&format!(" {status}"));
        }
        table.push(row);
    }
    // The API key is the application: every action in every room.
    for (_, room) in ROOMS {
        for (method, path, ok) in [
            ("POST", format!("/api/rooms/{room}/messages"), 201),
            ("GET", format!("/api/rooms/{room}/presence"), 200),
            ("GET", format!("/api/rooms/{room}/messages"), 200),
        ] {
            let key = bearer("key").unwrap();
            let (status, body) =
                http(http_addr, method, &path, &[("Authorization", &key)], "{}").await;
            assert_eq!(status, ok, "key {method} {path}: {body}");
        }
    }
    println!("{}", table.join("\n"));
    assert_eq!(refusals, 32, "refusals counted:\n{}", table.join("\n"));
    for by in bystanders.values_mut() {
        by.assert_receiving().await;
    }
}
