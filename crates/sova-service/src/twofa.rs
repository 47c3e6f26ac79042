//! Two-factor authentication: TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps, ±1 step)
//! with the `otpauth://` URI and a QR code (SVG and PNG), confirmation by a first
//! code, 10 single-use backup codes stored as SHA-256 hashes, and never accepting a
//! time step twice. With 2FA on, a correct password yields a 5-minute ticket that a
//! code (or backup code) turns into a session.

use crate::auth::{AuthService, AuthUser, LoginResult, deny};
use crate::store_err;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sova_types::models::TokenPair;
use sova_types::{ApiError, UserId};
use totp_rs::{Secret, Totp};

/// Issuer shown by authenticator apps.
pub const ISSUER: &str = "Sova";
/// Backup codes issued at a time.
pub const BACKUP_CODES: usize = 10;
/// Lifetime of a login ticket, seconds.
pub const TICKET_SECS: i64 = 300;

/// What setup returns: the secret three ways.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Enrollment {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

#[derive(Serialize, Deserialize)]
struct TicketClaims {
    sub: String,
    purpose: String,
    exp: i64,
    iat: i64,
}

/// Key for tickets: derived from the JWT secret, distinct from the access-token key.
pub fn ticket_key(jwt_secret: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"sova 2fa ticket key\0");
    h.update(jwt_secret.as_bytes());
    h.finalize().to_vec()
}

fn totp(secret_b32: &str, account: &str) -> Result<Totp, ApiError> {
    let secret = Secret::try_from_base32(secret_b32).map_err(|_| ApiError::internal())?;
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_account_name(account.replace(':', "_"))
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| {
            tracing::error!(error = %e, "totp setup failed");
            ApiError::internal()
        })
}

/// SVG rendering of a QR code for `text`.
pub fn qr_svg(text: &str) -> Result<String, ApiError> {
    let qr = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium).map_err(|_| ApiError::internal())?;
    let border = 4;
    let size = qr.size() + border * 2;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" shape-rendering=\"crispEdges\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

fn hash_code(code: &str) -> Vec<u8> {
    Sha256::digest(normalize_backup(code).as_bytes()).to_vec()
}

/// Backup codes are compared without dashes, spaces or case.
fn normalize_backup(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn new_backup_codes() -> Result<(Vec<String>, Vec<Vec<u8>>), ApiError> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut codes = Vec::with_capacity(BACKUP_CODES);
    for _ in 0..BACKUP_CODES {
        let mut raw = [0u8; 10];
        getrandom::fill(&mut raw).map_err(|_| ApiError::internal())?;
        let s: String = raw
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        codes.push(format!("{}-{}", &s[..5], &s[5..]));
    }
    let hashes = codes.iter().map(|c| hash_code(c)).collect();
    Ok((codes, hashes))
}

impl AuthService {
    /// Starts enrolment: a new secret awaiting its first code.
    pub async fn totp_setup(&self, user: &AuthUser) -> Result<Enrollment, ApiError> {
        let state = self.stores.users.totp(user.user_id).await.map_err(store_err)?;
        if state.secret.is_some() {
            return Err(ApiError::conflict(
                "two-factor authentication is already on; disable it first",
            ));
        }
        let mut raw = [0u8; 20];
        getrandom::fill(&mut raw).map_err(|_| ApiError::internal())?;
        let secret = Secret::from(raw.to_vec()).to_base32();
        self.stores
            .users
            .set_totp_pending(user.user_id, Some(&secret))
            .await
            .map_err(store_err)?;
        let uri = totp(&secret, &user.username)?
            .to_url()
            .map_err(|_| ApiError::internal())?;
        Ok(Enrollment {
            qr_svg: qr_svg(&uri)?,
            secret,
            otpauth_uri: uri,
        })
    }

