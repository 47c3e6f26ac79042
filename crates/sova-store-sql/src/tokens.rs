//! Refresh tokens (rotation with reuse detection), the access-token blacklist,
//! login sessions and the append-only audit log.

use crate::store::done;
use crate::{Backend, Db, Result, SqlStore};
use async_trait::async_trait;
use sova_store::{AuditRow, NewRefreshToken, RotateOutcome, SessionRow, StoreResult, TokenStore};
use sova_types::UserId;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

#[async_trait]
impl<B> TokenStore for SqlStore<B>
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
    async fn insert_refresh(&self, t: NewRefreshToken) -> StoreResult<()> {
        let r = sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, user_id, family_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&t.token_hash)
        .bind(t.user_id.0)
        .bind(&t.family_id)
        .bind(t.created_at)
        .bind(t.expires_at)
        .execute(&self.pool)
        .await;
        r.map_err(B::classify)?;
        Ok(())
    }

    async fn rotate_refresh(&self, old_hash: &[u8], new: NewRefreshToken, now: i64) -> StoreResult<RotateOutcome> {
        crate::retry::run::<B, _, _, _>(|| self.rotate(old_hash, &new, now)).await
    }

    async fn revoke_refresh_family(&self, token_hash: &[u8], user: UserId, now: i64) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND family_id = \
             (SELECT family_id FROM refresh_tokens WHERE token_hash = $2 AND user_id = $3)",
        )
        .bind(now)
        .bind(token_hash)
        .bind(user.0)
        .execute(&self.pool)
        .await;
        Ok(B::rows_affected(&r.map_err(B::classify)?) > 0)
    }

    async fn blacklist_jti(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        let r = sqlx::query("INSERT INTO token_blacklist (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(jti)
            .bind(expires_at)
            .execute(&self.pool)
            .await;
        r.map_err(B::classify)?;
        Ok(())
    }

    async fn is_blacklisted(&self, jti: &str) -> StoreResult<bool> {
        let r = sqlx::query("SELECT CAST(1 AS BIGINT) FROM token_blacklist WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await;
        Ok(r.map_err(B::classify)?.is_some())
    }

    async fn create_session(&self, s: SessionRow) -> StoreResult<()> {
        let r = sqlx::query(
            "INSERT INTO sessions (id, user_id, device_id, user_agent, ip, created_at, last_active) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.id)
        .bind(s.user_id.0)
        .bind(&s.device_id)
        .bind(&s.user_agent)
        .bind(&s.ip)
        .bind(s.created_at)
        .bind(s.last_active)
        .execute(&self.pool)
        .await;
        r.map_err(B::classify)?;
        Ok(())
    }

    async fn sessions(&self, user: UserId) -> StoreResult<Vec<SessionRow>> {
        done::<B, _>(self.session_rows(user).await)
    }

    async fn revoke_sessions(
        &self,
        user: UserId,
        only: Option<&str>,
        except: Option<&str>,
        now: i64,
    ) -> StoreResult<Vec<String>> {
        crate::retry::run::<B, _, _, _>(|| self.revoke(user, only, except, now)).await
    }

    async fn touch_session(&self, id: &str, now: i64) -> StoreResult<()> {
        let r = sqlx::query("UPDATE sessions SET last_active = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await;
        r.map_err(B::classify)?;
        Ok(())
    }

    async fn token_revoked(&self, jti: &str, session: &str) -> StoreResult<bool> {
        let r = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM token_blacklist WHERE jti = $1) + \
             (SELECT COUNT(*) FROM sessions WHERE id = $2 AND revoked_at IS NOT NULL)",
        )
        .bind(jti)
        .bind(session)
        .fetch_one(&self.pool)
        .await;
        Ok(r.map_err(B::classify)?.try_get::<i64, _>(0).map_err(B::classify)? > 0)
    }

    async fn known_device(&self, user: UserId, device_id: &str, user_agent: &str) -> StoreResult<bool> {
        let r = sqlx::query(
            "SELECT COUNT(*) FROM sessions WHERE user_id = $1 \
             AND ((device_id <> '' AND device_id = $2) OR user_agent = $3)",
        )
        .bind(user.0)
        .bind(device_id)
        .bind(user_agent)
        .fetch_one(&self.pool)
        .await;
        Ok(r.map_err(B::classify)?.try_get::<i64, _>(0).map_err(B::classify)? > 0)
    }

    async fn audit(&self, e: AuditRow) -> StoreResult<()> {
        let r = sqlx::query(
            "INSERT INTO audit_log (at, action, actor, target, ip, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.at)
        .bind(&e.action)
        .bind(e.actor.map(|u| u.0))
        .bind(e.target.map(|u| u.0))
        .bind(&e.ip)
        .bind(&e.detail)
        .execute(&self.pool)
        .await;
        r.map_err(B::classify)?;
        Ok(())
    }

    async fn audit_log(
        &self,
        action: Option<&str>,
        target: Option<UserId>,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>> {
        done::<B, _>(self.audit_rows(action, target, before, limit).await)
    }

    async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
        done::<B, _>(self.purge(now).await)
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
    /// One attempt at rotating a refresh token (see `TokenStore::rotate_refresh`).
    async fn rotate(&self, old_hash: &[u8], new: &NewRefreshToken, now: i64) -> Result<RotateOutcome> {
        let mut tx = B::begin_plain(&self.pool).await?;
        let row = sqlx::query(B::SELECT_REFRESH_FOR_UPDATE)
            .bind(old_hash)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(RotateOutcome::Invalid);
        };
        let user_id = UserId(row.try_get(0)?);
        let family: Vec<u8> = row.try_get(1)?;
        let expires_at: i64 = row.try_get(2)?;
        let used_at: Option<i64> = row.try_get(3)?;
        let revoked_at: Option<i64> = row.try_get(4)?;
        if revoked_at.is_some() || expires_at <= now {
            return Ok(RotateOutcome::Invalid);
        }
        if used_at.is_some() {
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(&family)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(RotateOutcome::Reused { user_id, family });
        }
        sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(old_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, user_id, family_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&new.token_hash)
        .bind(user_id.0)
        .bind(&family)
        .bind(new.created_at)
        .bind(new.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RotateOutcome::Rotated { user_id, family })
    }

    async fn session_rows(&self, user: UserId) -> Result<Vec<SessionRow>> {
        let found = sqlx::query(
            "SELECT id, user_id, device_id, user_agent, ip, created_at, last_active FROM sessions \
             WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at, id LIMIT 1000",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        let decode = |r: &<Db<B> as Database>::Row| -> std::result::Result<SessionRow, sqlx::Error> {
            Ok(SessionRow {
                id: r.try_get(0)?,
                user_id: UserId(r.try_get(1)?),
                device_id: r.try_get(2)?,
                user_agent: r.try_get(3)?,
                ip: r.try_get(4)?,
                created_at: r.try_get(5)?,
                last_active: r.try_get(6)?,
            })
        };
        Ok(found.iter().map(decode).collect::<std::result::Result<_, _>>()?)
    }

    /// One attempt at revoking sessions and their refresh tokens.
    async fn revoke(&self, user: UserId, only: Option<&str>, except: Option<&str>, now: i64) -> Result<Vec<String>> {
        let mut tx = B::begin_plain(&self.pool).await?;
        let found = sqlx::query(
            "SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
             AND (CAST($2 AS TEXT) IS NULL OR id = $2) AND (CAST($3 AS TEXT) IS NULL OR id <> $3)",
        )
        .bind(user.0)
        .bind(only)
        .bind(except)
        .fetch_all(&mut *tx)
        .await?;
        let ids: Vec<String> = found
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        for id in &ids {
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if let Some(family) = crate::hex_decode(id) {
                sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(family)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn audit_rows(
        &self,
        action: Option<&str>,
        target: Option<UserId>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRow>> {
        let found = sqlx::query(
            "SELECT id, at, action, actor, target, ip, detail FROM audit_log \
             WHERE id < $1 AND (CAST($2 AS TEXT) IS NULL OR action = $2) \
             AND (CAST($3 AS BIGINT) IS NULL OR target = $3) ORDER BY id DESC LIMIT $4",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(action)
        .bind(target.map(|u| u.0))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let decode = |r: &<Db<B> as Database>::Row| -> std::result::Result<AuditRow, sqlx::Error> {
            Ok(AuditRow {
                id: r.try_get(0)?,
                at: r.try_get(1)?,
                action: r.try_get(2)?,
                actor: r.try_get::<Option<i64>, _>(3)?.map(UserId),
                target: r.try_get::<Option<i64>, _>(4)?.map(UserId),
                ip: r.try_get(5)?,
                detail: r.try_get(6)?,
            })
        };
        Ok(found.iter().map(decode).collect::<std::result::Result<_, _>>()?)
    }

    async fn purge(&self, now: i64) -> Result<u64> {
        let a = sqlx::query("DELETE FROM token_blacklist WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        let b = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(B::rows_affected(&a) + B::rows_affected(&b))
    }
}
