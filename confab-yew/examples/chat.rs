//! A whole chat on confab-yew's hooks: one room, its people, typing
//! indicators, older messages on demand. Build it for the browser like the
//! demo (`trunk`, or `cargo build --example chat --target wasm32-unknown-unknown`
//! and `wasm-bindgen`), against a server on the page's host.

use confab_yew::{
    use_connection, use_me, use_presence, use_room, use_typing, ClientOptions, ConfabProvider,
    Options, RoomMessage,
};
use serde::{Deserialize, Serialize};
use web_sys_like::input_value;
use yew::prelude::*;

#[derive(Serialize, Deserialize)]
struct Chat {
    message: String,
}

/// The room: messages, people, who is typing, and the write box.
#[component]
fn ChatRoom() -> Html {
    let lobby = use_room("lobby");
    let people = use_presence("lobby");
    let typing = use_typing("lobby");
    let me = use_me();
    let older = use_state(Vec::<RoomMessage>::new);

    let load_older = {
        let (room, older) = (lobby.room.clone(), older.clone());
        let before = older.first().or(lobby.messages.first()).map(|m| m.offset);
        Callback::from(move |_: MouseEvent| {
            let (Some(room), older) = (room.clone(), older.clone()) else {
                return;
            };
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(page) = room.history(before, Some(30)).await {
                    let mut all = page.messages;
                    all.extend(older.iter().cloned());
                    older.set(all);
                }
            });
        })
    };
    let on_input = typing
        .typing
        .reform(|e: InputEvent| !input_value(&e).is_empty());
    let send = {
        let (room, typing) = (lobby.room.clone(), typing.typing.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let text = web_sys_like::take_form_text(&e);
            if let (Some(room), false) = (&room, text.is_empty()) {
                typing.emit(false);
                // Sent again after a reconnect until stored, exactly once.
                let _ack = room.publish(&Chat { message: text });
            }
        })
    };
    let line = |m: &RoomMessage| {
        let text = m
            .payload
            .get::<Chat>()
            .map(|c| c.message)
            .unwrap_or_default();
        html! { <li key={m.offset}>{ format!("{}: {text}", m.from.name) }</li> }
    };
    html! {
        <main>
            <p>{ format!("{} here · you are {}", people.len(), me.map(|m| m.name).unwrap_or_default()) }</p>
            <button onclick={load_older}>{ "Older messages" }</button>
            <ul>{ for older.iter().chain(&lobby.messages).map(line) }</ul>
            <p class="typing">{ typing.text() }</p>
            <form onsubmit={send}><input name="text" oninput={on_input} /></form>
        </main>
    }
}

#[component]
fn Status() -> Html {
    let state = use_connection();
    html! { <p>{ state.name() }</p> }
}

#[component]
fn App() -> Html {
    let host = web_sys_like::host();
    let options = Options::new(ClientOptions::new(format!("ws://{host}/ws")).name("Guest"));
    html! {
        <ConfabProvider {options}>
            <Status />
            <ChatRoom />
        </ConfabProvider>
    }
}

fn main() {
    yew::Renderer::<App>::new().render();
}

/// The few DOM reads this example needs, through `js_sys::Reflect` (so
/// the crate needs no web-sys features of its own).
mod web_sys_like {
    use js_sys::Reflect;
    use yew::prelude::*;

    fn prop(v: &wasm_bindgen::JsValue, key: &str) -> wasm_bindgen::JsValue {
        Reflect::get(v, &key.into()).unwrap_or_default()
    }

    /// The value of the input an `input` event came from.
    pub fn input_value(e: &InputEvent) -> String {
        let target = e
            .target()
            .map(wasm_bindgen::JsValue::from)
            .unwrap_or_default();
        prop(&target, "value").as_string().unwrap_or_default()
    }

    /// The `text` field of a submitted form, emptied.
    pub fn take_form_text(e: &SubmitEvent) -> String {
        let form = e
            .target()
            .map(wasm_bindgen::JsValue::from)
            .unwrap_or_default();
        let input = prop(&prop(&form, "elements"), "text");
        let text = prop(&input, "value").as_string().unwrap_or_default();
        let _ = Reflect::set(&input, &"value".into(), &"".into());
        text.trim().to_owned()
    }

    /// The page's `host:port`.
    pub fn host() -> String {
        prop(&prop(&js_sys::global(), "location"), "host")
            .as_string()
            .unwrap_or_else(|| "127.0.0.1:8000".to_owned())
    }
}
