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
