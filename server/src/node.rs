//! What this node's channel layer reports to: the hub, which fans events
//! out to the local connections, and the webhooks, which tell the
//! application's backend about membership changes.

use std::sync::Arc;

use confab_protocol::Member;

use crate::backend::{WebhookEvent, Webhooks};
use crate::fanout::{Event, EventSink, Hub, PresenceChange};

/// The sink a layer is built with (see [`crate::AppState`]).
pub(crate) struct NodeSink {
    pub(crate) hub: Arc<Hub>,
    pub(crate) webhooks: Option<Arc<Webhooks>>,
}

impl EventSink for NodeSink {
    fn deliver(&self, event: Event) {
        self.hub.deliver(event);
    }

    fn renamed(&self, member: &Member) -> Vec<String> {
        self.hub.renamed(member)
    }

    fn presence_changed(&self, change: PresenceChange) {
        if let Some(w) = &self.webhooks {
            for event in WebhookEvent::from_change(change) {
                w.emit(event);
            }
        }
    }

    fn disconnect_user(&self, user_id: &str) {
        self.hub.disconnect_user(user_id);
    }

    fn remove_member(&self, room: &str, user_id: &str) {
        self.hub.remove_member(room, user_id);
    }

    fn history_lost(&self) {
        self.hub.history_lost();
    }
}
