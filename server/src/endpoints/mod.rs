//! Every route, in one place. WebSocket endpoints are [`Consumer`]s run by
//! [`crate::socket::run`] after the common handshake checks in [`upgrade`].

pub mod api;
pub mod compat;
pub mod debug;
pub mod dwebsocket;
pub mod game;
pub mod guard;
pub mod native;
pub mod static_files;

use std::net::SocketAddr;

use axum::extract::ws::{rejection::WebSocketUpgradeRejection, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use axum::Router;
use confab_protocol::SUBPROTOCOL;
use serde::Deserialize;

use crate::auth::{bearer, display_name, unix_now, Identity, NAME_RULE};
use crate::backend::{Hooks, Refusal};
use crate::config::Guests;
use crate::fanout::{ConnHandle, Flavor};
use crate::limits::ConnRefusal;
use crate::socket::{self, Consumer, Ctx};
use crate::AppState;

/// Per-connection WebSocket read buffer.
const READ_BUFFER_BYTES: usize = 4096;

/// The router of all endpoints. Every request, the fallback included, must
/// name an allowed host ([`guard::check_host`]).
pub fn router(state: AppState) -> Router {
    let mut r = Router::new()
        .route("/ws", get(native::handler))
        .route("/ws/chat/", get(compat::global_chat))
        .route("/ws/chat/{room}/", get(compat::room_chat))
        .route("/chat/{room}/", get(compat::room_chat))
        .route("/ws/echo/", get(compat::echo))
        .route("/ws/game/{room}/", get(game::handler))
        .route("/test_websocket/", get(dwebsocket::accept_websocket))
        .route("/echo_once/", get(dwebsocket::require_websocket))
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/rooms", get(api::list_rooms))
        .route(
            "/api/rooms/{room}/messages",
            post(api::publish).get(api::history),
        )
        .route("/api/rooms/{room}/presence", get(api::presence))
        .route(
            "/api/rooms/{room}/members/{user}",
            delete(api::remove_member),
        )
        .route("/api/users/{user}/disconnect", post(api::disconnect_user))
        .route("/api/publish", post(api::publish_many))
        // Not the page's fallback: an unknown API path is an error.
        .route("/api/{*rest}", any(api::not_found));
    r = match state.config.metrics_bind {
        None => r.route("/metrics", get(api::metrics)),
        // Served on its own address only: not here, not even as a page.
        Some(_) => r.route("/metrics", get(|| async { StatusCode::NOT_FOUND })),
    };
    if state.config.debug_endpoints {
        r = r
            .route("/debug/stall", post(debug::stall_all))
            .route("/debug/stall/{session}", post(debug::stall_one));
    }
    let r = static_files::attach(r, &state.config.static_dir);
    r.layer(middleware::from_fn_with_state(
        state.clone(),
        guard::check_host,
    ))
    .with_state(state)
}

/// The `/metrics` router of `--metrics-bind`, behind the same host check.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(api::metrics))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::check_host,
        ))
        .with_state(state)
}

/// What a WebSocket handshake brings: its headers, query, the upgrade (or
/// why the request is not one) and the peer's address.
pub struct Handshake {
    pub(crate) headers: HeaderMap,
    pub(crate) params: ConnectParams,
    pub(crate) ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    peer: Option<ConnectInfo<SocketAddr>>,
}

impl<S: Send + Sync> FromRequestParts<S> for Handshake {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ws = WebSocketUpgrade::from_request_parts(parts, state).await;
        let Query(params) = Query::<ConnectParams>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self {
            headers: parts.headers.clone(),
            params,
            ws,
            peer: parts.extensions.get::<ConnectInfo<SocketAddr>>().cloned(),
        })
    }
}

/// Query parameters every WebSocket endpoint accepts.
#[derive(Debug, Default, Deserialize)]
pub struct ConnectParams {
    /// Signed user token (browsers cannot set headers on WebSockets).
    pub token: Option<String>,
    /// Guest display name.
    pub name: Option<String>,
    /// Guest token from an earlier `welcome` (`guest_token`): a valid one
    /// keeps that guest id; an invalid or expired one is ignored (a new
    /// guest id, never an error: a browser cannot see the status).
    pub guest: Option<String>,
}

pub(crate) use crate::socket::Rejection;

fn reject(status: StatusCode, msg: &str) -> Rejection {
    (status, format!("{msg}\n"))
}

/// `(scheme, host[:port])` of an origin like `https://Example.com:443`,
/// lower-cased and without the scheme's default port.
fn parse_origin(origin: &str) -> Option<(String, String)> {
    let (scheme, rest) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let host = rest.split('/').next()?.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "http" | "ws" => ":80",
        "https" | "wss" => ":443",
        _ => "",
    };
    let host = match host.strip_suffix(default) {
        Some(h) if !default.is_empty() => h.to_owned(),
        _ => host,
    };
    (!host.is_empty()).then_some((scheme, host))
}

/// Channels' AllowedHostsOriginValidator: no Origin header → allowed (a
/// non-browser client); else the Origin's `host[:port]` must equal the
/// request's Host, or match an `--allowed-origins` entry: `*`, a full
/// origin `scheme://host[:port]` (scheme must match too) or `host[:port]`
/// (any scheme).
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some((scheme, authority)) = origin.to_str().ok().and_then(parse_origin) else {
        // `null` (file://, sandboxed frames) or garbage: only with `*`.
        return allowed.iter().any(|e| e.trim() == "*");
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| parse_origin(&format!("{scheme}://{h}")));
    if host.is_some_and(|(_, h)| h == authority) {
        return true;
    }
    allowed.iter().any(|entry| {
        let entry = entry.trim();
        entry == "*"
            || match parse_origin(entry) {
                Some((s, a)) => s == scheme && a == authority,
                None => entry.eq_ignore_ascii_case(&authority),
            }
    })
}

