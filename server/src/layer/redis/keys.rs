//! Key and channel names of the Redis layer (the table in the module docs).

use confab_protocol::dm_members;

/// Key and channel names under one prefix.
#[derive(Debug, Clone)]
pub(super) struct Keys(pub(super) String);

impl Keys {
    pub(super) fn epoch(&self) -> String {
        format!("{}:epoch", self.0)
    }
    pub(super) fn head(&self, room: &str) -> String {
        format!("{}:h:{room}", self.0)
    }
    pub(super) fn stream(&self, room: &str) -> String {
        format!("{}:s:{room}", self.0)
    }
    pub(super) fn room_channel(&self, room: &str) -> String {
        format!("{}:c:{room}", self.0)
    }
    pub(super) fn user_channel(&self, user: &str) -> String {
        format!("{}:u:{user}", self.0)
    }
    /// Client message id → `offset|ts` (exactly-once publishing).
    pub(super) fn cids(&self, room: &str) -> String {
        format!("{}:cid:{room}", self.0)
    }
    /// Client message id → its time, to forget old ids in order.
    pub(super) fn cid_times(&self, room: &str) -> String {
        format!("{}:cidt:{room}", self.0)
    }
    /// User → their state JSON in the room (kept while they are away).
    pub(super) fn states(&self, room: &str) -> String {
        format!("{}:ps:{room}", self.0)
    }
    pub(super) fn members(&self, room: &str) -> String {
        format!("{}:pm:{room}", self.0)
    }
    pub(super) fn counts(&self, room: &str) -> String {
        format!("{}:pc:{room}", self.0)
    }
    pub(super) fn node_counts(&self, room: &str) -> String {
        format!("{}:pn:{room}", self.0)
    }
    pub(super) fn node_rooms(&self, node: &str) -> String {
        format!("{}:nr:{node}", self.0)
    }
    pub(super) fn nodes(&self) -> String {
        format!("{}:nodes", self.0)
    }
    /// Where a message of `room` is published.
    pub(super) fn message_channels(&self, room: &str) -> Vec<String> {
        match dm_members(room) {
            Some((a, b)) if a == b => vec![self.user_channel(a)],
            Some((a, b)) => vec![self.user_channel(a), self.user_channel(b)],
            None => vec![self.room_channel(room)],
        }
    }
}
