//! `/ws`: the native multiplexed protocol (see `confab_protocol`).

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use axum::extract::State;
use axum::response::Response;
use confab_protocol::{
    decode_client, dm_members, dm_room, validate_room_name, Ack, ClientMsg, Direct, ErrorCode,
    ErrorMsg, HistoryPage, HistoryReq, Join, Joined, Leave, Limits, List, Member, Members, Pong,
    Publish, RawPayload, Rename, ServerMsg, SetState, SignalReq, Welcome, PROTOCOL_VERSION,
};

use super::{upgrade, Handshake};
use crate::auth::{display_name, valid_user_id, NAME_RULE};
use crate::clock::{now_ms, unix_now};
use crate::fanout::encode;
use crate::fanout::{Flavor, Payload};
use crate::limits::{RateDecision, RateLimiter};
use crate::rooms::JoinRequest;
use crate::socket::{Consumer, Ctx};
use crate::AppState;

/// `GET /ws`.
pub async fn handler(State(state): State<AppState>, hs: Handshake) -> Response {
    let c = &state.config;
    let signals = RateLimiter::new(c.signal_rate_per_sec, c.signal_burst, u32::MAX);
    upgrade(state, hs, Flavor::Native, |id| Native {
        member: id.member.clone(),
        rooms: HashSet::new(),
        signals,
    })
}

/// A request that failed: the error envelope's fields.
struct Fail {
    code: ErrorCode,
    message: String,
    room: Option<String>,
}

impl Fail {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            room: None,
        }
    }

    fn room(mut self, room: &str) -> Self {
        self.room = Some(room.to_owned());
        self
    }
}

impl From<crate::Error> for Fail {
    fn from(e: crate::Error) -> Self {
        if e.is_server_fault() {
            tracing::warn!(error = %e, "request failed");
        }
        Self::new(e.code(), e.to_string())
    }
}

type Reply = Result<(), Fail>;

/// One native connection's state.
struct Native {
    member: Member,
    rooms: HashSet<String>,
    /// The separate budget of ephemeral signals.
    signals: RateLimiter,
}

fn payload(p: RawPayload) -> Payload {
    Arc::from(p)
}

fn send(cx: &Ctx, msg: &ServerMsg<Payload>) {
    cx.send(encode::reply(msg));
}

fn ack(
    cx: &Ctx,
    reference: Option<String>,
    room: Option<String>,
    offset: Option<u64>,
    ts: Option<u64>,
) {
    send(
        cx,
        &ServerMsg::Ack(Ack {
            reference,
            room,
            offset,
            ts,
            expires: None,
        }),
    );
}

fn send_error(cx: &Ctx, reference: Option<String>, fail: Fail) {
    cx.state.metrics.error(fail.code);
    send(
        cx,
        &ServerMsg::Error(ErrorMsg {
            reference,
            code: fail.code,
            message: fail.message,
            room: fail.room,
        }),
    );
}

fn check_room(room: &str) -> Reply {
    validate_room_name(room)
        .map_err(|e| Fail::new(ErrorCode::RoomNameInvalid, e.to_string()).room(room))
}

impl Native {
    /// A DM room is only for its two users.
    fn check_access(&self, room: &str) -> Reply {
        match dm_members(room) {
            Some((a, b)) if a != self.member.id && b != self.member.id => Err(Fail::new(
                ErrorCode::Unauthorized,
                "direct-message rooms are only for their two users",
            )
            .room(room)),
            _ => Ok(()),
        }
    }

    async fn join(&mut self, cx: &Ctx, m: Join) -> Reply {
        check_room(&m.room)?;
        self.check_access(&m.room)?;
        let rejoin = self.rooms.contains(&m.room);
        let max = cx.state.config.max_rooms as usize;
        if !rejoin && self.rooms.len() >= max {
            return Err(Fail::new(
                ErrorCode::TooManyRooms,
                format!("a connection may join at most {max} rooms"),
            )
            .room(&m.room));
        }
        let request = JoinRequest {
            room: &m.room,
            rejoin,
            since: m.since.as_ref(),
            limit: cx.state.config.join_history,
            max_bytes: cx.state.config.join_history_bytes,
        };
        let reference = m.reference;
        (cx.state.rooms)
            .join(request, &cx.conn, &self.member, |snap| {
                encode::reply(&ServerMsg::Joined(Joined {
                    reference,
                    room: m.room.clone(),
                    epoch: snap.history.epoch,
                    offset: snap.history.head,
                    recovered: snap.history.recovered,
                    members: snap.members,
                    history: (snap.history.messages.iter())
                        .map(|s| s.msg.clone())
                        .collect(),
                }))
            })
            .await
            .map_err(|e| Fail::from(e).room(&m.room))?;
        self.rooms.insert(m.room);
        Ok(())
    }

