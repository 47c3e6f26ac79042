use crate::extract::{Authed, ClientIp, OptionalJson};
use crate::{ApiJson, HttpError};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sova_service::Services;
use sova_service::auth::{Client, LoginResult};
use sova_types::models::{LoginRequest, LogoutRequest, RefreshRequest, RegisterRequest, RegisteredUser, TokenPair};
use std::sync::Arc;

/// # POST /api/register
/// 201 `{"user_id","username"}`; 400 on invalid input; 409 when the name is taken.
pub async fn register(
    State(s): State<Arc<Services>>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisteredUser>), HttpError> {
    let client = Client {
        captcha: req.captcha.clone(),
        ..Client::from_ip(ip)
    };
    let user = s.auth.register(&req.username, &req.password, &client).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// # POST /api/login
/// 200 with a token pair; 401 for any wrong username/password.
pub async fn login(
    State(s): State<Arc<Services>>,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let client = client(ip, &headers, req.device_id.as_deref(), req.captcha.clone());
    match s.auth.login(&req.username, &req.password, &client).await? {
        LoginResult::Tokens(t) => Ok(Json(
            serde_json::to_value(t).map_err(|_| sova_types::ApiError::internal())?,
        )),
        LoginResult::SecondFactor { ticket } => Ok(Json(serde_json::json!({"2fa_required": true, "ticket": ticket}))),
    }
}

/// The session metadata of a REST login.
fn client(
    ip: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    device_id: Option<&str>,
    captcha: Option<sova_types::models::CaptchaSolution>,
) -> Client {
    let agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    Client {
        ip,
        device_id: device_id.unwrap_or_default().to_owned(),
        user_agent: agent.to_owned(),
        captcha,
    }
}

#[derive(serde::Deserialize)]
pub struct SecondFactor {
    ticket: String,
    code: String,
    #[serde(default)]
    device_id: Option<String>,
}

/// # POST /api/login/2fa
/// `{"ticket","code"}` (a TOTP code or a backup code) → 200 token pair; 401.
pub async fn login_2fa(
    State(s): State<Arc<Services>>,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<SecondFactor>,
) -> Result<Json<TokenPair>, HttpError> {
    let client = client(ip, &headers, req.device_id.as_deref(), None);
    Ok(Json(s.auth.login_2fa(&req.ticket, &req.code, &client).await?))
}

#[derive(serde::Deserialize)]
pub struct CodeBody {
    code: String,
}

#[derive(serde::Deserialize)]
pub struct DisableBody {
    password: String,
    code: String,
}

/// # POST /api/2fa/setup
/// → `{"secret","otpauth_uri","qr_svg"}`; 2FA turns on only after `enable`.
pub async fn totp_setup(
    State(s): State<Arc<Services>>,
    Authed(u): Authed,
) -> Result<Json<sova_service::twofa::Enrollment>, HttpError> {
    Ok(Json(s.auth.totp_setup(&u).await?))
}

/// # GET /api/2fa/qr.png
/// The pending (or active) secret as a PNG QR code.
pub async fn totp_qr(State(s): State<Arc<Services>>, Authed(u): Authed) -> Result<axum::response::Response, HttpError> {
    use axum::response::IntoResponse;
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

/// # POST /api/2fa/enable
/// `{"code"}` → `{"backup_codes":[…10]}` (shown once).
pub async fn totp_enable(
    State(s): State<Arc<Services>>,
    Authed(u): Authed,
    ApiJson(req): ApiJson<CodeBody>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let codes = s.auth.totp_enable(&u, &req.code).await?;
    Ok(Json(serde_json::json!({"backup_codes": codes})))
}

/// # POST /api/2fa/disable
/// `{"password","code"}` → 204.
pub async fn totp_disable(
    State(s): State<Arc<Services>>,
    Authed(u): Authed,
    ApiJson(req): ApiJson<DisableBody>,
) -> Result<StatusCode, HttpError> {
    s.auth.totp_disable(&u, &req.password, &req.code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// # POST /api/2fa/backup-codes
/// `{"code"}` → new `{"backup_codes"}`; the old ones stop working.
pub async fn totp_backup_codes(
    State(s): State<Arc<Services>>,
    Authed(u): Authed,
    ApiJson(req): ApiJson<CodeBody>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let codes = s.auth.totp_new_backup_codes(&u, &req.code).await?;
    Ok(Json(serde_json::json!({"backup_codes": codes})))
}

/// # GET /api/2fa
/// → `{"enabled","backup_codes_left"}`.
pub async fn totp_status(
    State(s): State<Arc<Services>>,
    Authed(u): Authed,
) -> Result<Json<serde_json::Value>, HttpError> {
    let (enabled, left) = s.auth.totp_status(&u).await?;
    Ok(Json(serde_json::json!({"enabled": enabled, "backup_codes_left": left})))
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

/// # GET /api/sessions
/// My live sessions (device, IP, location hint, last active, `current`).
pub async fn sessions(
    State(s): State<Arc<Services>>,
    Authed(u): Authed,
) -> Result<Json<Vec<sova_service::sessions::Session>>, HttpError> {
    Ok(Json(s.auth.sessions(&u).await?))
}

/// # DELETE /api/sessions/{id}
/// Revokes one of my sessions: its tokens die and its sockets close at once.
pub async fn revoke_session(
    State(s): State<Arc<Services>>,
    Authed(u): Authed,
    ClientIp(ip): ClientIp,
    crate::ApiPath(id): crate::ApiPath<String>,
) -> Result<StatusCode, HttpError> {
    s.auth.revoke_session(&u, Some(&id), ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// # POST /api/sessions/revoke-others
/// Revokes all my sessions but this one → `{"revoked": n}`.
pub async fn revoke_other_sessions(
    State(s): State<Arc<Services>>,
    Authed(u): Authed,
    ClientIp(ip): ClientIp,
) -> Result<Json<serde_json::Value>, HttpError> {
    let n = s.auth.revoke_session(&u, None, ip).await?;
    Ok(Json(serde_json::json!({"revoked": n})))
}

/// # GET /api/security/alerts
/// My security alerts (logins from new devices), newest first.
pub async fn security_alerts(
    State(s): State<Arc<Services>>,
    Authed(u): Authed,
) -> Result<Json<Vec<sova_service::sessions::AuditEntry>>, HttpError> {
    Ok(Json(s.auth.security_alerts(&u).await?))
}

/// # POST /api/admin/users/{id}/revoke-sessions
/// Admins: revoke every session of a user → `{"revoked": n}`.
pub async fn admin_revoke_sessions(
    State(s): State<Arc<Services>>,
    Authed(u): Authed,
    ClientIp(ip): ClientIp,
    crate::ApiPath(target): crate::ApiPath<sova_types::UserId>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let n = s.auth.admin_revoke_sessions(&u, target, ip).await?;
    Ok(Json(serde_json::json!({"revoked": n})))
}

#[derive(serde::Deserialize)]
pub struct AuditQuery {
    action: Option<String>,
    user_id: Option<i64>,
    before: Option<i64>,
    limit: Option<i64>,
}

/// # GET /api/admin/audit?action=&user_id=&before=&limit=
/// Admins: the append-only audit log, newest first (page with `before` = last id).
pub async fn audit_log(
    State(s): State<Arc<Services>>,
    Authed(u): Authed,
    crate::ApiQuery(q): crate::ApiQuery<AuditQuery>,
) -> Result<Json<Vec<sova_service::sessions::AuditEntry>>, HttpError> {
    let target = q.user_id.map(sova_types::UserId);
    Ok(Json(
        s.auth
            .audit_log(&u, q.action.as_deref(), target, q.before, q.limit.unwrap_or(100))
            .await?,
    ))
}

/// # GET /api/captcha
/// A proof-of-work challenge: find `nonce` so that SHA-256(`challenge` + ":" + `nonce`)
/// starts with `difficulty` zero bits; send `{"challenge","nonce"}` as `captcha`
/// with login or registration when asked (`captcha_required`).
pub async fn captcha(State(s): State<Arc<Services>>) -> Result<Json<sova_service::abuse::Challenge>, HttpError> {
    Ok(Json(s.auth.reputation.challenge()?))
}
