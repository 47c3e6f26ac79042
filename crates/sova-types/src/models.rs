//! REST request and response bodies (v1). Socket frames embed the same shapes.

use crate::ids::{ChatId, MessageId, UserId};
use serde::{Deserialize, Serialize};

/// A solved proof-of-work challenge from `GET /api/captcha`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaptchaSolution {
    pub challenge: String,
    pub nonce: String,
}

/// `POST /api/register` body.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RegisterRequest {
    pub username: String,
    pub password: String,
    /// Needed only when the address's reputation asks for it.
    #[serde(default)]
    pub captcha: Option<CaptchaSolution>,
}

/// `POST /api/register` answer (201).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RegisteredUser {
    pub user_id: UserId,
    pub username: String,
}

/// `POST /api/login` body.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// A stable id the client chose for this device (new devices raise an alert).
    #[serde(default)]
    pub device_id: Option<String>,
    /// Needed only when the address's reputation asks for it.
    #[serde(default)]
    pub captcha: Option<CaptchaSolution>,
}

/// Answer of login and refresh: an access JWT and an opaque refresh token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TokenPair {
    pub token: String,
    pub refresh_token: String,
    pub user_id: UserId,
    pub username: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
}

/// `POST /api/refresh` body.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// `POST /api/logout` body (optional): the refresh token to revoke with the access token.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LogoutRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// `POST /api/send` body. `content` is the seed's name; `text` is accepted too.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    #[serde(default)]
    pub kind: MessageKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<MessageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<ForwardOrigin>,
    /// For `media` and `file` messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
    /// Uploaded files this message carries (`POST /api/files`), in the order sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<FileAttachment>,
    /// Users mentioned with `@username`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<UserId>,
    /// RFC 3339 time of the last edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    /// Deleted for everyone: a tombstone with empty text.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionCount>,
}

/// Kinds of chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    /// The public `general` chat every user joins.
    Public,
    /// Exactly two members; one per pair.
    Private,
    /// Members talk; owner and admins manage.
    Group,
    /// Only owner and admins post; members read.
    Channel,
}

impl ChatKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatKind::Public => "public",
            ChatKind::Private => "private",
            ChatKind::Group => "group",
            ChatKind::Channel => "channel",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "public" => ChatKind::Public,
            "private" => ChatKind::Private,
            "group" => ChatKind::Group,
            "channel" => ChatKind::Channel,
            _ => return None,
        })
    }
}

/// A member's role in a chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "member" => Role::Member,
            "admin" => Role::Admin,
            "owner" => Role::Owner,
            _ => return None,
        })
    }
    /// Owner or admin.
    pub fn manages(self) -> bool {
        self >= Role::Admin
    }
}

/// Message kinds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    #[default]
    Text,
    Media,
    File,
    /// Written by the server: joins, leaves, renames.
    System,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Media => "media",
            MessageKind::File => "file",
            MessageKind::System => "system",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "text" => MessageKind::Text,
            "media" => MessageKind::Media,
            "file" => MessageKind::File,
            "system" => MessageKind::System,
            _ => return None,
        })
    }
}

/// A chat as its members see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Chat {
    pub id: ChatId,
    #[serde(rename = "type")]
    pub kind: ChatKind,
    pub name: String,
    pub member_count: i64,
    /// Highest `chat_seq` so far.
    pub last_seq: i64,
    pub created_at: String,
    /// The caller's role (absent where not a member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The caller's unread count (in `GET /api/chats`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread: Option<i64>,
    /// The caller's read position (`chat_seq`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_read_seq: Option<i64>,
    /// The caller muted this chat (notifications only; mentions still arrive).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub muted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<Box<Message>>,
}

/// A user as any signed-in user sees them (no private data).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserProfile {
    pub user_id: UserId,
    /// The username as registered (display case kept).
    pub username: String,
    /// RFC 3339 time of registration.
    pub created_at: String,
}

/// A chat member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Member {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
    pub joined_at: String,
    /// Read position (`chat_seq`), where receipts are visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_read_seq: Option<i64>,
}

/// The file or media a `media` / `file` message carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Attachment {
    /// Where the content lives (`http(s)://…`).
    pub url: String,
    pub name: String,
    /// MIME type; `image/*`, `video/*` or `audio/*` for media.
    pub mime: String,
    /// Size in bytes.
    pub size: i64,
}

/// An uploaded file (`POST /api/files`, `GET /api/files/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FileInfo {
    /// Opaque, unguessable id.
    pub id: String,
    /// The uploader's name for it, made safe (no path, no control characters).
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// The stored content type (what downloads are served as).
    pub mime: String,
    /// SHA-256 of the contents, lower-case hex (also the download's `ETag`).
    pub sha256: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// Pixel size, for images once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
    /// A BlurHash placeholder, for images once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blurhash: Option<String>,
}

/// An uploaded file as a message carries it (`Message.attachments`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FileAttachment {
    pub file_id: String,
    pub name: String,
    pub size: i64,
    pub mime: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blurhash: Option<String>,
}

/// Where a forwarded message came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ForwardOrigin {
    pub chat_id: ChatId,
    pub message_id: MessageId,
    pub user_id: UserId,
    pub user: String,
}

/// Aggregated reactions of one emoji on a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReactionCount {
    pub emoji: String,
    pub count: i64,
    /// Whether the caller reacted with it (history only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub me: bool,
}

/// A previous version of an edited message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MessageVersion {
    pub version: i64,
    pub text: String,
    /// When this text was replaced.
    pub replaced_at: String,
}

/// An invite link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Invite {
    pub code: String,
    pub chat_id: ChatId,
    pub created_by: UserId,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub revoked: bool,
}

/// Whether a user is connected anywhere, and when they last were.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Presence {
    pub user_id: UserId,
    /// `online` or `offline`.
    pub status: String,
    /// RFC 3339 time of the last disconnect (absent if never seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
}

/// A user's client settings (theme, font size, language, …): a JSON object the
/// server stores as given (at most 16 KiB) and returns on every device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserSettings {
    /// The settings object; `{}` when never saved.
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// RFC 3339 time of the last save (absent: never saved).
    pub updated_at: Option<String>,
}

/// A page of search results (`GET /api/search`), best first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SearchPage {
    pub items: Vec<SearchItem>,
    /// Pass back as `cursor` for the next page; `null` on the last page.
    pub cursor: Option<String>,
}

/// One search result. `snippet` is HTML-safe text: everything is escaped except
/// `<mark>`…`</mark>` around the matched words (docs/search.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SearchItem {
    /// A message whose text matches.
    Message { message: Message, snippet: String },
    /// A file attached to a message, matching by name or contents.
    File {
        file: FileInfo,
        chat_id: ChatId,
        message_id: MessageId,
        snippet: String,
    },
}
