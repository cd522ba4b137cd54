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

/// Open WebSockets per client address and in all
/// (`--max-connections-per-ip`, `--max-connections`; 0 = no limit).
#[derive(Debug, Default)]
pub struct ConnLimiter {
    per_ip: u32,
    total: u32,
    open: std::sync::Mutex<ConnCounts>,
}

#[derive(Debug, Default)]
struct ConnCounts {
    total: u32,
    by_ip: std::collections::HashMap<std::net::IpAddr, u32>,
}

/// Why [`ConnLimiter::acquire`] refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnRefusal {
    /// This address has its maximum open (HTTP 429).
    PerIp,
    /// The server has its maximum open (HTTP 503).
    Total,
}

/// One open connection's place in the counts, given back on drop.
#[derive(Debug)]
pub struct ConnPermit {
    limiter: std::sync::Arc<ConnLimiter>,
    ip: Option<std::net::IpAddr>,
}

impl ConnLimiter {
    /// A limiter with the given maxima (0: none).
    pub fn new(per_ip: u32, total: u32) -> Self {
        Self {
            per_ip,
            total,
            open: std::sync::Mutex::default(),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, ConnCounts> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a new connection from `ip` (unknown: only the total limit
    /// applies), or says which limit refuses it.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use confab_server::limits::{ConnLimiter, ConnRefusal};
    /// let l = Arc::new(ConnLimiter::new(2, 3));
    /// let (a, b) = ("10.0.0.1".parse().ok(), "10.0.0.2".parse().ok());
    /// let a1 = l.acquire(a).unwrap();
    /// let _a2 = l.acquire(a).unwrap();
    /// assert_eq!(l.acquire(a).unwrap_err(), ConnRefusal::PerIp);
    /// let _b1 = l.acquire(b).unwrap();
    /// assert_eq!(l.acquire(b).unwrap_err(), ConnRefusal::Total);
    /// drop(a1);
    /// assert!(l.acquire(b).is_ok());
    /// ```
    pub fn acquire(
        self: &std::sync::Arc<Self>,
        ip: Option<std::net::IpAddr>,
    ) -> Result<ConnPermit, ConnRefusal> {
        let mut c = self.counts();
        if self.total > 0 && c.total >= self.total {
            return Err(ConnRefusal::Total);
        }
        if let Some(ip) = ip {
            let n = c.by_ip.entry(ip).or_default();
            if self.per_ip > 0 && *n >= self.per_ip {
                return Err(ConnRefusal::PerIp);
            }
            *n += 1;
        }
        c.total += 1;
        Ok(ConnPermit {
            limiter: self.clone(),
            ip,
        })
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let mut c = self.limiter.counts();
        c.total = c.total.saturating_sub(1);
        if let Some(ip) = self.ip {
            if let Some(n) = c.by_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    c.by_ip.remove(&ip);
                }
            }
        }
    }
}
