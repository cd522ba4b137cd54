//! The built demo as a browser gets it from a real `confab-server`
//! process, over raw HTTP/1.1: precompressed brotli / gzip / identity by
//! `Accept-Encoding` with `Vary`, `Cache-Control` (immutable for trunk's
//! hashed files, `no-cache` for the page), ETag and Last-Modified
//! revalidation (304), 404 for missing files, `index.html` for app routes.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::process::{free_port, temp_dir, wait_port};
use common::WAIT;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WASM: &str = "/confab-demo-0123456789abcdef_bg.wasm";
const CSS: &str = "/style-fedcba9876543210.css";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// One request on its own connection; headers lower-cased.
async fn get(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("http timed out")
        .unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(&out)));
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: out[split + 4..].to_vec(),
    }
}

/// A `dist/` as `trunk build --release` leaves it: each file beside its
/// `.br` and `.gz` (contents made distinct, so the test sees which one
/// came), the CSS with a gzip variant only, robots.txt with none.
fn dist(dir: &Path) {
    let write = |name: &str, body: &str| std::fs::write(dir.join(name), body).unwrap();
    for (name, body) in [("index.html", "<h1>demo index</h1>"), (&WASM[1..], "WASM")] {
        write(name, body);
        write(&format!("{name}.br"), &format!("br:{body}"));
        write(&format!("{name}.gz"), &format!("gz:{body}"));
    }
    write(&CSS[1..], "CSS");
    write(&format!("{}.gz", &CSS[1..]), "gz:CSS");
    write("robots.txt", "User-agent: *\n");
}

struct Server {
    addr: SocketAddr,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn server(dir: &Path) -> Server {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = dir.with_extension("log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_confab-server"))
        .args(["--bind", &addr.to_string(), "--in-memory", "--static-dir"])
        .arg(dir)
        .env_remove("CONFAB_STATIC_DIR")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("spawn confab-server");
    wait_port(addr, &mut child, &log).await;
    Server { addr, child }
}

