//! Stored events: replay for a resuming user, and the publication watermark that
//! lets a new publisher fill the gap a crashed process left between commit and
//! publish. New messages are events too: their rows carry the event id.

use crate::{Backend, Db, Result, SqlStore, rows};
use sova_store::StoredEvent;
use sova_types::{ChatId, Event, UserId};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

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
    /// Events visible to `user` (their chats' or addressed to them) after `since`.
    pub(crate) async fn event_rows(&self, user: UserId, since: i64, limit: i64) -> Result<Vec<Event>> {
        let found = sqlx::query(
            "SELECT id, payload FROM events WHERE id > $1 AND \
             (target_user = $2 OR chat_id IN (SELECT chat_id FROM chat_members WHERE user_id = $2)) \
             ORDER BY id LIMIT $3",
        )
        .bind(since)
        .bind(user.0)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(found.len());
        for r in &found {
            let payload: String = r.try_get(1)?;
            out.push(sova_store::event_from_rest(&self.open_text(&payload)?)?);
        }
        Ok(out)
    }

    /// The event counter: the highest event id ever assigned.
    pub(crate) async fn last_event_id(&self) -> Result<i64> {
        let r = sqlx::query("SELECT value FROM counters WHERE name = 'event'")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get(0)?)
    }

    /// Moves the publication watermark forward to `seq` (never back).
    pub(crate) async fn set_published(&self, seq: i64) -> Result<()> {
        sqlx::query("UPDATE counters SET value = $1 WHERE name = 'published' AND value < $1")
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Committed events above the publication watermark, at most `limit` ids' worth.
    pub(crate) async fn unpublished_events(&self, limit: i64) -> Result<Vec<StoredEvent>> {
        let published = sqlx::query("SELECT value FROM counters WHERE name = 'published'")
            .fetch_optional(&self.pool)
            .await?;
        let published: Option<i64> = published.map(|r| r.try_get(0)).transpose()?;
        let last = self.last_event_id().await?;
        let Some(from) = published.filter(|p| *p < last) else {
            return Ok(Vec::new());
        };
        let upto = (from + limit).min(last);
        let msgs = sqlx::query(rows::select_messages("WHERE m.id > $1 AND m.id <= $2 ORDER BY m.id"))
            .bind(from)
            .bind(upto)
            .fetch_all(&self.pool)
            .await?;
        let evs =
            sqlx::query("SELECT id, chat_id, target_user, payload FROM events WHERE id > $1 AND id <= $2 ORDER BY id")
                .bind(from)
                .bind(upto)
                .fetch_all(&self.pool)
                .await?;
        let mut out = Vec::with_capacity(msgs.len() + evs.len());
        for r in &msgs {
            let row = self.open_msg(rows::message(r)?)?;
            out.push(StoredEvent {
                seq: row.id.0,
                chat_id: Some(row.chat_id),
                target_user: None,
                event: Event::NewMessage(sova_store::dto::message(row)),
            });
        }
        for r in &evs {
            let payload: String = r.try_get(3)?;
            let payload = self.open_text(&payload)?;
            out.push(StoredEvent {
                seq: r.try_get(0)?,
                chat_id: r.try_get::<Option<i64>, _>(1)?.map(ChatId),
                target_user: r.try_get::<Option<i64>, _>(2)?.map(UserId),
                event: sova_store::event_from_rest(&payload)?,
            });
        }
        out.sort_by_key(|e| e.seq);
        Ok(out)
    }
}
