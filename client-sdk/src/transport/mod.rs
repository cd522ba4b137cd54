//! The transport: a reconnecting JSON WebSocket ([`crate::Socket`]) for any
//! server, with jittered backoff, an offline send buffer flushed on open,
//! and a read queue. It knows nothing of the Confab protocol.
//!
//! - [`ws`]: one browser `WebSocket` and its handlers (released on drop);
//! - [`socket`]: the reconnect state machine on top of it;
//! - [`options`], [`backoff`], [`buffer`] (sending), [`inbox`] (reading):
//!   its settings and pure parts.

pub(crate) mod backoff;
pub(crate) mod buffer;
pub(crate) mod inbox;
pub(crate) mod options;
pub(crate) mod socket;
pub(crate) mod ws;
