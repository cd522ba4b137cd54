//! Redis Cluster (`--redis-cluster`): a local six-process cluster (three
//! primaries, one replica each, `redis-cli --cluster create`) and real
//! `confab-server` nodes. Rooms spread over the primaries, every node
//! delivers every room in order, room fan-out uses sharded pub/sub (no
//! message crosses the cluster bus to every node), and a primary killed
//! during traffic is replaced by its replica: acknowledged messages lost
//! are counted without and with `--redis-wait-replicas 1`, and clients
//! that saw lost messages are told (`recovered: false`).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::process::{as_user, prefix, token_args, Node, RedisCluster};
use common::rooms::{assert_in_order, Member};

const ROOMS: usize = 24;

fn cluster_args(cluster: &RedisCluster, prefix: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--redis-cluster".to_owned(),
        "--redis-url".to_owned(),
        cluster.urls().join(","),
        "--redis-prefix".to_owned(),
        prefix.to_owned(),
        "--presence-ttl-secs".to_owned(),
        "15".to_owned(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args.extend(token_args());
    args.extend(["--api-key".to_owned(), "k".to_owned()]);
    args
}

/// A room of `prefix` whose slot `primary` serves.
fn room_on(cluster: &RedisCluster, primary: usize, tag: &str) -> String {
    (0..200)
        .map(|i| format!("{tag}-{i}"))
        .find(|room| cluster.owner(&format!("{{{room}}}")).0 == primary)
        .expect("a room on that primary")
}

/// The sum of a `CLUSTER INFO` counter over the running nodes.
fn cluster_stat(cluster: &RedisCluster, name: &str) -> u64 {
    cluster
        .nodes
        .iter()
        .filter(|n| n.running())
        .map(|n| {
            n.cli(&["cluster", "info"])
                .lines()
                .find_map(|l| {
                    l.strip_prefix(&format!("{name}:"))?
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
                .unwrap_or(0)
        })
        .sum()
}

#[tokio::test]
async fn three_nodes_on_a_cluster_and_a_primary_failover_with_and_without_replica_acks() {
    let mut cluster = RedisCluster::start(3, 1).await;
    let p = prefix("cluster");
    let args = cluster_args(&cluster, &p, &[]);
    let nodes = [
        Node::start(&args).await,
        Node::start(&args).await,
        Node::start(&args).await,
    ];
    let rooms: Vec<String> = (0..ROOMS).map(|i| format!("room-{i}")).collect();
    let mut members = Member::one_per_node(&nodes, &rooms).await;
    let published_before = cluster_stat(&cluster, "cluster_stats_messages_publish_sent");
    let mut acked: HashMap<String, usize> = HashMap::new();
    for round in 0..3 {
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
    }
    for m in &mut members {
        for room in &rooms {
            m.wait_count(room, acked[room], Duration::from_secs(10))
                .await;
        }
    }
    for room in &rooms {
        let first = members[0].view(room);
        for (i, m) in members.iter().enumerate() {
            assert_in_order(&format!("u{i}"), room, &m.view(room));
            assert_eq!(m.view(room), first, "u{i} and u0 disagree in {room}");
        }
    }
    // The server API lists the rooms of every shard (every primary).
    common::assert_rooms_listed(nodes[1].addr, ROOMS, 3).await;
    // Rooms spread over the three primaries.
    let primaries: BTreeSet<usize> = rooms
        .iter()
        .map(|r| cluster.owner(&format!("{{{r}}}")).0)
        .collect();
    assert_eq!(primaries.len(), 3, "{primaries:?}");
    // Sharded pub/sub: each room channel is subscribed on its slot's
    // primary only, nothing on classic pub/sub, and no PUBLISH crossed the
    // cluster bus (classic pub/sub would copy every message to every node).
    for room in &rooms[..4] {
        let channel = format!("{p}:c:{{{room}}}");
        let (owner, _) = cluster.owner(&format!("{{{room}}}"));
        for (i, n) in cluster.nodes.iter().enumerate() {
            let subs = n.cli(&["pubsub", "shardnumsub", &channel]);
            let count: u64 = subs.lines().nth(1).unwrap().trim().parse().unwrap();
            if i == owner {
                assert_eq!(count, 3, "{room} on its primary: {subs}");
            } else {
                assert_eq!(count, 0, "{room} on node {i}: {subs}");
            }
            assert_eq!(n.cli(&["pubsub", "channels"]), "", "classic pub/sub in use");
        }
    }
    let published = cluster_stat(&cluster, "cluster_stats_messages_publish_sent");
    assert_eq!(
        published, published_before,
        "PUBLISH crossed the cluster bus"
    );
    // A DM crosses nodes (stored in its room's slot, published to the users').
    common::send(
        &mut members[0].ws,
        json!({"type": "direct", "ref": "d", "to": "u2", "payload": {"t": "psst"}}),
    )
    .await;
    let dm = common::message_within(&mut members[2].ws, "dm:u0:u2", Duration::from_secs(5)).await;
    assert_eq!(dm["payload"]["t"], "psst");
    drop(members);

    // A primary killed during traffic, without replica acks.
    let first = cluster.primaries()[0].0;
    let without = failover(&mut cluster, &nodes[0], &nodes[1], first, "plain", &p).await;
    drop(nodes);
    // And on another primary with nodes that wait for one replica.
    let q = prefix("cluster-wait");
    let args = cluster_args(
        &cluster,
        &q,
        &[
            "--redis-wait-replicas",
            "1",
            "--redis-wait-timeout-ms",
            "300",
        ],
    );
    let (a, b) = (Node::start(&args).await, Node::start(&args).await);
    // A primary that still has its replica (not the one promoted above).
    cluster.wait_ok(Duration::from_secs(20)).await;
    let target = cluster
        .primaries()
        .into_iter()
        .find(|(_, replicas)| !replicas.is_empty())
        .expect("a primary with a replica")
        .0;
    let with = failover(&mut cluster, &a, &b, target, "waited", &q).await;
    eprintln!(
        "acknowledged messages lost in a primary failover: without --redis-wait-replicas: {} of {} acked (first ack {:?} after the kill); with --redis-wait-replicas 1: {} of {} acked (first ack {:?} after the kill)",
        without.lost, without.acked, without.failover, with.lost, with.acked, with.failover
    );
    assert!(
        without.lost > 0,
        "the replica was paused: acks on the primary alone must be lost: {without:?}"
    );
    assert_eq!(
        with.lost, 0,
        "an ack that waited for a replica survives: {with:?}"
    );
    assert!(
        with.unknown > 0,
        "publishes during the pause are outcome_unknown: {with:?}"
    );
    // Whoever saw messages that were then lost was told.
    assert!(without.told, "{without:?}");
}

#[derive(Debug)]
struct Outcome {
    acked: usize,
    lost: usize,
    unknown: usize,
    /// The observer's node closed it for a rejoin, and the rejoin said
    /// `recovered: false`.
    told: bool,
    failover: Duration,
}

/// Traffic to a room on `primary` from a writer on `a`, an observer on `b`;
/// its replica paused, the primary killed, the replica let go and promoted,
/// the old primary back as a replica; then the acknowledged messages the
/// new primary does not have are counted.
async fn failover(
    cluster: &mut RedisCluster,
    a: &Node,
    b: &Node,
    primary: usize,
    tag: &str,
    prefix: &str,
) -> Outcome {
    let room = room_on(cluster, primary, tag);
    let (_, replicas) = cluster.owner(&format!("{{{room}}}"));
    let replica = replicas[0];
    // A room on another primary keeps working meanwhile.
    let other_primary = cluster
        .primaries()
        .into_iter()
        .map(|(p, _)| p)
        .find(|p| *p != primary)
        .unwrap();
    let other = room_on(cluster, other_primary, &format!("{tag}-other"));
    let rooms = vec![room.clone(), other.clone()];
    let writer_url = a.ws(&format!("/ws{}", as_user("writer")));
    let observer_url = b.ws(&format!("/ws{}", as_user("observer")));
    let mut writer = Member::join(&writer_url, &rooms).await;
    let mut observer = Member::join(&observer_url, std::slice::from_ref(&room)).await;
    let mut acked = Vec::new();
    let mut unknown = 0;
    let mut seq = 0u64;
    // Steady traffic, replicated.
    for _ in 0..30 {
        seq += 1;
        let r = writer
            .publish(&room, json!({"seq": seq}), Duration::from_secs(8))
            .await
            .unwrap();
        assert_eq!(r["type"], "ack", "{r}");
        acked.push(seq);
    }
    // The replica is cut off (frozen, its link closed by the primary):
    // what follows is on the primary only.
    cluster.nodes[replica].signal("STOP");
    let killed_links = cluster.nodes[primary].cli(&["client", "kill", "type", "replica"]);
    assert_eq!(killed_links, "1", "the primary's replication link");
    for _ in 0..10 {
        seq += 1;
        match writer
            .publish(&room, json!({"seq": seq}), Duration::from_secs(8))
            .await
        {
            Some(r) if r["type"] == "ack" => acked.push(seq),
            Some(r) if r["code"] == "outcome_unknown" => unknown += 1,
            other => panic!("{other:?}"),
        }
    }
    cluster.nodes[primary].kill9();
    let killed = Instant::now();
    cluster.nodes[replica].signal("CONT");
    // The other primary's room does not notice.
    let r = writer
        .publish(&other, json!({"during": true}), Duration::from_secs(8))
        .await
        .unwrap();
    assert_eq!(r["type"], "ack", "a room on another primary: {r}");
    // Traffic continues; the writer reconnects when its node closes it.
    let mut first_ack_after = None;
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut restarted = false;
    while acked.len() < 50 {
        assert!(
            Instant::now() < deadline,
            "no acks after the failover (tag {tag})"
        );
        if !restarted && cluster.nodes[replica].cli(&["role"]).starts_with("master") {
            // The old primary comes back empty and follows its replica.
            cluster.nodes[primary].restart().await;
            restarted = true;
        }
        seq += 1;
        match writer
            .publish(&room, json!({"seq": seq}), Duration::from_secs(8))
            .await
        {
            Some(r) if r["type"] == "ack" => {
                first_ack_after.get_or_insert_with(|| killed.elapsed());
                acked.push(seq);
            }
            Some(r) => {
                if r["code"] == "outcome_unknown" {
                    unknown += 1;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            None => {
                // (Closed again while joining: the next round retries.)
                if let Some(w) = Member::try_join(&writer_url, &rooms).await {
                    writer = w;
                }
            }
        }
    }
    let failover = first_ack_after.unwrap();
    // The old primary is back as the new primary's replica, in sync.
    cluster.wait_ok(Duration::from_secs(20)).await;
    // What the new primary kept.
    let key = format!("{prefix}:s:{{{room}}}");
    let dump = cluster.nodes[replica].cli(&["xrange", &key, "-", "+"]);
    let kept: BTreeSet<u64> = dump
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|m| m["payload"]["seq"].as_u64())
        .collect();
    let lost = acked.iter().filter(|s| !kept.contains(s)).count();
    // The observer: if it saw messages that are gone, its node noticed
    // (the head is below what it delivered), closed it (1012), and its
    // resume is not recovered; either way its rejoin then gets every new
    // message live.
    let before = observer.pos[&room].clone();
    // (Read what reached the observer first: it was not read meanwhile.)
    let code = observer.wait_close(Duration::from_secs(10)).await;
    let saw_lost = observer.view(&room).iter().any(|(_, p)| {
        p["seq"]
            .as_u64()
            .is_some_and(|s| acked.contains(&s) && !kept.contains(&s))
    });
    let mut told = false;
    if let Some(code) = code {
        assert_eq!(code, confab_protocol::close::SERVICE_RESTART, "{tag}");
        let (mut ws, _) = common::native_at(&observer_url).await;
        let j = common::join_since(&mut ws, &room, Some((&before.0, before.1))).await;
        told = j["recovered"] == false && j["epoch"] != before.0.as_str();
        eprintln!(
            "{tag}: observer closed 1012; its resume: recovered {} (epoch {} -> {})",
            j["recovered"], before.0, j["epoch"]
        );
    } else {
        assert!(
            !saw_lost,
            "{tag}: the observer saw lost messages and was not told"
        );
    }
    // Live delivery goes on after the failover on the observer's node.
    let mut fresh = Member::join(&observer_url, std::slice::from_ref(&room)).await;
    let head = fresh.pos[&room].1 as usize;
    // (The writer's node delivered the lost messages too: it closes the
    // writer 1012 when it notices; the writer then rejoins.)
    let mut r = None;
    for _ in 0..3 {
        r = writer
            .publish(&room, json!({"after": tag}), Duration::from_secs(8))
            .await;
        if r.is_some() {
            break;
        }
        writer = Member::join(&writer_url, &rooms).await;
    }
    let r = r.expect("the writer publishes after the failover");
    assert_eq!(r["type"], "ack", "{r}");
    fresh.wait_count(&room, 1, Duration::from_secs(10)).await;
    assert_eq!(fresh.view(&room)[0].0 as usize, head + 1);
    eprintln!(
        "{tag}: {} acked, {lost} of them lost, {unknown} outcome_unknown, first ack {failover:?} after the kill",
        acked.len()
    );
    Outcome {
        acked: acked.len(),
        lost,
        unknown,
        told,
        failover,
    }
}
