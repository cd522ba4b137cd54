//! The server's one wall clock: message timestamps (ms) and token times (s).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (message `ts`, pong, presence TTLs).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Seconds since the Unix epoch (token `exp`/`iat`).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