/// Who is connecting: a token (header or `?token=`) or a guest (with the
/// id of a valid `?guest=` token, else a new one; 401 with `--guests off`).
async fn identify(
    state: &AppState,
    headers: &HeaderMap,
    params: &ConnectParams,
) -> Result<Identity, Rejection> {
    if let Some(token) = bearer(headers).or(params.token.as_deref()) {
        return (state.verifier)
            .identify(token, unix_now())
            .await
            .map_err(|e| reject(StatusCode::UNAUTHORIZED, &e.to_string()));
    }
    // With a connect hook the backend may still say who this is (from a
    // cookie, say); `admit` refuses a guest it leaves a guest.
    if state.config.guests == Guests::Off && connect_hook(state).is_none() {
        return Err(no_guests());
    }
    let name = match params.name.as_deref().filter(|n| !n.trim().is_empty()) {
        None => None,
        Some(n) => Some(display_name(n).ok_or_else(|| reject(StatusCode::BAD_REQUEST, NAME_RULE))?),
    };
    let known = params
        .guest
        .as_deref()
        .and_then(|t| state.guest_key.verify(t, unix_now()));
    Ok(match known {
        Some(id) => Identity::guest_with_id(id, name.as_deref()),
        None => Identity::guest(name.as_deref()),
    })
}

fn no_guests() -> Rejection {
    reject(
        StatusCode::UNAUTHORIZED,
        "this server admits no guests: connect with a user token",
    )
}

/// The hooks, when the backend is asked at every connection.
fn connect_hook(state: &AppState) -> Option<&Hooks> {
    state.hooks.as_deref().filter(|h| h.settings().connect)
}

/// The connect hook's say on `identity` (when configured): the identity as
/// the backend changed it, or the handshake's refusal (403 for a deny,
/// 503 when the backend cannot be asked, 401 for a guest with `--guests
/// off` the backend did not identify).
async fn admit(
    state: &AppState,
    mut identity: Identity,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
) -> Result<Identity, Rejection> {
    let Some(hooks) = connect_hook(state) else {
        return Ok(identity);
    };
    match hooks.connect(&identity, ip, headers).await {
        Ok(Some(change)) => change.apply(&mut identity),
        Ok(None) => {}
        Err(refusal) => return Err(hook_refusal(state, &refusal)),
    }
    if identity.is_guest() && state.config.guests == Guests::Off {
        return Err(no_guests());
    }
    Ok(identity)
}

/// A handshake refused by a hook: 403 for a deny, 503 when the backend
/// could not be asked; the body is `<error code>: <what the client is told>`.
pub(crate) fn hook_refusal(state: &AppState, refusal: &Refusal) -> Rejection {
    let code = refusal.code();
    state.metrics.error(code);
    let status = match refusal {
        Refusal::Denied { .. } => StatusCode::FORBIDDEN,
        Refusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    };
    reject(status, &format!("{code}: {}", refusal.message()))
}

/// A handshake refused by an endpoint after the identity is known (e.g. a
/// compat room the policy closes to this user): 403 with `reason`.
pub(crate) fn forbidden(reason: &str) -> Rejection {
    reject(StatusCode::FORBIDDEN, reason)
}

/// The common handshake: origin check (403), identity (401/400), the
/// connection limits (429 for the client's address, 503 for the server),
/// the connect hook (403/503), the endpoint's own check of that identity
/// (`consumer` may refuse, e.g. 403 for a room the policy closes, and its
/// [`Consumer::admit`], e.g. a room's join hook), then the upgrade with the
/// size limits, running the consumer on the socket.
pub(crate) async fn upgrade<C: Consumer>(
    state: AppState,
    hs: Handshake,
    flavor: Flavor,
    consumer: impl FnOnce(&Identity) -> Result<C, Rejection>,
) -> Response {
    let Handshake {
        headers,
        params,
        ws,
        peer,
    } = hs;
    if !origin_allowed(&headers, &state.config.allowed_origins) {
        return reject(StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let identity = match identify(&state, &headers, &params).await {
        Ok(i) => i,
        Err(r) => return r.into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return e.into_response(),
    };
    let ip = guard::client_ip(peer.as_ref(), &headers, &state.config.trusted_proxies);
    let permit = match state.connections.acquire(ip) {
        Ok(p) => p,
        Err(refusal) => {
            state
                .metrics
                .refused_connections
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return match refusal {
                ConnRefusal::PerIp => reject(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many connections from this address",
                ),
                ConnRefusal::Total => reject(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server at its connection limit",
                ),
            }
            .into_response();
        }
    };
    let identity = match admit(&state, identity, ip, &headers).await {
        Ok(i) => i,
        Err(r) => return r.into_response(),
    };
    let mut consumer = match consumer(&identity) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    if let Err(r) = consumer.admit(&state).await {
        return r.into_response();
    }
    let max = state.config.max_message_bytes;
    let queue = state.config.outbound();
    // tungstenite reads into a buffer allocated per connection (128 KiB by
    // default): 4 KiB keeps idle connections small; larger frames still
    // grow it as needed, up to the message limit.
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(max)
        .max_frame_size(max)
        .protocols([SUBPROTOCOL])
        .on_upgrade(move |socket| {
            let (conn, out) = ConnHandle::new(
                identity.member.id.clone(),
                flavor,
                queue,
                state.metrics.clone(),
            );
            let cx = Ctx {
                state,
                conn,
                identity,
            };
            socket::run(socket, cx, out, consumer, permit)
        })
}
