//! Two-factor authentication, sessions, security alerts and the admin audit log.

use crate::account::Empty;
use crate::{Caller, Entry, Method, Operation, Revoked, Spec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sova_service::Services;
use sova_service::sessions::{AuditEntry, Session};
use sova_service::twofa::Enrollment;
use sova_types::ErrorCode::{Conflict, Forbidden, NotFound};
use sova_types::{ApiError, UserId};

/// The operations of this module.
pub const OPS: &[Entry] = &[
    Entry::of::<TotpStatus>(),
    Entry::of::<TotpSetup>(),
    Entry::of::<TotpEnable>(),
    Entry::of::<TotpDisable>(),
    Entry::of::<TotpBackupCodes>(),
    Entry::of::<Sessions>(),
    Entry::of::<RevokeSession>(),
    Entry::of::<RevokeOtherSessions>(),
    Entry::of::<SecurityAlerts>(),
    Entry::of::<AdminRevokeSessions>(),
    Entry::of::<AuditLog>(),
];

const TAG: &str = "security";

/// Whether 2FA is on.
#[derive(Serialize, JsonSchema)]
pub struct TotpState {
    pub enabled: bool,
    pub backup_codes_left: i64,
}

/// Fresh single-use backup codes (shown once).
#[derive(Serialize, JsonSchema)]
pub struct BackupCodes {
    pub backup_codes: Vec<String>,
}

/// A TOTP (or backup) code.
#[derive(Deserialize, JsonSchema)]
pub struct CodeRequest {
    pub code: String,
}

/// `totp_status` (`/api/2fa`): Whether 2FA is on.
pub struct TotpStatus;
impl Operation for TotpStatus {
    type Request = Empty;
    type Response = TotpState;
    const SPEC: Spec = Spec::new("totp_status", Method::Get, "/api/2fa", "Whether 2FA is on").tag(TAG);
    async fn handle(s: &Services, c: &Caller, _: Empty) -> Result<TotpState, ApiError> {
        let (enabled, backup_codes_left) = s.auth.totp_status(c.user()?).await?;
        Ok(TotpState {
            enabled,
            backup_codes_left,
        })
    }
}

/// `totp_setup` (`/api/2fa/setup`): Start 2FA enrolment: the secret, an otpauth URI and an SVG QR code.
pub struct TotpSetup;
impl Operation for TotpSetup {
    type Request = Empty;
    type Response = Enrollment;
    const SPEC: Spec = Spec::new(
        "totp_setup",
        Method::Post,
        "/api/2fa/setup",
        "Start 2FA enrolment: the secret, an otpauth URI and an SVG QR code",
    )
    .tag(TAG)
    .errors(&[Conflict]);
    async fn handle(s: &Services, c: &Caller, _: Empty) -> Result<Enrollment, ApiError> {
        s.auth.totp_setup(c.user()?).await
    }
}

/// `totp_enable` (`/api/2fa/enable`): Turn 2FA on with a code from the authenticator; answers backup codes.
pub struct TotpEnable;
impl Operation for TotpEnable {
    type Request = CodeRequest;
    type Response = BackupCodes;
    const SPEC: Spec = Spec::new(
        "totp_enable",
        Method::Post,
        "/api/2fa/enable",
        "Turn 2FA on with a code from the authenticator; answers backup codes",
    )
    .tag(TAG)
    .errors(&[NotFound, Conflict]);
    async fn handle(s: &Services, c: &Caller, r: CodeRequest) -> Result<BackupCodes, ApiError> {
        let backup_codes = s.auth.totp_enable(c.user()?, &r.code).await?;
        Ok(BackupCodes { backup_codes })
    }
}

/// `totp_disable` (`/api/2fa/disable`): Turn 2FA off (password and a code).
pub struct TotpDisable;
/// The input of `totp_disable`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct DisableRequest {
    pub password: String,
    pub code: String,
}
impl Operation for TotpDisable {
    type Request = DisableRequest;
    type Response = ();
    const SPEC: Spec = Spec::new(
        "totp_disable",
        Method::Post,
        "/api/2fa/disable",
        "Turn 2FA off (password and a code)",
    )
    .tag(TAG)
    .status(204)
    .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: DisableRequest) -> Result<(), ApiError> {
        s.auth.totp_disable(c.user()?, &r.password, &r.code).await
    }
}

/// `totp_backup_codes` (`/api/2fa/backup-codes`): New backup codes; the old ones stop working.
pub struct TotpBackupCodes;
impl Operation for TotpBackupCodes {
    type Request = CodeRequest;
    type Response = BackupCodes;
    const SPEC: Spec = Spec::new(
        "totp_backup_codes",
        Method::Post,
        "/api/2fa/backup-codes",
        "New backup codes; the old ones stop working",
    )
    .tag(TAG)
    .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: CodeRequest) -> Result<BackupCodes, ApiError> {
        let backup_codes = s.auth.totp_new_backup_codes(c.user()?, &r.code).await?;
        Ok(BackupCodes { backup_codes })
    }
}

