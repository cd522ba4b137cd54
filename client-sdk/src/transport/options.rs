//! [`SocketOptions`]: what a [`crate::Socket`] connects to and how, and the
//! URL of each (re)connect.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use crate::transport::backoff::Backoff;
use crate::transport::buffer::OverflowPolicy;

/// Async function returning a token for the next (re)connect, or `None`.
pub type TokenProvider = Rc<dyn Fn() -> Pin<Box<dyn Future<Output = Option<String>>>>>;

/// Options of a [`crate::Socket`].
///
/// ```
/// use confab_client::SocketOptions;
/// let o = SocketOptions::new("ws://127.0.0.1:8000/ws/chat/lobby/").send_buffer(50);
/// assert_eq!(o.urls_list()[0], "ws://127.0.0.1:8000/ws/chat/lobby/");
/// ```
#[derive(Clone)]
pub struct SocketOptions {
    pub(crate) urls: Vec<String>,
    pub(crate) protocols: Vec<String>,
    pub(crate) backoff: Backoff,
    pub(crate) send_buffer: usize,
    pub(crate) overflow: OverflowPolicy,
    pub(crate) read_buffer: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) token_provider: Option<TokenProvider>,
    pub(crate) token_param: String,
    /// Query parameters left out when the token provider supplied a token
    /// (the client's `guest`: a signed-in user is not a guest).
    pub(crate) guest_only: Vec<&'static str>,
}

impl std::fmt::Debug for SocketOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketOptions")
            .field("urls", &self.urls)
            .field("backoff", &self.backoff)
            .field("send_buffer", &self.send_buffer)
            .field("read_buffer", &self.read_buffer)
            .finish_non_exhaustive()
    }
}

impl SocketOptions {
    /// Options for `url` (`ws://` or `wss://`) with the defaults: backoff
    /// 250 ms–10 s with full jitter forever, offline send buffer of 100
    /// frames ([`OverflowPolicy::RejectNew`]), read buffer of 10 000 messages.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            urls: vec![url.into()],
            protocols: Vec::new(),
            backoff: Backoff::default(),
            send_buffer: 100,
            overflow: OverflowPolicy::RejectNew,
            read_buffer: 10_000,
            connect_timeout: Duration::from_secs(10),
            query: Vec::new(),
            token_provider: None,
            token_param: "token".to_owned(),
            guest_only: Vec::new(),
        }
    }

    /// Several URLs tried in turn (failover); replaces the URL given to `new`.
    pub fn urls(mut self, urls: Vec<String>) -> Self {
        if !urls.is_empty() {
            self.urls = urls;
        }
        self
    }

    #[cfg_attr(not(feature = "js"), allow(dead_code))] // the JS options
    pub(crate) fn set_urls(&mut self, urls: Vec<String>) {
        self.urls = urls;
    }

    #[cfg_attr(not(feature = "js"), allow(dead_code))] // the JS options
    pub(crate) fn set_query_mut(&mut self, key: &str, value: Option<&str>) {
        set_param(&mut self.query, key, value);
    }

    /// The URLs, in failover order.
    pub fn urls_list(&self) -> &[String] {
        &self.urls
    }

    /// WebSocket subprotocols to offer.
    pub fn protocols(mut self, protocols: Vec<String>) -> Self {
        self.protocols = protocols;
        self
    }

    /// Reconnect policy.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Stop after this many failed attempts in a row (default: never).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.backoff.max_attempts = Some(n);
        self
    }

    /// Capacity of the offline send buffer (frames sent while not open).
    pub fn send_buffer(mut self, capacity: usize) -> Self {
        self.send_buffer = capacity;
        self
    }

    /// What a full send buffer does (default [`OverflowPolicy::RejectNew`]).
    pub fn overflow(mut self, policy: OverflowPolicy) -> Self {
        self.overflow = policy;
        self
    }

    /// How many unread messages `read`/`wait`/the stream keep (oldest are
    /// dropped beyond it). 0 disables the read queue (use `on_message`).
    pub fn read_buffer(mut self, capacity: usize) -> Self {
        self.read_buffer = capacity;
        self
    }

    /// Adds `key=value` to the query string of every connection.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Sets query parameter `key` for the following (re)connects, replacing
    /// any earlier value; `None` removes it.
    ///
    /// ```
    /// use confab_client::SocketOptions;
    /// let o = SocketOptions::new("ws://h/ws").query("name", "A").set_query("name", Some("B"));
    /// assert_eq!(o.query_value("name"), Some("B"));
    /// assert_eq!(o.set_query("name", None).query_value("name"), None);
    /// ```
    pub fn set_query(mut self, key: &str, value: Option<&str>) -> Self {
        set_param(&mut self.query, key, value);
        self
    }

    pub(crate) fn guest_only(mut self, key: &'static str) -> Self {
        self.guest_only.push(key);
        self
    }

    /// The value of query parameter `key`, if set.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Called before every (re)connect; a `Some(token)` is sent as the
    /// `token` query parameter (browsers cannot set headers on WebSockets).
    pub fn token_provider<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = Option<String>> + 'static,
    {
        self.token_provider = Some(Rc::new(move || Box::pin(f())));
        self
    }

    #[doc(hidden)]
    pub fn token_provider_rc(mut self, f: TokenProvider) -> Self {
        self.token_provider = Some(f);
        self
    }

    /// Gives up on a handshake that has not completed after this long
    /// (default 10 s) and retries with backoff, so a black-holed address
    /// cannot hang the socket for minutes.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Query parameter that carries the token (default `token`).
    pub fn token_param(mut self, name: impl Into<String>) -> Self {
        self.token_param = name.into();
        self
    }
}

pub(crate) fn set_param(query: &mut Vec<(String, String)>, key: &str, value: Option<&str>) {
    query.retain(|(k, _)| k != key);
    if let Some(v) = value {
        query.push((key.to_owned(), v.to_owned()));
    }
}

/// `base` with the query parameters (and the token, if any) appended.
pub(crate) fn build_url(opts: &SocketOptions, base: &str, token: Option<&str>) -> String {
    let mut url = base.to_owned();
    // Byte search and `push_str`: no char searcher / UTF-8 encoder in the wasm.
    let mut sep = if url.bytes().any(|b| b == b'?') {
        "&"
    } else {
        "?"
    };
    for (k, v) in opts
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .filter(|(k, _)| token.is_none() || !opts.guest_only.contains(k))
        .chain(token.map(|t| (opts.token_param.as_str(), t)))
    {
        url.push_str(sep);
        url.push_str(&String::from(js_sys::encode_uri_component(k)));
        url.push('=');
        url.push_str(&String::from(js_sys::encode_uri_component(v)));
        sep = "&";
    }
    url
}
