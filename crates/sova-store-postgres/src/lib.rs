//! The production store on PostgreSQL. Event ids come from one counter row locked
//! (`FOR UPDATE`) for the whole write transaction, so ids become visible in commit
//! order across every instance sharing the database: a client resuming from `seq`
//! can never miss a lower id that commits later. The queries themselves are shared
//! with SQLite (`sova_store_sql`).

use sova_store::{MessageRow, StoreError, StoreResult, Stores};
use sqlx::Postgres;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
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

/// PostgreSQL implementation of every store trait.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Seals message contents at rest.
    cipher: Arc<sova_store::cipher::Cipher>,
}

pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(d.message().to_owned()),
        // serialization failure, deadlock, too many connections, shutting down
        sqlx::Error::Database(d)
            if matches!(
                d.code().as_deref(),
                Some("40001" | "40P01" | "53300" | "57P01" | "57P03")
            ) =>
        {
            StoreError::Unavailable(d.message().to_owned())
        }
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}

impl PgStore {
    const SELECT_REFRESH_FOR_UPDATE: &'static str = "SELECT user_id, family_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE";

    /// Connects to `url`; with `schema`, every connection uses that search path (tests).
    pub async fn connect(url: &str, schema: Option<&str>) -> StoreResult<PgStore> {
        let mut opts = PgConnectOptions::from_str(url).map_err(map_err)?;
        if let Some(schema) = schema {
            opts = opts.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(15))
            .connect_with(opts)
            .await
            .map_err(map_err)?;
        Ok(PgStore {
            pool,
            cipher: Arc::new(sova_store::cipher::Cipher::plain()),
        })
    }

    /// Applies pending migrations under an advisory lock, so instances starting
    /// together migrate once.
    pub async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query("SELECT pg_advisory_xact_lock(7370617)")
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
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
            tracing::info!(version, name, "applied postgres migration");
        }
        tx.commit().await.map_err(map_err)
    }

    /// Runs one administrative statement (test schemas, operations); the caller
    /// vouches that `sql` holds no untrusted input.
    pub async fn execute_admin(&self, sql: &str) -> StoreResult<()> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Names of schemas starting with `prefix`.
    pub async fn list_schemas(&self, prefix: &str) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT nspname::TEXT FROM pg_namespace WHERE starts_with(nspname, $1)")
            .bind(prefix)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)
    }

    /// A write transaction holding the event-counter row lock, with the counter.
    async fn begin_write(&self) -> StoreResult<(sqlx::Transaction<'static, Postgres>, i64)> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let last: i64 = sqlx::query_scalar("SELECT value FROM counters WHERE name = 'event' FOR UPDATE")
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        Ok((tx, last))
    }

    async fn begin_token_write(&self) -> StoreResult<sqlx::Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(map_err)
    }

    async fn insert_message_rows(
        tx: &mut sqlx::Transaction<'static, Postgres>,
        rows: &[MessageRow],
    ) -> StoreResult<()> {
        fn col<T>(rows: &[MessageRow], f: impl Fn(&MessageRow) -> T) -> Vec<T> {
            rows.iter().map(f).collect()
        }
        sqlx::query(
            "INSERT INTO messages (id, chat_id, chat_seq, sender_id, kind, text, reply_to, forward_chat_id, \
forward_message_id, forward_user_id, forward_user, mentions, client_msg_id, created_at, attachment) \
             SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::TEXT[], $6::TEXT[], \
$7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], $11::TEXT[], $12::TEXT[], $13::TEXT[], $14::BIGINT[], $15::TEXT[])",
        )
        .bind(col(rows, |r| r.id.0))
        .bind(col(rows, |r| r.chat_id.0))
        .bind(col(rows, |r| r.chat_seq))
        .bind(col(rows, |r| r.sender_id.0))
        .bind(col(rows, |r| r.kind.as_str().to_owned()))
        .bind(col(rows, |r| r.text.clone()))
        .bind(col(rows, |r| r.reply_to.map(|m| m.0)))
        .bind(col(rows, |r| r.forward.as_ref().map(|f| f.chat_id.0)))
        .bind(col(rows, |r| r.forward.as_ref().map(|f| f.message_id.0)))
        .bind(col(rows, |r| r.forward.as_ref().map(|f| f.user_id.0)))
        .bind(col(rows, |r| r.forward.as_ref().map(|f| f.user.clone())))
        .bind(col(rows, |r| sova_store_sql::format_ids(&r.mentions)))
        .bind(col(rows, |r| r.client_msg_id.clone()))
        .bind(col(rows, |r| r.created_at))
        .bind(col(rows, |r| r.attachment.as_ref().and_then(|a| serde_json::to_string(a).ok())))
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    /// A session advisory lock on a dedicated connection; PostgreSQL releases it
    /// if this process dies.
    async fn publication_lock(&self) -> StoreResult<Option<Box<dyn sova_store::PublicationGuard>>> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        sqlx::query("SELECT pg_advisory_lock(7370618)")
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
        Ok(Some(Box::new(PgPublicationGuard(conn))))
    }

    /// Encrypts message contents at rest with `cipher` from now on.
    pub fn with_cipher(mut self, cipher: sova_store::cipher::Cipher) -> Self {
        self.cipher = Arc::new(cipher);
        self
    }

    /// All store traits backed by this database.
    pub fn stores(self) -> Stores {
        Stores::from_backend(Arc::new(self), "postgres")
    }

    /// The connection pool, for crates with their own SQL on this database (the
    /// durable job queue, `sova-jobs`); it shares this store's connections.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

struct PgPublicationGuard(sqlx::pool::PoolConnection<Postgres>);

#[async_trait::async_trait]
impl sova_store::PublicationGuard for PgPublicationGuard {
    async fn release(self: Box<Self>) {
        let mut conn = self.0;
        if sqlx::query("SELECT pg_advisory_unlock(7370618)")
            .execute(&mut *conn)
            .await
            .is_err()
        {
            // Closing the session releases the lock.
            drop(conn.detach());
        }
    }
}

sova_store_sql::impl_sql_store!(PgStore, sqlx::Postgres);
