//! The embedded default store: one SQLite file in WAL mode with `synchronous=FULL`,
//! so an acknowledged (committed) write survives a crash or power loss. Every write
//! transaction starts with `BEGIN IMMEDIATE`, so readers never have to upgrade to
//! writers mid-transaction (which SQLite can refuse with `SQLITE_BUSY`).

use async_trait::async_trait;
use sova_store::{
    Appended, ChatKind, ChatRow, ChatStore, MessageRow, MessageStore, NewMessage, NewRefreshToken,
    NewUser, RotateOutcome, StoreError, StoreResult, Stores, TokenStore, UserRow, UserStore, batch,
};
use sova_types::{ChatId, MessageId, UserId};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "init", include_str!("../migrations/0001_init.sql"))];

/// Rows per multi-row INSERT (7 parameters each, far below SQLite's limit).
const INSERT_CHUNK: usize = 200;

const MESSAGE_COLUMNS: &str =
    "m.id, m.chat_id, m.chat_seq, m.sender_id, u.username, m.text, m.client_msg_id, m.created_at";

/// SQLite implementation of every store trait.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(d.message().to_owned())
        }
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
        Ok(SqliteStore { pool })
    }

    /// Applies pending migrations in one immediate transaction.
    pub async fn migrate(&self) -> StoreResult<()> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        )
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
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
            sqlx::raw_sql(*sql)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            )
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

    /// All store traits backed by this database.
    pub fn stores(self) -> Stores {
        Stores::from_backend(Arc::new(self), "sqlite")
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn user_row(r: &SqliteRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        id: UserId(r.try_get("id")?),
        username: r.try_get("username")?,
        password_hash: r.try_get("password_hash")?,
        created_at: r.try_get("created_at")?,
    })
}

fn chat_row(r: &SqliteRow) -> Result<ChatRow, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    Ok(ChatRow {
        id: ChatId(r.try_get("id")?),
        kind: ChatKind::parse(&kind)
            .ok_or_else(|| sqlx::Error::Decode(format!("chat kind {kind}").into()))?,
        name: r.try_get("name")?,
        slug: r.try_get("slug")?,
        created_at: r.try_get("created_at")?,
        last_seq: r.try_get("last_seq")?,
    })
}

