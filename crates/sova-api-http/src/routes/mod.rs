//! The route table: every registry operation (`crate::ops`), plus the few routes
//! that are not JSON operations (health, metrics, the OpenAPI document, the 2FA QR
//! image, the streamed file endpoints), whose documentation `sova_ops::openapi`
//! carries too (`RAW_ROUTES` lists them; a test holds the two together).

mod files;
mod health;
mod uploads;

use crate::HttpError;
use crate::extract::Authed;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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
        .route("/api/files", post(files::upload))
        .route("/api/files/{id}", get(files::download).delete(files::delete))
        .route("/api/files/{id}/thumbnail", get(files::thumbnail))
        .route("/api/uploads", post(uploads::create))
        .route(
            "/api/uploads/{id}",
            get(uploads::status).head(uploads::head).patch(uploads::append),
        )
        .merge(crate::ops::routes())
}

/// Every route served outside the registry, as (method, path) in OpenAPI spelling.
pub const RAW_ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
    ("get", "/api/2fa/qr.png"),
    ("post", "/api/files"),
    ("get", "/api/files/{id}"),
    ("delete", "/api/files/{id}"),
    ("get", "/api/files/{id}/thumbnail"),
    ("post", "/api/uploads"),
    ("head", "/api/uploads/{id}"),
    ("get", "/api/uploads/{id}"),
    ("patch", "/api/uploads/{id}"),
];

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

#[cfg(test)]
mod tests {
    /// "OpenAPI covers every route": each raw route is in the generated document,
    /// and the document has no raw route this list does not name.
    #[test]
    fn raw_routes_are_documented() {
        let doc = sova_ops::openapi::document();
        let documented = sova_ops::openapi::routes(&doc);
        for (m, p) in super::RAW_ROUTES {
            assert!(
                doc["paths"][p][m]["operationId"].is_string(),
                "{m} {p} is not in openapi.json"
            );
        }
        let registry: Vec<(String, String)> = sova_ops::all()
            .iter()
            .map(|e| (e.spec.method.as_str().to_owned(), e.spec.path.to_owned()))
            .collect();
        for route in &documented {
            assert!(
                registry.contains(route)
                    || super::RAW_ROUTES
                        .iter()
                        .any(|(m, p)| (m.to_string(), p.to_string()) == *route),
                "{route:?} is documented but not routed"
            );
        }
    }
}
