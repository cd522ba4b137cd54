//! [`Client`]: a handle on a session (the Confab protocol over a
//! [`Socket`], in [`crate::session`]), and its [`ClientOptions`].
//! Its rooms are in [`crate::room`] (`Client::room`, `join`, `rooms`).

use std::future::Future;
use std::rc::{Rc, Weak};
use std::time::Duration;

use confab_protocol::Ack;
use serde::Serialize;

use crate::events::Subscription;
use crate::session::{AckFuture, ClientEvent, Config, Session};
use crate::state::ConnectionState;
use crate::transport::buffer::OverflowPolicy;
use crate::{Backoff, Member, Payload, Result, Socket, SocketOptions, TokenProvider};

/// Options of a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use confab_client::ClientOptions;
/// let opts = ClientOptions::new("ws://127.0.0.1:8000/ws")
///     .name("Alice")
///     .ack_timeout(Duration::from_secs(5))
///     .send_buffer(50);
/// assert_eq!(opts.get_ack_timeout(), Duration::from_secs(5));
/// ```
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub(crate) socket: SocketOptions,
    pub(crate) session: Config,
}

impl ClientOptions {
    /// Options for the native endpoint `url` (e.g. `ws://host/ws`). Defaults:
    /// ack timeout 10 s, offline buffer of 100 requests
    /// ([`OverflowPolicy::RejectNew`]), heartbeat as the server announces,
    /// backoff 250 ms–10 s, 1000 messages of history kept per room.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            socket: SocketOptions::new(url)
                .read_buffer(0)
                .send_buffer(0)
                .guest_only("guest"),
            session: Config {
                ack_timeout: Duration::from_secs(10),
                send_buffer: 100,
                overflow: OverflowPolicy::RejectNew,
                heartbeat: None,
                history_limit: 1000,
                token_provider: None,
            },
        }
    }

    /// Several endpoint URLs tried in turn.
    pub fn urls(mut self, urls: Vec<String>) -> Self {
        self.socket = self.socket.urls(urls);
        self
    }

    /// Guest display name for the first connection (sent as `?name=`).
    /// Reconnects use the current name instead: the one the server
    /// confirmed in `welcome` or the last successful [`Client::rename`].
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.socket = self.socket.set_query("name", Some(&name.into()));
        self
    }

    /// Starts as the guest a saved [`Client::guest_token`] stands for
    /// (sent as `?guest=`), e.g. from `localStorage`, so a reloaded page is
    /// the same person. An invalid or expired token is not an error: the
    /// server then makes a new guest.
    pub fn guest_token(mut self, token: impl Into<String>) -> Self {
        self.socket = self.socket.set_query("guest", Some(&token.into()));
        self
    }

    /// Called before every (re)connect; its token is sent as `?token=`
    /// (and `?guest=` is then left out: a signed-in user is no guest).
    /// Also called before the token of a live connection expires: at 80%
    /// of its lifetime (from `welcome`'s `expires`, then each refresh's),
    /// the new token is sent as `refresh`, so the connection stays up.
    pub fn token_provider<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = Option<String>> + 'static,
    {
        let provider: TokenProvider = Rc::new(move || Box::pin(f()));
        self.socket = self.socket.token_provider_rc(provider.clone());
        self.session.token_provider = Some(provider);
        self
    }

    /// How long a publish/direct/rename/join may wait for its reply,
    /// including time spent queued offline (default 10 s).
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.session.ack_timeout = timeout;
        self
    }

    /// The configured ack timeout.
    pub fn get_ack_timeout(&self) -> Duration {
        self.session.ack_timeout
    }

    /// Requests that may wait offline (default 100).
    pub fn send_buffer(mut self, capacity: usize) -> Self {
        self.session.send_buffer = capacity;
        self
    }

    /// What a full offline buffer does (default [`OverflowPolicy::RejectNew`]).
    pub fn overflow(mut self, policy: OverflowPolicy) -> Self {
        self.session.overflow = policy;
        self
    }

    /// Reconnect policy.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.socket = self.socket.backoff(backoff);
        self
    }

    /// Stop after this many failed connection attempts in a row.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.socket = self.socket.max_attempts(n);
        self
    }

    /// Gives up on a WebSocket handshake after this long (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.socket = self.socket.connect_timeout(timeout);
        self
    }

    /// Ping at least this often (the server's `heartbeat_ms` is used when
    /// it is shorter). A link silent for twice this long is dropped and
    /// reconnected.
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.session.heartbeat = Some(every);
        self
    }

    /// Messages kept per room for [`crate::Room::recent`] (default 1000).
    pub fn history_limit(mut self, n: usize) -> Self {
        self.session.history_limit = n;
        self
    }
}

