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
