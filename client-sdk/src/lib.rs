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
//! - [`Client`]: the Confab protocol on top: [`Room`]s with publish-with-ack
//!   (exactly once across reconnects, by client message id), presence with
//!   members' `info` and room `state`, ephemeral signals, older history by
//!   page, history replay and gap-free resume after reconnects (deduped by
//!   `(room, offset)`), direct messages, rename, heartbeat, token refresh.
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
//! ## Layout
//!
//! - `runtime/`: what the SDK runs on (executor, one-shot channel, timers,
//!   DOM listeners, `RefCell` borrows without a panic path);
//! - `transport/`: the reconnecting [`Socket`] (WebSocket, backoff, send
//!   buffer, read queue);
//! - `session/`: the Confab protocol state machine (requests and acks,
//!   frame dispatch, heartbeat, rooms' resume cursors); [`Client`] and
//!   [`Room`] are thin handles over it;
//! - `js/`: the JavaScript / TypeScript API (`wasm-bindgen`), with its
//!   `.d.ts` and JS glue as real files.
//!
//! Pure parts (backoff, state machines, cursors, buffers, pending requests,
//! heartbeat timing) have no browser dependency and are unit-tested
//! natively; the rest needs a browser (or any JS host with `WebSocket`).

/// The npm build's allocator (feature `small-alloc`): smaller than the
/// default dlmalloc; wasm is single-threaded, so the spin lock never spins.
#[cfg(all(feature = "small-alloc", target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

// The crate's own wasm tests (e.g. the wire test in src/session/wire.rs)
// run in headless Chromium, like tests/browser.rs.
#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod client;
pub mod debug;
mod error;
mod events;
#[cfg(feature = "js")]
mod js;
mod payload;
mod room;
mod runtime;
mod session;
mod state;
mod transport;

pub use client::{Client, ClientOptions};
pub use confab_protocol::{dm_room, Ack, ErrorCode, Position};
pub use error::{Error, Result};
pub use events::{EventStream, Subscription};
pub use payload::{HistoryPage, Member, Payload, RoomMessage};
pub use room::Room;
pub use session::{AckFuture, ClientEvent, RoomEvent};
pub use state::{ConnectionState, RoomState};
pub use transport::backoff::Backoff;
pub use transport::buffer::OverflowPolicy;
pub use transport::options::{SocketOptions, TokenProvider};
pub use transport::socket::{Messages, Next, Socket};
