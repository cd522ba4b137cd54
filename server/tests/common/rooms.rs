//! A client in many rooms at once for the topology tests (shards, cluster,
//! Sentinel): it records every message of every room, publishes with a
//! deadline, and checks per-room order (offsets 1..=n, each once).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::Ws;

/// One native connection and what it saw, per room.
pub struct Member {
    pub ws: Ws,
    pub seen: HashMap<String, Vec<Value>>,
    /// Room → (epoch, offset of the last message seen).
    pub pos: HashMap<String, (String, u64)>,
    next_ref: u64,
}

impl Member {
    /// One member per node (`u0` on the first, `u1` on the second, …),
    /// each in every room of `rooms`.
    pub async fn one_per_node(nodes: &[super::process::Node], rooms: &[String]) -> Vec<Member> {
        let mut members = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            let url = node.ws(&format!("/ws{}", super::process::as_user(&format!("u{i}"))));
            members.push(Member::join(&url, rooms).await);
        }
        members
    }

    /// Connects to `url` and joins `rooms`.
    pub async fn join(url: &str, rooms: &[String]) -> Member {
        Self::try_join(url, rooms)
            .await
            .unwrap_or_else(|| panic!("cannot join {rooms:?} at {url}"))
    }

    /// [`Member::join`], or `None` when the connection fails or closes
    /// meanwhile (a node closing connections after lost history).
    pub async fn try_join(url: &str, rooms: &[String]) -> Option<Member> {
        let (ws, _) = tokio::time::timeout(super::WAIT, tokio_tungstenite::connect_async(url))
            .await
            .ok()?
            .ok()?;
        let mut m = Member {
            ws,
            seen: HashMap::new(),
            pos: HashMap::new(),
            next_ref: 0,
        };
        let welcome = m.next_other(super::WAIT).await?;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        for room in rooms {
            let join = json!({"type": "join", "ref": format!("j-{room}"), "room": room});
            m.ws.send(Message::text(join.to_string())).await.ok()?;
            let j = loop {
                let v = m.next_other(super::WAIT).await?;
                if v["type"] == "joined" && v["room"] == room.as_str() {
                    break v;
                }
                assert_ne!(v["type"], "error", "join failed: {v}");
            };
            m.pos.insert(
                room.clone(),
                (
                    j["epoch"].as_str().unwrap().to_owned(),
                    j["offset"].as_u64().unwrap(),
                ),
            );
        }
        Some(m)
    }

    fn record(&mut self, v: Value) -> Option<Value> {
        if v["type"] == "message" {
            let room = v["room"].as_str().unwrap().to_owned();
            if let Some(p) = self.pos.get_mut(&room) {
                p.1 = v["offset"].as_u64().unwrap();
            }
            self.seen.entry(room).or_default().push(v);
            return None;
        }
        Some(v)
    }

    /// The next frame that is not a message (recording messages), within
    /// `within`; `None` on timeout or a closed connection.
    pub async fn next_other(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??;
            match frame {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if let Some(other) = self.record(v) {
                        return Some(other);
                    }
                }
                Ok(Message::Ping(_) | Message::Pong(_)) => {}
                _ => return None,
            }
        }
    }

    /// Publishes `payload` to `room`; the reply (`ack` or `error`), or
    /// `None` when none came within `within`.
    pub async fn publish(&mut self, room: &str, payload: Value, within: Duration) -> Option<Value> {
        self.next_ref += 1;
        let r = format!("p{}", self.next_ref);
        let msg = json!({"type": "publish", "ref": r, "room": room, "payload": payload});
        self.ws.send(Message::text(msg.to_string())).await.ok()?;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let v = self.next_other(left).await?;
            if v["ref"] == r.as_str() && (v["type"] == "ack" || v["type"] == "error") {
                return Some(v);
            }
        }
    }

    /// Reads until `room` has `count` messages (panics after `within`).
    pub async fn wait_count(&mut self, room: &str, count: usize, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.seen.get(room).map_or(0, Vec::len) < count {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(
                !left.is_zero(),
                "{room}: {} of {count} messages within {within:?}",
                self.seen.get(room).map_or(0, Vec::len)
            );
            let _ = self.next_other(left.min(Duration::from_millis(200))).await;
        }
    }

    /// Reads (recording messages) until the server closes the connection;
    /// its close code, or `None` if it stays open for `within`.
    pub async fn wait_close(&mut self, within: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match frame {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    let _ = self.record(v);
                }
                Some(Ok(Message::Close(Some(f)))) => return Some(u16::from(f.code)),
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return Some(0),
                Some(Ok(_)) => {}
            }
        }
    }

    /// Reads whatever arrives for `d`.
    pub async fn drain(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        while tokio::time::Instant::now() < deadline {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let _ = self.next_other(left).await;
        }
    }

    /// `room`'s messages as (offset, payload) in arrival order.
    pub fn view(&self, room: &str) -> Vec<(u64, Value)> {
        self.seen
            .get(room)
            .map(|v| {
                v.iter()
                    .map(|m| (m["offset"].as_u64().unwrap(), m["payload"].clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Asserts `view` is offsets `1..=n` in order, each once.
pub fn assert_in_order(who: &str, room: &str, view: &[(u64, Value)]) {
    let offsets: Vec<u64> = view.iter().map(|(o, _)| *o).collect();
    let want: Vec<u64> = (1..=view.len() as u64).collect();
    assert_eq!(offsets, want, "{who} in {room}: not 1..=n in order");
}

/// The rooms `prefix` has a head key for on each Redis (`ports`), by index.
pub fn rooms_by_redis(
    ports: &[u16],
    prefix: &str,
    rooms: &[String],
) -> BTreeMap<usize, Vec<String>> {
    let mut by = BTreeMap::new();
    for room in rooms {
        let holders: Vec<usize> = ports
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                super::process::redis_cli(**p, &["exists", &format!("{prefix}:h:{room}")]) == "1"
            })
            .map(|(i, _)| i)
            .collect();
        assert_eq!(holders.len(), 1, "{room} is on {holders:?}");
        by.entry(holders[0])
            .or_insert_with(Vec::new)
            .push(room.clone());
    }
    by
}
