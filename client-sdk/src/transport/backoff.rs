//! Reconnect delays: exponential backoff with full jitter, as a pure function.

use std::time::Duration;

/// Backoff settings. `delay(attempt)` grows as `min · 2^(attempt-1)`, capped
/// at `max`, and full jitter picks uniformly in `[min, that]` (never below
/// `min`, so a flapping server is not hammered).
///
/// ```
/// use std::time::Duration;
/// use confab_client::Backoff;
/// let b = Backoff::default();
/// assert_eq!(b.delay(1, 1.0), Duration::from_millis(250));
/// assert_eq!(b.delay(3, 1.0), Duration::from_millis(1000));
/// assert_eq!(b.delay(30, 1.0), Duration::from_secs(10));
/// assert_eq!(b.delay(30, 0.0), Duration::from_millis(250));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Smallest delay (default 250 ms).
    pub min: Duration,
    /// Largest delay (default 10 s).
    pub max: Duration,
    /// A connection open at least this long counts as stable: the attempt
    /// counter restarts from 1 after it drops (default 5 s).
    pub stable_after: Duration,
    /// Give up (state `Closed`) after this many failed attempts in a row;
    /// `None` (default) retries forever.
    pub max_attempts: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            min: Duration::from_millis(250),
            max: Duration::from_secs(10),
            stable_after: Duration::from_secs(5),
            max_attempts: None,
        }
    }
}

impl Backoff {
    /// The delay before reconnect attempt `attempt` (1-based), given a
    /// uniform random `sample` in `[0, 1]`. Pure: same inputs, same output.
    pub fn delay(&self, attempt: u32, sample: f64) -> Duration {
        confab_protocol::backoff_delay(self.min, self.max, attempt, sample)
    }
}

/// Counts consecutive failed connection attempts; pure, driven by the
/// socket with timestamps in milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Attempts {
    failed: u32,
    opened_at: Option<f64>,
}

impl Attempts {
    /// The link opened at `now_ms`.
    pub(crate) fn opened(&mut self, now_ms: f64) {
        self.opened_at = Some(now_ms);
    }

    /// The link closed (or failed to open) at `now_ms`; returns the number
    /// of the next attempt (1 after a stable connection).
    pub(crate) fn closed(&mut self, now_ms: f64, backoff: &Backoff) -> u32 {
        match self.opened_at.take() {
            Some(t) if now_ms - t >= backoff.stable_after.as_millis() as f64 => self.failed = 1,
            _ => self.failed = self.failed.saturating_add(1),
        }
        self.failed
    }

    /// Whether the failures in a row are beyond `max_attempts`.
    pub(crate) fn exhausted(&self, backoff: &Backoff) -> bool {
        backoff.max_attempts.is_some_and(|m| self.failed > m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The curve itself (growth, cap, jitter, odd samples) is tested in
    /// confab-protocol's `backoff_delay`; here only that the settings reach it.
    #[test]
    fn delay_is_the_protocol_curve_with_these_bounds() {
        let b = Backoff::default();
        assert_eq!(b.delay(3, 0.5), ms(625));
        let custom = Backoff {
            min: ms(10),
            max: ms(15),
            ..Backoff::default()
        };
        for (attempt, sample) in [(1, 0.0), (2, 0.5), (5, 1.0), (40, 0.3)] {
            assert_eq!(
                custom.delay(attempt, sample),
                confab_protocol::backoff_delay(ms(10), ms(15), attempt, sample)
            );
        }
    }

    #[test]
    fn attempts_reset_after_stable_connection_only() {
        let b = Backoff::default();
        let mut a = Attempts::default();
        assert_eq!(a.closed(0.0, &b), 1); // never opened
        assert_eq!(a.closed(100.0, &b), 2);
        a.opened(1000.0);
        assert_eq!(a.closed(2000.0, &b), 3); // open only 1 s: flapping
        a.opened(3000.0);
        assert_eq!(a.closed(9000.0, &b), 1); // open 6 s: stable, start over
        assert_eq!(a.closed(9100.0, &b), 2);
    }

    #[test]
    fn max_attempts() {
        let b = Backoff {
            max_attempts: Some(2),
            ..Backoff::default()
        };
        let mut a = Attempts::default();
        a.closed(0.0, &b);
        a.closed(0.0, &b);
        assert!(!a.exhausted(&b));
        a.closed(0.0, &b);
        assert!(a.exhausted(&b));
        assert!(!Attempts::default().exhausted(&Backoff::default()));
    }
}
