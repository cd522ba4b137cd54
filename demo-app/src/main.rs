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

/// Renders the app in place of `index.html`'s loading shell (`#app`).
fn main() {
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("app"))
        .expect("index.html has an element #app");
    root.set_inner_html("");
    yew::Renderer::<app::App>::with_root(root).render();
}
