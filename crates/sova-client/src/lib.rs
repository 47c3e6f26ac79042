//! Rust SDK for Sova: REST (`RestClient`) and the realtime frame protocol over
//! WebSocket or TCP (`Realtime`). Used by the end-to-end tests, the bench tool and
//! the desktop client. Every receive has a timeout, so a silent server fails fast.

mod realtime;
mod rest;

pub use realtime::Realtime;
pub use rest::{RawResponse, RestClient};

use sova_types::ApiError;
use std::time::Duration;

/// Default time to wait for a frame or a response.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a typed error (REST status, or an `error` frame).
    #[error("server error {status}: {error}")]
    Api { status: u16, error: ApiError },
    #[error("transport error: {0}")]
    Transport(String),
    #[error("timed out waiting for the server")]
    Timeout,
    #[error("connection closed")]
    Closed,
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The API error code, if the server sent one.
    pub fn code(&self) -> Option<sova_types::ErrorCode> {
        match self {
            ClientError::Api { error, .. } => Some(error.code),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;