    async fn leave(&mut self, cx: &Ctx, m: Leave) -> Reply {
        if !self.rooms.remove(&m.room) {
            return Err(Fail::new(ErrorCode::NotJoined, "not joined to this room").room(&m.room));
        }
        cx.state
            .rooms
            .leave(&m.room, &cx.conn)
            .await
            .map_err(|e| Fail::from(e).room(&m.room))?;
        ack(cx, m.reference, Some(m.room), None, None);
        Ok(())
    }

    async fn publish(&mut self, cx: &Ctx, m: Publish<RawPayload>) -> Reply {
        if !self.rooms.contains(&m.room) {
            check_room(&m.room)?;
            return Err(
                Fail::new(ErrorCode::NotJoined, "join the room before publishing").room(&m.room),
            );
        }
        let stored = (cx.state.rooms)
            .publish(&m.room, &self.member, payload(m.payload), m.cid.as_deref())
            .await
            .map_err(|e| Fail::from(e).room(&m.room))?;
        let (offset, ts) = (Some(stored.offset), Some(stored.ts));
        ack(cx, m.reference, Some(m.room), offset, ts);
        Ok(())
    }

    async fn direct(&mut self, cx: &Ctx, m: Direct<RawPayload>) -> Reply {
        if !valid_user_id(&m.to) {
            return Err(Fail::new(
                ErrorCode::UnknownUser,
                format!("{:?} is not a valid user id", m.to),
            ));
        }
        let room = dm_room(&self.member.id, &m.to);
        let stored = (cx.state.rooms)
            .publish(&room, &self.member, payload(m.payload), m.cid.as_deref())
            .await
            .map_err(|e| Fail::from(e).room(&room))?;
        let (offset, ts) = (Some(stored.offset), Some(stored.ts));
        ack(cx, m.reference, Some(room), offset, ts);
        Ok(())
    }

    /// The room of a request that needs it joined (`signal`, `state`).
    fn joined(&self, room: &str) -> Reply {
        if self.rooms.contains(room) {
            return Ok(());
        }
        check_room(room)?;
        Err(Fail::new(ErrorCode::NotJoined, "join the room first").room(room))
    }

    async fn signal(&mut self, cx: &Ctx, m: SignalReq<RawPayload>) -> Reply {
        self.joined(&m.room)?;
        if self.signals.check() != RateDecision::Allow {
            return Err(
                Fail::new(ErrorCode::RateLimited, "too many signals; slow down").room(&m.room),
            );
        }
        (cx.state.rooms)
            .signal(&m.room, &self.member, payload(m.payload))
            .await
            .map_err(|e| Fail::from(e).room(&m.room))
    }

    async fn history(&mut self, cx: &Ctx, m: HistoryReq) -> Reply {
        check_room(&m.room)?;
        self.check_access(&m.room)?;
        let limit = m.limit.map_or(cx.state.config.join_history, |l| l as usize);
        let page = (cx.state.rooms)
            .page(&m.room, m.before, limit, cx.state.config.join_history_bytes)
            .await
            .map_err(|e| Fail::from(e).room(&m.room))?;
        send(
            cx,
            &ServerMsg::History(HistoryPage {
                reference: m.reference,
                room: m.room,
                messages: page.messages.iter().map(|s| s.msg.clone()).collect(),
                more: page.more,
            }),
        );
        Ok(())
    }

    async fn state(&mut self, cx: &Ctx, m: SetState) -> Reply {
        self.joined(&m.room)?;
        let max = cx.state.config.max_state_bytes;
        if m.state.text().len() > max {
            return Err(
                Fail::new(ErrorCode::TooLarge, format!("state over {max} bytes")).room(&m.room),
            );
        }
        let state = (m.state.text() != "null").then_some(m.state);
        (cx.state.rooms)
            .set_state(&m.room, &self.member.id, state)
            .await
            .map_err(|e| Fail::from(e).room(&m.room))?;
        ack(cx, m.reference, Some(m.room), None, None);
        Ok(())
    }

