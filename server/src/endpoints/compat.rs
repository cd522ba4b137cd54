//! Seed-compatible chat endpoints (the Django Channels tutorial):
//! `/ws/chat/`, `/ws/chat/{room}/`, `/chat/{room}/` and `/ws/echo/`.
//!
//! Compat rooms are native rooms: `/ws/chat/lobby/` is native room `lobby`,
//! and `/ws/chat/` is native room [`GLOBAL_ROOM`].

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confab_protocol::Member;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{upgrade, Handshake};
use crate::fanout::Flavor;
use crate::layer::Payload;
use crate::socket::{Consumer, Ctx};
use crate::AppState;

/// The native room of the global `/ws/chat/` group (a name no `\w+` compat
/// room can have).
pub const GLOBAL_ROOM: &str = "chat-global";

/// Whether `room` is a valid compat room: 1–100 ASCII word characters.
pub fn valid_compat_room(room: &str) -> bool {
    !room.is_empty()
        && room.len() <= 100
        && room.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The handshake answer for an invalid compat room (`None` when valid):
/// 404, as Django's URL router gives for a path its `\w+` pattern does not
/// match.
pub fn compat_room_not_found(room: &str) -> Option<Response> {
    if valid_compat_room(room) {
        None
    } else {
        Some(
            (
                StatusCode::NOT_FOUND,
                "room must match \\w+ (at most 100 ASCII characters)\n",
            )
                .into_response(),
        )
    }
}

#[derive(Deserialize)]
struct MessageFrame {
    message: String,
}

/// The payload stored for a compat frame: `{"message": m}` for a JSON object
/// with a string `message`, else the frame text as a JSON string.
pub fn compat_payload(text: &str) -> (Option<String>, Payload) {
    let parsed = if text.trim_start().starts_with('{') {
        serde_json::from_str::<MessageFrame>(text).ok()
    } else {
        None
    };
    let (message, json) = match parsed {
        Some(f) => {
            let json = serde_json::json!({ "message": f.message }).to_string();
            (Some(f.message), json)
        }
        None => (None, serde_json::Value::String(text.to_owned()).to_string()),
    };
    let raw = RawValue::from_string(json).unwrap_or_else(|e| unreachable!("serialized json: {e}"));
    (message, Arc::from(raw))
}

/// A compat socket in one room group.
pub struct ChatConsumer {
    room: String,
    member: Member,
    joined: bool,
}

impl ChatConsumer {
    /// A consumer for `room` as `member`.
    pub fn new(room: String, member: Member) -> Self {
        Self {
            room,
            member,
            joined: false,
        }
    }
}

/// Joins the group as a compat connection; closes with 1011 on layer failure.
pub(crate) async fn join_group(cx: &Ctx, room: &str, member: &Member) -> bool {
    match cx.state.rooms.join_live(room, &cx.conn, member).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(room, error = %e, "compat join failed");
            cx.close(
                confab_protocol::close::INTERNAL,
                "channel layer unavailable",
            );
            false
        }
    }
}

/// Leaves the group joined by [`join_group`].
pub(crate) async fn leave_group(cx: &Ctx, room: &str) {
    if let Err(e) = cx.state.rooms.leave(room, &cx.conn).await {
        tracing::warn!(room, error = %e, "compat leave failed");
    }
}

/// Publishes a compat payload to the room; a layer failure is logged (the
/// seed protocol has no error frame).
pub(crate) async fn publish(cx: &Ctx, room: &str, member: &Member, payload: Payload) {
    if let Err(e) = cx.state.rooms.publish(room, member, payload, None).await {
        tracing::warn!(room, error = %e, "compat publish failed");
    }
}

#[async_trait]
impl Consumer for ChatConsumer {
    async fn connect(&mut self, cx: &Ctx) {
        self.joined = join_group(cx, &self.room, &self.member).await;
    }

    async fn receive(&mut self, cx: &Ctx, text: Utf8Bytes) {
        let (_, payload) = compat_payload(text.as_str());
        publish(cx, &self.room, &self.member, payload).await;
    }

    async fn disconnect(&mut self, cx: &Ctx) {
        if self.joined {
            leave_group(cx, &self.room).await;
        }
    }
}

fn chat(state: AppState, hs: Handshake, room: String) -> Response {
    upgrade(state, hs, Flavor::Compat, |id| {
        ChatConsumer::new(room, id.member.clone())
    })
}

/// `GET /ws/chat/`: the global group.
pub async fn global_chat(State(state): State<AppState>, hs: Handshake) -> Response {
    chat(state, hs, GLOBAL_ROOM.to_owned())
}

/// `GET /ws/chat/{room}/` and `GET /chat/{room}/`.
pub async fn room_chat(
    State(state): State<AppState>,
    Path(room): Path<String>,
    hs: Handshake,
) -> Response {
    if let Some(not_found) = compat_room_not_found(&room) {
        return not_found;
    }
    chat(state, hs, room)
}

/// Echoes `{"message": m}` (or any other frame verbatim) to the sender.
pub struct EchoConsumer;

#[async_trait]
impl Consumer for EchoConsumer {
    async fn connect(&mut self, _cx: &Ctx) {}

    async fn receive(&mut self, cx: &Ctx, text: Utf8Bytes) {
        match compat_payload(text.as_str()) {
            (Some(_), payload) => cx.send(payload.get().to_owned()),
            (None, _) => cx.send(text),
        }
    }

    async fn disconnect(&mut self, _cx: &Ctx) {}
}

/// `GET /ws/echo/`.
pub async fn echo(State(state): State<AppState>, hs: Handshake) -> Response {
    upgrade(state, hs, Flavor::Compat, |_| EchoConsumer)
}
