//! Seed-compatible chat endpoints (the Django Channels tutorial):
//! `/ws/chat/`, `/ws/chat/{room}/`, `/chat/{room}/` and `/ws/echo/`.
//!
//! Compat rooms are native rooms: `/ws/chat/lobby/` is native room `lobby`,
//! and `/ws/chat/` is native room [`GLOBAL_ROOM`]. The room policy applies
//! to them at the handshake: without `join` the handshake is refused with
//! 403; without `publish` the socket receives but its frames are dropped
//! (the seed protocol has no error frame). Hooks too: a room's join hook
//! answers the handshake (403 for a deny, 503 when the backend cannot be
//! asked), and a frame its publish hook refuses is dropped.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confab_protocol::Member;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{forbidden, hook_refusal, upgrade, Handshake, Rejection};
use crate::auth::Identity;
use crate::fanout::Flavor;
use crate::layer::Payload;
use crate::policy::Action;
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
    may_publish: bool,
}

impl ChatConsumer {
    /// A consumer for `room` as `member` (who may publish there).
    pub fn new(room: String, member: Member) -> Self {
        Self {
            room,
            member,
            joined: false,
            may_publish: true,
        }
    }
}

/// What the policy lets `identity` do in compat room `room`: 403 without
/// `join`; otherwise whether it may publish.
pub(crate) fn compat_access(
    state: &AppState,
    identity: &Identity,
    room: &str,
) -> Result<bool, Rejection> {
    let policy = &state.config.policy;
    if !identity.may(policy, room, Action::Join) {
        state.metrics.error(confab_protocol::ErrorCode::Forbidden);
        return Err(forbidden(&format!(
            "forbidden: you may not join room {room}"
        )));
    }
    Ok(identity.may(policy, room, Action::Publish))
}

/// The join hook of `room` at the handshake, if the policy hooks it: a
/// refusal answers the handshake; `member` gets the info the backend set.
pub(crate) async fn join_hook(
    state: &AppState,
    room: &str,
    member: &mut Member,
) -> Result<(), Rejection> {
    let Some(hooks) = state.hooks.as_ref() else {
        return Ok(());
    };
    if !state.config.policy.hooks(room).join {
        return Ok(());
    }
    match hooks.join(room, member).await {
        Ok(Some(info)) => member.info = Some(info),
        Ok(None) => {}
        Err(refusal) => return Err(hook_refusal(state, &refusal)),
    }
    Ok(())
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

/// Publishes a compat payload to the room, after its publish hook if the
/// policy hooks it (a refused frame is dropped and counted); a layer
/// failure is logged (the seed protocol has no error frame).
pub(crate) async fn publish(cx: &Ctx, room: &str, member: &Member, payload: Payload) {
    let hooks = (cx.state.hooks.as_ref()).filter(|_| cx.state.config.policy.hooks(room).publish);
    let payload = match hooks {
        None => payload,
        Some(hooks) => {
            let max = cx.state.config.max_message_bytes;
            match hooks.publish(room, member, &payload, max).await {
                Ok(None) => payload,
                Ok(Some(changed)) => Payload::from(changed),
                Err(refusal) => {
                    cx.state.metrics.error(refusal.code());
                    return;
                }
            }
        }
    };
    if let Err(e) = cx.state.rooms.publish(room, member, payload, None).await {
        tracing::warn!(room, error = %e, "compat publish failed");
    }
}

#[async_trait]
impl Consumer for ChatConsumer {
    async fn admit(&mut self, state: &AppState) -> Result<(), Rejection> {
        join_hook(state, &self.room, &mut self.member).await
    }

    async fn connect(&mut self, cx: &Ctx) {
        self.joined = join_group(cx, &self.room, &self.member).await;
    }

    async fn receive(&mut self, cx: &Ctx, text: Utf8Bytes) {
        if !self.may_publish {
            cx.state
                .metrics
                .error(confab_protocol::ErrorCode::Forbidden);
            return;
        }
        let (_, payload) = compat_payload(text.as_str());
        publish(cx, &self.room, &self.member, payload).await;
    }

    async fn disconnect(&mut self, cx: &Ctx) {
        if self.joined {
            leave_group(cx, &self.room).await;
        }
    }
}

async fn chat(state: AppState, hs: Handshake, room: String) -> Response {
    let st = state.clone();
    upgrade(state, hs, Flavor::Compat, |id| {
        let may_publish = compat_access(&st, id, &room)?;
        Ok(ChatConsumer {
            may_publish,
            ..ChatConsumer::new(room, id.member.clone())
        })
    })
    .await
}

/// `GET /ws/chat/`: the global group.
pub async fn global_chat(State(state): State<AppState>, hs: Handshake) -> Response {
    chat(state, hs, GLOBAL_ROOM.to_owned()).await
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
    chat(state, hs, room).await
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
    upgrade(state, hs, Flavor::Compat, |_| Ok(EchoConsumer)).await
}
