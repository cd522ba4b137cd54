//! `/ws`: the native multiplexed protocol (see `confab_protocol`).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use axum::extract::State;
use axum::response::Response;
use confab_protocol::{
    decode_client, dm_members, dm_room, validate_room_name, Ack, ClientMsg, Direct, ErrorCode,
    ErrorMsg, HistoryPage, HistoryReq, Join, Joined, Json, Leave, Limits, List, Member, Members,
    Pong, Publish, RawPayload, Refresh, Rename, ServerMsg, SetState, SignalReq, Welcome,
    PROTOCOL_VERSION,
};

use super::{upgrade, Handshake};
use crate::auth::{display_name, valid_user_id, NAME_RULE};
use crate::backend::Refusal;
use crate::clock::{now_ms, unix_now};
use crate::fanout::encode;
use crate::fanout::{Flavor, Payload};
use crate::limits::{RateDecision, RateLimiter};
use crate::policy::{Action, Grants, Who};
use crate::rooms::JoinRequest;
use crate::socket::{Consumer, Ctx};
use crate::AppState;

/// `GET /ws`.
pub async fn handler(State(state): State<AppState>, hs: Handshake) -> Response {
    let c = &state.config;
    let signals = RateLimiter::new(c.signal_rate_per_sec, c.signal_burst, u32::MAX);
    upgrade(state, hs, Flavor::Native, |id| {
        Ok(Native {
            member: id.member.clone(),
            guest: id.is_guest(),
            expires: id.expires,
            grants: id.grants.clone(),
            rooms: HashSet::new(),
            room_info: HashMap::new(),
            signals,
        })
    })
    .await
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

impl From<Refusal> for Fail {
    fn from(r: Refusal) -> Self {
        Self::new(r.code(), r.message())
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
    /// A guest (the policy's guest rights; a guest token in `welcome`).
    guest: bool,
    /// Expiry of the newest token (`None`: no token; `refresh` moves it).
    expires: Option<u64>,
    /// Room grants of the newest token (`refresh` replaces them).
    grants: Grants,
    rooms: HashSet<String>,
    /// The member's info in rooms whose join hook set one.
    room_info: HashMap<String, Json>,
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

    /// The room policy: `forbidden` (naming the room) unless this user may
    /// take `action` in `room`.
    fn check_policy(&self, cx: &Ctx, room: &str, action: Action) -> Reply {
        if self.may(cx, room, action) {
            Ok(())
        } else {
            Err(Fail::new(
                ErrorCode::Forbidden,
                format!("you may not {action} in room {room}"),
            )
            .room(room))
        }
    }

    fn may(&self, cx: &Ctx, room: &str, action: Action) -> bool {
        let who = if self.guest {
            Who::guest(&self.member.id)
        } else {
            Who::user(&self.member.id, &self.grants)
        };
        cx.state.config.policy.allows(who, room, action)
    }

    /// This member as seen in `room`: with the info its join hook set.
    fn member_in(&self, room: &str) -> Cow<'_, Member> {
        match self.room_info.get(room) {
            None => Cow::Borrowed(&self.member),
            Some(info) => Cow::Owned(Member {
                info: Some(info.clone()),
                ..self.member.clone()
            }),
        }
    }

    /// The room's join hook, if the policy hooks it: the member's info
    /// there is what the backend set (or the connection's).
    async fn join_hook(&mut self, cx: &Ctx, room: &str) -> Reply {
        let Some(hooks) = cx.state.hooks.as_ref() else {
            return Ok(());
        };
        if !cx.state.config.policy.hooks(room).join {
            return Ok(());
        }
        match hooks.join(room, &self.member).await {
            Ok(Some(info)) => self.room_info.insert(room.to_owned(), info),
            Ok(None) => self.room_info.remove(room),
            Err(refusal) => return Err(Fail::from(refusal).room(room)),
        };
        Ok(())
    }

    /// The room's publish hook, if the policy hooks it: the payload to
    /// store (the backend's, or `payload`).
    async fn publish_hook(
        &self,
        cx: &Ctx,
        room: &str,
        payload: RawPayload,
    ) -> Result<RawPayload, Fail> {
        let Some(hooks) = cx.state.hooks.as_ref() else {
            return Ok(payload);
        };
        if !cx.state.config.policy.hooks(room).publish {
            return Ok(payload);
        }
        let max = cx.state.config.max_message_bytes;
        match hooks
            .publish(room, &self.member_in(room), &payload, max)
            .await
        {
            Ok(Some(changed)) => Ok(changed),
            Ok(None) => Ok(payload),
            Err(refusal) => Err(Fail::from(refusal).room(room)),
        }
    }

    async fn join(&mut self, cx: &Ctx, m: Join) -> Reply {
        check_room(&m.room)?;
        self.check_access(&m.room)?;
        self.check_policy(cx, &m.room, Action::Join)?;
        // Without `history` the reply carries none (and a resume is not
        // recovered); without `presence`, no member list.
        let history = self.may(cx, &m.room, Action::History);
        let presence = self.may(cx, &m.room, Action::Presence);
        let rejoin = self.rooms.contains(&m.room);
        let max = cx.state.config.max_rooms as usize;
        if !rejoin && self.rooms.len() >= max {
            return Err(Fail::new(
                ErrorCode::TooManyRooms,
                format!("a connection may join at most {max} rooms"),
            )
            .room(&m.room));
        }
        if !rejoin {
            self.join_hook(cx, &m.room).await?;
        }
        let request = JoinRequest {
            room: &m.room,
            rejoin,
            since: m.since.as_ref().filter(|_| history),
            limit: cx.state.config.join_history,
            max_bytes: cx.state.config.join_history_bytes,
            presence,
        };
        let reference = m.reference;
        (cx.state.rooms)
            .join(request, &cx.conn, &self.member_in(&m.room), |snap| {
                encode::reply(&ServerMsg::Joined(Joined {
                    reference,
                    room: m.room.clone(),
                    epoch: snap.history.epoch,
                    offset: snap.history.head,
                    recovered: snap.history.recovered,
                    members: if presence { snap.members } else { Vec::new() },
                    history: (snap.history.messages.iter())
                        .filter(|_| history)
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
        self.room_info.remove(&m.room);
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
            self.check_policy(cx, &m.room, Action::Publish)?;
            return Err(
                Fail::new(ErrorCode::NotJoined, "join the room before publishing").room(&m.room),
            );
        }
        self.check_policy(cx, &m.room, Action::Publish)?;
        let body = self.publish_hook(cx, &m.room, m.payload).await?;
        let stored = (cx.state.rooms)
            .publish(
                &m.room,
                &self.member_in(&m.room),
                payload(body),
                m.cid.as_deref(),
            )
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
        // An ephemeral message is still a message: `publish` decides.
        self.check_policy(cx, &m.room, Action::Publish)?;
        if self.signals.check() != RateDecision::Allow {
            return Err(
                Fail::new(ErrorCode::RateLimited, "too many signals; slow down").room(&m.room),
            );
        }
        (cx.state.rooms)
            .signal(&m.room, &self.member_in(&m.room), payload(m.payload))
            .await
            .map_err(|e| Fail::from(e).room(&m.room))
    }

    async fn history(&mut self, cx: &Ctx, m: HistoryReq) -> Reply {
        check_room(&m.room)?;
        self.check_access(&m.room)?;
        self.check_policy(cx, &m.room, Action::History)?;
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
        let info = |room: &str| self.room_info.get(room).cloned();
        cx.state.rooms.rename(&self.member, info).await?;
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
        self.check_policy(cx, &m.room, Action::Presence)?;
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

    /// A new token for this connection: same user, later expiry. Its
    /// grants replace the old ones; rooms they no longer let the user join
    /// are left, each with a `forbidden` error naming it. The name and
    /// `info` stay as they were (they change on the next connection).
    async fn refresh(&mut self, cx: &Ctx, m: Refresh) -> Reply {
        if self.expires.is_none() {
            return Err(Fail::new(
                ErrorCode::Unauthorized,
                "this connection has no token to refresh: reconnect with one",
            ));
        }
        let fresh = (cx.state.verifier)
            .identify(&m.token, unix_now())
            .await
            .map_err(|e| Fail::new(ErrorCode::Unauthorized, e.to_string()))?;
        if fresh.member.id != self.member.id {
            return Err(Fail::new(
                ErrorCode::Unauthorized,
                "the new token is for another user",
            ));
        }
        self.expires = fresh.expires;
        self.grants = fresh.grants;
        send(
            cx,
            &ServerMsg::Ack(Ack {
                reference: m.reference,
                room: None,
                offset: None,
                ts: None,
                expires: self.expires,
            }),
        );
        let mut lost: Vec<String> = (self.rooms.iter())
            .filter(|r| !self.may(cx, r, Action::Join))
            .cloned()
            .collect();
        lost.sort();
        for room in lost {
            self.rooms.remove(&room);
            self.room_info.remove(&room);
            if let Err(e) = cx.state.rooms.leave(&room, &cx.conn).await {
                tracing::warn!(room, error = %e, "leave after refresh failed");
            }
            send_error(
                cx,
                None,
                Fail::new(
                    ErrorCode::Forbidden,
                    format!("your new token does not let you join room {room}: left it"),
                )
                .room(&room),
            );
        }
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
                guest_token: (self.guest)
                    .then(|| cx.state.guest_key.mint(&self.member.id, unix_now())),
                expires: self.expires,
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
            ClientMsg::Refresh(m) => self.refresh(cx, m).await,
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

    fn expires(&self, _cx: &Ctx) -> Option<u64> {
        self.expires
    }

    async fn evicted(&mut self, cx: &Ctx, room: &str) {
        if !self.rooms.remove(room) {
            return;
        }
        self.room_info.remove(room);
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
