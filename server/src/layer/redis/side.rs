//! A command connection of its own for what every node shares outside the
//! rooms (the webhook queue, [`crate::backend::Webhooks`]): to the first
//! shard (the same Redis as the guest key), following its primary when
//! Sentinel moves it, or to the Redis Cluster. Its own, because the queue
//! blocks on Redis (`XREADGROUP BLOCK`), which must not hold up the
//! layer's commands; built from the same flags as the layer, so TLS,
//! Sentinel and Cluster apply to it too.

use std::sync::{Arc, PoisonError, RwLock};

use tokio::task::JoinHandle;

use super::conn::Conn;
use super::topology::{Options, Source};
use super::{cluster, connect_err, connecting, manager, SENTINEL_POLL};
use crate::error::Result;
use crate::Config;

/// A command connection to where shared data lives; cheap to clone.
#[derive(Clone)]
pub struct SideConnection {
    inner: Arc<Inner>,
    /// Sentinel: the task following the primary, stopped with the last
    /// clone.
    _follower: Option<Arc<Follower>>,
}

struct Inner {
    /// The connection and the primary's address it talks to.
    conn: RwLock<(Conn, String)>,
    prefix: String,
    cluster: bool,
}

struct Follower(JoinHandle<()>);

impl Drop for Follower {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for SideConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SideConnection")
            .field("prefix", &self.inner.prefix)
            .field("cluster", &self.inner.cluster)
            .finish_non_exhaustive()
    }
}

/// What [`SideConnection::conn`] hands out: a [`redis::aio::ConnectionLike`]
/// (one Redis, or the cluster routing by slot).
pub type SideConn = Conn;

impl SideConnection {
    /// Connects as the `--redis-*` flags say (the first shard, or the
    /// cluster); fails at once when Redis cannot be reached.
    pub async fn connect(config: &Config) -> Result<Self> {
        let options = Options::from_config(config)?;
        let cluster = options.cluster.is_some();
        let (conn, primary, source) = match &options.cluster {
            Some(urls) => {
                let conn =
                    connecting(cluster::command_connection(urls, options.tls.as_ref())).await?;
                (Conn::Cluster(conn), String::new(), None)
            }
            None => {
                let source =
                    Source::new(&options.shards[0], options.tls.as_ref()).map_err(connect_err)?;
                let (client, primary) = connecting(source.client()).await?;
                (Conn::One(manager(client).await?), primary, Some(source))
            }
        };
        let inner = Arc::new(Inner {
            conn: RwLock::new((conn, primary)),
            prefix: config.redis_prefix.clone(),
            cluster,
        });
        let follower = source
            .filter(Source::moves)
            .map(|s| Arc::new(Follower(tokio::spawn(follow(s, Arc::downgrade(&inner))))));
        Ok(Self {
            inner,
            _follower: follower,
        })
    }

    /// The connection (a clone sharing it).
    pub fn conn(&self) -> SideConn {
        self.inner
            .conn
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .clone()
    }

    /// The key `name` under `--redis-prefix`: `P:name`, or `P:{name}` on a
    /// cluster (so `P:{name}:...` keys share its slot).
    pub fn key(&self, name: &str) -> String {
        if self.inner.cluster {
            format!("{}:{{{name}}}", self.inner.prefix)
        } else {
            format!("{}:{name}", self.inner.prefix)
        }
    }
}

/// Sentinel: moves the connection to the primary Sentinel names, polled
/// every [`SENTINEL_POLL`], until the connection is dropped.
async fn follow(source: Source, inner: std::sync::Weak<Inner>) {
    let mut tick = tokio::time::interval(SENTINEL_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Ok((host, port)) = source.master_addr().await else {
            continue;
        };
        let addr = format!("{host}:{port}");
        let current = {
            let Some(inner) = inner.upgrade() else { return };
            let c = inner.conn.read().unwrap_or_else(PoisonError::into_inner);
            c.1.clone()
        };
        if addr == current {
            continue;
        }
        let connected = async {
            let (client, primary) = connecting(source.client()).await?;
            Ok::<_, crate::Error>((manager(client).await?, primary))
        };
        match connected.await {
            Ok((conn, primary)) => {
                let Some(inner) = inner.upgrade() else { return };
                *inner.conn.write().unwrap_or_else(PoisonError::into_inner) =
                    (Conn::One(conn), primary);
            }
            Err(e) => {
                tracing::warn!(new = %addr, error = %e, "side connection: cannot reach the new primary yet");
            }
        }
    }
}
