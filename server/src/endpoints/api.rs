//! HTTP API: publish, history and members of a room, and metrics.
//!
//! Callers: the application with the API key (`--api-key`), which the
//! room policy does not apply to (a publish to a room the policy closes to
//! everyone is still fine: the key is the application), or a user with a
//! user token, who gets exactly what the policy gives them over a
//! WebSocket (403 `forbidden` otherwise). There are no guests here: no
//! credential is 401.

use std::sync::Arc;

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use confab_protocol::{validate_room_name, ErrorCode, Member};
use serde_json::json;
use serde_json::value::RawValue;

use crate::auth::{api_key_matches, bearer, unix_now, Identity};
use crate::policy::Action;
use crate::AppState;

/// The member API messages are sent as.
pub fn server_member() -> Member {
    Member::new(crate::auth::SERVER_ID, crate::auth::SERVER_ID)
}

fn error(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

/// Who is calling the HTTP API.
enum Caller {
    /// The application (the API key): no policy.
    App,
    /// A token user: the room policy applies.
    User(Box<Identity>),
}

/// The caller of a request: the API key, or a user token (the bearer
/// credential with two dots, a JWT). 503 when the server has neither an
/// API key nor a token key; 401 for anything else.
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, Response> {
    let key = state.config.api_key.as_deref();
    if key.is_none() && !state.verifier.enabled() {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "publish API disabled: start the server with --api-key",
        ));
    }
    let unauthorized = |why: &str| {
        error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            &format!("{why} (Authorization: Bearer <API key or user token>)"),
        )
    };
    let Some(presented) = bearer(headers) else {
        return Err(unauthorized("missing or wrong API key"));
    };
    if key.is_some_and(|k| api_key_matches(k, presented)) {
        return Ok(Caller::App);
    }
    if state.verifier.enabled() && presented.bytes().filter(|b| *b == b'.').count() == 2 {
        return match state.verifier.identify(presented, unix_now()).await {
            Ok(id) => Ok(Caller::User(Box::new(id))),
            Err(e) => Err(unauthorized(&e.to_string())),
        };
    }
    Err(unauthorized("missing or wrong API key"))
}

/// The caller of a request for `action` in `room`: 401/503 as [`caller`],
/// 400 for an invalid room name, 403 `forbidden` (naming the room) when
/// the policy refuses a user.
async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    room: &str,
    action: Action,
) -> Result<Caller, Response> {
    let caller = caller(state, headers).await?;
    if let Err(e) = validate_room_name(room) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            ErrorCode::RoomNameInvalid,
            &e.to_string(),
        ));
    }
    match &caller {
        Caller::User(id) if !id.may(&state.config.policy, room, action) => {
            state.metrics.error(ErrorCode::Forbidden);
            Err((
                StatusCode::FORBIDDEN,
                Json(json!({
                    "code": ErrorCode::Forbidden,
                    "message": format!("you may not {action} in room {room}"),
                    "room": room,
                })),
            )
                .into_response())
        }
        _ => Ok(caller),
    }
}

impl Caller {
    /// Who a message is from.
    fn member(&self) -> Member {
        match self {
            Caller::App => server_member(),
            Caller::User(id) => id.member.clone(),
        }
    }
}

fn layer_error(e: &crate::Error) -> Response {
    let status = match e.code() {
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::OutcomeUnknown => StatusCode::GATEWAY_TIMEOUT,
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.code(), &e.to_string())
}

/// Reads a request body of at most `max` bytes within `deadline` (the
/// whole body, however slowly it trickles in). The error is the response.
async fn read_body(body: Body, max: usize, deadline: Duration) -> Result<Bytes, Response> {
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, max)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        // `to_bytes` fails on the length limit or a broken connection.
        Ok(Err(_)) => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            "body too large",
        )),
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            [(header::CONNECTION, "close")],
            Json(
                json!({"code": ErrorCode::BadRequest, "message": "request body not sent in time"}),
            ),
        )
            .into_response()),
    }
}

