//! Rooms sharded over several Redis servers (`--redis-url a,b,c`): three
//! real `confab-server` nodes on three real `redis-server` shards. Each room
//! lives on exactly one shard, every node delivers every room in order
//! without loss, a stopped shard takes only its rooms down, and its rooms
//! come back (live and by resume) when it returns.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use serde_json::json;

use common::process::{as_user, prefix, redis_args, token_args, Node, Redis};
use common::rooms::{assert_in_order, rooms_by_redis, Member};

const ROOMS: usize = 24;
const ROUNDS: usize = 3;

#[tokio::test]
async fn three_nodes_on_three_shards_and_a_shard_outage_takes_only_its_rooms() {
    let mut shards = [
        Redis::start().await,
        Redis::start().await,
        Redis::start().await,
    ];
    let urls: Vec<String> = shards.iter().map(Redis::url).collect();
    let p = prefix("shards");
    let mut args = redis_args(&urls.join(","), &p, 15);
    args.extend(token_args());
    args.extend(["--api-key".to_owned(), "k".to_owned()]);
    let nodes = [
        Node::start(&args).await,
        Node::start(&args).await,
        Node::start(&args).await,
    ];
    let rooms: Vec<String> = (0..ROOMS).map(|i| format!("room-{i}")).collect();
    let mut members = Member::one_per_node(&nodes, &rooms).await;

    // Every node publishes to every room, interleaved.
    let mut acked: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut expected = 0;
    for round in 0..ROUNDS {
        for (i, m) in members.iter_mut().enumerate() {
            for room in &rooms {
                let ack = m
                    .publish(room, json!({"n": i, "k": round}), Duration::from_secs(5))
                    .await
                    .unwrap();
                assert_eq!(ack["type"], "ack", "{ack}");
                *acked.entry(room.clone()).or_default() += 1;
            }
        }
        expected += nodes.len();
    }
    for m in &mut members {
        for room in &rooms {
            m.wait_count(room, expected, Duration::from_secs(10)).await;
        }
    }
    // The server API lists the rooms of every shard (every primary).
    common::assert_rooms_listed(nodes[1].addr, ROOMS, 3).await;
    // Each room lives on exactly one shard, and every shard has rooms.
    let ports: Vec<u16> = shards.iter().map(|r| r.port).collect();
    let spread = rooms_by_redis(&ports, &p, &rooms);
    eprintln!(
        "rooms per shard: {:?}",
        spread
            .iter()
            .map(|(s, r)| (*s, r.len()))
            .collect::<Vec<_>>()
    );
    assert_eq!(spread.len(), 3, "{spread:?}");
    // Every node delivered every room: the same order, offsets 1..=n.
    for room in &rooms {
        let first = members[0].view(room);
        assert_eq!(first.len(), expected);
        for (i, m) in members.iter().enumerate() {
            let view = m.view(room);
            assert_in_order(&format!("u{i}"), room, &view);
            assert_eq!(view, first, "u{i} and u0 disagree in {room}");
        }
    }

    // A direct message crosses nodes whatever shard its room is on.
    {
        let m = &mut members[0];
        common::send(
            &mut m.ws,
            json!({"type": "direct", "ref": "d", "to": "u2", "payload": {"t": "psst"}}),
        )
        .await;
        let dm =
            common::message_within(&mut members[2].ws, "dm:u0:u2", Duration::from_secs(5)).await;
        assert_eq!(dm["payload"]["t"], "psst");
    }

    // Stop the shard holding the most rooms.
    let (&down, down_rooms) = spread.iter().max_by_key(|(_, r)| r.len()).unwrap();
    let down_rooms = down_rooms.clone();
    shards[down].kill9();
    let t0 = std::time::Instant::now();
    for room in &rooms {
        let r = members[0]
            .publish(room, json!({"during": true}), Duration::from_secs(10))
            .await
            .unwrap();
        if down_rooms.contains(room) {
            assert_eq!(r["type"], "error", "{room} is on the stopped shard: {r}");
            assert!(
                r["code"] == "unavailable" || r["code"] == "outcome_unknown",
                "{r}"
            );
        } else {
            assert_eq!(r["type"], "ack", "{room} is on a running shard: {r}");
            *acked.get_mut(room).unwrap() += 1;
        }
    }
    eprintln!(
        "with shard {down} stopped: {} rooms refused, {} acknowledged ({:?})",
        down_rooms.len(),
        rooms.len() - down_rooms.len(),
        t0.elapsed()
    );
    // The others keep delivering on every node, and a new member can join
    // them (its user channel on the stopped shard waits for it).
    let up_room = rooms.iter().find(|r| !down_rooms.contains(r)).unwrap();
    for m in &mut members {
        m.wait_count(up_room, expected + 1, Duration::from_secs(5))
            .await;
    }
    let late_url = nodes[1].ws(&format!("/ws{}", as_user("late")));
    let mut late = Member::join(&late_url, std::slice::from_ref(up_room)).await;
    let ack = late
        .publish(up_room, json!({"late": 1}), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(ack["type"], "ack", "{ack}");
    *acked.get_mut(up_room).unwrap() += 1;

    // The shard comes back (its AOF kept everything): its rooms work again,
    // live on every node, and resume without a gap.
    let before = members[2].pos.clone();
    shards[down].restart().await;
    let t1 = std::time::Instant::now();
    for room in &down_rooms {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let r = members[0]
                .publish(room, json!({"after": true}), Duration::from_secs(10))
                .await
                .unwrap();
            if r["type"] == "ack" {
                *acked.get_mut(room).unwrap() += 1;
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{room} never came back: {r}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    eprintln!(
        "shard {down} back: its rooms accept publishes after {:?}",
        t1.elapsed()
    );
    // Every acknowledged message reaches every node (none was lost, the
    // refused ones were not stored).
    for room in &rooms {
        for m in &mut members {
            m.wait_count(room, acked[room], Duration::from_secs(15))
                .await;
        }
    }
    for room in &rooms {
        let first = members[0].view(room);
        for (i, m) in members.iter().enumerate() {
            let view = m.view(room);
            assert_in_order(&format!("u{i}"), room, &view);
            assert_eq!(
                view, first,
                "u{i} and u0 disagree in {room} after the outage"
            );
        }
    }
    // Resume from before the outage on another node: exactly the missed ones.
    let room = &down_rooms[0];
    let (epoch, offset) = before[room].clone();
    let (mut ws, _) = common::native_at(&nodes[0].ws(&format!("/ws{}", as_user("u2")))).await;
    let j = common::join_since(&mut ws, room, Some((&epoch, offset))).await;
    assert_eq!(j["recovered"], true, "{j}");
    let got: Vec<u64> = j["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["offset"].as_u64().unwrap())
        .collect();
    let head = members[0].view(room).len() as u64;
    assert_eq!(got, ((offset + 1)..=head).collect::<Vec<_>>(), "{j}");
}

/// One `--redis-url` is the one-shard case of the same code, and keeps the
/// key names a single Redis always had (a deployment upgrades in place).
#[tokio::test]
async fn a_single_url_keeps_the_key_names_of_one_redis() {
    let redis = Redis::start().await;
    let p = prefix("one-shard");
    let mut args = redis_args(&redis.url(), &p, 15);
    args.extend(token_args());
    let a = Node::start(&args).await;
    let rooms = vec!["solo".to_owned()];
    let mut m = Member::join(&a.ws(&format!("/ws{}", as_user("u"))), &rooms).await;
    let ack = m
        .publish("solo", json!(1), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(ack["offset"], 1, "{ack}");
    // The single Redis keeps the names it always had.
    assert_eq!(redis.cli(&["get", &format!("{p}:h:solo")]), "1");
    assert_ne!(redis.cli(&["get", &format!("{p}:epoch")]), "");
}
