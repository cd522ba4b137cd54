//! Server configuration: every flag also reads a `CONFAB_*` environment
//! variable, and can be set in the `--config` file (TOML: the flag's long
//! name with `_` or `-`, e.g. `max_rooms = 50`, lists for repeatable flags)
//! beside the room `[policy]`. Precedence: command line, then environment,
//! then the file, then the defaults. See docs/PERMISSIONS.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, ValueEnum};

use crate::backend::HookSettings;
use crate::policy::Policy;

/// Whether guests (connections without a token) are let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Guests {
    /// Guests connect and get what the policy gives guests (the default).
    #[default]
    On,
    /// Every connection needs a user token (401 without one).
    Off,
}

/// Settings of a running server (`confab-server serve --help` lists them all).
///
/// ```
/// use clap::Parser;
/// #[derive(Parser)]
/// struct Cli { #[command(flatten)] config: confab_server::Config }
/// let cli = Cli::parse_from(["confab-server", "--bind", "127.0.0.1:0"]);
/// assert_eq!(cli.config.max_message_bytes, 65536);
/// ```
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// A TOML file with any of these settings (`max_rooms = 50`) and the
    /// room permission `[policy]`. The command line and the environment
    /// win over the file.
    #[arg(long, env = "CONFAB_CONFIG")]
    pub config: Option<PathBuf>,

    /// The room policy (the `[policy]` table of `--config`; open when
    /// there is none).
    #[arg(skip)]
    pub policy: Arc<Policy>,

    /// The backend hooks (the `[hooks]` table of `--config`; none when
    /// there is none). See docs/BACKEND.md.
    #[arg(skip)]
    pub hooks: Option<HookSettings>,

    /// `off`: every WebSocket needs a user token (401 without one).
    #[arg(long, env = "CONFAB_GUESTS", value_enum, default_value_t = Guests::On)]
    pub guests: Guests,

    /// Address to listen on.
    #[arg(long, env = "CONFAB_BIND", default_value = "127.0.0.1:8000")]
    pub bind: SocketAddr,

    /// Directory of the built demo (trunk's `dist/`), served at `/` with a
    /// fallback to its index.html. A missing directory serves a small page
    /// saying the demo is not built.
    #[arg(long, env = "CONFAB_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,

    /// Extra browser origins allowed to open WebSockets, as `host[:port]` or
    /// full `scheme://host[:port]`, comma separated or repeated. The server's
    /// own host (the request's Host header) is always allowed; requests
    /// without an Origin header (non-browser clients) are always allowed.
    #[arg(long, env = "CONFAB_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Host names this server answers to (Django's `ALLOWED_HOSTS`): a
    /// request whose `Host` is not one of them is refused with 400 on every
    /// route, so a page whose DNS name was rebound to this address cannot
    /// talk to it. Entries: a name or address (`chat.example.com`,
    /// `127.0.0.1`, `[::1]`), `.example.com` for the domain and every
    /// subdomain, or `*` for any. Comma separated or repeated. Default:
    /// `localhost`, `127.0.0.1`, `[::1]` and the `--bind` address.
    #[arg(long, env = "CONFAB_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Open WebSockets allowed from one client address; one more is
    /// refused with 429 at the handshake. 0: no limit.
    #[arg(long, env = "CONFAB_MAX_CONNECTIONS_PER_IP", default_value_t = 1024)]
    pub max_connections_per_ip: u32,

    /// Open WebSockets allowed in all; one more is refused with 503 at the
    /// handshake. 0: no limit.
    #[arg(long, env = "CONFAB_MAX_CONNECTIONS", default_value_t = 0)]
    pub max_connections: u32,

    /// Proxies (IP addresses, comma separated or repeated) whose
    /// `X-Forwarded-For` is believed: for a connection from one of them,
    /// the client address (for `--max-connections-per-ip`) is the last
    /// address in that header not itself a trusted proxy. Unset: the
    /// header is ignored and the peer address counts.
    #[arg(long, env = "CONFAB_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// Bearer token `/metrics` requires (`Authorization: Bearer <token>`).
    /// Unset: `/metrics` is open to whoever can reach it (see
    /// `--metrics-bind` to serve it on an internal address instead).
    #[arg(long, env = "CONFAB_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Serve `/metrics` on this address only (e.g. `127.0.0.1:9100`, for
    /// Prometheus on an internal network), not on `--bind`.
    #[arg(long, env = "CONFAB_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Where webhook events are posted (`POST {"events": [...]}`, signed
    /// with `--backend-secret`; see docs/BACKEND.md). Unset: no webhooks.
    #[arg(long, env = "CONFAB_WEBHOOK_URL")]
    pub webhook_url: Option<String>,

    /// The secret that signs requests to the application's backend
    /// (webhooks and hooks): `X-Confab-Signature: v1=<hex HMAC-SHA256 of
    /// "<X-Confab-Timestamp>.<body>">`.
    #[arg(long, env = "CONFAB_BACKEND_SECRET", hide_env_values = true)]
    pub backend_secret: Option<String>,

    /// The webhook events to send, comma separated: user_online,
    /// user_offline, member_joined, member_left, room_occupied,
    /// room_vacated, message_stored.
    #[arg(
        long,
        env = "CONFAB_WEBHOOK_EVENTS",
        value_delimiter = ',',
        default_value = "user_online,user_offline,member_joined,member_left,room_occupied,room_vacated"
    )]
    pub webhook_events: Vec<String>,

    /// Rooms whose stored messages are sent (`message_stored`): exact names
    /// or `prefix*`, comma separated (and `message_stored` in
    /// `--webhook-events`).
    #[arg(long, env = "CONFAB_WEBHOOK_MESSAGE_ROOMS", value_delimiter = ',')]
    pub webhook_message_rooms: Vec<String>,

    /// Most webhook events waiting for delivery; past it new ones are
    /// dropped (counted in `confab_webhook_dropped_total`).
    #[arg(long, env = "CONFAB_WEBHOOK_QUEUE", default_value_t = 10_000)]
    pub webhook_queue: usize,

    /// Milliseconds to wait for the backend's answer to a webhook.
    #[arg(long, env = "CONFAB_WEBHOOK_TIMEOUT_MS", default_value_t = 5_000)]
    pub webhook_timeout_ms: u64,

    /// Bearer key for `POST /api/rooms/{room}/messages`. Unset: that
    /// endpoint answers 503.
    #[arg(long, env = "CONFAB_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// HMAC secret for user tokens (HS256/384/512 JWTs). Repeat (or
    /// comma-separate) to rotate keys: the first signs new tokens, every
    /// one verifies. With no secret, public key or JWKS URL, only guests
    /// can connect and any token is refused with 401.
    #[arg(
        long,
        env = "CONFAB_TOKEN_SECRET",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub token_secret: Vec<String>,

    /// PEM public key file for RS256/384/512, PS256/384/512 (RSA),
    /// ES256/ES384 (EC) or EdDSA (Ed25519) user tokens. Repeat (or
    /// comma-separate) to accept several keys (rotation).
    #[arg(long, env = "CONFAB_TOKEN_PUBLIC_KEY", value_delimiter = ',')]
    pub token_public_key: Vec<PathBuf>,

    /// URL of a JWKS (an identity provider's public keys, e.g.
    /// `https://idp.example.com/.well-known/jwks.json`) for RS/PS/ES/EdDSA
    /// user tokens: cached for `--jwks-cache`, refetched when a token names
    /// an unknown `kid`, at most once per `--jwks-min-refetch`.
    #[arg(long, env = "CONFAB_JWKS_URL")]
    pub jwks_url: Option<String>,

    /// How long fetched JWKS keys are used before they are fetched again.
    #[arg(
        long = "jwks-cache",
        env = "CONFAB_JWKS_CACHE",
        default_value = "10m",
        value_parser = crate::auth::parse_ttl
    )]
    pub jwks_cache_secs: u64,

    /// Least time between two JWKS fetches (an unknown `kid` does not
    /// refetch sooner).
    #[arg(
        long = "jwks-min-refetch",
        env = "CONFAB_JWKS_MIN_REFETCH",
        default_value = "10s",
        value_parser = crate::auth::parse_ttl
    )]
    pub jwks_min_refetch_secs: u64,

    /// Accepted `iss` of user tokens (repeat or comma-separate). Set: a
    /// token without one of them is refused. Unset: `iss` is not checked.
    #[arg(long, env = "CONFAB_TOKEN_ISSUER", value_delimiter = ',')]
    pub token_issuer: Vec<String>,

    /// Accepted `aud` of user tokens (repeat or comma-separate). Set: a
    /// token naming none of them is refused. Unset: `aud` is not checked.
    #[arg(long, env = "CONFAB_TOKEN_AUDIENCE", value_delimiter = ',')]
    pub token_audience: Vec<String>,

    /// Clock skew allowed for a user token's `nbf` and `iat` (a token
    /// minted by a backend whose clock is a little ahead). `exp` gets
    /// none: an expired token is refused.
    #[arg(
        long = "token-leeway",
        env = "CONFAB_TOKEN_LEEWAY",
        default_value = "30s",
        value_parser = crate::auth::parse_ttl
    )]
    pub token_leeway_secs: u64,

    /// Longest a user token may still be valid for when it is presented
    /// (its `exp` minus now), e.g. `30d`, `12h`; a token valid for longer
    /// is refused with 401, so a leaked token cannot work forever.
    #[arg(
        long = "max-token-lifetime",
        env = "CONFAB_MAX_TOKEN_LIFETIME",
        default_value = "30d",
        value_parser = crate::auth::parse_ttl
    )]
    pub max_token_lifetime_secs: u64,

    /// Largest accepted WebSocket message in bytes; larger closes with 1009.
    #[arg(long, env = "CONFAB_MAX_MESSAGE_BYTES", default_value_t = 65536)]
    pub max_message_bytes: usize,

    /// Sustained inbound frames per second per connection.
    #[arg(long, env = "CONFAB_RATE_PER_SEC", default_value_t = 50)]
    pub rate_per_sec: u32,

    /// Inbound burst allowed above the sustained rate (token bucket size).
    #[arg(long, env = "CONFAB_RATE_BURST", default_value_t = 100)]
    pub rate_burst: u32,

    /// Rate-limited frames in a row after which the connection is closed
    /// with 1008 (policy violation).
    #[arg(long, env = "CONFAB_RATE_ABUSE_LIMIT", default_value_t = 100)]
    pub rate_abuse_limit: u32,

    /// Rooms one connection may be joined to at once (`too_many_rooms`).
    #[arg(long, env = "CONFAB_MAX_ROOMS", default_value_t = 100)]
    pub max_rooms: u32,

    /// Outbound frames queued per connection, and events a connection may
    /// fall behind in one of its rooms; past either it is closed with 4001
    /// (slow consumer) and may resume from history.
    #[arg(long, env = "CONFAB_OUTBOUND_QUEUE", default_value_t = 1024)]
    pub outbound_queue: usize,

    /// Messages kept per room for resume and join history.
    #[arg(long, env = "CONFAB_HISTORY_SIZE", default_value_t = 1000)]
    pub history_size: usize,

    /// Drop messages older than this (`90s`, `30m`, `24h`, `7d`) from every
    /// room's history, in every layer; unset: kept until `--history-size`
    /// pushes them out. (A room pattern in the policy file may set its own.)
    #[arg(long = "history-ttl", env = "CONFAB_HISTORY_TTL", value_parser = crate::auth::parse_ttl)]
    pub history_ttl_secs: Option<u64>,

    /// How long a client message id (`cid`) is remembered for exactly-once
    /// publishing, at least: a retried publish within it is not stored
    /// twice. Ids of messages still in the history are kept longer.
    #[arg(
        long = "dedup-window",
        env = "CONFAB_DEDUP_WINDOW",
        default_value = "5m",
        value_parser = crate::auth::parse_ttl
    )]
    pub dedup_window_secs: u64,

    /// Ephemeral signals (`signal`, e.g. typing) per second per connection,
    /// sustained, on top of the frame rate; over it they get `rate_limited`.
    #[arg(long, env = "CONFAB_SIGNAL_RATE_PER_SEC", default_value_t = 5)]
    pub signal_rate_per_sec: u32,

    /// Burst of signals allowed above the sustained rate.
    #[arg(long, env = "CONFAB_SIGNAL_BURST", default_value_t = 10)]
    pub signal_burst: u32,

    /// Largest member state (`state`, e.g. read receipts) in bytes of JSON.
    #[arg(long, env = "CONFAB_MAX_STATE_BYTES", default_value_t = 1024)]
    pub max_state_bytes: usize,

    /// Messages sent in a `joined` reply when there is nothing to resume.
    #[arg(long, env = "CONFAB_JOIN_HISTORY", default_value_t = 50)]
    pub join_history: usize,

    /// Most bytes of messages in one `joined` reply (the newest ones fit;
    /// at least one is sent). A resume whose missed messages need more is
    /// answered `recovered: false`, so a join cannot make the server build
    /// an unbounded reply.
    #[arg(long, env = "CONFAB_JOIN_HISTORY_BYTES", default_value_t = 256 * 1024)]
    pub join_history_bytes: usize,

    /// Most bytes queued for one connection (replies, direct frames), and
    /// most bytes a room's feed keeps for its slowest member; past either
    /// the connection is closed with 4001 (slow consumer). With
    /// `--outbound-queue` this bounds what a client that never reads can
    /// make the server hold.
    #[arg(long, env = "CONFAB_OUTBOUND_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub outbound_bytes: usize,

    /// Heartbeat interval in milliseconds: the server pings this often and
    /// closes a connection silent for twice as long with 4000.
    #[arg(long, env = "CONFAB_HEARTBEAT_MS", default_value_t = 25_000)]
    pub heartbeat_ms: u64,

    /// Length of the TCP accept queue (`listen(2)` backlog). After a restart
    /// every client reconnects at once; a short queue drops their SYNs and
    /// each dropped client waits a 1 s (then 3 s) retransmit. The kernel
    /// caps it at `net.core.somaxconn` (4096 on current Linux).
    #[arg(long, env = "CONFAB_LISTEN_BACKLOG", default_value_t = 4096)]
    pub listen_backlog: u32,

    /// Seconds to wait for sockets to close on SIGINT/SIGTERM before exiting.
    #[arg(long, env = "CONFAB_SHUTDOWN_GRACE_SECS", default_value_t = 5)]
    pub shutdown_grace_secs: u64,

    /// Seconds a client may take to send its HTTP request headers (also
    /// while idle on a kept-alive connection); slower ones are dropped
    /// (slowloris).
    #[arg(long, env = "CONFAB_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,

    /// Seconds a client may take to send a request body (the HTTP API);
    /// slower ones get 408 and the connection is closed.
    #[arg(long, env = "CONFAB_BODY_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub body_read_timeout_secs: u64,

    /// Enables `POST /debug/stall[/{session_id}]`, which makes connections
    /// stop answering (a simulated dead link) for client heartbeat tests.
    /// Never enable in production.
    #[arg(long, env = "CONFAB_DEBUG_ENDPOINTS", hide = true)]
    pub debug_endpoints: bool,

    /// Directory for durable room and DM history (an embedded redb file)
    /// and the guest-token key: a restarted server continues the same
    /// offsets and epoch, clients resume without a gap, and returning
    /// guests keep their ids. Created if missing. Not used with
    /// `--redis-url` or `--in-memory`.
    #[arg(long, env = "CONFAB_DATA_DIR", default_value = "confab-data")]
    pub data_dir: Option<PathBuf>,

    /// Keep history and the guest-token key in memory only: a restart
    /// forgets both (new epoch: clients are told `recovered: false`; guests
    /// get new ids). For tests and throwaway servers.
    #[arg(long, env = "CONFAB_IN_MEMORY", conflicts_with_all = ["redis_url", "data_dir"])]
    pub in_memory: bool,

    /// Redis URL (e.g. `redis://127.0.0.1:6379/0`, `rediss://` for TLS) of
    /// the channel layer shared by several server nodes: history in Redis
    /// Streams, presence and delivery across nodes. Repeat (or
    /// comma-separate) to shard rooms over several Redis servers (each room
    /// lives on one, chosen by a stable hash of its name; every node must
    /// list them in the same order). With `--redis-cluster`: seed nodes of
    /// one Redis Cluster; with `--redis-sentinel-service`: the Sentinels.
    /// Unreachable at start: exit 1. See deploy/README.md.
    #[arg(
        long,
        env = "CONFAB_REDIS_URL",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub redis_url: Vec<String>,

    /// The `--redis-url` values are seed nodes of one Redis Cluster: keys of
    /// a room share a hash tag, rooms fan out by sharded pub/sub.
    #[arg(long, env = "CONFAB_REDIS_CLUSTER")]
    pub redis_cluster: bool,

    /// Master names Redis Sentinel monitors (repeat or comma-separate): the
    /// `--redis-url` values are then the Sentinels, and each name is one
    /// shard whose master is discovered, and re-discovered on failover.
    #[arg(long, env = "CONFAB_REDIS_SENTINEL_SERVICE", value_delimiter = ',')]
    pub redis_sentinel_service: Vec<String>,

    /// PEM file of the CA that signed the Redis servers' certificates
    /// (`rediss://`); unset: the system's roots.
    #[arg(long, env = "CONFAB_REDIS_TLS_CA")]
    pub redis_tls_ca: Option<PathBuf>,

    /// PEM certificate this node presents to Redis over TLS (Redis asks
    /// for one unless `tls-auth-clients no`), with `--redis-tls-key`.
    #[arg(long, env = "CONFAB_REDIS_TLS_CERT", requires = "redis_tls_key")]
    pub redis_tls_cert: Option<PathBuf>,

    /// PEM private key of `--redis-tls-cert`.
    #[arg(long, env = "CONFAB_REDIS_TLS_KEY", requires = "redis_tls_cert")]
    pub redis_tls_key: Option<PathBuf>,

    /// Replicas that must have a message before it is acknowledged (Redis
    /// `WAIT` after the publish): an ack then survives the loss of the
    /// primary when one of them is promoted. 0: the ack means the primary
    /// has it (replication is asynchronous; a failover can lose it).
    #[arg(long, env = "CONFAB_REDIS_WAIT_REPLICAS", default_value_t = 0)]
    pub redis_wait_replicas: u32,

    /// Longest wait for `--redis-wait-replicas` in milliseconds; past it
    /// the publisher gets `outcome_unknown` (stored on the primary only).
    #[arg(long, env = "CONFAB_REDIS_WAIT_TIMEOUT_MS", default_value_t = 1000)]
    pub redis_wait_timeout_ms: u64,

    /// Prefix of every Redis key and channel, so several deployments (or
    /// tests) can share one Redis.
    #[arg(long, env = "CONFAB_REDIS_PREFIX", default_value = "confab")]
    pub redis_prefix: String,

    /// Seconds after which a node that stopped refreshing its presence in
    /// Redis (crashed, partitioned) is dropped from every room's members.
    /// Nodes refresh every TTL/3, so a crashed node's users are gone within
    /// 4/3 of the TTL (about 13 s by default).
    #[arg(long, env = "CONFAB_PRESENCE_TTL_SECS", default_value_t = 10)]
    pub presence_ttl_secs: u64,

    /// This node's id in Redis presence (default: random per start).
    #[arg(long, env = "CONFAB_NODE_ID")]
    pub node_id: Option<String>,
}

