//! The server's error type.

use confab_protocol::ErrorCode;

/// Errors of the channel layer and server operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The channel layer's backend cannot be reached; nothing was stored.
    #[error("channel layer unavailable: {0}")]
    Unavailable(String),
    /// The request itself is invalid (e.g. a payload nested too deeply);
    /// retrying it unchanged fails the same way.
    #[error("{0}")]
    BadRequest(String),
    /// An unexpected fault.
    #[error("internal error: {0}")]
    Internal(String),
    /// Binding or serving the listener failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The wire error code a client sees for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::BadRequest(_) => ErrorCode::BadRequest,
            Self::Internal(_) | Self::Io(_) => ErrorCode::Internal,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
