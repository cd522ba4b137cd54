//! JavaScript API (wasm-bindgen).
