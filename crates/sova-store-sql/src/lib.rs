//! SQL shared by the SQLite and PostgreSQL stores. The queries use only the common
//! dialect (`$n` parameters, `ON CONFLICT`, `RETURNING`, row values, `CAST`), and
//! `impl_sql_store!` expands the same code for each backend's concrete sqlx types,
//! so both databases run literally the same statements. A backend provides:
//! `self.pool`, `self.begin_write()` (a transaction holding the event-counter lock,
//! with the counter's value), `Self::insert_message_rows(tx, rows)` and `map_err`.

/// Columns of a message row joined with its sender (`m`, `u`), in decode order.
#[macro_export]
macro_rules! message_columns {
    () => {
        "m.id, m.chat_id, m.chat_seq, m.sender_id, u.username, m.text, m.client_msg_id, m.created_at, \
         m.kind, m.reply_to, m.forward_chat_id, m.forward_message_id, m.forward_user_id, m.forward_user, \
         m.mentions, m.edited_at, m.deleted_at, m.pinned_at, m.attachment"
    };
}

/// Columns of a chat row (`c`), in decode order.
#[macro_export]
macro_rules! chat_columns {
    () => {
        "c.id, c.kind, c.name, c.slug, c.created_at, c.last_seq, c.member_count"
    };
}

/// Mentioned user ids as stored (comma-separated).
pub fn format_ids(ids: &[sova_types::UserId]) -> String {
    ids.iter().map(|i| i.0.to_string()).collect::<Vec<_>>().join(",")
}

/// Parses `format_ids` output; ignores junk.
pub fn parse_ids(s: &str) -> Vec<sova_types::UserId> {
    s.split(',')
        .filter_map(|p| p.trim().parse().ok())
        .map(sova_types::UserId)
        .collect()
}

/// Lower-case hex of `bytes` (session ids are the hex of refresh-token families).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of a hex string, if it is one.
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Private chats are unique per pair of users: this key enforces it.
pub fn private_key(a: sova_types::UserId, b: sova_types::UserId) -> String {
    let (lo, hi) = if a.0 <= b.0 { (a.0, b.0) } else { (b.0, a.0) };
    format!("{lo}:{hi}")
}

