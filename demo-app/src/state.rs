//! The chat window's state: one [`Reducible`] value changed only through
//! [`Action`]s (the shape of Yew's `function_todomvc` example).
//!
//! Everything here is plain data, independent of the SDK and the DOM, so the
//! rules (dedupe by offset, pending → sent, unread counts, presence) are unit
//! tested natively: `cargo test -p confab-demo`.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use confab_client::Member;
use confab_protocol::dm_members;

use crate::lookalike::{id_suffix, skeleton};
use yew::virtual_dom::Key;
use yew::Reducible;

/// The lobby every client joins on start.
pub const LOBBY: &str = "lobby";
/// Name of the dice game room (served by the compat `/ws/game/{room}/` endpoint).
pub const DICE_ROOM: &str = "dice";
/// How long "… is typing" shows after the last typing signal (ms). Senders
/// repeat the signal every [`TYPING_EVERY_MS`] while they type.
pub const TYPING_TTL_MS: f64 = 4_000.0;
/// How often a typing person's page sends the typing signal again (ms).
pub const TYPING_EVERY_MS: f64 = 2_000.0;

/// Which conversation a line belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConvKey {
    /// A named room (`lobby`, or any room joined by name).
    Room(String),
    /// The direct conversation with the user of this id.
    Dm(String),
    /// The dice game room.
    Game,
}

impl ConvKey {
    /// The Yew `key` of the pane showing this conversation: `room:<name>`,
    /// `dm:<user id>` or `game` (room names have no `:`).
    pub fn dom_key(&self) -> Key {
        match self {
            ConvKey::Room(name) => Key::from(format!("room:{name}")),
            ConvKey::Dm(id) => Key::from(format!("dm:{id}")),
            ConvKey::Game => Key::from("game"),
        }
    }
}

/// The connection as the person sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    /// First connection attempt in progress.
    Connecting,
    /// Connected and welcomed.
    Open,
    /// Lost; the SDK retries at `retry_at` (ms since the Unix epoch).
    Reconnecting {
        /// Attempt number (1 = first retry).
        attempt: u32,
        /// When the next attempt starts, ms since the Unix epoch.
        retry_at: f64,
    },
    /// Closed for good (the server refused or closed normally).
    Closed {
        /// WebSocket close code.
        code: u16,
        /// Close reason, possibly empty.
        reason: String,
    },
}

/// Where a line sits in its conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LineKey {
    /// Stored by the server: `offset` within history `generation` (the
    /// generation goes up when the server lost history, e.g. a restart, and
    /// offsets start again at 1). Offset 0 holds the generation's notice.
    Stored {
        /// History generation (0, then +1 per unrecoverable gap).
        generation: u32,
        /// Per-room offset.
        offset: u64,
    },
    /// Sent by this page and not yet acknowledged; sorts after stored lines.
    Local(u64),
}

impl LineKey {
    /// The Yew `key` of the line's bubble: `<generation>.<offset>` for a
    /// stored line, `local.<id>` for a pending one.
    pub fn dom_key(self) -> Key {
        match self {
            LineKey::Stored { generation, offset } => Key::from(format!("{generation}.{offset}")),
            LineKey::Local(id) => Key::from(format!("local.{id}")),
        }
    }
}

/// What a line shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A chat message (`{"message": …}` payload), shown as text.
    Text(String),
    /// A dice roll: the thrower's message and the position 1–6.
    Dice {
        /// The message sent with the roll (e.g. "Alice rolls").
        text: String,
        /// The die, 1–6.
        position: u8,
    },
    /// A note from the app (history reset, game started, …).
    Notice(String),
}

impl Body {
    /// Short text for previews in the conversation list.
    pub fn preview(&self) -> String {
        match self {
            Body::Text(t) | Body::Notice(t) => t.clone(),
            Body::Dice { text, position } => format!("{text}: {position}"),
        }
    }
}

/// Delivery state of a line.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Typed here, waiting for the server's ack (queued while offline).
    Pending,
    /// Stored by the server.
    Sent,
    /// The SDK gave up (ack timeout, refused): the reason.
    Failed(String),
}

/// One line of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Position / identity.
    pub key: LineKey,
    /// Sender.
    pub from: Member,
    /// Server time (or local time while pending), ms since the Unix epoch.
    pub ts: f64,
    /// Content.
    pub body: Body,
    /// Delivery state.
    pub status: Status,
}

/// Loading older messages of a conversation (scrolling up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Older {
    /// Older messages may exist; none being loaded.
    Idle,
    /// A page was asked for.
    Loading,
    /// Nothing older is kept by the server.
    None,
}

/// Someone typing in a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Typist {
    /// User id.
    pub id: String,
    /// Name when the signal came.
    pub name: String,
    /// The indicator goes away at this time (ms) unless renewed.
    pub until: f64,
}

/// A room, DM or the dice game, with its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// Identity.
    pub key: ConvKey,
    /// Lines ordered by [`LineKey`].
    pub lines: Vec<Line>,
    /// Rooms and DMs: messages from others after my read offset. The dice
    /// game: events that arrived while another conversation was shown.
    pub unread: u32,
    /// My read offset (current generation): the highest of my room state
    /// `{"read": n}` (shared by my other devices) and what I saw here.
    pub read: u64,
    /// Others' read offsets, by user id (their room state).
    pub reads: BTreeMap<String, u64>,
    /// Older history (scrolling up).
    pub older: Older,
    /// Who is typing, as last signalled.
    pub typing: Vec<Typist>,
    /// Current history generation (see [`LineKey::Stored`]).
    pub generation: u32,
    /// When this page opened the conversation (ms), for the start divider.
    pub opened_at: f64,
    /// Dice game status text, for [`ConvKey::Game`].
    pub game_status: Option<String>,
    /// The server refused this room (no grant): why, in plain words.
    pub refused: Option<String>,
}

impl Conversation {
    fn new(key: ConvKey, now: f64) -> Self {
        Self {
            refused: None,
            key,
            lines: Vec::new(),
            unread: 0,
            read: 0,
            reads: BTreeMap::new(),
            older: Older::Idle,
            typing: Vec::new(),
            generation: 0,
            opened_at: now,
            game_status: None,
        }
    }

