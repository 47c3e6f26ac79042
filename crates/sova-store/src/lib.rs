//! Storage ports: one trait per domain, the row models they return and the closed
//! `StoreError`. Backends (SQLite, PostgreSQL) implement every trait with identical
//! behaviour, proven by the `sova-store-tests` conformance suite. Every query that
//! returns chat data is scoped by chat membership where a user is involved.

use async_trait::async_trait;
use sova_types::{ChatId, GameId, MessageId, UserId};
use std::sync::Arc;

/// Storage failures, mapped to API errors at the service boundary.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness constraint was violated (e.g. a taken username).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    /// The database is unreachable or overloaded; retrying may help.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else; logged, never shown to clients.
    #[error("database error: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub password_hash: String,
    pub created_at: i64,
}

/// Two-factor state of a user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TotpRow {
    /// Base32 secret when 2FA is on.
    pub secret: Option<String>,
    /// Base32 secret awaiting its first code.
    pub pending: Option<String>,
    /// Highest time step accepted (codes are never accepted twice).
    pub last_step: i64,
    pub backup_codes_left: i64,
}

#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: String,
    /// Lower-cased username; unique.
    pub username_lower: String,
    pub password_hash: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRefreshToken {
    /// SHA-256 of the opaque token; the token itself is never stored.
    pub token_hash: Vec<u8>,
    pub user_id: UserId,
    /// All tokens descending from one login share a family.
    pub family_id: Vec<u8>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A login session (its id is the hex of the refresh-token family).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub user_id: UserId,
    pub device_id: String,
    pub user_agent: String,
    pub ip: String,
    pub created_at: i64,
    pub last_active: i64,
}

/// One audit-log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub action: String,
    pub actor: Option<UserId>,
    pub target: Option<UserId>,
    pub ip: String,
    pub detail: String,
}

/// What happened to a refresh token presented for rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The old token was valid and is now used; the new one is stored.
    Rotated { user_id: UserId, family: Vec<u8> },
    /// The old token had already been used: its whole family is now revoked.
    Reused { user_id: UserId, family: Vec<u8> },
    /// Unknown, expired or revoked.
    Invalid,
}

pub use sova_types::models::{ChatKind, MessageKind, Role};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatRow {
    pub id: ChatId,
    pub kind: ChatKind,
    pub name: String,
    /// Stable well-known name (`general`), if any.
    pub slug: Option<String>,
    pub created_at: i64,
    /// Highest `chat_seq` assigned in this chat.
    pub last_seq: i64,
    pub member_count: i64,
}

/// A message to append; ids and sequence numbers are assigned by the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    pub chat_id: ChatId,
    pub sender_id: UserId,
    pub kind: MessageKind,
    pub text: String,
    pub reply_to: Option<MessageId>,
    /// Message being forwarded (must be visible to the sender).
    pub forward_of: Option<MessageId>,
    /// Lower-cased usernames mentioned with `@`; members among them get `mention`.
    pub mentions: Vec<String>,
    pub attachment: Option<sova_types::models::Attachment>,
    /// Ids of uploaded files to attach; each must be the sender's own upload.
    pub files: Vec<String>,
    pub client_msg_id: Option<String>,
    pub created_at: i64,
}

