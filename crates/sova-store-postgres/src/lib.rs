//! The production store on PostgreSQL. Message ids come from one counter row locked
//! (`FOR UPDATE`) for the whole append transaction, so ids become visible in commit
//! order across every instance sharing the database: a client resuming from `seq`
//! can never miss a lower id that commits later.

use async_trait::async_trait;
use sova_store::{
    Appended, ChatKind, ChatRow, ChatStore, MessageRow, MessageStore, NewMessage, NewRefreshToken,
    NewUser, RotateOutcome, StoreError, StoreResult, Stores, TokenStore, UserRow, UserStore, batch,
};
use sova_types::{ChatId, MessageId, UserId};
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "init", include_str!("../migrations/0001_init.sql"))];

const MESSAGE_COLUMNS: &str =
    "m.id, m.chat_id, m.chat_seq, m.sender_id, u.username, m.text, m.client_msg_id, m.created_at";

/// PostgreSQL implementation of every store trait.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(d.message().to_owned())
        }
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
        Ok(PgStore { pool })
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
            sqlx::raw_sql(*sql)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
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

    /// All store traits backed by this database.
    pub fn stores(self) -> Stores {
        Stores::from_backend(Arc::new(self), "postgres")
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn user_row(r: &PgRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        id: UserId(r.try_get("id")?),
        username: r.try_get("username")?,
        password_hash: r.try_get("password_hash")?,
        created_at: r.try_get("created_at")?,
    })
}

fn chat_row(r: &PgRow) -> Result<ChatRow, sqlx::Error> {
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

fn message_row(r: &PgRow) -> Result<MessageRow, sqlx::Error> {
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
impl UserStore for PgStore {
    async fn create_user(&self, user: NewUser, auto_join: &[ChatId]) -> StoreResult<UserRow> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, username_lower, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&user.username)
        .bind(&user.username_lower)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        for chat in auto_join {
            sqlx::query("INSERT INTO chat_members (chat_id, user_id, role, joined_at) VALUES ($1, $2, 'member', $3) ON CONFLICT DO NOTHING")
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
            "SELECT id, username, password_hash, created_at FROM users WHERE username_lower = $1",
        )
        .bind(username_lower)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|r| user_row(&r).map_err(map_err))
        .transpose()
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<UserRow>> {
        sqlx::query("SELECT id, username, password_hash, created_at FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(|r| user_row(&r).map_err(map_err))
            .transpose()
    }
}

#[async_trait]
impl TokenStore for PgStore {
    async fn insert_refresh(&self, t: NewRefreshToken) -> StoreResult<()> {
        sqlx::query("INSERT INTO refresh_tokens (token_hash, user_id, family_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
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
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let row = sqlx::query("SELECT user_id, family_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE")
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
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(&family)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            return Ok(RotateOutcome::Reused { user_id });
        }
        sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(old_hash)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query("INSERT INTO refresh_tokens (token_hash, user_id, family_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
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
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND family_id = \
             (SELECT family_id FROM refresh_tokens WHERE token_hash = $2 AND user_id = $3)",
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
        sqlx::query(
            "INSERT INTO token_blacklist (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn is_blacklisted(&self, jti: &str) -> StoreResult<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1::BIGINT FROM token_blacklist WHERE jti = $1")
                .bind(jti)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(found.is_some())
    }

    async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
        let a = sqlx::query("DELETE FROM token_blacklist WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        let b = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(a.rows_affected() + b.rows_affected())
    }
}

#[async_trait]
impl ChatStore for PgStore {
    async fn ensure_chat(
        &self,
        slug: &str,
        kind: ChatKind,
        name: &str,
        now: i64,
    ) -> StoreResult<ChatRow> {
        sqlx::query("INSERT INTO chats (kind, name, slug, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (slug) DO NOTHING")
            .bind(kind.as_str())
            .bind(name)
            .bind(slug)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        let r = sqlx::query(
            "SELECT id, kind, name, slug, created_at, last_seq FROM chats WHERE slug = $1",
        )
        .bind(slug)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        chat_row(&r).map_err(map_err)
    }

    async fn chat(&self, id: ChatId) -> StoreResult<Option<ChatRow>> {
        sqlx::query("SELECT id, kind, name, slug, created_at, last_seq FROM chats WHERE id = $1")
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
        sqlx::query("INSERT INTO chat_members (chat_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
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
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1::BIGINT FROM chat_members WHERE chat_id = $1 AND user_id = $2",
        )
        .bind(chat.0)
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(found.is_some())
    }

    async fn chats_of(&self, user: UserId) -> StoreResult<Vec<ChatId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT chat_id FROM chat_members WHERE user_id = $1 ORDER BY chat_id",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(ids.into_iter().map(ChatId).collect())
    }
}

#[async_trait]
impl MessageStore for PgStore {
    async fn append_batch(&self, batch: &[NewMessage]) -> StoreResult<Vec<Appended>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // The counter row lock serializes appenders: ids and duplicate checks are race-free.
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let last_id: i64 =
            sqlx::query_scalar("SELECT value FROM counters WHERE name = 'event' FOR UPDATE")
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
                "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.sender_id = $1 AND m.client_msg_id = $2"
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
                "UPDATE chats SET last_seq = last_seq + $1 WHERE id = $2 RETURNING last_seq",
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
        sqlx::query("UPDATE counters SET value = $1 WHERE name = 'event'")
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
                    sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
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
        if !rows.is_empty() {
            let col =
                |f: fn(&MessageRow) -> i64| rows.iter().map(|(_, r)| f(r)).collect::<Vec<i64>>();
            sqlx::query(
                "INSERT INTO messages (id, chat_id, chat_seq, sender_id, text, client_msg_id, created_at) \
                 SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::TEXT[], $6::TEXT[], $7::BIGINT[])",
            )
            .bind(col(|r| r.id.0))
            .bind(col(|r| r.chat_id.0))
            .bind(col(|r| r.chat_seq))
            .bind(col(|r| r.sender_id.0))
            .bind(rows.iter().map(|(_, r)| r.text.clone()).collect::<Vec<String>>())
            .bind(rows.iter().map(|(_, r)| r.client_msg_id.clone()).collect::<Vec<Option<String>>>())
            .bind(col(|r| r.created_at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
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
             WHERE m.chat_id = $1 AND m.id < $2 ORDER BY m.id DESC LIMIT $3"
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
             WHERE m.chat_id IN (SELECT chat_id FROM chat_members WHERE user_id = $1) AND m.id > $2 \
             ORDER BY m.id LIMIT $3"
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
