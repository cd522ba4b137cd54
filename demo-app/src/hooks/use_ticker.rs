use gloo_timers::callback::Interval;
use yew::prelude::*;

/// Redraws the component every `ms` while `on` (e.g. to let something
/// time out on screen); the interval is dropped when `on` turns false.
#[hook]
pub fn use_ticker(on: bool, ms: u32) {
    let redraw = use_force_update();
    use_effect_with(on, move |on| {
        let ticker = on.then(|| Interval::new(ms, move || redraw.force_update()));
        move || drop(ticker)
    });
}
