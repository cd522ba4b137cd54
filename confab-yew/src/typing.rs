//! [`use_typing`]: "Bob is typing…" for a room.

use std::cell::Cell;
use std::rc::Rc;

use confab_client::RoomEvent;
use gloo_timers::callback::Interval;
use serde::{Deserialize, Serialize};
use yew::prelude::*;

use crate::{use_client, use_me};

/// How long an indicator shows after the last typing signal (ms).
pub const TYPING_TTL_MS: f64 = 4_000.0;
/// How often a typing person's page repeats the signal (ms).
pub const TYPING_EVERY_MS: f64 = 2_000.0;

/// The signal payload: `{"typing": true}` while typing, `false` to stop.
#[derive(Debug, Serialize, Deserialize)]
struct Typing {
    typing: bool,
}

/// What [`use_typing`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct UseTyping {
    /// Names of the others typing now, oldest signal first.
    pub names: Vec<String>,
    /// Call with `true` on each keystroke (signals are throttled to one
    /// per [`TYPING_EVERY_MS`]) and `false` when the text was sent or
    /// emptied.
    pub typing: Callback<bool>,
}

impl UseTyping {
    /// "Bob is typing…", "Bob and Carol are typing…" (empty when nobody is).
    pub fn text(&self) -> String {
        typing_text(&self.names)
    }
}

/// The sentence for who is typing (empty when nobody is).
///
/// ```
/// let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
/// assert_eq!(confab_yew::typing_text(&names(&["Bob", "Carol"])), "Bob and Carol are typing…");
/// ```
pub fn typing_text(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("{one} is typing…"),
        [a, b] => format!("{a} and {b} are typing…"),
        [a, b, rest @ ..] => format!("{a}, {b} and {} more are typing…", rest.len()),
    }
}

/// Typing indicators of room `name` (registered through
/// [`crate::use_room`]'s client): others' `{"typing": …}` signals in, each
/// shown until [`TYPING_TTL_MS`] after its last one; and a callback that
/// sends this user's own, throttled. Signals are ephemeral: none is sent
/// while the room is not joined.
#[hook]
pub fn use_typing(name: &str) -> UseTyping {
    let client = use_client();
    let me = use_me().map(|m| m.id);
    // (user id, name, until)
    let typists = use_state(Vec::<(String, String, f64)>::new);
    let redraw = use_force_update();
    {
        let (client, typists) = (client.clone(), typists.clone());
        use_effect_with((name.to_owned(), me), move |(name, me)| {
            let me = me.clone();
            let sub = client.room(name).ok().map(|room| {
                let list = Rc::new(std::cell::RefCell::new(Vec::<(String, String, f64)>::new()));
                room.on_event(move |ev| {
                    let RoomEvent::Signal { from, payload } = ev else {
                        return;
                    };
                    let Ok(Typing { typing }) = payload.get::<Typing>() else {
                        return;
                    };
                    if me.as_deref() == Some(from.id.as_str()) {
                        return;
                    }
                    let now = js_sys::Date::now();
                    let mut list = list.borrow_mut();
                    list.retain(|(id, _, until)| *id != from.id && *until > now);
                    if typing {
                        list.push((from.id.clone(), from.name.clone(), now + TYPING_TTL_MS));
                    }
                    typists.set(list.clone());
                })
            });
            move || drop(sub)
        });
    }
    let now = js_sys::Date::now();
    let names: Vec<String> = typists
        .iter()
        .filter(|(_, _, until)| *until > now)
        .map(|(_, n, _)| n.clone())
        .collect();
    // Redraw while someone is typing, so indicators time out on screen.
    use_effect_with(!names.is_empty(), move |on| {
        let ticker = on.then(|| Interval::new(500, move || redraw.force_update()));
        move || drop(ticker)
    });
    let last_sent: Rc<Cell<Option<f64>>> = use_memo((), |_| Cell::new(None));
    let typing = {
        let name = name.to_owned();
        Callback::from(move |on: bool| {
            let Ok(room) = client.room(&name) else { return };
            let now = js_sys::Date::now();
            let due = match (on, last_sent.get()) {
                (true, Some(at)) => now - at >= TYPING_EVERY_MS,
                (true, None) => true,
                (false, sent) => sent.is_some(),
            };
            if due && room.signal(&Typing { typing: on }).is_ok() {
                last_sent.set(on.then_some(now));
            }
        })
    };
    UseTyping { names, typing }
}
