//! The route table: every registry operation (`crate::ops`), plus the few routes
//! that are not JSON operations (health, metrics, the OpenAPI document, the 2FA QR
//! image), whose documentation `sova_ops::openapi` carries too.

mod health;

use crate::HttpError;
use crate::extract::Authed;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sova_service::Services;
use sova_types::{ApiError, ErrorCode};
use std::sync::{Arc, OnceLock};

/// Every route of the REST API.
pub fn routes() -> Router<Arc<Services>> {
    Router::new()
        .route("/health", get(health::health))
        .route("/metrics", get(health::metrics))
        .route("/api/openapi.json", get(openapi))
        .route("/api/2fa/qr.png", get(totp_qr))
        .merge(crate::ops::routes())
}

/// The JSON 404 for an unknown path.
pub fn not_found_response() -> HttpError {
    ApiError::not_found("no such endpoint").into()
}

pub async fn method_not_allowed() -> HttpError {
    ApiError::new(ErrorCode::MethodNotAllowed, "method not allowed on this endpoint").into()
}

/// # GET /api/openapi.json
/// The OpenAPI 3.1 description of every REST route, generated from the registry.
pub async fn openapi() -> Response {
    static DOC: OnceLock<String> = OnceLock::new();
    let doc = DOC.get_or_init(sova_ops::openapi::document_json);
    ([(axum::http::header::CONTENT_TYPE, "application/json")], doc.as_str()).into_response()
}

/// # GET /api/2fa/qr.png
/// The pending (or active) secret as a PNG QR code.
pub async fn totp_qr(State(s): State<Arc<Services>>, Authed(u): Authed) -> Result<Response, HttpError> {
    let png = s.auth.totp_qr_png(&u).await?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "image/png"),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        png,
    )
        .into_response())
}
