//! Reconnect delays: exponential backoff with full jitter, as one pure
//! function shared by every part of Confab that reconnects (the SDK's
//! socket, the server's Redis listener, the benchmark's storm clients).

use std::time::Duration;

/// The delay before reconnect attempt `attempt` (1-based): the ceiling
/// grows as `min · 2^(attempt-1)` up to `max`, and full jitter picks
/// uniformly in `[min, ceiling]` from `sample` (a uniform random number in
/// `[0, 1]`; out-of-range samples are clamped, NaN counts as 1). Never below
/// `min`, so a flapping peer is not hammered. Pure: same inputs, same output.
///
/// ```
/// use std::time::Duration;
/// use confab_protocol::backoff_delay;
/// let (min, max) = (Duration::from_millis(250), Duration::from_secs(10));
/// assert_eq!(backoff_delay(min, max, 1, 1.0), Duration::from_millis(250));
/// assert_eq!(backoff_delay(min, max, 3, 1.0), Duration::from_millis(1000));
/// assert_eq!(backoff_delay(min, max, 3, 0.5), Duration::from_millis(625));
/// assert_eq!(backoff_delay(min, max, 30, 1.0), Duration::from_secs(10));
/// assert_eq!(backoff_delay(min, max, 30, 0.0), Duration::from_millis(250));
/// ```
pub fn backoff_delay(min: Duration, max: Duration, attempt: u32, sample: f64) -> Duration {
    let min = min.as_millis() as f64;
    let max = (max.as_millis() as f64).max(min);
    let exp = attempt.saturating_sub(1).min(52) as i32;
    let ceiling = (min * 2f64.powi(exp)).min(max);
    let sample = if sample.is_nan() {
        1.0
    } else {
        sample.clamp(0.0, 1.0)
    };
    Duration::from_millis((min + (ceiling - min) * sample).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn grows_exponentially_and_caps() {
        let tops: Vec<_> = (1..=8)
            .map(|a| backoff_delay(ms(250), ms(10_000), a, 1.0))
            .collect();
        assert_eq!(
            tops,
            [250, 500, 1000, 2000, 4000, 8000, 10000, 10000].map(ms)
        );
        assert_eq!(
            backoff_delay(ms(250), ms(10_000), u32::MAX, 1.0),
            ms(10_000)
        );
        assert_eq!(backoff_delay(ms(250), ms(10_000), 0, 1.0), ms(250));
    }

    #[test]
    fn jitter_stays_in_range_and_clamps_samples() {
        for attempt in 1..20 {
            for i in 0..=10 {
                let d = backoff_delay(ms(250), ms(10_000), attempt, f64::from(i) / 10.0);
                assert!(d >= ms(250) && d <= ms(10_000), "{attempt} {i} {d:?}");
            }
        }
        assert_eq!(backoff_delay(ms(250), ms(10_000), 3, 7.0), ms(1000));
        assert_eq!(backoff_delay(ms(250), ms(10_000), 3, -1.0), ms(250));
        assert_eq!(backoff_delay(ms(250), ms(10_000), 3, f64::NAN), ms(1000));
    }

    #[test]
    fn inverted_bounds_use_min() {
        assert_eq!(backoff_delay(ms(10), ms(15), 5, 1.0), ms(15));
        assert_eq!(backoff_delay(ms(100), ms(50), 5, 1.0), ms(100));
    }
}
