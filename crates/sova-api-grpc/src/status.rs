//! `ApiError` → gRPC status: the code maps to the closest status code, the error code
//! itself travels as `google.rpc.ErrorInfo { reason: code, domain: "sova", metadata:
//! details }` (plus `RetryInfo` when the client should wait), so clients branch on
//! the same codes as on every other transport.

use sova_types::{ApiError, ErrorCode};
use std::collections::HashMap;
use std::time::Duration;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every Sova error.
pub const DOMAIN: &str = "sova";

/// The gRPC status code for an error code.
pub fn code(c: ErrorCode) -> Code {
    match c {
        ErrorCode::BadRequest => Code::InvalidArgument,
        ErrorCode::Unauthorized => Code::Unauthenticated,
        ErrorCode::Forbidden => Code::PermissionDenied,
        ErrorCode::NotFound => Code::NotFound,
        ErrorCode::MethodNotAllowed => Code::Unimplemented,
        ErrorCode::Conflict => Code::Aborted,
        ErrorCode::RateLimited => Code::ResourceExhausted,
        ErrorCode::TooLarge => Code::OutOfRange,
        // Storage quota: the standard mapping of an exhausted per-user resource.
        ErrorCode::QuotaExceeded => Code::ResourceExhausted,
        ErrorCode::UnsupportedMediaType => Code::InvalidArgument,
        ErrorCode::Unavailable => Code::Unavailable,
        ErrorCode::SlowConsumer => Code::ResourceExhausted,
        ErrorCode::CaptchaRequired => Code::FailedPrecondition,
        ErrorCode::InvalidMove => Code::FailedPrecondition,
        ErrorCode::Internal => Code::Internal,
    }
}

/// The status for `e`, with its code and details in `ErrorInfo`.
pub fn status(e: &ApiError) -> Status {
    let metadata: HashMap<String, String> = match &e.details {
        Some(serde_json::Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect(),
        Some(other) => HashMap::from([("details".to_owned(), other.to_string())]),
        None => HashMap::new(),
    };
    let mut details = ErrorDetails::with_error_info(e.code.as_str(), DOMAIN, metadata);
    if let Some(secs) = e.retry_after {
        details.set_retry_info(Some(Duration::from_secs(secs)));
    }
    Status::with_error_details(code(e.code), e.message.clone(), details)
}
