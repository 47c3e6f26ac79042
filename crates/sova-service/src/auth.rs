//! Accounts and tokens. Passwords are argon2id-hashed (OWASP parameters: 19 MiB,
//! t=2, p=1) on blocking threads behind a semaphore, so a login flood cannot starve
//! the runtime. Access tokens are 15-minute HS256 JWTs; refresh tokens are opaque,
//! stored as SHA-256 hashes, rotated on every use, and a reused one revokes its
//! whole family. Unknown users and wrong passwords take the same time and get the
//! same 401.

use crate::store_err;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sova_config::Config;
use sova_limits::{Decision, Limits};
use sova_store::{NewRefreshToken, NewUser, RotateOutcome, Stores};
use sova_types::models::{RegisteredUser, TokenPair};
use sova_types::time::now_micros;
use sova_types::{ApiError, ChatId, UserId};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 1024;

const INVALID_LOGIN: &str = "invalid username or password";

/// How long a verified live session is trusted without asking the database.
pub const SESSION_CACHE_TTL: Duration = Duration::from_secs(30);

/// JWT claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    name: String,
    jti: String,
    /// The session (login) this token belongs to.
    #[serde(default)]
    sid: String,
    iat: i64,
    exp: i64,
}

/// Who is logging in, for the session record and new-device alerts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    /// Client-chosen stable device id (may be empty).
    pub device_id: String,
    pub user_agent: String,
    /// A solved proof-of-work challenge, when this address needs one.
    pub captcha: Option<crate::abuse::Solution>,
}

impl Client {
    /// A client known only by its address.
    pub fn from_ip(ip: IpAddr) -> Client {
        Client {
            ip,
            device_id: String::new(),
            user_agent: String::new(),
            captcha: None,
        }
    }
}

/// The authenticated caller of a request or connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthUser {
    pub user_id: UserId,
    pub username: String,
    /// The access token's id (for logout).
    pub jti: String,
    /// Access-token expiry, Unix seconds.
    pub exp: i64,
    /// The session this token belongs to (empty for tokens older than sessions).
    pub session: String,
}

impl AuthUser {
    /// Seconds until the access token expires (0 if it already has).
    pub fn expires_in(&self) -> u64 {
        let now = now_micros() / 1_000_000;
        u64::try_from(self.exp - now).unwrap_or(0)
    }
}

pub struct AuthService {
    pub(crate) stores: Stores,
    general: ChatId,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Keys for 2FA tickets: derived from the JWT secret, so a ticket is never an access token.
    pub(crate) ticket_encoding: EncodingKey,
    pub(crate) ticket_decoding: DecodingKey,
    validation: Validation,
    access_ttl: i64,
    refresh_ttl: i64,
    hashing: Arc<crate::hashing::HashPool>,
    dummy_hash: OnceCell<String>,
    pub(crate) limits: Arc<dyn Limits>,
    /// IP reputation and CAPTCHA.
    pub reputation: crate::abuse::Reputation,
    pub(crate) bus: Arc<dyn sova_bus::EventBus>,
    pub(crate) max_sessions: usize,
    /// Lower-cased usernames with admin rights.
    pub(crate) admins: Vec<String>,
    rates: Rates,
}

/// What a correct password leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginResult {
    Tokens(TokenPair),
    /// 2FA is on: complete with `login_2fa(ticket, code)` within 5 minutes.
    SecondFactor {
        ticket: String,
    },
}

struct Rates {
    login_per_ip: u32,
    login_per_account: u32,
    register_per_ip: u32,
}

impl AuthService {
    /// Counts one event under `key` (`limit` per `window`); a denial also counts
    /// against the address's reputation.
    async fn guard(&self, ip: IpAddr, key: &str, limit: u32, window: Duration, what: &str) -> Result<(), ApiError> {
        let d = self.limits.hit(key, limit, window).await;
        if !d.allowed() {
            self.reputation.penalize(ip, crate::abuse::points::RATE_LIMITED).await;
        }
        deny(d, what)
    }
}

