//! Socket frames (WebSocket text frames and TCP lines). Every frame is a JSON object
//! with `"type"`; a request may carry `"id"`, echoed as `"re"` in the direct answer.

use crate::error::{ApiError, ErrorCode};
use crate::ids::{ChatId, MessageId, UserId};
use crate::models::Message;
use serde::{Deserialize, Serialize};

/// Longest accepted request `id`.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// A frame sent by a client.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Log in with a password, or attach an access token; `since` replays missed events.
    Auth {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        username: Option<String>,
        #[serde(default)]
        password: Option<String>,
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        since: Option<i64>,
        #[serde(default)]
        device_id: Option<String>,
        /// A solved challenge, when `captcha_required` was answered.
        #[serde(default)]
        captcha: Option<crate::models::CaptchaSolution>,
    },
    /// Send a text message; without `chat_id` it goes to `general`.
    Message {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        chat_id: Option<ChatId>,
        /// Required unless `files` carries something.
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        client_msg_id: Option<String>,
        #[serde(default)]
        reply_to: Option<MessageId>,
        /// Ids of the sender's uploads to attach (`POST /api/files`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<String>,
    },

    /// The second login step when 2FA is on: the ticket from `auth_2fa_required` and a
    /// TOTP code or a backup code.
    #[serde(rename = "auth_2fa")]
    Auth2fa {
        #[serde(default)]
        id: Option<String>,
        ticket: String,
        code: String,
        #[serde(default)]
        since: Option<i64>,
        #[serde(default)]
        device_id: Option<String>,
    },
    /// Replay every event after `since`, then answer `synced`.
    Sync {
        #[serde(default)]
        id: Option<String>,
        since: i64,
    },
    /// A page of a chat's history (default `general`), oldest first.
    History {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        chat_id: Option<ChatId>,
        #[serde(default)]
        limit: Option<i64>,
        #[serde(default)]
        before: Option<MessageId>,
    },
    /// Liveness check; answered with `pong`.
    Ping {
        #[serde(default)]
        id: Option<String>,
    },
}

/// Every seed frame `type` (any other `type` names an operation of the registry).
pub const SEED_FRAME_TYPES: &[&str] = &["auth", "auth_2fa", "message", "sync", "history", "ping"];

impl ClientFrame {
    /// The request id, if the client sent one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ClientFrame::Auth { id, .. }
            | ClientFrame::Auth2fa { id, .. }
            | ClientFrame::Message { id, .. }
            | ClientFrame::Sync { id, .. }
            | ClientFrame::History { id, .. }
            | ClientFrame::Ping { id } => id.as_deref(),
        }
    }
}

/// A frame sent by the server as the direct answer to a request (with `re`), or an
/// error. Pushes are `crate::event::Event`s.
// Frames live only long enough to be serialized once; boxing would cost more than it saves.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    AuthSuccess {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re: Option<String>,
        token: String,
        /// Present when the socket logged in with a password.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refresh_token: Option<String>,
        user_id: UserId,
        username: String,
        expires_in: u64,
    },
    /// The password was right and 2FA is on: answer with `auth_2fa` and this ticket.
    #[serde(rename = "auth_2fa_required")]
    Auth2faRequired {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re: Option<String>,
        ticket: String,
    },
    /// The direct answer to a `message` request that carried `id` or `client_msg_id`.
    Ack {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re: Option<String>,
        message_id: MessageId,
        chat_id: ChatId,
        chat_seq: i64,
        seq: i64,
        timestamp: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
    },
    /// The end of a replay: everything up to `seq` has been sent.
    Synced {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re: Option<String>,
        seq: i64,
    },
    History {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re: Option<String>,
        chat_id: ChatId,
        messages: Vec<Message>,
    },
    Pong {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re: Option<String>,
    },
    /// The answer to any other request: `data` is exactly the REST response body.
    Result {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re: Option<String>,
        data: serde_json::Value,
    },
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re: Option<String>,
        /// On `slow_consumer`: the last `seq` delivered, to resume from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<i64>,
        /// On `rate_limited`: seconds until a retry may succeed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
        /// Machine-readable facts (see `ApiError::details`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        details: Option<serde_json::Value>,
    },
}

impl ServerFrame {
    /// An `error` frame for `err`, answering request `re`.
    pub fn error(err: ApiError, re: Option<String>) -> Self {
        ServerFrame::Error {
            code: err.code,
            message: err.message,
            re,
            seq: None,
            retry_after: err.retry_after,
            details: err.details,
        }
    }

    /// Serializes to compact JSON. Serialization of these types cannot fail.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"type":"error","code":"internal","message":"internal server error"}"#.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seed_frames() {
        let f: ClientFrame = serde_json::from_str(r#"{"type":"auth","username":"u","password":"p"}"#).unwrap();
        assert!(matches!(f, ClientFrame::Auth { username: Some(ref u), .. } if u == "u"));
        let f: ClientFrame = serde_json::from_str(r#"{"type":"message","token":"t","text":"hi"}"#).unwrap();
        assert!(matches!(f, ClientFrame::Message { chat_id: None, text: Some(ref text), .. } if text == "hi"));
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"nope"}"#).is_err());
        // Operation frames are not seed frames (the gateway decodes them by the registry).
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"react","id":"r9","chat_id":3}"#).is_err());
        // Without text a message must carry files; the gateway refuses it otherwise.
        let f: ClientFrame = serde_json::from_str(r#"{"type":"message","files":["a1"]}"#).unwrap();
        assert!(matches!(f, ClientFrame::Message { text: None, ref files, .. } if files == &["a1"]));
    }

    #[test]
    fn error_frame_shape() {
        let v: serde_json::Value =
            serde_json::from_str(&ServerFrame::error(ApiError::bad_request("x"), Some("r1".into())).to_json()).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["code"], "bad_request");
        assert_eq!(v["re"], "r1");
    }
}