fn message_row(r: &SqliteRow) -> Result<MessageRow, sqlx::Error> {
    Ok(MessageRow {
        id: MessageId(r.try_get(0)?),
        chat_id: ChatId(r.try_get(1)?),
        chat_seq: r.try_get(2)?,
        sender_id: UserId(r.try_get(3)?),
        sender_name: r.try_get(4)?,
        text: r.try_get(5)?,
        client_msg_id: r.try_get(6)?,
        created_at: r.try_get(7)?,
    })
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: NewUser, auto_join: &[ChatId]) -> StoreResult<UserRow> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, username_lower, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(&user.username)
        .bind(&user.username_lower)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        for chat in auto_join {
            sqlx::query("INSERT OR IGNORE INTO chat_members (chat_id, user_id, role, joined_at) VALUES (?, ?, 'member', ?)")
                .bind(chat.0)
                .bind(id)
                .bind(user.created_at)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(UserRow {
            id: UserId(id),
            username: user.username,
            password_hash: user.password_hash,
            created_at: user.created_at,
        })
    }

    async fn user_by_name(&self, username_lower: &str) -> StoreResult<Option<UserRow>> {
        sqlx::query(
            "SELECT id, username, password_hash, created_at FROM users WHERE username_lower = ?",
        )
        .bind(username_lower)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|r| user_row(&r).map_err(map_err))
        .transpose()
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<UserRow>> {
        sqlx::query("SELECT id, username, password_hash, created_at FROM users WHERE id = ?")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(|r| user_row(&r).map_err(map_err))
            .transpose()
    }
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn insert_refresh(&self, t: NewRefreshToken) -> StoreResult<()> {
        sqlx::query("INSERT INTO refresh_tokens (token_hash, user_id, family_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&t.token_hash)
            .bind(t.user_id.0)
            .bind(&t.family_id)
            .bind(t.created_at)
            .bind(t.expires_at)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn rotate_refresh(
        &self,
        old_hash: &[u8],
        new: NewRefreshToken,
        now: i64,
    ) -> StoreResult<RotateOutcome> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let row = sqlx::query("SELECT user_id, family_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = ?")
            .bind(old_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        let Some(row) = row else {
            return Ok(RotateOutcome::Invalid);
        };
        let user_id = UserId(row.try_get("user_id").map_err(map_err)?);
        let family: Vec<u8> = row.try_get("family_id").map_err(map_err)?;
        let expires_at: i64 = row.try_get("expires_at").map_err(map_err)?;
        let used_at: Option<i64> = row.try_get("used_at").map_err(map_err)?;
        let revoked_at: Option<i64> = row.try_get("revoked_at").map_err(map_err)?;
        if revoked_at.is_some() || expires_at <= now {
            return Ok(RotateOutcome::Invalid);
        }
        if used_at.is_some() {
            sqlx::query("UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL")
                .bind(now)
                .bind(&family)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            return Ok(RotateOutcome::Reused { user_id });
        }
        sqlx::query("UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?")
            .bind(now)
            .bind(old_hash)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query("INSERT INTO refresh_tokens (token_hash, user_id, family_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&new.token_hash)
            .bind(user_id.0)
            .bind(&family)
            .bind(new.created_at)
            .bind(new.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(RotateOutcome::Rotated { user_id })
    }

    async fn revoke_refresh_family(
        &self,
        token_hash: &[u8],
        user: UserId,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND family_id = \
             (SELECT family_id FROM refresh_tokens WHERE token_hash = ? AND user_id = ?)",
        )
        .bind(now)
        .bind(token_hash)
        .bind(user.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn blacklist_jti(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        sqlx::query("INSERT OR IGNORE INTO token_blacklist (jti, expires_at) VALUES (?, ?)")
            .bind(jti)
            .bind(expires_at)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn is_blacklisted(&self, jti: &str) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM token_blacklist WHERE jti = ?")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(found.is_some())
    }

    async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
        let a = sqlx::query("DELETE FROM token_blacklist WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        let b = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(a.rows_affected() + b.rows_affected())
    }
}

#[async_trait]
impl ChatStore for SqliteStore {
    async fn ensure_chat(
        &self,
        slug: &str,
        kind: ChatKind,
        name: &str,
        now: i64,
    ) -> StoreResult<ChatRow> {
        sqlx::query(
            "INSERT OR IGNORE INTO chats (kind, name, slug, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(kind.as_str())
        .bind(name)
        .bind(slug)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        let r = sqlx::query(
            "SELECT id, kind, name, slug, created_at, last_seq FROM chats WHERE slug = ?",
        )
        .bind(slug)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        chat_row(&r).map_err(map_err)
    }

    async fn chat(&self, id: ChatId) -> StoreResult<Option<ChatRow>> {
        sqlx::query("SELECT id, kind, name, slug, created_at, last_seq FROM chats WHERE id = ?")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(|r| chat_row(&r).map_err(map_err))
            .transpose()
    }

    async fn add_member(
        &self,
        chat: ChatId,
        user: UserId,
        role: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query("INSERT OR IGNORE INTO chat_members (chat_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)")
            .bind(chat.0)
            .bind(user.0)
            .bind(role)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn is_member(&self, chat: ChatId, user: UserId) -> StoreResult<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM chat_members WHERE chat_id = ? AND user_id = ?")
                .bind(chat.0)
                .bind(user.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(found.is_some())
    }

    async fn chats_of(&self, user: UserId) -> StoreResult<Vec<ChatId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT chat_id FROM chat_members WHERE user_id = ? ORDER BY chat_id",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(ids.into_iter().map(ChatId).collect())
    }
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn append_batch(&self, batch: &[NewMessage]) -> StoreResult<Vec<Appended>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // IMMEDIATE takes the write lock up front: ids and duplicate checks are race-free.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let last_id: i64 = sqlx::query_scalar("SELECT value FROM counters WHERE name = 'event'")
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let mut out: Vec<Option<Appended>> = vec![None; batch.len()];

        // Idempotent resends: earlier rows with the same (sender, client_msg_id).
        let dup_of = batch::in_batch_duplicates(batch);
        for (i, m) in batch.iter().enumerate() {
            let Some(cmid) = m.client_msg_id.as_deref() else {
                continue;
            };
            if dup_of[i].is_some() {
                continue;
            }
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.sender_id = ? AND m.client_msg_id = ?"
            );
            let existing = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(m.sender_id.0)
                .bind(cmid)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            if let Some(r) = existing {
                out[i] = Some(Appended::Duplicate(message_row(&r).map_err(map_err)?));
            }
        }

        // Per-chat sequence numbers, in ascending chat order.
        let per_chat = batch::new_rows_per_chat(batch, &out, &dup_of);
        let mut next_seq: HashMap<i64, i64> = HashMap::new();
        for (&chat, &count) in &per_chat {
            let last: Option<i64> = sqlx::query_scalar(
                "UPDATE chats SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq",
            )
            .bind(count)
            .bind(chat)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            if let Some(last) = last {
                next_seq.insert(chat, last - count + 1);
            }
        }
        let mut names: HashMap<i64, String> = HashMap::new();
        let mut rows: Vec<(usize, MessageRow)> = Vec::new();
        let new_count = batch
            .iter()
            .enumerate()
            .filter(|(i, m)| {
                out[*i].is_none() && dup_of[*i].is_none() && next_seq.contains_key(&m.chat_id.0)
            })
            .count() as i64;
        sqlx::query("UPDATE counters SET value = ? WHERE name = 'event'")
            .bind(last_id + new_count)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let mut next_id = last_id + 1;
        for (i, m) in batch.iter().enumerate() {
            if out[i].is_some() || dup_of[i].is_some() {
                continue;
            }
            let Some(seq) = next_seq.get_mut(&m.chat_id.0) else {
                out[i] = Some(Appended::NoSuchChat);
                continue;
            };
            if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(m.sender_id.0) {
                let name: Option<String> =
                    sqlx::query_scalar("SELECT username FROM users WHERE id = ?")
                        .bind(m.sender_id.0)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(map_err)?;
                slot.insert(name.ok_or(StoreError::NotFound)?);
            }
            let row = MessageRow {
                id: MessageId(next_id),
                chat_id: m.chat_id,
                chat_seq: *seq,
                sender_id: m.sender_id,
                sender_name: names.get(&m.sender_id.0).cloned().unwrap_or_default(),
                text: m.text.clone(),
                client_msg_id: m.client_msg_id.clone(),
                created_at: m.created_at,
            };
            next_id += 1;
            *seq += 1;
            rows.push((i, row));
        }
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO messages (id, chat_id, chat_seq, sender_id, text, client_msg_id, created_at) ",
            );
            qb.push_values(chunk, |mut b, (_, r)| {
                b.push_bind(r.id.0)
                    .push_bind(r.chat_id.0)
                    .push_bind(r.chat_seq)
                    .push_bind(r.sender_id.0)
                    .push_bind(r.text.clone())
                    .push_bind(r.client_msg_id.clone())
                    .push_bind(r.created_at);
            });
            qb.build().execute(&mut *tx).await.map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        for (i, r) in rows {
            out[i] = Some(Appended::New(r));
        }
        batch::resolve(out, &dup_of)
    }

    async fn history(
        &self,
        chat: ChatId,
        before: Option<MessageId>,
        limit: i64,
    ) -> StoreResult<Vec<MessageRow>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id \
             WHERE m.chat_id = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(chat.0)
            .bind(before.map_or(i64::MAX, |b| b.0))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|r| message_row(r).map_err(map_err))
            .collect()
    }

    async fn messages_since(
        &self,
        user: UserId,
        since: i64,
        limit: i64,
    ) -> StoreResult<Vec<MessageRow>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id \
             WHERE m.chat_id IN (SELECT chat_id FROM chat_members WHERE user_id = ?) AND m.id > ? \
             ORDER BY m.id LIMIT ?"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.0)
            .bind(since)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|r| message_row(r).map_err(map_err))
            .collect()
    }

    async fn last_message_id(&self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT value FROM counters WHERE name = 'event'")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)
    }
}
