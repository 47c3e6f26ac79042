//! The production store on PostgreSQL. Event ids come from one counter row locked
//! (`FOR UPDATE`) for the whole write transaction, so ids become visible in commit
//! order across every instance sharing the database: a client resuming from `seq`
//! can never miss a lower id that commits later. Transactions the database aborts
//! to stay consistent (serialization failures, deadlocks) are retried a few times.
//! The queries themselves are shared with SQLite (`sova_store_sql`); this crate
//! supplies the `Backend` pieces and the migrations.

use sova_store::{MessageRow, PublicationGuard, StoreError, StoreResult, Stores};
use sova_store_sql::{Backend, SqlStore};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgQueryResult};
use sqlx::{Postgres, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

mod migrate;

/// The PostgreSQL `Backend` of the shared store code.
pub struct Pg;

/// PostgreSQL implementation of every store trait.
#[derive(Clone)]
pub struct PgStore {
    sql: SqlStore<Pg>,
}

/// SQLSTATEs after which running the whole transaction again may succeed:
/// serialization failure and deadlock.
const RETRYABLE: [&str; 2] = ["40001", "40P01"];

/// Whether `e` aborted a transaction that may succeed when run again.
pub fn is_retryable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().is_some_and(|c| RETRYABLE.contains(&c.as_ref())))
}

/// Maps a PostgreSQL error to a store error (serialization failures, deadlocks,
/// overload and lost connections become `Unavailable`).
pub fn map_err(e: sqlx::Error) -> StoreError {
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

impl Backend for Pg {
    type Db = Postgres;

    const NAME: &'static str = "postgres";

    const SELECT_REFRESH_FOR_UPDATE: &'static str = "SELECT user_id, family_id, expires_at, used_at, revoked_at \
         FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE";

    async fn begin_write(pool: &PgPool) -> Result<(Transaction<'static, Postgres>, i64), sqlx::Error> {
        let mut tx = pool.begin().await?;
        let last: i64 = sqlx::query_scalar("SELECT value FROM counters WHERE name = 'event' FOR UPDATE")
            .fetch_one(&mut *tx)
            .await?;
        Ok((tx, last))
    }

    async fn begin_plain(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        pool.begin().await
    }

    /// One `INSERT … SELECT FROM UNNEST(…)` with one array per column, whatever
    /// the number of rows.
    async fn insert_messages<'a>(
        tx: &'a mut Transaction<'static, Postgres>,
        rows: &'a [MessageRow],
    ) -> Result<(), sqlx::Error> {
        fn col<T>(rows: &[MessageRow], f: impl Fn(&MessageRow) -> T) -> Vec<T> {
            rows.iter().map(f).collect()
        }
        sqlx::query(
            "INSERT INTO messages (id, chat_id, chat_seq, sender_id, kind, text, reply_to, forward_chat_id, \
             forward_message_id, forward_user_id, forward_user, mentions, client_msg_id, created_at, attachment, attachments) \
             SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::TEXT[], $6::TEXT[], \
             $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], $11::TEXT[], $12::TEXT[], $13::TEXT[], \
             $14::BIGINT[], $15::TEXT[], $16::TEXT[])",
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
        .bind(col(rows, |r| {
            r.attachment.as_ref().and_then(|a| serde_json::to_string(a).ok())
        }))
        .bind(col(rows, sova_store_sql::attachments_json))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn classify(e: sqlx::Error) -> StoreError {
        map_err(e)
    }

    fn retryable(e: &sqlx::Error) -> bool {
        is_retryable(e)
    }

    /// A session advisory lock on a dedicated connection; PostgreSQL releases it
    /// if this process dies.
    async fn publication_lock(pool: &PgPool) -> Result<Option<Box<dyn PublicationGuard>>, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock(7370618)")
            .execute(&mut *conn)
            .await?;
        Ok(Some(Box::new(PgPublicationGuard(conn))))
    }
}

impl PgStore {
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
            sql: SqlStore::new(pool),
        })
    }

    /// Applies pending migrations (see `migrate`).
    pub async fn migrate(&self) -> StoreResult<()> {
        migrate::run(self.sql.pool()).await
    }

    /// Runs one administrative statement (test schemas, operations); the caller
    /// vouches that `sql` holds no untrusted input.
    pub async fn execute_admin(&self, sql: &str) -> StoreResult<()> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(self.sql.pool())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Names of schemas starting with `prefix`.
    pub async fn list_schemas(&self, prefix: &str) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT nspname::TEXT FROM pg_namespace WHERE starts_with(nspname, $1)")
            .bind(prefix)
            .fetch_all(self.sql.pool())
            .await
            .map_err(map_err)
    }

    /// The connection pool, for crates with their own SQL on this database (the
    /// durable job queue, `sova-jobs`); it shares this store's connections.
    pub fn pool(&self) -> &PgPool {
        self.sql.pool()
    }

    /// Encrypts message contents at rest with `cipher` from now on.
    pub fn with_cipher(self, cipher: sova_store::cipher::Cipher) -> Self {
        PgStore {
            sql: self.sql.with_cipher(cipher),
        }
    }

    /// All store traits backed by this database.
    pub fn stores(self) -> Stores {
        Stores::from_backend(Arc::new(self.sql), Pg::NAME)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.sql.close().await;
    }
}

struct PgPublicationGuard(sqlx::pool::PoolConnection<Postgres>);

#[async_trait::async_trait]
impl PublicationGuard for PgPublicationGuard {
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
