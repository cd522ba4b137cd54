//! The display name, the guest identity and the ids this browser has been,
//! remembered in `localStorage`.

const NAME_KEY: &str = "confab.name";
const GUEST_KEY: &str = "confab.guest";
const IDS_KEY: &str = "confab.ids";
/// How many earlier ids are remembered.
const KEEP_IDS: usize = 8;

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The name chosen on an earlier visit, if any.
pub fn load_name() -> Option<String> {
    storage()?
        .get_item(NAME_KEY)
        .ok()
        .flatten()
        .filter(|n| !n.trim().is_empty())
}

/// Remembers `name` for the next visit (silently skipped if storage is off).
pub fn save_name(name: &str) {
    save(NAME_KEY, name);
}

/// The SDK's guest token from an earlier visit: connecting with it makes a
/// reloaded page the same guest (same id, same DMs).
pub fn load_guest_token() -> Option<String> {
    storage()?.get_item(GUEST_KEY).ok().flatten()
}

/// Remembers the latest guest token (it is refreshed on every `welcome`).
pub fn save_guest_token(token: &str) {
    save(GUEST_KEY, token);
}

/// Adds `id` to the user ids this browser has been (newest last, at most
/// [`KEEP_IDS`]) and returns them all: a guest the server forgot is given a
/// new id, and what it wrote under the old one is still its own.
pub fn remember_own_id(id: &str) -> Vec<String> {
    let stored = storage().and_then(|s| s.get_item(IDS_KEY).ok().flatten());
    let mut ids: Vec<String> = stored
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|i| !i.is_empty() && *i != id)
        .map(str::to_owned)
        .collect();
    ids.push(id.to_owned());
    let excess = ids.len().saturating_sub(KEEP_IDS);
    ids.drain(..excess);
    save(IDS_KEY, &ids.join(" "));
    ids
}

fn save(key: &str, value: &str) {
    if let Some(s) = storage() {
        // Private modes may refuse to store: the value is then asked or
        // made again.
        let _ = s.set_item(key, value);
    }
}
