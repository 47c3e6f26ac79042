//! The REST transport (axum). Handlers decode a request, call one service method
//! and encode the result; errors are `{"code","message"}` with the matching status.
//! Bodies are parsed as JSON whatever their content type, so minimal clients work.

mod extract;
mod routes;

pub use extract::{ApiJson, ApiPath, ApiQuery, Bearer, HttpError};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use sova_service::Services;
use std::sync::Arc;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

/// Header carrying the request id (generated when the client sends none).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The REST router with its middleware: body limit, request id, tracing.
/// `extra` (e.g. `/ws`) is merged in before the layers so it shares them.
pub fn router(services: Arc<Services>, extra: Router) -> Router {
    let limit = services.config.max_frame_bytes;
    routes::routes()
        .with_state(services)
        .merge(extra)
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
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
