//! The one error model: a closed set of snake_case codes, each with an HTTP status,
//! and a human message that never carries internal details.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Error codes shared by every transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    RateLimited,
    TooLarge,
    /// An upload would take the uploader past their storage quota (`USER_QUOTA_BYTES`).
    QuotaExceeded,
    /// The contents contradict the declared type (e.g. an "image" that is not one).
    UnsupportedMediaType,
    /// The connection's outbound queue overflowed; it is closed and may resume from its last `seq`.
    SlowConsumer,
    /// This address must solve a proof-of-work challenge (`GET /api/captcha`) first.
    CaptchaRequired,
    /// A game move that is not legal in the game's current position (or does not
    /// parse); the game is unchanged.
    InvalidMove,
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// HTTP status used when this code is returned over REST.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict => 409,
            ErrorCode::TooLarge => 413,
            ErrorCode::QuotaExceeded => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::RateLimited => 429,
            ErrorCode::SlowConsumer => 503,
            ErrorCode::CaptchaRequired => 403,
            ErrorCode::InvalidMove => 422,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }

    /// The wire spelling, e.g. `bad_request`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::SlowConsumer => "slow_consumer",
            ErrorCode::CaptchaRequired => "captcha_required",
            ErrorCode::InvalidMove => "invalid_move",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed error as clients see it: `{"code","message","details"?}` on REST, inside an
/// `error` frame on sockets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// For `rate_limited`: seconds until a retry may succeed (also `Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Machine-readable facts about the error a client can act on, e.g.
    /// `{"max":4096}` on `too_large`, `{"retry_after":30}` on `rate_limited`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            retry_after: None,
            details: None,
        }
    }

    /// The same error with machine-readable `details` (an object).
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// `too_large` with the limit a client must stay within: `details.max`.
    pub fn too_large_max(message: impl Into<String>, max: u64) -> Self {
        Self::new(ErrorCode::TooLarge, message).with_details(serde_json::json!({ "max": max }))
    }

    /// `rate_limited`, retry after `secs` seconds.
    pub fn rate_limited(message: impl Into<String>, secs: u64) -> Self {
        let secs = secs.max(1);
        ApiError {
            retry_after: Some(secs),
            details: Some(serde_json::json!({ "retry_after": secs })),
            ..Self::new(ErrorCode::RateLimited, message)
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::TooLarge, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }
    /// A generic internal error; the cause is logged by the caller, never sent.
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal server error")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}
