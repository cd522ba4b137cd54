//! Leak accounting: the SDK counts the JavaScript callbacks (closures,
//! event listeners, timers) it currently owns. Every one of them is a field
//! of a struct whose `Drop` releases it, so after every client and socket is
//! closed and dropped the count returns to zero; a test checks that.

use std::sync::atomic::{AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Number of closures, DOM listeners and timers the SDK currently holds.
///
/// ```
/// assert_eq!(confab_client::debug::live_handles(), 0);
/// ```
pub fn live_handles() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// A token counted in [`live_handles`] while it lives; embed one next to
/// every closure/listener/timer.
#[derive(Debug)]
pub(crate) struct Tracked(());

impl Tracked {
    pub(crate) fn new() -> Self {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Self(())
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}
