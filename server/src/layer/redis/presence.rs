//! Presence in Redis: who is in each room, counted per node, and the
//! node's own mirror of its connections, which it restores Redis from when
//! Redis lost it or another node reaped this one. Every node refreshes its
//! score in `P:nodes` (on every shard); any node reaps a node silent for the
//! presence TTL.
//!
//! The reaper finds a dead node's rooms in the node's index. On one Redis
//! the presence scripts keep the index (`P:nr:node`, room → connections)
//! and `reap.lua` cleans every room in one step. On a cluster the index
//! lives in another slot than the rooms, so it is a set of rooms kept
//! beside the scripts: a room is added before the node's presence there
//! (joins hold `index_lock` shared meanwhile), rooms without local presence
//! are pruned now and then (holding it alone), and a reaper claims the node
//! (`claim.lua`) and then cleans each room in its slot (`reap_room.lua`).

use confab_protocol::{Json, Member, Presence};

use std::sync::atomic::Ordering::Relaxed;

use super::json;
use super::shared::Shared;
use crate::clock::now_ms;
use crate::error::Result;
use crate::fanout::PresenceChange;

impl Shared {
    /// Changes a present user's name in `room` (an `updates` diff).
    pub(super) async fn update_presence(&self, room: &str, member: &Member) -> Result<()> {
        if let Some(e) = (self.local().presence).get_mut(&(room.to_owned(), member.id.clone())) {
            e.0 = member.clone();
        }
        let mut inv = self.scripts.update.prepare_invoke();
        inv.key(self.keys.members(room))
            .key(self.keys.room_channel(room))
            .key(self.keys.states(room))
            .arg(&member.id)
            .arg(json(member))
            .arg(diff_prefix(room, "updates"));
        let mut conn = self.conn();
        self.call("presence update", inv.invoke_async::<i64>(&mut conn))
            .await
            .map(drop)
    }

    /// Adds one connection of `member` to `room` and to this node's
    /// mirror; returns the members. A failure leaves the entry dirty (the
    /// script may have run with its reply lost): the heartbeat fixes it.
    pub(super) async fn join(&self, room: &str, member: &Member) -> Result<Vec<Member>> {
        let _index = if self.keys.cluster {
            Some(self.index_lock.read().await)
        } else {
            None
        };
        let result = match self.index(room).await {
            Ok(()) => self.join_script(room, member, 1).await,
            Err(e) => Err(e),
        };
        let key = (room.to_owned(), member.id.clone());
        let mut local = self.local();
        match result {
            Ok(members) => {
                local
                    .presence
                    .entry(key)
                    .or_insert_with(|| (member.clone(), 0))
                    .1 += 1;
                Ok(members)
            }
            Err(e) => {
                local.dirty.insert(key);
                Err(e)
            }
        }
    }

    /// Cluster: adds `room` to this node's index (before any presence of
    /// the node there, so a reaper finds it).
    async fn index(&self, room: &str) -> Result<()> {
        if !self.keys.cluster {
            return Ok(());
        }
        let mut conn = self.conn();
        self.call(
            "index room",
            redis::cmd("SADD")
                .arg(self.keys.node_rooms(&self.node))
                .arg(room)
                .query_async::<i64>(&mut conn),
        )
        .await
        .map(drop)
    }

    async fn join_script(&self, room: &str, member: &Member, n: u64) -> Result<Vec<Member>> {
        let k = &self.keys;
        let (count_key, count_field) = k.node_room_count(&self.node, room);
        let mut inv = self.scripts.join.prepare_invoke();
        inv.key(k.members(room))
            .key(k.counts(room))
            .key(k.node_counts(room))
            .key(count_key)
            .key(k.room_channel(room))
            .key(k.states(room))
            .arg(&member.id)
            .arg(&self.node)
            .arg(json(member))
            .arg(count_field)
            .arg(n)
            .arg(diff_prefix(room, "joins"));
        let mut conn = self.conn();
        let (members, states, change): (Vec<String>, Vec<String>, u8) = self
            .call("presence join", inv.invoke_async(&mut conn))
            .await?;
        if change & 1 == 1 {
            self.sink.presence_changed(PresenceChange::Joined {
                room: room.to_owned(),
                member: member.clone(),
                first: change == 3,
            });
        }
        Ok(with_states(&members, &states))
    }

