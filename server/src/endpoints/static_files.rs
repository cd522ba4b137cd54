//! The built demo at `/`, with an SPA fallback to `index.html`.

use std::path::Path;

use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

use crate::AppState;

const NOT_BUILT: &str = r#"<!doctype html>
<meta charset="utf-8"><title>Confab</title>
<h1>Confab server is running</h1>
<p>The demo app is not built (no <code>index.html</code> in the static directory).
Build it with <code>trunk build --release</code> or point <code>--static-dir</code> at it.</p>
<p>WebSocket endpoints: <code>/ws</code> (native protocol), <code>/ws/chat/{room}/</code> (Channels-compatible).</p>
"#;

/// Serves `dir` for every path no route matched; a missing `index.html`
/// serves a built-in page instead (the server does not fail).
pub fn attach(router: Router<AppState>, dir: &Path) -> Router<AppState> {
    let index = dir.join("index.html");
    if index.is_file() {
        router.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
    } else {
        tracing::warn!(dir = %dir.display(), "static directory has no index.html: serving a placeholder page");
        router.fallback(|method: Method| async move {
            if method == Method::GET || method == Method::HEAD {
                (StatusCode::OK, Html(NOT_BUILT)).into_response()
            } else {
                StatusCode::NOT_FOUND.into_response()
            }
        })
    }
}
