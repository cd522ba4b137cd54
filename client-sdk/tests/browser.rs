//! Browser tests: the SDK in headless Chromium against real `confab-server`
//! processes started by `client-sdk/scripts/test.sh` (which also passes
//! their URLs at build time). Run only through that script.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, missing_docs)]

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use confab_client::{
    debug, dm_room, Backoff, Client, ClientEvent, ClientOptions, ConnectionState, Error,
    OverflowPolicy, Room, RoomEvent, RoomMessage, RoomState, Socket, SocketOptions, Subscription,
};
use gloo_timers::future::TimeoutFuture;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Main instance: in-memory history, `--token-secret test-secret`.
const URL: &str = env_or(option_env!("CONFAB_TEST_URL"), "ws://127.0.0.1:9101/ws");
/// Durable instance (`--data-dir`): restarts keep epoch and offsets.
const DURABLE_URL: &str = env_or(
    option_env!("CONFAB_TEST_DURABLE_URL"),
    "ws://127.0.0.1:9102/ws",
);
/// Scratch in-memory instance that tests stop/start/restart.
const SCRATCH_URL: &str = env_or(
    option_env!("CONFAB_TEST_SCRATCH_URL"),
    "ws://127.0.0.1:9103/ws",
);
/// control.py
const CONTROL: &str = env_or(option_env!("CONFAB_TEST_CONTROL"), "http://127.0.0.1:9100");
/// A user token for `alice` signed with the main instance's secret.
const TOKEN: &str = env_or(option_env!("CONFAB_TEST_TOKEN"), "");
/// Accepts TCP connections and never answers (control.py --blackhole).
const BLACKHOLE_URL: &str = env_or(
    option_env!("CONFAB_TEST_BLACKHOLE_URL"),
    "ws://127.0.0.1:9104/ws",
);
/// control.py --dup-proxy in front of the main instance: every server
/// `message` frame arrives twice.
const DUP_URL: &str = env_or(option_env!("CONFAB_TEST_DUP_URL"), "ws://127.0.0.1:9105/ws");
/// control.py --ack-proxy in front of the main instance: loses or rewrites
/// the next ack on request (`POST /ackproxy/drop|unknown`).
const ACK_PROXY_URL: &str = env_or(
    option_env!("CONFAB_TEST_ACK_PROXY_URL"),
    "ws://127.0.0.1:9106/ws",
);
/// Two nodes on one Redis, and an --ack-proxy in front of the first.
const NODE1_ACK_PROXY_URL: &str = env_or(
    option_env!("CONFAB_TEST_NODE1_ACK_PROXY_URL"),
    "ws://127.0.0.1:9107/ws",
);
const NODE2_URL: &str = env_or(
    option_env!("CONFAB_TEST_NODE2_URL"),
    "ws://127.0.0.1:9108/ws",
);
/// Nothing listens there.
const DEAD_URL: &str = "ws://127.0.0.1:9/ws";

const fn env_or(v: Option<&'static str>, default: &'static str) -> &'static str {
    match v {
        Some(v) => v,
        None => default,
    }
}

#[wasm_bindgen(inline_js = "
export function post(url) {
  return fetch(url, { method: 'POST' }).then(r => r.text().then(t => { if (!r.ok) throw new Error(t); return t; }));
}
export function get(url) {
  return fetch(url).then(r => r.text().then(t => { if (!r.ok) throw new Error(t); return t; }));
}")]
extern "C" {
    fn post(url: &str) -> js_sys::Promise;
    fn get(url: &str) -> js_sys::Promise;
}

/// A fresh user token from control.py (`confab-server token`).
async fn fresh_token(user: &str, ttl: &str) -> String {
    let url = format!("{CONTROL}/token?user={user}&ttl={ttl}");
    JsFuture::from(get(&url))
        .await
        .unwrap_or_else(|e| panic!("token: {e:?}"))
        .as_string()
        .unwrap()
}

/// POST to control.py (`kill|stop|start|restart` + `/instance`).
async fn control(path: &str) {
    let url = format!("{CONTROL}/{path}");
    JsFuture::from(post(&url))
        .await
        .unwrap_or_else(|e| panic!("control {path}: {e:?}"));
}

/// The main server's `POST /debug/stall/{session}` (through control.py):
/// that connection stops reading and writing, like a dead link.
async fn stall(session: &str) {
    control(&format!("stall/main/{session}")).await;
}

fn now() -> f64 {
    js_sys::Date::now()
}

async fn sleep(ms: u32) {
    TimeoutFuture::new(ms).await;
}