    /// Sets (`None`: clears) a user's state in `room`; a present member's
    /// change goes out as an `updates` diff.
    pub(super) async fn set_state(
        &self,
        room: &str,
        user_id: &str,
        state: Option<&Json>,
    ) -> Result<()> {
        let mut inv = self.scripts.state.prepare_invoke();
        inv.key(self.keys.members(room))
            .key(self.keys.states(room))
            .key(self.keys.room_channel(room))
            .arg(user_id)
            .arg(state.map_or("", Json::text))
            .arg(diff_prefix(room, "updates"));
        let mut conn = self.conn();
        self.call("member state", inv.invoke_async::<i64>(&mut conn))
            .await
            .map(drop)
    }

    async fn restore_script(&self, room: &str, member: &Member, n: u64) -> Result<()> {
        let k = &self.keys;
        let joins = json(&Presence {
            room: room.to_owned(),
            joins: vec![member.clone()],
            ..Presence::default()
        });
        let leaves = format!("{{\"room\":{},\"leaves\":[", json(&room));
        if n > 0 {
            self.index(room).await?;
        }
        let (count_key, count_field) = k.node_room_count(&self.node, room);
        let mut inv = self.scripts.restore.prepare_invoke();
        inv.key(k.members(room))
            .key(k.counts(room))
            .key(k.node_counts(room))
            .key(count_key)
            .key(k.room_channel(room))
            .arg(&member.id)
            .arg(&self.node)
            .arg(json(member))
            .arg(count_field)
            .arg(n)
            .arg(joins)
            .arg(leaves);
        let mut conn = self.conn();
        self.call("presence restore", inv.invoke_async::<i64>(&mut conn))
            .await
            .map(drop)
    }

    pub(super) async fn leave_script(&self, room: &str, user_id: &str) -> Result<()> {
        let k = &self.keys;
        let prefix = format!("{{\"room\":{},\"leaves\":[", json(&room));
        let (count_key, count_field) = k.node_room_count(&self.node, room);
        let mut inv = self.scripts.leave.prepare_invoke();
        inv.key(k.members(room))
            .key(k.counts(room))
            .key(k.node_counts(room))
            .key(count_key)
            .key(k.room_channel(room))
            .arg(user_id)
            .arg(&self.node)
            .arg(count_field)
            .arg(prefix);
        let mut conn = self.conn();
        let (change, member): (u8, String) = self
            .call("presence leave", inv.invoke_async(&mut conn))
            .await?;
        if change & 2 == 2 {
            self.left(room, &member, change == 6);
        }
        Ok(())
    }

    /// Reports that the user of `member` (their stored JSON) left `room`.
    fn left(&self, room: &str, member: &str, last: bool) {
        match serde_json::from_str::<Member>(member) {
            Ok(member) => self.sink.presence_changed(PresenceChange::Left {
                room: room.to_owned(),
                member,
                last,
            }),
            Err(e) => tracing::warn!(room, error = %e, "unreadable member in presence"),
        }
    }

