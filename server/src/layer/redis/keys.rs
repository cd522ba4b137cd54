//! Key and channel names of the Redis layer (the table in the module docs).
//!
//! On a single Redis (or each shard) the names are `P:h:room`. On Redis
//! Cluster every key of a room carries the room as its hash tag,
//! `P:h:{room}`, so the room's keys and its channel live in one slot and
//! each Lua step stays on one node; the node index and heartbeats share the
//! tag `{nodes}`, and each room has its own epoch key (a slot's data can be
//! lost without the others').

use confab_protocol::dm_members;

/// Key and channel names under one prefix.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    /// `--redis-prefix`.
    pub(super) prefix: String,
    /// Redis Cluster naming (hash tags).
    pub(super) cluster: bool,
}

impl Keys {
    pub(super) fn new(prefix: &str, cluster: bool) -> Self {
        Self {
            prefix: prefix.to_owned(),
            cluster,
        }
    }

    /// `P:{kind}:{room}`: the room as the hash tag on a cluster.
    fn room_key(&self, kind: &str, room: &str) -> String {
        if self.cluster {
            format!("{}:{kind}:{{{room}}}", self.prefix)
        } else {
            format!("{}:{kind}:{room}", self.prefix)
        }
    }

    /// The history epoch `room`'s offsets count in: one per Redis (shard),
    /// one per room on a cluster. Also the name of the epoch's scope in the
    /// listener (rooms sharing it lose their history together).
    pub(super) fn epoch(&self, room: &str) -> String {
        if self.cluster {
            self.room_key("e", room)
        } else {
            format!("{}:epoch", self.prefix)
        }
    }
    pub(super) fn head(&self, room: &str) -> String {
        self.room_key("h", room)
    }
    pub(super) fn stream(&self, room: &str) -> String {
        self.room_key("s", room)
    }
    pub(super) fn room_channel(&self, room: &str) -> String {
        self.room_key("c", room)
    }
    pub(super) fn user_channel(&self, user: &str) -> String {
        self.room_key("u", user)
    }
    /// Client message id → `offset|ts` (exactly-once publishing).
    pub(super) fn cids(&self, room: &str) -> String {
        self.room_key("cid", room)
    }
    /// Client message id → its time, to forget old ids in order.
    pub(super) fn cid_times(&self, room: &str) -> String {
        self.room_key("cidt", room)
    }
    /// User → their state JSON in the room (kept while they are away).
    pub(super) fn states(&self, room: &str) -> String {
        self.room_key("ps", room)
    }
    pub(super) fn members(&self, room: &str) -> String {
        self.room_key("pm", room)
    }
    pub(super) fn counts(&self, room: &str) -> String {
        self.room_key("pc", room)
    }
    pub(super) fn node_counts(&self, room: &str) -> String {
        self.room_key("pn", room)
    }
    /// The node's index of its rooms: a hash room → connections on one
    /// Redis (kept by the presence scripts), a set of rooms on a cluster
    /// (kept beside them, see `presence.rs`).
    pub(super) fn node_rooms(&self, node: &str) -> String {
        if self.cluster {
            format!("{}:{{nodes}}:nr:{node}", self.prefix)
        } else {
            format!("{}:nr:{node}", self.prefix)
        }
    }
    pub(super) fn nodes(&self) -> String {
        if self.cluster {
            format!("{}:{{nodes}}", self.prefix)
        } else {
            format!("{}:nodes", self.prefix)
        }
    }
    /// The key and field the presence scripts count a node's connections of
    /// `room` in: the node's index `P:nr:node` (field: the room) on one
    /// Redis; on a cluster a hash of the room's own slot, `P:rn:{room}`
    /// (field: the node), as the node's index lives in another slot.
    pub(super) fn node_room_count(&self, node: &str, room: &str) -> (String, String) {
        if self.cluster {
            (self.room_key("rn", room), node.to_owned())
        } else {
            (self.node_rooms(node), room.to_owned())
        }
    }
    /// The guest-token secret every node shares.
    pub(super) fn guest_key(&self) -> String {
        format!("{}:guest-key", self.prefix)
    }
    /// Where a message of `room` is published.
    pub(super) fn message_channels(&self, room: &str) -> Vec<String> {
        match dm_members(room) {
            Some((a, b)) if a == b => vec![self.user_channel(a)],
            Some((a, b)) => vec![self.user_channel(a), self.user_channel(b)],
            None => vec![self.room_channel(room)],
        }
    }
    /// The channels a publish script of `room` publishes to itself: all of
    /// them on one Redis; on a cluster only the room channel (a DM's user
    /// channels are in other slots: the node publishes to them after).
    pub(super) fn script_channels(&self, room: &str) -> Vec<String> {
        if self.cluster && dm_members(room).is_some() {
            Vec::new()
        } else {
            self.message_channels(room)
        }
    }
    /// The PUBLISH command of this topology (sharded pub/sub on a cluster).
    pub(super) fn publish_cmd(&self) -> &'static str {
        if self.cluster {
            "SPUBLISH"
        } else {
            "PUBLISH"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_redis_names_are_unchanged_and_cluster_names_share_a_tag() {
        let k = Keys::new("P", false);
        assert_eq!(k.head("lobby"), "P:h:lobby");
        assert_eq!(k.epoch("lobby"), "P:epoch");
        assert_eq!(k.node_rooms("n1"), "P:nr:n1");
        assert_eq!(
            k.node_room_count("n1", "lobby"),
            ("P:nr:n1".into(), "lobby".into())
        );
        assert_eq!(k.script_channels("dm:a:b"), ["P:u:a", "P:u:b"]);
        let c = Keys::new("P", true);
        for key in [
            c.head("lobby"),
            c.stream("lobby"),
            c.epoch("lobby"),
            c.room_channel("lobby"),
            c.cids("lobby"),
            c.cid_times("lobby"),
            c.states("lobby"),
            c.members("lobby"),
            c.counts("lobby"),
            c.node_counts("lobby"),
            c.node_room_count("n1", "lobby").0,
        ] {
            assert!(key.ends_with(":{lobby}"), "{key}");
        }
        assert_eq!(c.nodes(), "P:{nodes}");
        assert!(c.node_rooms("n1").starts_with("P:{nodes}:"));
        assert!(c.script_channels("dm:a:b").is_empty());
        assert_eq!(c.message_channels("dm:a:b"), ["P:u:{a}", "P:u:{b}"]);
    }
}
