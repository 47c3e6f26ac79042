//! Resumable uploads over tus 1.0 (core + creation): `POST /api/uploads` creates,
//! `PATCH` appends at `Upload-Offset`, `HEAD` reports the offset. (`OPTIONS`, which
//! tus only suggests, is answered by the CORS layer for every path.) Sealing and bookkeeping are `sova_service::uploads`;
//! this is only the HTTP framing. A finished upload is a file (`X-File-Id`, and
//! `GET /api/uploads/{id}` shows it).

use crate::HttpError;
use crate::extract::Authed;
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Serialize;
use sova_service::Services;
use sova_service::uploads::{NewResumable, Progress};
use sova_types::ApiError;
use sova_types::models::FileInfo;
use std::sync::Arc;

const TUS_VERSION: &str = "1.0.0";
const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
const X_FILE_ID: HeaderName = HeaderName::from_static("x-file-id");

/// The JSON view of an upload (`POST` and `GET` bodies).
#[derive(Serialize)]
struct UploadView {
    id: String,
    offset: u64,
    length: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<FileInfo>,
}

fn status_error(status: StatusCode, e: ApiError) -> Response {
    let mut r = HttpError(e).into_response();
    *r.status_mut() = status;
    tus_headers(r.headers_mut());
    r
}

fn tus_headers(h: &mut HeaderMap) {
    h.insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn progress_headers(h: &mut HeaderMap, p: &Progress) {
    tus_headers(h);
    h.insert(UPLOAD_OFFSET, HeaderValue::from(p.offset));
    h.insert(UPLOAD_LENGTH, HeaderValue::from(p.length));
    if let Some(f) = &p.file
        && let Ok(v) = HeaderValue::from_str(&f.id)
    {
        h.insert(X_FILE_ID, v);
    }
}

/// Every tus request names the protocol version (412 otherwise).
fn check_version(h: &HeaderMap) -> Result<(), Box<Response>> {
    if h.get(TUS_RESUMABLE).and_then(|v| v.to_str().ok()) == Some(TUS_VERSION) {
        return Ok(());
    }
    let mut r = status_error(
        StatusCode::PRECONDITION_FAILED,
        ApiError::bad_request("Tus-Resumable: 1.0.0 is required"),
    );
    r.headers_mut().insert(
        HeaderName::from_static("tus-version"),
        HeaderValue::from_static(TUS_VERSION),
    );
    Err(Box::new(r))
}

fn number(h: &HeaderMap, name: &HeaderName) -> Result<Option<u64>, Box<Response>> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| {
                Box::new(status_error(
                    StatusCode::BAD_REQUEST,
                    ApiError::bad_request(format!("{name} must be a non-negative integer")),
                ))
            }),
    }
}

/// `Upload-Metadata`: comma-separated `key base64(value)` pairs; `filename`
/// (or `name`) and `filetype` (or `type`) are used.
fn metadata(h: &HeaderMap) -> Result<(String, Option<String>), Box<Response>> {
    let bad = || {
        Box::new(status_error(
            StatusCode::BAD_REQUEST,
            ApiError::bad_request("Upload-Metadata must be `key base64value` pairs of UTF-8"),
        ))
    };
    let (mut name, mut mime) = ("file".to_owned(), None);
    let Some(raw) = h.get("upload-metadata") else {
        return Ok((name, mime));
    };
    let raw = raw.to_str().map_err(|_| bad())?;
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        let value = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()
            .and_then(|v| String::from_utf8(v).ok())
            .ok_or_else(bad)?;
        match key {
            "filename" | "name" => name = value,
            "filetype" | "type" => mime = Some(value),
            _ => {}
        }
    }
    Ok((name, mime))
}

/// # POST /api/uploads
/// Creates an upload of `Upload-Length` bytes: 201 with `Location`.
pub async fn create(State(s): State<Arc<Services>>, Authed(u): Authed, headers: HeaderMap) -> Response {
    if let Err(r) = check_version(&headers) {
        return *r;
    }
    let length = match number(&headers, &UPLOAD_LENGTH) {
        Ok(Some(n)) => n,
        Ok(None) => {
            return status_error(
                StatusCode::BAD_REQUEST,
                ApiError::bad_request("Upload-Length is required (deferred lengths are not supported)"),
            );
        }
        Err(r) => return *r,
    };
    let (name, mime) = match metadata(&headers) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    match s.files.create_upload(&u, NewResumable { name, mime, length }).await {
        Ok((id, p)) => {
            let mut h = HeaderMap::new();
            progress_headers(&mut h, &p);
            if let Ok(v) = HeaderValue::from_str(&format!("/api/uploads/{id}")) {
                h.insert(header::LOCATION, v);
            }
            let view = UploadView {
                id,
                offset: p.offset,
                length: p.length,
                file: p.file,
            };
            (StatusCode::CREATED, h, Json(view)).into_response()
        }
        Err(e) => {
            let mut r = HttpError(e).into_response();
            tus_headers(r.headers_mut());
            r
        }
    }
}

/// # HEAD /api/uploads/{id}
/// `Upload-Offset` and `Upload-Length` of one's upload (404 for anyone else).
pub async fn head(State(s): State<Arc<Services>>, Authed(u): Authed, Path(id): Path<String>) -> Response {
    match s.files.upload_progress(u.user_id, &id).await {
        Ok(p) => {
            let mut h = HeaderMap::new();
            progress_headers(&mut h, &p);
            (StatusCode::OK, h).into_response()
        }
        Err(e) => {
            let mut r = HttpError(e).into_response();
            tus_headers(r.headers_mut());
            r
        }
    }
}

/// # GET /api/uploads/{id}
/// The upload as JSON: `{"id","offset","length","file"?}` (`file` once complete).
pub async fn status(
    State(s): State<Arc<Services>>,
    Authed(u): Authed,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    let p = s.files.upload_progress(u.user_id, &id).await?;
    let mut h = HeaderMap::new();
    progress_headers(&mut h, &p);
    let view = UploadView {
        id,
        offset: p.offset,
        length: p.length,
        file: p.file,
    };
    Ok((h, Json(view)).into_response())
}

/// # PATCH /api/uploads/{id}
/// Appends the body at `Upload-Offset`: 204 with the new `Upload-Offset` (and
/// `X-File-Id` when that completed the upload).
pub async fn append(
    State(s): State<Arc<Services>>,
    Authed(u): Authed,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    if let Err(r) = check_version(&headers) {
        return *r;
    }
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if ct.map(|c| c.split(';').next().unwrap_or("").trim()) != Some("application/offset+octet-stream") {
        return status_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::new(
                sova_types::ErrorCode::UnsupportedMediaType,
                "PATCH bodies must be application/offset+octet-stream",
            ),
        );
    }
    let offset = match number(&headers, &UPLOAD_OFFSET) {
        Ok(Some(n)) => n,
        Ok(None) => {
            return status_error(
                StatusCode::BAD_REQUEST,
                ApiError::bad_request("Upload-Offset is required"),
            );
        }
        Err(r) => return *r,
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    match s
        .files
        .append(&u, &id, offset, declared, req.into_body().into_data_stream())
        .await
    {
        Ok(p) => {
            let mut h = HeaderMap::new();
            progress_headers(&mut h, &p);
            (StatusCode::NO_CONTENT, h).into_response()
        }
        Err(e) => {
            let mut r = HttpError(e).into_response();
            tus_headers(r.headers_mut());
            r
        }
    }
}
