//! Chats, their members and invite links (reads and the few writes that emit no
//! events; event-emitting changes go through the batch writer).

use crate::store::done;
use crate::users::join_quietly;
use crate::{Backend, Db, Result, SqlStore, rows};
use async_trait::async_trait;
use sova_store::{ChatKind, ChatRow, ChatStore, InviteRow, MemberRow, MyChat, Role, StoreResult};
use sova_types::{ChatId, UserId};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, QueryBuilder, Row, Type};

#[async_trait]
impl<B> ChatStore for SqlStore<B>
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
    async fn ensure_chat(&self, slug: &str, kind: ChatKind, name: &str, now: i64) -> StoreResult<ChatRow> {
        done::<B, _>(self.ensure(slug, kind, name, now).await)
    }

    async fn chat(&self, id: ChatId) -> StoreResult<Option<ChatRow>> {
        let r = sqlx::query(rows::select_chats("", "WHERE c.id = $1 AND c.deleted_at IS NULL"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(B::classify)?;
        r.map(|r| rows::chat(&r)).transpose().map_err(B::classify)
    }

    async fn add_member(&self, chat: ChatId, user: UserId, role: &str, now: i64) -> StoreResult<()> {
        let role = Role::parse(role).unwrap_or(Role::Member);
        crate::retry::run::<B, _, _, _>(|| self.join(chat, user, role, now)).await
    }

    async fn set_muted(&self, chat: ChatId, user: UserId, muted: bool) -> StoreResult<bool> {
        let r = sqlx::query("UPDATE chat_members SET muted = $1 WHERE chat_id = $2 AND user_id = $3")
            .bind(i64::from(muted))
            .bind(chat.0)
            .bind(user.0)
            .execute(&self.pool)
            .await
            .map_err(B::classify)?;
        Ok(B::rows_affected(&r) > 0)
    }

    async fn is_member(&self, chat: ChatId, user: UserId) -> StoreResult<bool> {
        let r = sqlx::query("SELECT CAST(1 AS BIGINT) FROM chat_members WHERE chat_id = $1 AND user_id = $2")
            .bind(chat.0)
            .bind(user.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(B::classify)?;
        Ok(r.is_some())
    }

    async fn member(&self, chat: ChatId, user: UserId) -> StoreResult<Option<MemberRow>> {
        let r = sqlx::query(rows::select_members("WHERE cm.chat_id = $1 AND cm.user_id = $2"))
            .bind(chat.0)
            .bind(user.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(B::classify)?;
        r.map(|r| rows::member(&r)).transpose().map_err(B::classify)
    }

    async fn chats_of(&self, user: UserId) -> StoreResult<Vec<ChatId>> {
        let found = sqlx::query("SELECT chat_id FROM chat_members WHERE user_id = $1 ORDER BY chat_id")
            .bind(user.0)
            .fetch_all(&self.pool)
            .await
            .map_err(B::classify)?;
        found
            .iter()
            .map(|r| r.try_get(0).map(ChatId))
            .collect::<std::result::Result<_, _>>()
            .map_err(B::classify)
    }

    async fn small_chats_of(&self, user: UserId, max_members: i64) -> StoreResult<Vec<ChatId>> {
        let found = sqlx::query(
            "SELECT c.id FROM chat_members cm JOIN chats c ON c.id = cm.chat_id \
             WHERE cm.user_id = $1 AND c.deleted_at IS NULL AND c.kind <> 'public' \
             AND (c.kind = 'private' OR c.member_count <= $2) ORDER BY c.id LIMIT 1000",
        )
        .bind(user.0)
        .bind(max_members)
        .fetch_all(&self.pool)
        .await
        .map_err(B::classify)?;
        found
            .iter()
            .map(|r| r.try_get(0).map(ChatId))
            .collect::<std::result::Result<_, _>>()
            .map_err(B::classify)
    }

    async fn my_chats(&self, user: UserId, before: Option<(i64, ChatId)>, limit: i64) -> StoreResult<Vec<MyChat>> {
        done::<B, _>(self.my_chat_rows(user, before, limit).await)
    }

    async fn members(&self, chat: ChatId, after: Option<UserId>, limit: i64) -> StoreResult<Vec<MemberRow>> {
        let found = sqlx::query(rows::select_members(
            "WHERE cm.chat_id = $1 AND cm.user_id > $2 ORDER BY cm.user_id LIMIT $3",
        ))
        .bind(chat.0)
        .bind(after.map_or(0, |u| u.0))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(B::classify)?;
        rows::all(&found, rows::member).map_err(B::classify)
    }

    async fn members_of_chats(
        &self,
        user: UserId,
        chats: &[ChatId],
        per_chat: i64,
    ) -> StoreResult<Vec<(MemberRow, i64)>> {
        if chats.is_empty() || per_chat < 1 {
            return Ok(Vec::new());
        }
        // One placeholder per chat id (values are bound, only `$n` is formatted in);
        // the window keeps the first `per_chat` members of each chat.
        let list: Vec<String> = (0..chats.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT * FROM (SELECT {cols}, c.member_count, \
             ROW_NUMBER() OVER (PARTITION BY cm.chat_id ORDER BY cm.user_id) AS rn \
             FROM chat_members cm JOIN users u ON u.id = cm.user_id JOIN chats c ON c.id = cm.chat_id \
             WHERE cm.chat_id IN ({list}) AND c.deleted_at IS NULL AND EXISTS \
             (SELECT 1 FROM chat_members me WHERE me.chat_id = cm.chat_id AND me.user_id = $1)) t \
             WHERE rn <= $2 ORDER BY chat_id, user_id",
            cols = rows::MEMBER_COLUMNS,
            list = list.join(", "),
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.0).bind(per_chat);
        for chat in chats {
            query = query.bind(chat.0);
        }
        let found = query.fetch_all(&self.pool).await.map_err(B::classify)?;
        found
            .iter()
            .map(|r| Ok((rows::member(r)?, r.try_get::<i64, _>(7)?)))
            .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
            .map_err(B::classify)
    }

    async fn create_invite(&self, i: InviteRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO invites (code, chat_id, created_by, created_at, expires_at, max_uses, uses) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(&i.code)
        .bind(i.chat_id.0)
        .bind(i.created_by.0)
        .bind(i.created_at)
        .bind(i.expires_at)
        .bind(i.max_uses)
        .execute(&self.pool)
        .await
        .map_err(B::classify)?;
        Ok(())
    }

    async fn invite(&self, code: &str) -> StoreResult<Option<InviteRow>> {
        let r = sqlx::query(
            "SELECT code, chat_id, created_by, created_at, expires_at, max_uses, uses, revoked_at \
             FROM invites WHERE code = $1",
        )
        .bind(code)
        .fetch_optional(&self.pool)
        .await
        .map_err(B::classify)?;
        r.map(|r| rows::invite(&r)).transpose().map_err(B::classify)
    }

    async fn invites(&self, chat: ChatId) -> StoreResult<Vec<InviteRow>> {
        let found = sqlx::query(
            "SELECT code, chat_id, created_by, created_at, expires_at, max_uses, uses, revoked_at FROM invites \
             WHERE chat_id = $1 ORDER BY created_at DESC LIMIT 200",
        )
        .bind(chat.0)
        .fetch_all(&self.pool)
        .await
        .map_err(B::classify)?;
        rows::all(&found, rows::invite).map_err(B::classify)
    }

    async fn revoke_invite(&self, chat: ChatId, code: &str, now: i64) -> StoreResult<bool> {
        let r =
            sqlx::query("UPDATE invites SET revoked_at = $1 WHERE chat_id = $2 AND code = $3 AND revoked_at IS NULL")
                .bind(now)
                .bind(chat.0)
                .bind(code)
                .execute(&self.pool)
                .await
                .map_err(B::classify)?;
        Ok(B::rows_affected(&r) > 0)
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
    /// Creates the chat with `slug` unless it exists (a unique slug makes
    /// concurrent callers agree), then reads it.
    async fn ensure(&self, slug: &str, kind: ChatKind, name: &str, now: i64) -> Result<ChatRow> {
        sqlx::query(
            "INSERT INTO chats (kind, name, slug, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (slug) DO NOTHING",
        )
        .bind(kind.as_str())
        .bind(name)
        .bind(slug)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let r = sqlx::query(rows::select_chats("", "WHERE c.slug = $1"))
            .bind(slug)
            .fetch_one(&self.pool)
            .await?;
        Ok(rows::chat(&r)?)
    }

    /// One attempt at adding a member quietly, under the write lock (the batch
    /// writer also updates `member_count`).
    async fn join(&self, chat: ChatId, user: UserId, role: Role, now: i64) -> Result<()> {
        let (mut tx, _) = B::begin_write(&self.pool).await?;
        join_quietly::<B>(&mut tx, chat, user, role, now).await?;
        Ok(tx.commit().await?)
    }

    async fn my_chat_rows(&self, user: UserId, before: Option<(i64, ChatId)>, limit: i64) -> Result<Vec<MyChat>> {
        let (act, id) = before.map_or((i64::MAX, i64::MAX), |(a, c)| (a, c.0));
        let found = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {}, cm.role, cm.last_read_seq, c.last_message_id, cm.muted \
             FROM chat_members cm JOIN chats c ON c.id = cm.chat_id \
             WHERE cm.user_id = $1 AND c.deleted_at IS NULL \
             AND (c.last_message_id < $2 OR (c.last_message_id = $2 AND c.id < $3)) \
             ORDER BY c.last_message_id DESC, c.id DESC LIMIT $4",
            rows::CHAT_COLUMNS
        )))
        .bind(user.0)
        .bind(act)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(found.len());
        let mut last_ids = Vec::new();
        for r in &found {
            let chat = rows::chat(r)?;
            let role: String = r.try_get(7)?;
            let last_read_seq: i64 = r.try_get(8)?;
            let last_id: i64 = r.try_get(9)?;
            let muted: i64 = r.try_get(10)?;
            if last_id > 0 {
                last_ids.push(last_id);
            }
            out.push(MyChat {
                chat,
                role: Role::parse(&role).unwrap_or(Role::Member),
                last_read_seq,
                muted: muted != 0,
                last_message: None,
            });
        }
        if !last_ids.is_empty() {
            let mut qb = QueryBuilder::<Db<B>>::new(format!(
                "SELECT {} FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.id IN (",
                rows::MESSAGE_COLUMNS
            ));
            let mut sep = qb.separated(", ");
            for id in &last_ids {
                sep.push_bind(*id);
            }
            qb.push(")");
            let found = qb.build().fetch_all(&self.pool).await?;
            let msgs = self.open_msgs(rows::all(&found, rows::message)?)?;
            for c in &mut out {
                c.last_message = msgs.iter().find(|m| m.chat_id == c.chat.id).cloned();
            }
        }
        Ok(out)
    }
}
