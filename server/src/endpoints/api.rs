//! The server API for the application's backend (`Authorization: Bearer
//! <--api-key>`), documented in `docs/openapi.json`: publish to one room or
//! many (Channels' `group_send` from a view), list rooms, a room's
//! presence and history, disconnect a user, remove a user from a room; and
//! `/metrics`.
//!
//! A user token (a JWT, `Authorization: Bearer <token>`) may also call
//! three routes — publish to a room, a room's presence, its history — and
//! gets exactly what the room policy gives that user over a WebSocket (403
//! `forbidden` naming the room otherwise). The API key is the application:
//! the policy does not apply to it (publishing with the key to a room the
//! policy closes to everyone is fine). No credential is 401: the API has
//! no guests.
//!
//! Every route checks the credential before it reads a byte of a body, refuses an
//! announced `Content-Length` over the limit at once (413) and reads bodies
//! under a total deadline (408). Errors are `{"code","message"}` JSON.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use confab_protocol::{validate_room_name, ErrorCode, Member};
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

use crate::auth::{api_key_matches, bearer, unix_now, valid_user_id, Identity};
use crate::backend::hooks;
use crate::error::Error;
use crate::policy::Action;
use crate::AppState;

/// Most rooms one `POST /api/publish` may name.
pub const MAX_PUBLISH_ROOMS: usize = 100;

/// The member API messages are sent as.
pub fn server_member() -> Member {
    Member::new(crate::auth::SERVER_ID, crate::auth::SERVER_ID)
}

/// A refused request: its status and `{"code","message"}` body.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    /// Close the connection after answering (a body that never came).
    close: bool,
    /// The room a `forbidden` is about.
    room: Option<String>,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = match self.room {
            None => Json(json!({"code": self.code, "message": self.message})),
            Some(room) => Json(json!({"code": self.code, "message": self.message, "room": room})),
        };
        if self.close {
            (self.status, [(header::CONNECTION, "close")], body).into_response()
        } else {
            (self.status, body).into_response()
        }
    }
}

fn error(status: StatusCode, code: ErrorCode, message: &str) -> Refusal {
    Refusal {
        status,
        code,
        message: message.to_owned(),
        close: false,
        room: None,
    }
}

/// The HTTP status of a failed operation.
fn status_of(e: &Error) -> StatusCode {
    match e.code() {
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::OutcomeUnknown => StatusCode::GATEWAY_TIMEOUT,
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::Forbidden | ErrorCode::HookDenied => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn failed(e: &Error) -> Response {
    if e.is_server_fault() {
        tracing::warn!(error = %e, "server API request failed");
    }
    error(status_of(e), e.code(), &e.to_string()).into_response()
}

/// 503 without `--api-key`, 401 without the key: the first check of every
/// route.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(key) = state.config.api_key.as_deref() else {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "server API disabled: start the server with --api-key",
        ));
    };
    if bearer(headers).is_some_and(|p| api_key_matches(key, p)) {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "missing or wrong API key (Authorization: Bearer <key>)",
        ))
    }
}

/// Who is calling a route users may call too.
enum Caller {
    /// The application (the API key): no policy.
    App,
    /// A token user: the room policy applies.
    User(Box<Identity>),
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

/// The caller of a route for `action` in `room`: the API key, or a user
/// token (a bearer credential with two dots) the policy lets take
/// `action` there. 503 when the server has neither an API key nor a token
/// key; 401 a missing or bad credential; 400 an invalid room; 403
/// `forbidden` (naming the room) when the policy refuses the user.
async fn authorize_for(
    state: &AppState,
    headers: &HeaderMap,
    room: &str,
    action: Action,
) -> Result<Caller, Refusal> {
    let key = state.config.api_key.as_deref();
    if key.is_none() && !state.verifier.enabled() {
        return authorize(state, headers).map(|()| Caller::App);
    }
    let presented = bearer(headers);
    let caller =
        if presented.is_some_and(|p| key.is_some_and(|k| api_key_matches(k, p))) {
            Caller::App
        } else {
            match presented.filter(|p| state.verifier.enabled() && p.matches('.').count() == 2) {
                Some(token) => match state.verifier.identify(token, unix_now()).await {
                    Ok(id) => Caller::User(Box::new(id)),
                    Err(e) => {
                        return Err(error(
                            StatusCode::UNAUTHORIZED,
                            ErrorCode::Unauthorized,
                            &format!("{e} (Authorization: Bearer <API key or user token>)"),
                        ))
                    }
                },
                None => return Err(error(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::Unauthorized,
                    "missing or wrong API key or user token (Authorization: Bearer <key or token>)",
                )),
            }
        };
    check_room(room)?;
    if let Caller::User(id) = &caller {
        if !id.may(&state.config.policy, room, action) {
            state.metrics.error(ErrorCode::Forbidden);
            return Err(Refusal {
                room: Some(room.to_owned()),
                ..error(
                    StatusCode::FORBIDDEN,
                    ErrorCode::Forbidden,
                    &format!("you may not {action} in room {room}"),
                )
            });
        }
    }
    Ok(caller)
}

/// A user's publish goes through the room's publish hook, as over a
/// WebSocket (the application's own, with the API key, does not): 403
/// `hook_denied`, 503 `hook_unavailable`, or the payload to store.
async fn publish_hook(
    state: &AppState,
    caller: &Caller,
    room: &str,
    payload: Arc<RawValue>,
) -> Result<Arc<RawValue>, Refusal> {
    let (Caller::User(id), Some(hooks)) = (caller, state.hooks.as_ref()) else {
        return Ok(payload);
    };
    if !state.config.policy.hooks(room).publish {
        return Ok(payload);
    }
    let max = state.config.max_message_bytes;
    match hooks.publish(room, &id.member, &payload, max).await {
        Ok(None) => Ok(payload),
        Ok(Some(changed)) => Ok(Arc::from(changed)),
        Err(refusal) => {
            state.metrics.error(refusal.code());
            let status = match refusal {
                hooks::Refusal::Denied { .. } => StatusCode::FORBIDDEN,
                hooks::Refusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            };
            Err(Refusal {
                room: Some(room.to_owned()),
                ..error(status, refusal.code(), &refusal.message())
            })
        }
    }
}

fn check_room(room: &str) -> Result<(), Refusal> {
    validate_room_name(room).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            ErrorCode::RoomNameInvalid,
            &e.to_string(),
        )
    })
}

