//! The display name remembered in `localStorage`.

const NAME_KEY: &str = "confab.name";

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
    if let Some(s) = storage() {
        // Private modes may refuse to store: the name is then asked again.
        let _ = s.set_item(NAME_KEY, name);
    }
}
