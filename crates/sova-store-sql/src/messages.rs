//! `MessageStore`: message reads here; the batch commit (`writer`), events
//! (`events`), named checkpoints (`counters`) and key rotation (`reseal`) live in
//! their own modules and are only dispatched from this impl.

use crate::store::done;
use crate::{Backend, Db, Result, SqlStore, rows};
use async_trait::async_trait;
use sova_store::{Committed, MessageRow, MessageStore, PublicationGuard, StoreResult, StoredEvent, WriteOp};
use sova_types::{ChatId, MessageId, UserId};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, QueryBuilder, Row, Type};

#[async_trait]
impl<B> MessageStore for SqlStore<B>
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
    async fn lock_publication(&self) -> StoreResult<Option<Box<dyn PublicationGuard>>> {
        B::publication_lock(&self.pool).await.map_err(B::classify)
    }

    async fn commit(&self, ops: &[WriteOp]) -> StoreResult<Vec<Committed>> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        crate::retry::run::<B, _, _, _>(|| crate::writer::commit::<B>(&self.pool, &self.cipher, ops)).await
    }

    async fn message(&self, chat: ChatId, id: MessageId) -> StoreResult<Option<MessageRow>> {
        let r = sqlx::query(rows::select_messages("WHERE m.id = $1 AND m.chat_id = $2"))
            .bind(id.0)
            .bind(chat.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(B::classify)?;
        r.map(|r| rows::message(&r).map_err(B::classify).and_then(|m| self.open_msg(m)))
            .transpose()
    }

    async fn history(
        &self,
        chat: ChatId,
        before: Option<MessageId>,
        after: Option<MessageId>,
        limit: i64,
        ascending: bool,
    ) -> StoreResult<Vec<MessageRow>> {
        let tail = if ascending {
            "WHERE m.chat_id = $1 AND m.id < $2 AND m.id > $3 ORDER BY m.id ASC LIMIT $4"
        } else {
            "WHERE m.chat_id = $1 AND m.id < $2 AND m.id > $3 ORDER BY m.id DESC LIMIT $4"
        };
        let found = sqlx::query(rows::select_messages(tail))
            .bind(chat.0)
            .bind(before.map_or(i64::MAX, |b| b.0))
            .bind(after.map_or(0, |a| a.0))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(B::classify)?;
        self.open_msgs(rows::all(&found, rows::message).map_err(B::classify)?)
    }

    async fn messages_since(&self, user: UserId, since: i64, limit: i64) -> StoreResult<Vec<MessageRow>> {
        let found = sqlx::query(rows::select_messages(
            "WHERE m.chat_id IN (SELECT chat_id FROM chat_members WHERE user_id = $1) AND m.id > $2 \
             ORDER BY m.id LIMIT $3",
        ))
        .bind(user.0)
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(B::classify)?;
        self.open_msgs(rows::all(&found, rows::message).map_err(B::classify)?)
    }

    async fn events_since(&self, user: UserId, since: i64, limit: i64) -> StoreResult<Vec<sova_types::Event>> {
        done::<B, _>(self.event_rows(user, since, limit).await)
    }

    async fn reactions(
        &self,
        messages: &[MessageId],
        user: UserId,
    ) -> StoreResult<Vec<(MessageId, String, i64, bool)>> {
        done::<B, _>(self.reaction_counts(messages, user).await)
    }

    async fn versions(&self, message: MessageId) -> StoreResult<Vec<(i64, String, i64)>> {
        done::<B, _>(self.version_rows(message).await)
    }

    async fn pins(&self, chat: ChatId) -> StoreResult<Vec<MessageRow>> {
        let found = sqlx::query(rows::select_messages(
            "WHERE m.chat_id = $1 AND m.pinned_at IS NOT NULL ORDER BY m.pinned_at DESC LIMIT 100",
        ))
        .bind(chat.0)
        .fetch_all(&self.pool)
        .await
        .map_err(B::classify)?;
        self.open_msgs(rows::all(&found, rows::message).map_err(B::classify)?)
    }

    async fn last_message_id(&self) -> StoreResult<i64> {
        done::<B, _>(self.last_event_id().await)
    }

    async fn unpublished(&self, limit: i64) -> StoreResult<Vec<StoredEvent>> {
        done::<B, _>(self.unpublished_events(limit).await)
    }

    async fn mark_published(&self, seq: i64) -> StoreResult<()> {
        done::<B, _>(self.set_published(seq).await)
    }

    async fn reseal(&self, table: &str, after: i64, limit: i64) -> StoreResult<(i64, i64, i64)> {
        done::<B, _>(self.reseal_rows(table, after, limit).await)
    }

    async fn count_after(&self, table: &str, after: i64) -> StoreResult<i64> {
        done::<B, _>(self.count_rows_after(table, after).await)
    }

    async fn checkpoint(&self, name: &str) -> StoreResult<i64> {
        done::<B, _>(self.counter(name).await)
    }

    async fn set_checkpoint(&self, name: &str, value: i64) -> StoreResult<()> {
        done::<B, _>(self.set_counter(name, value).await)
    }

    async fn checkpoints_with_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, i64)>> {
        done::<B, _>(self.counters_with_prefix(prefix).await)
    }

    async fn delete_checkpoint(&self, name: &str) -> StoreResult<()> {
        done::<B, _>(self.delete_counter(name).await)
    }

    async fn probe_sealed(&self) -> StoreResult<()> {
        done::<B, _>(self.probe_newest_sealed().await)
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
    /// Reaction counts per (message, emoji), oldest emoji first.
    async fn reaction_counts(
        &self,
        messages: &[MessageId],
        user: UserId,
    ) -> Result<Vec<(MessageId, String, i64, bool)>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<Db<B>>::new("SELECT message_id, emoji, COUNT(*), CAST(MAX(CASE WHEN user_id = ");
        qb.push_bind(user.0);
        qb.push(" THEN 1 ELSE 0 END) AS BIGINT), MIN(created_at) FROM reactions WHERE message_id IN (");
        let mut sep = qb.separated(", ");
        for m in messages {
            sep.push_bind(m.0);
        }
        qb.push(") GROUP BY message_id, emoji");
        let found = qb.build().fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(found.len());
        for r in &found {
            let me: i64 = r.try_get(3)?;
            let first: i64 = r.try_get(4)?;
            let emoji: String = r.try_get(1)?;
            out.push((MessageId(r.try_get(0)?), emoji, r.try_get::<i64, _>(2)?, me > 0, first));
        }
        // Oldest emoji first; ties by bytes, so both databases agree whatever their collation.
        out.sort_by(|a, b| (a.0, a.4, a.1.as_bytes()).cmp(&(b.0, b.4, b.1.as_bytes())));
        Ok(out.into_iter().map(|(m, e, c, me, _)| (m, e, c, me)).collect())
    }

    async fn version_rows(&self, message: MessageId) -> Result<Vec<(i64, String, i64)>> {
        let found = sqlx::query(
            "SELECT version, text, replaced_at FROM message_versions WHERE message_id = $1 ORDER BY version",
        )
        .bind(message.0)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(found.len());
        for r in &found {
            let text: String = r.try_get(1)?;
            out.push((r.try_get(0)?, self.open_text(&text)?, r.try_get(2)?));
        }
        Ok(out)
    }
}
