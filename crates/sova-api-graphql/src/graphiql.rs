//! The GraphiQL page at `/graphiql` (on in development, off in production unless
//! `GRAPHIQL=true`): GraphiQL and React from npm, embedded at build time (`build.rs`),
//! served from this server only (no CDN) with a CSP that allows nothing foreign.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

include!(concat!(env!("OUT_DIR"), "/graphiql_assets.rs"));

const INDEX: &str = include_str!("../graphiql/index.html");
const INIT: &str = include_str!("../graphiql/init.js");
const PAGE_CSS: &str = include_str!("../graphiql/page.css");

/// Scripts only from here; GraphiQL's editor sets inline styles and ships its fonts
/// as data: URLs.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     font-src 'self' data:; img-src 'self' data:; connect-src 'self' ws: wss:; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>GraphiQL not built</title>\
</head><body><h1>GraphiQL was not built into this server</h1><p>It needs npm at build time \
(<code>npm ci</code> in <code>crates/sova-api-graphql/graphiql</code>, then rebuild). \
The GraphQL API at <code>/graphql</code> works without it.</p></body></html>";

/// Whether the vendor bundles were embedded.
pub fn built() -> bool {
    !VENDOR.is_empty()
}

fn respond(mime: &'static str, body: impl Into<axum::body::Body>, cache: &'static str) -> Response {
    let mut r = Response::new(body.into());
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    r
}

async fn page() -> Response {
    if !built() {
        let mut r = respond("text/html; charset=utf-8", NOT_BUILT, "no-cache");
        *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        return r;
    }
    respond("text/html; charset=utf-8", INDEX, "no-cache")
}

async fn asset(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "init.js" => respond("text/javascript; charset=utf-8", INIT, "no-cache"),
        "page.css" => respond("text/css; charset=utf-8", PAGE_CSS, "no-cache"),
        _ => match VENDOR.iter().find(|(n, _)| *n == name) {
            Some((n, bytes)) => {
                let mime = if n.ends_with(".css") {
                    "text/css; charset=utf-8"
                } else {
                    "text/javascript; charset=utf-8"
                };
                respond(mime, *bytes, "public, max-age=86400")
            }
            None => StatusCode::NOT_FOUND.into_response(),
        },
    }
}

/// `/graphiql` and its files.
pub fn routes() -> Router {
    Router::new()
        .route("/graphiql", get(page))
        .route("/graphiql/{name}", get(asset))
}
