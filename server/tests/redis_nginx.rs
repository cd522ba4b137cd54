//! deploy/nginx.conf in front of two real nodes on one real Redis: a client
//! that only knows nginx's address keeps working when its node is killed.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use serde_json::json;

use common::process::{as_user, prefix, redis_args, token_args, Nginx, Node, Redis};
use common::{join_since, metric, native_at, publish_collect};

#[tokio::test]
async fn client_through_nginx_survives_a_node_kill() {
    let redis = Redis::start().await;
    let url = redis.url();
    let mut args = redis_args(&url, &prefix("nginx"), 3);
    args.extend(token_args());
    let a = Node::start(&args).await;
    let b = Node::start(&args).await;
    let nginx = Nginx::start([a.addr, b.addr]).await;
    let via_nginx = nginx.ws(&format!("/ws{}", as_user("alice")));

    let (mut alice, _) = native_at(&via_nginx).await;
    let j = join_since(&mut alice, "px", None).await;
    let epoch = j["epoch"].as_str().unwrap().to_owned();
    let mut seen = Vec::new();
    for n in 1..=3 {
        let ack =
            publish_collect(&mut alice, "px", &n.to_string(), json!({"n": n}), &mut seen).await;
        assert_eq!(ack["offset"], n, "{ack}");
    }
    // Which node did nginx pick?
    let on_a = metric(a.addr, "confab_connections").await;
    let on_b = metric(b.addr, "confab_connections").await;
    assert_eq!(on_a + on_b, 1, "one socket, on one node");
    let (mut dead, live) = if on_a == 1 { (a, b) } else { (b, a) };

    let (mut bob, _) = native_at(&live.ws(&format!("/ws{}", as_user("bob")))).await;
    join_since(&mut bob, "px", None).await;
    dead.kill9();
    // alice's socket drops with the node.
    tokio::time::timeout(Duration::from_secs(10), async {
        use futures_util::StreamExt;
        while let Some(Ok(_)) = alice.next().await {}
    })
    .await
    .expect("socket to the killed node did not end");
    // Meanwhile bob keeps talking.
    let mut ignore = Vec::new();
    for n in 4..=5 {
        let ack = publish_collect(
            &mut bob,
            "px",
            &format!("b{n}"),
            json!({"n": n}),
            &mut ignore,
        )
        .await;
        assert_eq!(ack["offset"], n, "{ack}");
    }
    // alice reconnects to the same nginx address and resumes with no gap.
    let (mut alice, _) = native_at(&via_nginx).await;
    let j = join_since(&mut alice, "px", Some((&epoch, 3))).await;
    assert_eq!(j["recovered"], true, "{j}");
    let got: Vec<u64> = j["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["payload"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(got, [4, 5], "{j}");
    let ack = publish_collect(&mut alice, "px", "6", json!({"n": 6}), &mut seen).await;
    assert_eq!(ack["offset"], 6, "{ack}");
    // New sockets through nginx keep landing on the live node.
    for i in 0..4 {
        let (mut c, _) = native_at(&nginx.ws(&format!("/ws{}", as_user(&format!("c{i}"))))).await;
        let j = join_since(&mut c, "px", None).await;
        assert_eq!(j["offset"], 6, "{j}");
    }
}
