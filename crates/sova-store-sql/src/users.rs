//! Users: accounts, two-factor state, backup codes, last-seen times.

use crate::store::done;
use crate::{Backend, Db, Result, SqlStore, rows};
use async_trait::async_trait;
use sova_store::{NewUser, Role, StoreError, StoreResult, TotpRow, UserRow, UserStore};
use sova_types::{ChatId, UserId};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, QueryBuilder, Row, Transaction, Type};

#[async_trait]
impl<B> UserStore for SqlStore<B>
where
    B: Backend,
    for<'c> &'c mut <Db<B> as Database>::Connection: Executor<'c, Database = Db<B>>,
    <Db<B> as Database>::Arguments: IntoArguments<Db<B>>,
    usize: ColumnIndex<<Db<B> as Database>::Row>,
    i64: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    String: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> &'a str: Type<Db<B>> + Encode<'a, Db<B>>,
    Vec<u8>: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> &'a [u8]: Type<Db<B>> + Encode<'a, Db<B>>,
    Option<i64>: for<'q> Encode<'q, Db<B>>,
    Option<String>: for<'q> Encode<'q, Db<B>>,
    for<'a> Option<&'a str>: Encode<'a, Db<B>>,
{
    async fn create_user(&self, user: NewUser, auto_join: &[ChatId]) -> StoreResult<UserRow> {
        let id = crate::retry::run::<B, _, _, _>(|| self.insert_user(&user, auto_join)).await?;
        Ok(UserRow {
            id,
            username: user.username,
            password_hash: user.password_hash,
            created_at: user.created_at,
        })
    }

    async fn user_by_name(&self, username_lower: &str) -> StoreResult<Option<UserRow>> {
        let r = sqlx::query("SELECT id, username, password_hash, created_at FROM users WHERE username_lower = $1")
            .bind(username_lower)
            .fetch_optional(&self.pool)
            .await;
        r.map_err(B::classify)?
            .map(|r| rows::user(&r))
            .transpose()
            .map_err(B::classify)
    }

    async fn search_users(&self, prefix_lower: &str, after: Option<&str>, limit: i64) -> StoreResult<Vec<UserRow>> {
        // `substr` compares characters, not a LIKE pattern, so `%` and `_` in a
        // prefix match themselves; both databases order the cursor column alike
        // because `>` and ORDER BY use the same collation.
        let rows = sqlx::query(
            "SELECT id, username, password_hash, created_at FROM users \
             WHERE substr(username_lower, 1, length($1)) = $1 AND ($2 IS NULL OR username_lower > $2) \
             ORDER BY username_lower LIMIT $3",
        )
        .bind(prefix_lower)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(B::classify)?;
        rows.iter()
            .map(rows::user)
            .collect::<std::result::Result<_, _>>()
            .map_err(B::classify)
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<UserRow>> {
        let r = sqlx::query("SELECT id, username, password_hash, created_at FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await;
        r.map_err(B::classify)?
            .map(|r| rows::user(&r))
            .transpose()
            .map_err(B::classify)
    }

    async fn totp(&self, user: UserId) -> StoreResult<TotpRow> {
        done::<B, _>(self.totp_row(user).await)
    }

    async fn set_totp_pending(&self, user: UserId, secret: Option<&str>) -> StoreResult<()> {
        let r = sqlx::query("UPDATE users SET totp_pending = $1 WHERE id = $2")
            .bind(secret.map(|s| self.cipher.seal(s)))
            .bind(user.0)
            .execute(&self.pool)
            .await;
        r.map_err(B::classify)?;
        Ok(())
    }

    async fn enable_totp(&self, user: UserId, secret: &str, code_hashes: &[Vec<u8>]) -> StoreResult<()> {
        let sealed = self.cipher.seal(secret);
        crate::retry::run::<B, _, _, _>(|| self.set_totp(user, Some(&sealed), code_hashes)).await
    }

    async fn disable_totp(&self, user: UserId) -> StoreResult<()> {
        crate::retry::run::<B, _, _, _>(|| self.set_totp(user, None, &[])).await
    }

    async fn use_totp_step(&self, user: UserId, step: i64) -> StoreResult<bool> {
        let r = sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1")
            .bind(step)
            .bind(user.0)
            .execute(&self.pool)
            .await;
        Ok(B::rows_affected(&r.map_err(B::classify)?) > 0)
    }

    async fn use_backup_code(&self, user: UserId, code_hash: &[u8]) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM backup_codes WHERE user_id = $1 AND code_hash = $2")
            .bind(user.0)
            .bind(code_hash)
            .execute(&self.pool)
            .await;
        Ok(B::rows_affected(&r.map_err(B::classify)?) > 0)
    }

    async fn replace_backup_codes(&self, user: UserId, code_hashes: &[Vec<u8>]) -> StoreResult<()> {
        crate::retry::run::<B, _, _, _>(|| self.replace_codes_tx(user, code_hashes)).await
    }

    async fn set_last_seen(&self, user: UserId, at: i64) -> StoreResult<()> {
        let r = sqlx::query("UPDATE users SET last_seen_at = $1 WHERE id = $2")
            .bind(at)
            .bind(user.0)
            .execute(&self.pool)
            .await;
        r.map_err(B::classify)?;
        Ok(())
    }

    async fn last_seen(&self, users: &[UserId]) -> StoreResult<Vec<(UserId, Option<i64>)>> {
        done::<B, _>(self.last_seen_rows(users).await)
    }

    async fn settings(&self, user: UserId) -> StoreResult<Option<(String, i64)>> {
        let r = sqlx::query("SELECT settings, updated_at FROM user_settings WHERE user_id = $1")
            .bind(user.0)
            .fetch_optional(&self.pool)
            .await;
        r.map_err(B::classify)?
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .transpose()
            .map_err(B::classify)
    }

    async fn put_settings(&self, user: UserId, settings: &str, at: i64) -> StoreResult<()> {
        let r = sqlx::query(
            "INSERT INTO user_settings (user_id, settings, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET settings = $2, updated_at = $3",
        )
        .bind(user.0)
        .bind(settings)
        .bind(at)
        .execute(&self.pool)
        .await;
        r.map_err(B::classify)?;
        Ok(())
    }
}

impl<B> SqlStore<B>
where
    B: Backend,
    for<'c> &'c mut <Db<B> as Database>::Connection: Executor<'c, Database = Db<B>>,
    <Db<B> as Database>::Arguments: IntoArguments<Db<B>>,
    usize: ColumnIndex<<Db<B> as Database>::Row>,
    i64: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    String: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> &'a str: Type<Db<B>> + Encode<'a, Db<B>>,
    Vec<u8>: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> &'a [u8]: Type<Db<B>> + Encode<'a, Db<B>>,
    Option<i64>: for<'q> Encode<'q, Db<B>>,
    Option<String>: for<'q> Encode<'q, Db<B>>,
    for<'a> Option<&'a str>: Encode<'a, Db<B>>,
{
    /// Inserts the user and joins the `auto_join` chats, under the write lock
    /// (joining changes `member_count`, which the batch writer also updates).
    async fn insert_user(&self, user: &NewUser, auto_join: &[ChatId]) -> Result<UserId> {
        let (mut tx, _) = B::begin_write(&self.pool).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, username_lower, password_hash, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&user.username)
        .bind(&user.username_lower)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .fetch_one(&mut *tx)
        .await?;
        for chat in auto_join {
            join_quietly::<B>(&mut tx, *chat, UserId(id), Role::Member, user.created_at).await?;
        }
        tx.commit().await?;
        Ok(UserId(id))
    }

    /// Turns 2FA on (`Some(sealed secret)`) or off, replacing the backup codes.
    async fn set_totp(&self, user: UserId, sealed: Option<&str>, code_hashes: &[Vec<u8>]) -> Result<()> {
        let mut tx = B::begin_plain(&self.pool).await?;
        sqlx::query("UPDATE users SET totp_secret = $1, totp_pending = NULL WHERE id = $2")
            .bind(sealed)
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        replace_codes::<B>(&mut tx, user, code_hashes).await?;
        Ok(tx.commit().await?)
    }

    async fn replace_codes_tx(&self, user: UserId, code_hashes: &[Vec<u8>]) -> Result<()> {
        let mut tx = B::begin_plain(&self.pool).await?;
        replace_codes::<B>(&mut tx, user, code_hashes).await?;
        Ok(tx.commit().await?)
    }

    async fn totp_row(&self, user: UserId) -> Result<TotpRow> {
        let r = sqlx::query(
            "SELECT totp_secret, totp_pending, totp_last_step, \
             (SELECT COUNT(*) FROM backup_codes b WHERE b.user_id = users.id) FROM users WHERE id = $1",
        )
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        let open = |v: Option<String>| v.map(|s| self.open_text(&s)).transpose();
        Ok(TotpRow {
            secret: open(r.try_get(0)?)?,
            pending: open(r.try_get(1)?)?,
            last_step: r.try_get(2)?,
            backup_codes_left: r.try_get(3)?,
        })
    }

    async fn last_seen_rows(&self, users: &[UserId]) -> Result<Vec<(UserId, Option<i64>)>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<Db<B>>::new("SELECT id, last_seen_at FROM users WHERE id IN (");
        let mut sep = qb.separated(", ");
        for u in users {
            sep.push_bind(u.0);
        }
        qb.push(")");
        let found = qb.build().fetch_all(&self.pool).await?;
        Ok(found
            .iter()
            .map(|r| Ok((UserId(r.try_get(0)?), r.try_get(1)?)))
            .collect::<std::result::Result<_, sqlx::Error>>()?)
    }
}

