//! The embedded durable channel layer (one process, `--data-dir`): room and
//! DM history in a [redb](https://docs.rs/redb) file, so a restarted server
//! continues the same offsets and epoch and clients resume with no gap.
//!
//! Why redb: a pure-Rust, ACID, copy-on-write B-tree in one file — no C
//! toolchain (unlike SQLite's `bundled` build), MVCC readers that never block
//! the writer, and ordered tuple keys `(room, offset)` that make "messages
//! after offset N" and "drop everything before N" plain range operations.
//!
//! Writes go through one writer thread that batches concurrent publishes into
//! one fsync'd transaction (group commit). A message is delivered to the
//! [`EventSink`] and acknowledged only after its transaction committed, in
//! offset order, so nothing a client saw or was acked can vanish on a crash.
//! Presence is node-local and kept in memory (a [`MemoryLayer`]).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use confab_protocol::{Member, Message};
use rand::Rng;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::oneshot;

use super::{
    decode_stored, ChannelLayer, Event, EventSink, History, HistoryQuery, MemoryLayer, Payload,
    StoredMessage,
};
use crate::clock::now_ms;
use crate::error::{Error, Result};

/// `(room, offset)` → the message as JSON.
const MESSAGES: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("messages");
/// room → newest offset (kept when older messages are compacted away).
const HEADS: TableDefinition<'_, &str, u64> = TableDefinition::new("heads");
/// `"epoch"` → the store's history epoch.
const META: TableDefinition<'_, &str, &str> = TableDefinition::new("meta");

/// Largest number of publishes committed in one transaction.
const MAX_BATCH: usize = 512;
/// How often rooms that grew past their bound are trimmed.
const COMPACT_EVERY: Duration = Duration::from_millis(500);

struct PublishCmd {
    room: String,
    from: Member,
    payload: Payload,
    reply: oneshot::Sender<Result<Arc<StoredMessage>>>,
}