impl Config {
    /// The heartbeat interval.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms.max(1))
    }

    /// Grace period for shutdown.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// Time allowed for a request's headers.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs.max(1))
    }

    /// Time allowed for a request's body.
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout_secs.max(1))
    }

    /// What the channel layer keeps: `--history-size`, `--history-ttl`,
    /// `--dedup-window`.
    pub fn retention(&self) -> crate::layer::Retention {
        crate::layer::Retention {
            messages: self.history_size.max(1),
            ttl: self
                .history_ttl_secs
                .filter(|s| *s > 0)
                .map(Duration::from_secs),
            dedup_window: Duration::from_secs(self.dedup_window_secs),
        }
    }

    /// The webhooks `--webhook-*` configure, if any (a URL without
    /// `--backend-secret`, or an unknown event name, is an error).
    pub fn webhooks(&self) -> Result<Option<crate::backend::webhooks::WebhookConfig>, String> {
        let Some(url) = self.webhook_url.clone() else {
            return Ok(None);
        };
        let secret = (self.backend_secret.clone())
            .filter(|s| !s.is_empty())
            .ok_or("--webhook-url needs --backend-secret (webhooks are signed)")?;
        let kinds = crate::backend::WebhookEvent::KINDS;
        if let Some(bad) = self
            .webhook_events
            .iter()
            .find(|e| !kinds.contains(&e.as_str()))
        {
            return Err(format!(
                "unknown webhook event {bad:?} (known: {})",
                kinds.join(", ")
            ));
        }
        Ok(Some(crate::backend::webhooks::WebhookConfig {
            url,
            secret,
            events: self.webhook_events.iter().cloned().collect(),
            message_rooms: self.webhook_message_rooms.clone(),
            queue: self.webhook_queue.max(1),
            timeout: Duration::from_millis(self.webhook_timeout_ms.max(1)),
        }))
    }

    /// The `[hooks]` settings, if any, with the `--backend-secret` that
    /// signs them (which they need); rooms the policy hooks need them.
    pub fn hook_settings(&self) -> Result<Option<(HookSettings, String)>, String> {
        let Some(settings) = self.hooks.clone() else {
            if self.policy.has_hooks() {
                return Err("the policy hooks rooms but there is no [hooks] table".to_owned());
            }
            return Ok(None);
        };
        let secret = (self.backend_secret.clone())
            .filter(|s| !s.is_empty())
            .ok_or("[hooks] needs --backend-secret (hooks are signed)")?;
        Ok(Some((settings, secret)))
    }

    /// `--max-token-lifetime` in seconds.
    pub fn max_token_lifetime(&self) -> u64 {
        self.max_token_lifetime_secs
    }

    /// What user tokens are verified with.
    pub fn token_settings(&self) -> crate::auth::TokenSettings {
        crate::auth::TokenSettings {
            secrets: self.token_secret.clone(),
            public_keys: self.token_public_key.clone(),
            jwks_url: self.jwks_url.clone(),
            jwks_cache_secs: self.jwks_cache_secs,
            jwks_min_refetch_secs: self.jwks_min_refetch_secs,
            issuers: self.token_issuer.clone(),
            audiences: self.token_audience.clone(),
            leeway_secs: self.token_leeway_secs,
            max_lifetime_secs: self.max_token_lifetime_secs,
        }
    }

    /// What one connection's queue, and each room's feed for its slowest
    /// member, may hold (`--outbound-queue`, `--outbound-bytes`).
    pub fn outbound(&self) -> crate::fanout::Bounds {
        crate::fanout::Bounds {
            items: self.outbound_queue.max(1),
            bytes: self.outbound_bytes.max(1),
        }
    }

    /// The `--allowed-hosts` entries, or the default ones.
    pub fn hosts(&self) -> Vec<String> {
        if !self.allowed_hosts.is_empty() {
            return self.allowed_hosts.clone();
        }
        let mut hosts = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "[::1]".to_owned(),
        ];
        let ip = self.bind.ip();
        if !ip.is_unspecified() && !ip.is_loopback() {
            hosts.push(match ip {
                std::net::IpAddr::V4(v4) => v4.to_string(),
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            });
        }
        hosts
    }
}

