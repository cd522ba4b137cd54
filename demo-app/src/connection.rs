//! The demo's only door to the network: a thin layer over the Confab SDK
//! that turns SDK events into [`Action`]s and UI intents into SDK calls.
//! There is no WebSocket code here: the SDK does that.
//!
//! - chat rooms and DMs: [`sdk::Client`] (`/ws`), payload `{"message": text}`
//!   so websocat users in `/ws/chat/<room>/` read and write the same room;
//! - the dice game: the SDK's generic reconnecting [`sdk::Socket`] on the
//!   seed-compatible `/ws/game/dice/` endpoint, so the server throws the die
//!   (a client-side random number could be forged).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;
use yew::Callback;

use crate::state::{
    now_ms, Action, Body, ConvKey, Incoming, Link, DICE_ROOM, LOBBY, TYPING_EVERY_MS,
};
use confab_client as sdk;
use sdk::{ClientEvent, ConnectionState, RoomEvent, RoomState};

/// The chat payload, the same as the seed's Django Channels chat.
#[derive(Debug, Serialize, Deserialize)]
struct ChatPayload {
    message: String,
}

/// Anything a room may carry: chat text, a dice event, or a foreign shape.
#[derive(Debug, Deserialize)]
struct AnyPayload {
    message: Option<String>,
    position: Option<u8>,
    #[serde(rename = "gameStatus")]
    game_status: Option<u8>,
}

/// How long a message may wait (including while offline) for its ack.
const ACK_TIMEOUT: Duration = Duration::from_secs(60);
/// Messages per older page (scrolling up).
const PAGE: u32 = 30;

/// The typing signal: `{"typing": true}` while typing, `false` when sent.
#[derive(Debug, Serialize, Deserialize)]
struct TypingSignal {
    typing: bool,
}

/// A member's room state in this demo: read receipts.
#[derive(Debug, Serialize, Deserialize)]
struct ReadState {
    read: u64,
}

/// What the demo reads from a user's `info`.
#[derive(Debug, Deserialize)]
struct Info {
    avatar: Option<String>,
}

/// Read offsets in a member list (members without a read state left out).
fn reads_of(members: &[sdk::Member]) -> Vec<(String, u64)> {
    members
        .iter()
        .filter_map(|m| {
            let state = m.state.as_ref()?.get::<ReadState>().ok()?;
            Some((m.id.clone(), state.read))
        })
        .collect()
}

/// Avatar URLs in a member list: only `https://` and `http://` images.
fn avatars_of(members: &[sdk::Member]) -> Vec<Action> {
    members
        .iter()
        .filter_map(|m| {
            let url = m.info.as_ref()?.get::<Info>().ok()?.avatar?;
            (url.starts_with("https://") || url.starts_with("http://")).then(|| Action::Avatar {
                id: m.id.clone(),
                url,
            })
        })
        .collect()
}

/// The WebSocket URL of a path on the server that served this page
/// (`ws://` or `wss://` by the page's scheme, same host and port), so the
/// demo works behind `trunk serve`'s proxy and on any port.
pub fn server_url(path: &str) -> String {
    let location = web_sys::window().map(|w| w.location());
    let host = location
        .as_ref()
        .and_then(|l| l.host().ok())
        .unwrap_or_else(|| "127.0.0.1:8000".to_owned());
    let secure = location
        .and_then(|l| l.protocol().ok())
        .is_some_and(|p| p == "https:");
    format!("{}://{host}{path}", if secure { "wss" } else { "ws" })
}

/// The SDK options: the page's server, `name` for the first connection
/// (reconnects use the current one), the saved guest token if any (a
/// reloaded page is the same person).
///
/// With a user `token` (from the page's address) the page is that user: the
/// SDK sends it on every (re)connect and refreshes nothing (the token is
/// what it is); the server names the user.
pub fn client_options(name: &str, token: Option<&str>) -> sdk::ClientOptions {
    let options = sdk::ClientOptions::new(server_url("/ws")).ack_timeout(ACK_TIMEOUT);
    if let Some(token) = token {
        let token = token.to_owned();
        return options.token_provider(move || {
            let token = token.clone();
            async move { Some(token) }
        });
    }
    let mut options = options.name(name);
    if let Some(token) = crate::storage::load_guest_token() {
        options = options.guest_token(token);
    }
    options
}

