//! Confab chat demo: a Yew app on the Confab browser SDK.
//!
//! Built with `trunk build --release` from the repository root (see
//! `index.html`, `Trunk.toml`); the server serves `dist/` at `/`.

mod app;
mod components;
mod connection;
mod connection_provider;
mod format;
mod hooks;
mod lookalike;
mod state;
mod storage;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
