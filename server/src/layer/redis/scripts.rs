//! The layer's Lua scripts, one `.lua` file each (every script reads and
//! writes the keys of one room, or one node's index, atomically).

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
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            publish: Script::new(include_str!("lua/publish.lua")),
            history: Script::new(include_str!("lua/history.lua")),
            join: Script::new(include_str!("lua/join.lua")),
            leave: Script::new(include_str!("lua/leave.lua")),
            update: Script::new(include_str!("lua/update.lua")),
            restore: Script::new(include_str!("lua/restore.lua")),
            reap: Script::new(include_str!("lua/reap.lua")),
            page: Script::new(include_str!("lua/page.lua")),
            state: Script::new(include_str!("lua/state.lua")),
        }
    }
}
