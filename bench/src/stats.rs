//! Per-receiver bookkeeping (latency histogram, which sequence numbers
//! arrived) and the summaries the scenarios report.

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::Stamp;

/// Latency histogram in microseconds, 1 µs .. 120 s, 2 significant digits
/// (about 20 KB each; one per receiving connection).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 2)
        .unwrap_or_else(|e| unreachable!("constant histogram bounds: {e}"))
}

/// A growable set of small integers (sequence numbers or offsets).
#[derive(Debug, Clone, Default)]
pub struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    /// Sets `i`; returns whether it was already set.
    ///
    /// ```
    /// let mut b = confab_bench::stats::BitSet::default();
    /// assert!(!b.insert(70));
    /// assert!(b.insert(70));
    /// assert_eq!(b.count_in(0, 100), 1);
    /// ```
    pub fn insert(&mut self, i: u64) -> bool {
        let (w, bit) = ((i / 64) as usize, i % 64);
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let was = self.words[w] & (1 << bit) != 0;
        self.words[w] |= 1 << bit;
        was
    }

    /// Whether `i` is set.
    pub fn contains(&self, i: u64) -> bool {
        self.words
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// The largest member, if any.
    pub fn max(&self) -> Option<u64> {
        let (w, word) = self
            .words
            .iter()
            .enumerate()
            .rev()
            .find(|(_, w)| **w != 0)?;
        Some(w as u64 * 64 + 63 - u64::from(word.leading_zeros()))
    }

    /// How many of `from..to` are set.
    pub fn count_in(&self, from: u64, to: u64) -> u64 {
        (from..to).filter(|&i| self.contains(i)).count() as u64
    }
}

/// What one receiving connection saw. Shared with the coordinator through a
/// `Mutex` that only the connection's own task and the (same-thread)
/// coordinator ever lock.
#[derive(Debug, Default)]
pub struct RecvStats {
    hist: Option<Histogram<u64>>,
    seen: Vec<(u32, BitSet)>,
    /// Stamped messages received (duplicates included).
    pub delivered: u64,
    /// Stamped messages received more than once.
    pub dups: u64,
    /// Publish acks received (Confab).
    pub acks: u64,
    /// Error envelopes received.
    pub errors: u64,
    /// Why the connection ended, if it did before the scenario finished.
    pub closed: Option<String>,
}

impl RecvStats {
    /// Records a delivery received at `now_us`.
    pub fn record(&mut self, stamp: Stamp, now_us: u64) {
        self.delivered += 1;
        let hist = self.hist.get_or_insert_with(new_histogram);
        hist.saturating_record(now_us.saturating_sub(stamp.sent_us).max(1));
        let set = match self
            .seen
            .iter_mut()
            .position(|(p, _)| *p == stamp.publisher)
        {
            Some(i) => &mut self.seen[i].1,
            None => {
                self.seen.push((stamp.publisher, BitSet::default()));
                &mut self.seen.last_mut().unwrap_or_else(|| unreachable!()).1
            }
        };
        if set.insert(stamp.seq) {
            self.dups += 1;
        }
    }

    /// How many of `publisher`'s messages `from..to` this receiver got.
    pub fn got(&self, publisher: u32, from: u64, to: u64) -> u64 {
        self.seen
            .iter()
            .find(|(p, _)| *p == publisher)
            .map_or(0, |(_, s)| s.count_in(from, to))
    }

    /// Moves this receiver's latencies into `into` and clears them.
    pub fn drain_latencies(&mut self, into: &mut Histogram<u64>) {
        if let Some(h) = self.hist.as_mut() {
            // Same bounds on both sides: cannot fail.
            let _ = into.add(&*h);
            h.reset();
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Latency {
    /// Summarises a microsecond histogram.
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}
