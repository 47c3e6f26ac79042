//! REST request and response bodies (v1). Socket frames embed the same shapes.

use crate::ids::{ChatId, MessageId, UserId};
use serde::{Deserialize, Serialize};

/// `POST /api/register` body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub username: String,
    pub password: String,
}

/// `POST /api/register` answer (201).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredUser {
    pub user_id: UserId,
    pub username: String,
}

/// `POST /api/login` body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Answer of login and refresh: an access JWT and an opaque refresh token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPair {
    pub token: String,
    pub refresh_token: String,
    pub user_id: UserId,
    pub username: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
}

/// `POST /api/refresh` body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// `POST /api/logout` body (optional): the refresh token to revoke with the access token.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LogoutRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// `POST /api/send` body. `content` is the seed's name; `text` is accepted too.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SendRequest {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub chat_id: Option<ChatId>,
    #[serde(default)]
    pub client_msg_id: Option<String>,
}

/// A stored message as every transport shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub chat_id: ChatId,
    /// Position within the chat: 1, 2, 3… without gaps.
    pub chat_seq: i64,
    pub user_id: UserId,
    /// Sender's username.
    pub user: String,
    pub text: String,
    /// RFC 3339 UTC.
    pub timestamp: String,
    /// Server-wide event sequence of this message (equal to `id`).
    pub seq: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
}