    /// One heartbeat: refresh this node, restore its presence if it was
    /// reaped (or Redis lost it), retry failed leaves, reap dead nodes;
    /// on a cluster, prune the node's index every `PRUNE_EVERY` beats.
    pub(super) async fn heartbeat(&self, beat: u64) -> Result<()> {
        let mut conn = self.conn();
        let now = now_ms();
        let added: i64 = self
            .call(
                "heartbeat",
                redis::cmd("ZADD")
                    .arg(self.keys.nodes())
                    .arg(now)
                    .arg(&self.node)
                    .query_async(&mut conn),
            )
            .await?;
        let again = self.restore_again.swap(false, Relaxed);
        let keys: Vec<(String, String)> = {
            let mut local = self.local();
            let mut keys: Vec<_> = local.dirty.drain().collect();
            if added == 1 || again {
                // Reaped meanwhile, or Redis lost its data: re-add everything.
                if added == 1 && !local.presence.is_empty() {
                    tracing::warn!(
                        node = %self.node,
                        shard = %self.label,
                        entries = local.presence.len(),
                        "this node was missing from Redis presence; restoring it"
                    );
                }
                keys.extend(local.presence.keys().cloned());
            }
            keys
        };
        if added == 1 && self.keys.cluster {
            // A reaper may still be cleaning rooms restored now.
            self.restore_again.store(true, Relaxed);
        }
        for (i, (room, user)) in keys.iter().enumerate() {
            let entry = self
                .local()
                .presence
                .get(&(room.clone(), user.clone()))
                .cloned();
            let (member, n) = entry.unwrap_or_else(|| (Member::new(user.clone(), user.clone()), 0));
            if let Err(e) = self.restore_script(room, &member, n).await {
                self.local().dirty.extend(keys[i..].iter().cloned());
                return Err(e);
            }
        }
        let cutoff = now.saturating_sub(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX));
        let dead: Vec<String> = self
            .call(
                "find dead nodes",
                redis::cmd("ZRANGEBYSCORE")
                    .arg(self.keys.nodes())
                    .arg("-inf")
                    .arg(cutoff)
                    .query_async(&mut conn),
            )
            .await?;
        for node in dead.into_iter().filter(|n| *n != self.node) {
            if self.keys.cluster {
                self.reap_cluster(&node, cutoff).await?;
                continue;
            }
            let mut inv = self.scripts.reap.prepare_invoke();
            inv.key(self.keys.nodes())
                .arg(&self.keys.prefix)
                .arg(&node)
                .arg(cutoff);
            let (rooms, leaves): (i64, Vec<String>) =
                self.call("reap", inv.invoke_async(&mut conn)).await?;
            for leave in leaves.chunks_exact(3) {
                self.left(&leave[0], &leave[1], leave[2] == "1");
            }
            if rooms >= 0 {
                tracing::info!(dead = %node, rooms, shard = %self.label, "reaped the presence of a silent node");
            }
        }
        if self.keys.cluster && beat % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.prune_index().await?;
        }
        Ok(())
    }

    /// Cluster: claims a dead node and removes its connections room by room.
    async fn reap_cluster(&self, node: &str, cutoff: u64) -> Result<()> {
        let mut conn = self.conn();
        let mut inv = self.scripts.claim.prepare_invoke();
        inv.key(self.keys.nodes())
            .key(self.keys.node_rooms(node))
            .arg(node)
            .arg(cutoff);
        let rooms: Option<Vec<String>> = self.call("claim", inv.invoke_async(&mut conn)).await?;
        let Some(rooms) = rooms else { return Ok(()) };
        let mut left = 0i64;
        for room in &rooms {
            let k = &self.keys;
            let mut inv = self.scripts.reap_room.prepare_invoke();
            inv.key(k.members(room))
                .key(k.counts(room))
                .key(k.node_counts(room))
                .key(k.room_channel(room))
                .key(k.node_room_count(node, room).0)
                .arg(node)
                .arg(diff_prefix(room, "leaves"));
            match self
                .call("reap room", inv.invoke_async::<Vec<String>>(&mut conn))
                .await
            {
                Ok(leaves) => {
                    for leave in leaves.chunks_exact(2) {
                        self.left(room, &leave[0], leave[1] == "1");
                        left += 1;
                    }
                }
                Err(e) => {
                    tracing::warn!(dead = %node, room, error = %e, "cannot reap a room of a silent node")
                }
            }
        }
        tracing::info!(dead = %node, rooms = rooms.len(), users_left = left, "reaped the presence of a silent node");
        Ok(())
    }

    /// Cluster: removes from this node's index the rooms it has no
    /// presence in (joins wait meanwhile).
    async fn prune_index(&self) -> Result<()> {
        let _alone = self.index_lock.write().await;
        let mut conn = self.conn();
        let key = self.keys.node_rooms(&self.node);
        let indexed: Vec<String> = self
            .call(
                "read index",
                redis::cmd("SMEMBERS").arg(&key).query_async(&mut conn),
            )
            .await?;
        let stale: Vec<String> = {
            let local = self.local();
            let live: std::collections::HashSet<&str> = local
                .presence
                .keys()
                .chain(local.dirty.iter())
                .map(|(room, _)| room.as_str())
                .collect();
            indexed
                .into_iter()
                .filter(|r| !live.contains(r.as_str()))
                .collect()
        };
        if !stale.is_empty() {
            self.call(
                "prune index",
                redis::cmd("SREM")
                    .arg(&key)
                    .arg(&stale)
                    .query_async::<i64>(&mut conn),
            )
            .await?;
        }
        Ok(())
    }
}

/// Cluster: the node's index is pruned every this many heartbeats.
const PRUNE_EVERY: u64 = 10;

/// A presence diff's JSON up to its member list, `{"room":R,"<list>":[`;
/// the scripts add the member (with its room state) and `]}`.
fn diff_prefix(room: &str, list: &str) -> String {
    format!("{{\"room\":{},\"{list}\":[", json(&room))
}

/// Members from their stored JSON, each with their state from `states`
/// (`[user, state, user, state, …]`, as HGETALL answers), sorted by id.
pub(super) fn with_states(members: &[String], states: &[String]) -> Vec<Member> {
    let states: std::collections::HashMap<&str, &str> = states
        .chunks_exact(2)
        .map(|kv| (kv[0].as_str(), kv[1].as_str()))
        .collect();
    let mut out: Vec<Member> = members
        .iter()
        .filter_map(|m| serde_json::from_str::<Member>(m).ok())
        .map(|mut m| {
            m.state = states.get(m.id.as_str()).and_then(|s| Json::parse(s).ok());
            m
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}