impl NewMessage {
    /// A plain text message.
    pub fn text(chat_id: ChatId, sender_id: UserId, text: impl Into<String>, created_at: i64) -> Self {
        NewMessage {
            chat_id,
            sender_id,
            kind: MessageKind::Text,
            text: text.into(),
            reply_to: None,
            forward_of: None,
            mentions: Vec::new(),
            attachment: None,
            files: Vec::new(),
            client_msg_id: None,
            created_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRow {
    pub id: MessageId,
    pub chat_id: ChatId,
    pub chat_seq: i64,
    pub sender_id: UserId,
    pub sender_name: String,
    pub kind: MessageKind,
    /// Empty once deleted.
    pub text: String,
    pub reply_to: Option<MessageId>,
    pub forward: Option<sova_types::models::ForwardOrigin>,
    pub attachment: Option<sova_types::models::Attachment>,
    /// Uploaded files carried, in the order sent.
    pub attachments: Vec<sova_types::models::FileAttachment>,
    pub mentions: Vec<UserId>,
    pub client_msg_id: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub pinned_at: Option<i64>,
}

/// A chat member as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRow {
    pub chat_id: ChatId,
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
    pub joined_at: i64,
    pub last_read_seq: i64,
    pub muted: bool,
}

/// One of the caller's chats, for the chat list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MyChat {
    pub chat: ChatRow,
    pub role: Role,
    pub last_read_seq: i64,
    pub muted: bool,
    pub last_message: Option<MessageRow>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InviteRow {
    pub code: String,
    pub chat_id: ChatId,
    pub created_by: UserId,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub revoked_at: Option<i64>,
}

/// A state change that emits events; applied by `MessageStore::commit` in one
/// transaction per batch, in order, with event ids assigned in commit order.
/// Domain rules (`sova_core::rules`) are checked inside the transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    Send(NewMessage),
    Edit {
        chat: ChatId,
        message: MessageId,
        user: UserId,
        text: String,
        at: i64,
    },
    Delete {
        chat: ChatId,
        message: MessageId,
        user: UserId,
        at: i64,
    },
    React {
        chat: ChatId,
        message: MessageId,
        user: UserId,
        emoji: String,
        add: bool,
        at: i64,
    },
    Pin {
        chat: ChatId,
        message: MessageId,
        user: UserId,
        pin: bool,
        at: i64,
    },
    /// Moves the reader's position forward to `up_to` (a `chat_seq`); never back.
    Read {
        chat: ChatId,
        user: UserId,
        up_to: i64,
        at: i64,
        receipts_max_members: i64,
    },
    /// For `Private`, `members` holds the one other user and an existing chat is returned.
    CreateChat {
        kind: ChatKind,
        name: String,
        creator: UserId,
        members: Vec<UserId>,
        at: i64,
        max_members: i64,
    },
    /// Adds users; `invite` lets a non-admin join by link (then `users` is `[by]`).
    AddMembers {
        chat: ChatId,
        by: UserId,
        users: Vec<UserId>,
        invite: Option<String>,
        at: i64,
        max_members: i64,
    },
    /// Removes `user`; `by == user` means leaving.
    RemoveMember {
        chat: ChatId,
        by: UserId,
        user: UserId,
        at: i64,
    },
    /// Sets a role; `Role::Owner` transfers ownership (the old owner becomes admin).
    SetRole {
        chat: ChatId,
        by: UserId,
        user: UserId,
        role: Role,
        at: i64,
    },
    Rename {
        chat: ChatId,
        by: UserId,
        name: String,
        at: i64,
    },
    DeleteChat {
        chat: ChatId,
        by: UserId,
        at: i64,
    },
    /// Creates a game in `chat` with `players` seated in order (members of the
    /// chat, `by` first); `options` is the client's JSON object (or `null`).
    CreateGame {
        chat: ChatId,
        by: UserId,
        kind: sova_core::games::GameKind,
        players: Vec<UserId>,
        options: String,
        seed: u64,
        at: i64,
    },
    /// Seats `user` (a member of the game's chat) in an open seat.
    JoinGame {
        game: GameId,
        user: UserId,
        at: i64,
    },
    /// Applies `user`'s move (the JSON of `{"move": …}`'s value) to the state read
    /// in the write transaction.
    GameMove {
        game: GameId,
        user: UserId,
        mv: String,
        at: i64,
    },
    /// Forfeits the player to move (or closes the open quiz question) once the
    /// game's deadline has passed; nothing when it has not.
    GameTimeout {
        game: GameId,
        at: i64,
    },
    /// A task or board change (see `tasks::TaskOp`).
    Task(tasks::TaskOp),
}

/// What an op did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new message (also for edits, deletes, pins: the message after the change).
    Message(MessageRow),
    /// A resend with a known `client_msg_id`: the stored message, unchanged.
    Duplicate(MessageRow),
    Chat(ChatRow),
    /// A game after the op (created, joined, moved, timed out or unchanged).
    Game(GameRow),
    /// `CreateChat` of a private chat that already existed.
    ExistingChat(ChatRow),
    Done,
    /// A task after the change (for a delete: before it).
    Task(tasks::TaskRow),
    /// A board just created.
    Board(tasks::BoardRow),
    /// Refused by a domain rule; nothing was written for this op.
    Rejected(sova_core::Rejection),
}

