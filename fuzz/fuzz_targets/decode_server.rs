//! `confab_protocol::decode_server` (native clients, tests, benchmarks)
//! never panics, and round-trips whatever it accepts.
#![no_main]

use confab_protocol::{decode_server, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(msg) = decode_server(text) {
        let once = encode(&msg);
        let again = decode_server(&once)
            .unwrap_or_else(|e| panic!("re-encoded envelope does not decode: {e}: {once}"));
        assert_eq!(again.kind(), msg.kind());
        assert_eq!(encode(&again), once, "round trip changed the envelope");
    }
});
