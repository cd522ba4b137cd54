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
pub mod config;
pub mod endpoints;
pub mod error;
pub mod groups;
pub mod hub;
pub mod layer;
pub mod limits;
pub mod metrics;
pub mod shutdown;
pub mod socket;

use std::sync::Arc;

use axum::Router;

pub use config::Config;
pub use error::{Error, Result};

use groups::Groups;
use hub::Hub;
use layer::{ChannelLayer, EventSink, MemoryLayer};
use metrics::Metrics;

/// Shared state of one server: configuration, groups and counters.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Configuration.
    pub config: Arc<Config>,
    /// Room groups (layer + local hub).
    pub groups: Groups,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// State with the in-memory channel layer.
    pub fn new(config: Config) -> Self {
        let hub = Arc::new(Hub::new(config.outbound_queue));
        let sink: Arc<dyn EventSink> = hub.clone();
        let layer = Arc::new(MemoryLayer::new(config.history_size, sink));
        Self::with_layer(config, hub, layer)
    }

    /// State with a given layer, which must deliver its events to `hub`.
    pub fn with_layer(config: Config, hub: Arc<Hub>, layer: Arc<dyn ChannelLayer>) -> Self {
        let metrics = Arc::new(Metrics::default());
        Self {
            config: Arc::new(config),
            groups: Groups {
                layer,
                hub,
                metrics: metrics.clone(),
            },
            metrics,
        }
    }

    /// State with the layer the configuration selects: Redis with
    /// `redis_url`, the durable embedded store with `data_dir`, else memory.
    /// Fails (with the reason) when Redis is unreachable or the store cannot
    /// be opened.
    pub async fn from_config(config: Config) -> Result<Self> {
        let hub = Arc::new(Hub::new(config.outbound_queue));
        let metrics = Arc::new(Metrics::default());
        let layer: Arc<dyn ChannelLayer> = if let Some(url) = config.redis_url.clone() {
            Arc::new(layer::RedisLayer::connect(&config, &url, hub.clone(), metrics.clone()).await?)
        } else if let Some(dir) = &config.data_dir {
            Arc::new(layer::DurableLayer::open(
                dir,
                config.history_size,
                hub.clone(),
            )?)
        } else {
            return Ok(Self::new(config));
        };
        Ok(Self {
            config: Arc::new(config),
            groups: Groups {
                layer,
                hub,
                metrics: metrics.clone(),
            },
            metrics,
        })
    }

    /// The node-local hub.
    pub fn hub(&self) -> &Hub {
        &self.groups.hub
    }
}

/// Every route of the server.
pub fn app(state: AppState) -> Router {
    endpoints::router(state)
}