/// Turns a denial into `rate_limited` with its retry time.
pub fn deny(d: Decision, what: &str) -> Result<(), ApiError> {
    match d {
        Decision::Allow => Ok(()),
        Decision::Deny { retry_after } => {
            crate::telemetry::security_event("rate_limited");
            Err(ApiError::rate_limited(what, retry_after.as_secs_f64().ceil() as u64))
        }
    }
}

/// Checks the username rules: 3–32 characters of letters, digits, `_`, `.`, `-`.
pub fn validate_username(name: &str) -> Result<(), ApiError> {
    let n = name.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&n) {
        return Err(ApiError::bad_request(format!(
            "username must be {USERNAME_MIN}-{USERNAME_MAX} characters"
        )));
    }
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(ApiError::bad_request(
            "username may contain only letters, digits, '_', '.' and '-'",
        ));
    }
    Ok(())
}

/// Checks the password rules: 8–1024 characters.
pub fn validate_password(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&n) {
        return Err(ApiError::bad_request(format!(
            "password must be {PASSWORD_MIN}-{PASSWORD_MAX} characters"
        )));
    }
    Ok(())
}

fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| {
        tracing::error!(error = %e, "no randomness");
        ApiError::internal()
    })?;
    Ok(b)
}

fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

impl AuthService {
    pub fn new(
        config: &Config,
        stores: Stores,
        general: ChatId,
        limits: Arc<dyn Limits>,
        bus: Arc<dyn sova_bus::EventBus>,
    ) -> Result<AuthService, ApiError> {
        let Some(secret) = &config.jwt_secret else {
            tracing::error!("JWT secret missing: call Config::prepare_secrets first");
            return Err(ApiError::internal());
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        // Hashing is CPU-bound: one thread per core; each keeps its 19 MiB for the next hash.
        let permits = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(AuthService {
            stores,
            general,
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            ticket_encoding: EncodingKey::from_secret(&crate::twofa::ticket_key(secret.expose())),
            ticket_decoding: DecodingKey::from_secret(&crate::twofa::ticket_key(secret.expose())),
            validation,
            access_ttl: i64::try_from(config.access_token_ttl_secs).unwrap_or(900),
            refresh_ttl: i64::try_from(config.refresh_token_ttl_secs).unwrap_or(30 * 86_400),
            hashing: Arc::new(crate::hashing::HashPool::new(permits)),
            dummy_hash: OnceCell::new(),
            reputation: crate::abuse::Reputation::new(
                limits.clone(),
                secret.expose(),
                config.captcha_difficulty,
                config.reputation_captcha_at,
                config.reputation_block_at,
            ),
            limits,
            bus,
            max_sessions: config.max_sessions_per_user.max(1),
            admins: config
                .admin_users
                .split(',')
                .map(|a| a.trim().to_lowercase())
                .filter(|a| !a.is_empty())
                .collect(),
            rates: Rates {
                login_per_ip: config.rate_limit_login_per_min,
                login_per_account: config.rate_limit_account_login_per_min,
                register_per_ip: config.rate_limit_register_per_hour,
            },
        })
    }

    async fn hash_password(&self, password: String) -> Result<String, ApiError> {
        self.hashing
            .run(move || {
                Argon2::default()
                    .hash_password(password.as_bytes())
                    .map(|h| h.to_string())
            })
            .await?
            .map_err(|e| {
                tracing::error!(error = %e, "password hashing failed");
                ApiError::internal()
            })
    }

    pub(crate) async fn verify_password(&self, password: String, hash: String) -> Result<bool, ApiError> {
        self.hashing
            .run(move || {
                PasswordHash::new(&hash)
                    .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
                    .unwrap_or(false)
            })
            .await
    }

    /// Creates an account and joins it to `general`; `conflict` when the name is taken
    /// in any letter case.
    pub async fn register(&self, username: &str, password: &str, client: &Client) -> Result<RegisteredUser, ApiError> {
        let ip = client.ip;
        self.reputation.gate(ip, client.captcha.as_ref()).await?;
        let hour = Duration::from_secs(3600);
        self.guard(
            ip,
            &format!("register:ip:{ip}"),
            self.rates.register_per_ip,
            hour,
            "too many registrations from this address",
        )
        .await?;
        validate_username(username)?;
        validate_password(password)?;
        let password_hash = self.hash_password(password.to_owned()).await?;
        let row = self
            .stores
            .users
            .create_user(
                NewUser {
                    username: username.to_owned(),
                    username_lower: username.to_lowercase(),
                    password_hash,
                    created_at: now_micros(),
                },
                &[self.general],
            )
            .await
            .map_err(|e| match e {
                sova_store::StoreError::Conflict(_) => ApiError::conflict("username is taken"),
                other => store_err(other),
            })?;
        tracing::info!(user_id = %row.id, "user registered");
        Ok(RegisteredUser {
            user_id: row.id,
            username: row.username,
        })
    }

    /// Verifies a password and issues a token pair; the same 401 for every failure.
    /// Throttled per IP and per account, with an exponential lockout per
    /// (account, IP) after repeated failures.
    pub async fn login(&self, username: &str, password: &str, client: &Client) -> Result<LoginResult, ApiError> {
        let ip = client.ip;
        self.reputation.gate(ip, client.captcha.as_ref()).await?;
        if username.chars().count() > USERNAME_MAX || password.chars().count() > PASSWORD_MAX {
            return Err(ApiError::unauthorized(INVALID_LOGIN));
        }
        let lower = username.to_lowercase();
        let minute = Duration::from_secs(60);
        self.guard(
            ip,
            &format!("login:ip:{ip}"),
            self.rates.login_per_ip,
            minute,
            "too many login attempts",
        )
        .await?;
        self.guard(
            ip,
            &format!("login:acct:{lower}"),
            self.rates.login_per_account,
            minute,
            "too many login attempts for this account",
        )
        .await?;
        let lock_key = format!("{lower}|{ip}");
        deny(
            self.limits.locked(&lock_key).await,
            "too many failed logins; wait before trying again",
        )?;
        let result = self.check_password(&lower, password).await;
        match &result {
            Ok(_) => self.limits.succeeded(&lock_key).await,
            Err(e) if e.code == sova_types::ErrorCode::Unauthorized => {
                let who: String = lower.chars().take(32).collect();
                crate::telemetry::login("failed");
                self.reputation.penalize(ip, crate::abuse::points::FAILED_LOGIN).await;
                self.audit("login_failed", None, None, ip, &format!("username {who}"))
                    .await;
                if let Some(lock) = self.limits.failed(&lock_key).await {
                    crate::telemetry::security_event("account_locked");
                    tracing::warn!(%ip, lock_secs = lock.as_secs(), "repeated failed logins: locked");
                }
            }
            Err(_) => {}
        }
        let user = result?;
        crate::telemetry::login("ok");
        if self
            .stores
            .users
            .totp(user.id)
            .await
            .map_err(store_err)?
            .secret
            .is_some()
        {
            return Ok(LoginResult::SecondFactor {
                ticket: self.issue_ticket(user.id)?,
            });
        }
        Ok(LoginResult::Tokens(
            self.issue_session(user.id, &user.username, client).await?,
        ))
    }

    /// The user whose password this is; the same 401 (after the same work) otherwise.
    pub(crate) async fn check_password(&self, lower: &str, password: &str) -> Result<sova_store::UserRow, ApiError> {
        let username = lower;
        let user = self
            .stores
            .users
            .user_by_name(&username.to_lowercase())
            .await
            .map_err(store_err)?;
        let Some(user) = user else {
            // Spend the same time as a real verification.
            let dummy = self
                .dummy_hash
                .get_or_try_init(|| self.hash_password("dummy-password-for-timing".into()))
                .await?
                .clone();
            let _ = self.verify_password(password.to_owned(), dummy).await?;
            return Err(ApiError::unauthorized(INVALID_LOGIN));
        };
        if !self
            .verify_password(password.to_owned(), user.password_hash.clone())
            .await?
        {
            tracing::info!(user_id = %user.id, "failed login");
            return Err(ApiError::unauthorized(INVALID_LOGIN));
        }
        Ok(user)
    }

    /// A fresh session (token pair) for `user`: records it with the device, warns
    /// the user about a new device, and keeps at most the configured number of
    /// sessions (the oldest go).
    pub(crate) async fn issue_session(
        &self,
        user: UserId,
        username: &str,
        client: &Client,
    ) -> Result<TokenPair, ApiError> {
        let family = random_bytes::<16>()?.to_vec();
        let sid = crate::sessions::session_id(&family);
        let (token, row) = self.new_refresh(user, family)?;
        let tokens = &self.stores.tokens;
        let device_id: String = client.device_id.chars().take(128).collect();
        let user_agent: String = client.user_agent.chars().take(256).collect();
        let had_sessions = !tokens.sessions(user).await.map_err(store_err)?.is_empty();
        let known = tokens
            .known_device(user, &device_id, &user_agent)
            .await
            .map_err(store_err)?;
        let now = now_micros();
        tokens
            .create_session(sova_store::SessionRow {
                id: sid.clone(),
                user_id: user,
                device_id,
                user_agent,
                ip: client.ip.to_string(),
                created_at: now,
                last_active: now,
            })
            .await
            .map_err(store_err)?;
        tokens.insert_refresh(row).await.map_err(store_err)?;
        self.audit("login", Some(user), Some(user), client.ip, &format!("session {sid}"))
            .await;
        if had_sessions && !known {
            self.security_alert(user, client, "new_device").await;
        }
        self.enforce_session_limit(user).await?;
        self.token_pair(user, username, token, &sid)
    }

    fn new_refresh(&self, user: UserId, family_id: Vec<u8>) -> Result<(String, NewRefreshToken), ApiError> {
        let raw = random_bytes::<32>()?;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let now = now_micros();
        Ok((
            token.clone(),
            NewRefreshToken {
                token_hash: sha256(token.as_bytes()),
                user_id: user,
                family_id,
                created_at: now,
                expires_at: now + self.refresh_ttl * 1_000_000,
            },
        ))
    }

    fn token_pair(
        &self,
        user: UserId,
        username: &str,
        refresh_token: String,
        sid: &str,
    ) -> Result<TokenPair, ApiError> {
        let (token, _) = self.issue_access(user, username, sid)?;
        Ok(TokenPair {
            token,
            refresh_token,
            user_id: user,
            username: username.to_owned(),
            expires_in: u64::try_from(self.access_ttl).unwrap_or(0),
        })
    }

    /// Issues an access JWT; returns it with its `jti`.
    fn issue_access(&self, user: UserId, username: &str, sid: &str) -> Result<(String, String), ApiError> {
        let iat = now_micros() / 1_000_000;
        let jti = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<16>()?);
        let claims = Claims {
            sub: user.0.to_string(),
            name: username.to_owned(),
            jti: jti.clone(),
            sid: sid.to_owned(),
            iat,
            exp: iat + self.access_ttl,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|e| {
            tracing::error!(error = %e, "jwt encoding failed");
            ApiError::internal()
        })?;
        Ok((token, jti))
    }