fn check_user(user: &str) -> Result<(), Refusal> {
    if valid_user_id(user) {
        Ok(())
    } else {
        Err(error(
            StatusCode::BAD_REQUEST,
            ErrorCode::UnknownUser,
            &format!("{user:?} is not a valid user id"),
        ))
    }
}

/// Reads a request body of at most `max` bytes within `deadline` (the
/// whole body, however slowly it trickles in), refusing an announced
/// length over `max` before reading. The error is the response.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    max: usize,
    deadline: Duration,
) -> Result<Bytes, Refusal> {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            "body too large",
        )
    };
    let announced =
        (headers.get(header::CONTENT_LENGTH)).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, max)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        // `to_bytes` fails on the length limit or a broken connection.
        Ok(Err(_)) => Err(too_large()),
        Err(_) => Err(Refusal {
            close: true,
            ..error(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::BadRequest,
                "request body not sent in time",
            )
        }),
    }
}

/// A body that must be one JSON value.
fn json_body(body: &Bytes) -> Result<Arc<RawValue>, Refusal> {
    let text = std::str::from_utf8(body).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadJson,
            "body is not UTF-8",
        )
    })?;
    RawValue::from_string(text.trim().to_owned())
        .map(Arc::from)
        .map_err(|e| error(StatusCode::BAD_REQUEST, ErrorCode::BadJson, &e.to_string()))
}

/// The request's body, within the size limit and the body deadline (call
/// after [`authorize`]).
async fn body_of(state: &AppState, request: Request) -> Result<Bytes, Refusal> {
    let (parts, body) = request.into_parts();
    let max = state.config.max_message_bytes;
    read_body(&parts.headers, body, max, state.config.body_read_timeout()).await
}

