//! The file endpoints, streamed rather than JSON operations: upload (a raw body
//! or one multipart part, never held whole), download with `Range`/`ETag`, and
//! delete. Their documentation is declared in `sova_ops::openapi` like the other
//! routes outside the registry.

use crate::HttpError;
use crate::extract::Authed;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use sova_files::sniff;
use sova_service::Services;
use sova_service::files::NewUpload;
use sova_types::ApiError;
use std::sync::Arc;

/// Header carrying a raw upload's file name (percent-encoded UTF-8).
const X_FILENAME: &str = "x-filename";

/// Downloads never run as a page: no scripts, no plugins, a sandboxed origin.
const FILE_CSP: &str = "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox";

fn header_str(h: &HeaderMap, name: impl axum::http::header::AsHeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// # POST /api/files
/// A raw body (`Content-Type`, `X-Filename`) or `multipart/form-data` with a part
/// named `file`; 201 with the stored file.
pub async fn upload(State(s): State<Arc<Services>>, Authed(u): Authed, req: Request) -> Result<Response, HttpError> {
    let headers = req.headers().clone();
    let declared = header_str(&headers, header::CONTENT_TYPE).map(str::to_owned);
    let info = if let Some(boundary) = declared.as_deref().and_then(|ct| multer::parse_boundary(ct).ok()) {
        let mut form = multer::Multipart::new(req.into_body().into_data_stream(), boundary);
        loop {
            let field = form
                .next_field()
                .await
                .map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?
                .ok_or_else(|| ApiError::bad_request("multipart body has no part named `file`"))?;
            if field.name() != Some("file") {
                continue;
            }
            let up = NewUpload {
                name: field.file_name().unwrap_or("file").to_owned(),
                mime: field.content_type().map(|m| m.essence_str().to_owned()),
                length: None,
            };
            break s.files.upload(&u, up, field).await?;
        }
    } else {
        let name = match header_str(&headers, X_FILENAME) {
            Some(raw) => sniff::decode_header_name(raw)
                .ok_or_else(|| ApiError::bad_request("X-Filename must be percent-encoded UTF-8"))?,
            None => "file".to_owned(),
        };
        let length = header_str(&headers, header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
        let up = NewUpload {
            name,
            mime: declared,
            length,
        };
        s.files.upload(&u, up, req.into_body().into_data_stream()).await?
    };
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// A single `bytes=` range of a `size`-byte file: `Ok(None)` for the whole file
/// (no header, or a form this server does not serve partially), `Err` when
/// unsatisfiable.
fn parse_range(value: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // several ranges: the whole file is a valid answer
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 || size == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            u64::MAX
        } else {
            b.parse().map_err(|_| ())?
        };
        if start >= size || end < start {
            return Err(());
        }
        (start, end.min(size - 1))
    };
    Ok(Some(range))
}

fn set(h: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

/// # GET /api/files/{id}
/// The contents, decrypted as they stream; `Range` (206), `ETag` (304 on a match).
pub async fn download(
    State(s): State<Arc<Services>>,
    Authed(u): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let file = s.files.get(u.user_id, &id).await?;
    let size = u64::try_from(file.size).unwrap_or(0);
    let etag = format!("\"{}\"", file.sha256);
    let mut out = HeaderMap::new();
    set(&mut out, header::ETAG, &etag);
    set(&mut out, header::CACHE_CONTROL, "private, no-cache");
    set(&mut out, header::ACCEPT_RANGES, "bytes");
    if header_str(&headers, header::IF_NONE_MATCH)
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    set(&mut out, header::CONTENT_TYPE, &file.mime);
    set(&mut out, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        &mut out,
        header::CONTENT_DISPOSITION,
        &sniff::disposition(&file.mime, &file.name),
    );
    set(&mut out, header::CONTENT_SECURITY_POLICY, FILE_CSP);
    // A Range only applies when If-Range (if any) still names this version.
    let if_range_ok = header_str(&headers, header::IF_RANGE).is_none_or(|v| v.trim() == etag);
    let range = if if_range_ok {
        parse_range(header_str(&headers, header::RANGE), size)
    } else {
        Ok(None)
    };
    let (status, start, end) = match range {
        Err(()) => {
            set(&mut out, header::CONTENT_RANGE, &format!("bytes */{size}"));
            let err = HttpError(
                ApiError::bad_request("range not satisfiable").with_details(serde_json::json!({"size": size})),
            );
            let mut resp = err.into_response();
            *resp.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            resp.headers_mut().extend(out);
            return Ok(resp);
        }
        Ok(Some((a, b))) => {
            set(&mut out, header::CONTENT_RANGE, &format!("bytes {a}-{b}/{size}"));
            (StatusCode::PARTIAL_CONTENT, a, b)
        }
        Ok(None) => (StatusCode::OK, 0, size.saturating_sub(1)),
    };
    if size == 0 {
        set(&mut out, header::CONTENT_LENGTH, "0");
        return Ok((status, out, Body::empty()).into_response());
    }
    set(&mut out, header::CONTENT_LENGTH, &(end - start + 1).to_string());
    let stream = s.files.read(&file, start, end).await?;
    let stream = stream.inspect_err(|e| tracing::error!(error = %e, "files: download failed mid-stream"));
    Ok((status, out, Body::from_stream(stream)).into_response())
}

/// # GET /api/files/{id}/thumbnail
/// A JPEG preview (longest side 320 px, upright, no metadata) of an image, under
/// the file's access rules; 404 for anyone who cannot read the file, for
/// non-images and while the media job has not made it yet.
pub async fn thumbnail(
    State(s): State<Arc<Services>>,
    Authed(u): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let file = s.files.get(u.user_id, &id).await?;
    if !sova_service::media::has_thumbnail(&file) {
        return Err(ApiError::not_found("no thumbnail for this file (yet)").into());
    }
    let etag = format!("\"{}-t\"", file.sha256);
    let mut out = HeaderMap::new();
    set(&mut out, header::ETAG, &etag);
    set(&mut out, header::CACHE_CONTROL, "private, no-cache");
    set(&mut out, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if header_str(&headers, header::IF_NONE_MATCH)
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    let bytes = s.files.thumbnail(&file).await?;
    set(&mut out, header::CONTENT_TYPE, "image/jpeg");
    set(&mut out, header::CONTENT_SECURITY_POLICY, FILE_CSP);
    Ok((StatusCode::OK, out, bytes).into_response())
}

/// # DELETE /api/files/{id}
/// Deletes one's own upload: 204.
pub async fn delete(
    State(s): State<Arc<Services>>,
    Authed(u): Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    s.files.delete(u.user_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-0"), 10), Ok(Some((0, 0))));
        assert_eq!(parse_range(Some("bytes=2-"), 10), Ok(Some((2, 9))));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Ok(Some((7, 9))));
        assert_eq!(parse_range(Some("bytes=-30"), 10), Ok(Some((0, 9))));
        assert_eq!(parse_range(Some("bytes=5-100"), 10), Ok(Some((5, 9))));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=5-4"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=x-4"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-"), 0), Err(()));
        assert_eq!(parse_range(Some("items=0-1"), 10), Ok(None));
    }
}
