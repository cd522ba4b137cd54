//! HTTP API: server-side publish and metrics.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use confab_protocol::{validate_room_name, ErrorCode, Member};
use serde_json::json;
use serde_json::value::RawValue;

use crate::auth::api_key_matches;
use crate::AppState;

/// The member API messages are sent as.
pub fn server_member() -> Member {
    Member {
        id: "server".into(),
        name: "server".into(),
    }
}

fn error(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

/// `POST /api/rooms/{room}/messages` with `Authorization: Bearer <api key>`
/// and a JSON body: stores and broadcasts the body as a message from
/// [`server_member`]. 201 `{room, offset, ts}`; 401 bad key; 503 no key
/// configured; 400 invalid room or body (not JSON, or nested deeper than
/// [`crate::limits::MAX_PAYLOAD_DEPTH`]); 413 body over the size limit.
pub async fn publish(
    State(state): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(key) = state.config.api_key.as_deref() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "publish API disabled: start the server with --api-key",
        );
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if !presented.is_some_and(|p| api_key_matches(key, p)) {
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
    if body.len() > state.config.max_message_bytes {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            "body too large",
        );
    }
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
    match state.rooms.publish(&room, &server_member(), payload).await {
        Ok(m) => (
            StatusCode::CREATED,
            Json(json!({"room": room, "offset": m.msg.offset, "ts": m.msg.ts})),
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

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(state.rooms.local_room_count()),
    )
        .into_response()
}
