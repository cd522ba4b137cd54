//! `/ws/game/{room}/`: the seed's dice game. Game room `r` is native room
//! `game-r`.

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use confab_protocol::Member;
use rand::Rng;
use serde_json::json;
use serde_json::value::RawValue;

use super::compat::{
    compat_access, compat_payload, compat_room_not_found, join_group, join_hook, leave_group,
    publish,
};
use super::{upgrade, Handshake, Rejection};
use crate::fanout::Flavor;
use crate::layer::Payload;
use crate::socket::{Consumer, Ctx};
use crate::AppState;

/// Prefix of the native rooms of games.
pub const GAME_ROOM_PREFIX: &str = "game-";

fn roll() -> u8 {
    rand::rng().random_range(1..=6)
}

fn to_payload(v: &serde_json::Value) -> Payload {
    let raw = RawValue::from_string(v.to_string()).unwrap_or_else(|e| unreachable!("json: {e}"));
    raw.into()
}

struct Game {
    room: String,
    member: Member,
    joined: bool,
    may_publish: bool,
}

#[async_trait]
impl Consumer for Game {
    async fn admit(&mut self, state: &AppState) -> Result<(), Rejection> {
        join_hook(state, &self.room, &mut self.member).await
    }

    async fn connect(&mut self, cx: &Ctx) {
        self.joined = join_group(cx, &self.room, &self.member).await;
        if self.joined && self.may_publish {
            let start = json!({"message": "game started", "gameStatus": 1, "position": roll()});
            publish(cx, &self.room, &self.member, to_payload(&start)).await;
        }
    }

    async fn receive(&mut self, cx: &Ctx, text: Utf8Bytes) {
        if !self.may_publish {
            cx.state
                .metrics
                .error(confab_protocol::ErrorCode::Forbidden);
            return;
        }
        let payload = match compat_payload(text.as_str()) {
            (Some(m), _) => to_payload(&json!({"message": m, "position": roll()})),
            (None, raw) => raw,
        };
        publish(cx, &self.room, &self.member, payload).await;
    }

    async fn disconnect(&mut self, cx: &Ctx) {
        if self.joined {
            leave_group(cx, &self.room).await;
        }
    }
}

/// `GET /ws/game/{room}/`.
pub async fn handler(
    State(state): State<AppState>,
    Path(room): Path<String>,
    hs: Handshake,
) -> Response {
    if let Some(not_found) = compat_room_not_found(&room) {
        return not_found;
    }
    let room = format!("{GAME_ROOM_PREFIX}{room}");
    let st = state.clone();
    upgrade(state, hs, Flavor::Compat, |id| {
        let may_publish = compat_access(&st, id, &room)?;
        Ok(Game {
            room,
            member: id.member.clone(),
            joined: false,
            may_publish,
        })
    })
    .await
}
