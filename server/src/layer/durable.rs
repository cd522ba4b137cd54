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
//! Presence is node-local and kept in memory (a [`MemoryLayer`]); member
//! states (read receipts) are kept in the store, so a restart keeps them.
//!
//! A client message id (`cid`) is looked up and recorded in the same
//! transaction that appends the message, so a retried publish is never
//! stored twice, even across a crash between the commit and the ack.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use confab_protocol::{Json, Member, Message};
use rand::Rng;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::oneshot;

use super::{
    decode_stored, ChannelLayer, Event, EventSink, History, HistoryQuery, MemoryLayer, Page,
    Payload, Publication, Retention, Stored, StoredMessage,
};
use crate::clock::now_ms;
use crate::error::{Error, Result};

/// `(room, offset)` → the message as JSON.
const MESSAGES: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("messages");
/// room → newest offset (kept when older messages are compacted away).
const HEADS: TableDefinition<'_, &str, u64> = TableDefinition::new("heads");
/// `"epoch"` → the store's history epoch.
const META: TableDefinition<'_, &str, &str> = TableDefinition::new("meta");
/// `(room, client message id)` → `(offset, ts)` of its message.
const CIDS: TableDefinition<'_, (&str, &str), (u64, u64)> = TableDefinition::new("cids");
/// `(room, user)` → the user's state JSON in that room.
const STATES: TableDefinition<'_, (&str, &str), &str> = TableDefinition::new("states");

