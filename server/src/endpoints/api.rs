//! HTTP API: server-side publish and metrics.

use std::sync::Arc;

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use confab_protocol::{validate_room_name, ErrorCode, Member};
use serde_json::json;
use serde_json::value::RawValue;

use crate::auth::{api_key_matches, bearer};
use crate::AppState;

/// The member API messages are sent as.
pub fn server_member() -> Member {
    Member::new(crate::auth::SERVER_ID, crate::auth::SERVER_ID)
}

fn error(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
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

/// `POST /api/rooms/{room}/messages` with `Authorization: Bearer <api key>`
/// and a JSON body: stores and broadcasts the body as a message from
/// [`server_member`]. 201 `{room, offset, ts}`; 401 bad key; 503 no key
/// configured; 400 invalid room or body (not JSON, or nested deeper than
/// [`crate::limits::MAX_PAYLOAD_DEPTH`]); 413 body over the size limit
/// (from `Content-Length` alone when it says so); 408 body not received
/// within `--body-read-timeout-secs`. The key, the room and the announced
/// length are checked before a byte of the body is read.
pub async fn publish(
    State(state): State<AppState>,
    Path(room): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let Some(key) = state.config.api_key.as_deref() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "publish API disabled: start the server with --api-key",
        );
    };
    if !bearer(headers).is_some_and(|p| api_key_matches(key, p)) {
        return error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "missing or wrong API key (Authorization: Bearer <key>)",
        );
    }
    if let Err(e) = validate_room_name(&room) {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorCode::RoomNameInvalid,
            &e.to_string(),
        );
    }
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
        .publish(&room, &server_member(), payload, key)
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
        Err(e) => {
            let status = match e.code() {
                ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::OutcomeUnknown => StatusCode::GATEWAY_TIMEOUT,
                ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            error(status, e.code(), &e.to_string())
        }
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
