//! `--data-dir`: a real server process restarted between publishes keeps its
//! history, offsets and epoch, so a client that was away resumes every
//! message exactly once. Without it, a restart changes the epoch.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use serde_json::json;

use common::process::{as_user, temp_dir, token_args, Node};
use common::{join_since, native_at, next_message, publish_collect};

fn texts(history: &serde_json::Value) -> Vec<String> {
    history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["payload"]["n"].to_string())
        .collect()
}

#[tokio::test]
async fn restart_with_data_dir_resumes_exactly_once() {
    let dir = temp_dir("durable");
    let mut args = vec!["--data-dir".to_owned(), dir.to_str().unwrap().to_owned()];
    args.extend(token_args());
    let mut node = Node::start(&args).await;
    let port = node.addr.port();

    let (mut away, _) = native_at(&node.ws("/ws?name=away")).await;
    let joined = join_since(&mut away, "lobby", None).await;
    assert_eq!(joined["offset"], 0, "{joined}");
    let epoch = joined["epoch"].as_str().unwrap().to_owned();

    let (mut writer, _) = native_at(&node.ws("/ws?name=writer")).await;
    join_since(&mut writer, "lobby", None).await;
    let mut seen = Vec::new();
    let ack = publish_collect(&mut writer, "lobby", "1", json!({"n": 1}), &mut seen).await;
    assert_eq!(ack["offset"], 1, "{ack}");
    // `away` saw message 1, then goes away.
    let m = next_message(&mut away, "lobby").await;
    assert_eq!(m["offset"], 1);
    drop(away);
    for n in 2..=3 {
        let ack = publish_collect(
            &mut writer,
            "lobby",
            &n.to_string(),
            json!({"n": n}),
            &mut seen,
        )
        .await;
        assert_eq!(ack["offset"], n, "{ack}");
    }
    drop(writer);

    // A crash (SIGKILL) right after the acks: acknowledged means on disk.
    node.kill9();
    let mut node = Node::start_on(port, &args).await;

    let (mut writer, _) = native_at(&node.ws("/ws?name=writer")).await;
    let j = join_since(&mut writer, "lobby", None).await;
    assert_eq!(j["epoch"], epoch.as_str(), "epoch kept across restart: {j}");
    assert_eq!(j["offset"], 3, "{j}");
    for n in 4..=5 {
        let ack = publish_collect(
            &mut writer,
            "lobby",
            &n.to_string(),
            json!({"n": n}),
            &mut seen,
        )
        .await;
        assert_eq!(ack["offset"], n, "offsets continue: {ack}");
    }

    // The client that was away resumes from offset 1.
    let (mut away, _) = native_at(&node.ws("/ws?name=away")).await;
    let j = join_since(&mut away, "lobby", Some((&epoch, 1))).await;
    assert_eq!(j["recovered"], true, "{j}");
    assert_eq!(texts(&j["history"]), ["2", "3", "4", "5"], "{j}");
    let offsets: Vec<u64> = j["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, [2, 3, 4, 5]);

    // A graceful restart (SIGTERM) keeps it too, DM history included.
    let (mut alice, _) = native_at(&node.ws(&format!("/ws{}", as_user("alice")))).await;
    let (mut bob, _) = native_at(&node.ws(&format!("/ws{}", as_user("bob")))).await;
    common::send(
        &mut alice,
        json!({"type": "direct", "ref": "d1", "to": "bob", "payload": {"n": 99}}),
    )
    .await;
    let ack = common::recv_type(&mut alice, "ack").await;
    assert_eq!(ack["room"], "dm:alice:bob", "{ack}");
    assert_eq!(ack["offset"], 1, "{ack}");
    let got = next_message(&mut bob, "dm:alice:bob").await;
    assert_eq!(got["payload"]["n"], 99);
    drop((away, alice, bob, writer));
    assert_eq!(node.term(), Some(0), "clean exit on SIGTERM");
    let node = Node::start_on(port, &args).await;
    let (mut bob, _) = native_at(&node.ws(&format!("/ws{}", as_user("bob")))).await;
    let j = join_since(&mut bob, "dm:alice:bob", Some((&epoch, 0))).await;
    assert_eq!(j["recovered"], true, "{j}");
    assert_eq!(texts(&j["history"]), ["99"], "{j}");
    let j = join_since(&mut bob, "lobby", Some((&epoch, 5))).await;
    assert_eq!(j["recovered"], true, "{j}");
    assert_eq!(j["offset"], 5, "{j}");
    assert!(j["history"].as_array().unwrap().is_empty(), "{j}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn restart_without_data_dir_changes_epoch() {
    let mut node = Node::start(&[]).await;
    let port = node.addr.port();
    let (mut c, _) = native_at(&node.ws("/ws")).await;
    let j = join_since(&mut c, "lobby", None).await;
    let epoch = j["epoch"].as_str().unwrap().to_owned();
    let mut seen = Vec::new();
    publish_collect(&mut c, "lobby", "1", json!({"n": 1}), &mut seen).await;
    drop(c);
    node.kill9();
    let node = Node::start_on(port, &[]).await;
    let (mut c, _) = native_at(&node.ws("/ws")).await;
    let j = join_since(&mut c, "lobby", Some((&epoch, 1))).await;
    assert_ne!(j["epoch"], epoch.as_str(), "{j}");
    assert_eq!(j["recovered"], false, "{j}");
}

/// A publish whose ack was lost in a crash (SIGKILL right after the store)
/// is retried with the same client message id after the restart: it is
/// acknowledged with the first place and stored once; member state and
/// history pages survive the restart too.
#[tokio::test]
async fn a_retry_after_a_crash_is_stored_once_and_state_survives() {
    let dir = temp_dir("durable-cid");
    let mut args = vec!["--data-dir".to_owned(), dir.to_str().unwrap().to_owned()];
    args.extend(token_args());
    let mut node = Node::start(&args).await;
    let port = node.addr.port();
    let (mut alice, _) = native_at(&node.ws(&format!("/ws{}", as_user("alice")))).await;
    join_since(&mut alice, "crash", None).await;
    let publish = json!({"type": "publish", "ref": "p", "room": "crash", "cid": "alice-7", "payload": {"n": 7}});
    common::send(&mut alice, publish.clone()).await;
    let first = common::recv_type(&mut alice, "ack").await;
    common::send(
        &mut alice,
        json!({"type": "state", "ref": "s", "room": "crash", "state": {"read": 1}}),
    )
    .await;
    common::recv_type(&mut alice, "ack").await;
    // The crash: as far as the client knows, the publish may not have landed.
    node.kill9();
    drop(alice);
    let node = Node::start_on(port, &args).await;
    let (mut alice, _) = native_at(&node.ws(&format!("/ws{}", as_user("alice")))).await;
    let joined = join_since(&mut alice, "crash", None).await;
    let me = &joined["members"][0];
    assert_eq!(me["state"], json!({"read": 1}), "{joined}");
    common::send(&mut alice, publish).await;
    let retry = common::recv_type(&mut alice, "ack").await;
    assert_eq!(
        (retry["offset"].clone(), retry["ts"].clone()),
        (first["offset"].clone(), first["ts"].clone())
    );
    common::send(
        &mut alice,
        json!({"type": "history", "ref": "h", "room": "crash"}),
    )
    .await;
    let page = common::recv_type(&mut alice, "history").await;
    assert_eq!(texts(&page["messages"]), ["7"], "stored once: {page}");
    assert_eq!(page["more"], false);
    let _ = std::fs::remove_dir_all(&dir);
}