impl Default for Config {
    /// The documented defaults, without reading the command line or environment.
    fn default() -> Self {
        Self {
            config: None,
            policy: Arc::default(),
            hooks: None,
            guests: Guests::On,
            token_public_key: Vec::new(),
            jwks_url: None,
            jwks_cache_secs: 600,
            jwks_min_refetch_secs: 10,
            token_issuer: Vec::new(),
            token_audience: Vec::new(),
            token_leeway_secs: 30,
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            static_dir: PathBuf::from("dist"),
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            max_connections_per_ip: 1024,
            max_connections: 0,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            webhook_url: None,
            backend_secret: None,
            webhook_events: vec![
                "user_online".into(),
                "user_offline".into(),
                "member_joined".into(),
                "member_left".into(),
                "room_occupied".into(),
                "room_vacated".into(),
            ],
            webhook_message_rooms: Vec::new(),
            webhook_queue: 10_000,
            webhook_timeout_ms: 5_000,
            metrics_bind: None,
            api_key: None,
            token_secret: Vec::new(),
            max_token_lifetime_secs: 30 * 86_400,
            max_message_bytes: 65536,
            rate_per_sec: 50,
            rate_burst: 100,
            rate_abuse_limit: 100,
            max_rooms: 100,
            outbound_queue: 1024,
            history_size: 1000,
            history_ttl_secs: None,
            dedup_window_secs: 300,
            signal_rate_per_sec: 5,
            signal_burst: 10,
            max_state_bytes: 1024,
            join_history: 50,
            join_history_bytes: 256 * 1024,
            outbound_bytes: 4 * 1024 * 1024,
            heartbeat_ms: 25_000,
            listen_backlog: 4096,
            shutdown_grace_secs: 5,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 10,
            debug_endpoints: false,
            data_dir: Some(PathBuf::from("confab-data")),
            in_memory: false,
            redis_url: Vec::new(),
            redis_cluster: false,
            redis_sentinel_service: Vec::new(),
            redis_tls_ca: None,
            redis_tls_cert: None,
            redis_tls_key: None,
            redis_wait_replicas: 0,
            redis_wait_timeout_ms: 1000,
            redis_prefix: "confab".to_owned(),
            presence_ttl_secs: 10,
            node_id: None,
        }
    }
}

