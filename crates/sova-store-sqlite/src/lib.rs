//! The embedded default store: one SQLite file in WAL mode with `synchronous=FULL`,
//! so an acknowledged (committed) write survives a crash or power loss. Every write
//! transaction starts with `BEGIN IMMEDIATE`, so readers never have to upgrade to
//! writers mid-transaction (which SQLite can refuse with `SQLITE_BUSY`), and that
//! lock is what orders event ids. The queries themselves are shared with PostgreSQL
//! (`sova_store_sql`); this crate supplies the `Backend` pieces and the migrations.

use sova_store::{MessageRow, PublicationGuard, StoreError, StoreResult, Stores};
use sova_store_sql::{Backend, SqlStore};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteQueryResult, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

mod migrate;

/// Rows per multi-row INSERT (15 parameters each, far below SQLite's limit).
const INSERT_CHUNK: usize = 200;

/// The SQLite `Backend` of the shared store code.
pub struct Lite;

/// SQLite implementation of every store trait.
#[derive(Clone)]
pub struct SqliteStore {
    sql: SqlStore<Lite>,
}

/// Maps an SQLite error to a store error.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(d.message().to_owned()),
        // SQLITE_BUSY / SQLITE_LOCKED after the busy timeout.
        sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("5" | "6")) => {
            StoreError::Unavailable(d.message().to_owned())
        }
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}

impl Backend for Lite {
    type Db = Sqlite;

    const NAME: &'static str = "sqlite";

    // The write lock (BEGIN IMMEDIATE) already excludes every other writer.
    const SELECT_REFRESH_FOR_UPDATE: &'static str =
        "SELECT user_id, family_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1";

    async fn begin_write(pool: &SqlitePool) -> Result<(Transaction<'static, Sqlite>, i64), sqlx::Error> {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let last: i64 = sqlx::query_scalar("SELECT value FROM counters WHERE name = 'event'")
            .fetch_one(&mut *tx)
            .await?;
        Ok((tx, last))
    }

    async fn begin_plain(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    async fn insert_messages<'a>(
        tx: &'a mut Transaction<'static, Sqlite>,
        rows: &'a [MessageRow],
    ) -> Result<(), sqlx::Error> {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO messages (id, chat_id, chat_seq, sender_id, kind, text, reply_to, forward_chat_id, \
                 forward_message_id, forward_user_id, forward_user, mentions, client_msg_id, created_at, attachment, attachments) ",
            );
            qb.push_values(chunk, |mut b, r| {
                let f = r.forward.as_ref();
                b.push_bind(r.id.0)
                    .push_bind(r.chat_id.0)
                    .push_bind(r.chat_seq)
                    .push_bind(r.sender_id.0)
                    .push_bind(r.kind.as_str())
                    .push_bind(r.text.clone())
                    .push_bind(r.reply_to.map(|m| m.0))
                    .push_bind(f.map(|f| f.chat_id.0))
                    .push_bind(f.map(|f| f.message_id.0))
                    .push_bind(f.map(|f| f.user_id.0))
                    .push_bind(f.map(|f| f.user.clone()))
                    .push_bind(sova_store_sql::format_ids(&r.mentions))
                    .push_bind(r.client_msg_id.clone())
                    .push_bind(r.created_at)
                    .push_bind(r.attachment.as_ref().and_then(|a| serde_json::to_string(a).ok()))
                    .push_bind(sova_store_sql::attachments_json(r));
            });
            qb.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    fn classify(e: sqlx::Error) -> StoreError {
        map_err(e)
    }

    /// SQLite serializes writers with its lock: a transaction is never aborted
    /// for a conflict (a busy database times out instead).
    fn retryable(_: &sqlx::Error) -> bool {
        false
    }

    /// One process owns an SQLite file: no cross-process lock is needed.
    async fn publication_lock(_: &SqlitePool) -> Result<Option<Box<dyn PublicationGuard>>, sqlx::Error> {
        Ok(None)
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path` or `sqlite::memory:`).
    pub async fn connect(url: &str) -> StoreResult<SqliteStore> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(map_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(15))
            .connect_with(opts)
            .await
            .map_err(map_err)?;
        Ok(SqliteStore {
            sql: SqlStore::new(pool),
        })
    }

    /// Applies pending migrations (see `migrate`).
    pub async fn migrate(&self) -> StoreResult<()> {
        migrate::run(self.sql.pool()).await
    }

    /// The connection pool, for crates with their own SQL on this database (the
    /// durable job queue, `sova-jobs`); it shares this store's connections.
    pub fn pool(&self) -> &SqlitePool {
        self.sql.pool()
    }

    /// Encrypts message contents at rest with `cipher` from now on.
    pub fn with_cipher(self, cipher: sova_store::cipher::Cipher) -> Self {
        SqliteStore {
            sql: self.sql.with_cipher(cipher),
        }
    }

    /// All store traits backed by this database.
    pub fn stores(self) -> Stores {
        Stores::from_backend(Arc::new(self.sql), Lite::NAME)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.sql.close().await;
    }
}
