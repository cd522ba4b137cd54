use gloo_timers::callback::Interval;
use yew::prelude::*;

use crate::state::now_ms;

/// Whole seconds left until `deadline` (ms since the Unix epoch), updated
/// four times a second while a deadline is set.
#[hook]
pub fn use_countdown(deadline: Option<f64>) -> Option<u32> {
    let redraw = use_force_update();
    use_effect_with(deadline.map(f64::to_bits), move |deadline| {
        // The Interval is cancelled when dropped by the cleanup.
        let ticker = deadline.map(|_| Interval::new(250, move || redraw.force_update()));
        move || drop(ticker)
    });
    deadline.map(|d| ((d - now_ms()) / 1000.0).ceil().max(0.0) as u32)
}
