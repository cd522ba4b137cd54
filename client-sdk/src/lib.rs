//! # confab-client
//!
//! Browser SDK for [Confab](https://example.invalid/confab) rooms, in Rust
//! compiled to WebAssembly, usable from Rust (e.g. Yew) and from JS/TS (the
//! npm package built with `wasm-pack`).
//!
//! Two layers:
//!
//! - [`Socket`]: a reconnecting JSON WebSocket for any server. Jittered
//!   exponential [`Backoff`], an offline send buffer, state events, and a
//!   dwebsocket-style reading API ([`Socket::has_messages`],
//!   [`Socket::count_messages`], [`Socket::read`], [`Socket::wait`]) plus a
//!   `Stream` ([`Socket::messages`]).
//! - [`Client`]: the Confab protocol on top: [`Room`]s with publish-with-ack,
//!   presence, history replay and gap-free resume after reconnects (deduped
//!   by `(room, offset)`), direct messages, rename, heartbeat.
//!
//! ```no_run
//! use confab_client::{Client, ClientEvent, ClientOptions, RoomEvent};
//! # async fn run() -> confab_client::Result<()> {
//! let client = Client::connect(ClientOptions::new("ws://127.0.0.1:8000/ws").name("Alice"));
//! let _s = client.on_event(|ev| if let ClientEvent::StateChanged(st) = ev { let _ = st.name(); });
//! let lobby = client.join("lobby").await?;
//! let _r = lobby.on_event(|ev| match ev {
//!     RoomEvent::Message(m) => { let _ = (&m.from.name, m.payload.to_json()); }
//!     RoomEvent::Gap => { /* reload: messages may be missing */ }
//!     _ => {}
//! });
//! #[derive(serde::Serialize)]
//! struct Chat<'a> { message: &'a str }
//! lobby.publish(&Chat { message: "hi" }).await?;
//! # Ok(()) }
//! ```
//!
//! Pure parts ([`Backoff`], [`StateMachine`], [`RoomCursor`], [`SendBuffer`],
//! [`Pending`]) have no browser dependency and are unit-tested natively.
//! The rest needs a browser (or any JS host with `WebSocket`).

/// The npm build's allocator (feature `small-alloc`): smaller than the
/// default dlmalloc; wasm is single-threaded, so the spin lock never spins.
#[cfg(all(feature = "small-alloc", target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

mod backoff;
mod buffer;
mod cell;
mod client;
mod cursor;
pub mod debug;
mod dom;
mod error;
mod events;
mod executor;
mod js;
mod oneshot;
mod payload;
mod pending;
mod room;
mod socket;
mod state;
mod vecmap;
mod wire;
mod ws;

pub use backoff::{Attempts, Backoff};
pub use buffer::{OverflowPolicy, Pushed, SendBuffer};
pub use client::{AckFuture, Client, ClientEvent, ClientOptions, RoomMessage};
pub use confab_protocol::{dm_room, Ack, ErrorCode, Member, Position};
pub use cursor::{Resume, RoomCursor};
pub use error::{Error, Result};
pub use events::Subscription;
pub use payload::Payload;
pub use pending::{Added, Entry, Pending};
pub use room::{Room, RoomEvent};
pub use socket::{Messages, Next, Socket, SocketOptions, TokenProvider};
pub use state::{ConnectionState, Lifecycle, RoomState, StateMachine};
