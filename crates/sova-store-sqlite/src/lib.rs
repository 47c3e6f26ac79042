//! The embedded default store: one SQLite file in WAL mode with `synchronous=FULL`,
//! so an acknowledged (committed) write survives a crash or power loss. Every write
//! transaction starts with `BEGIN IMMEDIATE`, so readers never have to upgrade to
//! writers mid-transaction (which SQLite can refuse with `SQLITE_BUSY`), and that
//! lock is what orders event ids. The queries themselves are shared with PostgreSQL
//! (`sova_store_sql`).

use sova_store::{MessageRow, StoreError, StoreResult, Stores};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (2, "messaging", include_str!("../migrations/0002_messaging.sql")),
    (3, "presence", include_str!("../migrations/0003_presence.sql")),
    (4, "mute", include_str!("../migrations/0004_mute.sql")),
    (5, "published", include_str!("../migrations/0005_published.sql")),
    (6, "attachments", include_str!("../migrations/0006_attachments.sql")),
    (7, "totp", include_str!("../migrations/0007_totp.sql")),
    (8, "sessions", include_str!("../migrations/0008_sessions.sql")),
    (9, "jobs", include_str!("../migrations/0009_jobs.sql")),
];

/// Rows per multi-row INSERT (14 parameters each, far below SQLite's limit).
const INSERT_CHUNK: usize = 200;

/// SQLite implementation of every store trait.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Seals message contents at rest.
    cipher: Arc<sova_store::cipher::Cipher>,
}

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

impl SqliteStore {
    const SELECT_REFRESH_FOR_UPDATE: &'static str =
        "SELECT user_id, family_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1";

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
            pool,
            cipher: Arc::new(sova_store::cipher::Cipher::plain()),
        })
    }

    /// Applies pending migrations in one immediate transaction.
    pub async fn migrate(&self) -> StoreResult<()> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        )
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
        for (version, name, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            sqlx::raw_sql(*sql).execute(&mut *tx).await.map_err(map_err)?;
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(version)
                .bind(*name)
                .bind(sova_types::time::now_micros())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tracing::info!(version, name, "applied sqlite migration");
        }
        tx.commit().await.map_err(map_err)
    }

    /// A write transaction holding the database write lock, with the event counter.
    async fn begin_write(&self) -> StoreResult<(sqlx::Transaction<'static, Sqlite>, i64)> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
        let last: i64 = sqlx::query_scalar("SELECT value FROM counters WHERE name = 'event'")
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        Ok((tx, last))
    }

    async fn begin_token_write(&self) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)
    }

    async fn insert_message_rows(tx: &mut sqlx::Transaction<'static, Sqlite>, rows: &[MessageRow]) -> StoreResult<()> {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO messages (id, chat_id, chat_seq, sender_id, kind, text, reply_to, forward_chat_id, \
                 forward_message_id, forward_user_id, forward_user, mentions, client_msg_id, created_at, attachment) ",
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
                    .push_bind(r.attachment.as_ref().and_then(|a| serde_json::to_string(a).ok()));
            });
            qb.build().execute(&mut **tx).await.map_err(map_err)?;
        }
        Ok(())
    }

    /// One process owns an SQLite file: no cross-process lock is needed.
    async fn publication_lock(&self) -> StoreResult<Option<Box<dyn sova_store::PublicationGuard>>> {
        Ok(None)
    }

    /// Encrypts message contents at rest with `cipher` from now on.
    pub fn with_cipher(mut self, cipher: sova_store::cipher::Cipher) -> Self {
        self.cipher = Arc::new(cipher);
        self
    }

    /// All store traits backed by this database.
    pub fn stores(self) -> Stores {
        Stores::from_backend(Arc::new(self), "sqlite")
    }

    /// The connection pool, for crates with their own SQL on this database (the
    /// durable job queue, `sova-jobs`); it shares this store's connections.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

sova_store_sql::impl_sql_store!(SqliteStore, sqlx::Sqlite);