    async fn rename(&mut self, cx: &Ctx, m: Rename) -> Reply {
        let name =
            display_name(&m.name).ok_or_else(|| Fail::new(ErrorCode::NameInvalid, NAME_RULE))?;
        self.member.name = name;
        cx.state.rooms.rename(&self.member).await?;
        ack(cx, m.reference, None, None, None);
        Ok(())
    }

    /// Takes a rename made on another of the user's connections.
    fn sync_name(&mut self, cx: &Ctx) {
        if let Some(name) = cx.state.rooms.user_name(&self.member.id) {
            if name != self.member.name {
                self.member.name = name;
            }
        }
    }

    async fn list(&mut self, cx: &Ctx, m: List) -> Reply {
        check_room(&m.room)?;
        self.check_access(&m.room)?;
        let members = cx
            .state
            .rooms
            .members(&m.room)
            .await
            .map_err(|e| Fail::from(e).room(&m.room))?;
        send(
            cx,
            &ServerMsg::Members(Members {
                reference: m.reference,
                room: m.room,
                members,
            }),
        );
        Ok(())
    }
}

#[async_trait]
impl Consumer for Native {
    async fn connect(&mut self, cx: &Ctx) {
        self.sync_name(cx);
        let c = &cx.state.config;
        send(
            cx,
            &ServerMsg::Welcome(Welcome {
                version: PROTOCOL_VERSION,
                session_id: cx.conn.session_id.clone(),
                user: self.member.clone(),
                heartbeat_ms: c.heartbeat_ms,
                limits: Limits {
                    max_message_bytes: c.max_message_bytes as u64,
                    max_rooms: c.max_rooms,
                    rate_per_sec: c.rate_per_sec,
                },
                guest_token: cx
                    .identity
                    .expires
                    .is_none()
                    .then(|| cx.state.guest_key.mint(&self.member.id, unix_now())),
                expires: cx.identity.expires,
            }),
        );
    }

    async fn receive(&mut self, cx: &Ctx, text: Utf8Bytes) {
        let msg = match decode_client(text.as_str()) {
            Ok(m) => m,
            Err(e) => {
                return send_error(cx, e.reference, Fail::new(e.code, e.message));
            }
        };
        let reference = msg.reference().map(str::to_owned);
        self.sync_name(cx);
        let result = match msg {
            ClientMsg::Join(m) => self.join(cx, m).await,
            ClientMsg::Leave(m) => self.leave(cx, m).await,
            ClientMsg::Publish(m) => self.publish(cx, m).await,
            ClientMsg::Direct(m) => self.direct(cx, m).await,
            ClientMsg::Rename(m) => self.rename(cx, m).await,
            ClientMsg::List(m) => self.list(cx, m).await,
            ClientMsg::Signal(m) => self.signal(cx, m).await,
            ClientMsg::History(m) => self.history(cx, m).await,
            ClientMsg::State(m) => self.state(cx, m).await,
            ClientMsg::Ping(m) => {
                send(
                    cx,
                    &ServerMsg::Pong(Pong {
                        reference: m.reference,
                        ts: now_ms(),
                    }),
                );
                Ok(())
            }
            _ => Err(Fail::new(
                ErrorCode::UnknownType,
                "unsupported envelope type",
            )),
        };
        if let Err(fail) = result {
            send_error(cx, reference, fail);
        }
    }

    async fn evicted(&mut self, cx: &Ctx, room: &str) {
        if !self.rooms.remove(room) {
            return;
        }
        if let Err(e) = cx.state.rooms.leave(room, &cx.conn).await {
            tracing::warn!(room, error = %e, "leave after removal failed");
        }
        let fail = Fail::new(
            ErrorCode::Forbidden,
            "removed from the room by the application",
        );
        send_error(cx, None, fail.room(room));
    }

    fn rate_limited(&mut self, cx: &Ctx, text: &str) {
        let reference = match decode_client(text) {
            Ok(m) => m.reference().map(str::to_owned),
            Err(e) => e.reference,
        };
        send_error(
            cx,
            reference,
            Fail::new(ErrorCode::RateLimited, "too many frames; slow down"),
        );
    }

    async fn disconnect(&mut self, cx: &Ctx) {
        for room in self.rooms.drain() {
            if let Err(e) = cx.state.rooms.leave(&room, &cx.conn).await {
                tracing::warn!(room, error = %e, "leave on disconnect failed");
            }
        }
    }
}
