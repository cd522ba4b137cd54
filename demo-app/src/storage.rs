//! The display name, the guest identity, a user token and the ids this
//! browser has been, remembered in `localStorage`.

use js_sys::{Array, Object, Reflect, JSON};
use wasm_bindgen::JsValue;

const NAME_KEY: &str = "confab.name";
const TOKEN_KEY: &str = "confab.token";
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

/// A user token given in the page's address (`…/?token=JWT#room`, as
/// `confab-server token` prints it) is remembered and taken out of the
/// address (so it is not shared with the link); returns the remembered
/// token, if any. With a token the page is that user, not a guest.
pub fn take_token() -> Option<String> {
    let window = web_sys::window()?;
    let location = window.location();
    let search = location.search().ok().unwrap_or_default();
    let given = search
        .trim_start_matches('?')
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(|t| String::from(js_sys::decode_uri_component(t).unwrap_or_else(|_| t.into())));
    if let Some(token) = given.filter(|t| !t.is_empty()) {
        save(TOKEN_KEY, &token);
        let clean = location.pathname().unwrap_or_default() + &location.hash().unwrap_or_default();
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&clean));
        }
    }
    storage()?.get_item(TOKEN_KEY).ok().flatten()
}

/// The rooms a user token grants by name (its `rooms` claim: patterns to
/// actions; those without wildcards that include `join`), to list and
/// join: a private room is shown to those with a grant only. The token is
/// the server's to check: this only decodes its payload.
pub fn granted_rooms(token: &str) -> Vec<String> {
    let Some(claims) = jwt_payload(token) else {
        return Vec::new();
    };
    let rooms = Reflect::get(&claims, &"rooms".into()).unwrap_or(JsValue::UNDEFINED);
    if !rooms.is_object() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for pattern in Object::keys(&rooms.clone().into()).iter() {
        let Some(pattern) = pattern.as_string() else {
            continue;
        };
        let actions = Reflect::get(&rooms, &pattern.as_str().into()).unwrap_or(JsValue::UNDEFINED);
        let joins = actions.as_string().is_some_and(|a| a == "all")
            || Array::from(&actions)
                .iter()
                .any(|a| a.as_string().is_some_and(|a| a == "join" || a == "all"));
        if joins && !pattern.contains('*') && confab_protocol::validate_room_name(&pattern).is_ok()
        {
            out.push(pattern);
        }
    }
    out
}

/// The JSON payload of a JWT (base64url between the first two dots).
fn jwt_payload(token: &str) -> Option<JsValue> {
    let part = token.split('.').nth(1)?;
    let mut b64: String = part
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while b64.len() % 4 != 0 {
        b64.push('=');
    }
    let text = web_sys::window()?.atob(&b64).ok()?;
    JSON::parse(&text).ok()
}