/// Largest number of commands committed in one transaction.
const MAX_BATCH: usize = 512;
/// How often rooms that grew past their bound are trimmed.
const COMPACT_EVERY: Duration = Duration::from_millis(500);
/// How often every room (not only those written since) is checked for
/// messages past the TTL and client ids past the dedup window.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// What the writer thread is asked to do.
enum Cmd {
    Publish {
        room: String,
        from: Member,
        payload: Payload,
        cid: Option<String>,
        reply: oneshot::Sender<Result<Stored>>,
    },
    SetState {
        room: String,
        user: String,
        state: Option<Json>,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// Room history in a redb file under `--data-dir`, presence in memory.
///
/// ```
/// use std::sync::Arc;
/// use confab_server::layer::{DurableLayer, EventSink, Event, Retention};
/// struct Ignore;
/// impl EventSink for Ignore { fn deliver(&self, _: Event) {} }
/// let dir = std::env::temp_dir().join(format!("confab-doc-{}", std::process::id()));
/// let a = DurableLayer::open(&dir, Retention::messages(100), Arc::new(Ignore)).unwrap();
/// let epoch = a.epoch().to_owned();
/// drop(a);
/// // Reopening keeps the epoch: offsets continue after a restart.
/// let b = DurableLayer::open(&dir, Retention::messages(100), Arc::new(Ignore)).unwrap();
/// assert_eq!(b.epoch(), epoch);
/// # drop(b); std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct DurableLayer {
    epoch: String,
    path: PathBuf,
    db: Arc<Database>,
    retention: Retention,
    presence: MemoryLayer,
    /// None once dropping.
    writer: Option<std_mpsc::Sender<Cmd>>,
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

/// Opens `table` in a read transaction; `None` when it was never created.
macro_rules! read_table {
    ($txn:expr, $def:expr) => {
        match $txn.open_table($def) {
            Ok(t) => Some(t),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(e.into()),
        }
    };
}

impl DurableLayer {
    /// Opens (or creates) `dir/history.redb`, keeping what `retention`
    /// says, and starts the writer thread.
    pub fn open(dir: &Path, retention: Retention, sink: Arc<dyn EventSink>) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("history.redb");
        let mut db = Database::create(&path)?;
        // Give pages freed by earlier trimming back to the file system.
        if let Err(e) = db.compact() {
            tracing::warn!(error = %e, "history store compaction at start failed");
        }
        let epoch = load_or_create_epoch(&db)?;
        let db = Arc::new(db);
        let presence = MemoryLayer::new(retention, sink.clone());
        presence.preload_states(load_states(&db)?);
        let (tx, rx) = std_mpsc::channel();
        let writer = Writer {
            db: db.clone(),
            sink,
            retention,
            heads: HashMap::new(),
            dirty: HashSet::new(),
            last_compaction: Instant::now(),
            last_sweep: Instant::now(),
        };
        let thread = std::thread::Builder::new()
            .name("confab-history-writer".into())
            .spawn(move || writer.run(&rx))?;
        tracing::info!(path = %path.display(), %epoch, "durable history store opened");
        Ok(Self {
            epoch,
            path,
            db,
            retention,
            presence,
            writer: Some(tx),
            thread: Some(thread),
        })
    }

    /// The store's history epoch (kept across restarts).
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    fn send(&self, cmd: Cmd) -> Result<()> {
        (self.writer.as_ref())
            .ok_or_else(writer_stopped)?
            .send(cmd)
            .map_err(|_| writer_stopped())
    }

    fn read_history(
        db: &Database,
        epoch: &str,
        room: &str,
        query: HistoryQuery<'_>,
        oldest_ts: u64,
    ) -> Result<History> {
        let txn = db.begin_read()?;
        let head = match read_table!(txn, HEADS) {
            Some(t) => t.get(room)?.map_or(0, |v| v.value()),
            None => 0,
        };
        let history = |recovered, messages| History {
            epoch: epoch.to_owned(),
            head,
            recovered,
            messages,
        };
        let Some(table) = read_table!(txn, MESSAGES) else {
            let exact = (query.since).is_some_and(|p| p.epoch == epoch && p.offset == head);
            return Ok(history(exact, Vec::new()));
        };
        let oldest = oldest_kept(&table, room, oldest_ts, head)?;
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
        let newest = newest_before(&table, room, u64::MAX, query.limit, oldest_ts)?;
        Ok(history(false, query.newest(newest.iter())))
    }

    fn read_page(
        db: &Database,
        room: &str,
        before: u64,
        query: HistoryQuery<'_>,
        oldest_ts: u64,
    ) -> Result<Page> {
        let txn = db.begin_read()?;
        let Some(table) = read_table!(txn, MESSAGES) else {
            return Ok(Page::default());
        };
        let newest = newest_before(&table, room, before, query.limit, oldest_ts)?;
        let messages = query.newest(newest.iter());
        let more = match messages.first() {
            Some(first) => oldest_kept(&table, room, oldest_ts, u64::MAX - 1)? < first.msg.offset,
            None => false,
        };
        Ok(Page { messages, more })
    }
}

/// The offset of the oldest message of `room` still visible (within the
/// TTL), or `head + 1` when none is.
fn oldest_kept(
    table: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    room: &str,
    oldest_ts: u64,
    head: u64,
) -> Result<u64> {
    for row in table.range((room, 0)..=(room, u64::MAX))? {
        let (k, v) = row?;
        if oldest_ts == 0 || decode_stored(v.value())?.msg.ts >= oldest_ts {
            return Ok(k.value().1);
        }
    }
    Ok(head + 1)
}

/// Up to `limit` of the newest visible messages of `room` below `before`,
/// newest first.
fn newest_before(
    table: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    room: &str,
    before: u64,
    limit: usize,
    oldest_ts: u64,
) -> Result<Vec<Arc<StoredMessage>>> {
    let mut out = Vec::new();
    for row in table.range((room, 0)..(room, before))?.rev() {
        let m = decode_stored(row?.1.value())?;
        if m.msg.ts < oldest_ts || out.len() >= limit.max(1) {
            break;
        }
        out.push(m);
    }
    Ok(out)
}

fn writer_stopped() -> Error {
    Error::Internal("history writer stopped".into())
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
    txn.open_table(CIDS)?;
    txn.open_table(STATES)?;
    txn.commit()?;
    Ok(epoch)
}

/// Every member state in the store: `(room, user, state)`.
fn load_states(db: &Database) -> Result<Vec<(String, String, Json)>> {
    let txn = db.begin_read()?;
    let Some(table) = read_table!(txn, STATES) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        let (room, user) = k.value();
        match Json::parse(v.value()) {
            Ok(state) => out.push((room.to_owned(), user.to_owned(), state)),
            Err(e) => tracing::warn!(room, user, error = %e, "unreadable member state skipped"),
        }
    }
    Ok(out)
}

/// The single writer: assigns offsets, commits batches, then delivers and
/// acknowledges in order; trims rooms past their retention in the
/// background.
struct Writer {
    db: Arc<Database>,
    sink: Arc<dyn EventSink>,
    retention: Retention,
    /// Cached newest offset per room (read from the store on first use).
    heads: HashMap<String, u64>,
    /// Rooms written since the last compaction.
    dirty: HashSet<String>,
    last_compaction: Instant,
    last_sweep: Instant,
}

