//! Accounts and tokens: register, login (with the second factor), refresh, logout,
//! and the proof-of-work CAPTCHA. REST only: sockets authenticate with `auth`.

use crate::{Auth, Caller, Entry, Limit, Method, Operation, Spec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sova_service::Services;
use sova_service::abuse::Challenge;
use sova_service::auth::LoginResult;
use sova_types::ApiError;
use sova_types::ErrorCode::{CaptchaRequired, Conflict, Forbidden};
use sova_types::models::{LoginRequest, LogoutRequest, RefreshRequest, RegisterRequest, RegisteredUser, TokenPair};

/// The operations of this module.
pub const OPS: &[Entry] = &[
    Entry::of::<Register>(),
    Entry::of::<Login>(),
    Entry::of::<LoginSecondFactor>(),
    Entry::of::<Refresh>(),
    Entry::of::<Logout>(),
    Entry::of::<Captcha>(),
    Entry::of::<Me>(),
    Entry::of::<GetSettings>(),
    Entry::of::<PutSettings>(),
];

const TAG: &str = "auth";

/// `register` (`/api/register`): Create an account.
pub struct Register;
impl Operation for Register {
    type Request = RegisterRequest;
    type Response = RegisteredUser;
    const SPEC: Spec = Spec::new("register", Method::Post, "/api/register", "Create an account")
        .tag(TAG)
        .auth(Auth::Public)
        .status(201)
        .limit(Limit::Register)
        .errors(&[Conflict, Forbidden, CaptchaRequired])
        .rest_only();
    async fn handle(s: &Services, c: &Caller, r: RegisterRequest) -> Result<RegisteredUser, ApiError> {
        s.auth
            .register(&r.username, &r.password, &c.client(None, r.captcha))
            .await
    }
}

/// The password was right and two-factor authentication is on.
#[derive(Serialize, JsonSchema)]
pub struct SecondFactorRequired {
    /// Always `true`.
    #[serde(rename = "2fa_required")]
    pub required: bool,
    /// Send it with a TOTP or backup code to `POST /api/login/2fa`.
    pub ticket: String,
}

/// A token pair, or the request for a second factor.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum LoginResponse {
    /// Logged in.
    Tokens(TokenPair),
    /// Send the ticket with a code to `POST /api/login/2fa`.
    SecondFactor(SecondFactorRequired),
}

/// `login` (`/api/login`): Log in: a token pair, or a ticket for the second factor.
pub struct Login;
impl Operation for Login {
    type Request = LoginRequest;
    type Response = LoginResponse;
    const SPEC: Spec = Spec::new(
        "login",
        Method::Post,
        "/api/login",
        "Log in: a token pair, or a ticket for the second factor",
    )
    .tag(TAG)
    .auth(Auth::Public)
    .limit(Limit::Login)
    .errors(&[Forbidden, CaptchaRequired])
    .rest_only();
    async fn handle(s: &Services, c: &Caller, r: LoginRequest) -> Result<LoginResponse, ApiError> {
        let client = c.client(r.device_id, r.captcha);
        Ok(match s.auth.login(&r.username, &r.password, &client).await? {
            LoginResult::Tokens(t) => LoginResponse::Tokens(t),
            LoginResult::SecondFactor { ticket } => {
                LoginResponse::SecondFactor(SecondFactorRequired { required: true, ticket })
            }
        })
    }
}

/// `login_2fa` (`/api/login/2fa`): Finish a login with a TOTP or backup code.
pub struct LoginSecondFactor;
/// The input of `login_2fa`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct SecondFactorRequest {
    pub ticket: String,
    /// A TOTP code or a backup code.
    pub code: String,
    #[serde(default)]
    pub device_id: Option<String>,
}
impl Operation for LoginSecondFactor {
    type Request = SecondFactorRequest;
    type Response = TokenPair;
    const SPEC: Spec = Spec::new(
        "login_2fa",
        Method::Post,
        "/api/login/2fa",
        "Finish a login with a TOTP or backup code",
    )
    .tag(TAG)
    .auth(Auth::Public)
    .limit(Limit::Login)
    .rest_only();
    async fn handle(s: &Services, c: &Caller, r: SecondFactorRequest) -> Result<TokenPair, ApiError> {
        s.auth.login_2fa(&r.ticket, &r.code, &c.client(r.device_id, None)).await
    }
}