/// A room named by the page's address (`…/#random`), if valid (not a DM
/// room: those are opened by person).
fn room_in_address() -> Option<String> {
    let hash = web_sys::window()?.location().hash().ok()?;
    let name = hash.strip_prefix('#')?;
    (!name.is_empty()
        && confab_protocol::validate_room_name(name).is_ok()
        && confab_protocol::dm_members(name).is_none()
        && name != DICE_ROOM)
        .then(|| name.to_owned())
}

fn next_local_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn decode_body(payload: &sdk::Payload) -> Body {
    match payload.get::<AnyPayload>() {
        Ok(AnyPayload {
            message: Some(text),
            position: Some(position),
            ..
        }) => Body::Dice { text, position },
        Ok(AnyPayload {
            message: Some(text),
            ..
        }) => Body::Text(text),
        // A compat client may send raw text: it arrives as a JSON string.
        _ => match payload.get::<String>() {
            Ok(text) => Body::Text(text),
            Err(_) => Body::Notice("(a message this demo cannot show)".to_owned()),
        },
    }
}

fn incoming(m: &sdk::RoomMessage) -> Incoming {
    Incoming {
        room: m.room.clone(),
        offset: m.offset,
        from: m.from.clone(),
        ts: m.ts as f64,
        body: decode_body(&m.payload),
    }
}

fn link(state: &ConnectionState) -> Link {
    match state {
        ConnectionState::Connecting => Link::Connecting,
        ConnectionState::Open => Link::Open,
        ConnectionState::Reconnecting { attempt, retry_in } => Link::Reconnecting {
            attempt: *attempt,
            retry_at: now_ms() + retry_in.as_millis() as f64,
        },
        ConnectionState::Closed { code, reason } => Link::Closed {
            code: *code,
            reason: reason.clone(),
        },
        _ => Link::Connecting,
    }
}

/// A joined room and its event listener.
struct JoinedRoom {
    room: sdk::Room,
    _events: sdk::Subscription,
    /// The read offset last sent as my room state.
    read_sent: u64,
    /// When this page last sent "typing" here (ms), for the throttle.
    typing_sent: Option<f64>,
}

/// The dice game socket and its listener.
struct Game {
    socket: sdk::Socket,
    _messages: sdk::Subscription,
}

struct Inner {
    client: sdk::Client,
    dispatch: Callback<Action>,
    rooms: RefCell<HashMap<String, JoinedRoom>>,
    game: RefCell<Option<Game>>,
    events: RefCell<Option<sdk::Subscription>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(game) = self.game.get_mut() {
            game.socket.close();
        }
        self.client.close();
    }
}

/// A live connection: the SDK client, the rooms it joined and the game
/// socket. Cheap to clone; the last clone dropped closes everything.
#[derive(Clone)]
pub struct Connection {
    inner: Rc<Inner>,
}

impl PartialEq for Connection {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Connection {
    /// Drives the chat state from `client` (connected by the
    /// `ConfabProvider`) and joins the lobby, the `rooms` a user token
    /// grants, and the room the page's address names (`#room`), which is
    /// then shown; every change is reported through `dispatch`.
    pub fn start(client: sdk::Client, rooms: Vec<String>, dispatch: Callback<Action>) -> Self {
        let inner = Rc::new(Inner {
            client,
            dispatch,
            rooms: RefCell::default(),
            game: RefCell::default(),
            events: RefCell::default(),
        });
        let events = inner
            .client
            .on_event(client_listener(Rc::downgrade(&inner)));
        *inner.events.borrow_mut() = Some(events);
        let conn = Self { inner };
        conn.join(LOBBY);
        // Rooms the user's token grants (private ones included).
        for room in rooms {
            conn.join(&room);
            conn.inner.dispatch.emit(Action::AddRoom(room));
        }
        conn.open_address_room();
        conn
    }

