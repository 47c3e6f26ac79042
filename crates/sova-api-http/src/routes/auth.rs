use crate::extract::{Authed, ClientIp, OptionalJson};
use crate::{ApiJson, HttpError};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sova_service::Services;
use sova_types::models::{LoginRequest, LogoutRequest, RefreshRequest, RegisterRequest, RegisteredUser, TokenPair};
use std::sync::Arc;

/// # POST /api/register
/// 201 `{"user_id","username"}`; 400 on invalid input; 409 when the name is taken.
pub async fn register(
    State(s): State<Arc<Services>>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisteredUser>), HttpError> {
    let user = s.auth.register(&req.username, &req.password, ip).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// # POST /api/login
/// 200 with a token pair; 401 for any wrong username/password.
pub async fn login(
    State(s): State<Arc<Services>>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<TokenPair>, HttpError> {
    Ok(Json(s.auth.login(&req.username, &req.password, ip).await?))
}

/// # POST /api/refresh
/// 200 with a new pair; the presented refresh token is spent. 401 when invalid or reused.
pub async fn refresh(
    State(s): State<Arc<Services>>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<Json<TokenPair>, HttpError> {
    Ok(Json(s.auth.refresh(&req.refresh_token).await?))
}

/// # POST /api/logout
/// 204; the bearer token is blacklisted and the optional refresh token's family revoked.
pub async fn logout(
    State(s): State<Arc<Services>>,
    Authed(user): Authed,
    OptionalJson(req): OptionalJson<LogoutRequest>,
) -> Result<StatusCode, HttpError> {
    let req = req.unwrap_or_default();
    s.auth.logout(&user, req.refresh_token.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}