/// An event written (or, for new messages, represented by the message row).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    pub seq: i64,
    /// Visible to the chat's members…
    pub chat_id: Option<ChatId>,
    /// …or to this one user only.
    pub target_user: Option<UserId>,
    /// The event itself (its `seq` equals `self.seq`).
    pub event: sova_types::Event,
}

pub use sova_types::event::Membership;

/// The at-rest form of an event (its JSON; the store seals it before writing).
pub fn event_at_rest(event: &sova_types::Event) -> String {
    serde_json::to_string(event).unwrap_or_default()
}

/// Reads an event's at-rest form back (after unsealing).
pub fn event_from_rest(text: &str) -> StoreResult<sova_types::Event> {
    serde_json::from_str(text).map_err(|e| StoreError::Other(format!("stored event does not decode: {e}")))
}

impl StoredEvent {
    /// The subscription change this event implies for `target_user`.
    pub fn membership(&self) -> Option<Membership> {
        self.target_user.and_then(|_| self.event.membership())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Committed {
    pub outcome: Outcome,
    pub events: Vec<StoredEvent>,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user and, in the same transaction, makes them a member of `auto_join`.
    /// `Conflict` when the lower-cased username is taken.
    async fn create_user(&self, user: NewUser, auto_join: &[ChatId]) -> StoreResult<UserRow>;
    /// Looks a user up by lower-cased username.
    async fn user_by_name(&self, username_lower: &str) -> StoreResult<Option<UserRow>>;
    /// Looks a user up by id.
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<UserRow>>;
    /// Up to `limit` users whose lower-cased username starts with `prefix_lower`
    /// (every user when it is empty), ordered by lower-cased username, strictly after
    /// `after` (a lower-cased username) when given, so pages never overlap.
    async fn search_users(&self, prefix_lower: &str, after: Option<&str>, limit: i64) -> StoreResult<Vec<UserRow>>;
    /// `user`'s two-factor state.
    async fn totp(&self, user: UserId) -> StoreResult<TotpRow>;
    /// Stores (or clears) a secret awaiting confirmation.
    async fn set_totp_pending(&self, user: UserId, secret: Option<&str>) -> StoreResult<()>;
    /// Turns 2FA on with `secret` and replaces the backup codes (hashes), atomically.
    async fn enable_totp(&self, user: UserId, secret: &str, code_hashes: &[Vec<u8>]) -> StoreResult<()>;
    /// Turns 2FA off and deletes the backup codes.
    async fn disable_totp(&self, user: UserId) -> StoreResult<()>;
    /// Accepts time step `step` once: false if it (or a later one) was already used.
    async fn use_totp_step(&self, user: UserId, step: i64) -> StoreResult<bool>;
    /// Consumes a backup code; false if it does not exist (or was used).
    async fn use_backup_code(&self, user: UserId, code_hash: &[u8]) -> StoreResult<bool>;
    /// Replaces the backup codes.
    async fn replace_backup_codes(&self, user: UserId, code_hashes: &[Vec<u8>]) -> StoreResult<()>;
    /// Records when `user` was last connected.
    async fn set_last_seen(&self, user: UserId, at: i64) -> StoreResult<()>;
    /// (user, last seen) for the users that exist.
    async fn last_seen(&self, users: &[UserId]) -> StoreResult<Vec<(UserId, Option<i64>)>>;
    /// `user`'s client settings (a JSON object, as text) and when they were saved.
    async fn settings(&self, user: UserId) -> StoreResult<Option<(String, i64)>>;
    /// Replaces `user`'s client settings (last write wins).
    async fn put_settings(&self, user: UserId, settings: &str, at: i64) -> StoreResult<()>;
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a new refresh token (hash only).
    async fn insert_refresh(&self, token: NewRefreshToken) -> StoreResult<()>;
    /// Atomically marks `old_hash` used and stores `new` in the same family; detects reuse
    /// (and then revokes the family) and invalid tokens.
    async fn rotate_refresh(&self, old_hash: &[u8], new: NewRefreshToken, now: i64) -> StoreResult<RotateOutcome>;
    /// Revokes the family of the given token if it belongs to `user`; true if one was found.
    async fn revoke_refresh_family(&self, token_hash: &[u8], user: UserId, now: i64) -> StoreResult<bool>;
    /// Blacklists an access-token id until it expires anyway.
    async fn blacklist_jti(&self, jti: &str, expires_at: i64) -> StoreResult<()>;
    /// Whether the access-token id is blacklisted.
    async fn is_blacklisted(&self, jti: &str) -> StoreResult<bool>;
    /// Records a new session.
    async fn create_session(&self, s: SessionRow) -> StoreResult<()>;
    /// `user`'s live sessions, oldest first.
    async fn sessions(&self, user: UserId) -> StoreResult<Vec<SessionRow>>;
    /// Revokes sessions of `user` (`only` one of them, or all but `except`), with
    /// their refresh tokens; returns the ids revoked.
    async fn revoke_sessions(
        &self,
        user: UserId,
        only: Option<&str>,
        except: Option<&str>,
        now: i64,
    ) -> StoreResult<Vec<String>>;
    /// Notes activity on a session.
    async fn touch_session(&self, id: &str, now: i64) -> StoreResult<()>;
    /// Whether an access token is dead: its `jti` blacklisted or its session revoked.
    async fn token_revoked(&self, jti: &str, session: &str) -> StoreResult<bool>;
    /// Whether `user` ever logged in from this device id or user agent.
    async fn known_device(&self, user: UserId, device_id: &str, user_agent: &str) -> StoreResult<bool>;
    /// Appends to the audit log (append-only).
    async fn audit(&self, entry: AuditRow) -> StoreResult<()>;
    /// Audit entries, newest first, before id `before`, filtered by action and target.
    async fn audit_log(
        &self,
        action: Option<&str>,
        target: Option<UserId>,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>>;
    /// Deletes expired blacklist entries and refresh tokens; returns how many rows went.
    async fn purge_expired(&self, now: i64) -> StoreResult<u64>;
}

#[async_trait]
pub trait ChatStore: Send + Sync {
    /// Returns the chat with this slug, creating it (race-free) when missing.
    async fn ensure_chat(&self, slug: &str, kind: ChatKind, name: &str, now: i64) -> StoreResult<ChatRow>;
    /// A live (not deleted) chat by id.
    async fn chat(&self, id: ChatId) -> StoreResult<Option<ChatRow>>;
    /// Adds a member (idempotent) without events; for bootstrap and tests.
    async fn add_member(&self, chat: ChatId, user: UserId, role: &str, now: i64) -> StoreResult<()>;
    /// Sets `user`'s mute flag in `chat`; false when not a member.
    async fn set_muted(&self, chat: ChatId, user: UserId, muted: bool) -> StoreResult<bool>;
    /// Whether `user` belongs to `chat`.
    async fn is_member(&self, chat: ChatId, user: UserId) -> StoreResult<bool>;
    /// `user`'s membership of `chat`, if any.
    async fn member(&self, chat: ChatId, user: UserId) -> StoreResult<Option<MemberRow>>;
    /// Ids of the chats `user` belongs to.
    async fn chats_of(&self, user: UserId) -> StoreResult<Vec<ChatId>>;
    /// `user`'s private chats and groups/channels of at most `max_members` (presence audience).
    async fn small_chats_of(&self, user: UserId, max_members: i64) -> StoreResult<Vec<ChatId>>;
    /// `user`'s chats, most recently active first, with the last message; keyset
    /// pagination by (last activity, id) via `before`.
    async fn my_chats(&self, user: UserId, before: Option<(i64, ChatId)>, limit: i64) -> StoreResult<Vec<MyChat>>;
    /// Members ordered by user id, after `after`.
    async fn members(&self, chat: ChatId, after: Option<UserId>, limit: i64) -> StoreResult<Vec<MemberRow>>;
    /// The first `per_chat` members (by user id) of each of `chats` that is live and
    /// that `user` belongs to, with that chat's member count: one query for many chats
    /// (GraphQL batches `Chat.members` through it). Chats `user` is not in yield nothing.
    async fn members_of_chats(
        &self,
        user: UserId,
        chats: &[ChatId],
        per_chat: i64,
    ) -> StoreResult<Vec<(MemberRow, i64)>>;
    async fn create_invite(&self, invite: InviteRow) -> StoreResult<()>;
    async fn invite(&self, code: &str) -> StoreResult<Option<InviteRow>>;
    async fn invites(&self, chat: ChatId) -> StoreResult<Vec<InviteRow>>;
    /// Revokes an invite of `chat`; false when there is none.
    async fn revoke_invite(&self, chat: ChatId, code: &str, now: i64) -> StoreResult<bool>;
}

/// An uploaded file as stored (its contents live in the blob store under `id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRow {
    pub id: String,
    pub uploader: UserId,
    pub name: String,
    pub mime: String,
    pub size: i64,
    pub sha256: String,
    pub created_at: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub blurhash: Option<String>,
}

/// A resumable upload in progress (its sealed bytes are the blob store's
/// unfinished object `id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRow {
    pub id: String,
    pub uploader: UserId,
    pub name: String,
    pub mime: String,
    /// Total bytes announced at creation.
    pub length: i64,
    /// Bytes sealed and durable so far.
    pub received: i64,
    pub created_at: i64,
}

#[async_trait]
pub trait FileStore: Send + Sync {
    /// Records a new resumable upload.
    async fn create_upload(&self, upload: &UploadRow) -> StoreResult<()>;
    /// An upload of `user` in progress.
    async fn upload(&self, id: &str, user: UserId) -> StoreResult<Option<UploadRow>>;
    /// Moves an upload's `received` from `from` to `to`; false (nothing written)
    /// when it is no longer at `from`.
    async fn advance_upload(&self, id: &str, from: i64, to: i64) -> StoreResult<bool>;
    /// Forgets an upload (finished or abandoned).
    async fn delete_upload(&self, id: &str) -> StoreResult<()>;
    /// (number, total announced bytes) of `user`'s uploads in progress.
    async fn uploads_open(&self, user: UserId) -> StoreResult<(i64, i64)>;
    /// Ids of uploads created before `before`, at most `limit`, oldest first.
    async fn stale_uploads(&self, before: i64, limit: i64) -> StoreResult<Vec<String>>;
    /// Records a file when its uploader's files, this one included, stay within
    /// `quota` bytes (no limit when `None`); false (nothing written) otherwise.
    async fn insert_file(&self, file: &FileRow, quota: Option<i64>) -> StoreResult<bool>;
    /// The file when `user` may read it: its uploader, or a member of a chat where
    /// a (not deleted) message carrying it was posted. `None` for anyone else.
    async fn visible_file(&self, id: &str, user: UserId) -> StoreResult<Option<FileRow>>;
    /// Deletes a file of `uploader` (and its links to messages); the deleted row,
    /// or `None` when `uploader` has no such file.
    async fn delete_file(&self, id: &str, uploader: UserId) -> StoreResult<Option<FileRow>>;
    /// Bytes of files `user` has uploaded.
    async fn bytes_used(&self, user: UserId) -> StoreResult<i64>;
    /// Up to `limit` image files (PNG/JPEG/WebP/GIF) the media job has not yet
    /// handled (`blurhash` still NULL), oldest first.
    async fn media_pending(&self, limit: i64) -> StoreResult<Vec<FileRow>>;
    /// Records the media job's outcome: the upright size and BlurHash, or an empty
    /// BlurHash (size untouched) for an image that gets no thumbnail.
    async fn set_media(&self, id: &str, size: Option<(i64, i64)>, blurhash: &str) -> StoreResult<()>;
}

/// Held while a batch is committed and published, when several processes publish
/// to one bus: it makes publication order equal commit (seq) order everywhere.
#[async_trait]
pub trait PublicationGuard: Send {
    async fn release(self: Box<Self>);
}

#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Takes the cross-process publication lock (`None` where one process is the only
    /// writer, as with SQLite).
    async fn lock_publication(&self) -> StoreResult<Option<Box<dyn PublicationGuard>>>;
    /// Applies a batch of ops in one transaction (group commit) and returns, per op,
    /// its outcome and the events it produced. Ids are assigned in commit order across
    /// every writer sharing the database; `chat_seq` is gap-free per chat.
    async fn commit(&self, ops: &[WriteOp]) -> StoreResult<Vec<Committed>>;
    /// One message of `chat`.
    async fn message(&self, chat: ChatId, id: MessageId) -> StoreResult<Option<MessageRow>>;
    /// Up to `limit` messages of `chat` with `after` < id < `before`; newest first
    /// unless `ascending`.
    async fn history(
        &self,
        chat: ChatId,
        before: Option<MessageId>,
        after: Option<MessageId>,
        limit: i64,
        ascending: bool,
    ) -> StoreResult<Vec<MessageRow>>;
    /// Up to `limit` messages with id > `since` in the chats `user` belongs to, oldest first.
    async fn messages_since(&self, user: UserId, since: i64, limit: i64) -> StoreResult<Vec<MessageRow>>;
    /// Up to `limit` stored events visible to `user` with seq > `since`, oldest first.
    async fn events_since(&self, user: UserId, since: i64, limit: i64) -> StoreResult<Vec<sova_types::Event>>;
    /// Reaction counts for these messages, with whether `user` reacted: (message, emoji, count, me).
    async fn reactions(&self, messages: &[MessageId], user: UserId)
    -> StoreResult<Vec<(MessageId, String, i64, bool)>>;
    /// Earlier versions of an edited message: (version, text, replaced_at).
    async fn versions(&self, message: MessageId) -> StoreResult<Vec<(i64, String, i64)>>;
    /// Pinned messages of `chat`, most recently pinned first.
    async fn pins(&self, chat: ChatId) -> StoreResult<Vec<MessageRow>>;
    /// The highest event id stored (0 when none).
    async fn last_message_id(&self) -> StoreResult<i64>;
    /// Committed events not yet marked published (at most `limit`, oldest first),
    /// e.g. because a process died between commit and publish. Call under the
    /// publication lock.
    async fn unpublished(&self, limit: i64) -> StoreResult<Vec<StoredEvent>>;
    /// Records that every event up to `seq` has been published.
    async fn mark_published(&self, seq: i64) -> StoreResult<()>;
    /// Re-encrypts with the newest key the rows of `table` (`messages`, `versions`,
    /// `events`, `tasks`, `totp_secret` or `totp_pending`) after cursor `after`, at most `limit`: (rows scanned, rows
    /// changed, next cursor). Rows already under the newest key are left alone.
    async fn reseal(&self, table: &str, after: i64, limit: i64) -> StoreResult<(i64, i64, i64)>;
    /// Rows of `table` after cursor `after` (for progress).
    async fn count_after(&self, table: &str, after: i64) -> StoreResult<i64>;
    /// A named resumable position (0 when unset).
    async fn checkpoint(&self, name: &str) -> StoreResult<i64>;
    async fn set_checkpoint(&self, name: &str, value: i64) -> StoreResult<()>;
    /// Every named value whose name starts with `prefix`: (name, value).
    async fn checkpoints_with_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, i64)>>;
    /// Removes a named value (no error when absent).
    async fn delete_checkpoint(&self, name: &str) -> StoreResult<()>;
    /// Unseals the newest stored message text and event, if any: an error means the
    /// configured keys cannot read what the database holds.
    async fn probe_sealed(&self) -> StoreResult<()>;
}