/// Closes the connection when the last `Client`/`Room` handle is dropped.
struct Owner(Weak<Session>);

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(s) = self.0.upgrade() {
            s.close();
        }
    }
}

/// A Confab connection: rooms, presence, direct messages, acks, resume.
///
/// `Client` is a cheap `Clone` handle (`Rc` inside, `!Send`). It connects in
/// the background at once and reconnects until [`Client::close`]; after each
/// reconnect every room is re-joined from its last seen `{epoch, offset}`,
/// so missed messages arrive exactly once, in order (or a
/// [`crate::RoomEvent::Gap`] says the server could not recover them).
///
/// ```no_run
/// use confab_client::{Client, ClientOptions, RoomEvent};
/// # async fn run() -> confab_client::Result<()> {
/// let client = Client::connect(ClientOptions::new("ws://127.0.0.1:8000/ws").name("Alice"));
/// let room = client.join("lobby").await?;
/// let _sub = room.on_event(|ev| {
///     if let RoomEvent::Message(m) = ev {
///         let _ = m.payload.to_json();
///     }
/// });
/// #[derive(serde::Serialize)]
/// struct Chat<'a> { message: &'a str }
/// let ack = room.publish(&Chat { message: "hi" }).await?;
/// let _ = ack.offset;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) session: Rc<Session>,
    _owner: Rc<Owner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.state())
            .field("me", &self.me())
            .finish()
    }
}

impl Client {
    /// Starts connecting (in the background) and returns at once.
    pub fn connect(mut opts: ClientOptions) -> Client {
        // The socket takes its options (moved, not cloned: less wasm); the
        // session keeps only its own settings.
        let socket_opts = std::mem::replace(&mut opts.socket, SocketOptions::new(String::new()));
        let socket = Socket::open(socket_opts);
        let session = Session::start(socket, opts.session);
        Client {
            _owner: Rc::new(Owner(Rc::downgrade(&session))),
            session,
        }
    }

    /// Current connection state.
    pub fn state(&self) -> ConnectionState {
        self.session.socket().state()
    }

    /// Who this connection is (from the last `welcome`), `None` before it.
    pub fn me(&self) -> Option<Member> {
        self.session.me()
    }

    /// The credential of this guest identity from the latest `welcome`
    /// (`None` before it and for token users). The client sends it as
    /// `?guest=` on every reconnect, so it stays the same guest id; save it
    /// (e.g. in `localStorage`) and pass it to [`ClientOptions::guest_token`]
    /// to be the same guest after a page reload.
    pub fn guest_token(&self) -> Option<String> {
        self.session.guest_token()
    }

    /// The server's id of the current connection (from `welcome`).
    pub fn session_id(&self) -> Option<String> {
        self.session.session_id()
    }

    /// Calls `f` on every [`ClientEvent`] until the subscription is dropped.
    pub fn on_event(&self, f: impl Fn(&ClientEvent) + 'static) -> Subscription {
        self.session.subscribe(f)
    }

    /// Sends a direct message to user `to`; resolves with its ack (the
    /// message is stored in [`confab_protocol::dm_room`]`(me, to)`).
    pub fn direct<T: Serialize + ?Sized>(&self, to: &str, payload: &T) -> AckFuture {
        match Payload::new(payload) {
            Ok(p) => self.direct_payload(to, p),
            Err(e) => AckFuture::failed(e),
        }
    }

    /// [`Client::direct`] with a ready [`Payload`].
    pub fn direct_payload(&self, to: &str, payload: Payload) -> AckFuture {
        self.session.direct(to, payload)
    }

    /// Changes the display name; every room gets a presence update. Once
    /// acknowledged it is also the name later reconnects introduce this
    /// client with (`?name=`).
    pub fn rename(&self, name: &str) -> impl Future<Output = Result<Ack>> + 'static {
        self.session.rename(name)
    }

    /// Closes for good: no reconnect; outstanding requests fail with
    /// [`crate::Error::Closed`]; rooms become [`crate::RoomState::Left`].
    pub fn close(&self) {
        self.session.close();
    }

    /// Requests waiting for their ack (queued offline or in flight).
    pub fn pending(&self) -> usize {
        self.session.pending()
    }

    /// The underlying reconnecting socket.
    pub fn socket(&self) -> Socket {
        self.session.socket()
    }
}
