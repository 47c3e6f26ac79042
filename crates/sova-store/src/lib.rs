//! Storage ports: one trait per domain, the row models they return and the closed
//! `StoreError`. Backends (SQLite, PostgreSQL) implement every trait with identical
//! behaviour, proven by the `sova-store-tests` conformance suite. Every query that
//! returns chat data is scoped by chat membership where a user is involved.

use async_trait::async_trait;
use sova_types::{ChatId, MessageId, UserId};
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

/// What happened to a refresh token presented for rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The old token was valid and is now used; the new one is stored.
    Rotated { user_id: UserId },
    /// The old token had already been used: its whole family is now revoked.
    Reused { user_id: UserId },
    /// Unknown, expired or revoked.
    Invalid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChatKind {
    Public,
    Private,
    Group,
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
}

/// A message to append; ids and sequence numbers are assigned by the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    pub chat_id: ChatId,
    pub sender_id: UserId,
    pub text: String,
    pub client_msg_id: Option<String>,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRow {
    pub id: MessageId,
    pub chat_id: ChatId,
    pub chat_seq: i64,
    pub sender_id: UserId,
    pub sender_name: String,
    pub text: String,
    pub client_msg_id: Option<String>,
    pub created_at: i64,
}

/// The result of appending one message of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Newly stored.
    New(MessageRow),
    /// The sender already stored a message with this `client_msg_id`: that one.
    Duplicate(MessageRow),
    /// The chat does not exist.
    NoSuchChat,
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
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a new refresh token (hash only).
    async fn insert_refresh(&self, token: NewRefreshToken) -> StoreResult<()>;
    /// Atomically marks `old_hash` used and stores `new` in the same family; detects reuse
    /// (and then revokes the family) and invalid tokens.
    async fn rotate_refresh(
        &self,
        old_hash: &[u8],
        new: NewRefreshToken,
        now: i64,
    ) -> StoreResult<RotateOutcome>;
    /// Revokes the family of the given token if it belongs to `user`; true if one was found.
    async fn revoke_refresh_family(
        &self,
        token_hash: &[u8],
        user: UserId,
        now: i64,
    ) -> StoreResult<bool>;
    /// Blacklists an access-token id until it expires anyway.
    async fn blacklist_jti(&self, jti: &str, expires_at: i64) -> StoreResult<()>;
    /// Whether the access-token id is blacklisted.
    async fn is_blacklisted(&self, jti: &str) -> StoreResult<bool>;
    /// Deletes expired blacklist entries and refresh tokens; returns how many rows went.
    async fn purge_expired(&self, now: i64) -> StoreResult<u64>;
}

#[async_trait]
pub trait ChatStore: Send + Sync {
    /// Returns the chat with this slug, creating it (race-free) when missing.
    async fn ensure_chat(
        &self,
        slug: &str,
        kind: ChatKind,
        name: &str,
        now: i64,
    ) -> StoreResult<ChatRow>;
    /// A chat by id.
    async fn chat(&self, id: ChatId) -> StoreResult<Option<ChatRow>>;
    /// Adds a member (idempotent).
    async fn add_member(&self, chat: ChatId, user: UserId, role: &str, now: i64)
    -> StoreResult<()>;
    /// Whether `user` belongs to `chat`.
    async fn is_member(&self, chat: ChatId, user: UserId) -> StoreResult<bool>;
    /// Ids of the chats `user` belongs to.
    async fn chats_of(&self, user: UserId) -> StoreResult<Vec<ChatId>>;
}

#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Appends a batch in one transaction (group commit). Ids are assigned in commit
    /// order across every writer sharing the database; `chat_seq` is gap-free per chat;
    /// a repeated `(sender, client_msg_id)` returns the stored message instead.
    async fn append_batch(&self, batch: &[NewMessage]) -> StoreResult<Vec<Appended>>;
    /// Up to `limit` messages of `chat` with id < `before` (if given), newest first.
    async fn history(
        &self,
        chat: ChatId,
        before: Option<MessageId>,
        limit: i64,
    ) -> StoreResult<Vec<MessageRow>>;
    /// Up to `limit` messages with id > `since` in the chats `user` belongs to, oldest first.
    async fn messages_since(
        &self,
        user: UserId,
        since: i64,
        limit: i64,
    ) -> StoreResult<Vec<MessageRow>>;
    /// The highest message id stored (0 when none).
    async fn last_message_id(&self) -> StoreResult<i64>;
}

/// All stores of one backend, shared by the services.
#[derive(Clone)]
pub struct Stores {
    pub users: Arc<dyn UserStore>,
    pub tokens: Arc<dyn TokenStore>,
    pub chats: Arc<dyn ChatStore>,
    pub messages: Arc<dyn MessageStore>,
    /// Which backend this is (`sqlite` or `postgres`), for logs and metrics.
    pub backend: &'static str,
}

impl Stores {
    /// Builds `Stores` from one value that implements every trait.
    pub fn from_backend<T>(backend: Arc<T>, name: &'static str) -> Stores
    where
        T: UserStore + TokenStore + ChatStore + MessageStore + 'static,
    {
        Stores {
            users: backend.clone(),
            tokens: backend.clone(),
            chats: backend.clone(),
            messages: backend,
            backend: name,
        }
    }
}

/// Backend-independent bookkeeping for `MessageStore::append_batch`.
pub mod batch {
    use super::{Appended, NewMessage, StoreError, StoreResult};
    use std::collections::{BTreeMap, HashMap};

    /// For each entry, the index of an earlier entry in the same batch with the same
    /// `(sender, client_msg_id)`, if any.
    pub fn in_batch_duplicates(batch: &[NewMessage]) -> Vec<Option<usize>> {
        let mut first: HashMap<(i64, &str), usize> = HashMap::new();
        batch
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let cmid = m.client_msg_id.as_deref()?;
                match first.get(&(m.sender_id.0, cmid)) {
                    Some(&j) => Some(j),
                    None => {
                        first.insert((m.sender_id.0, cmid), i);
                        None
                    }
                }
            })
            .collect()
    }

    /// How many new rows each chat receives, by ascending chat id (the lock order).
    pub fn new_rows_per_chat(
        batch: &[NewMessage],
        decided: &[Option<Appended>],
        dup_of: &[Option<usize>],
    ) -> BTreeMap<i64, i64> {
        let mut per_chat = BTreeMap::new();
        for (i, m) in batch.iter().enumerate() {
            if decided[i].is_none() && dup_of[i].is_none() {
                *per_chat.entry(m.chat_id.0).or_default() += 1;
            }
        }
        per_chat
    }

    /// Fills in-batch duplicates from the entry they repeat.
    pub fn resolve(
        mut out: Vec<Option<Appended>>,
        dup_of: &[Option<usize>],
    ) -> StoreResult<Vec<Appended>> {
        for i in 0..out.len() {
            if let Some(j) = dup_of[i] {
                out[i] = match &out[j] {
                    Some(Appended::New(r)) | Some(Appended::Duplicate(r)) => {
                        Some(Appended::Duplicate(r.clone()))
                    }
                    other => other.clone(),
                };
            }
        }
        out.into_iter()
            .map(|o| o.ok_or_else(|| StoreError::Other("batch entry left undecided".into())))
            .collect()
    }
}
