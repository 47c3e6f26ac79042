//! Writing a batch out: queued message rows (sealed) in multi-row inserts, then at
//! the end the events, every touched chat and read position in one statement
//! per table, the event counter, and the commit (one fsync for the whole batch).

use super::Writer;
use super::state::ChatState;
use crate::{Backend, Db, Result};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, QueryBuilder, Type};

/// Events per multi-row insert (6 parameters each).
const EVENT_CHUNK: usize = 200;
/// Rows per `UPDATE … FROM (VALUES …)` statement.
const UPDATE_CHUNK: usize = 100;

impl<B> Writer<B>
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
    /// Writes queued message rows (before anything reads or references them).
    pub(super) async fn flush(&mut self) -> Result<()> {
        if !self.pending.is_empty() {
            let mut rows = std::mem::take(&mut self.pending);
            for r in &mut rows {
                r.text = self.cipher.seal(&r.text);
            }
            B::insert_messages(&mut self.tx, &rows).await?;
            self.link_files(&rows).await?;
        }
        Ok(())
    }

    /// Records which chats the new messages shared their files with (access control).
    async fn link_files(&mut self, rows: &[sova_store::MessageRow]) -> Result<()> {
        let links: Vec<(i64, &str, i64)> = rows
            .iter()
            .flat_map(|r| {
                r.attachments
                    .iter()
                    .map(move |a| (r.id.0, a.file_id.as_str(), r.chat_id.0))
            })
            .collect();
        for chunk in links.chunks(EVENT_CHUNK) {
            let mut qb = QueryBuilder::<Db<B>>::new("INSERT INTO message_files (message_id, file_id, chat_id) ");
            qb.push_values(chunk, |mut b, (message, file, chat)| {
                b.push_bind(*message).push_bind(file.to_string()).push_bind(*chat);
            });
            qb.push(" ON CONFLICT DO NOTHING");
            qb.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Writes the batch's rows and state, advances the counter, commits.
    pub(super) async fn finish(mut self) -> Result<()> {
        self.flush().await?;
        self.write_events().await?;
        self.write_chats().await?;
        self.write_reads().await?;
        if self.next - 1 != self.start {
            sqlx::query("UPDATE counters SET value = $1 WHERE name = 'event'")
                .bind(self.next - 1)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(self.tx.commit().await?)
    }

    async fn write_events(&mut self) -> Result<()> {
        let now = sova_types::time::now_micros();
        for chunk in self.stored.chunks(EVENT_CHUNK) {
            let mut qb = QueryBuilder::<Db<B>>::new(
                "INSERT INTO events (id, chat_id, target_user, payload, created_at, message_id) ",
            );
            let sealed: Vec<String> = chunk
                .iter()
                .map(|(e, _)| self.cipher.seal(&sova_store::event_at_rest(&e.event)))
                .collect();
            qb.push_values(chunk.iter().zip(sealed), |mut b, ((e, about), sealed)| {
                b.push_bind(e.seq)
                    .push_bind(e.chat_id.map(|c| c.0))
                    .push_bind(e.target_user.map(|u| u.0))
                    .push_bind(sealed)
                    .push_bind(now)
                    .push_bind(*about);
            });
            qb.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// One statement per chunk of touched chats, whatever their number.
    async fn write_chats(&mut self) -> Result<()> {
        let dirty: Vec<(i64, &ChatState)> = self
            .chats
            .iter()
            .filter_map(|(id, st)| st.as_ref().filter(|st| st.dirty).map(|st| (*id, st)))
            .collect();
        for chunk in dirty.chunks(UPDATE_CHUNK) {
            let mut qb =
                QueryBuilder::<Db<B>>::new("WITH v(id, last_seq, last_message_id, member_count, name) AS (VALUES ");
            for (i, (id, st)) in chunk.iter().enumerate() {
                if i > 0 {
                    qb.push(", ");
                }
                qb.push("(CAST(")
                    .push_bind(*id)
                    .push(" AS BIGINT), CAST(")
                    .push_bind(st.row.last_seq);
                qb.push(" AS BIGINT), CAST(")
                    .push_bind(st.last_message_id)
                    .push(" AS BIGINT), CAST(");
                qb.push_bind(st.row.member_count)
                    .push(" AS BIGINT), CAST(")
                    .push_bind(st.row.name.clone())
                    .push(" AS TEXT))");
            }
            qb.push(
                ") UPDATE chats SET last_seq = v.last_seq, last_message_id = v.last_message_id, \
                 member_count = v.member_count, name = v.name FROM v WHERE chats.id = v.id",
            );
            qb.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// One statement per chunk of changed read positions.
    async fn write_reads(&mut self) -> Result<()> {
        let reads: Vec<(i64, i64, i64)> = self
            .dirty_members
            .iter()
            .filter_map(|key| match self.members.get(key) {
                Some(Some(m)) => Some((key.0, key.1, m.last_read_seq)),
                _ => None,
            })
            .collect();
        for chunk in reads.chunks(UPDATE_CHUNK) {
            let mut qb = QueryBuilder::<Db<B>>::new("WITH v(chat_id, user_id, seq) AS (VALUES ");
            for (i, (chat, user, seq)) in chunk.iter().enumerate() {
                if i > 0 {
                    qb.push(", ");
                }
                qb.push("(CAST(")
                    .push_bind(*chat)
                    .push(" AS BIGINT), CAST(")
                    .push_bind(*user);
                qb.push(" AS BIGINT), CAST(").push_bind(*seq).push(" AS BIGINT))");
            }
            qb.push(
                ") UPDATE chat_members SET last_read_seq = v.seq FROM v \
                 WHERE chat_members.chat_id = v.chat_id AND chat_members.user_id = v.user_id",
            );
            qb.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }
}
