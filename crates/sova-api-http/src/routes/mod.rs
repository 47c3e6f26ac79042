//! Route table. One module per domain; each handler's doc starts with its method and path.

mod auth;
mod health;
mod messages;

use crate::HttpError;
use axum::Router;
use axum::routing::{get, post};
use sova_service::Services;
use sova_types::{ApiError, ErrorCode};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Services>> {
    Router::new()
        .route("/health", get(health::health))
        .route("/api/register", post(auth::register))
        .route("/api/login", post(auth::login))
        .route("/api/refresh", post(auth::refresh))
        .route("/api/logout", post(auth::logout))
        .route("/api/send", post(messages::send))
        .route("/api/history", get(messages::history))
}

pub async fn not_found() -> HttpError {
    ApiError::not_found("no such endpoint").into()
}

pub async fn method_not_allowed() -> HttpError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this endpoint",
    )
    .into()
}