    /// Verifies an access token (signature, algorithm, expiry, blacklist).
    pub async fn authenticate(&self, token: &str) -> Result<AuthUser, ApiError> {
        let user = self.verify_access(token)?;
        // Live sessions are cached briefly (in Redis when configured, so every
        // instance sees a revocation at once); revocation drops the entry.
        let cache_key = format!("session:{}", user.session);
        if !user.session.is_empty() && self.limits.cache_has(&cache_key).await {
            return Ok(user);
        }
        if self
            .stores
            .tokens
            .token_revoked(&user.jti, &user.session)
            .await
            .map_err(store_err)?
        {
            return Err(ApiError::unauthorized("token has been revoked"));
        }
        if !user.session.is_empty() {
            self.limits.cache_put(&cache_key, SESSION_CACHE_TTL).await;
        }
        Ok(user)
    }

    /// Signature/expiry check only, without the blacklist lookup.
    fn verify_access(&self, token: &str) -> Result<AuthUser, ApiError> {
        if token.len() > 4096 {
            return Err(ApiError::unauthorized("invalid token"));
        }
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => ApiError::unauthorized("token expired"),
                _ => ApiError::unauthorized("invalid token"),
            })?;
        let user_id = data
            .claims
            .sub
            .parse()
            .map(UserId)
            .map_err(|_| ApiError::unauthorized("invalid token"))?;
        Ok(AuthUser {
            user_id,
            username: data.claims.name,
            jti: data.claims.jti,
            exp: data.claims.exp,
            session: data.claims.sid,
        })
    }

    /// Exchanges a refresh token for a new pair; the old one is spent. Presenting a
    /// spent token revokes every token of its family (a stolen token was used).
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, ApiError> {
        if refresh_token.is_empty() || refresh_token.len() > 256 {
            return Err(ApiError::unauthorized("invalid refresh token"));
        }
        let old_hash = sha256(refresh_token.as_bytes());
        // The family id is kept by the store; the new row's family is ignored.
        let (new_token, new_row) = self.new_refresh(UserId(0), Vec::new())?;
        let outcome = self
            .stores
            .tokens
            .rotate_refresh(&old_hash, new_row, now_micros())
            .await
            .map_err(store_err)?;
        match outcome {
            RotateOutcome::Rotated { user_id, family } => {
                let sid = crate::sessions::session_id(&family);
                self.stores
                    .tokens
                    .touch_session(&sid, now_micros())
                    .await
                    .map_err(store_err)?;
                let user = self
                    .stores
                    .users
                    .user_by_id(user_id)
                    .await
                    .map_err(store_err)?
                    .ok_or_else(|| ApiError::unauthorized("invalid refresh token"))?;
                self.token_pair(user.id, &user.username, new_token, &sid)
            }
            RotateOutcome::Reused { user_id, family } => {
                tracing::warn!(user_id = %user_id, "refresh token reuse: family revoked");
                // A stolen token was used: the whole session dies, sockets included.
                let sid = crate::sessions::session_id(&family);
                let ended = self
                    .stores
                    .tokens
                    .revoke_sessions(user_id, Some(&sid), None, now_micros())
                    .await
                    .map_err(store_err)?;
                self.announce_revoked(user_id, &ended).await;
                crate::telemetry::security_event("refresh_reuse");
                Err(ApiError::unauthorized("refresh token reuse detected; session revoked"))
            }
            RotateOutcome::Invalid => Err(ApiError::unauthorized("invalid refresh token")),
        }
    }

    /// Blacklists the access token until it expires, ends its session (closing that
    /// session's sockets), and revokes the given refresh token's family.
    pub async fn logout(&self, user: &AuthUser, refresh_token: Option<&str>) -> Result<(), ApiError> {
        if !user.session.is_empty() {
            let ended = self
                .stores
                .tokens
                .revoke_sessions(user.user_id, Some(&user.session), None, now_micros())
                .await
                .map_err(store_err)?;
            self.announce_revoked(user.user_id, &ended).await;
        }
        self.stores
            .tokens
            .blacklist_jti(&user.jti, user.exp * 1_000_000)
            .await
            .map_err(store_err)?;
        if let Some(rt) = refresh_token.filter(|t| !t.is_empty() && t.len() <= 256) {
            self.stores
                .tokens
                .revoke_refresh_family(&sha256(rt.as_bytes()), user.user_id, now_micros())
                .await
                .map_err(store_err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        for ok in ["abc", "Ivan_Petrov", "a.b-c", "Иван", &"x".repeat(32)] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "", "has space", "semi;colon", "<script>", &"x".repeat(33)] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_rules() {
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password("1234567").is_err());
        assert!(validate_password(&"p".repeat(1024)).is_ok());
        assert!(validate_password(&"p".repeat(1025)).is_err());
    }
}
