//! The built demo at `/`: precompressed files, cache headers, and a
//! fallback to `index.html` for the app's routes.
//!
//! - **Compression.** `trunk build --release` leaves `NAME.br` and
//!   `NAME.gz` beside each compressible file (`scripts/precompress.mjs`, a
//!   post-build hook in `Trunk.toml`). [`ServeDir`] sends the best variant
//!   the request's `Accept-Encoding` allows (brotli, then gzip, else the
//!   file as it is) with its `Content-Encoding`; every answer says
//!   `Vary: Accept-Encoding` so that caches keep the variants apart.
//! - **Caching.** A file name that carries trunk's content hash
//!   (`confab-demo-15b162a7ba2c6b8b_bg.wasm`) never changes content:
//!   `Cache-Control: public, max-age=31536000, immutable`. Everything else
//!   (`index.html`, the app-route fallback, `robots.txt`) is `no-cache`:
//!   kept, but revalidated on each use with its `ETag` (`If-None-Match`)
//!   or `Last-Modified` (`If-Modified-Since`), which answer 304 when
//!   nothing changed.
//! - **Not found.** A path whose last segment has a dot names a file
//!   (`/favicon.ico`, `/robots.txt`, `/x.js`): missing, it is a 404. Any
//!   other path is a route of the app and gets `index.html`.

use std::path::Path;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH,
    LAST_MODIFIED, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
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

/// `Cache-Control` of a file whose name changes with its content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of everything else: store, but revalidate before use.
const REVALIDATE: &str = "no-cache";

/// Serves `dir` for every path no route matched; a missing `index.html`
/// serves a built-in page instead (the server does not fail).
pub fn attach(router: Router<AppState>, dir: &Path) -> Router<AppState> {
    let index = dir.join("index.html");
    if index.is_file() {
        let files = StaticFiles::new(dir, &index);
        router.fallback(move |req: Request| files.clone().serve(req))
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

/// The two ways a path is served: as a file (missing: 404) or as an app
/// route (missing: `index.html`).
#[derive(Clone)]
struct StaticFiles {
    files: ServeDir,
    app: ServeDir<ServeFile>,
}

impl StaticFiles {
    fn new(dir: &Path, index: &Path) -> Self {
        let files = ServeDir::new(dir).precompressed_br().precompressed_gzip();
        let index = ServeFile::new(index)
            .precompressed_br()
            .precompressed_gzip();
        Self {
            app: files.clone().fallback(index),
            files,
        }
    }

    async fn serve(mut self, mut req: Request) -> Response {
        let path = req.uri().path().to_owned();
        // The conditions are evaluated here, once the ETag is known (and
        // If-None-Match, when present, decides alone: RFC 9110, 13.2.2).
        let if_none_match = req.headers_mut().remove(IF_NONE_MATCH);
        let if_modified_since = req.headers_mut().remove(IF_MODIFIED_SINCE);
        let served = if names_a_file(&path) {
            self.files.try_call(req).await
        } else {
            self.app.try_call(req).await
        };
        let mut res = match served {
            Ok(res) => res.map(Body::new),
            Err(e) => {
                tracing::warn!(path, error = %e, "static file could not be read");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        let status = res.status();
        let headers = res.headers_mut();
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
        if !status.is_success() {
            return res;
        }
        let cache = if is_hashed(last_segment(&path)) {
            IMMUTABLE
        } else {
            REVALIDATE
        };
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
        // A whole file (not a range): it gets an ETag and may be a 304.
        let Some(etag) = (status == StatusCode::OK).then(|| etag(headers)).flatten() else {
            return res;
        };
        let not_modified = match (&if_none_match, &if_modified_since) {
            (Some(tags), _) => etag_matches(tags, &etag),
            // The browser repeats the Last-Modified it was given.
            (None, Some(since)) => headers.get(LAST_MODIFIED) == Some(since),
            (None, None) => false,
        };
        headers.insert(ETAG, etag);
        if not_modified {
            headers.remove(CONTENT_LENGTH);
            *res.status_mut() = StatusCode::NOT_MODIFIED;
            *res.body_mut() = Body::empty();
        }
        res
    }
}

/// The part of `path` after its last `/`.
fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or_default()
}

/// A path whose last segment has a dot names a file (`/favicon.ico`), not
/// a route of the app.
fn names_a_file(path: &str) -> bool {
    last_segment(path).contains('.')
}

/// Trunk names every file it builds `STEM-HASH.EXT` or `STEM-HASH_bg.wasm`,
/// where HASH is 16 hex digits of the content's hash.
fn is_hashed(name: &str) -> bool {
    name.split('-').skip(1).any(|part| {
        part.get(..16)
            .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            && matches!(part.as_bytes().get(16), Some(b'.' | b'_'))
    })
}

/// A strong validator for one encoding of one version of a file: its
/// modification time, length and encoding (each encoding is a file of its
/// own, so the variants never share a tag).
fn etag(headers: &HeaderMap) -> Option<HeaderValue> {
    let modified = headers.get(LAST_MODIFIED)?.as_bytes();
    let length = headers.get(CONTENT_LENGTH)?.to_str().ok()?;
    let encoding = headers
        .get(CONTENT_ENCODING)
        .and_then(|e| e.to_str().ok())
        .unwrap_or("identity");
    // FNV-1a: a short, stable digest of the date text.
    let time = modified.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    HeaderValue::from_str(&format!("\"{time:016x}-{length}-{encoding}\"")).ok()
}

/// `If-None-Match`: `*`, or a list of tags of which one equals `etag`
/// (the weak comparison: a `W/` prefix does not matter).
fn etag_matches(header: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(tags) = header.to_str() else {
        return false;
    };
    let etag = etag.to_str().unwrap_or_default();
    tags.trim() == "*"
        || tags
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_routes() {
        for file in ["/favicon.ico", "/robots.txt", "/x.js", "/a/b.css", "/.env"] {
            assert!(names_a_file(file), "{file}");
        }
        for route in ["/", "/rooms/lobby", "/index", "/a.b/c"] {
            assert!(!names_a_file(route), "{route}");
        }
    }

    #[test]
    fn trunk_hashes_are_recognised() {
        for name in [
            "confab-demo-15b162a7ba2c6b8b_bg.wasm",
            "confab-demo-15b162a7ba2c6b8b.js",
            "style-b6b013452041b3f2.css",
            "favicon-0123456789abcdef.svg",
        ] {
            assert!(is_hashed(name), "{name}");
        }
        for name in [
            "index.html",
            "robots.txt",
            "",
            "style-b6b0134520.css",
            "confab-demo.js",
            "x-0123456789abcdefg.js",
            "x-0123456789abcdxz.js",
        ] {
            assert!(!is_hashed(name), "{name}");
        }
    }

    #[test]
    fn if_none_match_lists_and_weak_tags() {
        let tag = HeaderValue::from_static("\"ab-12-br\"");
        let m = |h: &'static str| etag_matches(&HeaderValue::from_static(h), &tag);
        assert!(m("\"ab-12-br\""));
        assert!(m("W/\"ab-12-br\""));
        assert!(m("\"x\", \"ab-12-br\""));
        assert!(m("*"));
        assert!(!m("\"ab-12-gzip\""));
        assert!(!m(""));
    }
}
