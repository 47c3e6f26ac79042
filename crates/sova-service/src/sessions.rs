//! Sessions and devices: each login is a session (its id is the hex of its
//! refresh-token family) recorded with device id, user agent and IP. Users list and
//! revoke their sessions; admins revoke anyone's. Revocation is immediate: tokens of
//! the session stop working at once and its open sockets, on every instance, are
//! closed (a control push over the bus). A login from a new device raises a
//! security alert (stored in the audit log and pushed to the user).

use crate::auth::{AuthService, AuthUser, Client};
use crate::store_err;
use serde::{Deserialize, Serialize};
use sova_bus::{Audience, BusEvent};
use sova_store::AuditRow;
use sova_types::time::{now_micros, rfc3339};
use sova_types::{ApiError, UserId};
use std::net::IpAddr;

/// The session id of a refresh-token family.
pub fn session_id(family: &[u8]) -> String {
    family.iter().map(|b| format!("{b:02x}")).collect()
}

/// A session as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Session {
    pub id: String,
    pub device_id: String,
    pub user_agent: String,
    pub ip: String,
    /// Coarse hint: `loopback`, `private network` or `internet`.
    pub location: String,
    pub created_at: String,
    pub last_active: String,
    /// The session of the token making this request.
    pub current: bool,
}

/// One audit or security-alert entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<UserId>,
    pub ip: String,
    pub detail: String,
}

fn location(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(a) if a.is_loopback() => "loopback".into(),
        Ok(IpAddr::V4(v4)) if v4.is_private() || v4.is_link_local() => "private network".into(),
        Ok(IpAddr::V6(v6)) if (v6.segments()[0] & 0xfe00) == 0xfc00 => "private network".into(),
        Ok(_) => "internet".into(),
        Err(_) => "unknown".into(),
    }
}

fn entry(r: AuditRow) -> AuditEntry {
    AuditEntry {
        id: r.id,
        at: rfc3339(r.at),
        action: r.action,
        actor: r.actor,
        target: r.target,
        ip: r.ip,
        detail: r.detail,
    }
}

impl AuthService {
    /// Appends to the audit log; failures are logged, never fatal.
    pub(crate) async fn audit(
        &self,
        action: &str,
        actor: Option<UserId>,
        target: Option<UserId>,
        ip: IpAddr,
        detail: &str,
    ) {
        let row = AuditRow {
            id: 0,
            at: now_micros(),
            action: action.to_owned(),
            actor,
            target,
            ip: ip.to_string(),
            detail: detail.to_owned(),
        };
        if let Err(e) = self.stores.tokens.audit(row).await {
            tracing::error!(error = %e, action, "audit log write failed");
        }
    }

    /// Stores and pushes a security alert to `user`.
    pub(crate) async fn security_alert(&self, user: UserId, client: &Client, kind: &str) {
        let detail = format!("device {:?}, agent {:?}", client.device_id, client.user_agent);
        self.audit(&format!("alert_{kind}"), Some(user), Some(user), client.ip, &detail)
            .await;
        tracing::warn!(user_id = %user, ip = %client.ip, kind, "security alert");
        crate::telemetry::security_event("new_device");
        self.bus.publish(BusEvent::new(
            Audience::User(user),
            sova_types::Event::SecurityAlert {
                kind: kind.to_owned(),
                ip: client.ip.to_string(),
                device_id: client.device_id.clone(),
                user_agent: client.user_agent.clone(),
                at: rfc3339(now_micros()),
            },
        ));
    }

    /// Tells every instance to close the sockets of these sessions.
    pub(crate) async fn announce_revoked(&self, user: UserId, sessions: &[String]) {
        if !sessions.is_empty() {
            metrics::counter!("sova_sessions_revoked_total").increment(sessions.len() as u64);
        }
        for sid in sessions {
            self.limits.cache_del(&format!("session:{sid}")).await;
        }
        for sid in sessions {
            self.bus.publish(BusEvent::new(
                Audience::User(user),
                sova_types::Event::SessionRevoked {
                    user_id: user,
                    session: sid.clone(),
                },
            ));
        }
    }