    /// PNG QR code of the pending (or active) secret.
    pub async fn totp_qr_png(&self, user: &AuthUser) -> Result<Vec<u8>, ApiError> {
        let state = self.stores.users.totp(user.user_id).await.map_err(store_err)?;
        let secret = state
            .pending
            .or(state.secret)
            .ok_or_else(|| ApiError::not_found("start with POST /api/2fa/setup"))?;
        totp(&secret, &user.username)?.to_qr_png().map_err(|e| {
            tracing::error!(error = %e, "qr rendering failed");
            ApiError::internal()
        })
    }

    /// Checks a TOTP code against `secret`, accepting each time step once.
    async fn accept_code(&self, user: UserId, username: &str, secret: &str, code: &str) -> Result<bool, ApiError> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(false);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let Some(step) = totp(secret, username)?.check(code, now) else {
            return Ok(false);
        };
        // Replay defence: a step (and any earlier one) is good once.
        self.stores
            .users
            .use_totp_step(user, i64::try_from(step).unwrap_or(i64::MAX))
            .await
            .map_err(store_err)
    }

    /// Confirms enrolment with a first code; returns the backup codes (shown once).
    pub async fn totp_enable(&self, user: &AuthUser, code: &str) -> Result<Vec<String>, ApiError> {
        let state = self.stores.users.totp(user.user_id).await.map_err(store_err)?;
        if state.secret.is_some() {
            return Err(ApiError::conflict("two-factor authentication is already on"));
        }
        let pending = state
            .pending
            .ok_or_else(|| ApiError::bad_request("start with POST /api/2fa/setup"))?;
        self.second_factor_throttle(user.user_id).await?;
        if !self.accept_code(user.user_id, &user.username, &pending, code).await? {
            return Err(ApiError::bad_request("invalid or already used code"));
        }
        let (codes, hashes) = new_backup_codes()?;
        self.stores
            .users
            .enable_totp(user.user_id, &pending, &hashes)
            .await
            .map_err(store_err)?;
        tracing::info!(user_id = %user.user_id, "two-factor authentication enabled");
        self.audit(
            "2fa_enabled",
            Some(user.user_id),
            Some(user.user_id),
            std::net::Ipv4Addr::UNSPECIFIED.into(),
            "",
        )
        .await;
        Ok(codes)
    }

    /// Checks a TOTP code or a backup code (consuming it) for `user`.
    async fn second_factor(&self, user: UserId, username: &str, code: &str) -> Result<bool, ApiError> {
        let state = self.stores.users.totp(user).await.map_err(store_err)?;
        let Some(secret) = state.secret else { return Ok(false) };
        if self.accept_code(user, username, &secret, code).await? {
            return Ok(true);
        }
        let normalized = normalize_backup(code);
        if normalized.len() == 10 {
            return self
                .stores
                .users
                .use_backup_code(user, &hash_code(code))
                .await
                .map_err(store_err);
        }
        Ok(false)
    }

    async fn second_factor_throttle(&self, user: UserId) -> Result<(), ApiError> {
        deny(
            self.limits
                .hit(&format!("2fa:user:{user}"), 20, std::time::Duration::from_secs(60))
                .await,
            "too many two-factor attempts",
        )
    }

    /// Turns 2FA off: needs the password and a current code (or backup code).
    pub async fn totp_disable(&self, user: &AuthUser, password: &str, code: &str) -> Result<(), ApiError> {
        self.second_factor_throttle(user.user_id).await?;
        let row = self.check_password(&user.username.to_lowercase(), password).await?;
        if row.id != user.user_id {
            return Err(ApiError::unauthorized("invalid password"));
        }
        if !self.second_factor(user.user_id, &user.username, code).await? {
            return Err(ApiError::unauthorized("invalid or already used code"));
        }
        self.stores.users.disable_totp(user.user_id).await.map_err(store_err)?;
        tracing::info!(user_id = %user.user_id, "two-factor authentication disabled");
        self.audit(
            "2fa_disabled",
            Some(user.user_id),
            Some(user.user_id),
            std::net::Ipv4Addr::UNSPECIFIED.into(),
            "",
        )
        .await;
        Ok(())
    }

    /// New backup codes (the old ones stop working); needs a current code.
    pub async fn totp_new_backup_codes(&self, user: &AuthUser, code: &str) -> Result<Vec<String>, ApiError> {
        self.second_factor_throttle(user.user_id).await?;
        if !self.second_factor(user.user_id, &user.username, code).await? {
            return Err(ApiError::unauthorized("invalid or already used code"));
        }
        let (codes, hashes) = new_backup_codes()?;
        self.stores
            .users
            .replace_backup_codes(user.user_id, &hashes)
            .await
            .map_err(store_err)?;
        Ok(codes)
    }

    /// Whether 2FA is on, and how many backup codes are left.
    pub async fn totp_status(&self, user: &AuthUser) -> Result<(bool, i64), ApiError> {
        let s = self.stores.users.totp(user.user_id).await.map_err(store_err)?;
        Ok((s.secret.is_some(), s.backup_codes_left))
    }

    pub(crate) fn issue_ticket(&self, user: UserId) -> Result<String, ApiError> {
        let iat = sova_types::time::now_micros() / 1_000_000;
        let claims = TicketClaims {
            sub: user.0.to_string(),
            purpose: "2fa".into(),
            iat,
            exp: iat + TICKET_SECS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.ticket_encoding)
            .map_err(|_| ApiError::internal())
    }

    /// Completes a login that needs a second factor.
    pub async fn login_2fa(
        &self,
        ticket: &str,
        code: &str,
        client: &crate::auth::Client,
    ) -> Result<TokenPair, ApiError> {
        let ip = client.ip;
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        let claims = jsonwebtoken::decode::<TicketClaims>(ticket, &self.ticket_decoding, &v)
            .map_err(|_| ApiError::unauthorized("invalid or expired ticket"))?
            .claims;
        let user_id: UserId = claims
            .sub
            .parse()
            .ok()
            .filter(|_| claims.purpose == "2fa")
            .map(UserId)
            .ok_or_else(|| ApiError::unauthorized("invalid or expired ticket"))?;
        let lock_key = format!("2fa|{user_id}|{ip}");
        deny(
            self.limits.locked(&lock_key).await,
            "too many wrong codes; wait before trying again",
        )?;
        self.second_factor_throttle(user_id).await?;
        let user = self
            .stores
            .users
            .user_by_id(user_id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| ApiError::unauthorized("invalid or expired ticket"))?;
        if !self.second_factor(user.id, &user.username, code).await? {
            self.limits.failed(&lock_key).await;
            return Err(ApiError::unauthorized("invalid or already used code"));
        }
        self.limits.succeeded(&lock_key).await;
        self.issue_session(user.id, &user.username, client).await
    }

    /// `login` for callers that cannot continue a 2FA exchange: a ticket is an error.
    pub async fn login_tokens(
        &self,
        username: &str,
        password: &str,
        client: &crate::auth::Client,
    ) -> Result<TokenPair, ApiError> {
        match self.login(username, password, client).await? {
            LoginResult::Tokens(t) => Ok(t),
            LoginResult::SecondFactor { .. } => Err(ApiError::unauthorized("two-factor authentication required")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_codes_are_unique_and_normalized() {
        let (codes, hashes) = new_backup_codes().unwrap();
        assert_eq!(codes.len(), BACKUP_CODES);
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), BACKUP_CODES);
        assert_eq!(hash_code(&codes[0].to_uppercase().replace('-', " ")), hashes[0]);
    }

    #[test]
    fn qr_svg_is_an_svg() {
        let svg = qr_svg("otpauth://totp/Sova:alice?secret=ABC").unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<path d=\"M"));
    }

    #[test]
    fn ticket_key_differs_from_the_secret() {
        assert_ne!(ticket_key("s"), b"s".to_vec());
        assert_eq!(ticket_key("s").len(), 32);
    }
}
