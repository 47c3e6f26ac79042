//! Authenticating a connection: `auth` with a password (and perhaps a second
//! factor) or a token, and binding the user to the connection.

use crate::Outcome;
use sova_service::auth::LoginResult;
use sova_service::{AuthUser, Services};
use sova_types::ApiError;
use sova_types::frames::ServerFrame;

pub(crate) fn auth_success(
    user: &AuthUser,
    token: String,
    refresh_token: Option<String>,
    re: Option<String>,
) -> ServerFrame {
    ServerFrame::AuthSuccess {
        re,
        token,
        refresh_token,
        user_id: user.user_id,
        username: user.username.clone(),
        expires_in: user.expires_in(),
    }
}

/// How an `auth` frame went.
pub(crate) enum Authn {
    Done(AuthUser, String, Box<ServerFrame>),
    /// The password was right; a second factor is needed.
    SecondFactor(String),
}

/// `auth_success` for a new session.
pub(crate) fn session_reply(pair: sova_types::models::TokenPair, re: Option<String>) -> ServerFrame {
    ServerFrame::AuthSuccess {
        re,
        token: pair.token,
        refresh_token: Some(pair.refresh_token),
        user_id: pair.user_id,
        username: pair.username,
        expires_in: pair.expires_in,
    }
}

/// Binds an authenticated user to the connection (never switching users).
pub(crate) async fn finish_auth(
    services: &Services,
    current: Option<AuthUser>,
    user: AuthUser,
    token: String,
    reply: ServerFrame,
    since: Option<i64>,
    re: Option<String>,
) -> Outcome {
    if let Some(cur) = current
        && cur.user_id != user.user_id
    {
        return Outcome::Error(ApiError::forbidden("connection is authenticated as another user"), re);
    }
    match services.chats.chats_of(user.user_id).await {
        Ok(chats) => Outcome::Authed {
            user,
            token,
            chats,
            reply,
            since,
            then: None,
            baseline: services.messages.last_seq().await.unwrap_or(0),
        },
        Err(e) => Outcome::Error(e, re),
    }
}

pub(crate) async fn authenticate(
    services: &Services,
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
    re: Option<String>,
    client: &sova_service::auth::Client,
) -> Result<Authn, ApiError> {
    match (username, password, token) {
        (_, _, Some(token)) => {
            let user = services.auth.authenticate(&token).await?;
            let reply = auth_success(&user, token.clone(), None, re);
            Ok(Authn::Done(user, token, Box::new(reply)))
        }
        (Some(username), Some(password), None) => match services.auth.login(&username, &password, client).await? {
            LoginResult::Tokens(pair) => {
                let user = services.auth.authenticate(&pair.token).await?;
                let token = pair.token.clone();
                Ok(Authn::Done(user, token, Box::new(session_reply(pair, re))))
            }
            LoginResult::SecondFactor { ticket } => Ok(Authn::SecondFactor(ticket)),
        },
        _ => Err(ApiError::bad_request("auth needs username and password, or token")),
    }
}
