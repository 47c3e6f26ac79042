//! The bearer-token extractors and the error response shared by every route.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sova_service::{AuthUser, Services};
use sova_types::{ApiError, ErrorCode};
use std::sync::Arc;

/// An `ApiError` as an HTTP response.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        HttpError(e)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, axum::Json(&self.0)).into_response();
        if let Some(secs) = self.0.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.0.code == ErrorCode::Unauthorized {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// The bearer token of the request, if any (not yet verified).
pub struct Bearer(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Bearer(None));
        };
        let value = value
            .to_str()
            .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::unauthorized("Authorization must be 'Bearer <token>'"))?;
        Ok(Bearer(Some(token.trim().to_owned())))
    }
}

/// The verified caller; 401 without a valid bearer token.
pub struct Authed(pub AuthUser);

impl FromRequestParts<Arc<Services>> for Authed {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, services: &Arc<Services>) -> Result<Self, Self::Rejection> {
        let Bearer(token) = Bearer::from_request_parts(parts, services).await?;
        let token = token.ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
        Ok(Authed(services.auth.authenticate(&token).await?))
    }
}