async fn until(what: &str, timeout_ms: u32, cond: impl Fn() -> bool) {
    let deadline = now() + f64::from(timeout_ms);
    while !cond() {
        assert!(
            now() < deadline,
            "timed out after {timeout_ms} ms waiting for {what}"
        );
        sleep(10).await;
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", (js_sys::Math::random() * 1e9) as u64)
}

fn guest(url: &str, name: &str) -> Client {
    Client::connect(ClientOptions::new(url).name(name))
}

/// Waits (up to 5 s) for `c`'s `welcome`.
async fn welcomed(c: &Client) {
    until("welcome", 5000, || c.me().is_some()).await;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Chat {
    n: u32,
}

/// Records a room's events.
struct Recorder {
    events: Rc<RefCell<Vec<RoomEvent>>>,
    _sub: Subscription,
}

impl Recorder {
    fn new(room: &Room) -> Self {
        let events: Rc<RefCell<Vec<RoomEvent>>> = Rc::default();
        let e = events.clone();
        let sub = room.on_event(move |ev| e.borrow_mut().push(ev.clone()));
        Self { events, _sub: sub }
    }
    fn messages(&self) -> Vec<RoomMessage> {
        self.events
            .borrow()
            .iter()
            .filter_map(|e| match e {
                RoomEvent::Message(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }
    fn ns(&self) -> Vec<u32> {
        self.messages()
            .iter()
            .map(|m| m.payload.get::<Chat>().unwrap().n)
            .collect()
    }
    fn gaps(&self) -> usize {
        self.events
            .borrow()
            .iter()
            .filter(|e| matches!(e, RoomEvent::Gap))
            .count()
    }
}

fn is_open(c: &Client) -> bool {
    c.state() == ConnectionState::Open
}

async fn await_all<T>(futs: Vec<Pin<Box<dyn Future<Output = T>>>>) -> Vec<T> {
    let mut out = Vec::new();
    for f in futs {
        out.push(f.await);
    }
    out
}

#[wasm_bindgen_test]
async fn connect_welcome_guest_name() {
    let c = guest(URL, "Bob");
    welcomed(&c).await;
    let me = c.me().unwrap();
    assert_eq!(me.name, "Bob");
    assert!(me.id.starts_with("g-"), "{me:?}");
    assert!(is_open(&c));
    c.close();
}

#[wasm_bindgen_test]
async fn token_provider_called_on_every_connect() {
    assert!(!TOKEN.is_empty(), "CONFAB_TEST_TOKEN not set at build time");
    let calls = Rc::new(Cell::new(0u32));
    let c2 = calls.clone();
    let c = Client::connect(ClientOptions::new(URL).token_provider(move || {
        c2.set(c2.get() + 1);
        async { Some(TOKEN.to_owned()) }
    }));
    welcomed(&c).await;
    assert_eq!(c.me().unwrap().id, "alice");
    assert_eq!(calls.get(), 1);
    for round in 2..=3 {
        let sid = c.session_id();
        c.socket().reconnect();
        until("new session", 5000, || {
            is_open(&c) && c.me().is_some() && c.session_id() != sid
        })
        .await;
        assert_eq!(calls.get(), round);
    }
    c.close();
}

#[wasm_bindgen_test]
async fn publish_and_receive_between_two_clients() {
    let (a, b) = (guest(URL, "A"), guest(URL, "B"));
    let name = unique("pubsub");
    let ra = a.join(&name).await.unwrap();
    let rb = b.join(&name).await.unwrap();
    assert_eq!(ra.state(), RoomState::Joined);
    let rec = Recorder::new(&rb);
    // Publishes are queued when called; awaiting later keeps their order.
    let futs: Vec<_> = (0..20).map(|n| ra.publish(&Chat { n })).collect();
    let mut offsets = Vec::new();
    for f in futs {
        offsets.push(f.await.unwrap().offset.unwrap());
    }
    assert!(offsets.windows(2).all(|w| w[1] == w[0] + 1), "{offsets:?}");
    until("20 messages at B", 5000, || rec.messages().len() >= 20).await;
    assert_eq!(rec.ns(), (0..20).collect::<Vec<_>>());
    assert_eq!(
        rec.messages().iter().map(|m| m.offset).collect::<Vec<_>>(),
        offsets
    );
    assert!(rec
        .messages()
        .iter()
        .all(|m| m.from.name == "A" && m.room == name && m.ts > 0));
    assert_eq!(rb.recent().len(), 20);
    a.close();
    b.close();
}

#[wasm_bindgen_test]
async fn room_events_as_a_stream_end_when_the_room_is_left() {
    use futures_util::StreamExt;
    let (a, b) = (guest(URL, "A"), guest(URL, "B"));
    let name = unique("stream");
    let ra = a.join(&name).await.unwrap();
    let rb = b.join(&name).await.unwrap();
    let mut events = rb.events();
    ra.publish(&Chat { n: 7 }).await.unwrap();
    let message = loop {
        match events.next().await {
            Some(RoomEvent::Message(m)) => break m,
            Some(_) => {}
            None => panic!("stream ended early"),
        }
    };
    assert_eq!(message.payload.get::<Chat>().unwrap().n, 7);
    rb.leave().await.unwrap();
    let mut rest = Vec::new();
    while let Some(ev) = events.next().await {
        rest.push(ev);
    }
    assert!(
        matches!(rest.last(), Some(RoomEvent::StateChanged(RoomState::Left))),
        "{rest:?}"
    );
    assert!(
        rb.events().next().await.is_none(),
        "a left room's stream is empty"
    );
    a.close();
    b.close();
}

#[wasm_bindgen_test]
async fn presence_snapshot_and_diffs() {
    let (a, b) = (guest(URL, "Ann"), guest(URL, "Ben"));
    let name = unique("presence");
    let ra = a.join(&name).await.unwrap();
    let rec = Recorder::new(&ra);
    let rb = b.join(&name).await.unwrap();
    let bid = b.me().unwrap().id;
    // B's snapshot has both; A learns about B through a diff.
    assert_eq!(rb.members().len(), 2, "{:?}", rb.members());
    until("B in A's members", 5000, || {
        ra.members().iter().any(|m| m.id == bid)
    })
    .await;
    let saw = |f: &dyn Fn(&RoomEvent) -> bool| rec.events.borrow().iter().any(f);
    assert!(saw(
        &|e| matches!(e, RoomEvent::Presence { joins, .. } if joins.iter().any(|m| m.id == bid))
    ));
    b.rename("Benny").await.unwrap();
    assert_eq!(b.me().unwrap().name, "Benny");
    until("rename seen", 5000, || {
        ra.members()
            .iter()
            .any(|m| m.id == bid && m.name == "Benny")
    })
    .await;
    assert!(saw(
        &|e| matches!(e, RoomEvent::Presence { updates, .. } if updates.iter().any(|m| m.name == "Benny"))
    ));
    rb.leave().await.unwrap();
    assert_eq!(rb.state(), RoomState::Left);
    until("B gone", 5000, || !ra.members().iter().any(|m| m.id == bid)).await;
    assert!(saw(
        &|e| matches!(e, RoomEvent::Presence { leaves, .. } if leaves.iter().any(|m| m.id == bid))
    ));
    assert!(matches!(
        rb.publish(&Chat { n: 1 }).await,
        Err(Error::NotJoined)
    ));
    a.close();
    b.close();
}

#[wasm_bindgen_test]
async fn direct_messages() {
    let (a, b) = (guest(URL, "Dee"), guest(URL, "Eve"));
    until("welcomes", 5000, || a.me().is_some() && b.me().is_some()).await;
    let (aid, bid) = (a.me().unwrap().id, b.me().unwrap().id);
    let got: Rc<RefCell<Vec<RoomMessage>>> = Rc::default();
    let g = got.clone();
    let _sub = b.on_event(move |ev| {
        if let ClientEvent::Direct(m) = ev {
            g.borrow_mut().push(m.clone());
        }
    });
    let ack = a.direct(&bid, &Chat { n: 7 }).await.unwrap();
    let dm = dm_room(&aid, &bid);
    assert_eq!(ack.room.as_deref(), Some(dm.as_str()));
    until("DM at B", 5000, || !got.borrow().is_empty()).await;
    let m = got.borrow()[0].clone();
    assert_eq!(
        (m.room.as_str(), m.from.id.as_str()),
        (dm.as_str(), aid.as_str())
    );
    assert_eq!(m.payload.get::<Chat>().unwrap(), Chat { n: 7 });
    // The conversation is a room B can join for its history.
    let room = b.join(&dm).await.unwrap();
    assert!(room.recent().iter().any(|h| h.offset == m.offset));
    // Someone else's conversation: the server refuses, the room is errored.
    let err = a.join("dm:g-x:g-y").await.unwrap_err();
    assert_eq!(err.code(), "unauthorized", "{err:?}");
    assert!(a.rooms().is_empty());
    a.close();
    b.close();
}

#[wasm_bindgen_test]
async fn ack_timeout_offline_and_on_a_dead_link() {
    // Offline: queued, never sent, fails after the timeout (not forever).
    let c = Client::connect(ClientOptions::new(DEAD_URL).ack_timeout(Duration::from_millis(300)));
    let room = c.room("lobby").unwrap();
    let t0 = now();
    assert_eq!(
        room.publish(&Chat { n: 1 }).await.unwrap_err(),
        Error::AckTimeout
    );
    let waited = now() - t0;
    assert!((250.0..3000.0).contains(&waited), "{waited}");
    assert_eq!(c.pending(), 0);
    assert_eq!(c.join("other").await.unwrap_err(), Error::AckTimeout);
    c.close();

    // Sent on a link that went silent (server stalled): the ack never comes.
    let c = Client::connect(ClientOptions::new(URL).ack_timeout(Duration::from_millis(500)));
    let room = c.join(&unique("acktimeout")).await.unwrap();
    stall(&c.session_id().unwrap()).await;
    let t0 = now();
    assert_eq!(
        room.publish(&Chat { n: 2 }).await.unwrap_err(),
        Error::AckTimeout
    );
    assert!(now() - t0 >= 450.0);
    c.close();

    // Sent, then the link is dropped before the ack (the stalled server
    // never read it): sent again after the re-join, with the same cid, and
    // stored once.
    let c = Client::connect(ClientOptions::new(URL).ack_timeout(Duration::from_secs(10)));
    let name = unique("disconnected");
    let room = c.join(&name).await.unwrap();
    let rec = Recorder::new(&room);
    stall(&c.session_id().unwrap()).await;
    let p = room.publish(&Chat { n: 3 });
    let cid = p.cid().unwrap().to_owned();
    sleep(50).await;
    c.socket().reconnect();
    assert_eq!(p.await.unwrap().offset, Some(1));
    let ack = room.publish(&Chat { n: 4 }).await.unwrap();
    assert_eq!(ack.offset, Some(2));
    until("both messages", 5000, || rec.ns() == [3, 4]).await;
    assert_eq!(rec.messages()[0].cid.as_deref(), Some(cid.as_str()));
    c.close();
}

#[wasm_bindgen_test]
async fn heartbeat_detects_dead_link_and_resume_is_gap_free() {
    let hb = 300.0;
    let a = Client::connect(
        ClientOptions::new(URL)
            .name("Hb")
            .heartbeat(Duration::from_millis(300)),
    );
    let b = guest(URL, "Pub");
    let name = unique("heartbeat");
    let ra = a.join(&name).await.unwrap();
    let rb = b.join(&name).await.unwrap();
    let rec = Recorder::new(&ra);
    rb.publish(&Chat { n: 0 }).await.unwrap();
    until("first message", 5000, || rec.ns() == [0]).await;

    let sid = a.session_id().unwrap();
    stall(&sid).await;
    let t0 = now();
    // Published while A's link is dead: A must get them after resuming.
    for n in 1..=5 {
        rb.publish(&Chat { n }).await.unwrap();
    }
    until("dead link detected", 5000, || !is_open(&a)).await;
    let detected = now() - t0;
    web_sys_log(&format!(
        "heartbeat {hb} ms: dead link detected after {detected} ms"
    ));
    // Silence threshold 2 × 300 ms, checked every 75 ms, plus scheduling slack.
    assert!(
        detected < 2.0 * hb + hb + 500.0,
        "detected after {detected} ms"
    );
    until("re-joined on a new session", 8000, || {
        ra.state() == RoomState::Joined && a.session_id().is_some_and(|s| s != sid)
    })
    .await;
    until("missed messages", 5000, || rec.ns().len() >= 6).await;
    sleep(200).await;
    assert_eq!(
        rec.ns(),
        (0..=5).collect::<Vec<_>>(),
        "exactly once, in order"
    );
    assert_eq!(rec.gaps(), 0);
    a.close();
    b.close();
}

/// Publishes every 25 ms while the durable server is killed (SIGKILL) and
/// restarted. The durable server keeps epoch, offsets and the cids it has
/// stored (in the append's transaction), so every publish resolves, once,
/// with its one offset: those in flight at the kill (stored or not) are
/// sent again with their cid after the re-join. The receiver ends with one
/// gap-free run of offsets holding every message exactly once.
#[wasm_bindgen_test]
async fn server_killed_and_restarted_while_publishing() {
    let backoff = Backoff {
        min: Duration::from_millis(100),
        max: Duration::from_millis(500),
        ..Backoff::default()
    };
    let opts = |n: &str| {
        ClientOptions::new(DURABLE_URL)
            .name(n)
            .backoff(backoff)
            .ack_timeout(Duration::from_secs(8))
    };
    let a = Client::connect(opts("Publisher"));
    let b = Client::connect(opts("Reader"));
    let name = unique("restart");
    let ra = a.join(&name).await.unwrap();
    let rb = b.join(&name).await.unwrap();
    let rec = Recorder::new(&rb);
    let states: Rc<RefCell<Vec<ConnectionState>>> = Rc::default();
    let s = states.clone();
    let _sub = a.on_event(move |e| {
        if let ClientEvent::StateChanged(st) = e {
            s.borrow_mut().push(st.clone());
        }
    });
    let sid = a.session_id();

    let mut futs: Vec<Pin<Box<dyn Future<Output = _>>>> = Vec::new();
    let mut offline = 0;
    for n in 0..60u32 {
        offline += usize::from(!is_open(&a) || ra.state() != RoomState::Joined);
        futs.push(Box::pin(ra.publish(&Chat { n })));
        if n == 20 {
            wasm_bindgen_futures::spawn_local(control("restart/durable?mode=kill&down_ms=300"));
        }
        sleep(25).await;
    }
    let results = await_all(futs).await;
    let mut acked = Vec::new();
    for (n, r) in (0u32..).zip(results) {
        match r {
            Ok(ack) => acked.push((n, ack.offset.unwrap())),
            Err(e) => panic!("publish {n}: {e:?} (every publish must land)"),
        }
    }
    assert!(
        states
            .borrow()
            .iter()
            .any(|s| matches!(s, ConnectionState::Reconnecting { .. })),
        "no reconnect"
    );
    assert!(offline > 0, "no publish was made while the server was down");
    assert_ne!(a.session_id(), sid);
    assert!(
        acked.iter().any(|(n, _)| *n < 20) && acked.iter().any(|(n, _)| *n > 40),
        "{acked:?}"
    );
    let acked_ns: Vec<u32> = acked.iter().map(|(n, _)| *n).collect();
    until("every acked message at the reader", 10_000, || {
        let got = rec.ns();
        acked_ns.iter().all(|n| got.contains(n))
    })
    .await;
    sleep(300).await;
    let msgs = rec.messages();
    let offsets: Vec<u64> = msgs.iter().map(|m| m.offset).collect();
    assert!(
        offsets.windows(2).all(|w| w[1] == w[0] + 1),
        "hole or duplicate: {offsets:?}"
    );
    let got = rec.ns();
    assert_eq!(got, (0..60).collect::<Vec<_>>(), "each once, in order");
    for (n, off) in &acked {
        let m = msgs
            .iter()
            .find(|m| m.payload.get::<Chat>().unwrap().n == *n)
            .unwrap();
        assert_eq!(m.offset, *off, "ack offset of {n}");
    }
    assert_eq!(rec.gaps(), 0, "durable server: resume must be recovered");
    web_sys_log(&format!(
        "restart test: {} acked ({offline} published while down/re-joining), {} delivered",
        acked.len(),
        got.len()
    ));
    a.close();
    b.close();
}

/// An in-memory server loses history on restart (new epoch): the SDK must
/// say so with a Gap event instead of pretending the resume was complete.
#[wasm_bindgen_test]
async fn restart_of_in_memory_server_reports_gap() {
    let backoff = Backoff {
        min: Duration::from_millis(100),
        max: Duration::from_millis(500),
        ..Backoff::default()
    };
    let a = Client::connect(ClientOptions::new(SCRATCH_URL).name("A").backoff(backoff));
    let b = Client::connect(ClientOptions::new(SCRATCH_URL).name("B").backoff(backoff));
    let name = unique("gap");
    let ra = a.join(&name).await.unwrap();
    let rb = b.join(&name).await.unwrap();
    let rec = Recorder::new(&rb);
    for n in 0..3 {
        ra.publish(&Chat { n }).await.unwrap();
    }
    until("3 messages", 5000, || rec.ns().len() == 3).await;
    control("restart/scratch?mode=term&down_ms=100").await;
    until("gap reported", 8000, || {
        rec.gaps() == 1 && rb.state() == RoomState::Joined
    })
    .await;
    assert_eq!(rb.gaps(), 1);
    until("A re-joined", 8000, || ra.state() == RoomState::Joined).await;
    for n in 3..5 {
        ra.publish(&Chat { n }).await.unwrap();
    }
    until("5 messages", 5000, || rec.ns().len() >= 5).await;
    sleep(200).await;
    assert_eq!(rec.ns(), (0..5).collect::<Vec<_>>());
    let ev = rec.events.borrow();
    let gap_at = ev.iter().position(|e| matches!(e, RoomEvent::Gap)).unwrap();
    let first_after = ev[gap_at..].iter().find_map(|e| match e {
        RoomEvent::Message(m) => Some(m.offset),
        _ => None,
    });
    assert_eq!(first_after, Some(1), "new epoch restarts offsets");
    drop(ev);
    a.close();
    b.close();
}

#[wasm_bindgen_test]
async fn offline_buffer_is_bounded_and_flushed_after_rejoin() {
    let backoff = Backoff {
        min: Duration::from_millis(100),
        max: Duration::from_millis(300),
        ..Backoff::default()
    };
    let a = Client::connect(
        ClientOptions::new(SCRATCH_URL)
            .name("Off")
            .send_buffer(5)
            .backoff(backoff),
    );
    let name = unique("offline");
    let ra = a.join(&name).await.unwrap();
    control("stop/scratch").await;
    until("offline", 5000, || {
        matches!(a.state(), ConnectionState::Reconnecting { .. })
    })
    .await;
    assert_eq!(ra.state(), RoomState::Joining);
    let futs: Vec<_> = (0..5).map(|n| ra.publish(&Chat { n })).collect();
    assert_eq!(a.pending(), 5);
    assert_eq!(
        ra.publish(&Chat { n: 99 }).await.unwrap_err(),
        Error::BufferFull
    );
    control("start/scratch").await;
    let mut offsets = Vec::new();
    for f in futs {
        offsets.push(f.await.unwrap().offset.unwrap());
    }
    assert!(offsets.windows(2).all(|w| w[1] == w[0] + 1), "{offsets:?}");
    // A reader joining later finds them in order.
    let b = guest(SCRATCH_URL, "Later");
    let rb = b.join(&name).await.unwrap();
    let ns: Vec<u32> = rb
        .recent()
        .iter()
        .map(|m| m.payload.get::<Chat>().unwrap().n)
        .collect();
    assert_eq!(ns, [0, 1, 2, 3, 4]);
    a.close();
    b.close();

    // DropOldest: the oldest queued publish is failed to make room.
    let c = Client::connect(
        ClientOptions::new(DEAD_URL)
            .send_buffer(2)
            .overflow(OverflowPolicy::DropOldest),
    );
    let r = c.room("lobby").unwrap();
    let (p1, p2, p3) = (
        r.publish(&Chat { n: 1 }),
        r.publish(&Chat { n: 2 }),
        r.publish(&Chat { n: 3 }),
    );
    assert_eq!(p1.await.unwrap_err(), Error::BufferOverflow);
    c.close();
    assert_eq!(p2.await.unwrap_err(), Error::Closed);
    assert_eq!(p3.await.unwrap_err(), Error::Closed);
}

#[wasm_bindgen_test]
async fn explicit_close_stops_reconnecting() {
    let base = debug::live_handles();
    let c = guest(URL, "Closer");
    let room = c.join(&unique("close")).await.unwrap();
    assert!(debug::live_handles() > base);
    let states: Rc<RefCell<Vec<ConnectionState>>> = Rc::default();
    let s = states.clone();
    let _sub = c.on_event(move |e| {
        if let ClientEvent::StateChanged(st) = e {
            s.borrow_mut().push(st.clone());
        }
    });
    c.close();
    assert_eq!(
        c.state(),
        ConnectionState::Closed {
            code: 1000,
            reason: String::new()
        }
    );
    assert_eq!(room.state(), RoomState::Left);
    sleep(1500).await;
    assert_eq!(states.borrow().len(), 1, "{:?}", states.borrow());
    // The README's promise: everything after close() fails with `closed`.
    assert_eq!(
        room.publish(&Chat { n: 1 }).await.unwrap_err(),
        Error::Closed
    );
    assert_eq!(
        room.set_member_state(&Chat { n: 1 }).await.unwrap_err(),
        Error::Closed
    );
    assert_eq!(room.signal(&Chat { n: 1 }).unwrap_err(), Error::Closed);
    assert_eq!(room.history(None, None).await.unwrap_err(), Error::Closed);
    assert_eq!(c.join("x").await.unwrap_err(), Error::Closed);
    assert_eq!(debug::live_handles(), base);

    // Also while waiting to retry (server unreachable).
    let d = Client::connect(ClientOptions::new(DEAD_URL));
    until("reconnecting", 5000, || {
        matches!(d.state(), ConnectionState::Reconnecting { .. })
    })
    .await;
    d.close();
    sleep(1500).await;
    assert!(matches!(d.state(), ConnectionState::Closed { .. }));
    assert_eq!(debug::live_handles(), base);
}

#[wasm_bindgen_test]
async fn closures_and_listeners_are_released() {
    let base = debug::live_handles();
    let mut clients = Vec::new();
    for i in 0..20 {
        clients.push(guest(URL, &format!("leak{i}")));
    }
    for _ in 0..5 {
        clients.push(Client::connect(ClientOptions::new(DEAD_URL)));
    }
    let mut sockets = Vec::new();
    for _ in 0..5 {
        let url = URL.replacen("/ws", "/ws/echo/", 1);
        sockets.push(Socket::open(SocketOptions::new(url)));
    }
    until("20 clients open", 10_000, || {
        clients.iter().filter(|c| is_open(c)).count() == 20
    })
    .await;
    let name = unique("leak");
    for c in &clients[..20] {
        c.join(&name).await.unwrap();
    }
    let peak = debug::live_handles();
    // Per open client: 1 WebSocket handler (open/message/close) +
    // online/visibility listeners + heartbeat.
    assert!(peak >= base + 20 * 4, "peak {peak}, base {base}");
    // Half closed explicitly, half just dropped.
    for (i, c) in clients.iter().enumerate() {
        if i % 2 == 0 {
            c.close();
        }
    }
    sockets[0].close();
    drop(clients);
    drop(sockets);
    sleep(100).await;
    assert_eq!(debug::live_handles(), base, "leaked handles (peak {peak})");
}

#[wasm_bindgen_test]
async fn socket_reading_api_and_offline_buffer() {
    let room = unique("sock");
    let url = URL.replacen("/ws", &format!("/ws/chat/{room}/"), 1);
    let reader = Socket::open(SocketOptions::new(url.clone()));
    until("reader open", 5000, || reader.is_open()).await;
    let writer = Socket::open(SocketOptions::new(url));
    #[derive(Serialize)]
    struct M<'a> {
        message: &'a str,
    }
    // Sent before the socket is open: buffered, flushed on open.
    writer.send(&M { message: "early" }).unwrap();
    assert_eq!(writer.buffered(), 1);
    let first = reader.wait().await.unwrap();
    assert_eq!(field(&first, "message"), "early");
    for m in ["a", "b", "c"] {
        writer.send(&M { message: m }).unwrap();
    }
    until("3 queued", 5000, || reader.count_messages() >= 3).await;
    assert!(reader.has_messages());
    let read: Vec<String> = (0..3)
        .map(|_| field(&reader.read().unwrap(), "message"))
        .collect();
    assert_eq!(read, ["a", "b", "c"]);
    assert!(reader.read().is_none());
    writer
        .send(&M {
            message: "streamed",
        })
        .unwrap();
    let mut stream = reader.messages();
    let next =
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut stream), cx)).await;
    assert_eq!(field(&next.unwrap(), "message"), "streamed");
    reader.close();
    assert!(reader.wait().await.is_none(), "wait() ends after close");
    assert_eq!(writer.send(&M { message: "x" }).map(|_| ()), Ok(()));
    writer.close();
    assert_eq!(writer.send(&M { message: "x" }).unwrap_err(), Error::Closed);
}

fn field(v: &JsValue, key: &str) -> String {
    js_sys::Reflect::get(v, &key.into())
        .unwrap()
        .as_string()
        .unwrap_or_default()
}

fn web_sys_log(s: &str) {
    wasm_bindgen_test::console_log!("{s}");
}

#[wasm_bindgen_test]
async fn online_or_visible_page_retries_at_once_and_max_attempts_stops() {
    // A long backoff, then the page reports it is back online: retry now.
    let slow = Backoff {
        min: Duration::from_secs(20),
        max: Duration::from_secs(20),
        ..Backoff::default()
    };
    let c = Client::connect(ClientOptions::new(SCRATCH_URL).backoff(slow));
    until("open", 5000, || is_open(&c)).await;
    control("stop/scratch").await;
    until("reconnecting", 5000, || {
        matches!(c.state(), ConnectionState::Reconnecting { .. })
    })
    .await;
    control("start/scratch").await;
    sleep(300).await;
    assert!(
        matches!(c.state(), ConnectionState::Reconnecting { .. }),
        "{:?}",
        c.state()
    );
    let t0 = now();
    web_sys::window()
        .unwrap()
        .dispatch_event(&web_sys::Event::new("online").unwrap())
        .unwrap();
    until("open after online event", 3000, || is_open(&c)).await;
    web_sys_log(&format!(
        "reconnected {} ms after the online event (backoff was 20 s)",
        now() - t0
    ));

    // Same when the page becomes visible again.
    control("stop/scratch").await;
    until("reconnecting again", 5000, || {
        matches!(c.state(), ConnectionState::Reconnecting { .. })
    })
    .await;
    control("start/scratch").await;
    sleep(300).await;
    assert!(
        matches!(c.state(), ConnectionState::Reconnecting { .. }),
        "{:?}",
        c.state()
    );
    let doc = web_sys::window().unwrap().document().unwrap();
    assert_eq!(doc.visibility_state(), web_sys::VisibilityState::Visible);
    doc.dispatch_event(&web_sys::Event::new("visibilitychange").unwrap())
        .unwrap();
    until("open after visibilitychange", 3000, || is_open(&c)).await;
    c.close();

    // max_attempts: give up, Closed with a reason.
    let quick = Backoff {
        min: Duration::from_millis(20),
        max: Duration::from_millis(50),
        ..Backoff::default()
    };
    let d = Client::connect(ClientOptions::new(DEAD_URL).backoff(quick).max_attempts(3));
    until("gave up", 5000, || {
        matches!(d.state(), ConnectionState::Closed { .. })
    })
    .await;
    match d.state() {
        ConnectionState::Closed { reason, .. } => assert_eq!(reason, "max attempts"),
        s => panic!("{s:?}"),
    }
}

#[wasm_bindgen_test]
async fn hanging_handshake_times_out_and_retries() {
    let quick = Backoff {
        min: Duration::from_millis(50),
        max: Duration::from_millis(50),
        ..Backoff::default()
    };
    let sock = Socket::open(
        SocketOptions::new(BLACKHOLE_URL)
            .backoff(quick)
            .connect_timeout(Duration::from_millis(300)),
    );
    let t0 = now();
    until("handshake given up", 3000, || {
        matches!(sock.state(), ConnectionState::Reconnecting { .. })
    })
    .await;
    let waited = now() - t0;
    assert!(waited >= 250.0, "gave up after {waited} ms");
    // And it keeps trying (attempt 2, 3, ...).
    until(
        "second attempt failed too",
        3000,
        || matches!(sock.state(), ConnectionState::Reconnecting { attempt, .. } if attempt >= 2),
    )
    .await;
    sock.close();
}

/// Records a client's events.
fn client_events(c: &Client) -> (Rc<RefCell<Vec<ClientEvent>>>, Subscription) {
    let events: Rc<RefCell<Vec<ClientEvent>>> = Rc::default();
    let e = events.clone();
    let sub = c.on_event(move |ev| e.borrow_mut().push(ev.clone()));
    (events, sub)
}

async fn reconnect_and_wait(c: &Client) {
    let sid = c.session_id();
    c.socket().reconnect();
    until("reconnected on a new session", 8000, || {
        is_open(c) && c.me().is_some() && c.session_id().is_some() && c.session_id() != sid
    })
    .await;
}

#[wasm_bindgen_test]
async fn reconnect_keeps_the_name_from_the_last_rename() {
    let watcher = guest(URL, "Watcher");
    let c = guest(URL, "First");
    let name = unique("rename");
    let room = c.join(&name).await.unwrap();
    let rw = watcher.join(&name).await.unwrap();
    let rec = Recorder::new(&rw);
    c.rename("  Second ").await.unwrap();
    assert_eq!(c.me().unwrap().name, "Second");
    let id = c.me().unwrap().id;
    let (events, _sub) = client_events(&c);
    reconnect_and_wait(&c).await;
    let welcomes: Vec<String> = events
        .borrow()
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Welcome(m) => Some(m.name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        welcomes,
        ["Second"],
        "the reconnect must introduce the current name"
    );
    until("re-joined", 5000, || room.state() == RoomState::Joined).await;
    sleep(300).await;
    // The watcher never saw the old name come back.
    let names_seen: Vec<String> = rec
        .events
        .borrow()
        .iter()
        .flat_map(|e| match e {
            RoomEvent::Presence { joins, updates, .. } => joins
                .iter()
                .chain(updates)
                .filter(|m| m.id == id)
                .map(|m| m.name.clone())
                .collect(),
            RoomEvent::Members(ms) => ms
                .iter()
                .filter(|m| m.id == id)
                .map(|m| m.name.clone())
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    assert!(!names_seen.iter().any(|n| n == "First"), "{names_seen:?}");
    assert!(
        rw.members()
            .iter()
            .any(|m| m.id == id && m.name == "Second"),
        "{:?}",
        rw.members()
    );
    c.close();
    watcher.close();
}

#[wasm_bindgen_test]
async fn guest_identity_survives_reconnects_restarts_and_reloads() {
    // A reconnect presents the welcome's guest token: same id.
    let c = guest(URL, "Gus");
    welcomed(&c).await;
    let id = c.me().unwrap().id;
    assert!(id.starts_with("g-"), "{id}");
    let token = c.guest_token().expect("guests get a guest_token");
    reconnect_and_wait(&c).await;
    assert_eq!(c.me().unwrap().id, id, "same guest after a reconnect");
    assert!(c.guest_token().is_some());

    // A "reloaded page" starting with the saved token is the same person,
    // under the name it asks for.
    let reload = Client::connect(
        ClientOptions::new(URL)
            .name("Gus again")
            .guest_token(token.clone()),
    );
    until("reload welcome", 5000, || reload.me().is_some()).await;
    assert_eq!(reload.me().unwrap().id, id);
    assert_eq!(reload.me().unwrap().name, "Gus again");
    reload.close();

    // A bad token is no error: a new guest.
    let bad = Client::connect(
        ClientOptions::new(URL)
            .name("Bad")
            .guest_token("not-a-token"),
    );
    until("bad-token welcome", 5000, || bad.me().is_some()).await;
    assert_ne!(bad.me().unwrap().id, id);
    assert!(is_open(&bad));
    bad.close();

    // A token provider's user token wins: not a guest, no guest token.
    let user = Client::connect(
        ClientOptions::new(URL)
            .guest_token(token)
            .token_provider(|| async { Some(TOKEN.to_owned()) }),
    );
    until("user welcome", 5000, || user.me().is_some()).await;
    assert_eq!(user.me().unwrap().id, "alice");
    user.close();
    c.close();

    // A server restart (the durable instance keeps its guest key in
    // --data-dir): still the same guest.
    let backoff = Backoff {
        min: Duration::from_millis(100),
        max: Duration::from_millis(500),
        ..Backoff::default()
    };
    let d = Client::connect(ClientOptions::new(DURABLE_URL).name("Dur").backoff(backoff));
    until("durable welcome", 5000, || d.me().is_some()).await;
    let (did, sid) = (d.me().unwrap().id, d.session_id());
    control("restart/durable?mode=kill&down_ms=200").await;
    until("back after the restart", 10_000, || {
        is_open(&d) && d.session_id().is_some() && d.session_id() != sid
    })
    .await;
    assert_eq!(d.me().unwrap().id, did, "same guest after a server restart");
    d.close();
}

#[wasm_bindgen_test]
async fn refused_room_goes_to_the_room_and_is_not_rejoined() {
    let c = guest(URL, "Refused");
    welcomed(&c).await;
    let (client_events, _sub) = client_events(&c);
    let name = "dm:g-x:g-y";
    let room = c.room(name).unwrap();
    let rec = Recorder::new(&room);
    until("errored", 5000, || room.state() == RoomState::Errored).await;
    let err = room.error().unwrap();
    assert_eq!(err.code(), "unauthorized");
    assert_eq!(err.room(), Some(name), "{err:?}");
    assert!(matches!(&err, Error::Server { room: Some(r), .. } if r == name));
    assert!(
        rec.events
            .borrow()
            .iter()
            .any(|e| matches!(e, RoomEvent::Error(e) if e.code() == "unauthorized")),
        "RoomEvent::Error"
    );
    let n_before = rec.events.borrow().len();
    reconnect_and_wait(&c).await;
    reconnect_and_wait(&c).await;
    sleep(300).await;
    assert_eq!(room.state(), RoomState::Errored);
    let after: Vec<RoomEvent> = rec.events.borrow()[n_before..].to_vec();
    assert!(
        after.is_empty(),
        "a final refusal must not be re-joined: {after:?}"
    );
    assert!(
        !client_events
            .borrow()
            .iter()
            .any(|e| matches!(e, ClientEvent::Error(_))),
        "the refusal went to ClientEvent::Error: {:?}",
        client_events.borrow()
    );
    // Asking again explicitly does send a join (and is refused again).
    let again = c.join(name).await.unwrap_err();
    assert_eq!(again.room(), Some(name));
    c.close();
}

#[wasm_bindgen_test]
async fn direct_events_are_deduplicated_even_without_the_dm_room() {
    let a = guest(URL, "DupA");
    // B's link duplicates every message frame (control.py --dup-proxy).
    let b = Client::connect(ClientOptions::new(DUP_URL).name("DupB"));
    until("welcomes", 5000, || a.me().is_some() && b.me().is_some()).await;
    let bid = b.me().unwrap().id;
    let raw = Rc::new(Cell::new(0u32));
    let r = raw.clone();
    let _raw = b.socket().on_message(move |v| {
        if field(v, "type") == "message" {
            r.set(r.get() + 1);
        }
    });
    let (events, _sub) = client_events(&b);
    let directs = || -> Vec<u32> {
        events
            .borrow()
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Direct(m) => Some(m.payload.get::<Chat>().unwrap().n),
                _ => None,
            })
            .collect()
    };
    for n in 1..=3 {
        a.direct(&bid, &Chat { n }).await.unwrap();
    }
    until("6 frames through the proxy", 5000, || raw.get() >= 6).await;
    sleep(200).await;
    assert_eq!(raw.get(), 6, "the proxy sends every message twice");
    assert_eq!(directs(), [1, 2, 3], "one Direct per (room, offset)");

    // With the DM room joined: one room message and one Direct each.
    let dm = b.join(&dm_room(&a.me().unwrap().id, &bid)).await.unwrap();
    let rec = Recorder::new(&dm);
    a.direct(&bid, &Chat { n: 4 }).await.unwrap();
    until("8 frames", 5000, || raw.get() >= 8).await;
    sleep(200).await;
    assert_eq!(directs(), [1, 2, 3, 4]);
    assert_eq!(rec.ns(), [4]);
    a.close();
    b.close();
}

#[wasm_bindgen_test]
async fn rename_in_another_tab_of_the_same_guest_is_kept_on_reconnect() {
    let a = guest(URL, "Tab");
    welcomed(&a).await;
    let token = a.guest_token().unwrap();
    // A second tab of the same person (same guest token).
    let b = Client::connect(ClientOptions::new(URL).name("Tab").guest_token(token));
    until("second tab", 5000, || b.me().is_some()).await;
    assert_eq!(b.me().unwrap().id, a.me().unwrap().id);
    let name = unique("tabs");
    a.join(&name).await.unwrap();
    b.join(&name).await.unwrap();
    a.rename("Renamed").await.unwrap();
    until("the other tab learns the name", 5000, || {
        b.me().is_some_and(|m| m.name == "Renamed")
    })
    .await;
    reconnect_and_wait(&b).await;
    assert_eq!(
        b.me().unwrap().name,
        "Renamed",
        "reconnected under the old name"
    );
    sleep(300).await;
    assert_eq!(a.me().unwrap().name, "Renamed");
    a.close();
    b.close();
}

/// What the publishing side and a reader see after one publish whose ack
/// went wrong (`how`: the ack-proxy's `drop` or `unknown`): the publish
/// resolves once, with the offset it was stored at; it is stored once
/// (the next publish gets the next offset); each side sees it once.
async fn one_publish_through_a_lost_ack(publisher_urls: Vec<String>, reader_url: &str, how: &str) {
    let backoff = Backoff {
        min: Duration::from_millis(50),
        max: Duration::from_millis(200),
        ..Backoff::default()
    };
    let a = Client::connect(
        ClientOptions::new(publisher_urls[0].clone())
            .urls(publisher_urls)
            .name("Pub")
            .backoff(backoff),
    );
    let b = guest(reader_url, "Reader");
    let name = unique(how);
    let ra = a.join(&name).await.unwrap();
    let rb = b.join(&name).await.unwrap();
    let (mine, theirs) = (Recorder::new(&ra), Recorder::new(&rb));
    assert_eq!(ra.publish(&Chat { n: 1 }).await.unwrap().offset, Some(1));
    let sid = a.session_id();
    control(&format!("ackproxy/{how}")).await;
    let p = ra.publish(&Chat { n: 2 });
    let cid = p.cid().unwrap().to_owned();
    let ack = p.await.unwrap();
    assert_eq!(ack.offset, Some(2), "the offset it was stored at");
    if how == "drop" {
        assert_ne!(a.session_id(), sid, "the link was closed and reopened");
    }
    assert_eq!(ra.publish(&Chat { n: 3 }).await.unwrap().offset, Some(3));
    until("3 messages at the reader", 5000, || theirs.ns().len() >= 3).await;
    until("3 messages at the publisher", 5000, || mine.ns().len() >= 3).await;
    sleep(300).await;
    assert_eq!(theirs.ns(), [1, 2, 3], "the reader sees it once");
    assert_eq!(mine.ns(), [1, 2, 3], "the publisher sees it once");
    assert_eq!(theirs.messages()[1].cid.as_deref(), Some(cid.as_str()));
    assert_eq!(a.pending(), 0);
    a.close();
    b.close();
}

/// The ack is lost with the link (the proxy drops it and closes): after the
/// reconnect and re-join the SDK sends the publish again with its cid, and
/// the server answers with the first ack instead of storing it again.
#[wasm_bindgen_test]
async fn ack_lost_with_the_link_resolves_once_with_the_stored_offset() {
    one_publish_through_a_lost_ack(vec![ACK_PROXY_URL.to_owned()], URL, "drop").await;
}

/// `outcome_unknown` (here made by the proxy from the real ack): the SDK
/// sends the publish again with the same cid at once.
#[wasm_bindgen_test]
async fn outcome_unknown_is_retried_with_the_same_cid() {
    one_publish_through_a_lost_ack(vec![ACK_PROXY_URL.to_owned()], URL, "unknown").await;
}

/// Two nodes on one Redis: the publish is stored through node 1, its ack
/// lost with the link; the client fails over to node 2, which finds the
/// cid in Redis and answers with the first ack.
#[wasm_bindgen_test]
async fn redis_node_switch_keeps_a_publish_exactly_once() {
    let urls = vec![NODE1_ACK_PROXY_URL.to_owned(), NODE2_URL.to_owned()];
    one_publish_through_a_lost_ack(urls, NODE2_URL, "drop").await;
}

#[wasm_bindgen_test]
async fn signals_reach_the_members_and_are_never_stored() {
    let (a, b) = (guest(URL, "Typist"), guest(URL, "Watcher"));
    let name = unique("signal");
    let ra = a.join(&name).await.unwrap();
    let rb = b.join(&name).await.unwrap();
    let rec = Recorder::new(&rb);
    let me = a.me().unwrap();
    ra.signal(&serde_json_typing(true)).unwrap();
    until("signal at B", 5000, || {
        rec.events
            .borrow()
            .iter()
            .any(|e| matches!(e, RoomEvent::Signal { .. }))
    })
    .await;
    let (from, payload) = rec
        .events
        .borrow()
        .iter()
        .find_map(|e| match e {
            RoomEvent::Signal { from, payload } => Some((from.clone(), payload.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(from.id, me.id);
    assert_eq!(payload.get::<Typing>().unwrap(), serde_json_typing(true));
    assert!(rec.messages().is_empty(), "a signal is no message");
    // Not stored: no offset taken, nothing for a later joiner.
    assert_eq!(ra.publish(&Chat { n: 1 }).await.unwrap().offset, Some(1));
    let c = guest(URL, "Later");
    let rc = c.join(&name).await.unwrap();
    let later = Recorder::new(&rc);
    sleep(300).await;
    assert!(!later
        .events
        .borrow()
        .iter()
        .any(|e| matches!(e, RoomEvent::Signal { .. })));
    assert_eq!(rc.recent().len(), 1);
    // Only while joined: a signal is not queued.
    let other = a.room(&unique("notyet")).unwrap();
    assert_eq!(other.signal(&Chat { n: 0 }).unwrap_err(), Error::NotJoined);
    for c in [a, b, c] {
        c.close();
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Typing {
    typing: bool,
}

fn serde_json_typing(typing: bool) -> Typing {
    Typing { typing }
}

#[wasm_bindgen_test]
async fn history_pages_back_to_the_beginning() {
    let a = guest(URL, "Writer");
    let name = unique("paging");
    let ra = a.join(&name).await.unwrap();
    let futs: Vec<_> = (1..=25).map(|n| ra.publish(&Chat { n })).collect();
    for f in futs {
        f.await.unwrap();
    }
    let b = guest(URL, "Scroller");
    let rb = b.join(&name).await.unwrap();
    let rec = Recorder::new(&rb);
    let offsets =
        |p: &confab_client::HistoryPage| p.messages.iter().map(|m| m.offset).collect::<Vec<_>>();
    let newest = rb.history(None, Some(10)).await.unwrap();
    assert_eq!(offsets(&newest), (16..=25).collect::<Vec<_>>());
    assert!(newest.more);
    let page = rb.history(Some(16), Some(10)).await.unwrap();
    assert_eq!(offsets(&page), (6..=15).collect::<Vec<_>>());
    assert!(page.more);
    assert_eq!(page.messages[0].payload.get::<Chat>().unwrap().n, 6);
    let first = rb.history(Some(6), Some(10)).await.unwrap();
    assert_eq!(offsets(&first), (1..=5).collect::<Vec<_>>());
    assert!(!first.more, "offset 1 is the beginning of the conversation");
    assert!(
        rec.messages().is_empty(),
        "pages are not emitted as messages"
    );
    // A room never joined is refused locally; a page of a DM of others by the server.
    let dm = b.room("dm:g-x:g-y").unwrap();
    assert!(matches!(
        dm.history(None, None).await.unwrap_err(),
        Error::Server { .. } | Error::NotJoined
    ));
    a.close();
    b.close();
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Read {
    read: u64,
}

fn state_of(members: &[confab_client::Member], id: &str) -> Option<Read> {
    members
        .iter()
        .find(|m| m.id == id)
        .and_then(|m| m.state.as_ref())
        .map(|s| s.get::<Read>().unwrap())
}

#[wasm_bindgen_test]
async fn member_state_is_seen_by_everyone_and_by_a_second_device() {
    let (a, b) = (guest(URL, "Reader"), guest(URL, "Other"));
    let name = unique("receipts");
    let ra = a.join(&name).await.unwrap();
    let rb = b.join(&name).await.unwrap();
    let rec = Recorder::new(&rb);
    let aid = a.me().unwrap().id;
    ra.set_member_state(&Read { read: 3 }).await.unwrap();
    until("state at B", 5000, || {
        state_of(&rb.members(), &aid) == Some(Read { read: 3 })
    })
    .await;
    assert!(rec.events.borrow().iter().any(|e| matches!(e,
        RoomEvent::Presence { updates, .. } if state_of(updates, &aid) == Some(Read { read: 3 }))));
    // The same user on a second device (same guest), after the first left: it stays.
    let token = a.guest_token().unwrap();
    a.close();
    let a2 = Client::connect(ClientOptions::new(URL).name("Reader").guest_token(token));
    let ra2 = a2.join(&name).await.unwrap();
    assert_eq!(a2.me().unwrap().id, aid);
    assert_eq!(state_of(&ra2.members(), &aid), Some(Read { read: 3 }));
    // null clears it.
    ra2.set_member_state(&()).await.unwrap();
    until("cleared at B", 5000, || {
        state_of(&rb.members(), &aid).is_none()
    })
    .await;
    a2.close();
    b.close();
}

/// A token that lives 4 s: the SDK asks the provider again at 80% of it and
/// sends `refresh`, so the connection outlives the first token (the server
/// closes a connection whose token expired with 4003 when it next hears
/// from it: here the 500 ms heartbeat and a publish).
#[wasm_bindgen_test]
async fn token_is_refreshed_before_it_expires() {
    let calls = Rc::new(Cell::new(0u32));
    let c2 = calls.clone();
    let c = Client::connect(
        ClientOptions::new(URL)
            .heartbeat(Duration::from_millis(500))
            .token_provider(move || {
                c2.set(c2.get() + 1);
                async { Some(fresh_token("alice", "4s").await) }
            }),
    );
    welcomed(&c).await;
    let (events, _sub) = client_events(&c);
    let sid = c.session_id();
    let room = c.join(&unique("refresh")).await.unwrap();
    sleep(7000).await;
    let published = room.publish(&Chat { n: 1 }).await;
    // A copy: the listener keeps pushing while the assertions run. Closed
    // first, so a failure leaves no client (and its timers) behind for the
    // tests that count live handles.
    let events = events.borrow().clone();
    let same_session = c.session_id() == sid;
    c.close();
    published.unwrap();
    assert!(
        calls.get() >= 2,
        "refreshed ({} provider calls)",
        calls.get()
    );
    assert!(
        !events.iter().any(|e| matches!(e, ClientEvent::Error(_))),
        "a refresh was refused: {events:?}"
    );
    assert!(
        !events.iter().any(|e| matches!(
            e,
            ClientEvent::StateChanged(ConnectionState::Reconnecting { .. })
        )),
        "no reconnect: {events:?}"
    );
    assert!(same_session, "the same connection");
}

/// The application removes a user from a room (server API): the room gets
/// a `forbidden` naming it: `Errored`, a room `Error` event, not re-joined
/// on reconnect. Disconnecting the user (close 4004) is final: no reconnect.
#[wasm_bindgen_test]
async fn removed_from_a_room_and_disconnected_by_the_application() {
    let (a, b) = (guest(URL, "Removed"), guest(URL, "Stays"));
    let name = unique("evict");
    let ra = a.join(&name).await.unwrap();
    let rb = b.join(&name).await.unwrap();
    let rec = Recorder::new(&ra);
    let aid = a.me().unwrap().id;
    control(&format!(
        "api/main/rooms/{name}/members/{aid}?method=DELETE"
    ))
    .await;
    until("removed", 5000, || ra.state() == RoomState::Errored).await;
    assert_eq!(ra.error().map(|e| e.code()), Some("forbidden"));
    assert!(rec
        .events
        .borrow()
        .iter()
        .any(|e| matches!(e, RoomEvent::Error(_))));
    until("gone for the others", 5000, || {
        !rb.members().iter().any(|m| m.id == aid)
    })
    .await;
    reconnect_and_wait(&a).await;
    sleep(300).await;
    assert_eq!(
        ra.state(),
        RoomState::Errored,
        "not re-joined after the reconnect"
    );
    assert!(!rb.members().iter().any(|m| m.id == aid));

    control(&format!("api/main/users/{aid}/disconnect")).await;
    until("closed", 5000, || {
        matches!(a.state(), ConnectionState::Closed { .. })
    })
    .await;
    assert!(
        matches!(a.state(), ConnectionState::Closed { code: 4004, .. }),
        "{:?}",
        a.state()
    );
    sleep(1000).await;
    assert!(
        matches!(a.state(), ConnectionState::Closed { code: 4004, .. }),
        "no reconnect"
    );
    b.close();
}