    /// Joins and shows the room the page's address names (`#room`), if any:
    /// at start, and when the address changes (a pasted link).
    pub fn open_address_room(&self) {
        if let Some(room) = room_in_address() {
            self.join(&room);
            self.inner.dispatch.emit(Action::Open(ConvKey::Room(room)));
        }
    }

    /// Joins `room` once (later calls do nothing). The SDK joins it as soon
    /// as (and every time) the connection is up; members, history and live
    /// messages all arrive as room events, so none is missed between the
    /// join and the subscription.
    pub fn join(&self, room: &str) {
        let inner = &self.inner;
        if inner.rooms.borrow().contains_key(room) {
            return;
        }
        match inner.client.room(room) {
            Ok(handle) => {
                let events = handle.on_event(room_listener(Rc::downgrade(inner), room.to_owned()));
                inner.rooms.borrow_mut().insert(
                    room.to_owned(),
                    JoinedRoom {
                        room: handle,
                        _events: events,
                        read_sent: 0,
                        typing_sent: None,
                    },
                );
            }
            Err(e) => inner
                .dispatch
                .emit(Action::Error(Some(format!("could not join {room}: {e}")))),
        }
    }

    /// Opens a direct conversation: joins its `dm:` room for the history.
    pub fn open_dm(&self, other_id: &str) {
        if let Some(me) = self.inner.client.me() {
            self.join(&confab_protocol::dm_room(&me.id, other_id));
        }
    }

    /// The server room of a conversation (rooms and DMs), once known.
    fn room_name(&self, conv: &ConvKey) -> Option<String> {
        match conv {
            ConvKey::Room(name) => Some(name.clone()),
            ConvKey::Dm(other) => {
                let me = self.inner.client.me()?;
                Some(confab_protocol::dm_room(&me.id, other))
            }
            ConvKey::Game => None,
        }
    }

    /// The person is typing in `conv`: a `{"typing": true}` signal, at
    /// most every [`TYPING_EVERY_MS`]; `false` once (when sent or emptied).
    pub fn typing(&self, conv: &ConvKey, typing: bool) {
        let Some(name) = self.room_name(conv) else {
            return;
        };
        let mut rooms = self.inner.rooms.borrow_mut();
        let Some(joined) = rooms.get_mut(&name) else {
            return;
        };
        let now = now_ms();
        let due = match (typing, joined.typing_sent) {
            (true, Some(at)) => now - at >= TYPING_EVERY_MS,
            (true, None) => true,
            (false, sent) => sent.is_some(),
        };
        // A signal is ephemeral: one that cannot go out now (offline) is dropped.
        if due && joined.room.signal(&TypingSignal { typing }).is_ok() {
            joined.typing_sent = typing.then_some(now);
        }
    }

    /// Tells the room (and so my other devices) that I have read up to
    /// `offset`: my room state `{"read": offset}`, sent when it grows.
    pub fn mark_read(&self, conv: &ConvKey, offset: u64) {
        let Some(name) = self.room_name(conv) else {
            return;
        };
        let mut rooms = self.inner.rooms.borrow_mut();
        let Some(joined) = rooms.get_mut(&name) else {
            return;
        };
        if offset <= joined.read_sent || joined.room.state() != RoomState::Joined {
            return;
        }
        joined.read_sent = offset;
        let ack = joined.room.set_member_state(&ReadState { read: offset });
        spawn_local(async move {
            // A lost receipt is sent again with the next one.
            let _ = ack.await;
        });
    }

    /// Asks for the messages before `before` in `conv` (scrolling up).
    pub fn load_older(&self, conv: &ConvKey, before: u64) {
        let Some(name) = self.room_name(conv) else {
            return;
        };
        let Some(room) = self.inner.rooms.borrow().get(&name).map(|j| j.room.clone()) else {
            return;
        };
        let dispatch = self.inner.dispatch.clone();
        dispatch.emit(Action::LoadingOlder(conv.clone()));
        let conv = conv.clone();
        let page = room.history(Some(before), Some(PAGE));
        spawn_local(async move {
            dispatch.emit(match page.await {
                Ok(page) => Action::Older {
                    conv,
                    messages: page.messages.iter().map(incoming).collect(),
                    more: page.more,
                },
                Err(e) => {
                    dispatch.emit(Action::Error(Some(format!(
                        "could not load older messages: {e}"
                    ))));
                    Action::OlderFailed(conv)
                }
            });
        });
    }

