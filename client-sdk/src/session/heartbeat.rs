//! Heartbeat timing, pure: when to ping and when a silent link is dead.
//! The session drives it from a [`crate::runtime::timer::Ticker`] with
//! timestamps in milliseconds.

use std::time::Duration;

/// What a heartbeat tick should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Beat {
    /// Nothing yet.
    Wait,
    /// Send a `ping`.
    Ping,
    /// Nothing received for two intervals: drop the link and reconnect.
    Dead,
}

/// Ping interval and the times of the last frame received and last ping.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Heartbeat {
    every: f64,
    last_rx: f64,
    last_ping: f64,
}

impl Heartbeat {
    /// A frame arrived (or the link opened) at `now`.
    pub(crate) fn received(&mut self, now: f64) {
        self.last_rx = now;
    }

    /// Starts after a `welcome`: pings every `min(wanted, server)` (the
    /// server's `heartbeat_ms`, 0 = none announced). Returns how often to
    /// tick, or `None` when there is no heartbeat.
    pub(crate) fn start(
        &mut self,
        server_ms: u64,
        wanted: Option<Duration>,
        now: f64,
    ) -> Option<u32> {
        let server = server_ms as f64;
        let wanted = wanted.map_or(server, |d| d.as_millis() as f64);
        let every = if server > 0.0 {
            wanted.min(server)
        } else {
            wanted
        };
        self.every = every;
        self.last_ping = now;
        (every > 0.0).then(|| ((every / 4.0) as u32).max(20))
    }

    /// A tick at `now`.
    pub(crate) fn tick(&mut self, now: f64) -> Beat {
        if now - self.last_rx > 2.0 * self.every {
            Beat::Dead
        } else if now - self.last_ping >= self.every {
            self.last_ping = now;
            Beat::Ping
        } else {
            Beat::Wait
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_is_the_shorter_of_ours_and_the_servers() {
        let mut h = Heartbeat::default();
        assert_eq!(h.start(25_000, None, 0.0), Some(6_250));
        assert_eq!(
            h.start(25_000, Some(Duration::from_millis(300)), 0.0),
            Some(75)
        );
        assert_eq!(h.start(0, Some(Duration::from_millis(300)), 0.0), Some(75));
        assert_eq!(h.start(200, Some(Duration::from_secs(1)), 0.0), Some(50));
        // Ticks at least every 20 ms, and no heartbeat at all when neither side wants one.
        assert_eq!(h.start(40, None, 0.0), Some(20));
        assert_eq!(h.start(0, None, 0.0), None);
    }

    #[test]
    fn pings_each_interval_and_declares_a_silent_link_dead() {
        let mut h = Heartbeat::default();
        h.received(0.0);
        h.start(100, None, 0.0);
        assert_eq!(h.tick(50.0), Beat::Wait);
        assert_eq!(h.tick(100.0), Beat::Ping);
        assert_eq!(h.tick(150.0), Beat::Wait);
        h.received(190.0);
        assert_eq!(h.tick(200.0), Beat::Ping);
        assert_eq!(h.tick(390.0), Beat::Ping);
        assert_eq!(h.tick(391.0), Beat::Dead);
    }
}