/// `sessions` (`/api/sessions`): My live sessions (device, IP, location hint, last active, current).
pub struct Sessions;
impl Operation for Sessions {
    type Request = Empty;
    type Response = Vec<Session>;
    const SPEC: Spec = Spec::new(
        "sessions",
        Method::Get,
        "/api/sessions",
        "My live sessions (device, IP, location hint, last active, current)",
    )
    .tag(TAG);
    async fn handle(s: &Services, c: &Caller, _: Empty) -> Result<Vec<Session>, ApiError> {
        s.auth.sessions(c.user()?).await
    }
}

/// `revoke_session` (`/api/sessions/{session_id}`): Revoke one of my sessions: its tokens die and its sockets close.
pub struct RevokeSession;
/// The input of `revoke_session`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct SessionRequest {
    pub session_id: String,
}
impl Operation for RevokeSession {
    type Request = SessionRequest;
    type Response = ();
    const SPEC: Spec = Spec::new(
        "revoke_session",
        Method::Delete,
        "/api/sessions/{session_id}",
        "Revoke one of my sessions: its tokens die and its sockets close",
    )
    .tag(TAG)
    .status(204)
    .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: SessionRequest) -> Result<(), ApiError> {
        s.auth
            .revoke_session(c.user()?, Some(&r.session_id), c.ip)
            .await
            .map(|_| ())
    }
}

/// `revoke_other_sessions` (`/api/sessions/revoke-others`): Revoke all my sessions but this one.
pub struct RevokeOtherSessions;
impl Operation for RevokeOtherSessions {
    type Request = Empty;
    type Response = Revoked;
    const SPEC: Spec = Spec::new(
        "revoke_other_sessions",
        Method::Post,
        "/api/sessions/revoke-others",
        "Revoke all my sessions but this one",
    )
    .tag(TAG);
    async fn handle(s: &Services, c: &Caller, _: Empty) -> Result<Revoked, ApiError> {
        let n = s.auth.revoke_session(c.user()?, None, c.ip).await?;
        Ok(Revoked { revoked: n as u64 })
    }
}

/// `security_alerts` (`/api/security/alerts`): My security alerts (logins from new devices), newest first.
pub struct SecurityAlerts;
impl Operation for SecurityAlerts {
    type Request = Empty;
    type Response = Vec<AuditEntry>;
    const SPEC: Spec = Spec::new(
        "security_alerts",
        Method::Get,
        "/api/security/alerts",
        "My security alerts (logins from new devices), newest first",
    )
    .tag(TAG);
    async fn handle(s: &Services, c: &Caller, _: Empty) -> Result<Vec<AuditEntry>, ApiError> {
        s.auth.security_alerts(c.user()?).await
    }
}

/// `admin_revoke_sessions` (`/api/admin/users/{user_id}/revoke-sessions`): Admins: revoke every session of a user.
pub struct AdminRevokeSessions;
/// The input of `admin_revoke_sessions`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct UserRequest {
    pub user_id: UserId,
}
impl Operation for AdminRevokeSessions {
    type Request = UserRequest;
    type Response = Revoked;
    const SPEC: Spec = Spec::new(
        "admin_revoke_sessions",
        Method::Post,
        "/api/admin/users/{user_id}/revoke-sessions",
        "Admins: revoke every session of a user",
    )
    .tag("admin")
    .errors(&[Forbidden, NotFound]);
    async fn handle(s: &Services, c: &Caller, r: UserRequest) -> Result<Revoked, ApiError> {
        let n = s.auth.admin_revoke_sessions(c.user()?, r.user_id, c.ip).await?;
        Ok(Revoked { revoked: n as u64 })
    }
}

/// `audit_log` (`/api/admin/audit`): Admins: the append-only audit log, newest first.
pub struct AuditLog;
/// The input of `audit_log`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct AuditRequest {
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// The last entry id of the previous page.
    #[serde(default)]
    pub before: Option<i64>,
    /// 1-500 (default 100).
    #[serde(default)]
    pub limit: Option<i64>,
}
impl Operation for AuditLog {
    type Request = AuditRequest;
    type Response = Vec<AuditEntry>;
    const SPEC: Spec = Spec::new(
        "audit_log",
        Method::Get,
        "/api/admin/audit",
        "Admins: the append-only audit log, newest first",
    )
    .tag("admin")
    .errors(&[Forbidden]);
    async fn handle(s: &Services, c: &Caller, r: AuditRequest) -> Result<Vec<AuditEntry>, ApiError> {
        s.auth
            .audit_log(
                c.user()?,
                r.action.as_deref(),
                r.user_id,
                r.before,
                r.limit.unwrap_or(100),
            )
            .await
    }
}
