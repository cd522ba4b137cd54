//! What every part of one shard of the Redis layer shares: the command
//! connection (replaced when Sentinel moves the primary), key names,
//! scripts, the node's event sink and presence mirror, and the deadline
//! every command runs under. A single Redis is one shard; a Redis Cluster
//! is one shard whose connection routes by slot.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use confab_protocol::Member;
use redis::{RedisResult, Script};

use super::conn::Conn;
use super::keys::Keys;
use super::scripts::Scripts;
use super::topology::Source;
use super::OP_TIMEOUT;
use crate::error::{Error, Result};
use crate::fanout::{EventSink, StoredMessage};
use crate::layer::decode_stored;
use crate::layer::Retention;
use crate::metrics::Metrics;

/// This node's own presence, the truth it restores Redis from.
#[derive(Default)]
pub(super) struct Local {
    /// (room, user) → (member, local connections).
    pub(super) presence: HashMap<(String, String), (Member, u64)>,
    /// Entries whose Redis count may differ from ours (an operation failed
    /// or its reply was lost); the heartbeat sets them to our count.
    pub(super) dirty: HashSet<(String, String)>,
}

pub(super) struct Shared {
    /// Which shard this is (logs), e.g. `shard 2/3 (redis://h:6380/)`.
    pub(super) label: String,
    conn: RwLock<Conn>,
    /// Where the primary is (for reconnects; Sentinel may move it).
    pub(super) source: Option<Source>,
    /// The primary's `host:port` the command connection talks to.
    pub(super) primary: Mutex<String>,
    pub(super) keys: Keys,
    pub(super) node: String,
    pub(super) sink: Arc<dyn EventSink>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) retention: Retention,
    pub(super) ttl: Duration,
    pub(super) scripts: Scripts,
    pub(super) local: Mutex<Local>,
    /// Replicas a publish waits for, and how long (ms).
    pub(super) wait: Option<(u32, u64)>,
    /// Cluster: joins hold it shared while they add a room to the node's
    /// index and the presence, the index pruning holds it alone.
    pub(super) index_lock: tokio::sync::RwLock<()>,
    /// Restore the whole presence at the next heartbeat too (after being
    /// reaped: a reaper may still be cleaning rooms just restored).
    pub(super) restore_again: AtomicBool,
}

/// What a [`Shared`] is built from.
pub(super) struct SharedParts {
    pub(super) label: String,
    pub(super) conn: Conn,
    pub(super) source: Option<Source>,
    pub(super) primary: String,
    pub(super) keys: Keys,
    pub(super) node: String,
    pub(super) sink: Arc<dyn EventSink>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) retention: Retention,
    pub(super) ttl: Duration,
    pub(super) wait: Option<(u32, u64)>,
}

impl Shared {
    pub(super) fn new(p: SharedParts) -> Self {
        let cluster = p.keys.cluster;
        Self {
            label: p.label,
            conn: RwLock::new(p.conn),
            source: p.source,
            primary: Mutex::new(p.primary),
            keys: p.keys,
            node: p.node,
            sink: p.sink,
            metrics: p.metrics,
            retention: p.retention,
            ttl: p.ttl,
            scripts: Scripts::new(cluster),
            local: Mutex::new(Local::default()),
            wait: p.wait,
            index_lock: tokio::sync::RwLock::new(()),
            restore_again: AtomicBool::new(false),
        }
    }

