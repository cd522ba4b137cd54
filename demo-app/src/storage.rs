//! The display name and the guest identity remembered in `localStorage`.

const NAME_KEY: &str = "confab.name";
const GUEST_KEY: &str = "confab.guest";

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

fn save(key: &str, value: &str) {
    if let Some(s) = storage() {
        // Private modes may refuse to store: the value is then asked or
        // made again.
        let _ = s.set_item(key, value);
    }
}