/// What a `--config` file adds to the command line.
#[derive(Debug, Default)]
pub struct FileSettings {
    /// Its settings as extra `--flag=value` arguments, for every flag
    /// neither the command line nor the environment set (so they win over
    /// the file).
    pub args: Vec<String>,
    /// Its `[policy]` (open when there is none).
    pub policy: Policy,
    /// Its `[hooks]`, if any.
    pub hooks: Option<HookSettings>,
}

/// Reads the `--config` file at `path` for a command line parsed into
/// `matches` (the matches of [`Config`]'s arguments). An unknown key, a
/// value of the wrong shape, a bad policy or `[hooks]` table, or rooms
/// hooked without a `[hooks]` table, is an error naming the file.
pub fn file_settings(matches: &ArgMatches, path: &Path) -> Result<FileSettings, String> {
    let at = |e: String| format!("{}: {e}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| at(e.to_string()))?;
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| at(e.to_string()))?;
    let policy = match table.remove("policy") {
        None => Policy::default(),
        Some(p) => Policy::from_toml(p).map_err(at)?,
    };
    let hooks = (table.remove("hooks"))
        .map(HookSettings::from_toml)
        .transpose()
        .map_err(at)?;
    if hooks.is_none() && policy.has_hooks() {
        return Err(at(
            "[policy] names hooks but there is no [hooks] table with their url".to_owned(),
        ));
    }
    let command = Config::augment_args(clap::Command::new("confab-server"));
    let mut extra = Vec::new();
    for (key, value) in table {
        let long = key.replace('_', "-");
        let arg = (command.get_arguments())
            .find(|a| a.get_long() == Some(long.as_str()) && long != "config")
            .ok_or_else(|| at(format!("unknown setting {key:?}")))?;
        let id = arg.get_id().as_str();
        // The shape is checked even when the command line or the
        // environment wins, so a mistake in the file never hides.
        let mut args = Vec::new();
        let flag = format!("--{long}");
        if !arg.get_action().takes_values() {
            match value {
                toml::Value::Boolean(true) => args.push(flag),
                toml::Value::Boolean(false) => {}
                _ => return Err(at(format!("{key} must be true or false"))),
            }
        } else {
            let values = match value {
                toml::Value::Array(items) => items,
                one => vec![one],
            };
            for v in values {
                let text = match v {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    _ => return Err(at(format!("{key}: a string, number or list of them"))),
                };
                args.push(format!("{flag}={text}"));
            }
        }
        if !matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            extra.extend(args);
        }
    }
    Ok(FileSettings {
        args: extra,
        policy,
        hooks,
    })
}
