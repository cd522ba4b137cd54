//! Confab's room server: WebSocket rooms with presence, history and direct
//! messages over a pluggable [`layer::ChannelLayer`], plus seed-compatible
//! endpoints for Django Channels and dwebsocket clients.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let state = confab_server::AppState::new(confab_server::Config::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! axum::serve(listener, confab_server::app(state)).await
//! # }
//! ```

pub mod auth;
pub mod backend;
pub mod clock;
pub mod config;
pub mod endpoints;
pub mod error;
mod fanout;
pub mod layer;
pub mod limits;
pub mod metrics;
mod node;
pub mod policy;
pub mod rooms;
pub mod serve;
pub mod shutdown;
mod socket;

use std::sync::Arc;

use axum::Router;

pub use config::Config;
pub use error::{Error, Result};

use auth::{GuestKey, Verifier};
use backend::{Hooks, Webhooks};
use fanout::Hub;
use layer::{ChannelLayer, EventSink, MemoryLayer};
use metrics::Metrics;
use rooms::Rooms;

/// Shared state of one server: configuration, rooms and counters.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Configuration.
    pub config: Arc<Config>,
    /// The rooms (channel layer + this node's delivery core).
    pub rooms: Rooms,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Signs and checks guest tokens (`welcome.guest_token`, `?guest=`).
    pub guest_key: GuestKey,
    /// Checks user tokens (JWTs) against the configured keys.
    pub verifier: Arc<Verifier>,
    /// The host names requests may name (`--allowed-hosts` or its default).
    pub hosts: Arc<[String]>,
    /// Open WebSockets per client address and in all.
    pub connections: Arc<limits::ConnLimiter>,
    /// The backend hooks (`[hooks]` of the config file), if any.
    pub hooks: Option<Arc<Hooks>>,
}

impl AppState {
    /// State with the in-memory channel layer.
    ///
    /// # Panics
    ///
    /// When a `--token-public-key` file cannot be read or the `--jwks-url`
    /// is invalid ([`AppState::from_config`] returns that as an error).
    pub fn new(config: Config) -> Self {
        let retention = config.retention();
        Self::with_layer(config, |sink| Arc::new(MemoryLayer::new(retention, sink)))
    }