/// What one command of a committed batch produced.
enum Done {
    Published(Stored, Option<Arc<StoredMessage>>),
    StateSet,
}

impl Writer {
    fn run(mut self, rx: &std_mpsc::Receiver<Cmd>) {
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

    fn write(&mut self, batch: &[Cmd]) -> Result<Vec<Done>> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let mut done = Vec::with_capacity(batch.len());
        {
            let mut heads = txn.open_table(HEADS)?;
            let mut messages = txn.open_table(MESSAGES)?;
            let mut cids = txn.open_table(CIDS)?;
            let mut states = txn.open_table(STATES)?;
            let mut next: HashMap<&str, u64> = HashMap::new();
            for cmd in batch {
                match cmd {
                    Cmd::Publish {
                        room,
                        from,
                        payload,
                        cid,
                        ..
                    } => {
                        // Seen before (an earlier batch, or this one): the
                        // first one's place, nothing stored.
                        if let Some(c) = cid {
                            if let Some(v) = cids.get((room.as_str(), c.as_str()))? {
                                let (offset, ts) = v.value();
                                done.push(Done::Published(
                                    Stored {
                                        offset,
                                        ts,
                                        fresh: false,
                                    },
                                    None,
                                ));
                                continue;
                            }
                        }
                        let offset = match next.get(room.as_str()) {
                            Some(h) => h + 1,
                            None => self.head(&heads, room)? + 1,
                        };
                        next.insert(room, offset);
                        let ts = now_ms();
                        let msg = Message {
                            room: room.clone(),
                            offset,
                            from: from.clone(),
                            ts,
                            payload: payload.clone(),
                            cid: cid.clone(),
                        };
                        let json =
                            serde_json::to_vec(&msg).map_err(|e| Error::Internal(e.to_string()))?;
                        messages.insert((room.as_str(), offset), json.as_slice())?;
                        if let Some(c) = cid {
                            cids.insert((room.as_str(), c.as_str()), (offset, ts))?;
                        }
                        let stored = Stored {
                            offset,
                            ts,
                            fresh: true,
                        };
                        done.push(Done::Published(
                            stored,
                            Some(Arc::new(StoredMessage::new(msg))),
                        ));
                    }
                    Cmd::SetState {
                        room, user, state, ..
                    } => {
                        match state {
                            Some(s) => states.insert((room.as_str(), user.as_str()), s.text())?,
                            None => states.remove((room.as_str(), user.as_str()))?,
                        };
                        done.push(Done::StateSet);
                    }
                }
            }
            for (room, head) in &next {
                heads.insert(*room, *head)?;
            }
        }
        txn.commit()?;
        Ok(done)
    }