    /// Sends `text` to a room or person: shown at once as pending, then
    /// sent (or failed) when the SDK resolves the publish. The SDK queues
    /// it while offline; the ack timeout counts from now.
    pub fn send(&self, conv: &ConvKey, text: String) {
        let local_id = next_local_id();
        let dispatch = self.inner.dispatch.clone();
        dispatch.emit(Action::Pending {
            conv: conv.clone(),
            local_id,
            text: text.clone(),
            ts: now_ms(),
        });
        let failed = |reason: String| Action::Failed {
            conv: conv.clone(),
            local_id,
            reason,
        };
        self.typing(conv, false);
        let payload = ChatPayload { message: text };
        let ack = match conv {
            ConvKey::Room(name) => match self.inner.rooms.borrow().get(name) {
                Some(joined) => joined.room.publish(&payload),
                None => return dispatch.emit(failed(format!("not in {name} yet"))),
            },
            ConvKey::Dm(to) => self.inner.client.direct(to, &payload),
            ConvKey::Game => {
                return dispatch.emit(failed("use the Roll button".to_owned()));
            }
        };
        let conv = conv.clone();
        spawn_local(async move {
            dispatch.emit(match ack.await {
                Ok(ack) => Action::Acked {
                    conv,
                    local_id,
                    offset: ack.offset,
                    ts: ack.ts.map(|t| t as f64),
                },
                Err(e) => Action::Failed {
                    conv,
                    local_id,
                    reason: e.to_string(),
                },
            });
        });
    }

    /// Sends the text of a failed line again (as a new pending line).
    pub fn retry(&self, conv: &ConvKey, local_id: u64, text: String) {
        self.inner.dispatch.emit(Action::Discard {
            conv: conv.clone(),
            local_id,
        });
        self.send(conv, text);
    }

    /// Changes the display name (the `/name` command).
    pub fn rename(&self, name: String) {
        let inner = Rc::clone(&self.inner);
        spawn_local(async move {
            match inner.client.rename(&name).await {
                Ok(_) => {
                    // The SDK now reconnects under this name too.
                    crate::storage::save_name(&name);
                    if let Some(me) = inner.client.me() {
                        inner.dispatch.emit(Action::Welcome(me));
                    }
                }
                Err(e) => inner
                    .dispatch
                    .emit(Action::Error(Some(format!("could not rename: {e}")))),
            }
        });
    }

    /// Opens the dice game socket once.
    pub fn open_game(&self) {
        if self.inner.game.borrow().is_some() {
            return;
        }
        let socket = sdk::Socket::open(sdk::SocketOptions::new(server_url(&format!(
            "/ws/game/{DICE_ROOM}/"
        ))));
        let dispatch = self.inner.dispatch.clone();
        let messages = socket.on_message(move |v: &JsValue| {
            if let Ok(AnyPayload {
                message: Some(text),
                position: Some(position),
                game_status,
            }) = serde_wasm_bindgen::from_value::<AnyPayload>(v.clone())
            {
                dispatch.emit(Action::Dice {
                    text,
                    position,
                    game_status,
                    ts: now_ms(),
                });
            }
        });
        *self.inner.game.borrow_mut() = Some(Game {
            socket,
            _messages: messages,
        });
    }

