//! Per-connection inbound rate limiting.

use std::time::Instant;

/// Outcome of [`RateLimiter::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Within the limit: process the frame.
    Allow,
    /// Over the limit: reject this frame (`rate_limited`).
    Limited,
    /// Over the limit for too many frames in a row: close with 1008.
    Abuse,
}

/// A token bucket: `rate` frames per second sustained, `burst` at once;
/// `abuse_limit` rejected frames in a row mean abuse.
///
/// ```
/// use confab_server::limits::{RateDecision, RateLimiter};
/// let mut r = RateLimiter::new(1, 2, 2);
/// assert_eq!(r.check(), RateDecision::Allow);
/// assert_eq!(r.check(), RateDecision::Allow);
/// assert_eq!(r.check(), RateDecision::Limited);
/// assert_eq!(r.check(), RateDecision::Limited);
/// assert_eq!(r.check(), RateDecision::Abuse);
/// ```
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    rejected_in_row: u32,
    abuse_limit: u32,
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(rate_per_sec: u32, burst: u32, abuse_limit: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: f64::from(rate_per_sec),
            burst,
            tokens: burst,
            last: Instant::now(),
            rejected_in_row: 0,
            abuse_limit,
        }
    }

    /// Accounts for one inbound frame.
    pub fn check(&mut self) -> RateDecision {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.rejected_in_row = 0;
            RateDecision::Allow
        } else {
            self.rejected_in_row = self.rejected_in_row.saturating_add(1);
            if self.rejected_in_row > self.abuse_limit {
                RateDecision::Abuse
            } else {
                RateDecision::Limited
            }
        }
    }
}

/// Deepest nesting of `[` / `{` a published payload may have. serde_json
/// (the SDK, most servers) refuses documents nested deeper than 128, so a
/// deeper payload would be stored and broadcast yet undecodable by its
/// receivers; 64 leaves room for the envelope around it.
pub const MAX_PAYLOAD_DEPTH: usize = 64;

/// Whether the JSON text `raw` nests arrays/objects deeper than `max`: one
/// pass over the bytes counting `[` and `{` outside strings (no parsing, no
/// recursion).
///
/// ```
/// use confab_server::limits::nesting_exceeds;
/// assert!(!nesting_exceeds(r#"{"a":[1,{"b":"[[[["}]}"#, 3));
/// assert!(nesting_exceeds("[[[[]]]]", 3));
/// assert!(!nesting_exceeds(r#""\"[[[[""#, 0));
/// ```
pub fn nesting_exceeds(raw: &str, max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in raw.as_bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}
