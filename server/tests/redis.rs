//! The Redis channel layer with real `confab-server` processes and a real
//! `redis-server` per test (`common::process::Redis`; a missing Redis fails
//! these tests, it never skips them).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};

use common::process::{as_user, prefix, redis_args, token_args, Node, Redis};
use common::{
    join_since, lists, message_within, metric, native_at, next_message, publish_collect,
    wait_metric_at_least, wait_presence,
};

async fn two_nodes(url: &str, test: &str, ttl: u64) -> (Node, Node) {
    let p = prefix(test);
    let mut args = redis_args(url, &p, ttl);
    args.extend(token_args());
    let a = Node::start(&args).await;
    let b = Node::start(&args).await;
    (a, b)
}

fn user_url(node: &Node, id: &str) -> String {
    node.ws(&format!("/ws{}", as_user(id)))
}

fn ids(members: &Value) -> Vec<String> {
    common::ids(members)
}

#[tokio::test]
async fn native_rooms_presence_dms_and_resume_across_nodes() {
    let redis = Redis::start().await;
    let url = redis.url();
    let (a, b) = two_nodes(&url, "native", 15).await;

    let (mut alice, _) = native_at(&user_url(&a, "alice")).await;
    let j = join_since(&mut alice, "lobby", None).await;
    assert_eq!(ids(&j["members"]), ["alice"], "{j}");
    let epoch = j["epoch"].as_str().unwrap().to_owned();

    let (mut bob, _) = native_at(&user_url(&b, "bob")).await;
    let j = join_since(&mut bob, "lobby", None).await;
    assert_eq!(ids(&j["members"]), ["alice", "bob"], "{j}");
    assert_eq!(j["epoch"], epoch.as_str(), "one epoch for all nodes");
    // Presence diffs cross nodes.
    let d = wait_presence(&mut alice, "lobby", common::WAIT, |d| {
        lists(d, "joins", &json!("bob"))
    })
    .await;
    assert_eq!(d["joins"][0]["name"], "bob");

    // Interleaved publishes from both nodes: one order, seen by both.
    let mut seen_a = Vec::new();
    let mut seen_b = Vec::new();
    for i in 0..5 {
        let ack = publish_collect(
            &mut alice,
            "lobby",
            &format!("a{i}"),
            json!({"from": "a", "i": i}),
            &mut seen_a,
        )
        .await;
        assert_eq!(ack["type"], "ack", "{ack}");
        let ack = publish_collect(
            &mut bob,
            "lobby",
            &format!("b{i}"),
            json!({"from": "b", "i": i}),
            &mut seen_b,
        )
        .await;
        assert_eq!(ack["type"], "ack", "{ack}");
        assert_eq!(ack["offset"], 2 * i + 2, "{ack}");
    }
    while seen_a.len() < 10 {
        seen_a.push(next_message(&mut alice, "lobby").await);
    }
    while seen_b.len() < 10 {
        seen_b.push(next_message(&mut bob, "lobby").await);
    }
    let view = |v: &[Value]| -> Vec<(u64, String)> {
        v.iter()
            .map(|m| (m["offset"].as_u64().unwrap(), m["payload"].to_string()))
            .collect()
    };
    assert_eq!(
        view(&seen_a),
        view(&seen_b),
        "both nodes see the same order"
    );
    let offsets: Vec<u64> = view(&seen_a).iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, (1..=10).collect::<Vec<_>>());
    assert_eq!(seen_b[0]["from"]["id"], "alice");

    // Direct messages cross nodes to a user who has not joined the DM room.
    common::send(
        &mut alice,
        json!({"type": "direct", "ref": "d1", "to": "bob", "payload": {"t": "psst"}}),
    )
    .await;
    let dm = next_message(&mut bob, "dm:alice:bob").await;
    assert_eq!(dm["payload"]["t"], "psst");
    assert_eq!(dm["offset"], 1);
    common::send(
        &mut bob,
        json!({"type": "direct", "ref": "d2", "to": "alice", "payload": {"t": "hi"}}),
    )
    .await;
    // Both users get every DM (alice her own first one too), in order.
    let own = next_message(&mut alice, "dm:alice:bob").await;
    assert_eq!(own["payload"]["t"], "psst");
    let dm = next_message(&mut alice, "dm:alice:bob").await;
    assert_eq!(dm["payload"]["t"], "hi");
    assert_eq!(dm["offset"], 2);

    // list, rename.
    common::send(
        &mut alice,
        json!({"type": "list", "ref": "l", "room": "lobby"}),
    )
    .await;
    let l = common::recv_type(&mut alice, "members").await;
    assert_eq!(ids(&l["members"]), ["alice", "bob"], "{l}");
    common::send(
        &mut bob,
        json!({"type": "rename", "ref": "r", "name": "Robert"}),
    )
    .await;
    let d = wait_presence(&mut alice, "lobby", common::WAIT, |d| {
        lists(d, "updates", &json!("bob"))
    })
    .await;
    assert_eq!(d["updates"][0]["name"], "Robert");

    // alice leaves node A having seen offset 10; bob publishes two more on B;
    // alice resumes on node B with no gap.
    drop(alice);
    let d = wait_presence(&mut bob, "lobby", common::WAIT, |d| {
        lists(d, "leaves", &json!("alice"))
    })
    .await;
    assert!(d["joins"].is_null(), "{d}");
    let mut ignore = Vec::new();
    for i in 0..2 {
        publish_collect(
            &mut bob,
            "lobby",
            &format!("c{i}"),
            json!({"late": i}),
            &mut ignore,
        )
        .await;
    }
    let (mut alice, _) = native_at(&user_url(&b, "alice")).await;
    let j = join_since(&mut alice, "lobby", Some((&epoch, 10))).await;
    assert_eq!(j["recovered"], true, "{j}");
    let got: Vec<u64> = j["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(got, [11, 12], "{j}");
    assert_eq!(j["history"][1]["payload"]["late"], 1);
    // The DM history is there too, from the other node.
    let j = join_since(&mut alice, "dm:alice:bob", Some((&epoch, 0))).await;
    assert_eq!(j["recovered"], true, "{j}");
    assert_eq!(j["history"].as_array().unwrap().len(), 2, "{j}");
}

