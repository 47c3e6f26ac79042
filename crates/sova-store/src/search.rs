//! The search index port: a blind index (docs/search.md) of documents — a
//! message's text (slot 0) and each of its attached files (slot n) — holding only
//! opaque tokens with counts, kept up to date by a tailing indexer that follows
//! the event sequence from a stored position.

use crate::{FileRow, MessageRow, StoreResult};
use async_trait::async_trait;
use sova_types::{ChatId, MessageId, UserId};

/// Where the index stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SearchState {
    /// Every change up to this `seq` is indexed.
    pub position: i64,
    /// The fingerprint of the key the tokens were made with (0: never built).
    pub key: i64,
    /// Documents indexed.
    pub docs: i64,
    /// Sum of their lengths in words.
    pub words: i64,
}

/// Messages changed after a position.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchChanges {
    /// The current rows (decrypted) of messages sent, edited or deleted in the
    /// range, each once; a deleted message has `deleted_at` and an empty text.
    pub messages: Vec<MessageRow>,
    /// The `seq` up to which this covers every change.
    pub position: i64,
}

/// One document to index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchDoc {
    pub message_id: MessageId,
    /// 0 for the message text, n for its n-th attachment.
    pub slot: i64,
    pub chat_id: ChatId,
    pub sender_id: UserId,
    /// The attached file (slots above 0).
    pub file_id: Option<String>,
    pub created_at: i64,
    /// Whether the message carries files.
    pub has_files: bool,
    /// Length in words.
    pub length: i64,
    /// Blind tokens and their counts.
    pub tokens: Vec<(Vec<u8>, i64)>,
}

/// One indexing step, applied atomically.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchBatch {
    /// The position the batch was read at; nothing is written if the index moved.
    pub from: i64,
    /// The position it moves to.
    pub to: i64,
    /// The key fingerprint the tokens were made with; nothing is written if the index uses another.
    pub key: i64,
    /// Messages whose documents are dropped first (edited, deleted, re-indexed).
    pub replace: Vec<MessageId>,
    pub docs: Vec<SearchDoc>,
}

/// Which documents a query may return: those in `user`'s live chats, narrowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchFilter {
    pub user: UserId,
    pub chat: Option<ChatId>,
    pub sender: Option<UserId>,
    /// Message ids strictly below / above.
    pub before_id: Option<MessageId>,
    pub after_id: Option<MessageId>,
    /// Creation times (Unix microseconds) strictly below / above.
    pub before_at: Option<i64>,
    pub after_at: Option<i64>,
    /// Only files and messages carrying files.
    pub has_files: bool,
    /// Most postings read (the newest documents win beyond it).
    pub max_rows: i64,
}

/// A document that holds one of the looked-up tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posting {
    pub message_id: MessageId,
    pub slot: i64,
    pub chat_id: ChatId,
    pub file_id: Option<String>,
    pub created_at: i64,
    pub length: i64,
    pub token: Vec<u8>,
    pub tf: i64,
}

#[async_trait]
pub trait SearchStore: Send + Sync {
    /// The index's position, key fingerprint and statistics.
    async fn search_state(&self) -> StoreResult<SearchState>;
    /// Messages sent, edited or deleted after `after`, covering at most `limit` changes.
    async fn search_changes(&self, after: i64, limit: i64) -> StoreResult<SearchChanges>;
    /// Applies a batch in one transaction with the position move; false (nothing
    /// written) when the position is no longer `batch.from` or the key differs.
    async fn apply_search(&self, batch: &SearchBatch) -> StoreResult<bool>;
    /// Empties the index for a rebuild from position 0 with key `key`.
    async fn reset_search(&self, key: i64) -> StoreResult<()>;
    /// Postings of `tokens` in documents `filter` allows, newest documents first.
    async fn search_postings(&self, tokens: &[Vec<u8>], filter: &SearchFilter) -> StoreResult<Vec<Posting>>;
    /// In how many documents each token occurs (same order).
    async fn token_frequencies(&self, tokens: &[Vec<u8>]) -> StoreResult<Vec<i64>>;
    /// Messages by id (decrypted), any chat: for the indexer and for results
    /// already checked against membership.
    async fn messages_by_ids(&self, ids: &[MessageId]) -> StoreResult<Vec<MessageRow>>;
    /// A file by id, whoever may read it (the indexer's view).
    async fn file_by_id(&self, id: &str) -> StoreResult<Option<FileRow>>;
    /// (messages up to the position, all messages) for progress reports.
    async fn search_progress(&self, position: i64) -> StoreResult<(i64, i64)>;
}
