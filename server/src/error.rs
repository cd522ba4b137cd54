//! The server's error type. Each failure keeps its cause (`source()`), and
//! [`Error::code`] is the one place that says which protocol error code a
//! client sees for it.

use std::time::Duration;

use confab_protocol::ErrorCode;

/// Errors of the channel layer and server operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A Redis command failed.
    #[error("redis {op}: {source}")]
    Redis {
        /// What the layer was doing.
        op: &'static str,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// A Redis command got no answer in time.
    #[error("redis {op}: no answer within {after:?}")]
    RedisTimeout {
        /// What the layer was doing.
        op: &'static str,
        /// The deadline.
        after: Duration,
    },
    /// A request that changes state was sent and no answer came (a timeout,
    /// or the link dropped while it was in flight): it may have been
    /// applied. See [`Error::sent`].
    #[error("no answer, the request may or may not have been applied: {0}")]
    OutcomeUnknown(#[source] Box<Error>),
    /// The durable history store (redb) failed.
    #[error("history store: {0}")]
    Store(#[from] redb::Error),
    /// A stored message or pub/sub frame could not be decoded.
    #[error("{what} is corrupt: {source}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The channel layer cannot serve the request right now (e.g. its
    /// pub/sub link is reconnecting); nothing was stored.
    #[error("channel layer unavailable: {0}")]
    Unavailable(String),
    /// The node is shutting down and refuses new messages.
    #[error("server is restarting")]
    ShuttingDown,
    /// The request itself is invalid (e.g. a payload nested too deeply);
    /// retrying it unchanged fails the same way.
    #[error("{0}")]
    BadRequest(String),
    /// An unexpected fault.
    #[error("internal error: {0}")]
    Internal(String),
    /// The server's settings are inconsistent (found at start).
    #[error("configuration: {0}")]
    Config(String),
    /// Binding or serving the listener, or a file of the data directory.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// redb reports each step with its own type; all of them are store errors.
macro_rules! store_errors {
    ($($t:ty),+) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Self::Store(e.into())
            }
        }
    )+};
}
store_errors!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

impl Error {
    /// This error, for a request that changes state (a publish): a timeout
    /// or a link lost while it was in flight becomes
    /// [`Error::OutcomeUnknown`], because the backend may have applied it;
    /// a refused connection or an error reply stays as it is (nothing was
    /// applied).
    pub fn sent(self) -> Self {
        let uncertain = match &self {
            Self::RedisTimeout { .. } => true,
            Self::Redis { source, .. } => {
                !source.is_connection_refusal()
                    && (source.is_timeout()
                        || source.is_connection_dropped()
                        || source.is_io_error())
            }
            _ => false,
        };
        if uncertain {
            Self::OutcomeUnknown(Box::new(self))
        } else {
            self
        }
    }

    /// The wire error code a client sees for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::OutcomeUnknown(_) => ErrorCode::OutcomeUnknown,
            Self::Redis { .. }
            | Self::RedisTimeout { .. }
            | Self::Unavailable(_)
            | Self::ShuttingDown => ErrorCode::Unavailable,
            Self::BadRequest(_) => ErrorCode::BadRequest,
            Self::Store(_)
            | Self::Corrupt { .. }
            | Self::Internal(_)
            | Self::Config(_)
            | Self::Io(_) => ErrorCode::Internal,
        }
    }

    /// Whether the failure is the server's own (worth a warning in the log),
    /// rather than the client's request.
    pub fn is_server_fault(&self) -> bool {
        !matches!(self, Self::BadRequest(_) | Self::ShuttingDown)
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn sources_are_kept_and_codes_mapped_in_one_place() {
        let io = std::io::Error::other("disk on fire");
        let e = Error::from(redb::StorageError::Io(io));
        assert_eq!(e.code(), ErrorCode::Internal);
        assert!(e.source().is_some(), "{e}");
        let json = serde_json::from_str::<u8>("x").unwrap_err();
        let e = Error::Corrupt {
            what: "stored message",
            source: json,
        };
        assert!(e.source().is_some());
        assert_eq!(Error::ShuttingDown.code(), ErrorCode::Unavailable);
        let timeout = Error::RedisTimeout {
            op: "publish",
            after: Duration::from_secs(3),
        };
        assert_eq!(timeout.code(), ErrorCode::Unavailable);
        let sent = timeout.sent();
        assert_eq!(sent.code(), ErrorCode::OutcomeUnknown);
        assert!(sent.source().is_some());
        assert_eq!(Error::ShuttingDown.sent().code(), ErrorCode::Unavailable);
        assert_eq!(Error::BadRequest("x".into()).code(), ErrorCode::BadRequest);
    }
}