/// A stored game. `state` is the engine's whole state as JSON (`GameState`,
/// secrets included): never sent to a client as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GameRow {
    pub id: GameId,
    pub chat_id: ChatId,
    pub created_by: UserId,
    /// Unix microseconds.
    pub created_at: i64,
    pub updated_at: i64,
    pub state: String,
}

impl GameRow {
    /// The engine state stored in the row.
    pub fn game_state(&self) -> StoreResult<sova_core::games::GameState> {
        serde_json::from_str(&self.state).map_err(|e| StoreError::Other(format!("stored game does not decode: {e}")))
    }
}

/// A player's rating in one kind of game.
#[derive(Clone, Debug, PartialEq)]
pub struct RatingRow {
    pub user_id: UserId,
    pub username: String,
    pub kind: String,
    pub rating: sova_core::games::Rating,
    /// Rated games played.
    pub played: i64,
}

/// An achievement held: (id, game that unlocked it, Unix microseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AchievementRow {
    pub achievement: String,
    pub game_id: GameId,
    pub unlocked_at: i64,
}

/// Games: reads only; every change goes through `MessageStore::commit`.
#[async_trait]
pub trait GameStore: Send + Sync {
    /// One game, whatever its chat.
    async fn game(&self, id: GameId) -> StoreResult<Option<GameRow>>;
    /// Up to `limit` games whose deadline (Unix microseconds) is at or before `now`,
    /// oldest deadline first: what the timeout sweep applies `GameTimeout` to.
    async fn games_due(&self, now: i64, limit: i64) -> StoreResult<Vec<GameId>>;
    /// Ratings by rating, highest first (ties by user id), skipping `offset`:
    /// of one kind or all, and, with `chat`, only of players who finished a game
    /// in that chat.
    async fn leaderboard(
        &self,
        kind: Option<&str>,
        chat: Option<ChatId>,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<RatingRow>>;
    /// `user`'s statistics and achievements as the writer stored them (the JSON of
    /// `sova_core::games::Progress`, `None` before a first finished game), their
    /// ratings per kind and their achievements, oldest first.
    async fn player(&self, user: UserId) -> StoreResult<(Option<String>, Vec<RatingRow>, Vec<AchievementRow>)>;
}

/// All stores of one backend, shared by the services.
#[derive(Clone)]
pub struct Stores {
    pub users: Arc<dyn UserStore>,
    pub tokens: Arc<dyn TokenStore>,
    pub chats: Arc<dyn ChatStore>,
    pub messages: Arc<dyn MessageStore>,
    pub files: Arc<dyn FileStore>,
    pub games: Arc<dyn GameStore>,
    /// The blind full-text index.
    pub search: Arc<dyn SearchStore>,
    pub tasks: Arc<dyn TaskStore>,
    /// Which backend this is (`sqlite` or `postgres`), for logs and metrics.
    pub backend: &'static str,
}

impl Stores {
    /// Builds `Stores` from one value that implements every trait.
    pub fn from_backend<T>(backend: Arc<T>, name: &'static str) -> Stores
    where
        T: UserStore
            + TokenStore
            + ChatStore
            + MessageStore
            + FileStore
            + SearchStore
            + TaskStore
            + GameStore
            + 'static,
    {
        Stores {
            users: backend.clone(),
            tokens: backend.clone(),
            chats: backend.clone(),
            files: backend.clone(),
            games: backend.clone(),
            search: backend.clone(),
            tasks: backend.clone(),
            messages: backend,
            backend: name,
        }
    }
}

pub mod cipher;
pub mod dto;
pub mod search;

pub use search::{Posting, SearchBatch, SearchChanges, SearchDoc, SearchFilter, SearchState, SearchStore};
pub mod tasks;

pub use tasks::{BoardRow, NewTask, TaskOp, TaskPatch, TaskQuery, TaskRow, TaskStore};
