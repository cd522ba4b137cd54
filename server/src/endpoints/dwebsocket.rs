//! dwebsocket-style endpoints: `/test_websocket/` (`accept_websocket`: HTML
//! page over plain HTTP, a push every second over WebSocket) and
//! `/echo_once/` (`require_websocket`: 400 over plain HTTP; echoes the first
//! frame, then closes).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use confab_protocol::close;
use serde_json::json;

use super::{upgrade, Handshake};
use crate::fanout::Flavor;
use crate::socket::{Consumer, Ctx};
use crate::AppState;

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>test_websocket</title>
<p>This URL also accepts a WebSocket: it pushes the server time every second.</p>
<pre id="log"></pre>
<script>
const ws = new WebSocket(location.href.replace(/^http/, "ws"));
ws.onmessage = (e) => { document.getElementById("log").textContent += e.data + "\n"; };
</script>
"#;

/// `YYYY.MM.DD HH:MM:SS` in UTC for `secs` since the Unix epoch.
///
/// ```
/// assert_eq!(confab_server::endpoints::dwebsocket::format_time(1_763_777_000), "2025.11.22 02:03:20");
/// ```
pub fn format_time(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}.{m:02}.{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

struct Pusher {
    sent: u64,
    client_msg: Option<String>,
}

#[async_trait]
impl Consumer for Pusher {
    async fn connect(&mut self, _cx: &Ctx) {}

    async fn receive(&mut self, _cx: &Ctx, text: Utf8Bytes) {
        self.client_msg = Some(text.as_str().to_owned());
    }

    fn tick_every(&self) -> Option<Duration> {
        Some(Duration::from_secs(1))
    }

    async fn tick(&mut self, cx: &Ctx) {
        self.sent += 1;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut v = json!({
            "time": format_time(now),
            "server_msg": format!("send {} times!", self.sent),
        });
        if let Some(m) = self.client_msg.take() {
            v["client_msg"] = m.into();
        }
        cx.send(v.to_string());
    }

    async fn disconnect(&mut self, _cx: &Ctx) {}
}

/// `GET /test_websocket/`.
pub async fn accept_websocket(State(state): State<AppState>, hs: Handshake) -> Response {
    if hs.ws.is_err() {
        return Html(PAGE).into_response();
    }
    upgrade(state, hs, Flavor::Compat, |_| {
        Ok(Pusher {
            sent: 0,
            client_msg: None,
        })
    })
    .await
}

struct EchoOnce;

#[async_trait]
impl Consumer for EchoOnce {
    async fn connect(&mut self, _cx: &Ctx) {}

    async fn receive(&mut self, cx: &Ctx, text: Utf8Bytes) {
        cx.send(text);
        cx.close(close::NORMAL, "");
    }

    async fn disconnect(&mut self, _cx: &Ctx) {}
}

/// `GET /echo_once/`.
pub async fn require_websocket(State(state): State<AppState>, hs: Handshake) -> Response {
    if hs.ws.is_err() {
        return (StatusCode::BAD_REQUEST, "this URL requires a WebSocket\n").into_response();
    }
    upgrade(state, hs, Flavor::Compat, |_| Ok(EchoOnce)).await
}