    /// Rolls the die: the server answers every player with the position.
    pub fn roll(&self) {
        self.open_game();
        let name = self.inner.client.me().map(|m| m.name).unwrap_or_default();
        if let Some(game) = self.inner.game.borrow().as_ref() {
            let sent = game.socket.send(&ChatPayload {
                message: format!("{name} rolls"),
            });
            if let Err(e) = sent {
                self.inner
                    .dispatch
                    .emit(Action::Error(Some(format!("could not roll: {e}"))));
            }
        }
    }
}

fn client_listener(inner: Weak<Inner>) -> impl Fn(&ClientEvent) + 'static {
    move |ev: &ClientEvent| {
        let Some(inner) = inner.upgrade() else { return };
        let dispatch = &inner.dispatch;
        match ev {
            ClientEvent::StateChanged(s) => dispatch.emit(Action::Link(link(s))),
            ClientEvent::Welcome(me) => {
                if let Some(token) = inner.client.guest_token() {
                    crate::storage::save_guest_token(&token);
                }
                dispatch.emit(Action::OwnIds(crate::storage::remember_own_id(&me.id)));
                dispatch.emit(Action::Welcome(me.clone()));
            }
            ClientEvent::Direct(m) => {
                dispatch.emit(Action::Message(incoming(m)));
                // Join the conversation's room: its history, my read
                // offset there (from my other devices), receipts, typing.
                let conn = Connection {
                    inner: inner.clone(),
                };
                if !conn.inner.rooms.borrow().contains_key(&m.room) {
                    conn.join(&m.room);
                }
            }
            ClientEvent::Error(e) => dispatch.emit(Action::Error(Some(e.to_string()))),
            _ => {}
        }
    }
}

fn room_listener(inner: Weak<Inner>, name: String) -> impl Fn(&RoomEvent) + 'static {
    move |ev: &RoomEvent| {
        let Some(inner) = inner.upgrade() else { return };
        let dispatch = &inner.dispatch;
        match ev {
            RoomEvent::Message(m) => dispatch.emit(Action::Message(incoming(m))),
            RoomEvent::Presence {
                joins,
                leaves,
                updates,
            } => {
                dispatch.emit(Action::Presence {
                    room: name.clone(),
                    joins: joins.clone(),
                    leaves: leaves.clone(),
                    updates: updates.clone(),
                });
                member_details(
                    &inner,
                    &name,
                    joins.iter().chain(updates).cloned().collect(),
                );
            }
            RoomEvent::Members(members) => {
                dispatch.emit(Action::Members {
                    room: name.clone(),
                    members: members.clone(),
                });
                member_details(&inner, &name, members.clone());
            }
            RoomEvent::Signal { from, payload } => {
                if let Ok(TypingSignal { typing }) = payload.get::<TypingSignal>() {
                    dispatch.emit(Action::Typing {
                        room: name.clone(),
                        from: from.clone(),
                        typing,
                    });
                }
            }
            RoomEvent::StateChanged(RoomState::Errored) => dispatch.emit(Action::Members {
                room: name.clone(),
                members: Vec::new(),
            }),
            // The SDK routes a refused (re-)join here, not to ClientEvent::Error,
            // and does not ask again for a room refused for good (no grant).
            RoomEvent::Error(e) if e.is_final_refusal() => dispatch.emit(Action::Refused {
                room: name.clone(),
                code: e.code().to_owned(),
            }),
            RoomEvent::Error(e) => {
                dispatch.emit(Action::Error(Some(format!("could not join {name}: {e}"))));
            }
            RoomEvent::Gap => dispatch.emit(Action::Gap(name.clone())),
            _ => {}
        }
    }
}

/// Read offsets and avatars of members of `room` (from their room state
/// and info); my own read offset also tells what was sent already.
fn member_details(inner: &Rc<Inner>, room: &str, members: Vec<sdk::Member>) {
    let reads = reads_of(&members);
    if let Some(me) = inner.client.me() {
        if let Some((_, read)) = reads.iter().find(|(id, _)| *id == me.id) {
            if let Some(joined) = inner.rooms.borrow_mut().get_mut(room) {
                joined.read_sent = joined.read_sent.max(*read);
            }
        }
    }
    if !reads.is_empty() {
        inner.dispatch.emit(Action::Reads {
            room: room.to_owned(),
            reads,
        });
    }
    for action in avatars_of(&members) {
        inner.dispatch.emit(action);
    }
}
