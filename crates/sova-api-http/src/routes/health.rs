use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use sova_service::Services;
use sova_types::ApiError;
use std::sync::Arc;

use crate::HttpError;

/// # GET /health
/// 200 when the database answers; 503 otherwise.
pub async fn health(State(s): State<Arc<Services>>) -> Result<Json<Value>, HttpError> {
    match s.stores.messages.last_message_id().await {
        Ok(_) => Ok(Json(json!({"status": "ok", "database": s.stores.backend}))),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            Err(ApiError::unavailable("database unavailable").into())
        }
    }
}

/// # GET /metrics
/// Prometheus text: logins, security events (rate limits, lockouts, CAPTCHAs,
/// blocks, new devices), revoked sessions, messages, open connections.
pub async fn metrics(State(s): State<Arc<Services>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = s.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
