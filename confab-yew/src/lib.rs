//! # confab-yew
//!
//! [Yew](https://yew.rs) bindings for the Confab browser SDK
//! ([`confab_client`]): one component owns the connection, hooks give
//! components what they need and re-render them when it changes.
//!
//! - [`ConfabProvider`]: connects once when mounted (with the
//!   [`ClientOptions`] it is given) and closes when unmounted; shares the
//!   [`Client`] and its connection state with everything inside it.
//! - [`use_client`]: the [`Client`] (to join, publish, send direct
//!   messages, rename).
//! - [`use_connection`]: the [`ConnectionState`], re-rendering on changes.
//! - [`use_me`]: who this connection is (after `welcome`).
//! - [`use_room`]: a room (joined on first use, kept joined across
//!   reconnects), with its state, members and the messages seen.
//! - [`use_presence`]: who is in a room, live (members with their `info`
//!   and room `state`).
//! - [`use_typing`]: "… is typing" for a room: throttled typing signals
//!   out, expiring indicators in.
//!
//! ```no_run
//! use confab_yew::{use_room, use_typing, ClientOptions, ConfabProvider, Options};
//! use yew::prelude::*;
//!
//! #[derive(serde::Serialize)]
//! struct Chat { message: String }
//!
//! #[component]
//! fn Lobby() -> Html {
//!     let lobby = use_room("lobby");
//!     let typing = use_typing("lobby");
//!     let send = {
//!         let room = lobby.room.clone();
//!         Callback::from(move |_: MouseEvent| {
//!             if let Some(room) = &room {
//!                 // Resolves with the ack; the SDK re-sends it after a
//!                 // reconnect until the server stored it (once).
//!                 let _ack = room.publish(&Chat { message: "hi".into() });
//!             }
//!         })
//!     };
//!     html! {
//!         <div>
//!             <p>{ format!("{} here, {} messages", lobby.members.len(), lobby.messages.len()) }</p>
//!             <p>{ typing.text() }</p>
//!             <button onclick={send}>{ "Say hi" }</button>
//!         </div>
//!     }
//! }
//!
//! #[component]
//! fn App() -> Html {
//!     let options = Options::new(ClientOptions::new("ws://127.0.0.1:8000/ws").name("Alice"));
//!     html! { <ConfabProvider {options}><Lobby /></ConfabProvider> }
//! }
//! ```
//!
//! A whole app on these hooks: `examples/chat.rs`; the Confab demo
//! (`demo-app/`) uses the provider and [`use_client`].

mod provider;
mod room;
mod typing;

pub use confab_client::{
    Client, ClientOptions, ConnectionState, Member, Room, RoomMessage, RoomState,
};
pub use provider::{
    use_client, use_connection, use_me, ConfabProvider, ConfabProviderProps, Options,
};
pub use room::{use_presence, use_room, UseRoom};
pub use typing::{typing_text, use_typing, UseTyping, TYPING_EVERY_MS, TYPING_TTL_MS};