    /// The command connection (a clone sharing it).
    pub(super) fn conn(&self) -> Conn {
        self.conn
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Switches to a new primary's connection (Sentinel failover).
    pub(super) fn replace_conn(&self, conn: Conn, primary: String) {
        *self.conn.write().unwrap_or_else(PoisonError::into_inner) = conn;
        *self.primary.lock().unwrap_or_else(PoisonError::into_inner) = primary;
    }

    pub(super) fn primary(&self) -> String {
        self.primary
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Runs one Redis operation with a deadline; failures count in
    /// `/metrics` and keep their cause ([`Error::Redis`],
    /// [`Error::RedisTimeout`]).
    pub(super) async fn call<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = RedisResult<T>>,
    ) -> Result<T> {
        let result = match tokio::time::timeout(OP_TIMEOUT, fut).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(source)) => Error::Redis { op, source },
            Err(_) => Error::RedisTimeout {
                op,
                after: OP_TIMEOUT,
            },
        };
        self.metrics.layer_errors.fetch_add(1, Relaxed);
        Err(result)
    }

    pub(super) fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `script` and, with `--redis-wait-replicas`, `WAIT` on the same
    /// connection in one pipeline, so the answer comes only once that many
    /// replicas have what the script wrote (on a cluster the pipeline goes
    /// to the node of the keys' slot). Fewer replicas in time: the write is
    /// on the primary only, [`Error::OutcomeUnknown`].
    pub(super) async fn eval_durable<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        script: &Script,
        keys: &[String],
        args: &[String],
    ) -> Result<T> {
        let Some((replicas, timeout_ms)) = self.wait else {
            let mut inv = script.prepare_invoke();
            for k in keys {
                inv.key(k);
            }
            for a in args {
                inv.arg(a);
            }
            let mut conn = self.conn();
            return self.call(op, inv.invoke_async(&mut conn)).await;
        };
        let mut pipe = redis::pipe();
        pipe.cmd("EVALSHA")
            .arg(script.get_hash())
            .arg(keys.len())
            .arg(keys)
            .arg(args)
            .cmd("WAIT")
            .arg(replicas)
            .arg(timeout_ms);
        let mut conn = self.conn();
        let deadline = OP_TIMEOUT + Duration::from_millis(timeout_ms);
        let run = |mut conn: Conn| {
            let pipe = &pipe;
            async move {
                tokio::time::timeout(deadline, pipe.query_async::<(T, u32)>(&mut conn))
                    .await
                    .unwrap_or_else(|_| {
                        Err(redis::RedisError::from(std::io::Error::from(
                            std::io::ErrorKind::TimedOut,
                        )))
                    })
            }
        };
        let mut result = run(conn.clone()).await;
        if matches!(&result, Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript))
        {
            self.call("script load", script.load_async(&mut conn))
                .await?;
            result = run(conn).await;
        }
        let (value, acked) = result.map_err(|source| {
            self.metrics.layer_errors.fetch_add(1, Relaxed);
            Error::Redis { op, source }
        })?;
        if acked < replicas {
            self.metrics.layer_errors.fetch_add(1, Relaxed);
            return Err(Error::OutcomeUnknown(Box::new(Error::Unavailable(format!(
                "stored on the primary, but {acked} of {replicas} replicas confirmed it within {timeout_ms} ms"
            )))));
        }
        Ok(value)
    }

    /// Entries of `room`'s stream with offsets in `from..=to` (`to` = None:
    /// to the end).
    pub(super) async fn range(
        &self,
        room: &str,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<Arc<StoredMessage>>> {
        let mut conn = self.conn();
        let end = to.map_or_else(|| "+".to_owned(), |t| format!("{t}-1"));
        let rows: Vec<(String, Vec<String>)> = self
            .call(
                "xrange",
                redis::cmd("XRANGE")
                    .arg(self.keys.stream(room))
                    .arg(format!("{from}"))
                    .arg(end)
                    .query_async(&mut conn),
            )
            .await?;
        rows.iter().map(|(_, f)| decode_entry(f)).collect()
    }

    /// Publishes `frame` on `channel` (sharded pub/sub on a cluster).
    pub(super) async fn publish_frame(
        &self,
        op: &'static str,
        channel: &str,
        frame: &str,
    ) -> Result<()> {
        let mut conn = self.conn();
        self.call(
            op,
            redis::cmd(self.keys.publish_cmd())
                .arg(channel)
                .arg(frame)
                .query_async::<i64>(&mut conn),
        )
        .await
        .map(drop)
    }
}

impl Shared {
    /// Every room of this shard with members, with how many (SCAN of the
    /// presence hashes: an admin call, not a hot path). On a cluster every
    /// primary is scanned.
    pub(super) async fn rooms(&self) -> Result<Vec<(String, usize)>> {
        let prefix = if self.keys.cluster {
            format!("{}:pm:{{", self.keys.prefix)
        } else {
            self.keys.members("")
        };
        let pattern = format!("{prefix}*");
        let mut conn = self.conn();
        let targets: Vec<Option<(String, u16)>> = match &conn {
            Conn::One(_) => vec![None],
            Conn::Cluster(_) => {
                let nodes: String = self
                    .call(
                        "cluster nodes",
                        redis::cmd("CLUSTER").arg("NODES").query_async(&mut conn),
                    )
                    .await?;
                primaries(&nodes).into_iter().map(Some).collect()
            }
        };
        let mut names = Vec::new();
        for target in targets {
            let mut cursor = 0u64;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(500);
                let (next, keys): (u64, Vec<String>) = match (&target, &mut conn) {
                    (Some((host, port)), Conn::Cluster(c)) => {
                        let routing = redis::cluster_routing::RoutingInfo::SingleNode(
                            redis::cluster_routing::SingleNodeRoutingInfo::ByAddress {
                                host: host.clone(),
                                port: *port,
                            },
                        );
                        let v = self
                            .call("scan rooms", c.route_command(scan, routing))
                            .await?;
                        redis::FromRedisValue::from_redis_value(v)
                            .map_err(|e| Error::Internal(format!("scan reply: {e}")))?
                    }
                    _ => self.call("scan rooms", scan.query_async(&mut conn)).await?,
                };
                names.extend(keys.into_iter().filter_map(|k| {
                    let room = k.strip_prefix(&prefix)?;
                    let room = if self.keys.cluster {
                        room.strip_suffix('}')?
                    } else {
                        room
                    };
                    Some(room.to_owned())
                }));
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        let mut out = Vec::with_capacity(names.len());
        for room in names {
            let n: usize = self
                .call(
                    "count members",
                    redis::cmd("HLEN")
                        .arg(self.keys.members(&room))
                        .query_async(&mut conn),
                )
                .await?;
            if n > 0 {
                out.push((room, n));
            }
        }
        Ok(out)
    }
}

/// The serving primaries (host, port) of a `CLUSTER NODES` answer.
fn primaries(nodes: &str) -> Vec<(String, u16)> {
    nodes
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 9 || !f[2].contains("master") || f[2].contains("fail") {
                return None;
            }
            let addr = f[1].split('@').next()?;
            let (host, port) = addr.rsplit_once(':')?;
            Some((host.to_owned(), port.parse().ok()?))
        })
        .collect()
}

/// A stream entry's message (field `m`).
pub(super) fn decode_entry(fields: &[String]) -> Result<Arc<StoredMessage>> {
    match fields {
        [k, body, ..] if k == "m" => decode_stored(body.as_bytes()),
        _ => Err(Error::Internal("stream entry without a message".into())),
    }
}