    /// Offsets of the stored lines of the current generation.
    fn offsets(&self) -> impl Iterator<Item = u64> + '_ {
        self.lines.iter().filter_map(|l| match l.key {
            LineKey::Stored { generation, offset }
                if generation == self.generation && offset > 0 =>
            {
                Some(offset)
            }
            _ => None,
        })
    }

    /// The oldest stored offset shown (current generation): the `before`
    /// of the next older page.
    pub fn oldest_offset(&self) -> Option<u64> {
        self.offsets().min()
    }

    /// The newest stored offset shown (current generation).
    pub fn newest_offset(&self) -> Option<u64> {
        self.offsets().max()
    }

    /// The first message of the conversation is shown (offset 1 of the
    /// first generation), or the server keeps nothing older.
    pub fn at_beginning(&self) -> bool {
        self.older == Older::None || (self.generation == 0 && self.oldest_offset() == Some(1))
    }

    /// Whether scrolling up should ask for older messages.
    pub fn can_load_older(&self) -> bool {
        self.older == Older::Idle
            && !self.at_beginning()
            && self.oldest_offset().is_some()
            && !matches!(self.key, ConvKey::Game)
    }

    /// The names of those typing at `now` (ms), oldest signal first.
    pub fn typists(&self, now: f64) -> Vec<&str> {
        self.typing
            .iter()
            .filter(|t| t.until > now)
            .map(|t| t.name.as_str())
            .collect()
    }

    /// The readers (user ids) whose last read message is line `i`: the
    /// newest stored line at or below their read offset that they did not
    /// send themselves (their own messages say nothing about reading).
    pub fn seen_at(&self, i: usize) -> Vec<&str> {
        let stored = |l: &Line| match l.key {
            LineKey::Stored { generation, offset }
                if generation == self.generation && offset > 0 =>
            {
                Some(offset)
            }
            _ => None,
        };
        let Some(line) = self.lines.get(i) else {
            return Vec::new();
        };
        let Some(offset) = stored(line) else {
            return Vec::new();
        };
        self.reads
            .iter()
            .filter(|(id, read)| {
                **id != line.from.id
                    && **read >= offset
                    // No later line of someone else they have read too.
                    && !self.lines[i + 1..]
                        .iter()
                        .any(|l| l.from.id != **id && stored(l).is_some_and(|o| o <= **read))
            })
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// Recounts `unread`: stored lines after my read offset, not mine.
    fn recount(&mut self, mine: impl Fn(&str) -> bool) {
        if self.key == ConvKey::Game {
            return;
        }
        let read = self.read;
        let generation = self.generation;
        self.unread = self
            .lines
            .iter()
            .filter(|l| {
                matches!(l.key, LineKey::Stored { generation: g, offset } if g == generation && offset > read)
                    && !matches!(l.body, Body::Notice(_))
                    && !mine(&l.from.id)
            })
            .count() as u32;
    }

    /// Marks everything shown as read (the conversation is on screen).
    fn read_all(&mut self) {
        if let Some(newest) = self.newest_offset() {
            self.read = self.read.max(newest);
        }
    }

    /// The newest line, for previews.
    pub fn last(&self) -> Option<&Line> {
        self.lines.last()
    }

    /// When the conversation started: its first line, else when it was opened.
    pub fn started_at(&self) -> f64 {
        self.lines.first().map_or(self.opened_at, |l| l.ts)
    }

    fn has(&self, key: LineKey) -> bool {
        self.lines.iter().any(|l| l.key == key)
    }

    fn insert(&mut self, line: Line) {
        let at = self.lines.partition_point(|l| l.key <= line.key);
        self.lines.insert(at, line);
    }
}

/// Someone seen in a joined room's presence.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// Id and current name.
    pub member: Member,
    /// Joined rooms the person is in now (as last known while the link
    /// is down); empty = offline.
    pub rooms: BTreeSet<String>,
    /// Avatar image URL from the person's `info`, if any.
    pub avatar: Option<String>,
}

impl Person {
    /// Present in at least one room this page has joined.
    pub fn online(&self) -> bool {
        !self.rooms.is_empty()
    }
}

/// A message delivered by the server (live, from history, or a DM).
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// Room name (`dm:<a>:<b>` for DMs).
    pub room: String,
    /// Per-room offset.
    pub offset: u64,
    /// Sender.
    pub from: Member,
    /// Server time, ms since the Unix epoch.
    pub ts: f64,
    /// Decoded payload.
    pub body: Body,
}

