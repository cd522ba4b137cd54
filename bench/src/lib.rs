//! Side-by-side benchmarks for Confab: a native load generator
//! (`confab-load`) that speaks Confab's native protocol, the seed-style
//! `/ws/chat/{room}/` JSON and Socket.IO's engine.io v4 websocket transport,
//! plus the "no framework" ceiling server (`raw-broadcast`).
//!
//! Every benchmark message carries a [`Stamp`] (publisher id, sequence number
//! and send time), so receivers compute end-to-end latency and count loss and
//! duplicates whatever server relays it.
//!
//! ```
//! use confab_bench::Stamp;
//! let s = Stamp { publisher: 3, seq: 17, sent_us: 123_456 };
//! let frame = format!(r#"{{"message": "{}"}}"#, s.encode());
//! assert_eq!(Stamp::find(&frame, "message"), Some(s));
//! ```

pub mod member;
pub mod procfs;
pub mod proto;
pub mod scenario;
pub mod stamp;
pub mod stats;

pub use proto::Protocol;
pub use stamp::{now_us, Stamp};

/// Everything that can go wrong while driving a benchmark.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// WebSocket connect or I/O failure.
    #[error("websocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    /// Local I/O failure (procfs, spawning a server, ...).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The server broke the protocol (unexpected frame, error envelope, ...).
    #[error("protocol: {0}")]
    Protocol(String),
    /// A step did not finish in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// Bad command-line input.
    #[error("{0}")]
    Usage(String),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