#[tokio::test]
async fn brotli_gzip_or_identity_by_accept_encoding_with_vary() {
    let dir = temp_dir("static-enc");
    dist(&dir);
    let s = server(&dir).await;
    for (path, accept, encoding, body) in [
        (
            "/",
            Some("gzip, deflate, br, zstd"),
            Some("br"),
            "br:<h1>demo index</h1>",
        ),
        (
            "/index.html",
            Some("br"),
            Some("br"),
            "br:<h1>demo index</h1>",
        ),
        ("/", Some("gzip"), Some("gzip"), "gz:<h1>demo index</h1>"),
        (
            "/",
            Some("br;q=0, gzip"),
            Some("gzip"),
            "gz:<h1>demo index</h1>",
        ),
        ("/", None, None, "<h1>demo index</h1>"),
        ("/", Some("identity"), None, "<h1>demo index</h1>"),
        (WASM, Some("br, gzip"), Some("br"), "br:WASM"),
        (WASM, Some("gzip"), Some("gzip"), "gz:WASM"),
        (WASM, None, None, "WASM"),
        // No .br beside it: the next best.
        (CSS, Some("br, gzip"), Some("gzip"), "gz:CSS"),
        ("/robots.txt", Some("br, gzip"), None, "User-agent: *\n"),
    ] {
        let headers: Vec<_> = accept.map(|a| ("Accept-Encoding", a)).into_iter().collect();
        let a = get(s.addr, "GET", path, &headers).await;
        let what = format!("{path} with {accept:?}");
        assert_eq!(a.status, 200, "{what}");
        assert_eq!(a.header("content-encoding"), encoding, "{what}");
        assert_eq!(String::from_utf8_lossy(&a.body), body, "{what}");
        assert_eq!(a.header("vary"), Some("accept-encoding"), "{what}");
        assert_eq!(
            a.header("content-length"),
            Some(body.len().to_string().as_str()),
            "{what}"
        );
    }
    // Content types are the original file's, whatever the encoding.
    for (path, ty) in [
        ("/", "text/html"),
        (WASM, "application/wasm"),
        (CSS, "text/css"),
    ] {
        let a = get(s.addr, "GET", path, &[("Accept-Encoding", "br, gzip")]).await;
        assert_eq!(a.header("content-type"), Some(ty), "{path}");
    }
    // HEAD: the same headers, no body.
    let a = get(s.addr, "HEAD", "/", &[("Accept-Encoding", "br")]).await;
    assert_eq!((a.status, a.header("content-encoding")), (200, Some("br")));
    assert!(a.body.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn hashed_files_are_immutable_the_page_revalidates() {
    let dir = temp_dir("static-cache");
    dist(&dir);
    let s = server(&dir).await;
    for (path, cache) in [
        (WASM, IMMUTABLE),
        (CSS, IMMUTABLE),
        ("/", "no-cache"),
        ("/index.html", "no-cache"),
        ("/robots.txt", "no-cache"),
        // The app-route fallback is the page.
        ("/rooms/lobby", "no-cache"),
    ] {
        let a = get(s.addr, "GET", path, &[("Accept-Encoding", "br, gzip")]).await;
        assert_eq!(a.status, 200, "{path}");
        assert_eq!(a.header("cache-control"), Some(cache), "{path}");
        assert!(a.header("etag").is_some(), "{path}: an ETag");
        assert!(
            a.header("last-modified").is_some(),
            "{path}: a Last-Modified"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn missing_files_are_404_app_routes_get_the_page() {
    let dir = temp_dir("static-404");
    dist(&dir);
    std::fs::remove_file(dir.join("robots.txt")).unwrap();
    let s = server(&dir).await;
    for path in [
        "/favicon.ico",
        "/robots.txt",
        "/x.js",
        "/assets/missing.css",
        "/confab-demo-ffffffffffffffff_bg.wasm",
    ] {
        let a = get(s.addr, "GET", path, &[("Accept-Encoding", "br, gzip")]).await;
        assert_eq!(a.status, 404, "{path}");
        assert!(
            !String::from_utf8_lossy(&a.body).contains("demo index"),
            "{path}: not the page"
        );
    }
    for path in ["/", "/rooms/lobby", "/some/deep/route"] {
        let a = get(s.addr, "GET", path, &[("Accept-Encoding", "gzip")]).await;
        assert_eq!(a.status, 200, "{path}");
        assert_eq!(String::from_utf8_lossy(&a.body), "gz:<h1>demo index</h1>");
        assert_eq!(a.header("content-type"), Some("text/html"), "{path}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn etag_and_last_modified_answer_304() {
    let dir = temp_dir("static-304");
    dist(&dir);
    let s = server(&dir).await;
    let br = ("Accept-Encoding", "br, gzip");
    for path in ["/", "/rooms/lobby", WASM] {
        let first = get(s.addr, "GET", path, &[br]).await;
        let etag = first.header("etag").expect("etag").to_owned();
        let modified = first
            .header("last-modified")
            .expect("last-modified")
            .to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

        let again = get(s.addr, "GET", path, &[br, ("If-None-Match", &etag)]).await;
        assert_eq!(again.status, 304, "{path}: same ETag");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        assert_eq!(again.header("vary"), Some("accept-encoding"));
        assert_eq!(again.header("cache-control"), first.header("cache-control"));

        let weak = format!("\"nope\", W/{etag}");
        let a = get(s.addr, "GET", path, &[br, ("If-None-Match", &weak)]).await;
        assert_eq!(a.status, 304, "{path}: one of a list, weak comparison");
        let a = get(s.addr, "GET", path, &[br, ("If-None-Match", "*")]).await;
        assert_eq!(a.status, 304, "{path}: *");

        let a = get(s.addr, "GET", path, &[br, ("If-Modified-Since", &modified)]).await;
        assert_eq!(a.status, 304, "{path}: same Last-Modified");
        assert_eq!(a.header("etag"), Some(etag.as_str()));

        // Another ETag decides alone (If-Modified-Since is then ignored).
        let a = get(
            s.addr,
            "GET",
            path,
            &[
                br,
                ("If-None-Match", "\"other\""),
                ("If-Modified-Since", &modified),
            ],
        )
        .await;
        assert_eq!(a.status, 200, "{path}: other ETag");
        assert!(!a.body.is_empty());

        // Each encoding is its own representation, with its own tag.
        let gz = get(s.addr, "GET", path, &[("Accept-Encoding", "gzip")]).await;
        let plain = get(s.addr, "GET", path, &[]).await;
        let tags = [Some(etag.as_str()), gz.header("etag"), plain.header("etag")];
        assert!(
            tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2],
            "{tags:?}"
        );
        let a = get(s.addr, "GET", path, &[("If-None-Match", &etag)]).await;
        assert_eq!(
            a.status, 200,
            "{path}: the brotli tag does not match identity"
        );
    }
    // A new build changes the page: its tag changes, the old one is a 200.
    let old = get(s.addr, "GET", "/", &[br]).await;
    let old_tag = old.header("etag").unwrap().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(dir.join("index.html.br"), "br:<h1>new build</h1>").unwrap();
    let a = get(s.addr, "GET", "/", &[br, ("If-None-Match", &old_tag)]).await;
    assert_eq!(a.status, 200);
    assert_eq!(String::from_utf8_lossy(&a.body), "br:<h1>new build</h1>");
    assert_ne!(a.header("etag"), Some(old_tag.as_str()));
    let _ = std::fs::remove_dir_all(&dir);
}