#[tokio::test]
async fn a_rename_reaches_the_users_connections_and_rooms_on_other_nodes() {
    let redis = Redis::start().await;
    let url = redis.url();
    let (a, b) = two_nodes(&url, "rename", 15).await;
    // Carol has a tab on each node, in different rooms; Dave watches the
    // room of her tab on node B.
    let (mut carol_a, _) = native_at(&user_url(&a, "carol")).await;
    let (mut carol_b, _) = native_at(&user_url(&b, "carol")).await;
    let (mut dave, _) = native_at(&user_url(&b, "dave")).await;
    join_since(&mut carol_a, "ra", None).await;
    join_since(&mut carol_b, "rb", None).await;
    join_since(&mut dave, "rb", None).await;

    common::send(
        &mut carol_a,
        json!({"type": "rename", "ref": "n", "name": "Caroline"}),
    )
    .await;
    assert_eq!(common::recv_type(&mut carol_a, "ack").await["ref"], "n");
    let d = wait_presence(&mut dave, "rb", common::WAIT, |d| {
        d["updates"].as_array().is_some_and(|u| !u.is_empty())
    })
    .await;
    assert_eq!(
        (&d["updates"][0]["id"], &d["updates"][0]["name"]),
        (&json!("carol"), &json!("Caroline")),
        "{d}"
    );
    // Her tab on node B now speaks as Caroline.
    common::send(
        &mut carol_b,
        json!({"type": "publish", "ref": "p", "room": "rb", "payload": "hi"}),
    )
    .await;
    let m = next_message(&mut dave, "rb").await;
    assert_eq!(m["from"]["name"], "Caroline", "{m}");
}

