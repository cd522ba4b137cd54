//! The delivery core: everything between "the channel layer says a message
//! was stored" and "the bytes are on a member's socket", on one node.
//!
//! - [`event`]: what a layer reports ([`Event`]: a stored message or a
//!   presence diff), the [`EventSink`] a layer reports it to, and
//!   [`Flavor`], what kind of frames a connection receives.
//! - [`encode`]: every outbound text frame is made there, once per event.
//! - [`hub`]: the node's local connections by room and by user; it is the
//!   sink: room events go into the room's feeds, direct frames into one
//!   connection's queue.
//! - [`feed`]: a room's broadcast ring, read by each member's writer from
//!   its own cursor.
//! - [`conn`] and [`outbox`]: one connection's handle, bounded queue and
//!   close signal.
//! - [`writer`]: the task that writes a connection's queue and feeds to its
//!   socket and sends its close frame.
//!
//! Imports go one way: `hub` and `writer` → `conn` → `feed` and `outbox`;
//! `feed` → `event` → `encode`. Nothing here imports the layers or the
//! endpoints.

pub(crate) mod conn;
pub(crate) mod encode;
pub mod event;
pub(crate) mod feed;
pub(crate) mod hub;
pub(crate) mod outbox;
pub(crate) mod writer;

pub(crate) use conn::{CloseReason, ConnHandle, ConnOutput};
pub use event::{Event, EventSink, Flavor, Payload, PresenceChange, PresenceEvent, StoredMessage};
pub(crate) use hub::Hub;
pub use outbox::Bounds;
