//! Redis Sentinel (`--redis-sentinel-service`): a primary, its replica and
//! three Sentinels (real processes). Confab finds the primary through the
//! Sentinels; the primary is killed during traffic, Sentinel promotes the
//! replica, and Confab's nodes follow it within a bounded time: publishes
//! are acknowledged again and delivered live on the other node, with no
//! acknowledged message lost (the replica was in sync).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::process::{as_user, eventually, prefix, token_args, Node, Redis, Sentinels};
use common::rooms::{assert_in_order, Member};

const SERVICE: &str = "confab-main";

/// What Sentinel may take to notice and promote (down after 1 s), plus
/// what Confab may take to follow (it asks every 250 ms).
const FOLLOW_BOUND: Duration = Duration::from_secs(15);

#[tokio::test]
async fn sentinel_promotes_the_replica_and_confab_follows_within_a_bound() {
    let no_persistence = [
        "--save",
        "",
        "--appendonly",
        "no",
        "--repl-diskless-sync-delay",
        "0",
    ];
    let mut primary = Redis::start_with(&no_persistence).await;
    let port = primary.port.to_string();
    let mut replica_args = no_persistence.to_vec();
    replica_args.extend(["--replicaof", "127.0.0.1", &port]);
    let replica = Redis::start_with(&replica_args).await;
    eventually("the replica syncs", Duration::from_secs(20), || {
        replica
            .cli(&["info", "replication"])
            .contains("master_link_status:up")
    })
    .await;
    let sentinels = Sentinels::start(3, &primary, SERVICE).await;
    // Sentinels find the replica and each other (hello messages every 2 s).
    eventually(
        "sentinels know the replica and each other",
        Duration::from_secs(30),
        || {
            sentinels.nodes.iter().all(|s| {
                let m = s.cli(&["sentinel", "master", SERVICE]);
                let field = |name: &str| {
                    let lines: Vec<&str> = m.lines().collect();
                    lines
                        .iter()
                        .position(|l| *l == name)
                        .and_then(|i| lines.get(i + 1))
                        .and_then(|v| v.parse::<u32>().ok())
                        .unwrap_or(0)
                };
                field("num-slaves") == 1 && field("num-other-sentinels") == 2
            })
        },
    )
    .await;

    let p = prefix("sentinel");
    let mut args = vec![
        "--redis-url".to_owned(),
        sentinels.urls().join(","),
        "--redis-sentinel-service".to_owned(),
        SERVICE.to_owned(),
        "--redis-prefix".to_owned(),
        p.clone(),
        "--presence-ttl-secs".to_owned(),
        "15".to_owned(),
    ];
    args.extend(token_args());
    let a = Node::start(&args).await;
    let b = Node::start(&args).await;
    assert!(
        a.log_text().contains(&format!("primary=127.0.0.1:{port}")),
        "{}",
        a.log_text()
    );
    let room = "watched".to_owned();
    let rooms = vec![room.clone()];
    let writer_url = a.ws(&format!("/ws{}", as_user("writer")));
    let mut writer = Member::join(&writer_url, &rooms).await;
    let mut observer = Member::join(&b.ws(&format!("/ws{}", as_user("observer"))), &rooms).await;
    let mut acked = Vec::new();
    let mut seq = 0u64;
    for _ in 0..20 {
        seq += 1;
        let r = writer
            .publish(&room, json!({"seq": seq}), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(r["type"], "ack", "{r}");
        acked.push(seq);
    }
    // Everything acknowledged is on the replica before the kill.
    eventually("the replica has every ack", Duration::from_secs(5), || {
        replica.cli(&["get", &format!("{p}:h:{room}")]) == "20"
    })
    .await;

    primary.kill9();
    let killed = Instant::now();
    let mut back_after = None;
    let mut errors = 0;
    while acked.len() < 40 {
        assert!(
            killed.elapsed() < FOLLOW_BOUND + Duration::from_secs(10),
            "confab did not follow the new primary; node log:\n{}",
            a.log_text()
        );
        seq += 1;
        match writer
            .publish(&room, json!({"seq": seq}), Duration::from_secs(8))
            .await
        {
            Some(r) if r["type"] == "ack" => {
                back_after.get_or_insert_with(|| killed.elapsed());
                acked.push(seq);
            }
            Some(r) => {
                errors += 1;
                assert!(
                    r["code"] == "unavailable" || r["code"] == "outcome_unknown",
                    "{r}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            None => {
                if let Some(w) = Member::try_join(&writer_url, &rooms).await {
                    writer = w;
                }
            }
        }
    }
    let back_after = back_after.unwrap();
    let promoted = sentinels.primary_port(SERVICE).unwrap();
    eprintln!(
        "sentinel failover: primary {port} killed, replica {promoted} promoted; confab acknowledged again after {back_after:?} ({errors} publishes refused meanwhile)"
    );
    assert_eq!(promoted, replica.port, "sentinel promoted the replica");
    assert!(back_after < FOLLOW_BOUND, "followed after {back_after:?}");
    assert!(
        a.log_text().contains("sentinel moved the primary"),
        "{}",
        a.log_text()
    );
    // No acknowledged message is missing on the new primary.
    let dump = replica.cli(&["xrange", &format!("{p}:s:{room}"), "-", "+"]);
    let kept: BTreeSet<u64> = dump
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|m| m["payload"]["seq"].as_u64())
        .collect();
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|s| !kept.contains(s))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    // The observer on the other node got every acknowledged message live,
    // in order, without reconnecting (nothing it saw was lost).
    observer
        .wait_count(&room, acked.len(), Duration::from_secs(15))
        .await;
    let view = observer.view(&room);
    assert_in_order("observer", &room, &view);
    let seen: Vec<u64> = view.iter().filter_map(|(_, p)| p["seq"].as_u64()).collect();
    let missing: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|s| !seen.contains(s))
        .collect();
    assert!(missing.is_empty(), "the observer missed acked {missing:?}");
}
