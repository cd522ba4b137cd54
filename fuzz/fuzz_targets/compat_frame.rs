//! The seed-compatible frame parser (`/ws/chat/{room}/`, `/ws/echo/`,
//! `/ws/game/{room}/`): never panics; the stored payload is valid JSON,
//! `{"message": m}` when a string `message` was found, else the frame text
//! as a JSON string. Compat room names are checked too.
#![no_main]

use confab_server::endpoints::compat::{compat_payload, valid_compat_room};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if valid_compat_room(text) {
        assert!(text.len() <= 100 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    }
    let (message, payload) = compat_payload(text);
    // Deeply nested payload text is fine for the server (it is kept raw),
    // but the verbatim case is a JSON string, always parseable.
    let parsed: Result<Value, _> = serde_json::from_str(payload.get());
    match message {
        Some(m) => {
            let v = parsed.unwrap_or_else(|e| panic!("{e}: {}", payload.get()));
            assert_eq!(v, serde_json::json!({ "message": m }));
        }
        None => {
            let v = parsed.unwrap_or_else(|e| panic!("{e}: {}", payload.get()));
            assert_eq!(v, Value::String(text.to_owned()));
        }
    }
});
