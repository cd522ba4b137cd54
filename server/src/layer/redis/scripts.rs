//! The layer's Lua scripts, one `.lua` file each (every script reads and
//! writes the keys of one room, or one node's index, atomically; on Redis
//! Cluster every key of a script shares one hash tag).

use redis::Script;

pub(super) struct Scripts {
    pub(super) publish: Script,
    pub(super) history: Script,
    pub(super) join: Script,
    pub(super) leave: Script,
    pub(super) update: Script,
    pub(super) restore: Script,
    pub(super) reap: Script,
    pub(super) page: Script,
    pub(super) state: Script,
    pub(super) fence: Script,
    pub(super) claim: Script,
    pub(super) reap_room: Script,
}

impl Scripts {
    /// The scripts; on a cluster they publish with `SPUBLISH` (sharded
    /// pub/sub: a message goes to the nodes of its slot only, not to every
    /// node of the cluster).
    pub(super) fn new(cluster: bool) -> Self {
        let s = |code: &str| {
            if cluster {
                Script::new(&code.replace("redis.call('PUBLISH',", "redis.call('SPUBLISH',"))
            } else {
                Script::new(code)
            }
        };
        Self {
            publish: s(include_str!("lua/publish.lua")),
            history: s(include_str!("lua/history.lua")),
            join: s(include_str!("lua/join.lua")),
            leave: s(include_str!("lua/leave.lua")),
            update: s(include_str!("lua/update.lua")),
            restore: s(include_str!("lua/restore.lua")),
            reap: s(include_str!("lua/reap.lua")),
            page: s(include_str!("lua/page.lua")),
            state: s(include_str!("lua/state.lua")),
            fence: s(include_str!("lua/fence.lua")),
            claim: s(include_str!("lua/claim.lua")),
            reap_room: s(include_str!("lua/reap_room.lua")),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_publish_in_a_script_becomes_sharded_on_a_cluster() {
        for code in [
            include_str!("lua/publish.lua"),
            include_str!("lua/join.lua"),
            include_str!("lua/leave.lua"),
            include_str!("lua/update.lua"),
            include_str!("lua/restore.lua"),
            include_str!("lua/state.lua"),
            include_str!("lua/reap_room.lua"),
        ] {
            let n = code.matches("'PUBLISH'").count();
            assert!(n > 0);
            assert_eq!(code.matches("redis.call('PUBLISH',").count(), n, "{code}");
        }
    }
}
