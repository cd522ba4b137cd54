//! `confab_protocol::decode_client` (what the server runs on every text
//! frame) never panics; whatever decodes re-encodes to text that decodes to
//! the same envelope (round trip), and the name rules never panic.
#![no_main]

use confab_protocol::{decode_client, encode, normalize_display_name, validate_room_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = validate_room_name(text);
    let _ = normalize_display_name(text);
    match decode_client(text) {
        Ok(msg) => {
            let once = encode(&msg);
            let again = decode_client(&once)
                .unwrap_or_else(|e| panic!("re-encoded envelope does not decode: {e}: {once}"));
            assert_eq!(again.kind(), msg.kind());
            assert_eq!(again.reference(), msg.reference());
            assert_eq!(encode(&again), once, "round trip changed the envelope");
        }
        Err(e) => {
            assert!(!e.message.is_empty());
        }
    }
});