#[tokio::test]
async fn compat_chat_sockets_talk_across_nodes() {
    let redis = Redis::start().await;
    let url = redis.url();
    let (a, b) = two_nodes(&url, "compat", 15).await;
    let (mut native_b, _) = native_at(&user_url(&b, "nat")).await;
    join_since(&mut native_b, "room1", None).await;
    let mut ca = common::connect(&a.ws("/ws/chat/room1/")).await;
    let mut cb = common::connect(&b.ws("/ws/chat/room1/")).await;
    // Both compat sockets are in the group once their presence shows up
    // (native_b may also see its own join come back through Redis).
    let mut joined = HashSet::new();
    while joined.len() < 2 {
        let d = wait_presence(&mut native_b, "room1", common::WAIT, |d| {
            d["joins"].is_array()
        })
        .await;
        joined.extend(ids(&d["joins"]).into_iter().filter(|id| id != "nat"));
    }
    common::send(&mut ca, json!({"message": "hello from A"})).await;
    let got = common::recv(&mut cb).await;
    assert_eq!(got, json!({"message": "hello from A"}));
    let got = common::recv(&mut ca).await;
    assert_eq!(
        got,
        json!({"message": "hello from A"}),
        "echo to the sender"
    );
    common::send(&mut cb, json!({"message": "hello from B"})).await;
    assert_eq!(
        common::recv(&mut ca).await,
        json!({"message": "hello from B"})
    );
    let m1 = next_message(&mut native_b, "room1").await;
    let m2 = next_message(&mut native_b, "room1").await;
    assert_eq!(m1["payload"]["message"], "hello from A");
    assert_eq!(m2["payload"]["message"], "hello from B");
    assert_eq!(m2["offset"].as_u64(), m1["offset"].as_u64().map(|o| o + 1));
    // A healthy, subscribed node keeps its pub/sub connection (it is pinged
    // every 5 s): no errors, no reconnects.
    tokio::time::sleep(Duration::from_secs(6)).await;
    for node in [&a, &b] {
        assert_eq!(metric(node.addr, "confab_layer_errors_total").await, 0);
        assert_eq!(metric(node.addr, "confab_layer_reconnects_total").await, 0);
    }
    common::send(&mut ca, json!({"message": "still there"})).await;
    assert_eq!(
        common::recv(&mut cb).await,
        json!({"message": "hello from B"})
    );
    assert_eq!(
        common::recv(&mut cb).await,
        json!({"message": "still there"})
    );
}

/// A writer that publishes `count` messages, reconnecting to the next URL
/// (with `join` + `since`) whenever its connection fails. Returns the
/// payloads acknowledged and every message it saw (live or recovered).
async fn resilient_writer(
    urls: Vec<String>,
    room: &'static str,
    id: u32,
    count: u32,
) -> (Vec<u32>, Vec<Value>) {
    let mut acked = Vec::new();
    let mut seen: Vec<Value> = Vec::new();
    let mut pos: Option<(String, u64)> = None;
    let mut k = 0;
    let mut attempt = 0usize;
    let mut unacked_stored = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    'outer: while k < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "writer {id} ran out of time"
        );
        let url = &urls[attempt.min(urls.len() - 1)];
        let Ok(Ok((mut ws, _))) =
            tokio::time::timeout(common::WAIT, tokio_tungstenite::connect_async(url.as_str()))
                .await
        else {
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        // welcome
        let Ok(Some(Ok(_))) =
            tokio::time::timeout(common::WAIT, futures_util::StreamExt::next(&mut ws)).await
        else {
            attempt += 1;
            continue;
        };
        let mut j = json!({"type": "join", "ref": "j", "room": room});
        if let Some((e, o)) = &pos {
            j["since"] = json!({"epoch": e, "offset": o});
        }
        if !try_send(&mut ws, &j).await {
            attempt += 1;
            continue;
        }
        loop {
            let Some(v) = try_recv(&mut ws).await else {
                attempt += 1;
                continue 'outer;
            };
            if v["type"] == "joined" {
                if pos.is_some() {
                    assert_eq!(v["recovered"], true, "writer {id} resume: {v}");
                }
                for m in v["history"].as_array().unwrap() {
                    // The publish in flight at the crash may have been
                    // stored without its ack reaching us: don't resend it.
                    if pos.is_some() && m["payload"] == json!({"w": id, "k": k}) {
                        unacked_stored += 1;
                        k += 1;
                    }
                    let mut m = m.clone();
                    m["src"] = json!(format!("hist{attempt}"));
                    seen.push(m);
                }
                // ...or already echoed to us live before the crash.
                while seen
                    .iter()
                    .any(|m| m["payload"] == json!({"w": id, "k": k}))
                    && k < count
                {
                    unacked_stored += 1;
                    k += 1;
                }
                let last = seen.last().map_or(v["offset"].as_u64().unwrap(), |m| {
                    m["offset"].as_u64().unwrap()
                });
                pos = Some((
                    v["epoch"].as_str().unwrap().to_owned(),
                    last.max(pos.as_ref().map_or(0, |p| p.1)),
                ));
                break;
            }
        }
        while k < count {
            let r = format!("{id}-{k}");
            let msg =
                json!({"type": "publish", "ref": r, "room": room, "payload": {"w": id, "k": k}});
            if !try_send(&mut ws, &msg).await {
                attempt += 1;
                continue 'outer;
            }
            loop {
                let Some(v) = try_recv(&mut ws).await else {
                    attempt += 1;
                    continue 'outer;
                };
                if v["type"] == "message" && v["room"] == room {
                    if let Some(p) = pos.as_mut() {
                        p.1 = v["offset"].as_u64().unwrap();
                    }
                    let mut v = v;
                    v["src"] = json!(format!("live{attempt}"));
                    seen.push(v);
                } else if v["ref"] == r.as_str() {
                    assert_eq!(v["type"], "ack", "{v}");
                    acked.push(k);
                    break;
                }
            }
            k += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Read the tail (our own last echoes) briefly.
        while let Ok(Some(v)) =
            tokio::time::timeout(Duration::from_millis(300), try_recv(&mut ws)).await
        {
            if v["type"] == "message" && v["room"] == room {
                seen.push(v);
            }
        }
    }
    assert!(
        unacked_stored <= 1,
        "writer {id}: {unacked_stored} stored without ack"
    );
    (acked, seen)
}

