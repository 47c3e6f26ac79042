//! The REST transport (axum). Routes come from the operation registry
//! (`sova-ops`): a request is decoded into the operation's request object, the
//! operation runs, and its result or typed error is encoded; errors are
//! `{"code","message","details"?}` with the matching status. Bodies are parsed as
//! JSON whatever their content type, so minimal clients work.

mod extract;
mod ops;
mod routes;

pub use extract::{Bearer, HttpError};
pub use routes::RAW_ROUTES;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use sova_service::Services;
use std::sync::Arc;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

/// One response header, set unless the handler chose its own.
fn header_layer(name: &'static str, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(HeaderName::from_static(name), HeaderValue::from_static(value))
}

/// Content-Security-Policy: no inline or foreign scripts, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; \
     media-src 'self' blob: https:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// CORS for the configured origins only; none means same-origin browsers only.
fn cors(origins: &str) -> CorsLayer {
    let list: Vec<HeaderValue> = origins
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(list))
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::RANGE,
            header::IF_NONE_MATCH,
            header::IF_RANGE,
            HeaderName::from_static("x-filename"),
            HeaderName::from_static("tus-resumable"),
            HeaderName::from_static("upload-length"),
            HeaderName::from_static("upload-offset"),
            HeaderName::from_static("upload-metadata"),
        ])
        .expose_headers([
            header::RETRY_AFTER,
            REQUEST_ID,
            header::ETAG,
            header::CONTENT_RANGE,
            header::CONTENT_DISPOSITION,
            header::LOCATION,
            HeaderName::from_static("tus-resumable"),
            HeaderName::from_static("tus-version"),
            HeaderName::from_static("tus-extension"),
            HeaderName::from_static("tus-max-size"),
            HeaderName::from_static("upload-offset"),
            HeaderName::from_static("upload-length"),
            HeaderName::from_static("x-file-id"),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// Requests no route answers: the embedded web client for page GETs, else the JSON 404.
async fn fallback(req: Request<axum::body::Body>) -> axum::response::Response {
    use axum::response::IntoResponse;
    sova_web::respond(&req).unwrap_or_else(|| routes::not_found_response().into_response())
}

/// Header carrying the request id (generated when the client sends none).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The REST router with its middleware: body limit, request id, tracing.
/// `extra` (e.g. `/ws`) is merged in before the layers so it shares them.
pub fn router(services: Arc<Services>, extra: Router) -> Router {
    let limit = services.config.max_frame_bytes;
    let cors = cors(&services.config.cors_origins);
    routes::routes()
        .with_state(services)
        .merge(extra)
        .fallback(fallback)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(cors)
        // Strict headers on every response; user text is only ever returned as JSON data.
        .layer(header_layer("content-security-policy", CSP))
        .layer(header_layer("x-content-type-options", "nosniff"))
        .layer(header_layer("x-frame-options", "DENY"))
        .layer(header_layer("referrer-policy", "no-referrer"))
        .layer(header_layer("cross-origin-opener-policy", "same-origin"))
        .layer(header_layer("permissions-policy", "geolocation=(), payment=(), usb=()"))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