/// Room history in a redb file under `--data-dir`, presence in memory.
///
/// ```
/// use std::sync::Arc;
/// use confab_server::layer::{DurableLayer, EventSink, Event};
/// struct Ignore;
/// impl EventSink for Ignore { fn deliver(&self, _: Event) {} }
/// let dir = std::env::temp_dir().join(format!("confab-doc-{}", std::process::id()));
/// let a = DurableLayer::open(&dir, 100, Arc::new(Ignore)).unwrap();
/// let epoch = a.epoch().to_owned();
/// drop(a);
/// // Reopening keeps the epoch: offsets continue after a restart.
/// let b = DurableLayer::open(&dir, 100, Arc::new(Ignore)).unwrap();
/// assert_eq!(b.epoch(), epoch);
/// # drop(b); std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct DurableLayer {
    epoch: String,
    path: PathBuf,
    db: Arc<Database>,
    presence: MemoryLayer,
    /// None once dropping.
    writer: Option<std_mpsc::Sender<PublishCmd>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for DurableLayer {
    /// Stops the writer after it committed what was queued, so the file is
    /// closed (and can be reopened) when this returns.
    fn drop(&mut self) {
        self.writer.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for DurableLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableLayer")
            .field("epoch", &self.epoch)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl DurableLayer {
    /// Opens (or creates) `dir/history.redb`, keeping about `history_size`
    /// messages per room, and starts the writer thread.
    pub fn open(dir: &Path, history_size: usize, sink: Arc<dyn EventSink>) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("history.redb");
        let mut db = Database::create(&path)?;
        // Give pages freed by earlier trimming back to the file system.
        if let Err(e) = db.compact() {
            tracing::warn!(error = %e, "history store compaction at start failed");
        }
        let epoch = load_or_create_epoch(&db)?;
        let db = Arc::new(db);
        let history_size = history_size.max(1);
        let (tx, rx) = std_mpsc::channel();
        let writer = Writer {
            db: db.clone(),
            sink: sink.clone(),
            history_size,
            heads: HashMap::new(),
            dirty: HashSet::new(),
            last_compaction: Instant::now(),
        };
        let thread = std::thread::Builder::new()
            .name("confab-history-writer".into())
            .spawn(move || writer.run(&rx))?;
        tracing::info!(path = %path.display(), %epoch, "durable history store opened");
        Ok(Self {
            epoch,
            path,
            db,
            presence: MemoryLayer::new(history_size, sink),
            writer: Some(tx),
            thread: Some(thread),
        })
    }

    /// The store's history epoch (kept across restarts).
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    fn read_history(
        db: &Database,
        epoch: &str,
        room: &str,
        query: HistoryQuery<'_>,
    ) -> Result<History> {
        let txn = db.begin_read()?;
        let head = match txn.open_table(HEADS) {
            Ok(t) => t.get(room)?.map_or(0, |v| v.value()),
            Err(redb::TableError::TableDoesNotExist(_)) => 0,
            Err(e) => return Err(e.into()),
        };
        let messages = match txn.open_table(MESSAGES) {
            Ok(t) => Some(t),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let Some(table) = messages else {
            return Ok(History {
                epoch: epoch.to_owned(),
                head,
                recovered: (query.since).is_some_and(|p| p.epoch == epoch && p.offset == head),
                messages: Vec::new(),
            });
        };
        let oldest = table
            .range((room, 0)..=(room, u64::MAX))?
            .next()
            .transpose()?
            .map_or(head + 1, |(k, _)| k.value().1);
        let history = |recovered, messages| History {
            epoch: epoch.to_owned(),
            head,
            recovered,
            messages,
        };
        if let Some(p) = query.since {
            if p.epoch == epoch && p.offset <= head && p.offset + 1 >= oldest {
                // Read the gap only while it stays within the byte bound.
                let (mut out, mut bytes) = (Vec::new(), 0);
                for row in table.range((room, p.offset + 1)..=(room, u64::MAX))? {
                    let m = decode_stored(row?.1.value())?;
                    bytes += m.weight();
                    if bytes > query.max_bytes {
                        break;
                    }
                    out.push(m);
                }
                if bytes <= query.max_bytes {
                    return Ok(history(true, out));
                }
            }
        }
        let mut newest = Vec::new();
        for row in table
            .range((room, 0)..=(room, u64::MAX))?
            .rev()
            .take(query.limit.max(1))
        {
            newest.push(decode_stored(row?.1.value())?);
        }
        Ok(history(false, query.newest(newest.iter())))
    }
}

fn load_or_create_epoch(db: &Database) -> Result<String> {
    let txn = db.begin_write()?;
    let epoch = {
        let mut meta = txn.open_table(META)?;
        let existing = meta.get("epoch")?.map(|v| v.value().to_owned());
        match existing {
            Some(e) => e,
            None => {
                let e = format!("d{:011x}", rand::rng().random::<u64>() & 0xfff_ffff_ffff);
                meta.insert("epoch", e.as_str())?;
                e
            }
        }
    };
    // Create the other tables so readers never see them missing.
    txn.open_table(MESSAGES)?;
    txn.open_table(HEADS)?;
    txn.commit()?;
    Ok(epoch)
}

/// The single writer: assigns offsets, commits batches, then delivers and
/// acknowledges in order; trims rooms over their bound in the background.
struct Writer {
    db: Arc<Database>,
    sink: Arc<dyn EventSink>,
    history_size: usize,
    /// Cached newest offset per room (read from the store on first use).
    heads: HashMap<String, u64>,
    /// Rooms written since the last compaction.
    dirty: HashSet<String>,
    last_compaction: Instant,
}

impl Writer {
    fn run(mut self, rx: &std_mpsc::Receiver<PublishCmd>) {
        loop {
            let first = match rx.recv_timeout(COMPACT_EVERY) {
                Ok(cmd) => cmd,
                Err(std_mpsc::RecvTimeoutError::Timeout) => {
                    self.compact();
                    continue;
                }
                Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                    self.compact();
                    return;
                }
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(cmd) => batch.push(cmd),
                    Err(_) => break,
                }
            }
            self.commit(batch);
            if self.last_compaction.elapsed() >= COMPACT_EVERY {
                self.compact();
            }
        }
    }

    fn head(&mut self, table: &redb::Table<'_, &str, u64>, room: &str) -> Result<u64> {
        if let Some(h) = self.heads.get(room) {
            return Ok(*h);
        }
        let h = table.get(room)?.map_or(0, |v| v.value());
        self.heads.insert(room.to_owned(), h);
        Ok(h)
    }

    fn write(&mut self, batch: &[PublishCmd]) -> Result<Vec<Arc<StoredMessage>>> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let mut stored = Vec::with_capacity(batch.len());
        {
            let mut heads = txn.open_table(HEADS)?;
            let mut messages = txn.open_table(MESSAGES)?;
            let mut next: HashMap<&str, u64> = HashMap::new();
            for cmd in batch {
                let offset = match next.get(cmd.room.as_str()) {
                    Some(h) => h + 1,
                    None => self.head(&heads, &cmd.room)? + 1,
                };
                next.insert(&cmd.room, offset);
                let msg = Message {
                    room: cmd.room.clone(),
                    offset,
                    from: cmd.from.clone(),
                    ts: now_ms(),
                    payload: cmd.payload.clone(),
                    cid: None,
                };
                let json = serde_json::to_vec(&msg).map_err(|e| Error::Internal(e.to_string()))?;
                messages.insert((cmd.room.as_str(), offset), json.as_slice())?;
                stored.push(Arc::new(StoredMessage::new(msg)));
            }
            for (room, head) in &next {
                heads.insert(*room, *head)?;
            }
        }
        txn.commit()?;
        Ok(stored)
    }

    fn commit(&mut self, batch: Vec<PublishCmd>) {
        match self.write(&batch) {
            Ok(stored) => {
                for (cmd, msg) in batch.into_iter().zip(stored) {
                    self.heads.insert(cmd.room.clone(), msg.msg.offset);
                    self.dirty.insert(cmd.room);
                    self.sink.deliver(Event::Message(msg.clone()));
                    let _ = cmd.reply.send(Ok(msg));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "history store write failed");
                // The cache may be ahead of what was committed.
                self.heads.clear();
                for cmd in batch {
                    let _ = cmd.reply.send(Err(Error::Internal(format!(
                        "history store write failed: {e}"
                    ))));
                }
            }
        }
    }

    /// Deletes messages older than the newest `history_size` of each room
    /// written since the last pass.
    fn compact(&mut self) {
        self.last_compaction = Instant::now();
        if self.dirty.is_empty() {
            return;
        }
        let rooms: Vec<(String, u64)> = self
            .dirty
            .drain()
            .filter_map(|r| {
                let head = *self.heads.get(&r)?;
                let keep_from = head.checked_sub(self.history_size as u64)? + 1;
                Some((r, keep_from))
            })
            .collect();
        if rooms.is_empty() {
            return;
        }
        let result = (|| -> Result<()> {
            let txn = self.db.begin_write()?;
            {
                let mut messages = txn.open_table(MESSAGES)?;
                for (room, keep_from) in &rooms {
                    messages
                        .retain_in((room.as_str(), 0)..(room.as_str(), *keep_from), |_, _| {
                            false
                        })?;
                }
            }
            txn.commit().map_err(Error::from)
        })();
        if let Err(e) = result {
            tracing::warn!(error = %e, "history compaction failed");
        }
    }
}