async fn try_send(ws: &mut common::Ws, v: &Value) -> bool {
    use futures_util::SinkExt;
    matches!(
        tokio::time::timeout(
            common::WAIT,
            ws.send(tokio_tungstenite::tungstenite::Message::text(v.to_string()))
        )
        .await,
        Ok(Ok(()))
    )
}

async fn try_recv(ws: &mut common::Ws) -> Option<Value> {
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(common::WAIT, futures_util::StreamExt::next(ws)).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(t.as_str()).ok(),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            _ => return None,
        }
    }
}

/// Every message exactly once, offsets 1..=n without a hole.
fn assert_exactly_once(seen: &[Value], who: &str) -> Vec<(u64, u64)> {
    let mut offsets: Vec<u64> = seen.iter().map(|m| m["offset"].as_u64().unwrap()).collect();
    let n = offsets.len();
    for w in seen.windows(2) {
        if w[0]["offset"] == w[1]["offset"] {
            eprintln!("{who}: DUP {} / {}", w[0], w[1]);
        }
    }
    offsets.dedup();
    assert_eq!(offsets.len(), n, "{who}: duplicate deliveries: {offsets:?}");
    let expect: Vec<u64> = (offsets[0]..offsets[0] + n as u64).collect();
    assert_eq!(offsets, expect, "{who}: gap or disorder");
    seen.iter()
        .map(|m| {
            (
                m["payload"]["w"].as_u64().unwrap(),
                m["payload"]["k"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn kill9_node_clients_fail_over_without_loss_or_duplicates() {
    let redis = Redis::start().await;
    let url = redis.url();
    let (mut a, b) = two_nodes(&url, "failover", 3).await;
    let (mut obs, _) = native_at(&user_url(&b, "observer")).await;
    join_since(&mut obs, "fo", None).await;

    const COUNT: u32 = 80;
    let mut writers = Vec::new();
    for id in 0..3u32 {
        let urls = vec![
            user_url(&a, &format!("w{id}")),
            user_url(&b, &format!("w{id}")),
        ];
        writers.push(tokio::spawn(resilient_writer(urls, "fo", id, COUNT)));
    }
    // Let them get going on node A, then crash it mid-stream.
    let mut live = Vec::new();
    while live.len() < 40 {
        live.push(next_message(&mut obs, "fo").await);
    }
    a.kill9();
    let mut acked_total = HashSet::new();
    for (id, w) in writers.into_iter().enumerate() {
        let (acked, seen) = tokio::time::timeout(Duration::from_secs(60), w)
            .await
            .expect("writer timed out")
            .expect("writer panicked");
        assert!(
            acked.len() + 1 >= COUNT as usize,
            "writer {id} got its acks"
        );
        let got: HashSet<(u64, u64)> = assert_exactly_once(&seen, &format!("writer {id}"))
            .into_iter()
            .collect();
        // Each writer's own view (live + resumed history) has every acked message of its own.
        for k in &acked {
            assert!(
                got.contains(&(id as u64, u64::from(*k))),
                "writer {id} lost its acked {k}"
            );
        }
        for k in acked {
            acked_total.insert((id as u64, u64::from(k)));
        }
    }
    // The observer on B saw one gap-free sequence holding every acked message once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let have: HashSet<(u64, u64)> = live
            .iter()
            .map(|m| {
                (
                    m["payload"]["w"].as_u64().unwrap(),
                    m["payload"]["k"].as_u64().unwrap(),
                )
            })
            .collect();
        if acked_total.is_subset(&have) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "observer is missing acked messages"
        );
        live.push(next_message(&mut obs, "fo").await);
    }
    let pairs = assert_exactly_once(&live, "observer");
    let unique: HashSet<_> = pairs.iter().collect();
    assert_eq!(unique.len(), pairs.len(), "observer saw a payload twice");
    assert!(live.len() >= acked_total.len());
}

#[tokio::test]
async fn crashed_node_members_leave_presence_within_ttl() {
    let redis = Redis::start().await;
    let url = redis.url();
    let ttl = 2;
    let (mut a, b) = two_nodes(&url, "ttl", ttl).await;
    let (mut obs, _) = native_at(&user_url(&b, "observer")).await;
    join_since(&mut obs, "ttl", None).await;
    let (mut carol, _) = native_at(&user_url(&a, "carol")).await;
    join_since(&mut carol, "ttl", None).await;
    wait_presence(&mut obs, "ttl", common::WAIT, |d| {
        lists(d, "joins", &json!("carol"))
    })
    .await;
    let t0 = std::time::Instant::now();
    a.kill9();
    // Bound: TTL + one heartbeat period of node B (ttl/3) + slack.
    let bound = Duration::from_secs(ttl) + Duration::from_secs(3);
    wait_presence(&mut obs, "ttl", bound, |d| {
        lists(d, "leaves", &json!("carol"))
    })
    .await;
    let took = t0.elapsed();
    eprintln!("crashed node's member left presence after {took:?} (ttl {ttl}s)");
    common::send(&mut obs, json!({"type": "list", "ref": "l", "room": "ttl"})).await;
    let l = common::recv_type(&mut obs, "members").await;
    assert_eq!(ids(&l["members"]), ["observer"], "{l}");
    drop(carol);
}

#[tokio::test]
async fn redis_outage_unavailable_then_recovery_via_history() {
    let mut redis = Redis::start().await;
    let (a, b) = two_nodes(&redis.url(), "outage", 15).await;
    let (mut alice, _) = native_at(&user_url(&a, "alice")).await;
    let j = join_since(&mut alice, "out", None).await;
    let epoch = j["epoch"].as_str().unwrap().to_owned();
    let (mut bob, _) = native_at(&user_url(&b, "bob")).await;
    join_since(&mut bob, "out", None).await;
    let mut seen_a = Vec::new();
    let ack = publish_collect(&mut alice, "out", "p1", json!({"n": 1}), &mut seen_a).await;
    assert_eq!(ack["offset"], 1, "{ack}");
    assert_eq!(next_message(&mut bob, "out").await["offset"], 1);

    redis.kill9();
    // Publishing fails, the socket stays open. The first publish may have
    // been on the wire when Redis died (`outcome_unknown`: the server
    // cannot tell), later ones are refused (`unavailable`).
    let t0 = std::time::Instant::now();
    let r = publish_collect(&mut alice, "out", "p2", json!({"n": 2}), &mut seen_a).await;
    assert_eq!(r["type"], "error", "{r}");
    assert!(
        r["code"] == "unavailable" || r["code"] == "outcome_unknown",
        "{r}"
    );
    eprintln!(
        "publish during outage answered {} after {:?}",
        r["code"],
        t0.elapsed()
    );
    common::send(&mut bob, json!({"type": "ping", "ref": "hb"})).await;
    assert_eq!(common::recv_type(&mut bob, "pong").await["ref"], "hb");
    tokio::time::sleep(Duration::from_secs(2)).await;

    redis.restart().await;
    // Retry until Redis is back (bounded), like a client with backoff.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut n = 2;
    let ack = loop {
        let r = publish_collect(
            &mut alice,
            "out",
            &format!("r{n}"),
            json!({"n": n}),
            &mut seen_a,
        )
        .await;
        if r["type"] == "ack" {
            break r;
        }
        assert!(
            r["code"] == "unavailable" || r["code"] == "outcome_unknown",
            "{r}"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "redis never came back"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        n += 1;
    };
    assert_eq!(ack["offset"], 2, "nothing was stored while down: {ack}");
    // bob on the other node gets it live once its pub/sub is back.
    let m = message_within(&mut bob, "out", Duration::from_secs(15)).await;
    assert_eq!(m["offset"], 2);
    assert_eq!(m["payload"]["n"], n);
    // And a client resuming from before the outage recovers exactly.
    let (mut late, _) = native_at(&user_url(&b, "late")).await;
    let j = join_since(&mut late, "out", Some((&epoch, 0))).await;
    assert_eq!(j["recovered"], true, "{j}");
    assert_eq!(j["epoch"], epoch.as_str(), "{j}");
    assert_eq!(j["history"].as_array().unwrap().len(), 2, "{j}");
    // Presence is back on both nodes.
    common::send(
        &mut late,
        json!({"type": "list", "ref": "l", "room": "out"}),
    )
    .await;
    let l = common::recv_type(&mut late, "members").await;
    assert_eq!(ids(&l["members"]), ["alice", "bob", "late"], "{l}");
    for node in [&a, &b] {
        assert!(metric(node.addr, "confab_layer_errors_total").await > 0);
        // A node whose pub/sub retry was scheduled late may reconnect a
        // little after the other one delivered.
        wait_metric_at_least(node.addr, "confab_layer_reconnects_total", 1).await;
    }
}

#[tokio::test]
async fn unreachable_redis_at_start_exits_non_zero_with_a_clear_error() {
    // No Redis needed: a closed port.
    let port = common::process::free_port();
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_confab-server"))
            .args(["--bind", "127.0.0.1:0", "--redis-url"])
            .arg(format!("redis://:hunter2@127.0.0.1:{port}/"))
            .env_remove("CONFAB_DATA_DIR")
            .output(),
    )
    .await
    .expect("server did not give up in time")
    .unwrap();
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach redis"), "{err}");
    // The URL is named, its password is not (logs are read by more people).
    assert!(
        err.contains(&format!("redis://***@127.0.0.1:{port}/")),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test]
async fn redis_losing_its_data_changes_the_epoch_and_clients_are_told() {
    data_loss(true).await;
}

#[tokio::test]
async fn redis_losing_its_data_is_noticed_even_before_any_message() {
    data_loss(false).await;
}

async fn data_loss(publish_first: bool) {
    let mut redis = Redis::start().await;
    let (a, _b) = two_nodes(&redis.url(), "dataloss", 15).await;
    let (mut alice, _) = native_at(&user_url(&a, "alice")).await;
    let j = join_since(&mut alice, "lost", None).await;
    let epoch = j["epoch"].as_str().unwrap().to_owned();
    let since = if publish_first {
        let mut seen = Vec::new();
        publish_collect(&mut alice, "lost", "1", json!({"n": 1}), &mut seen).await;
        1
    } else {
        0
    };
    // Crash Redis and bring it back empty (its files gone).
    redis.kill9();
    for e in std::fs::read_dir(&redis.dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            std::fs::remove_dir_all(p).unwrap();
        } else if p.extension().is_none_or(|x| x != "log") {
            std::fs::remove_file(p).unwrap();
        }
    }
    redis.restart().await;
    // The node notices on reconnect and asks native clients to rejoin (1012).
    let code = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            use futures_util::StreamExt;
            use tokio_tungstenite::tungstenite::Message;
            match alice.next().await {
                Some(Ok(Message::Close(Some(f)))) => return u16::from(f.code),
                Some(Ok(_)) => {}
                other => panic!("ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("no close after the history was lost");
    assert_eq!(code, confab_protocol::close::SERVICE_RESTART);
    let (mut alice, _) = native_at(&user_url(&a, "alice")).await;
    let j = join_since(&mut alice, "lost", Some((&epoch, since))).await;
    assert_eq!(j["recovered"], false, "{j}");
    assert_ne!(j["epoch"], epoch.as_str(), "{j}");
    assert_eq!(j["offset"], 0, "{j}");
}

#[tokio::test]
async fn a_paused_node_is_reaped_then_restores_its_presence() {
    let redis = Redis::start().await;
    let url = redis.url();
    let ttl = 2;
    let (a, b) = two_nodes(&url, "pause", ttl).await;
    let (mut obs, _) = native_at(&user_url(&b, "observer")).await;
    join_since(&mut obs, "pz", None).await;
    let (mut carol, _) = native_at(&user_url(&a, "carol")).await;
    join_since(&mut carol, "pz", None).await;
    wait_presence(&mut obs, "pz", common::WAIT, |d| {
        lists(d, "joins", &json!("carol"))
    })
    .await;
    // Freeze node A past the TTL: B reaps it.
    a.signal("STOP");
    // (A stopped process is still SIGKILLed by Node's drop if this fails.)
    wait_presence(&mut obs, "pz", Duration::from_secs(ttl + 4), |d| {
        lists(d, "leaves", &json!("carol"))
    })
    .await;
    // Thawed, A finds itself gone and puts carol back (she never left).
    a.signal("CONT");
    wait_presence(&mut obs, "pz", Duration::from_secs(ttl + 4), |d| {
        lists(d, "joins", &json!("carol"))
    })
    .await;
    common::send(&mut obs, json!({"type": "list", "ref": "l", "room": "pz"})).await;
    let l = common::recv_type(&mut obs, "members").await;
    assert_eq!(ids(&l["members"]), ["carol", "observer"], "{l}");
    // carol's socket survived the pause and still talks.
    let mut seen = Vec::new();
    let ack = publish_collect(&mut carol, "pz", "c1", json!({"t": "back"}), &mut seen).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(next_message(&mut obs, "pz").await["payload"]["t"], "back");
}

/// A publish Redis does not answer in time (frozen past the operation
/// timeout) may still be applied when Redis wakes: the client is told
/// `outcome_unknown`, never `unavailable` (which promises nothing was
/// stored and invites a blind retry).
#[tokio::test]
async fn a_publish_redis_answers_too_late_is_outcome_unknown_not_unavailable() {
    let redis = Redis::start().await;
    let (a, _b) = two_nodes(&redis.url(), "stall", 15).await;
    let (mut alice, _) = native_at(&user_url(&a, "alice")).await;
    join_since(&mut alice, "stall", None).await;
    let mut seen = Vec::new();
    let ack = publish_collect(&mut alice, "stall", "p1", json!({"n": 1}), &mut seen).await;
    assert_eq!(ack["offset"], 1, "{ack}");

    redis.signal("STOP");
    let r = publish_collect(&mut alice, "stall", "p2", json!({"n": 2}), &mut seen).await;
    redis.signal("CONT");
    assert_eq!(r["type"], "error", "{r}");
    assert_eq!(r["code"], "outcome_unknown", "{r}");

    // Redis ran the queued script when it woke: the message is stored,
    // which is why `unavailable` would have been a lie.
    let (mut late, _) = native_at(&user_url(&a, "late")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let j = join_since(&mut late, "stall", None).await;
        if j["offset"] == 2 {
            assert_eq!(j["history"][1]["payload"]["n"], 2, "{j}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{j}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Issue #15 on two nodes: a retry on the other node after a node switch
/// is stored once (the dedup is in the publish script), signals and member
/// state cross nodes, history pages come from the stream.
#[tokio::test]
async fn dedup_signals_state_and_pages_across_nodes() {
    let redis = Redis::start().await;
    let (a, b) = two_nodes(&redis.url(), "semantics", 15).await;
    let (mut alice, _) = native_at(&user_url(&a, "alice")).await;
    let (mut bob, _) = native_at(&user_url(&b, "bob")).await;
    join_since(&mut alice, "sem", None).await;
    join_since(&mut bob, "sem", None).await;
    let publish = json!({"type": "publish", "ref": "p", "room": "sem", "cid": "alice-1", "payload": {"n": 1}});
    common::send(&mut alice, publish.clone()).await;
    let first = common::recv_type(&mut alice, "ack").await;
    assert_eq!(next_message(&mut bob, "sem").await["cid"], "alice-1");
    // The link to node A drops before the ack is seen; the client retries
    // on node B with the same id.
    drop(alice);
    let (mut alice, _) = native_at(&user_url(&b, "alice")).await;
    join_since(&mut alice, "sem", None).await;
    common::send(&mut alice, publish).await;
    let retry = common::recv_type(&mut alice, "ack").await;
    assert_eq!(
        (retry["offset"].clone(), retry["ts"].clone()),
        (first["offset"].clone(), first["ts"].clone())
    );
    // Signals: from B to a member on A.
    let (mut carol, _) = native_at(&user_url(&a, "carol")).await;
    join_since(&mut carol, "sem", None).await;
    common::send(
        &mut bob,
        json!({"type": "signal", "room": "sem", "payload": {"typing": true}}),
    )
    .await;
    let s = common::recv_type(&mut carol, "signal").await;
    assert_eq!(
        (s["from"]["id"].clone(), s["payload"].clone()),
        (json!("bob"), json!({"typing": true}))
    );
    // Member state: set on B, seen on A, kept across a rename.
    common::send(
        &mut bob,
        json!({"type": "state", "ref": "s", "room": "sem", "state": {"read": 1}}),
    )
    .await;
    let d = wait_presence(&mut carol, "sem", Duration::from_secs(5), |d| {
        lists(d, "updates", &json!("bob"))
    })
    .await;
    assert_eq!(d["updates"][0]["state"], json!({"read": 1}), "{d}");
    common::send(
        &mut bob,
        json!({"type": "rename", "ref": "r", "name": "Robert"}),
    )
    .await;
    let d = wait_presence(&mut carol, "sem", Duration::from_secs(5), |d| {
        lists(d, "updates", &json!("bob"))
    })
    .await;
    assert_eq!(
        (
            d["updates"][0]["name"].clone(),
            d["updates"][0]["state"].clone()
        ),
        (json!("Robert"), json!({"read": 1}))
    );
    common::send(
        &mut carol,
        json!({"type": "list", "ref": "l", "room": "sem"}),
    )
    .await;
    let l = common::recv_type(&mut carol, "members").await;
    let bob_entry = l["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "bob")
        .unwrap()
        .clone();
    assert_eq!(bob_entry["state"], json!({"read": 1}), "{l}");
    // Pages: 30 more messages, walked back in two pages to the beginning.
    let mut seen = Vec::new();
    for n in 2..=31 {
        publish_collect(
            &mut carol,
            "sem",
            &format!("m{n}"),
            json!({ "n": n }),
            &mut seen,
        )
        .await;
    }
    common::send(
        &mut carol,
        json!({"type": "history", "ref": "h1", "room": "sem", "limit": 20}),
    )
    .await;
    let p1 = common::recv_type(&mut carol, "history").await;
    let offsets = |p: &Value| -> Vec<u64> {
        p["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["offset"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        (offsets(&p1), p1["more"].clone()),
        ((12..=31).collect::<Vec<_>>(), json!(true))
    );
    common::send(
        &mut carol,
        json!({"type": "history", "ref": "h2", "room": "sem", "before": 12, "limit": 20}),
    )
    .await;
    let p2 = common::recv_type(&mut carol, "history").await;
    assert_eq!(
        (offsets(&p2), p2["more"].clone()),
        ((1..=11).collect::<Vec<_>>(), json!(false))
    );
}

/// `--history-ttl` on Redis: an expired message is gone from joins and pages.
#[tokio::test]
async fn the_history_ttl_hides_expired_messages_on_redis() {
    let redis = Redis::start().await;
    let mut args = redis_args(&redis.url(), &prefix("ttl-hist"), 15);
    args.extend(["--history-ttl".to_owned(), "1".to_owned()]);
    let node = Node::start(&args).await;
    let (mut ws, _) = native_at(&node.ws("/ws")).await;
    join_since(&mut ws, "short", None).await;
    let mut seen = Vec::new();
    publish_collect(&mut ws, "short", "old", json!("old"), &mut seen).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    publish_collect(&mut ws, "short", "new", json!("new"), &mut seen).await;
    let (mut late, _) = native_at(&node.ws("/ws")).await;
    let j = join_since(&mut late, "short", None).await;
    let payloads: Vec<Value> = j["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["payload"].clone())
        .collect();
    assert_eq!(payloads, [json!("new")], "{j}");
    common::send(
        &mut late,
        json!({"type": "history", "ref": "h", "room": "short"}),
    )
    .await;
    let p = common::recv_type(&mut late, "history").await;
    assert_eq!(
        (p["messages"].as_array().unwrap().len(), p["more"].clone()),
        (1, json!(false))
    );
}

/// The server API acts on every node: a user removed from a room, or
/// disconnected, through node A, on their connection to node B; the room
/// list counts members of every node.
#[tokio::test]
async fn the_server_api_reaches_connections_on_other_nodes() {
    let redis = Redis::start().await;
    let mut args = redis_args(&redis.url(), &prefix("api"), 15);
    args.extend(token_args());
    args.extend(["--api-key".to_owned(), "k".to_owned()]);
    let a = Node::start(&args).await;
    let b = Node::start(&args).await;
    let key = [("Authorization", "Bearer k")];
    let (mut mallory, _) = native_at(&user_url(&b, "mallory")).await;
    let (mut bob, _) = native_at(&user_url(&a, "bob")).await;
    join_since(&mut mallory, "mod", None).await;
    join_since(&mut bob, "mod", None).await;
    let (s, body) = common::http(a.addr, "GET", "/api/rooms", &key, "").await;
    assert_eq!(s, 200);
    let rooms: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        rooms["rooms"],
        json!([{"room": "mod", "members": 2}]),
        "{body}"
    );
    let (s, _) = common::http(a.addr, "DELETE", "/api/rooms/mod/members/mallory", &key, "").await;
    assert_eq!(s, 202);
    let e = common::recv_type(&mut mallory, "error").await;
    assert_eq!(
        (e["code"].clone(), e["room"].clone()),
        (json!("forbidden"), json!("mod"))
    );
    wait_presence(&mut bob, "mod", Duration::from_secs(5), |d| {
        lists(d, "leaves", &json!("mallory"))
    })
    .await;
    let (s, _) = common::http(a.addr, "POST", "/api/users/mallory/disconnect", &key, "").await;
    assert_eq!(s, 202);
    assert_eq!(common::recv_close(&mut mallory).await, 4004);
}