    /// Revokes the oldest sessions beyond the configured maximum.
    pub(crate) async fn enforce_session_limit(&self, user: UserId) -> Result<(), ApiError> {
        let live = self.stores.tokens.sessions(user).await.map_err(store_err)?;
        if live.len() <= self.max_sessions {
            return Ok(());
        }
        let excess = live.len() - self.max_sessions;
        for s in live.iter().take(excess) {
            let ended = self
                .stores
                .tokens
                .revoke_sessions(user, Some(&s.id), None, now_micros())
                .await
                .map_err(store_err)?;
            self.announce_revoked(user, &ended).await;
        }
        Ok(())
    }

    /// Whether `user` may use admin endpoints (`ADMIN_USERS`).
    pub fn is_admin(&self, user: &AuthUser) -> bool {
        self.admins.iter().any(|a| *a == user.username.to_lowercase())
    }

    fn require_admin(&self, user: &AuthUser) -> Result<(), ApiError> {
        if self.is_admin(user) {
            Ok(())
        } else {
            Err(ApiError::forbidden("admins only"))
        }
    }

    /// `user`'s live sessions, oldest first.
    pub async fn sessions(&self, user: &AuthUser) -> Result<Vec<Session>, ApiError> {
        let rows = self.stores.tokens.sessions(user.user_id).await.map_err(store_err)?;
        Ok(rows
            .into_iter()
            .map(|s| Session {
                current: s.id == user.session,
                location: location(&s.ip),
                id: s.id,
                device_id: s.device_id,
                user_agent: s.user_agent,
                ip: s.ip,
                created_at: rfc3339(s.created_at),
                last_active: rfc3339(s.last_active),
            })
            .collect())
    }

    /// Revokes one of `user`'s sessions (or all others, with `others`).
    pub async fn revoke_session(&self, user: &AuthUser, id: Option<&str>, ip: IpAddr) -> Result<usize, ApiError> {
        let ended = match id {
            Some(id) => {
                self.stores
                    .tokens
                    .revoke_sessions(user.user_id, Some(id), None, now_micros())
                    .await
            }
            None => {
                self.stores
                    .tokens
                    .revoke_sessions(user.user_id, None, Some(&user.session), now_micros())
                    .await
            }
        }
        .map_err(store_err)?;
        if id.is_some() && ended.is_empty() {
            return Err(ApiError::not_found("no such session"));
        }
        self.announce_revoked(user.user_id, &ended).await;
        self.audit(
            "session_revoked",
            Some(user.user_id),
            Some(user.user_id),
            ip,
            &ended.join(","),
        )
        .await;
        Ok(ended.len())
    }

    /// Admin: revokes every session of `target`.
    pub async fn admin_revoke_sessions(&self, admin: &AuthUser, target: UserId, ip: IpAddr) -> Result<usize, ApiError> {
        self.require_admin(admin)?;
        let ended = self
            .stores
            .tokens
            .revoke_sessions(target, None, None, now_micros())
            .await
            .map_err(store_err)?;
        self.announce_revoked(target, &ended).await;
        self.audit(
            "admin_revoke_sessions",
            Some(admin.user_id),
            Some(target),
            ip,
            &format!("{} sessions", ended.len()),
        )
        .await;
        Ok(ended.len())
    }

    /// `user`'s own security alerts, newest first.
    pub async fn security_alerts(&self, user: &AuthUser) -> Result<Vec<AuditEntry>, ApiError> {
        let rows = self
            .stores
            .tokens
            .audit_log(Some("alert_new_device"), Some(user.user_id), None, 100)
            .await
            .map_err(store_err)?;
        Ok(rows.into_iter().map(entry).collect())
    }

    /// Admin: the audit log, newest first, filtered and paged by id.
    pub async fn audit_log(
        &self,
        admin: &AuthUser,
        action: Option<&str>,
        target: Option<UserId>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, ApiError> {
        self.require_admin(admin)?;
        if !(1..=500).contains(&limit) {
            return Err(ApiError::bad_request("limit must be 1-500"));
        }
        let rows = self
            .stores
            .tokens
            .audit_log(action, target, before, limit)
            .await
            .map_err(store_err)?;
        Ok(rows.into_iter().map(entry).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_coarse() {
        assert_eq!(location("127.0.0.1"), "loopback");
        assert_eq!(location("10.1.2.3"), "private network");
        assert_eq!(location("8.8.8.8"), "internet");
        assert_eq!(session_id(&[0, 255, 16]), "00ff10");
    }
}
