//! What a database backend supplies to the shared SQL code: only the few things
//! that really differ between SQLite and PostgreSQL. Everything else is written
//! once, generically, over `Backend::Db`.

use sova_store::{MessageRow, PublicationGuard, StoreError};
use sqlx::{Database, Pool, Transaction};
use std::future::Future;

/// The sqlx database of backend `B` (shorthand for where clauses).
pub type Db<B> = <B as Backend>::Db;

/// One database backend. Implemented by a marker type in each backend crate.
///
/// Generic code over `B: Backend` also states, in its `where` clause, the sqlx
/// capabilities it uses (executors for `&mut Connection`, encoding and decoding
/// of `i64`, `String`, `&str`, `Vec<u8>`, `&[u8]`, column access by index);
/// Rust does not carry such bounds through a trait, so each `impl` block repeats
/// them, and both sqlx backends satisfy them.
pub trait Backend: Send + Sync + Sized + 'static {
    /// The sqlx database.
    type Db: Database;

    /// Backend name for logs and metrics (`sqlite`, `postgres`).
    const NAME: &'static str;

    /// Selects a refresh token for rotation (`user_id, family_id, expires_at,
    /// used_at, revoked_at` by `token_hash = $1`), locking its row where the
    /// database can (PostgreSQL `FOR UPDATE`; SQLite's write lock is already held).
    const SELECT_REFRESH_FOR_UPDATE: &'static str;

    /// A write transaction holding the event-counter lock, with the counter's value:
    /// that lock is what orders event ids across every writer of the database.
    fn begin_write(
        pool: &Pool<Self::Db>,
    ) -> impl Future<Output = Result<(Transaction<'static, Self::Db>, i64), sqlx::Error>> + Send;

    /// A write transaction for tokens and sessions (no event counter).
    fn begin_plain(
        pool: &Pool<Self::Db>,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;

    /// Inserts sealed message rows in as few statements as the database allows.
    fn insert_messages<'a>(
        tx: &'a mut Transaction<'static, Self::Db>,
        rows: &'a [MessageRow],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'a;

    /// Rows changed by a statement.
    fn rows_affected(result: &<Self::Db as Database>::QueryResult) -> u64;

    /// Maps a database error to a store error (unique violations to `Conflict`,
    /// overload and lost connections to `Unavailable`, …).
    fn classify(e: sqlx::Error) -> StoreError;

    /// Whether running the whole transaction again may succeed: serialization
    /// failures and deadlocks (PostgreSQL 40001, 40P01).
    fn retryable(e: &sqlx::Error) -> bool;

    /// Takes the cross-process publication lock (`None` where one process is the
    /// only writer).
    fn publication_lock(
        pool: &Pool<Self::Db>,
    ) -> impl Future<Output = Result<Option<Box<dyn PublicationGuard>>, sqlx::Error>> + Send;
}
