//! Presence in Redis: who is in each room, counted per node, and the
//! node's own mirror of its connections, which it restores Redis from when
//! Redis lost it or another node reaped this one. Every node refreshes its
//! score in `P:nodes`; any node reaps a node silent for the presence TTL.

use confab_protocol::{Json, Member, Presence};

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
        let mut conn = self.conn.clone();
        self.call("presence update", inv.invoke_async::<i64>(&mut conn))
            .await
            .map(drop)
    }

    pub(super) async fn join_script(
        &self,
        room: &str,
        member: &Member,
        n: u64,
    ) -> Result<Vec<Member>> {
        let k = &self.keys;
        let mut inv = self.scripts.join.prepare_invoke();
        inv.key(k.members(room))
            .key(k.counts(room))
            .key(k.node_counts(room))
            .key(k.node_rooms(&self.node))
            .key(k.room_channel(room))
            .key(k.states(room))
            .arg(&member.id)
            .arg(&self.node)
            .arg(json(member))
            .arg(room)
            .arg(n)
            .arg(diff_prefix(room, "joins"));
        let mut conn = self.conn.clone();
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
        let mut conn = self.conn.clone();
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
        let mut inv = self.scripts.restore.prepare_invoke();
        inv.key(k.members(room))
            .key(k.counts(room))
            .key(k.node_counts(room))
            .key(k.node_rooms(&self.node))
            .key(k.room_channel(room))
            .arg(&member.id)
            .arg(&self.node)
            .arg(json(member))
            .arg(room)
            .arg(n)
            .arg(joins)
            .arg(leaves);
        let mut conn = self.conn.clone();
        self.call("presence restore", inv.invoke_async::<i64>(&mut conn))
            .await
            .map(drop)
    }

    pub(super) async fn leave_script(&self, room: &str, user_id: &str) -> Result<()> {
        let k = &self.keys;
        let prefix = format!("{{\"room\":{},\"leaves\":[", json(&room));
        let mut inv = self.scripts.leave.prepare_invoke();
        inv.key(k.members(room))
            .key(k.counts(room))
            .key(k.node_counts(room))
            .key(k.node_rooms(&self.node))
            .key(k.room_channel(room))
            .arg(user_id)
            .arg(&self.node)
            .arg(room)
            .arg(prefix);
        let mut conn = self.conn.clone();
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
    /// reaped (or Redis lost it), retry failed leaves, reap dead nodes.
    pub(super) async fn heartbeat(&self) -> Result<()> {
        let mut conn = self.conn.clone();
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
        let keys: Vec<(String, String)> = {
            let mut local = self.local();
            let mut keys: Vec<_> = local.dirty.drain().collect();
            if added == 1 {
                // Reaped meanwhile, or Redis lost its data: re-add everything.
                if !local.presence.is_empty() {
                    tracing::warn!(
                        node = %self.node,
                        entries = local.presence.len(),
                        "this node was missing from Redis presence; restoring it"
                    );
                }
                keys.extend(local.presence.keys().cloned());
            }
            keys
        };
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
            let mut inv = self.scripts.reap.prepare_invoke();
            inv.key(self.keys.nodes())
                .arg(&self.keys.0)
                .arg(&node)
                .arg(cutoff);
            let (rooms, leaves): (i64, Vec<String>) =
                self.call("reap", inv.invoke_async(&mut conn)).await?;
            for leave in leaves.chunks_exact(3) {
                self.left(&leave[0], &leave[1], leave[2] == "1");
            }
            if rooms >= 0 {
                tracing::info!(dead = %node, rooms, "reaped the presence of a silent node");
            }
        }
        Ok(())
    }
}

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
