//! The native `/ws` protocol: every envelope, presence, history, DMs, rename.

mod common;

use common::*;
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