/// Replaces `user`'s backup codes inside `tx`.
async fn replace_codes<B>(tx: &mut Transaction<'static, Db<B>>, user: UserId, code_hashes: &[Vec<u8>]) -> Result<()>
where
    B: Backend,
    for<'c> &'c mut <Db<B> as Database>::Connection: Executor<'c, Database = Db<B>>,
    <Db<B> as Database>::Arguments: IntoArguments<Db<B>>,
    usize: ColumnIndex<<Db<B> as Database>::Row>,
    i64: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    String: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> &'a str: Type<Db<B>> + Encode<'a, Db<B>>,
    Vec<u8>: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> &'a [u8]: Type<Db<B>> + Encode<'a, Db<B>>,
    Option<i64>: for<'q> Encode<'q, Db<B>>,
    Option<String>: for<'q> Encode<'q, Db<B>>,
    for<'a> Option<&'a str>: Encode<'a, Db<B>>,
{
    sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
        .bind(user.0)
        .execute(&mut **tx)
        .await?;
    for h in code_hashes {
        sqlx::query("INSERT INTO backup_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user.0)
            .bind(h)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Adds a member without events, keeping `member_count` right; false when the
/// user already was one.
pub(crate) async fn join_quietly<B>(
    tx: &mut Transaction<'static, Db<B>>,
    chat: ChatId,
    user: UserId,
    role: Role,
    at: i64,
) -> Result<bool>
where
    B: Backend,
    for<'c> &'c mut <Db<B> as Database>::Connection: Executor<'c, Database = Db<B>>,
    <Db<B> as Database>::Arguments: IntoArguments<Db<B>>,
    usize: ColumnIndex<<Db<B> as Database>::Row>,
    i64: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    String: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> &'a str: Type<Db<B>> + Encode<'a, Db<B>>,
    Vec<u8>: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> &'a [u8]: Type<Db<B>> + Encode<'a, Db<B>>,
    Option<i64>: for<'q> Encode<'q, Db<B>>,
    Option<String>: for<'q> Encode<'q, Db<B>>,
    for<'a> Option<&'a str>: Encode<'a, Db<B>>,
{
    let done = sqlx::query(
        "INSERT INTO chat_members (chat_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(chat.0)
    .bind(user.0)
    .bind(role.as_str())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    let added = B::rows_affected(&done) > 0;
    if added {
        sqlx::query("UPDATE chats SET member_count = member_count + 1 WHERE id = $1")
            .bind(chat.0)
            .execute(&mut **tx)
            .await?;
    }
    Ok(added)
}
