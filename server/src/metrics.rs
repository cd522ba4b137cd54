//! Prometheus counters, rendered by `GET /metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use confab_protocol::ErrorCode;

/// Server-wide counters (all relaxed atomics).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Open WebSocket connections.
    pub connections: AtomicI64,
    /// Messages stored (published by clients, compat sockets or the API).
    pub messages_in: AtomicU64,
    /// Publishes whose client message id was seen: acked, not stored again.
    pub duplicates: AtomicU64,
    /// Frames queued to connections.
    pub messages_out: AtomicU64,
    /// Frames dropped because a connection's queue was full.
    pub dropped: AtomicU64,
    /// Connections closed as slow consumers (4001).
    pub slow_consumers: AtomicU64,
    /// WebSocket handshakes refused by a connection limit (429/503).
    pub refused_connections: AtomicU64,
    /// Webhook events queued for delivery.
    pub webhook_queued: AtomicU64,
    /// Webhook events dropped because the queue was full.
    pub webhook_dropped: AtomicU64,
    /// Webhook events the backend took (2xx).
    pub webhook_delivered: AtomicU64,
    /// Webhook deliveries that failed and are retried.
    pub webhook_failures: AtomicU64,
    /// Failed channel-layer (Redis) operations.
    pub layer_errors: AtomicU64,
    /// Channel-layer (Redis pub/sub) reconnections.
    pub layer_reconnects: AtomicU64,
    errors: [AtomicU64; ErrorCode::ALL.len()],
}

impl Metrics {
    /// Counts an error envelope sent with `code`.
    pub fn error(&self, code: ErrorCode) {
        if let Some(i) = ErrorCode::ALL.iter().position(|c| *c == code) {
            self.errors[i].fetch_add(1, Relaxed);
        }
    }

    /// Prometheus text exposition; `rooms` is the number of rooms with local
    /// subscribers.
    pub fn render(&self, rooms: usize) -> String {
        let mut out = String::with_capacity(2048);
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            );
        };
        metric(
            "confab_connections",
            "gauge",
            "Open WebSocket connections.",
            self.connections.load(Relaxed).to_string(),
        );
        metric(
            "confab_rooms",
            "gauge",
            "Rooms with at least one connection on this server.",
            rooms.to_string(),
        );
        metric(
            "confab_messages_in_total",
            "counter",
            "Room messages stored.",
            self.messages_in.load(Relaxed).to_string(),
        );
        metric(
            "confab_duplicates_total",
            "counter",
            "Publishes answered from their client message id (not stored again).",
            self.duplicates.load(Relaxed).to_string(),
        );
        metric(
            "confab_messages_out_total",
            "counter",
            "Frames queued to connections.",
            self.messages_out.load(Relaxed).to_string(),
        );
        metric(
            "confab_dropped_total",
            "counter",
            "Frames dropped because a connection's outbound queue was full.",
            self.dropped.load(Relaxed).to_string(),
        );
        metric(
            "confab_slow_consumers_total",
            "counter",
            "Connections closed with 4001 (slow consumer).",
            self.slow_consumers.load(Relaxed).to_string(),
        );
        metric(
            "confab_refused_connections_total",
            "counter",
            "WebSocket handshakes refused by --max-connections(-per-ip).",
            self.refused_connections.load(Relaxed).to_string(),
        );
        for (name, help, v) in [
            (
                "confab_webhook_queued_total",
                "Webhook events queued for delivery.",
                &self.webhook_queued,
            ),
            (
                "confab_webhook_dropped_total",
                "Webhook events dropped because the queue was full.",
                &self.webhook_dropped,
            ),
            (
                "confab_webhook_delivered_total",
                "Webhook events the backend took (2xx).",
                &self.webhook_delivered,
            ),
            (
                "confab_webhook_failures_total",
                "Webhook deliveries that failed and are retried.",
                &self.webhook_failures,
            ),
        ] {
            metric(name, "counter", help, v.load(Relaxed).to_string());
        }
        metric(
            "confab_layer_errors_total",
            "counter",
            "Failed channel-layer (Redis) operations.",
            self.layer_errors.load(Relaxed).to_string(),
        );
        metric(
            "confab_layer_reconnects_total",
            "counter",
            "Channel-layer (Redis pub/sub) reconnections.",
            self.layer_reconnects.load(Relaxed).to_string(),
        );
        out.push_str("# HELP confab_errors_total Error envelopes sent, by code.\n");
        out.push_str("# TYPE confab_errors_total counter\n");
        for (code, n) in ErrorCode::ALL.iter().zip(&self.errors) {
            let _ = writeln!(
                out,
                "confab_errors_total{{code=\"{code}\"}} {}",
                n.load(Relaxed)
            );
        }
        out
    }
}