/// Everything that changes the chat window.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The connection state changed.
    Link(Link),
    /// The server said who we are (on every (re)connect, and after /name).
    Welcome(Member),
    /// Every user id this browser has been (remembered across reloads): a
    /// server that forgot a guest hands out a new id, and the messages
    /// written under the old one must stay on our side.
    OwnIds(Vec<String>),
    /// A room was (re)joined: its full member list.
    Members {
        /// Room.
        room: String,
        /// Everyone in it now.
        members: Vec<Member>,
    },
    /// A presence diff of a joined room.
    Presence {
        /// Room.
        room: String,
        /// Arrivals.
        joins: Vec<Member>,
        /// Departures.
        leaves: Vec<Member>,
        /// Renames.
        updates: Vec<Member>,
    },
    /// A message (live, or replayed by the SDK on join / resume).
    Message(Incoming),
    /// The server could not resume this room (history lost): offsets restart.
    Gap(String),
    /// The person sent text; shown at once as pending.
    Pending {
        /// Target conversation.
        conv: ConvKey,
        /// Local id (see [`LineKey::Local`]).
        local_id: u64,
        /// Text typed.
        text: String,
        /// Local time, ms.
        ts: f64,
    },
    /// The server acknowledged a pending line.
    Acked {
        /// Conversation.
        conv: ConvKey,
        /// The pending line.
        local_id: u64,
        /// Offset the server stored it at (always sent for publishes).
        offset: Option<u64>,
        /// Server time, ms.
        ts: Option<f64>,
    },
    /// A pending line failed.
    Failed {
        /// Conversation.
        conv: ConvKey,
        /// The pending line.
        local_id: u64,
        /// Why.
        reason: String,
    },
    /// Drop a failed line (before sending its text again).
    Discard {
        /// Conversation.
        conv: ConvKey,
        /// The failed line.
        local_id: u64,
    },
    /// A dice game event from the game socket.
    Dice {
        /// The event's message.
        text: String,
        /// The die.
        position: u8,
        /// `gameStatus`, when the event carried one.
        game_status: Option<u8>,
        /// Local receive time, ms.
        ts: f64,
    },
    /// Read offsets from a room's member states (`{"read": n}`): mine
    /// (from any of my devices) and others'.
    Reads {
        /// Room.
        room: String,
        /// `(user id, read offset)`.
        reads: Vec<(String, u64)>,
    },
    /// A user's avatar URL (from their `info`).
    Avatar {
        /// User id.
        id: String,
        /// `https://…` (or `http://…`) image.
        url: String,
    },
    /// A typing signal from a member of a room.
    Typing {
        /// Room.
        room: String,
        /// Who.
        from: Member,
        /// Typing (true) or stopped (false: sent, or the box emptied).
        typing: bool,
    },
    /// Older messages are being asked for (scrolled to the top).
    LoadingOlder(ConvKey),
    /// A page of older messages arrived.
    Older {
        /// Conversation.
        conv: ConvKey,
        /// The messages, oldest first.
        messages: Vec<Incoming>,
        /// Whether the server keeps messages older still.
        more: bool,
    },
    /// Asking for older messages failed (it may be asked again).
    OlderFailed(ConvKey),
    /// The server refused to let us into a room, for good (no grant).
    Refused {
        /// Room.
        room: String,
        /// The error code (`forbidden`, `unauthorized`, `hook_denied`).
        code: String,
    },
    /// List a room (one the user's token grants) without showing it.
    AddRoom(String),
    /// Show a conversation (creating it if needed) and mark it read.
    Open(ConvKey),
    /// The search box text.
    Search(String),
    /// Phone layout: show the list (true) or the conversation (false).
    ShowList(bool),
    /// An error to show in the status bar (`None` clears it).
    Error(Option<String>),
}

/// The chat window's state.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatState {
    /// Who we are. The SDK keeps the guest id across reconnects and (with
    /// the guest token saved in `localStorage`) page reloads.
    pub me: Option<Member>,
    /// Connection state.
    pub link: Link,
    /// The connection was open at least once (a new attempt is a *re*connect).
    pub was_open: bool,
    /// Conversations in the order they were opened. Each is shared between
    /// successive states (`Rc`): an action clones only the one it changes.
    pub conversations: Vec<Rc<Conversation>>,
    /// Everyone seen, by id.
    pub people: BTreeMap<String, Person>,
    /// The conversation on the right.
    pub active: ConvKey,
    /// Search box text.
    pub search: String,
    /// Phone layout shows the list instead of the conversation.
    pub list_open: bool,
    /// Last error reported by the SDK.
    pub error: Option<String>,
    /// Ids this browser had before the current one (see [`Action::OwnIds`]).
    pub own_ids: Vec<String>,
    /// Counter for dice lines.
    dice_seq: u64,
}

impl ChatState {
    /// A fresh window showing the lobby (and the dice game listed).
    pub fn new(now: f64) -> Self {
        Self {
            me: None,
            link: Link::Connecting,
            was_open: false,
            conversations: vec![
                Rc::new(Conversation::new(ConvKey::Room(LOBBY.to_owned()), now)),
                Rc::new(Conversation::new(ConvKey::Game, now)),
            ],
            people: BTreeMap::new(),
            active: ConvKey::Room(LOBBY.to_owned()),
            search: String::new(),
            list_open: false,
            error: None,
            own_ids: Vec::new(),
            dice_seq: 0,
        }
    }

    /// Whether a line was sent by this page's user.
    pub fn is_mine(&self, from: &Member) -> bool {
        self.is_my_id(&from.id)
    }

    /// Whether `id` is (or was) this browser's user.
    pub fn is_my_id(&self, id: &str) -> bool {
        self.me.as_ref().is_some_and(|me| me.id == id) || self.own_ids.iter().any(|o| o == id)
    }

    /// A conversation by key.
    pub fn conversation(&self, key: &ConvKey) -> Option<&Rc<Conversation>> {
        self.conversations.iter().find(|c| &c.key == key)
    }

    /// Display name for a user id: the current one from presence, else `fallback`.
    pub fn name_of<'a>(&'a self, id: &str, fallback: &'a str) -> &'a str {
        if let Some(me) = self.me.as_ref().filter(|me| me.id == id) {
            return &me.name;
        }
        self.people
            .get(id)
            .map_or(fallback, |p| p.member.name.as_str())
    }

    /// The name to show for a user: [`ChatState::name_of`], with the end of
    /// their id added when someone else known here has a name that looks
    /// the same ([`crate::lookalike::skeleton`]).
    pub fn label_of(&self, id: &str, fallback: &str) -> String {
        let name = self.name_of(id, fallback);
        let look = skeleton(name);
        let others = (self.people.values().map(|p| &p.member)).chain(self.me.as_ref());
        let same_user = |m: &Member| m.id == id || (self.is_my_id(&m.id) && self.is_my_id(id));
        if others
            .filter(|m| !same_user(m))
            .any(|m| skeleton(&m.name) == look)
        {
            format!("{name} #{}", id_suffix(id))
        } else {
            name.to_owned()
        }
    }

    /// Title of a conversation ("lobby", a person's name, "Dice game").
    pub fn title(&self, key: &ConvKey) -> String {
        match key {
            ConvKey::Room(r) => format!("#{r}"),
            ConvKey::Dm(id) => self.label_of(id, id),
            ConvKey::Game => "Dice game".to_owned(),
        }
    }

    /// People other than me to list: online ones and those with a DM, online
    /// first, then by name; filtered by the search text.
    pub fn visible_people(&self) -> Vec<&Person> {
        let needle = self.search.trim().to_lowercase();
        let mut people: Vec<&Person> = self
            .people
            .values()
            .filter(|p| !self.is_my_id(&p.member.id))
            .filter(|p| {
                p.online()
                    || self
                        .conversation(&ConvKey::Dm(p.member.id.clone()))
                        .is_some()
            })
            .filter(|p| needle.is_empty() || p.member.name.to_lowercase().contains(&needle))
            .collect();
        people.sort_by(|a, b| {
            b.online().cmp(&a.online()).then_with(|| {
                a.member
                    .name
                    .to_lowercase()
                    .cmp(&b.member.name.to_lowercase())
            })
        });
        people
    }

