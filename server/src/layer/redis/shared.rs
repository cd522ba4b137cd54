//! What every part of the Redis layer shares: the command connection, key
//! names, scripts, the node's event sink and presence mirror, and the
//! deadline every command runs under.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use confab_protocol::Member;
use redis::aio::ConnectionManager;
use redis::RedisResult;

use super::keys::Keys;
use super::scripts::Scripts;
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
    pub(super) conn: ConnectionManager,
    pub(super) keys: Keys,
    pub(super) node: String,
    pub(super) sink: Arc<dyn EventSink>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) retention: Retention,
    pub(super) ttl: Duration,
    pub(super) scripts: Scripts,
    pub(super) local: Mutex<Local>,
}

impl Shared {
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

    /// Entries of `room`'s stream with offsets in `from..=to` (`to` = None:
    /// to the end).
    pub(super) async fn range(
        &self,
        room: &str,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<Arc<StoredMessage>>> {
        let mut conn = self.conn.clone();
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
}

/// A stream entry's message (field `m`).
pub(super) fn decode_entry(fields: &[String]) -> Result<Arc<StoredMessage>> {
    match fields {
        [k, body, ..] if k == "m" => decode_stored(body.as_bytes()),
        _ => Err(Error::Internal("stream entry without a message".into())),
    }
}