/// Expands every store trait for `$store` over sqlx database `$db`.
#[macro_export]
macro_rules! impl_sql_store {
    ($store:ty, $db:ty) => {
        mod __sql_store {
            use super::*;
            use async_trait::async_trait;
            use sova_store::{
                ChatKind, ChatRow, ChatStore, Committed, InviteRow, MemberRow, MessageKind, MessageRow,
                MessageStore, MyChat, NewRefreshToken, NewUser, Role, RotateOutcome, StoreError, StoreResult,
                TokenStore, UserRow, UserStore, WriteOp,
            };
            use sova_types::{ChatId, MessageId, UserId};
            use sqlx::Row;

            pub(crate) type DbRow = <$db as sqlx::Database>::Row;
            pub(crate) type Tx = sqlx::Transaction<'static, $db>;

            pub(crate) fn user_row(r: &DbRow) -> Result<UserRow, sqlx::Error> {
                Ok(UserRow {
                    id: UserId(r.try_get(0)?),
                    username: r.try_get(1)?,
                    password_hash: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                })
            }

            fn decode_err(what: &str) -> sqlx::Error {
                sqlx::Error::Decode(format!("unexpected {what}").into())
            }

            pub(crate) fn chat_row(r: &DbRow) -> Result<ChatRow, sqlx::Error> {
                let kind: String = r.try_get(1)?;
                Ok(ChatRow {
                    id: ChatId(r.try_get(0)?),
                    kind: ChatKind::parse(&kind).ok_or_else(|| decode_err("chat kind"))?,
                    name: r.try_get(2)?,
                    slug: r.try_get(3)?,
                    created_at: r.try_get(4)?,
                    last_seq: r.try_get(5)?,
                    member_count: r.try_get(6)?,
                })
            }

            pub(crate) fn message_row(r: &DbRow) -> Result<MessageRow, sqlx::Error> {
                let kind: String = r.try_get(8)?;
                let fwd_chat: Option<i64> = r.try_get(10)?;
                let forward = match fwd_chat {
                    Some(chat) => Some(sova_types::models::ForwardOrigin {
                        chat_id: ChatId(chat),
                        message_id: MessageId(r.try_get::<Option<i64>, _>(11)?.unwrap_or_default()),
                        user_id: UserId(r.try_get::<Option<i64>, _>(12)?.unwrap_or_default()),
                        user: r.try_get::<Option<String>, _>(13)?.unwrap_or_default(),
                    }),
                    None => None,
                };
                let mentions: String = r.try_get(14)?;
                Ok(MessageRow {
                    id: MessageId(r.try_get(0)?),
                    chat_id: ChatId(r.try_get(1)?),
                    chat_seq: r.try_get(2)?,
                    sender_id: UserId(r.try_get(3)?),
                    sender_name: r.try_get(4)?,
                    text: r.try_get(5)?,
                    client_msg_id: r.try_get(6)?,
                    created_at: r.try_get(7)?,
                    kind: MessageKind::parse(&kind).ok_or_else(|| decode_err("message kind"))?,
                    reply_to: r.try_get::<Option<i64>, _>(9)?.map(MessageId),
                    forward,
                    mentions: $crate::parse_ids(&mentions),
                    edited_at: r.try_get(15)?,
                    deleted_at: r.try_get(16)?,
                    pinned_at: r.try_get(17)?,
                    attachment: r
                        .try_get::<Option<String>, _>(18)?
                        .and_then(|j| serde_json::from_str(&j).ok()),
                })
            }

            pub(crate) fn member_row(r: &DbRow) -> Result<MemberRow, sqlx::Error> {
                let role: String = r.try_get(3)?;
                Ok(MemberRow {
                    chat_id: ChatId(r.try_get(0)?),
                    user_id: UserId(r.try_get(1)?),
                    username: r.try_get(2)?,
                    role: Role::parse(&role).ok_or_else(|| decode_err("role"))?,
                    joined_at: r.try_get(4)?,
                    last_read_seq: r.try_get(5)?,
                    muted: r.try_get::<i64, _>(6)? != 0,
                })
            }

            fn invite_row(r: &DbRow) -> Result<InviteRow, sqlx::Error> {
                Ok(InviteRow {
                    code: r.try_get(0)?,
                    chat_id: ChatId(r.try_get(1)?),
                    created_by: UserId(r.try_get(2)?),
                    created_at: r.try_get(3)?,
                    expires_at: r.try_get(4)?,
                    max_uses: r.try_get(5)?,
                    uses: r.try_get(6)?,
                    revoked_at: r.try_get(7)?,
                })
            }

            fn rows<T>(rows: Vec<DbRow>, f: fn(&DbRow) -> Result<T, sqlx::Error>) -> StoreResult<Vec<T>> {
                rows.iter().map(|r| f(r).map_err(map_err)).collect()
            }

            impl $store {
                fn open_text(&self, stored: &str) -> StoreResult<String> {
                    self.cipher.open(stored).map_err(StoreError::Other)
                }

                fn open_msg(&self, mut m: MessageRow) -> StoreResult<MessageRow> {
                    m.text = self.open_text(&m.text)?;
                    Ok(m)
                }

                fn open_msgs(&self, rows: Vec<MessageRow>) -> StoreResult<Vec<MessageRow>> {
                    rows.into_iter().map(|m| self.open_msg(m)).collect()
                }
            }

            #[async_trait]
            impl UserStore for $store {
                async fn create_user(&self, user: NewUser, auto_join: &[ChatId]) -> StoreResult<UserRow> {
                    let (mut tx, _) = self.begin_write().await?;
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
                        join_quietly(&mut tx, *chat, UserId(id), Role::Member, user.created_at).await?;
                    }
                    tx.commit().await.map_err(map_err)?;
                    Ok(UserRow { id: UserId(id), username: user.username, password_hash: user.password_hash, created_at: user.created_at })
                }

                async fn user_by_name(&self, username_lower: &str) -> StoreResult<Option<UserRow>> {
                    let r = sqlx::query("SELECT id, username, password_hash, created_at FROM users WHERE username_lower = $1")
                        .bind(username_lower)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map_err)?;
                    r.map(|r| user_row(&r).map_err(map_err)).transpose()
                }

                async fn totp(&self, user: UserId) -> StoreResult<sova_store::TotpRow> {
                    let r = sqlx::query(
                        "SELECT totp_secret, totp_pending, totp_last_step, \
                         (SELECT COUNT(*) FROM backup_codes b WHERE b.user_id = users.id) FROM users WHERE id = $1",
                    )
                    .bind(user.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?
                    .ok_or(StoreError::NotFound)?;
                    let open = |v: Option<String>| v.map(|s| self.open_text(&s)).transpose();
                    Ok(sova_store::TotpRow {
                        secret: open(r.try_get(0).map_err(map_err)?)?,
                        pending: open(r.try_get(1).map_err(map_err)?)?,
                        last_step: r.try_get(2).map_err(map_err)?,
                        backup_codes_left: r.try_get(3).map_err(map_err)?,
                    })
                }

                async fn set_totp_pending(&self, user: UserId, secret: Option<&str>) -> StoreResult<()> {
                    sqlx::query("UPDATE users SET totp_pending = $1 WHERE id = $2")
                        .bind(secret.map(|s| self.cipher.seal(s)))
                        .bind(user.0)
                        .execute(&self.pool)
                        .await
                        .map_err(map_err)?;
                    Ok(())
                }

                async fn enable_totp(&self, user: UserId, secret: &str, code_hashes: &[Vec<u8>]) -> StoreResult<()> {
                    let mut tx = self.begin_token_write().await?;
                    sqlx::query("UPDATE users SET totp_secret = $1, totp_pending = NULL WHERE id = $2")
                        .bind(self.cipher.seal(secret))
                        .bind(user.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                    replace_codes(&mut tx, user, code_hashes).await?;
                    tx.commit().await.map_err(map_err)
                }

                async fn disable_totp(&self, user: UserId) -> StoreResult<()> {
                    let mut tx = self.begin_token_write().await?;
                    sqlx::query("UPDATE users SET totp_secret = NULL, totp_pending = NULL WHERE id = $1")
                        .bind(user.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                    replace_codes(&mut tx, user, &[]).await?;
                    tx.commit().await.map_err(map_err)
                }

                async fn use_totp_step(&self, user: UserId, step: i64) -> StoreResult<bool> {
                    let done = sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1")
                        .bind(step)
                        .bind(user.0)
                        .execute(&self.pool)
                        .await
                        .map_err(map_err)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn use_backup_code(&self, user: UserId, code_hash: &[u8]) -> StoreResult<bool> {
                    let done = sqlx::query("DELETE FROM backup_codes WHERE user_id = $1 AND code_hash = $2")
                        .bind(user.0)
                        .bind(code_hash)
                        .execute(&self.pool)
                        .await
                        .map_err(map_err)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn replace_backup_codes(&self, user: UserId, code_hashes: &[Vec<u8>]) -> StoreResult<()> {
                    let mut tx = self.begin_token_write().await?;
                    replace_codes(&mut tx, user, code_hashes).await?;
                    tx.commit().await.map_err(map_err)
                }

                async fn set_last_seen(&self, user: UserId, at: i64) -> StoreResult<()> {
                    sqlx::query("UPDATE users SET last_seen_at = $1 WHERE id = $2")
                        .bind(at)
                        .bind(user.0)
                        .execute(&self.pool)
                        .await
                        .map_err(map_err)?;
                    Ok(())
                }

                async fn last_seen(&self, users: &[UserId]) -> StoreResult<Vec<(UserId, Option<i64>)>> {
                    if users.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT id, last_seen_at FROM users WHERE id IN (");
                    let mut sep = qb.separated(", ");
                    for u in users {
                        sep.push_bind(u.0);
                    }
                    qb.push(")");
                    let found = qb.build().fetch_all(&self.pool).await.map_err(map_err)?;
                    found
                        .iter()
                        .map(|r| Ok((UserId(r.try_get(0).map_err(map_err)?), r.try_get(1).map_err(map_err)?)))
                        .collect()
                }

                async fn user_by_id(&self, id: UserId) -> StoreResult<Option<UserRow>> {
                    let r = sqlx::query("SELECT id, username, password_hash, created_at FROM users WHERE id = $1")
                        .bind(id.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map_err)?;
                    r.map(|r| user_row(&r).map_err(map_err)).transpose()
                }
            }

            async fn replace_codes<'c>(
                tx: &mut sqlx::Transaction<'c, $db>,
                user: UserId,
                code_hashes: &[Vec<u8>],
            ) -> StoreResult<()> {
                sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
                    .bind(user.0)
                    .execute(&mut **tx)
                    .await
                    .map_err(map_err)?;
                for h in code_hashes {
                    sqlx::query("INSERT INTO backup_codes (user_id, code_hash) VALUES ($1, $2)")
                        .bind(user.0)
                        .bind(h)
                        .execute(&mut **tx)
                        .await
                        .map_err(map_err)?;
                }
                Ok(())
            }

            /// Adds a member without events, keeping `member_count` right.
            pub(crate) async fn join_quietly(tx: &mut Tx, chat: ChatId, user: UserId, role: Role, at: i64) -> StoreResult<bool> {
                let added = sqlx::query(
                    "INSERT INTO chat_members (chat_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(chat.0)
                .bind(user.0)
                .bind(role.as_str())
                .bind(at)
                .execute(&mut **tx)
                .await
                .map_err(map_err)?
                .rows_affected()
                    > 0;
                if added {
                    sqlx::query("UPDATE chats SET member_count = member_count + 1 WHERE id = $1")
                        .bind(chat.0)
                        .execute(&mut **tx)
                        .await
                        .map_err(map_err)?;
                }
                Ok(added)
            }

            #[async_trait]
            impl TokenStore for $store {
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

                async fn rotate_refresh(&self, old_hash: &[u8], new: NewRefreshToken, now: i64) -> StoreResult<RotateOutcome> {
                    let mut tx = self.begin_token_write().await?;
                    let row = sqlx::query(Self::SELECT_REFRESH_FOR_UPDATE)
                        .bind(old_hash)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(map_err)?;
                    let Some(row) = row else { return Ok(RotateOutcome::Invalid) };
                    let user_id = UserId(row.try_get(0).map_err(map_err)?);
                    let family: Vec<u8> = row.try_get(1).map_err(map_err)?;
                    let expires_at: i64 = row.try_get(2).map_err(map_err)?;
                    let used_at: Option<i64> = row.try_get(3).map_err(map_err)?;
                    let revoked_at: Option<i64> = row.try_get(4).map_err(map_err)?;
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
                        return Ok(RotateOutcome::Reused { user_id, family });
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
                    Ok(RotateOutcome::Rotated { user_id, family })
                }

                async fn revoke_refresh_family(&self, token_hash: &[u8], user: UserId, now: i64) -> StoreResult<bool> {
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
                    sqlx::query("INSERT INTO token_blacklist (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(jti)
                        .bind(expires_at)
                        .execute(&self.pool)
                        .await
                        .map_err(map_err)?;
                    Ok(())
                }

                async fn is_blacklisted(&self, jti: &str) -> StoreResult<bool> {
                    let found: Option<i64> = sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM token_blacklist WHERE jti = $1")
                        .bind(jti)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map_err)?;
                    Ok(found.is_some())
                }

                async fn create_session(&self, s: sova_store::SessionRow) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO sessions (id, user_id, device_id, user_agent, ip, created_at, last_active) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&s.id)
                    .bind(s.user_id.0)
                    .bind(&s.device_id)
                    .bind(&s.user_agent)
                    .bind(&s.ip)
                    .bind(s.created_at)
                    .bind(s.last_active)
                    .execute(&self.pool)
                    .await
                    .map_err(map_err)?;
                    Ok(())
                }

                async fn sessions(&self, user: UserId) -> StoreResult<Vec<sova_store::SessionRow>> {
                    let found = sqlx::query(
                        "SELECT id, user_id, device_id, user_agent, ip, created_at, last_active FROM sessions \
                         WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at, id LIMIT 1000",
                    )
                    .bind(user.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?;
                    found
                        .iter()
                        .map(|r| {
                            Ok(sova_store::SessionRow {
                                id: r.try_get(0).map_err(map_err)?,
                                user_id: UserId(r.try_get(1).map_err(map_err)?),
                                device_id: r.try_get(2).map_err(map_err)?,
                                user_agent: r.try_get(3).map_err(map_err)?,
                                ip: r.try_get(4).map_err(map_err)?,
                                created_at: r.try_get(5).map_err(map_err)?,
                                last_active: r.try_get(6).map_err(map_err)?,
                            })
                        })
                        .collect()
                }

                async fn revoke_sessions(&self, user: UserId, only: Option<&str>, except: Option<&str>, now: i64) -> StoreResult<Vec<String>> {
                    let mut tx = self.begin_token_write().await?;
                    let ids: Vec<String> = sqlx::query_scalar(
                        "SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
                         AND (CAST($2 AS TEXT) IS NULL OR id = $2) AND (CAST($3 AS TEXT) IS NULL OR id <> $3)",
                    )
                    .bind(user.0)
                    .bind(only)
                    .bind(except)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(map_err)?;
                    for id in &ids {
                        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2")
                            .bind(now)
                            .bind(id)
                            .execute(&mut *tx)
                            .await
                            .map_err(map_err)?;
                        if let Some(family) = $crate::hex_decode(id) {
                            sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
                                .bind(now)
                                .bind(family)
                                .execute(&mut *tx)
                                .await
                                .map_err(map_err)?;
                        }
                    }
                    tx.commit().await.map_err(map_err)?;
                    Ok(ids)
                }

                async fn touch_session(&self, id: &str, now: i64) -> StoreResult<()> {
                    sqlx::query("UPDATE sessions SET last_active = $1 WHERE id = $2")
                        .bind(now)
                        .bind(id)
                        .execute(&self.pool)
                        .await
                        .map_err(map_err)?;
                    Ok(())
                }

                async fn token_revoked(&self, jti: &str, session: &str) -> StoreResult<bool> {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT (SELECT COUNT(*) FROM token_blacklist WHERE jti = $1) + \
                         (SELECT COUNT(*) FROM sessions WHERE id = $2 AND revoked_at IS NOT NULL)",
                    )
                    .bind(jti)
                    .bind(session)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map_err)?;
                    Ok(n > 0)
                }

                async fn known_device(&self, user: UserId, device_id: &str, user_agent: &str) -> StoreResult<bool> {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM sessions WHERE user_id = $1 AND ((device_id <> '' AND device_id = $2) OR user_agent = $3)",
                    )
                    .bind(user.0)
                    .bind(device_id)
                    .bind(user_agent)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map_err)?;
                    Ok(n > 0)
                }

                async fn audit(&self, e: sova_store::AuditRow) -> StoreResult<()> {
                    sqlx::query("INSERT INTO audit_log (at, action, actor, target, ip, detail) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(e.at)
                        .bind(&e.action)
                        .bind(e.actor.map(|u| u.0))
                        .bind(e.target.map(|u| u.0))
                        .bind(&e.ip)
                        .bind(&e.detail)
                        .execute(&self.pool)
                        .await
                        .map_err(map_err)?;
                    Ok(())
                }

                async fn audit_log(&self, action: Option<&str>, target: Option<UserId>, before: Option<i64>, limit: i64) -> StoreResult<Vec<sova_store::AuditRow>> {
                    let found = sqlx::query(
                        "SELECT id, at, action, actor, target, ip, detail FROM audit_log \
                         WHERE id < $1 AND (CAST($2 AS TEXT) IS NULL OR action = $2) AND (CAST($3 AS BIGINT) IS NULL OR target = $3) \
                         ORDER BY id DESC LIMIT $4",
                    )
                    .bind(before.unwrap_or(i64::MAX))
                    .bind(action)
                    .bind(target.map(|u| u.0))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?;
                    found
                        .iter()
                        .map(|r| {
                            Ok(sova_store::AuditRow {
                                id: r.try_get(0).map_err(map_err)?,
                                at: r.try_get(1).map_err(map_err)?,
                                action: r.try_get(2).map_err(map_err)?,
                                actor: r.try_get::<Option<i64>, _>(3).map_err(map_err)?.map(UserId),
                                target: r.try_get::<Option<i64>, _>(4).map_err(map_err)?.map(UserId),
                                ip: r.try_get(5).map_err(map_err)?,
                                detail: r.try_get(6).map_err(map_err)?,
                            })
                        })
                        .collect()
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
            impl ChatStore for $store {
                async fn ensure_chat(&self, slug: &str, kind: ChatKind, name: &str, now: i64) -> StoreResult<ChatRow> {
                    sqlx::query("INSERT INTO chats (kind, name, slug, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (slug) DO NOTHING")
                        .bind(kind.as_str())
                        .bind(name)
                        .bind(slug)
                        .bind(now)
                        .execute(&self.pool)
                        .await
                        .map_err(map_err)?;
                    let r = sqlx::query(concat!("SELECT ", $crate::chat_columns!(), " FROM chats c WHERE c.slug = $1"))
                        .bind(slug)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(map_err)?;
                    chat_row(&r).map_err(map_err)
                }

                async fn chat(&self, id: ChatId) -> StoreResult<Option<ChatRow>> {
                    let r = sqlx::query(concat!("SELECT ", $crate::chat_columns!(), " FROM chats c WHERE c.id = $1 AND c.deleted_at IS NULL"))
                        .bind(id.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map_err)?;
                    r.map(|r| chat_row(&r).map_err(map_err)).transpose()
                }

                async fn add_member(&self, chat: ChatId, user: UserId, role: &str, now: i64) -> StoreResult<()> {
                    let role = Role::parse(role).unwrap_or(Role::Member);
                    let (mut tx, _) = self.begin_write().await?;
                    join_quietly(&mut tx, chat, user, role, now).await?;
                    tx.commit().await.map_err(map_err)
                }

                async fn set_muted(&self, chat: ChatId, user: UserId, muted: bool) -> StoreResult<bool> {
                    let done = sqlx::query("UPDATE chat_members SET muted = $1 WHERE chat_id = $2 AND user_id = $3")
                        .bind(i64::from(muted))
                        .bind(chat.0)
                        .bind(user.0)
                        .execute(&self.pool)
                        .await
                        .map_err(map_err)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn is_member(&self, chat: ChatId, user: UserId) -> StoreResult<bool> {
                    let found: Option<i64> =
                        sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM chat_members WHERE chat_id = $1 AND user_id = $2")
                            .bind(chat.0)
                            .bind(user.0)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(map_err)?;
                    Ok(found.is_some())
                }

                async fn member(&self, chat: ChatId, user: UserId) -> StoreResult<Option<MemberRow>> {
                    let r = sqlx::query(
                        "SELECT cm.chat_id, cm.user_id, u.username, cm.role, cm.joined_at, cm.last_read_seq, cm.muted \
                         FROM chat_members cm JOIN users u ON u.id = cm.user_id WHERE cm.chat_id = $1 AND cm.user_id = $2",
                    )
                    .bind(chat.0)
                    .bind(user.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?;
                    r.map(|r| member_row(&r).map_err(map_err)).transpose()
                }

                async fn chats_of(&self, user: UserId) -> StoreResult<Vec<ChatId>> {
                    let ids: Vec<i64> = sqlx::query_scalar("SELECT chat_id FROM chat_members WHERE user_id = $1 ORDER BY chat_id")
                        .bind(user.0)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(map_err)?;
                    Ok(ids.into_iter().map(ChatId).collect())
                }

                async fn small_chats_of(&self, user: UserId, max_members: i64) -> StoreResult<Vec<ChatId>> {
                    let ids: Vec<i64> = sqlx::query_scalar(
                        "SELECT c.id FROM chat_members cm JOIN chats c ON c.id = cm.chat_id \
                         WHERE cm.user_id = $1 AND c.deleted_at IS NULL AND c.kind <> 'public' \
                         AND (c.kind = 'private' OR c.member_count <= $2) ORDER BY c.id LIMIT 1000",
                    )
                    .bind(user.0)
                    .bind(max_members)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?;
                    Ok(ids.into_iter().map(ChatId).collect())
                }

                async fn my_chats(&self, user: UserId, before: Option<(i64, ChatId)>, limit: i64) -> StoreResult<Vec<MyChat>> {
                    let (act, id) = before.map_or((i64::MAX, i64::MAX), |(a, c)| (a, c.0));
                    let found = sqlx::query(concat!(
                        "SELECT ", $crate::chat_columns!(), ", cm.role, cm.last_read_seq, c.last_message_id, cm.muted \
                         FROM chat_members cm JOIN chats c ON c.id = cm.chat_id \
                         WHERE cm.user_id = $1 AND c.deleted_at IS NULL AND (c.last_message_id < $2 OR (c.last_message_id = $2 AND c.id < $3)) \
                         ORDER BY c.last_message_id DESC, c.id DESC LIMIT $4"
                    ))
                    .bind(user.0)
                    .bind(act)
                    .bind(id)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?;
                    let mut out = Vec::with_capacity(found.len());
                    let mut last_ids = Vec::new();
                    for r in &found {
                        let chat = chat_row(r).map_err(map_err)?;
                        let role: String = r.try_get(7).map_err(map_err)?;
                        let last_read_seq: i64 = r.try_get(8).map_err(map_err)?;
                        let last_id: i64 = r.try_get(9).map_err(map_err)?;
                        let muted: i64 = r.try_get(10).map_err(map_err)?;
                        if last_id > 0 {
                            last_ids.push(last_id);
                        }
                        out.push(MyChat { chat, role: Role::parse(&role).unwrap_or(Role::Member), last_read_seq, muted: muted != 0, last_message: None });
                    }
                    if !last_ids.is_empty() {
                        let mut qb = sqlx::QueryBuilder::<$db>::new(concat!(
                            "SELECT ", $crate::message_columns!(), " FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.id IN ("
                        ));
                        let mut sep = qb.separated(", ");
                        for id in &last_ids {
                            sep.push_bind(*id);
                        }
                        qb.push(")");
                        let msgs = self.open_msgs(rows(qb.build().fetch_all(&self.pool).await.map_err(map_err)?, message_row)?)?;
                        for c in &mut out {
                            c.last_message = msgs.iter().find(|m| m.chat_id == c.chat.id).cloned();
                        }
                    }
                    Ok(out)
                }

                async fn members(&self, chat: ChatId, after: Option<UserId>, limit: i64) -> StoreResult<Vec<MemberRow>> {
                    let found = sqlx::query(
                        "SELECT cm.chat_id, cm.user_id, u.username, cm.role, cm.joined_at, cm.last_read_seq, cm.muted \
                         FROM chat_members cm JOIN users u ON u.id = cm.user_id \
                         WHERE cm.chat_id = $1 AND cm.user_id > $2 ORDER BY cm.user_id LIMIT $3",
                    )
                    .bind(chat.0)
                    .bind(after.map_or(0, |u| u.0))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?;
                    rows(found, member_row)
                }

                async fn create_invite(&self, i: InviteRow) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO invites (code, chat_id, created_by, created_at, expires_at, max_uses, uses) VALUES ($1, $2, $3, $4, $5, $6, 0)",
                    )
                    .bind(&i.code)
                    .bind(i.chat_id.0)
                    .bind(i.created_by.0)
                    .bind(i.created_at)
                    .bind(i.expires_at)
                    .bind(i.max_uses)
                    .execute(&self.pool)
                    .await
                    .map_err(map_err)?;
                    Ok(())
                }

                async fn invite(&self, code: &str) -> StoreResult<Option<InviteRow>> {
                    let r = sqlx::query(
                        "SELECT code, chat_id, created_by, created_at, expires_at, max_uses, uses, revoked_at FROM invites WHERE code = $1",
                    )
                    .bind(code)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?;
                    r.map(|r| invite_row(&r).map_err(map_err)).transpose()
                }

                async fn invites(&self, chat: ChatId) -> StoreResult<Vec<InviteRow>> {
                    let found = sqlx::query(
                        "SELECT code, chat_id, created_by, created_at, expires_at, max_uses, uses, revoked_at FROM invites \
                         WHERE chat_id = $1 ORDER BY created_at DESC LIMIT 200",
                    )
                    .bind(chat.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?;
                    rows(found, invite_row)
                }

                async fn revoke_invite(&self, chat: ChatId, code: &str, now: i64) -> StoreResult<bool> {
                    let done = sqlx::query("UPDATE invites SET revoked_at = $1 WHERE chat_id = $2 AND code = $3 AND revoked_at IS NULL")
                        .bind(now)
                        .bind(chat.0)
                        .bind(code)
                        .execute(&self.pool)
                        .await
                        .map_err(map_err)?;
                    Ok(done.rows_affected() > 0)
                }
            }

            #[async_trait]
            impl MessageStore for $store {
                async fn lock_publication(&self) -> StoreResult<Option<Box<dyn sova_store::PublicationGuard>>> {
                    self.publication_lock().await
                }

                async fn commit(&self, ops: &[WriteOp]) -> StoreResult<Vec<Committed>> {
                    if ops.is_empty() {
                        return Ok(Vec::new());
                    }
                    let (tx, last) = self.begin_write().await?;
                    let mut w = writer::Writer::new(tx, last, self.cipher.clone());
                    w.prefetch(ops).await?;
                    let mut out = Vec::with_capacity(ops.len());
                    for op in ops {
                        out.push(w.apply(op).await?);
                    }
                    w.finish().await?;
                    Ok(out)
                }

                async fn message(&self, chat: ChatId, id: MessageId) -> StoreResult<Option<MessageRow>> {
                    let r = sqlx::query(concat!(
                        "SELECT ", $crate::message_columns!(), " FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.id = $1 AND m.chat_id = $2"
                    ))
                    .bind(id.0)
                    .bind(chat.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?;
                    r.map(|r| message_row(&r).map_err(map_err).and_then(|m| self.open_msg(m))).transpose()
                }

                async fn history(
                    &self,
                    chat: ChatId,
                    before: Option<MessageId>,
                    after: Option<MessageId>,
                    limit: i64,
                    ascending: bool,
                ) -> StoreResult<Vec<MessageRow>> {
                    let sql = if ascending {
                        concat!(
                            "SELECT ", $crate::message_columns!(), " FROM messages m JOIN users u ON u.id = m.sender_id \
                             WHERE m.chat_id = $1 AND m.id < $2 AND m.id > $3 ORDER BY m.id ASC LIMIT $4"
                        )
                    } else {
                        concat!(
                            "SELECT ", $crate::message_columns!(), " FROM messages m JOIN users u ON u.id = m.sender_id \
                             WHERE m.chat_id = $1 AND m.id < $2 AND m.id > $3 ORDER BY m.id DESC LIMIT $4"
                        )
                    };
                    let found = sqlx::query(sql)
                        .bind(chat.0)
                        .bind(before.map_or(i64::MAX, |b| b.0))
                        .bind(after.map_or(0, |a| a.0))
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(map_err)?;
                    self.open_msgs(rows(found, message_row)?)
                }

                async fn messages_since(&self, user: UserId, since: i64, limit: i64) -> StoreResult<Vec<MessageRow>> {
                    let found = sqlx::query(concat!(
                        "SELECT ", $crate::message_columns!(), " FROM messages m JOIN users u ON u.id = m.sender_id \
                         WHERE m.chat_id IN (SELECT chat_id FROM chat_members WHERE user_id = $1) AND m.id > $2 \
                         ORDER BY m.id LIMIT $3"
                    ))
                    .bind(user.0)
                    .bind(since)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?;
                    self.open_msgs(rows(found, message_row)?)
                }

                async fn events_since(&self, user: UserId, since: i64, limit: i64) -> StoreResult<Vec<sova_types::Event>> {
                    let found = sqlx::query(
                        "SELECT id, payload FROM events WHERE id > $1 AND \
                         (target_user = $2 OR chat_id IN (SELECT chat_id FROM chat_members WHERE user_id = $2)) \
                         ORDER BY id LIMIT $3",
                    )
                    .bind(since)
                    .bind(user.0)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?;
                    found
                        .iter()
                        .map(|r| sova_store::event_from_rest(&self.open_text(&r.try_get::<String, _>(1).map_err(map_err)?)?))
                        .collect()
                }

                async fn reactions(&self, messages: &[MessageId], user: UserId) -> StoreResult<Vec<(MessageId, String, i64, bool)>> {
                    if messages.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut qb = sqlx::QueryBuilder::<$db>::new(
                        "SELECT message_id, emoji, COUNT(*), CAST(MAX(CASE WHEN user_id = ",
                    );
                    qb.push_bind(user.0);
                    qb.push(" THEN 1 ELSE 0 END) AS BIGINT), MIN(created_at) FROM reactions WHERE message_id IN (");
                    let mut sep = qb.separated(", ");
                    for m in messages {
                        sep.push_bind(m.0);
                    }
                    qb.push(") GROUP BY message_id, emoji");
                    let found = qb.build().fetch_all(&self.pool).await.map_err(map_err)?;
                    let mut out = found
                        .iter()
                        .map(|r| {
                            let me: i64 = r.try_get(3).map_err(map_err)?;
                            let first: i64 = r.try_get(4).map_err(map_err)?;
                            let emoji: String = r.try_get(1).map_err(map_err)?;
                            Ok((MessageId(r.try_get(0).map_err(map_err)?), emoji, r.try_get(2).map_err(map_err)?, me > 0, first))
                        })
                        .collect::<StoreResult<Vec<(MessageId, String, i64, bool, i64)>>>()?;
                    // Oldest emoji first; ties by bytes, so both databases agree whatever their collation.
                    out.sort_by(|a, b| (a.0, a.4, a.1.as_bytes()).cmp(&(b.0, b.4, b.1.as_bytes())));
                    Ok(out.into_iter().map(|(m, e, c, me, _)| (m, e, c, me)).collect())
                }

                async fn versions(&self, message: MessageId) -> StoreResult<Vec<(i64, String, i64)>> {
                    let found = sqlx::query("SELECT version, text, replaced_at FROM message_versions WHERE message_id = $1 ORDER BY version")
                        .bind(message.0)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(map_err)?;
                    found
                        .iter()
                        .map(|r| Ok((r.try_get(0).map_err(map_err)?, self.open_text(&r.try_get::<String, _>(1).map_err(map_err)?)?, r.try_get(2).map_err(map_err)?)))
                        .collect()
                }

                async fn pins(&self, chat: ChatId) -> StoreResult<Vec<MessageRow>> {
                    let found = sqlx::query(concat!(
                        "SELECT ", $crate::message_columns!(), " FROM messages m JOIN users u ON u.id = m.sender_id \
                         WHERE m.chat_id = $1 AND m.pinned_at IS NOT NULL ORDER BY m.pinned_at DESC LIMIT 100"
                    ))
                    .bind(chat.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?;
                    self.open_msgs(rows(found, message_row)?)
                }

                async fn unpublished(&self, limit: i64) -> StoreResult<Vec<sova_store::StoredEvent>> {
                    let published: Option<i64> = sqlx::query_scalar("SELECT value FROM counters WHERE name = 'published'")
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map_err)?;
                    let last = self.last_message_id().await?;
                    let Some(from) = published.filter(|p| *p < last) else { return Ok(Vec::new()) };
                    let upto = (from + limit).min(last);
                    let msgs = sqlx::query(concat!(
                        "SELECT ", $crate::message_columns!(), " FROM messages m JOIN users u ON u.id = m.sender_id \
                         WHERE m.id > $1 AND m.id <= $2 ORDER BY m.id"
                    ))
                    .bind(from)
                    .bind(upto)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?;
                    let evs = sqlx::query("SELECT id, chat_id, target_user, payload FROM events WHERE id > $1 AND id <= $2 ORDER BY id")
                        .bind(from)
                        .bind(upto)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(map_err)?;
                    let mut out = Vec::with_capacity(msgs.len() + evs.len());
                    for r in &msgs {
                        let row = self.open_msg(message_row(r).map_err(map_err)?)?;
                        out.push(sova_store::StoredEvent {
                            seq: row.id.0,
                            chat_id: Some(row.chat_id),
                            target_user: None,
                            event: sova_types::Event::NewMessage(sova_store::dto::message(row)),
                        });
                    }
                    for r in &evs {
                        let payload: String = self.open_text(&r.try_get::<String, _>(3).map_err(map_err)?)?;
                        let target: Option<i64> = r.try_get(2).map_err(map_err)?;
                        out.push(sova_store::StoredEvent {
                            seq: r.try_get(0).map_err(map_err)?,
                            chat_id: r.try_get::<Option<i64>, _>(1).map_err(map_err)?.map(ChatId),
                            target_user: target.map(UserId),
                            event: sova_store::event_from_rest(&payload)?,
                        });
                    }
                    out.sort_by_key(|e| e.seq);
                    Ok(out)
                }

                async fn reseal(&self, table: &str, after: i64, limit: i64) -> StoreResult<(i64, i64, i64)> {
                    // (select, update) per table; the update only applies if the row is unchanged.
                    let (select, update): (&'static str, &'static str) = match table {
                        "messages" => (
                            "SELECT id, CAST(0 AS BIGINT), text FROM messages WHERE id > $1 ORDER BY id LIMIT $2",
                            "UPDATE messages SET text = $1 WHERE id = $2 AND CAST($3 AS BIGINT) >= 0 AND text = $4",
                        ),
                        "versions" => (
                            "SELECT message_id, version, text FROM message_versions WHERE message_id > $1 AND message_id <= $1 + $2 ORDER BY message_id, version",
                            "UPDATE message_versions SET text = $1 WHERE message_id = $2 AND version = $3 AND text = $4",
                        ),
                        "events" => (
                            "SELECT id, CAST(0 AS BIGINT), payload FROM events WHERE id > $1 ORDER BY id LIMIT $2",
                            "UPDATE events SET payload = $1 WHERE id = $2 AND CAST($3 AS BIGINT) >= 0 AND payload = $4",
                        ),
                        "totp_secret" => (
                            "SELECT id, CAST(0 AS BIGINT), totp_secret FROM users WHERE id > $1 AND totp_secret IS NOT NULL ORDER BY id LIMIT $2",
                            "UPDATE users SET totp_secret = $1 WHERE id = $2 AND CAST($3 AS BIGINT) >= 0 AND totp_secret = $4",
                        ),
                        "totp_pending" => (
                            "SELECT id, CAST(0 AS BIGINT), totp_pending FROM users WHERE id > $1 AND totp_pending IS NOT NULL ORDER BY id LIMIT $2",
                            "UPDATE users SET totp_pending = $1 WHERE id = $2 AND CAST($3 AS BIGINT) >= 0 AND totp_pending = $4",
                        ),
                        _ => return Err(StoreError::Other(format!("unknown table {table}"))),
                    };
                    let found = sqlx::query(select).bind(after).bind(limit).fetch_all(&self.pool).await.map_err(map_err)?;
                    let mut changed = 0;
                    let mut next = if table == "versions" { after + limit } else { after };
                    for r in &found {
                        let id: i64 = r.try_get(0).map_err(map_err)?;
                        let sub: i64 = r.try_get(1).map_err(map_err)?;
                        let stored: String = r.try_get(2).map_err(map_err)?;
                        if table != "versions" {
                            next = id;
                        }
                        if self.cipher.is_current(&stored) {
                            continue;
                        }
                        let sealed = self.cipher.seal(&self.open_text(&stored)?);
                        let done = sqlx::query(update)
                            .bind(&sealed)
                            .bind(id)
                            .bind(sub)
                            .bind(&stored)
                            .execute(&self.pool)
                            .await
                            .map_err(map_err)?;
                        changed += done.rows_affected() as i64;
                    }
                    Ok((found.len() as i64, changed, next))
                }

                async fn count_after(&self, table: &str, after: i64) -> StoreResult<i64> {
                    let sql = match table {
                        "messages" => "SELECT COUNT(*) FROM messages WHERE id > $1",
                        "versions" => "SELECT COUNT(*) FROM message_versions WHERE message_id > $1",
                        "events" => "SELECT COUNT(*) FROM events WHERE id > $1",
                        "totp_secret" => "SELECT COUNT(*) FROM users WHERE id > $1 AND totp_secret IS NOT NULL",
                        "totp_pending" => "SELECT COUNT(*) FROM users WHERE id > $1 AND totp_pending IS NOT NULL",
                        _ => return Err(StoreError::Other(format!("unknown table {table}"))),
                    };
                    sqlx::query_scalar(sql).bind(after).fetch_one(&self.pool).await.map_err(map_err)
                }

                async fn checkpoint(&self, name: &str) -> StoreResult<i64> {
                    let v: Option<i64> = sqlx::query_scalar("SELECT value FROM counters WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map_err)?;
                    Ok(v.unwrap_or(0))
                }

                async fn set_checkpoint(&self, name: &str, value: i64) -> StoreResult<()> {
                    sqlx::query("INSERT INTO counters (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = $2")
                        .bind(name)
                        .bind(value)
                        .execute(&self.pool)
                        .await
                        .map_err(map_err)?;
                    Ok(())
                }

                async fn checkpoints_with_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, i64)>> {
                    // Prefixes are ours (no LIKE wildcards in them), but escape anyway.
                    let pattern = format!("{}%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
                    let found = sqlx::query("SELECT name, value FROM counters WHERE name LIKE $1 ESCAPE '\\' ORDER BY name")
                        .bind(pattern)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(map_err)?;
                    found.iter().map(|r| Ok((r.try_get(0).map_err(map_err)?, r.try_get(1).map_err(map_err)?))).collect()
                }

                async fn delete_checkpoint(&self, name: &str) -> StoreResult<()> {
                    sqlx::query("DELETE FROM counters WHERE name = $1")
                        .bind(name)
                        .execute(&self.pool)
                        .await
                        .map_err(map_err)?;
                    Ok(())
                }

                async fn probe_sealed(&self) -> StoreResult<()> {
                    let text: Option<String> = sqlx::query_scalar("SELECT text FROM messages WHERE text <> '' ORDER BY id DESC LIMIT 1")
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map_err)?;
                    let payload: Option<String> = sqlx::query_scalar("SELECT payload FROM events ORDER BY id DESC LIMIT 1")
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map_err)?;
                    for sealed in text.iter().chain(payload.iter()) {
                        self.open_text(sealed)?;
                    }
                    Ok(())
                }

                async fn mark_published(&self, seq: i64) -> StoreResult<()> {
                    sqlx::query("UPDATE counters SET value = $1 WHERE name = 'published' AND value < $1")
                        .bind(seq)
                        .execute(&self.pool)
                        .await
                        .map_err(map_err)?;
                    Ok(())
                }

                async fn last_message_id(&self) -> StoreResult<i64> {
                    sqlx::query_scalar("SELECT value FROM counters WHERE name = 'event'")
                        .fetch_one(&self.pool)
                        .await
                        .map_err(map_err)
                }
            }

            $crate::impl_writer!($store, $db);
        }
    };
}

mod writer;
