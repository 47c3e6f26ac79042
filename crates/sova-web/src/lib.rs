//! The web client, embedded at build time from `web/dist` (see `build.rs`) and served
//! for page requests that no API route answers: exact files, the SPA's `index.html`
//! for client routes such as `/chat/5` or `/invite/CODE`, and a plain explanation
//! page when the client was not built. Hashed files under `/assets/` are immutable;
//! everything else is revalidated (`no-cache` + ETag). Precompressed `.br`/`.gz`
//! variants are sent when the browser accepts them.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::Response;

/// One embedded file of the build.
pub struct Asset {
    /// URL path, e.g. `/assets/index-3f2a1b.js`.
    pub path: &'static str,
    /// The file as built.
    pub body: &'static [u8],
    /// Its gzip variant, when the build made one.
    pub gzip: Option<&'static [u8]>,
    /// Its brotli variant, when the build made one.
    pub brotli: Option<&'static [u8]>,
    /// `Content-Type`.
    pub mime: &'static str,
    /// Strong ETag of `body`.
    pub etag: &'static str,
    /// A content-hashed file that never changes under its name.
    pub immutable: bool,
}

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// Shown at `/` when the binary was built without the web client.
const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Sova: web client not built</title></head><body><h1>The Sova web client was not built</h1>\
<p>This server binary was compiled without the web client, usually because Node.js \
(20.19 or newer) and npm were not installed. The REST API, WebSocket and TCP endpoints work.</p>\
<p>To add the client: install Node.js and npm, then rebuild the server \
(<code>cargo run --release --bin sova</code>), or run <code>npm ci &amp;&amp; npm run build</code> \
in <code>web/</code> and rebuild.</p></body></html>";

/// True when the binary embeds a built web client.
pub fn is_built() -> bool {
    find("/index.html").is_some()
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.binary_search_by(|a| a.path.cmp(path)).ok().map(|i| &ASSETS[i])
}

/// Paths that belong to the server, never to the client.
fn reserved(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path == "/ws" || path == "/health" || path == "/metrics"
}

/// The response for a page request, or `None` when this is not one (the caller answers 404).
pub fn respond(req: &Request<Body>) -> Option<Response> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return None;
    }
    let path = req.uri().path();
    if reserved(path) {
        return None;
    }
    let wanted = if path == "/" { "/index.html" } else { path };
    let asset = match find(wanted) {
        Some(a) => a,
        // A client route (no file extension in its last segment) gets the app shell.
        None if !path.rsplit('/').next().unwrap_or("").contains('.') => match find("/index.html") {
            Some(a) => a,
            None => return Some(not_built()),
        },
        None => return None,
    };
    Some(serve(asset, req.headers()))
}

fn not_built() -> Response {
    let mut r = Response::new(Body::from(NOT_BUILT));
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|part| {
            let mut it = part.split(';');
            let name = it.next().unwrap_or("").trim();
            let refused = it.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case(coding) && !refused
        })
}

fn serve(asset: &'static Asset, headers: &HeaderMap) -> Response {
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == asset.etag || t.trim() == "*"));
    let (body, coding) = match (asset.brotli, asset.gzip) {
        (Some(b), _) if accepts(headers, "br") => (b, Some("br")),
        (_, Some(g)) if accepts(headers, "gzip") => (g, Some("gzip")),
        _ => (asset.body, None),
    };
    let mut r = if not_modified {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(Body::from(body))
    };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    if asset.gzip.is_some() || asset.brotli.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if let (Some(c), false) = (coding, not_modified) {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(c));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, enc: Option<&str>) -> Option<Response> {
        let mut b = Request::builder().uri(path);
        if let Some(e) = enc {
            b = b.header(header::ACCEPT_ENCODING, e);
        }
        respond(&b.body(Body::empty()).ok()?)
    }

    #[test]
    fn api_and_socket_paths_are_never_the_client() {
        for p in ["/api/nope", "/api", "/ws", "/health", "/metrics"] {
            assert!(get(p, None).is_none(), "{p}");
        }
        let post = Request::builder().method(Method::POST).uri("/").body(Body::empty());
        assert!(post.is_ok_and(|r| respond(&r).is_none()));
    }

    #[test]
    fn client_routes_get_the_shell_and_missing_files_404() {
        let Some(r) = get("/chat/5", None) else {
            panic!("no shell")
        };
        if is_built() {
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
            assert!(get("/assets/missing-123.js", None).is_none());
            for (path, mime) in [
                ("/sw.js", "text/javascript; charset=utf-8"),
                ("/manifest.webmanifest", "application/manifest+json"),
                ("/", "text/html; charset=utf-8"),
            ] {
                let r = get(path, None);
                assert!(
                    r.is_some_and(|r| r.headers()[header::CACHE_CONTROL] == "no-cache"
                        && r.headers()[header::CONTENT_TYPE] == mime),
                    "{path}"
                );
            }
            let hashed = ASSETS.iter().find(|a| a.immutable);
            if let Some(a) = hashed {
                let r = get(a.path, Some("gzip, br"));
                assert!(r.is_some_and(|r| {
                    r.headers()[header::CACHE_CONTROL]
                        .to_str()
                        .is_ok_and(|v| v.contains("immutable"))
                }));
            }
        } else {
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        }
    }

    #[test]
    fn accept_encoding_parsing() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0, br"));
        assert!(accepts(&h, "br"));
        assert!(!accepts(&h, "gzip"));
    }
}
