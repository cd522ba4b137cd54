//! A channel layer that fails (as Redis does when unreachable): requests get
//! `unavailable`, nothing is acknowledged, the connection stays usable.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use confab_protocol::{Json, Member};
use confab_server::layer::{
    ChannelLayer, History, HistoryQuery, MemoryLayer, Page, Payload, Publication, Retention, Stored,
};
use confab_server::{AppState, Config, Error, Result};
use serde_json::json;

/// The real memory layer, with an outage switch.
struct Flaky {
    inner: MemoryLayer,
    down: Arc<AtomicBool>,
}

impl Flaky {
    fn check(&self) -> Result<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(Error::Unavailable("test outage".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl ChannelLayer for Flaky {
    async fn publish(&self, p: Publication<'_>) -> Result<Stored> {
        self.check()?;
        self.inner.publish(p).await
    }
    async fn page(
        &self,
        room: &str,
        before: Option<u64>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Page> {
        self.check()?;
        self.inner.page(room, before, limit, max_bytes).await
    }
    async fn signal(&self, room: &str, from: &Member, payload: Payload) -> Result<()> {
        self.check()?;
        self.inner.signal(room, from, payload).await
    }
    async fn rooms(&self) -> Result<Vec<(String, usize)>> {
        self.check()?;
        self.inner.rooms().await
    }
    async fn disconnect_user(&self, user_id: &str) -> Result<()> {
        self.check()?;
        self.inner.disconnect_user(user_id).await
    }
    async fn remove_member(&self, room: &str, user_id: &str) -> Result<()> {
        self.check()?;
        self.inner.remove_member(room, user_id).await
    }
    async fn set_state(&self, room: &str, user_id: &str, state: Option<Json>) -> Result<()> {
        self.check()?;
        self.inner.set_state(room, user_id, state).await
    }
    async fn history(&self, room: &str, query: HistoryQuery<'_>) -> Result<History> {
        self.check()?;
        self.inner.history(room, query).await
    }
    async fn presence_join(&self, room: &str, member: &Member) -> Result<Vec<Member>> {
        self.check()?;
        self.inner.presence_join(room, member).await
    }
    async fn presence_leave(&self, room: &str, user_id: &str) -> Result<()> {
        self.inner.presence_leave(room, user_id).await
    }
    async fn presence_update(&self, room: &str, member: &Member) -> Result<()> {
        self.check()?;
        self.inner.presence_update(room, member).await
    }
    async fn members(&self, room: &str) -> Result<Vec<Member>> {
        self.check()?;
        self.inner.members(room).await
    }
    async fn subscribe(&self, room: &str) -> Result<()> {
        self.inner.subscribe(room).await
    }
    async fn unsubscribe(&self, room: &str) -> Result<()> {
        self.inner.unsubscribe(room).await
    }
}

#[tokio::test]
async fn layer_outage_gives_unavailable_and_nothing_is_acked() {
    let config = Config {
        api_key: Some("k".into()),
        ..config()
    };
    let down = Arc::new(AtomicBool::new(false));
    let outage = down.clone();
    let state = AppState::with_layer(config, |sink| {
        Arc::new(Flaky {
            inner: MemoryLayer::new(Retention::messages(100), sink),
            down: outage,
        })
    });
    let server = serve(state).await;
    let addr = server.addr;

    let (mut ws, _) = native(&server, "").await;
    join(&mut ws, "r").await;
    publish(&mut ws, "r", "ok", json!(1)).await;

    down.store(true, Ordering::SeqCst);
    for frame in [
        json!({"type": "publish", "ref": "p", "room": "r", "payload": 2}),
        json!({"type": "join", "ref": "j", "room": "other"}),
        json!({"type": "direct", "ref": "d", "to": "someone", "payload": 3}),
        json!({"type": "list", "ref": "l", "room": "r"}),
    ] {
        send(&mut ws, frame.clone()).await;
        let e = recv(&mut ws).await;
        assert_eq!(e["type"], "error", "{frame}: {e}");
        assert_eq!(e["code"], "unavailable", "{frame}: {e}");
        assert_eq!(e["ref"], frame["ref"]);
    }
    let (status, body) = http(
        addr,
        "POST",
        "/api/rooms/r/messages",
        &[("Authorization", "Bearer k")],
        "1",
    )
    .await;
    assert_eq!(status, 503, "{body}");

    // Back up: the failed publish was never stored (next offset is 2), and
    // the failed join did not count as joined.
    down.store(false, Ordering::SeqCst);
    let ack = publish(&mut ws, "r", "again", json!(4)).await;
    assert_eq!(ack["offset"], 2);
    send(
        &mut ws,
        json!({"type": "publish", "ref": "x", "room": "other", "payload": 5}),
    )
    .await;
    assert_eq!(recv(&mut ws).await["code"], "not_joined");
}