/// `refresh` (`/api/refresh`): A new token pair; the refresh token is spent (reuse revokes the session).
pub struct Refresh;
impl Operation for Refresh {
    type Request = RefreshRequest;
    type Response = TokenPair;
    const SPEC: Spec = Spec::new(
        "refresh",
        Method::Post,
        "/api/refresh",
        "A new token pair; the refresh token is spent (reuse revokes the session)",
    )
    .tag(TAG)
    .auth(Auth::Public)
    .rest_only();
    async fn handle(s: &Services, _: &Caller, r: RefreshRequest) -> Result<TokenPair, ApiError> {
        s.auth.refresh(&r.refresh_token).await
    }
}

/// `logout` (`/api/logout`): Blacklist this access token and revoke the refresh token's session.
pub struct Logout;
impl Operation for Logout {
    type Request = LogoutRequest;
    type Response = ();
    const SPEC: Spec = Spec::new(
        "logout",
        Method::Post,
        "/api/logout",
        "Blacklist this access token and revoke the refresh token's session",
    )
    .tag(TAG)
    .status(204)
    .rest_only();
    async fn handle(s: &Services, c: &Caller, r: LogoutRequest) -> Result<(), ApiError> {
        s.auth.logout(c.user()?, r.refresh_token.as_deref()).await
    }
}

/// `captcha` (`/api/captcha`): A proof-of-work challenge, for when login or registration answers captcha_required.
pub struct Captcha;
/// No parameters.
#[derive(Deserialize, JsonSchema)]
pub struct Empty {}
impl Operation for Captcha {
    type Request = Empty;
    type Response = Challenge;
    const SPEC: Spec = Spec::new(
        "captcha",
        Method::Get,
        "/api/captcha",
        "A proof-of-work challenge, for when login or registration answers captcha_required",
    )
    .tag(TAG)
    .auth(Auth::Public)
    .rest_only();
    async fn handle(s: &Services, _: &Caller, _: Empty) -> Result<Challenge, ApiError> {
        s.auth.reputation.challenge()
    }
}

/// `me` (`/api/me`): Who I am: user, session, token lifetime.
pub struct Me;
/// Who the caller is.
#[derive(Serialize, JsonSchema)]
pub struct Profile {
    pub user_id: sova_types::UserId,
    pub username: String,
    /// The session of this access token (see `GET /api/sessions`).
    pub session_id: String,
    /// Seconds until this access token expires.
    pub expires_in: u64,
}
impl Operation for Me {
    type Request = Empty;
    type Response = Profile;
    const SPEC: Spec = Spec::new("me", Method::Get, "/api/me", "Who I am: user, session, token lifetime").tag(TAG);
    async fn handle(_: &Services, c: &Caller, _: Empty) -> Result<Profile, ApiError> {
        let u = c.user()?;
        Ok(Profile {
            user_id: u.user_id,
            username: u.username.clone(),
            session_id: u.session.clone(),
            expires_in: u.expires_in(),
        })
    }
}

/// `settings` (`/api/me/settings`): My client settings (an empty object when never saved).
pub struct GetSettings;
impl Operation for GetSettings {
    type Request = Empty;
    type Response = sova_types::models::UserSettings;
    const SPEC: Spec = Spec::new(
        "settings",
        Method::Get,
        "/api/me/settings",
        "My client settings, which follow me across devices",
    )
    .tag(TAG);
    async fn handle(s: &Services, c: &Caller, _: Empty) -> Result<sova_types::models::UserSettings, ApiError> {
        s.settings.get(c.user()?).await
    }
}

/// `put_settings` (`/api/me/settings`): Replace my client settings.
pub struct PutSettings;
/// The input of `put_settings`.
#[derive(Deserialize, JsonSchema)]
pub struct PutSettingsRequest {
    /// Any JSON object of at most 16 KiB; replaces the stored one (last write wins).
    pub settings: serde_json::Map<String, serde_json::Value>,
}
impl Operation for PutSettings {
    type Request = PutSettingsRequest;
    type Response = sova_types::models::UserSettings;
    const SPEC: Spec = Spec::new(
        "put_settings",
        Method::Put,
        "/api/me/settings",
        "Replace my client settings; my connections get settings_updated",
    )
    .tag(TAG)
    .errors(&[sova_types::ErrorCode::TooLarge]);
    async fn handle(
        s: &Services,
        c: &Caller,
        r: PutSettingsRequest,
    ) -> Result<sova_types::models::UserSettings, ApiError> {
        s.settings.put(c.user()?, r.settings).await
    }
}