#[async_trait]
impl ChannelLayer for DurableLayer {
    async fn publish(
        &self,
        room: &str,
        from: &Member,
        payload: Payload,
    ) -> Result<Arc<StoredMessage>> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .as_ref()
            .ok_or_else(|| Error::Internal("history writer stopped".into()))?
            .send(PublishCmd {
                room: room.to_owned(),
                from: from.clone(),
                payload,
                reply,
            })
            .map_err(|_| Error::Internal("history writer stopped".into()))?;
        rx.await
            .map_err(|_| Error::Internal("history writer stopped".into()))?
    }

    async fn history(&self, room: &str, query: HistoryQuery<'_>) -> Result<History> {
        let db = self.db.clone();
        let epoch = self.epoch.clone();
        let room = room.to_owned();
        let since = query.since.cloned();
        let (limit, max_bytes) = (query.limit, query.max_bytes);
        tokio::task::spawn_blocking(move || {
            let query = HistoryQuery {
                since: since.as_ref(),
                limit,
                max_bytes,
            };
            Self::read_history(&db, &epoch, &room, query)
        })
        .await
        .map_err(|e| Error::Internal(format!("history read task: {e}")))?
    }

    async fn presence_join(&self, room: &str, member: &Member) -> Result<Vec<Member>> {
        self.presence.presence_join(room, member).await
    }

    async fn presence_leave(&self, room: &str, user_id: &str) -> Result<()> {
        self.presence.presence_leave(room, user_id).await
    }

    async fn presence_update(&self, room: &str, member: &Member) -> Result<()> {
        self.presence.presence_update(room, member).await
    }

    async fn members(&self, room: &str) -> Result<Vec<Member>> {
        self.presence.members(room).await
    }

    async fn subscribe(&self, _room: &str) -> Result<()> {
        Ok(())
    }

    async fn unsubscribe(&self, _room: &str) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use confab_protocol::Position;

    use super::*;

    #[derive(Default)]
    struct Collect(Mutex<Vec<u64>>);
    impl EventSink for Collect {
        fn deliver(&self, event: Event) {
            if let Event::Message(m) = event {
                self.0.lock().unwrap().push(m.msg.offset);
            }
        }
    }

    fn query(since: Option<&Position>, limit: usize) -> HistoryQuery<'_> {
        HistoryQuery {
            since,
            limit,
            max_bytes: usize::MAX,
        }
    }

    fn member() -> Member {
        Member::new("u1", "U")
    }

    fn payload(n: u64) -> Payload {
        Arc::from(serde_json::value::RawValue::from_string(format!("{{\"n\":{n}}}")).unwrap())
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "confab-durable-{tag}-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[tokio::test]
    async fn reopen_continues_offsets_and_epoch() {
        let dir = tempdir("reopen");
        let sink = Arc::new(Collect::default());
        let a = DurableLayer::open(&dir, 100, sink.clone()).unwrap();
        for n in 1..=3 {
            let m = a.publish("lobby", &member(), payload(n)).await.unwrap();
            assert_eq!(m.msg.offset, n);
        }
        let epoch = a.epoch().to_owned();
        drop(a);
        let b = DurableLayer::open(&dir, 100, sink.clone()).unwrap();
        assert_eq!(b.epoch(), epoch);
        let m = b.publish("lobby", &member(), payload(4)).await.unwrap();
        assert_eq!(m.msg.offset, 4);
        let since = Position { epoch, offset: 2 };
        let h = b.history("lobby", query(Some(&since), 50)).await.unwrap();
        assert!(h.recovered);
        assert_eq!(h.head, 4);
        let got: Vec<String> = h
            .messages
            .iter()
            .map(|m| m.msg.payload.get().to_owned())
            .collect();
        assert_eq!(got, [r#"{"n":3}"#, r#"{"n":4}"#]);
        assert_eq!(*sink.0.lock().unwrap(), [1, 2, 3, 4]);
        drop(b);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn bounded_per_room_after_compaction() {
        let dir = tempdir("bound");
        let layer = DurableLayer::open(&dir, 5, Arc::new(Collect::default())).unwrap();
        for n in 1..=20 {
            layer.publish("r", &member(), payload(n)).await.unwrap();
        }
        tokio::time::sleep(COMPACT_EVERY * 3).await;
        let h = layer.history("r", query(None, 100)).await.unwrap();
        let offsets: Vec<u64> = h.messages.iter().map(|m| m.msg.offset).collect();
        assert_eq!(offsets, [16, 17, 18, 19, 20]);
        // A position older than what is kept cannot be recovered exactly.
        let old = Position {
            epoch: layer.epoch().to_owned(),
            offset: 3,
        };
        assert!(
            !layer
                .history("r", query(Some(&old), 100))
                .await
                .unwrap()
                .recovered
        );
        drop(layer);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
