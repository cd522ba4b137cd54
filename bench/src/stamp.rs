//! The stamp every benchmark message carries: `<publisher>:<seq>:<sent_us>`.
//!
//! It travels as a JSON string (`{"message":"3:17:123456"}` for the seed and
//! Socket.IO shapes, `"payload":"3:17:123456"` for Confab), so it survives
//! servers that only forward the `message` field.

use std::sync::OnceLock;
use std::time::Instant;

static CLOCK: OnceLock<Instant> = OnceLock::new();

/// Microseconds on the process-wide monotonic benchmark clock. Sender and
/// receivers live in the same process, so differences are end-to-end latency.
pub fn now_us() -> u64 {
    u64::try_from(CLOCK.get_or_init(Instant::now).elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Who sent a message, its per-publisher sequence number and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Publisher id (unique within one run).
    pub publisher: u32,
    /// Per-publisher sequence number, from 0, +1 per message.
    pub seq: u64,
    /// [`now_us`] when the frame was handed to the socket.
    pub sent_us: u64,
}

impl Stamp {
    /// `"<publisher>:<seq>:<sent_us>"`.
    pub fn encode(&self) -> String {
        format!("{}:{}:{}", self.publisher, self.seq, self.sent_us)
    }

    /// Parses [`Stamp::encode`]'s output.
    ///
    /// ```
    /// use confab_bench::Stamp;
    /// assert_eq!(Stamp::parse("1:2:3"), Some(Stamp { publisher: 1, seq: 2, sent_us: 3 }));
    /// assert_eq!(Stamp::parse("1:2"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Self> {
        let mut it = s.split(':');
        let publisher = it.next()?.parse().ok()?;
        let seq = it.next()?.parse().ok()?;
        let sent_us = it.next()?.parse().ok()?;
        it.next().is_none().then_some(Self {
            publisher,
            seq,
            sent_us,
        })
    }

    /// Finds the stamp in the string value of the first `"key"` field of a
    /// JSON frame without parsing the whole frame (the receive path must stay
    /// cheap: the load generator is often the bottleneck). Tolerates the
    /// whitespace Python's `json.dumps` adds; skips `"key"` used as a value.
    ///
    /// ```
    /// use confab_bench::Stamp;
    /// let f = r#"{"type":"message","room":"r","offset":4,"payload":"7:1:99"}"#;
    /// assert_eq!(Stamp::find(f, "payload").map(|s| s.publisher), Some(7));
    /// assert_eq!(Stamp::find(r#"42["chat",{"message":"1:2:3"}]"#, "message").map(|s| s.seq), Some(2));
    /// assert_eq!(Stamp::find(r#"{"type":"message"}"#, "message"), None);
    /// ```
    pub fn find(frame: &str, key: &str) -> Option<Self> {
        let mut rest = frame;
        loop {
            let at = rest.find(key)?;
            // The key must be quoted: `"key"`.
            let before_ok = at > 0 && rest.as_bytes()[at - 1] == b'"';
            let after = &rest[at + key.len()..];
            rest = after;
            if !before_ok {
                continue;
            }
            let Some(after) = after.strip_prefix('"') else {
                continue;
            };
            let after = after.trim_start();
            let Some(after) = after.strip_prefix(':') else {
                continue;
            };
            let Some(value) = after.trim_start().strip_prefix('"') else {
                continue;
            };
            let end = value.find('"')?;
            return Self::parse(&value[..end]);
        }
    }
}