/// `POST /api/rooms/{room}/messages`: stores and broadcasts the body (any
/// JSON) as a message from [`server_member`] (the API key) or from the
/// user (a token with `publish` in the room). 201 `{room, offset, ts}`;
/// with an `Idempotency-Key` seen before, 200 and the first one's place.
pub async fn publish(
    State(state): State<AppState>,
    Path(room): Path<String>,
    request: Request,
) -> Response {
    // `Idempotency-Key` is the client message id: a retried request with
    // the same key is answered with the first one's place, stored once.
    let key = (request.headers().get("idempotency-key"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let caller = match authorize_for(&state, request.headers(), &room, Action::Publish).await {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let payload = match body_of(&state, request).await.and_then(|b| json_body(&b)) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let payload = match publish_hook(&state, &caller, &room, payload).await {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    match state
        .rooms
        .publish(&room, &caller.member(), payload, key.as_deref())
        .await
    {
        Ok(m) => {
            let status = if m.fresh {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (
                status,
                Json(json!({"room": room, "offset": m.offset, "ts": m.ts})),
            )
                .into_response()
        }
        Err(e) => failed(&e),
    }
}

#[derive(Deserialize)]
struct PublishMany {
    rooms: Vec<String>,
    payload: Box<RawValue>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// `POST /api/publish` `{"rooms": [...], "payload": any, "idempotency_key"?}`:
/// one message to each room (at most [`MAX_PUBLISH_ROOMS`]). 200
/// `{"results": [{room, offset, ts} | {room, error: {code, message}}]}`,
/// one per room in order; each room's `idempotency_key` is the key.
pub async fn publish_many(State(state): State<AppState>, request: Request) -> Response {
    if let Err(r) = authorize(&state, request.headers()) {
        return r.into_response();
    }
    let body = match body_of(&state, request).await {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let req: PublishMany = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                &e.to_string(),
            )
            .into_response()
        }
    };
    if req.rooms.is_empty() || req.rooms.len() > MAX_PUBLISH_ROOMS {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            &format!("rooms must name 1-{MAX_PUBLISH_ROOMS} rooms"),
        )
        .into_response();
    }
    if let Some(bad) = req.rooms.iter().find(|r| validate_room_name(r).is_err()) {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorCode::RoomNameInvalid,
            &format!("{bad:?}"),
        )
        .into_response();
    }
    let payload: Arc<RawValue> = Arc::from(req.payload);
    let from = server_member();
    let mut results = Vec::with_capacity(req.rooms.len());
    for room in &req.rooms {
        let key = req.idempotency_key.as_deref();
        results.push(
            match state.rooms.publish(room, &from, payload.clone(), key).await {
                Ok(m) => json!({"room": room, "offset": m.offset, "ts": m.ts}),
                Err(e) => {
                    json!({"room": room, "error": {"code": e.code(), "message": e.to_string()}})
                }
            },
        );
    }
    Json(json!({ "results": results })).into_response()
}

/// `GET /api/rooms`: every room with members, `{"rooms": [{room, members}]}`
/// (`members` is how many).
pub async fn list_rooms(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers) {
        return r.into_response();
    }
    match state.rooms.list().await {
        Ok(rooms) => {
            let rooms: Vec<_> = rooms
                .iter()
                .map(|(r, n)| json!({"room": r, "members": n}))
                .collect();
            Json(json!({ "rooms": rooms })).into_response()
        }
        Err(e) => failed(&e),
    }
}

/// `GET /api/rooms/{room}/presence`: `{"room", "members": [member]}`. The
/// API key, or a user token with `presence` in the room.
pub async fn presence(
    State(state): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize_for(&state, &headers, &room, Action::Presence).await {
        return r.into_response();
    }
    match state.rooms.members(&room).await {
        Ok(members) => Json(json!({"room": room, "members": members})).into_response(),
        Err(e) => failed(&e),
    }
}

/// Query of `GET /api/rooms/{room}/messages`.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    before: Option<u64>,
    limit: Option<usize>,
}

/// `GET /api/rooms/{room}/messages?before=&limit=`: older messages, as the
/// `history` envelope pages them: `{"room", "messages", "more"}`. The API
/// key, or a user token with `history` in the room.
pub async fn history(
    State(state): State<AppState>,
    Path(room): Path<String>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize_for(&state, &headers, &room, Action::History).await {
        return r.into_response();
    }
    let Ok(Query(q)) = query else {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            "before and limit are numbers",
        )
        .into_response();
    };
    let limit = q.limit.unwrap_or(state.config.join_history);
    match state
        .rooms
        .page(&room, q.before, limit, state.config.join_history_bytes)
        .await
    {
        Ok(page) => {
            let messages: Vec<_> = page.messages.iter().map(|m| &m.msg).collect();
            Json(json!({"room": room, "messages": messages, "more": page.more})).into_response()
        }
        Err(e) => failed(&e),
    }
}

/// `POST /api/users/{user}/disconnect`: closes every connection of the
/// user, on every node, with 4004 (the SDK does not reconnect). 202.
pub async fn disconnect_user(
    State(state): State<AppState>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&state, &headers).and_then(|()| check_user(&user)) {
        return r.into_response();
    }
    match state.rooms.disconnect_user(&user).await {
        Ok(()) => (StatusCode::ACCEPTED, Json(json!({ "user": user }))).into_response(),
        Err(e) => failed(&e),
    }
}

/// `DELETE /api/rooms/{room}/members/{user}`: the user's connections in the
/// room leave it, on every node; each is told with an `error` `forbidden`
/// naming the room (seed-compatible sockets are closed with 4004). 202.
pub async fn remove_member(
    State(state): State<AppState>,
    Path((room, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&state, &headers)
        .and_then(|()| check_room(&room))
        .and_then(|()| check_user(&user))
    {
        return r.into_response();
    }
    match state.rooms.remove_member(&room, &user).await {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(json!({"room": room, "user": user})),
        )
            .into_response(),
        Err(e) => failed(&e),
    }
}

/// Any other path under `/api/`: 404 (not the page's fallback).
pub async fn not_found() -> Response {
    let message = "no such API route (see docs/openapi.json)";
    error(StatusCode::NOT_FOUND, ErrorCode::BadRequest, message).into_response()
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
    let mut text = state.metrics.render(state.rooms.local_room_count());
    if let Some(hooks) = &state.hooks {
        hooks.render_metrics(&mut text);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