    /// Rooms (and the game) to list, filtered by the search text.
    pub fn visible_rooms(&self) -> Vec<&Conversation> {
        let needle = self.search.trim().to_lowercase();
        self.conversations
            .iter()
            .map(Rc::as_ref)
            .filter(|c| !matches!(c.key, ConvKey::Dm(_)))
            // A room refused to us is not listed (unless it is on screen).
            .filter(|c| c.refused.is_none() || c.key == self.active)
            .filter(|c| needle.is_empty() || self.title(&c.key).to_lowercase().contains(&needle))
            .collect()
    }

    /// The conversation key a server room name maps to.
    pub fn conv_for_room(&self, room: &str) -> ConvKey {
        match dm_members(room) {
            Some((a, b)) => {
                let other = if self.is_my_id(a) { b } else { a };
                ConvKey::Dm(other.to_owned())
            }
            None if room == DICE_ROOM => ConvKey::Game,
            None => ConvKey::Room(room.to_owned()),
        }
    }

    /// The conversation `key` to change (created if needed): copied first
    /// if an earlier state still shares it.
    fn conv_mut(&mut self, key: &ConvKey, now: f64) -> &mut Conversation {
        let i = match self.conversations.iter().position(|c| &c.key == key) {
            Some(i) => i,
            None => {
                self.conversations
                    .push(Rc::new(Conversation::new(key.clone(), now)));
                self.conversations.len() - 1
            }
        };
        Rc::make_mut(&mut self.conversations[i])
    }

    fn person_mut(&mut self, m: &Member) -> &mut Person {
        let p = self.people.entry(m.id.clone()).or_insert_with(|| Person {
            member: m.clone(),
            rooms: BTreeSet::new(),
            avatar: None,
        });
        p.member.name.clone_from(&m.name);
        p
    }

    fn add_message(&mut self, msg: Incoming) {
        let key = self.conv_for_room(&msg.room);
        let mine = self.is_mine(&msg.from);
        if matches!(key, ConvKey::Dm(_)) && !mine {
            // Someone may write to us without sharing a room: learn the name
            // (presence, when we have it, stays the authority).
            self.people
                .entry(msg.from.id.clone())
                .or_insert_with(|| Person {
                    member: msg.from.clone(),
                    rooms: BTreeSet::new(),
                    avatar: None,
                });
        }
        let active = self.active == key && !self.list_open;
        let seen = |c: &Conversation| {
            c.has(LineKey::Stored {
                generation: c.generation,
                offset: msg.offset,
            })
        };
        // A replayed message changes nothing (and copies nothing).
        if self.conversation(&key).is_some_and(|c| seen(c)) {
            return;
        }
        let conv = self.conv_mut(&key, msg.ts);
        let line_key = LineKey::Stored {
            generation: conv.generation,
            offset: msg.offset,
        };
        // Our own message may come back before its ack: it replaces the
        // oldest pending line with the same text.
        if mine {
            if let Body::Text(text) = &msg.body {
                if let Some(i) = conv.lines.iter().position(|l| {
                    matches!(l.key, LineKey::Local(_))
                        && l.status == Status::Pending
                        && l.body == Body::Text(text.clone())
                }) {
                    conv.lines.remove(i);
                }
            }
        }
        conv.typing.retain(|t| t.id != msg.from.id);
        conv.insert(Line {
            key: line_key,
            from: msg.from,
            ts: msg.ts,
            body: msg.body,
            status: Status::Sent,
        });
        if active {
            conv.read_all();
        }
        self.recount(&key);
    }

    /// Recounts the unread messages of conversation `key`.
    fn recount(&mut self, key: &ConvKey) {
        let me = self.me.as_ref().map(|m| m.id.clone());
        let own = self.own_ids.clone();
        let mine = |id: &str| me.as_deref() == Some(id) || own.iter().any(|o| o == id);
        if let Some(i) = self.conversations.iter().position(|c| &c.key == key) {
            Rc::make_mut(&mut self.conversations[i]).recount(mine);
        }
    }

    /// The conversation on screen, if one is (phone: not while the list is).
    fn on_screen(&self) -> Option<ConvKey> {
        (!self.list_open).then(|| self.active.clone())
    }