/// `POST /api/rooms/{room}/messages` with `Authorization: Bearer <api key
/// or user token>` and a JSON body: stores and broadcasts the body as a
/// message from [`server_member`] (the key) or from the user (a token with
/// `publish` in the room). 201 `{room, offset, ts}`; 401 bad key or token;
/// 403 `forbidden` the policy refuses the user; 503 neither a key nor a
/// token key configured; 400 invalid room or body (not JSON, or nested
/// deeper than [`crate::limits::MAX_PAYLOAD_DEPTH`]); 413 body over the
/// size limit (from `Content-Length` alone when it says so); 408 body not
/// received within `--body-read-timeout-secs`. The credential, the room,
/// the policy and the announced length are checked before a byte of the
/// body is read.
pub async fn publish(
    State(state): State<AppState>,
    Path(room): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let caller = match authorize(&state, headers, &room, Action::Publish).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let max = state.config.max_message_bytes;
    let announced =
        (headers.get(header::CONTENT_LENGTH)).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max as u64) {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            "body too large",
        );
    }
    let body = match read_body(body, max, state.config.body_read_timeout()).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let text = match std::str::from_utf8(&body) {
        Ok(t) => t.trim().to_owned(),
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadJson,
                "body is not UTF-8",
            )
        }
    };
    let payload = match RawValue::from_string(text) {
        Ok(p) => Arc::<RawValue>::from(p),
        Err(e) => return error(StatusCode::BAD_REQUEST, ErrorCode::BadJson, &e.to_string()),
    };
    // `Idempotency-Key` is the client message id: a retried request with
    // the same key is answered with the first one's place, stored once.
    let key = (headers.get("idempotency-key")).and_then(|v| v.to_str().ok());
    match state
        .rooms
        .publish(&room, &caller.member(), payload, key)
        .await
    {
        Ok(m) => (
            if m.fresh {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            Json(json!({"room": room, "offset": m.offset, "ts": m.ts})),
        )
            .into_response(),
        Err(e) => layer_error(&e),
    }
}

/// Query of [`history`].
#[derive(Debug, serde::Deserialize)]
pub struct HistoryParams {
    /// Messages with offsets below this one (default: the newest).
    before: Option<u64>,
    /// Most messages (default 50, at most 100).
    limit: Option<usize>,
}

/// `GET /api/rooms/{room}/messages[?before=OFFSET][&limit=N]`: a page of
/// a room's history, oldest first, like the native `history` request: 200
/// `{room, messages, more}`. The API key, or a user token with `history`
/// in the room (403 otherwise).
pub async fn history(
    State(state): State<AppState>,
    Path(room): Path<String>,
    Query(params): Query<HistoryParams>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = authorize(&state, &headers, &room, Action::History).await {
        return response;
    }
    let limit = params.limit.unwrap_or(50);
    let max_bytes = state.config.join_history_bytes;
    match (state.rooms)
        .page(&room, params.before, limit, max_bytes)
        .await
    {
        Ok(page) => {
            let messages: Vec<_> = page.messages.iter().map(|m| &m.msg).collect();
            Json(json!({"room": room, "messages": messages, "more": page.more})).into_response()
        }
        Err(e) => layer_error(&e),
    }
}

/// `GET /api/rooms/{room}/members`: who is in a room: 200 `{room,
/// members}`. The API key, or a user token with `presence` in the room
/// (403 otherwise).
pub async fn members(
    State(state): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = authorize(&state, &headers, &room, Action::Presence).await {
        return response;
    }
    match state.rooms.members(&room).await {
        Ok(members) => Json(json!({"room": room, "members": members})).into_response(),
        Err(e) => layer_error(&e),
    }
}

/// `GET /metrics`: Prometheus text format; with `--metrics-token`, only
/// for `Authorization: Bearer <token>` (401 otherwise).
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = state.config.metrics_token.as_deref() {
        if !bearer(&headers).is_some_and(|p| api_key_matches(token, p)) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "metrics need Authorization: Bearer <--metrics-token>\n",
            )
                .into_response();
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(state.rooms.local_room_count()),
    )
        .into_response()
}
