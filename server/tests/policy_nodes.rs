//! Two `confab-server` nodes on one Redis, started with the same
//! `--config` policy, decide the same way: the policy is local
//! configuration and the grant travels in the token.
#![allow(clippy::unwrap_used)]

mod common;

use common::bystanders::Bystanders;
use common::process::{prefix, redis_args, temp_dir, Node, Redis, SECRET};
use common::tokens::{claims, granting, ALL};
use common::*;
use confab_server::auth::mint;
use serde_json::{json, Value};

const POLICY: &str = r#"
[[policy.rooms]]
match = "team.**"

[[policy.rooms]]
match = "announce.**"
guest = ["join", "presence", "history"]
"#;

async fn reply(ws: &mut Ws, r: &str) -> Value {
    loop {
        let v = recv(ws).await;
        if v["ref"] == r {
            return v;
        }
    }
}

fn granted(sub: &str) -> String {
    let c = granting(claims(sub), &[("team.**", ALL), ("announce.**", ALL)]);
    format!("?token={}", mint(SECRET, &c))
}

#[tokio::test]
async fn two_nodes_on_one_redis_apply_the_same_policy() {
    let redis = Redis::start().await;
    let file = temp_dir("nodes").join("confab.toml");
    std::fs::write(&file, POLICY).unwrap();
    let p = prefix("policy");
    let mut args = redis_args(&redis.url(), &p, 10);
    args.extend([
        "--config".into(),
        file.to_str().unwrap().into(),
        "--token-secret".into(),
        SECRET.into(),
    ]);
    let a = Node::start(&args).await;
    let b = Node::start(&args).await;
    // Bystanders across the nodes: the speaker on A, the listener on B.
    let mut team = Bystanders::join_two(
        &a.ws(&format!("/ws{}", granted("speaker"))),
        &b.ws(&format!("/ws{}", granted("listener"))),
        "team.42",
    )
    .await;
    let mut news = Bystanders::join_two(
        &b.ws(&format!("/ws{}", granted("speaker"))),
        &a.ws(&format!("/ws{}", granted("listener"))),
        "announce.news",
    )
    .await;
    let user = format!("?token={}", mint(SECRET, &claims("alice")));
    for (name, node) in [("A", &a), ("B", &b)] {
        for (who, q) in [("guest", "?name=g"), ("user", user.as_str())] {
            let (mut ws, _) = native_at(&node.ws(&format!("/ws{q}"))).await;
            // Private: refused.
            send(
                &mut ws,
                json!({"type": "join", "ref": "j", "room": "team.42"}),
            )
            .await;
            let e = reply(&mut ws, "j").await;
            assert_eq!(e["code"], "forbidden", "node {name} {who}: {e}");
            assert_eq!(e["room"], "team.42");
            team.assert_receiving().await;
            // Read-only: joins and reads, cannot publish.
            let joined = join(&mut ws, "announce.news").await;
            assert!(
                !joined["history"].as_array().unwrap().is_empty(),
                "{joined}"
            );
            send(
                &mut ws,
                json!({"type": "publish", "ref": "p", "room": "announce.news", "payload": 1}),
            )
            .await;
            let e = reply(&mut ws, "p").await;
            assert_eq!(e["code"], "forbidden", "node {name} {who}: {e}");
            news.assert_receiving().await;
        }
        // The HTTP API of each node refuses the user the same way.
        let auth = format!("Bearer {}", mint(SECRET, &claims("alice")));
        let (status, body) = http(
            node.addr,
            "POST",
            "/api/rooms/team.42/messages",
            &[("Authorization", &auth)],
            "{}",
        )
        .await;
        assert_eq!(status, 403, "node {name}: {body}");
        team.assert_receiving().await;
    }
    // A granted user on B talks to a granted user on A in the private room.
    let (mut carol, _) = native_at(&b.ws(&format!("/ws{}", granted("carol")))).await;
    join(&mut carol, "team.42").await;
    let (mut dave, _) = native_at(&a.ws(&format!("/ws{}", granted("dave")))).await;
    join(&mut dave, "team.42").await;
    publish(&mut carol, "team.42", "c1", json!({"text": "across nodes"})).await;
    let m = next_message(&mut dave, "team.42").await;
    assert_eq!(m["from"]["id"], "carol", "{m}");
    team.assert_receiving().await;
    news.assert_receiving().await;
}
