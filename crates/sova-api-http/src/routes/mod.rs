//! Route table. One module per domain; each handler's doc starts with its method and path.

mod auth;
mod chats;
mod health;
mod messages;

use crate::HttpError;
use axum::Router;
use axum::routing::{get, post, put};
use sova_service::Services;
use sova_types::{ApiError, ErrorCode};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Services>> {
    Router::new()
        .route("/health", get(health::health))
        .route("/metrics", get(health::metrics))
        .route("/api/register", post(auth::register))
        .route("/api/login", post(auth::login))
        .route("/api/login/2fa", post(auth::login_2fa))
        .route("/api/captcha", get(auth::captcha))
        .route("/api/sessions", get(auth::sessions))
        .route("/api/sessions/revoke-others", post(auth::revoke_other_sessions))
        .route("/api/sessions/{id}", axum::routing::delete(auth::revoke_session))
        .route("/api/security/alerts", get(auth::security_alerts))
        .route(
            "/api/admin/users/{id}/revoke-sessions",
            post(auth::admin_revoke_sessions),
        )
        .route("/api/admin/audit", get(auth::audit_log))
        .route("/api/2fa", get(auth::totp_status))
        .route("/api/2fa/setup", post(auth::totp_setup))
        .route("/api/2fa/qr.png", get(auth::totp_qr))
        .route("/api/2fa/enable", post(auth::totp_enable))
        .route("/api/2fa/disable", post(auth::totp_disable))
        .route("/api/2fa/backup-codes", post(auth::totp_backup_codes))
        .route("/api/refresh", post(auth::refresh))
        .route("/api/logout", post(auth::logout))
        .route("/api/send", post(messages::send))
        .route("/api/history", get(messages::history))
        .route("/api/sync", get(messages::sync))
        .route("/api/presence", get(messages::presence))
        .route("/api/openapi.json", get(openapi))
        .route("/api/chats", post(chats::create).get(chats::list))
        .route(
            "/api/chats/{id}",
            get(chats::get).patch(chats::update).delete(chats::delete),
        )
        .route("/api/chats/{id}/members", get(chats::members).post(chats::add_members))
        .route(
            "/api/chats/{id}/members/{user_id}",
            axum::routing::delete(chats::remove_member).patch(chats::set_role),
        )
        .route("/api/chats/{id}/leave", post(chats::leave))
        .route("/api/chats/{id}/mute", put(chats::mute).delete(chats::unmute))
        .route(
            "/api/chats/{id}/invites",
            get(chats::invites).post(chats::create_invite),
        )
        .route(
            "/api/chats/{id}/invites/{code}",
            axum::routing::delete(chats::revoke_invite),
        )
        .route("/api/invites/{code}/join", post(chats::join))
        .route("/api/chats/{id}/messages", get(messages::list).post(messages::post))
        .route(
            "/api/chats/{id}/messages/{mid}",
            get(messages::get_one).patch(messages::edit).delete(messages::delete),
        )
        .route("/api/chats/{id}/messages/{mid}/versions", get(messages::versions))
        .route(
            "/api/chats/{id}/messages/{mid}/reactions/{emoji}",
            put(messages::react).delete(messages::unreact),
        )
        .route(
            "/api/chats/{id}/messages/{mid}/pin",
            post(messages::pin).delete(messages::unpin),
        )
        .route("/api/chats/{id}/pins", get(messages::pins))
        .route("/api/chats/{id}/read", post(messages::read))
        .route("/api/chats/{id}/typing", post(messages::typing))
}

/// The JSON 404 for an unknown path.
pub fn not_found_response() -> HttpError {
    ApiError::not_found("no such endpoint").into()
}

pub async fn method_not_allowed() -> HttpError {
    ApiError::new(ErrorCode::MethodNotAllowed, "method not allowed on this endpoint").into()
}

/// # GET /api/openapi.json
/// The OpenAPI 3.1 description of every REST route.
pub async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        include_str!("../openapi.json"),
    )
}

#[cfg(test)]
mod tests {
    /// Every route registered above is described in `openapi.json`, and nothing else is.
    #[test]
    fn openapi_covers_every_route() {
        let spec: serde_json::Value = serde_json::from_str(include_str!("../openapi.json")).unwrap();
        assert_eq!(spec["openapi"].as_str().map(|v| v.starts_with("3.")), Some(true));
        let paths = spec["paths"].as_object().unwrap();
        let source: String = include_str!("mod.rs")
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let mut routes = Vec::new();
        for chunk in source.split(".route(\"").skip(1) {
            let Some((path, rest)) = chunk.split_once('"') else {
                continue;
            };
            let handlers = rest.split(")).").next().unwrap_or_default();
            for method in ["get", "post", "put", "patch", "delete"] {
                let calls = [
                    format!(",{method}("),
                    format!(".{method}("),
                    format!("routing::{method}("),
                ];
                if calls.iter().any(|c| handlers.contains(c.as_str())) {
                    routes.push((method, path.to_owned()));
                }
            }
        }
        assert!(routes.len() > 30, "parsed {} routes", routes.len());
        for (method, path) in &routes {
            let op = &paths
                .get(path)
                .unwrap_or_else(|| panic!("{path} missing from openapi.json"))[*method];
            assert!(op.is_object(), "{method} {path} missing from openapi.json");
            assert!(op["responses"].is_object(), "{method} {path} has no responses");
        }
        let documented: usize = paths
            .values()
            .map(|p| {
                ["get", "post", "put", "patch", "delete"]
                    .iter()
                    .filter(|m| p.get(**m).is_some())
                    .count()
            })
            .sum();
        assert_eq!(
            documented,
            routes.len(),
            "openapi.json documents routes the server does not have"
        );
    }
}
