//! Debug-only endpoints (enabled by the hidden `--debug-endpoints` flag):
//! `POST /debug/stall` and `POST /debug/stall/{session_id}` make
//! connections stop sending and reading, as if the link had died, so a
//! client's heartbeat can be tested.

use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::AppState;

/// Stalls every connection; answers with how many.
pub async fn stall_all(State(state): State<AppState>) -> String {
    let conns = state.rooms.connections();
    for c in &conns {
        c.stall();
    }
    format!("stalled {}\n", conns.len())
}

/// Stalls the connection whose `welcome` carried `session_id`.
pub async fn stall_one(
    State(state): State<AppState>,
    Path(session): Path<String>,
) -> (StatusCode, &'static str) {
    match state.rooms.by_session(&session) {
        Some(c) => {
            c.stall();
            (StatusCode::OK, "stalled\n")
        }
        None => (StatusCode::NOT_FOUND, "no such session\n"),
    }
}
