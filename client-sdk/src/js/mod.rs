//! The JavaScript / TypeScript API (`wasm-bindgen`): `ConfabClient`,
//! `ConfabRoom`, `ConfabSocket`, `liveHandles()`.
//!
//! The classes are thin wrappers over the Rust [`crate::Client`],
//! [`crate::Room`] and [`crate::Socket`]. The TypeScript types they refer
//! to are in `types.d.ts` (added to the generated `.d.ts`), the JS helpers
//! the wasm imports in `glue.js` (bound in [`glue`]).

mod client;
mod convert;
mod glue;
mod options;
mod room;
mod socket;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = include_str!("types.d.ts");

/// Number of closures/listeners/timers the SDK holds (0 when every client
/// and socket is closed): for leak tests.
#[wasm_bindgen(js_name = liveHandles)]
pub fn live_handles() -> u32 {
    crate::debug::live_handles() as u32
}
