//! REST routes derived from the operation registry (`sova-ops`): each operation's
//! method and path become a route whose handler authenticates as the operation
//! declares, merges path parameters, query parameters and the JSON body into the
//! operation's request object, runs it, and answers its status and body. Nothing
//! here knows any single operation.

use crate::HttpError;
use crate::extract::Bearer;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, RawPathParamsRejection};
use axum::extract::{ConnectInfo, FromRequestParts, Query, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use serde_json::{Map, Value};
use sova_ops::{Auth, Caller, Entry, Method};
use sova_service::Services;
use sova_types::ApiError;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

fn filter(m: Method) -> MethodFilter {
    match m {
        Method::Get => MethodFilter::GET,
        Method::Post => MethodFilter::POST,
        Method::Put => MethodFilter::PUT,
        Method::Patch => MethodFilter::PATCH,
        Method::Delete => MethodFilter::DELETE,
    }
}

/// A route for every operation in the registry.
pub fn routes() -> Router<Arc<Services>> {
    let mut by_path: BTreeMap<&'static str, MethodRouter<Arc<Services>>> = BTreeMap::new();
    for entry in sova_ops::all() {
        let handler = move |state: State<Arc<Services>>,
                            params: Result<RawPathParams, RawPathParamsRejection>,
                            parts: Parts,
                            body: Result<Bytes, BytesRejection>| async move {
            match run(entry, state.0, params, parts, body).await {
                Ok(response) => response,
                Err(e) => e.into_response(),
            }
        };
        let route = match by_path.remove(entry.spec.path) {
            Some(existing) => existing.on(filter(entry.spec.method), handler),
            None => on(filter(entry.spec.method), handler),
        };
        by_path.insert(entry.spec.path, route);
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (path, route)| router.route(path, route))
}

async fn caller(services: &Arc<Services>, entry: &Entry, parts: &mut Parts) -> Result<Caller, HttpError> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .ok_or_else(ApiError::internal)?;
    let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let ip = services.config.client_ip(peer, forwarded);
    let agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|a| a.chars().take(256).collect())
        .unwrap_or_default();
    let user = match entry.spec.auth {
        Auth::Public => None,
        Auth::Session | Auth::Optional => {
            let Bearer(token) = Bearer::from_request_parts(parts, services).await?;
            match token {
                Some(token) => Some(services.auth.authenticate(&token).await?),
                None if entry.spec.auth == Auth::Session => {
                    return Err(ApiError::unauthorized("missing bearer token").into());
                }
                None => None,
            }
        }
    };
    Ok(Caller { user, ip, agent })
}

/// The JSON body as an object (absent or blank: an empty one).
fn body_object(services: &Services, body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, ApiError> {
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            let max = services.config.max_frame_bytes;
            ApiError::too_large_max(format!("request body exceeds {max} bytes"), max as u64)
        } else {
            ApiError::bad_request("could not read the request body")
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("request body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!("invalid JSON body: {e}"))),
    }
}

async fn run(
    entry: &'static Entry,
    services: Arc<Services>,
    params: Result<RawPathParams, RawPathParamsRejection>,
    mut parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    let caller = caller(&services, entry, &mut parts).await?;
    let params = params.map_err(|e| ApiError::bad_request(format!("invalid path: {}", e.body_text())))?;
    // Path over query over body: a field named in the URL cannot be overridden.
    let mut request = if entry.spec.method.has_body() {
        body_object(&services, body)?
    } else {
        Map::new()
    };
    let Query(query) = Query::<Vec<(String, String)>>::from_request_parts(&mut parts, &services)
        .await
        .map_err(|e| ApiError::bad_request(format!("invalid query: {}", e.body_text())))?;
    for (name, raw) in query {
        let value = sova_ops::coerce_param(entry, &name, &raw)
            .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
        request.insert(name, value);
    }
    for (name, raw) in &params {
        let value = sova_ops::coerce_param(entry, name, raw)
            .map_err(|e| ApiError::bad_request(format!("invalid path: {e}")))?;
        request.insert(name.to_owned(), value);
    }
    let out = entry.call(services, caller, request).await?;
    let status = StatusCode::from_u16(out.status).unwrap_or(StatusCode::OK);
    Ok(match out.body {
        Some(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        None => status.into_response(),
    })
}
