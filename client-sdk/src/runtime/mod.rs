//! What the SDK runs on: small single-threaded replacements for the usual
//! crates (`wasm-bindgen-futures`, `futures-channel`, `gloo-timers`,
//! `gloo-events`, `BTreeMap`), each smaller in wasm (see docs/SDK-SIZE.md).
//! Every browser callback is owned by a struct whose `Drop` releases it.
//!
//! Nothing here knows about sockets or the Confab protocol.

pub(crate) mod callback;
pub(crate) mod cell;
pub(crate) mod dom;
pub(crate) mod executor;
pub(crate) mod oneshot;
pub(crate) mod timer;
pub(crate) mod vecmap;