    fn apply(&mut self, action: Action, now: f64) {
        match action {
            Action::Link(link) => {
                if link == Link::Open {
                    self.error = None;
                    self.was_open = true;
                }
                // While the link is down presence is unknown: the people
                // stay as last known (shown greyed) until each room's
                // re-join brings its member list again.
                self.link = link;
            }
            Action::Welcome(me) => self.me = Some(me),
            Action::OwnIds(ids) => self.own_ids = ids,
            Action::Members { room, members } => {
                for p in self.people.values_mut() {
                    p.rooms.remove(&room);
                }
                for m in &members {
                    self.person_mut(m).rooms.insert(room.clone());
                }
            }
            Action::Presence {
                room,
                joins,
                leaves,
                updates,
            } => {
                for m in &joins {
                    self.person_mut(m).rooms.insert(room.clone());
                }
                for m in &leaves {
                    if let Some(p) = self.people.get_mut(&m.id) {
                        p.rooms.remove(&room);
                    }
                }
                for m in &updates {
                    self.person_mut(m);
                    if let Some(me) = self.me.as_mut().filter(|me| me.id == m.id) {
                        me.name.clone_from(&m.name);
                    }
                }
            }
            Action::Message(m) => self.add_message(m),
            Action::Gap(room) => {
                let key = self.conv_for_room(&room);
                let conv = self.conv_mut(&key, now);
                // Offsets restart: read offsets of the old history mean nothing.
                conv.read = 0;
                conv.reads.clear();
                conv.older = Older::Idle;
                if !conv.lines.is_empty() {
                    conv.generation += 1;
                    let generation = conv.generation;
                    conv.insert(Line {
                        key: LineKey::Stored {
                            generation,
                            offset: 0,
                        },
                        from: Member::default(),
                        ts: now,
                        body: Body::Notice(
                            "The server lost its history (restart): earlier messages may be incomplete"
                                .to_owned(),
                        ),
                        status: Status::Sent,
                    });
                }
            }
            Action::Pending {
                conv,
                local_id,
                text,
                ts,
            } => {
                let from = self.me.clone().unwrap_or_default();
                self.conv_mut(&conv, now).insert(Line {
                    key: LineKey::Local(local_id),
                    from,
                    ts,
                    body: Body::Text(text),
                    status: Status::Pending,
                });
            }
            Action::Acked {
                conv,
                local_id,
                offset,
                ts,
            } => {
                let on_screen = self.on_screen();
                let conv = self.conv_mut(&conv, now);
                let Some(i) = conv
                    .lines
                    .iter()
                    .position(|l| l.key == LineKey::Local(local_id))
                else {
                    return;
                };
                let Some(offset) = offset else {
                    conv.lines[i].status = Status::Sent;
                    return;
                };
                let stored = LineKey::Stored {
                    generation: conv.generation,
                    offset,
                };
                let mut line = conv.lines.remove(i);
                if !conv.has(stored) {
                    line.key = stored;
                    line.ts = ts.unwrap_or(line.ts);
                    line.status = Status::Sent;
                    conv.insert(line);
                }
                // My own message: read up to it when the conversation is shown.
                if on_screen.as_ref() == Some(&conv.key) {
                    conv.read_all();
                }
            }
            Action::Failed {
                conv,
                local_id,
                reason,
            } => {
                let conv = self.conv_mut(&conv, now);
                if let Some(l) = conv
                    .lines
                    .iter_mut()
                    .find(|l| l.key == LineKey::Local(local_id))
                {
                    l.status = Status::Failed(reason);
                }
            }
            Action::Discard { conv, local_id } => {
                let conv = self.conv_mut(&conv, now);
                conv.lines.retain(|l| l.key != LineKey::Local(local_id));
            }
            Action::Dice {
                text,
                position,
                game_status,
                ts,
            } => {
                self.dice_seq += 1;
                let offset = self.dice_seq;
                let active = self.active == ConvKey::Game && !self.list_open;
                let conv = self.conv_mut(&ConvKey::Game, now);
                if game_status == Some(1) {
                    conv.game_status = Some("Game on".to_owned());
                }
                if !active && game_status.is_none() {
                    conv.unread += 1;
                }
                let body = if game_status.is_some() {
                    Body::Notice(format!("A player joined: {text}, opening roll {position}"))
                } else {
                    Body::Dice { text, position }
                };
                conv.insert(Line {
                    key: LineKey::Stored {
                        generation: 0,
                        offset,
                    },
                    from: Member::default(),
                    ts,
                    body,
                    status: Status::Sent,
                });
            }
            Action::Reads { room, reads } => {
                let key = self.conv_for_room(&room);
                let mine: Vec<bool> = reads.iter().map(|(id, _)| self.is_my_id(id)).collect();
                let conv = self.conv_mut(&key, now);
                for ((id, read), mine) in reads.into_iter().zip(mine) {
                    if mine {
                        conv.read = conv.read.max(read);
                    } else {
                        conv.reads.insert(id, read);
                    }
                }
                self.recount(&key);
            }
            Action::Avatar { id, url } => {
                if let Some(p) = self.people.get_mut(&id) {
                    p.avatar = Some(url);
                }
            }
            Action::Typing { room, from, typing } => {
                if self.is_mine(&from) {
                    return;
                }
                let key = self.conv_for_room(&room);
                let conv = self.conv_mut(&key, now);
                conv.typing.retain(|t| t.id != from.id && t.until > now);
                if typing {
                    conv.typing.push(Typist {
                        id: from.id,
                        name: from.name,
                        until: now + TYPING_TTL_MS,
                    });
                }
            }
            Action::Refused { room, code } => {
                let key = self.conv_for_room(&room);
                let title = self.title(&key);
                let why = match code.as_str() {
                    "forbidden" | "hook_denied" => format!("You don't have access to {title}."),
                    _ => format!("You cannot join {title} ({code})."),
                };
                self.conv_mut(&key, now).refused = Some(why);
            }
            Action::AddRoom(room) => {
                self.conv_mut(&ConvKey::Room(room), now);
            }
            Action::LoadingOlder(key) => self.conv_mut(&key, now).older = Older::Loading,
            Action::OlderFailed(key) => self.conv_mut(&key, now).older = Older::Idle,
            Action::Older {
                conv: key,
                messages,
                more,
            } => {
                let conv = self.conv_mut(&key, now);
                let generation = conv.generation;
                for m in messages {
                    let line_key = LineKey::Stored {
                        generation,
                        offset: m.offset,
                    };
                    if !conv.has(line_key) {
                        conv.insert(Line {
                            key: line_key,
                            from: m.from,
                            ts: m.ts,
                            body: m.body,
                            status: Status::Sent,
                        });
                    }
                }
                conv.older = if more { Older::Idle } else { Older::None };
                self.recount(&key);
            }
            Action::Open(key) => {
                let conv = self.conv_mut(&key, now);
                conv.read_all();
                if key == ConvKey::Game {
                    conv.unread = 0;
                }
                self.recount(&key);
                self.active = key;
                self.list_open = false;
            }
            Action::Search(s) => self.search = s,
            Action::ShowList(open) => {
                self.list_open = open;
                if !open {
                    let key = self.active.clone();
                    let conv = self.conv_mut(&key, now);
                    conv.read_all();
                    if key == ConvKey::Game {
                        conv.unread = 0;
                    }
                    self.recount(&key);
                }
            }
            Action::Error(e) => self.error = e,
        }
    }
}

impl Reducible for ChatState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        // Cheap: the conversations are `Rc`s (see `conv_mut`).
        let mut next = (*self).clone();
        next.apply(action, now_ms());
        Rc::new(next)
    }
}