    fn commit(&mut self, batch: Vec<Cmd>) {
        match self.write(&batch) {
            Ok(done) => {
                for (cmd, done) in batch.into_iter().zip(done) {
                    match (cmd, done) {
                        (Cmd::Publish { room, reply, .. }, Done::Published(stored, message)) => {
                            if let Some(message) = message {
                                self.heads.insert(room.clone(), stored.offset);
                                self.dirty.insert(room);
                                self.sink.deliver(Event::Message(message));
                            }
                            let _ = reply.send(Ok(stored));
                        }
                        (Cmd::SetState { reply, .. }, _) => {
                            let _ = reply.send(Ok(()));
                        }
                        (Cmd::Publish { reply, .. }, Done::StateSet) => {
                            let _ = reply.send(Err(Error::Internal("writer mismatch".into())));
                        }
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "history store write failed");
                // The cache may be ahead of what was committed.
                self.heads.clear();
                let fail = || Error::Internal(format!("history store write failed: {e}"));
                for cmd in batch {
                    match cmd {
                        Cmd::Publish { reply, .. } => {
                            let _ = reply.send(Err(fail()));
                        }
                        Cmd::SetState { reply, .. } => {
                            let _ = reply.send(Err(fail()));
                        }
                    }
                }
            }
        }
    }

    /// Deletes what the retention no longer keeps: messages older than the
    /// newest `messages` of each room written since the last pass, and
    /// (every [`SWEEP_EVERY`], in every room) messages past the TTL and
    /// client ids past the dedup window whose messages are gone.
    fn compact(&mut self) {
        self.last_compaction = Instant::now();
        let sweep = self.last_sweep.elapsed() >= SWEEP_EVERY;
        if self.dirty.is_empty() && !sweep {
            return;
        }
        if sweep {
            self.last_sweep = Instant::now();
        }
        let dirty: Vec<String> = self.dirty.drain().collect();
        let retention = self.retention;
        let heads = self.heads.clone();
        let result = (|| -> Result<()> {
            let txn = self.db.begin_write()?;
            {
                let mut messages = txn.open_table(MESSAGES)?;
                let mut cids = txn.open_table(CIDS)?;
                let rooms: Vec<String> = if sweep {
                    let table = txn.open_table(HEADS)?;
                    let all: Vec<String> = table
                        .iter()?
                        .map(|r| r.map(|(k, _)| k.value().to_owned()))
                        .collect::<std::result::Result<_, _>>()?;
                    all
                } else {
                    dirty
                };
                let now = now_ms();
                let oldest_ts = retention.oldest_ts(now);
                for room in &rooms {
                    let room = room.as_str();
                    if let Some(head) = heads.get(room) {
                        if let Some(keep_from) = head.checked_sub(retention.messages as u64) {
                            messages.retain_in((room, 0)..(room, keep_from + 1), |_, _| false)?;
                        }
                    }
                    if oldest_ts > 0 {
                        let mut expired = Vec::new();
                        for row in messages.range((room, 0)..=(room, u64::MAX))? {
                            let (k, v) = row?;
                            if decode_stored(v.value())?.msg.ts >= oldest_ts {
                                break;
                            }
                            expired.push(k.value().1);
                        }
                        for offset in expired {
                            messages.remove((room, offset))?;
                        }
                    }
                    if sweep {
                        let oldest = messages
                            .range((room, 0)..=(room, u64::MAX))?
                            .next()
                            .transpose()?
                            .map_or(u64::MAX, |(k, _)| k.value().1);
                        let mut forget = Vec::new();
                        for row in cids.range((room, "")..)? {
                            let (k, v) = row?;
                            let (r, cid) = k.value();
                            if r != room {
                                break;
                            }
                            let (offset, ts) = v.value();
                            if retention.forgets_cid(offset, ts, oldest, now) {
                                forget.push(cid.to_owned());
                            }
                        }
                        for cid in forget {
                            cids.remove((room, cid.as_str()))?;
                        }
                    }
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
    async fn publish(&self, p: Publication<'_>) -> Result<Stored> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Publish {
            room: p.room.to_owned(),
            from: p.from.clone(),
            payload: p.payload,
            cid: p.cid.map(str::to_owned),
            reply,
        })?;
        rx.await.map_err(|_| writer_stopped())?
    }

    async fn history(&self, room: &str, query: HistoryQuery<'_>) -> Result<History> {
        let db = self.db.clone();
        let epoch = self.epoch.clone();
        let room = room.to_owned();
        let since = query.since.cloned();
        let (limit, max_bytes) = (query.limit, query.max_bytes);
        let oldest_ts = self.retention.oldest_ts(now_ms());
        tokio::task::spawn_blocking(move || {
            let query = HistoryQuery {
                since: since.as_ref(),
                limit,
                max_bytes,
            };
            Self::read_history(&db, &epoch, &room, query, oldest_ts)
        })
        .await
        .map_err(|e| Error::Internal(format!("history read task: {e}")))?
    }

    async fn page(
        &self,
        room: &str,
        before: Option<u64>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Page> {
        let db = self.db.clone();
        let room = room.to_owned();
        let oldest_ts = self.retention.oldest_ts(now_ms());
        tokio::task::spawn_blocking(move || {
            let query = HistoryQuery {
                since: None,
                limit,
                max_bytes,
            };
            Self::read_page(&db, &room, before.unwrap_or(u64::MAX), query, oldest_ts)
        })
        .await
        .map_err(|e| Error::Internal(format!("history read task: {e}")))?
    }

    async fn signal(&self, room: &str, from: &Member, payload: Payload) -> Result<()> {
        self.presence.signal(room, from, payload).await
    }

    async fn set_state(&self, room: &str, user_id: &str, state: Option<Json>) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::SetState {
            room: room.to_owned(),
            user: user_id.to_owned(),
            state: state.clone(),
            reply,
        })?;
        rx.await.map_err(|_| writer_stopped())??;
        self.presence.set_state(room, user_id, state).await
    }

    async fn rooms(&self) -> Result<Vec<(String, usize)>> {
        self.presence.rooms().await
    }

    async fn disconnect_user(&self, user_id: &str) -> Result<()> {
        self.presence.disconnect_user(user_id).await
    }

    async fn remove_member(&self, room: &str, user_id: &str) -> Result<()> {
        self.presence.remove_member(room, user_id).await
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

    fn member() -> &'static Member {
        static M: std::sync::OnceLock<Member> = std::sync::OnceLock::new();
        M.get_or_init(|| Member::new("u1", "U"))
    }

    fn publication<'a>(room: &'a str, payload: Payload, cid: Option<&'a str>) -> Publication<'a> {
        Publication {
            room,
            from: member(),
            payload,
            cid,
        }
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
        let a = DurableLayer::open(&dir, Retention::messages(100), sink.clone()).unwrap();
        for n in 1..=3 {
            let m = a
                .publish(publication("lobby", payload(n), None))
                .await
                .unwrap();
            assert_eq!(m.offset, n);
        }
        let epoch = a.epoch().to_owned();
        drop(a);
        let b = DurableLayer::open(&dir, Retention::messages(100), sink.clone()).unwrap();
        assert_eq!(b.epoch(), epoch);
        let m = b
            .publish(publication("lobby", payload(4), None))
            .await
            .unwrap();
        assert_eq!(m.offset, 4);
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
        let layer =
            DurableLayer::open(&dir, Retention::messages(5), Arc::new(Collect::default())).unwrap();
        for n in 1..=20 {
            layer
                .publish(publication("r", payload(n), None))
                .await
                .unwrap();
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

    #[tokio::test]
    async fn a_repeated_cid_is_stored_once_even_across_a_reopen() {
        let dir = tempdir("cid");
        let sink = Arc::new(Collect::default());
        let a = DurableLayer::open(&dir, Retention::messages(100), sink.clone()).unwrap();
        let first = a
            .publish(publication("r", payload(1), Some("c-1")))
            .await
            .unwrap();
        assert!(first.fresh);
        let again = a
            .publish(publication("r", payload(1), Some("c-1")))
            .await
            .unwrap();
        assert_eq!(
            (again.offset, again.ts, again.fresh),
            (first.offset, first.ts, false)
        );
        drop(a);
        let b = DurableLayer::open(&dir, Retention::messages(100), sink.clone()).unwrap();
        let after = b
            .publish(publication("r", payload(1), Some("c-1")))
            .await
            .unwrap();
        assert_eq!(
            (after.offset, after.ts, after.fresh),
            (first.offset, first.ts, false)
        );
        let other = b
            .publish(publication("r", payload(2), Some("c-2")))
            .await
            .unwrap();
        assert_eq!(other.offset, 2);
        // Another room does not share ids.
        assert!(
            b.publish(publication("s", payload(1), Some("c-1")))
                .await
                .unwrap()
                .fresh
        );
        assert_eq!(*sink.0.lock().unwrap(), [1, 2, 1], "delivered once each");
        drop(b);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn pages_go_back_to_the_beginning_and_states_survive_a_reopen() {
        let dir = tempdir("page");
        let a = DurableLayer::open(&dir, Retention::messages(100), Arc::new(Collect::default()))
            .unwrap();
        for n in 1..=7 {
            a.publish(publication("r", payload(n), None)).await.unwrap();
        }
        let offsets = |p: &Page| p.messages.iter().map(|m| m.msg.offset).collect::<Vec<_>>();
        let p = a.page("r", None, 3, usize::MAX).await.unwrap();
        assert_eq!((offsets(&p), p.more), (vec![5, 6, 7], true));
        let p = a.page("r", Some(5), 3, usize::MAX).await.unwrap();
        assert_eq!((offsets(&p), p.more), (vec![2, 3, 4], true));
        let p = a.page("r", Some(2), 3, usize::MAX).await.unwrap();
        assert_eq!((offsets(&p), p.more), (vec![1], false));
        let state = Json::parse(r#"{"read":7}"#).unwrap();
        a.set_state("r", "u1", Some(state.clone())).await.unwrap();
        drop(a);
        let b = DurableLayer::open(&dir, Retention::messages(100), Arc::new(Collect::default()))
            .unwrap();
        let members = b.presence_join("r", member()).await.unwrap();
        assert_eq!(members[0].state.as_ref(), Some(&state));
        drop(b);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