    /// State with the layer `make` builds around the node's event sink (so
    /// the layer delivers to this node by construction). Guest tokens are
    /// signed with the first token secret, else with a key random per
    /// process (see [`AppState::from_config`] for one that survives
    /// restarts).
    ///
    /// Webhooks (`--webhook-url`) are queued in memory. Panics when the
    /// webhook settings are invalid (see [`Config::webhooks`]), or as
    /// [`AppState::new`].
    pub fn with_layer(
        config: Config,
        make: impl FnOnce(Arc<dyn EventSink>) -> Arc<dyn ChannelLayer>,
    ) -> Self {
        let secret = first_secret(&config).unwrap_or_else(GuestKey::random_secret);
        let metrics = Arc::new(Metrics::default());
        let webhooks = match config.webhooks() {
            Ok(w) => w.map(|w| Webhooks::local(w, metrics.clone())),
            Err(e) => panic!("webhook settings: {e}"),
        };
        let (hub, sink) = node_for(&config, webhooks.clone());
        let layer = make(sink);
        let verifier = Verifier::new(&config.token_settings())
            .unwrap_or_else(|e| panic!("invalid token settings: {e}"));
        let hooks = hooks_for(&config).unwrap_or_else(|e| panic!("hook settings: {e}"));
        Self::assemble(
            config, hub, layer, metrics, webhooks, &secret, verifier, hooks,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        mut config: Config,
        hub: Arc<Hub>,
        layer: Arc<dyn ChannelLayer>,
        metrics: Arc<Metrics>,
        webhooks: Option<Arc<Webhooks>>,
        guest_secret: &str,
        verifier: Verifier,
        hooks: Option<Arc<Hooks>>,
    ) -> Self {
        // `--token-secret current,` parses as ["current", ""]: an empty
        // secret must never become a signing key.
        config.token_secret.retain(|s| !s.is_empty());
        Self {
            hosts: config.hosts().into(),
            connections: Arc::new(limits::ConnLimiter::new(
                config.max_connections_per_ip,
                config.max_connections,
            )),
            config: Arc::new(config),
            rooms: Rooms::new(layer, hub, metrics.clone(), webhooks),
            metrics,
            guest_key: GuestKey::new(guest_secret),
            verifier: Arc::new(verifier),
            hooks,
        }
    }

    /// State with the layer the configuration selects: Redis with
    /// `redis_url`, memory with `in_memory`, else the durable embedded
    /// store in `data_dir`.
    /// Fails (with the reason) when Redis is unreachable or the store cannot
    /// be opened.
    ///
    /// The guest-token key is the first token secret; without one it is
    /// generated once and kept in `<data_dir>/guest.key` (mode 0600), or
    /// shared by every node through Redis (`<prefix>:guest-key`), so a guest
    /// keeps their id across restarts and nodes; with neither it is random
    /// per process.
    pub async fn from_config(mut config: Config) -> Result<Self> {
        let verifier = Verifier::new(&config.token_settings()).map_err(Error::Config)?;
        verifier.prefetch().await;
        let hooks = hooks_for(&config).map_err(Error::Config)?;
        let metrics = Arc::new(Metrics::default());
        // One id for this node in Redis presence and the webhook queue.
        let node =
            (config.node_id.clone()).unwrap_or_else(|| format!("n-{:08x}", rand::random::<u32>()));
        config.node_id = Some(node.clone());
        let webhooks = match config.webhooks().map_err(Error::Config)? {
            None => None,
            Some(w) if !config.redis_url.is_empty() => {
                // One stream for every node, on the first shard (or the
                // cluster), reached as the layer reaches Redis.
                let redis = layer::SideConnection::connect(&config).await?;
                Some(Webhooks::redis(w, redis, node, metrics.clone()).await?)
            }
            Some(w) => Some(Webhooks::local(w, metrics.clone())),
        };
        let (hub, sink) = node_for(&config, webhooks.clone());
        let secret = first_secret(&config);
        let (layer, secret): (Arc<dyn ChannelLayer>, String) = if !config.redis_url.is_empty() {
            let layer = layer::RedisLayer::connect(&config, sink, metrics.clone()).await?;
            let secret = match secret {
                Some(s) => s,
                None => layer.guest_secret(&GuestKey::random_secret()).await?,
            };
            (Arc::new(layer), secret)
        } else if let Some(dir) = config.data_dir.as_ref().filter(|_| !config.in_memory) {
            let layer = layer::DurableLayer::open(dir, config.retention(), sink)?;
            let secret = match secret {
                Some(s) => s,
                None => file_guest_secret(&dir.join("guest.key"))?,
            };
            (Arc::new(layer), secret)
        } else {
            let layer = Arc::new(MemoryLayer::new(config.retention(), sink));
            (layer, secret.unwrap_or_else(GuestKey::random_secret))
        };
        Ok(Self::assemble(
            config, hub, layer, metrics, webhooks, &secret, verifier, hooks,
        ))
    }
}

/// The node's hub, and the sink its layer delivers to: that hub and the
/// webhooks.
fn node_for(config: &Config, webhooks: Option<Arc<Webhooks>>) -> (Arc<Hub>, Arc<dyn EventSink>) {
    let hub = Arc::new(Hub::new(config.outbound()));
    let sink: Arc<dyn EventSink> = Arc::new(node::NodeSink {
        hub: hub.clone(),
        webhooks,
    });
    (hub, sink)
}

/// The hook client of the `[hooks]` settings ([`Config::hook_settings`]).
fn hooks_for(config: &Config) -> std::result::Result<Option<Arc<Hooks>>, String> {
    match config.hook_settings()? {
        None => Ok(None),
        Some((settings, secret)) => Ok(Some(Arc::new(Hooks::new(settings, secret)?))),
    }
}

fn first_secret(config: &Config) -> Option<String> {
    config.token_secret.iter().find(|s| !s.is_empty()).cloned()
}

/// The guest-token secret kept in `path`, created (0600) on first start.
fn file_guest_secret(path: &std::path::Path) -> Result<String> {
    use std::io::Write;
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_owned()),
        Ok(_) => {
            return Err(Error::Internal(format!(
                "guest key {} is empty; delete it to generate a new one",
                path.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let secret = GuestKey::random_secret();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    Ok(secret)
}

/// Every route of the server.
pub fn app(state: AppState) -> Router {
    endpoints::router(state)
}