/// Current time in ms since the Unix epoch.
pub fn now_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_millis() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str, name: &str) -> Member {
        Member::new(id, name)
    }

    fn msg(room: &str, offset: u64, from: Member, text: &str) -> Incoming {
        Incoming {
            room: room.into(),
            offset,
            from,
            ts: 1000.0 + offset as f64,
            body: Body::Text(text.into()),
        }
    }

    fn reduce(s: ChatState, a: Action) -> ChatState {
        (*Rc::new(s).reduce(a)).clone()
    }

    fn texts(s: &ChatState, key: &ConvKey) -> Vec<String> {
        s.conversation(key)
            .map(|c| c.lines.iter().map(|l| l.body.preview()).collect())
            .unwrap_or_default()
    }

    fn lobby() -> ConvKey {
        ConvKey::Room(LOBBY.into())
    }

    fn welcomed() -> ChatState {
        reduce(ChatState::new(0.0), Action::Welcome(m("g-a", "Alice")))
    }

    #[test]
    fn messages_are_deduplicated_by_offset_and_ordered() {
        let mut s = welcomed();
        s = reduce(s, Action::Message(msg("lobby", 2, m("g-b", "Bob"), "two")));
        s = reduce(s, Action::Message(msg("lobby", 1, m("g-b", "Bob"), "one")));
        s = reduce(s, Action::Message(msg("lobby", 2, m("g-b", "Bob"), "two")));
        assert_eq!(texts(&s, &lobby()), ["one", "two"]);
    }

    #[test]
    fn pending_turns_sent_once_whatever_comes_first() {
        let pending = |s| {
            reduce(
                s,
                Action::Pending {
                    conv: lobby(),
                    local_id: 7,
                    text: "hi".into(),
                    ts: 5.0,
                },
            )
        };
        let ack = Action::Acked {
            conv: lobby(),
            local_id: 7,
            offset: Some(3),
            ts: Some(9.0),
        };
        let echo = Action::Message(msg("lobby", 3, m("g-a", "Alice"), "hi"));

        let s = pending(welcomed());
        assert_eq!(
            s.conversation(&lobby()).map(|c| c.lines[0].status.clone()),
            Some(Status::Pending)
        );
        let ack_first = reduce(reduce(s.clone(), ack.clone()), echo.clone());
        let echo_first = reduce(reduce(s, echo), ack);
        for s in [ack_first, echo_first] {
            let c = s.conversation(&lobby()).cloned().expect("lobby");
            assert_eq!(c.lines.len(), 1);
            assert_eq!(c.lines[0].status, Status::Sent);
            assert_eq!(
                c.lines[0].key,
                LineKey::Stored {
                    generation: 0,
                    offset: 3
                }
            );
        }
    }

    #[test]
    fn unread_counts_only_live_messages_from_others_elsewhere() {
        let mut s = welcomed();
        s = reduce(
            s,
            Action::Message(msg("dm:g-a:g-b", 1, m("g-b", "Bob"), "psst")),
        );
        s = reduce(
            s,
            Action::Message(msg("lobby", 1, m("g-b", "Bob"), "shown")),
        );
        // Another DM from Bob; and our own line does not count.
        s = reduce(
            s,
            Action::Message(msg("dm:g-a:g-b", 2, m("g-b", "Bob"), "there?")),
        );
        s = reduce(
            s,
            Action::Message(msg("dm:g-a:g-b", 3, m("g-a", "Alice"), "from my phone")),
        );
        let dm = ConvKey::Dm("g-b".into());
        assert_eq!(s.title(&dm), "Bob", "the name of a DM sender is learnt");
        assert_eq!(s.conversation(&dm).map(|c| c.unread), Some(2));
        assert_eq!(s.conversation(&lobby()).map(|c| c.unread), Some(0));
        s = reduce(s, Action::Open(dm.clone()));
        assert_eq!(s.conversation(&dm).map(|c| c.unread), Some(0));
        assert_eq!(s.active, dm);
    }

    #[test]
    fn presence_renames_and_offline_people() {
        let mut s = welcomed();
        s = reduce(
            s,
            Action::Members {
                room: "lobby".into(),
                members: vec![m("g-a", "Alice"), m("g-b", "Bob")],
            },
        );
        assert_eq!(s.visible_people().len(), 1);
        s = reduce(
            s,
            Action::Presence {
                room: "lobby".into(),
                joins: vec![],
                leaves: vec![],
                updates: vec![m("g-b", "Robert")],
            },
        );
        assert_eq!(s.visible_people()[0].member.name, "Robert");
        assert_eq!(s.name_of("g-b", "Bob"), "Robert");
        s = reduce(
            s,
            Action::Presence {
                room: "lobby".into(),
                joins: vec![],
                leaves: vec![m("g-b", "Robert")],
                updates: vec![],
            },
        );
        assert!(
            s.visible_people().is_empty(),
            "offline people without a DM are not listed"
        );
    }

    #[test]
    fn my_lines_stay_mine_and_i_am_not_listed_after_a_reconnect() {
        let mut s = welcomed();
        s = reduce(
            s,
            Action::Message(msg("lobby", 1, m("g-a", "Alice"), "mine")),
        );
        s = reduce(
            s,
            Action::Message(msg("dm:g-a:g-b", 1, m("g-b", "Bob"), "hi")),
        );
        // The SDK keeps the guest id; the reconnect's welcome repeats it.
        s = reduce(s, Action::Welcome(m("g-a", "Alicia")));
        s = reduce(
            s,
            Action::Members {
                room: "lobby".into(),
                members: vec![m("g-a", "Alicia"), m("g-b", "Bob")],
            },
        );
        let lobby_line = &s.conversation(&lobby()).expect("lobby").lines[0];
        assert!(s.is_mine(&lobby_line.from));
        assert_eq!(s.name_of("g-a", "?"), "Alicia");
        let listed: Vec<_> = s
            .visible_people()
            .iter()
            .map(|p| p.member.id.clone())
            .collect();
        assert_eq!(listed, ["g-b"]);
        assert_eq!(s.conv_for_room("dm:g-a:g-b"), ConvKey::Dm("g-b".into()));
        // Someone else's id is never mine.
        assert!(!s.is_mine(&m("g-b", "Alice")));
    }

    #[test]
    fn people_stay_as_last_known_while_disconnected_and_refresh_on_rejoin() {
        let mut s = welcomed();
        s = reduce(
            s,
            Action::Members {
                room: "lobby".into(),
                members: vec![m("g-b", "Bob"), m("g-c", "Carol")],
            },
        );
        s = reduce(
            s,
            Action::Link(Link::Reconnecting {
                attempt: 1,
                retry_at: 0.0,
            }),
        );
        // Still listed (the sidebar greys them: presence is unknown).
        assert_eq!(s.visible_people().len(), 2);
        s = reduce(s, Action::Link(Link::Open));
        // The re-join's member list is the truth: Carol left meanwhile.
        s = reduce(
            s,
            Action::Members {
                room: "lobby".into(),
                members: vec![m("g-b", "Bob")],
            },
        );
        let names: Vec<_> = s
            .visible_people()
            .iter()
            .map(|p| p.member.name.clone())
            .collect();
        assert_eq!(names, ["Bob"]);
    }

    fn lobby_with(s: ChatState, n: u64, from: &Member) -> ChatState {
        (1..=n).fold(s, |s, o| {
            reduce(
                s,
                Action::Message(msg("lobby", o, from.clone(), &format!("m{o}"))),
            )
        })
    }

    #[test]
    fn unread_comes_from_my_read_offset_so_a_second_device_agrees() {
        // A second device: another conversation is shown; the lobby's
        // history arrives with my read state from the first device.
        let mut s = reduce(welcomed(), Action::Open(ConvKey::Room("random".into())));
        s = reduce(
            s,
            Action::Reads {
                room: "lobby".into(),
                reads: vec![("g-a".into(), 3), ("g-b".into(), 5)],
            },
        );
        s = lobby_with(s, 5, &m("g-b", "Bob"));
        assert_eq!(s.conversation(&lobby()).map(|c| c.unread), Some(2));
        // My own messages never count.
        s = reduce(
            s,
            Action::Message(msg("lobby", 6, m("g-a", "Alice"), "mine")),
        );
        assert_eq!(s.conversation(&lobby()).map(|c| c.unread), Some(2));
        // Read on the first device: the state update clears it here.
        s = reduce(
            s,
            Action::Reads {
                room: "lobby".into(),
                reads: vec![("g-a".into(), 6)],
            },
        );
        assert_eq!(s.conversation(&lobby()).map(|c| c.unread), Some(0));
        // A lower read offset from an old state does not bring them back.
        s = reduce(
            s,
            Action::Reads {
                room: "lobby".into(),
                reads: vec![("g-a".into(), 2)],
            },
        );
        assert_eq!(s.conversation(&lobby()).map(|c| c.read), Some(6));
        // Opening marks everything read.
        s = lobby_with(s, 8, &m("g-b", "Bob"));
        assert_eq!(s.conversation(&lobby()).map(|c| c.unread), Some(2));
        s = reduce(s, Action::Open(lobby()));
        let c = s.conversation(&lobby()).cloned().expect("lobby");
        assert_eq!((c.unread, c.read), (0, 8));
    }

    #[test]
    fn seen_by_sits_under_the_last_message_each_reader_has_read() {
        let mut s = lobby_with(welcomed(), 4, &m("g-a", "Alice"));
        s = reduce(
            s,
            Action::Reads {
                room: "lobby".into(),
                reads: vec![("g-b".into(), 4), ("g-c".into(), 4), ("g-d".into(), 2)],
            },
        );
        let c = s.conversation(&lobby()).cloned().expect("lobby");
        let seen: Vec<Vec<&str>> = (0..4).map(|i| c.seen_at(i)).collect();
        assert_eq!(seen, [vec![], vec!["g-d"], vec![], vec!["g-b", "g-c"]]);
        // A reader's own answer says nothing: the receipt stays under the
        // last message of someone else they read.
        s = reduce(s, Action::Message(msg("lobby", 5, m("g-b", "Bob"), "hi")));
        s = reduce(
            s,
            Action::Reads {
                room: "lobby".into(),
                reads: vec![("g-b".into(), 5)],
            },
        );
        let c = s.conversation(&lobby()).cloned().expect("lobby");
        assert_eq!(c.seen_at(3), ["g-b", "g-c"]);
        assert!(c.seen_at(4).is_empty());
        s = reduce(
            s,
            Action::Reads {
                room: "lobby".into(),
                reads: vec![("g-c".into(), 5)],
            },
        );
        let c = s.conversation(&lobby()).cloned().expect("lobby");
        assert_eq!((c.seen_at(3), c.seen_at(4)), (vec!["g-b"], vec!["g-c"]));
    }

    #[test]
    fn typing_expires_and_ends_with_the_message() {
        let s = welcomed();
        let typing = |s, id: &str, name: &str, on: bool| {
            reduce(
                s,
                Action::Typing {
                    room: "lobby".into(),
                    from: m(id, name),
                    typing: on,
                },
            )
        };
        let s = typing(s, "g-b", "Bob", true);
        let s = typing(s, "g-c", "Carol", true);
        let s = typing(s, "g-a", "Alice", true); // me: not shown
        let now = now_ms();
        let c = s.conversation(&lobby()).cloned().expect("lobby");
        assert_eq!(c.typists(now), ["Bob", "Carol"]);
        assert!(c.typists(now + TYPING_TTL_MS + 1.0).is_empty(), "expires");
        let s = typing(s, "g-c", "Carol", false);
        let s = reduce(s, Action::Message(msg("lobby", 1, m("g-b", "Bob"), "done")));
        let c = s.conversation(&lobby()).cloned().expect("lobby");
        assert!(c.typists(now).is_empty());
    }

    #[test]
    fn a_refused_room_says_why_and_is_not_listed_once_left() {
        let secret = ConvKey::Room("secret".into());
        let mut s = reduce(welcomed(), Action::Open(secret.clone()));
        s = reduce(
            s,
            Action::Refused {
                room: "secret".into(),
                code: "forbidden".into(),
            },
        );
        let why = s.conversation(&secret).and_then(|c| c.refused.clone());
        assert_eq!(why.as_deref(), Some("You don't have access to #secret."));
        assert_eq!(s.visible_rooms().len(), 3, "listed while on screen");
        s = reduce(s, Action::Open(lobby()));
        let rooms: Vec<_> = s.visible_rooms().iter().map(|c| c.key.clone()).collect();
        assert_eq!(rooms, [lobby(), ConvKey::Game]);
    }

    #[test]
    fn older_pages_go_above_and_stop_at_the_beginning() {
        let mut s = welcomed();
        for o in 41..=50 {
            s = reduce(
                s,
                Action::Message(msg("lobby", o, m("g-b", "Bob"), &format!("m{o}"))),
            );
        }
        let c = s.conversation(&lobby()).cloned().expect("lobby");
        assert_eq!(c.oldest_offset(), Some(41));
        assert!(c.can_load_older() && !c.at_beginning());
        s = reduce(s, Action::LoadingOlder(lobby()));
        assert!(!s.conversation(&lobby()).expect("lobby").can_load_older());
        let page = |from: u64, to: u64| {
            (from..=to)
                .map(|o| msg("lobby", o, m("g-b", "Bob"), &format!("m{o}")))
                .collect()
        };
        s = reduce(
            s,
            Action::Older {
                conv: lobby(),
                messages: page(21, 40),
                more: true,
            },
        );
        let c = s.conversation(&lobby()).cloned().expect("lobby");
        assert_eq!(c.oldest_offset(), Some(21));
        assert_eq!(c.lines.len(), 30);
        assert_eq!(texts(&s, &lobby())[0], "m21");
        assert_eq!(c.unread, 0, "older messages are read");
        s = reduce(
            s,
            Action::Older {
                conv: lobby(),
                messages: page(1, 20),
                more: false,
            },
        );
        let c = s.conversation(&lobby()).cloned().expect("lobby");
        assert!(c.at_beginning() && !c.can_load_older());
        assert_eq!(c.lines.len(), 50);
    }

    #[test]
    fn a_gap_starts_a_new_generation_so_restarted_offsets_are_kept() {
        let mut s = welcomed();
        s = reduce(
            s,
            Action::Message(msg("lobby", 1, m("g-b", "Bob"), "before")),
        );
        s = reduce(s, Action::Gap("lobby".into()));
        s = reduce(
            s,
            Action::Message(msg("lobby", 1, m("g-b", "Bob"), "after")),
        );
        let t = texts(&s, &lobby());
        assert_eq!(t.len(), 3);
        assert_eq!(t[0], "before");
        assert_eq!(t[2], "after");
    }

    #[test]
    fn search_filters_people_and_rooms() {
        let mut s = welcomed();
        s = reduce(
            s,
            Action::Members {
                room: "lobby".into(),
                members: vec![m("g-b", "Bob"), m("g-c", "Carol")],
            },
        );
        s = reduce(s, Action::Search("car".into()));
        let names: Vec<_> = s
            .visible_people()
            .iter()
            .map(|p| p.member.name.clone())
            .collect();
        assert_eq!(names, ["Carol"]);
        assert!(s.visible_rooms().is_empty());
        s = reduce(s, Action::Search("LOB".into()));
        assert_eq!(s.visible_rooms().len(), 1);
    }

    #[test]
    fn an_action_copies_only_the_conversation_it_changes() {
        let same = |a: &ChatState, b: &ChatState, key: &ConvKey| {
            Rc::ptr_eq(
                a.conversation(key).expect("conversation"),
                b.conversation(key).expect("conversation"),
            )
        };
        let before = Rc::new(welcomed());
        let hi = || Action::Message(msg("lobby", 1, m("g-b", "Bob"), "hi"));
        let after = before.clone().reduce(hi());
        assert!(same(&before, &after, &ConvKey::Game));
        assert!(!same(&before, &after, &lobby()));
        // A replayed message changes nothing and copies nothing.
        let replayed = after.clone().reduce(hi());
        assert!(same(&after, &replayed, &lobby()));
        assert_eq!(texts(&replayed, &lobby()), ["hi"]);
    }

    #[test]
    fn dom_keys_tell_lines_and_conversations_apart() {
        let lines = [
            LineKey::Stored {
                generation: 0,
                offset: 12,
            },
            LineKey::Stored {
                generation: 1,
                offset: 2,
            },
            LineKey::Stored {
                generation: 11,
                offset: 2,
            },
            LineKey::Local(12),
        ];
        let keys: BTreeSet<String> = lines.iter().map(|k| k.dom_key().to_string()).collect();
        assert_eq!(keys.len(), lines.len());
        let convs = [
            ConvKey::Room("a".into()),
            ConvKey::Dm("a".into()),
            ConvKey::Game,
            ConvKey::Room("game".into()),
        ];
        let keys: BTreeSet<String> = convs.iter().map(|k| k.dom_key().to_string()).collect();
        assert_eq!(keys.len(), convs.len());
    }

    #[test]
    fn look_alike_names_get_an_id_suffix_and_mine_stay_mine_under_an_old_id() {
        let mut s = reduce(ChatState::new(0.0), Action::Welcome(m("g-me01", "Alice")));
        s = reduce(
            s,
            Action::Members {
                room: "lobby".into(),
                members: vec![m("g-me01", "Alice"), m("g-x9f2", "Аlice"), m("g-b", "Bob")],
            },
        );
        assert_eq!(s.label_of("g-x9f2", "?"), "Аlice #x9f2");
        assert_eq!(s.label_of("g-me01", "?"), "Alice #me01");
        assert_eq!(s.label_of("g-b", "?"), "Bob");
        // The server forgot this guest and named it anew: the old id is still me.
        s = reduce(s, Action::OwnIds(vec!["g-me01".into()]));
        s = reduce(s, Action::Welcome(m("g-new2", "Alice")));
        assert!(s.is_mine(&m("g-me01", "Alice")));
        assert!(s.is_mine(&m("g-new2", "Alice")));
        assert!(!s.is_mine(&m("g-x9f2", "Аlice")));
        // My two ids are one person, not a look-alike of each other.
        assert_eq!(
            s.label_of("g-new2", "?"),
            "Alice #new2",
            "the Cyrillic Аlice is still here"
        );
    }
}
