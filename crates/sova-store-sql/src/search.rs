//! `SearchStore`: the blind index tables (`search_docs`, `search_postings`) and
//! its state in `counters` (`search.position`, `search.key`, `search.docs`,
//! `search.words`). A batch moves the position with a compare-and-set in the
//! transaction that writes its tokens, so two indexers (two instances, or the
//! server and `sova admin reindex`) never apply the same range twice.

use crate::store::done;
use crate::{Backend, Db, Result, SqlStore, rows};
use async_trait::async_trait;
use sova_store::{
    FileRow, MessageRow, Posting, SearchBatch, SearchChanges, SearchFilter, SearchState, SearchStore, StoreResult,
};
use sova_types::{ChatId, Event, MessageId, UserId};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, QueryBuilder, Row, Transaction, Type};

/// Rows per multi-row insert (4 parameters each: far below both databases' limits).
const INSERT_ROWS: usize = 1000;
/// Ids per `IN (…)` list.
const ID_CHUNK: usize = 500;

const STATE_NAMES: [&str; 4] = ["search.position", "search.key", "search.docs", "search.words"];

#[async_trait]
impl<B> SearchStore for SqlStore<B>
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
    Option<i64>: for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    Option<String>: for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> Option<&'a str>: Encode<'a, Db<B>>,
{
    async fn search_state(&self) -> StoreResult<SearchState> {
        let mut v = [0i64; 4];
        for (i, name) in STATE_NAMES.iter().enumerate() {
            v[i] = done::<B, _>(self.counter(name).await)?;
        }
        Ok(SearchState {
            position: v[0],
            key: v[1],
            docs: v[2],
            words: v[3],
        })
    }

    async fn search_changes(&self, after: i64, limit: i64) -> StoreResult<SearchChanges> {
        done::<B, _>(self.changes(after, limit).await)
    }

    async fn apply_search(&self, batch: &SearchBatch) -> StoreResult<bool> {
        crate::retry::run::<B, _, _, _>(|| async {
            let mut tx = B::begin_plain(&self.pool).await?;
            let applied = apply::<B>(&mut tx, batch).await?;
            if applied {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            Ok(applied)
        })
        .await
    }

    async fn reset_search(&self, key: i64) -> StoreResult<()> {
        crate::retry::run::<B, _, _, _>(|| async {
            let mut tx = B::begin_plain(&self.pool).await?;
            sqlx::query("DELETE FROM search_postings").execute(&mut *tx).await?;
            sqlx::query("DELETE FROM search_docs").execute(&mut *tx).await?;
            for (name, value) in STATE_NAMES.iter().zip([0, key, 0, 0]) {
                sqlx::query(
                    "INSERT INTO counters (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = $2",
                )
                .bind(*name)
                .bind(value)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn search_postings(&self, tokens: &[Vec<u8>], f: &SearchFilter) -> StoreResult<Vec<Posting>> {
        done::<B, _>(self.postings(tokens, f).await)
    }

    async fn token_frequencies(&self, tokens: &[Vec<u8>]) -> StoreResult<Vec<i64>> {
        let mut out = Vec::with_capacity(tokens.len());
        for t in tokens {
            let r = sqlx::query("SELECT COUNT(*) FROM search_postings WHERE token = $1")
                .bind(t.as_slice())
                .fetch_one(&self.pool)
                .await
                .map_err(B::classify)?;
            out.push(r.try_get::<i64, _>(0).map_err(B::classify)?);
        }
        Ok(out)
    }

    async fn messages_by_ids(&self, ids: &[MessageId]) -> StoreResult<Vec<MessageRow>> {
        done::<B, _>(self.rows_by_ids(ids).await)
    }

    async fn file_by_id(&self, id: &str) -> StoreResult<Option<FileRow>> {
        done::<B, _>(self.file_row_by_id(id).await)
    }

    async fn search_progress(&self, position: i64) -> StoreResult<(i64, i64)> {
        let r = sqlx::query("SELECT (SELECT COUNT(*) FROM messages WHERE id <= $1), (SELECT COUNT(*) FROM messages)")
            .bind(position)
            .fetch_one(&self.pool)
            .await
            .map_err(B::classify)?;
        Ok((r.try_get(0).map_err(B::classify)?, r.try_get(1).map_err(B::classify)?))
    }
}

/// Writes a batch if the index is still where it was read; false otherwise.
async fn apply<B>(tx: &mut Transaction<'static, Db<B>>, b: &SearchBatch) -> Result<bool>
where
    B: Backend,
    for<'c> &'c mut <Db<B> as Database>::Connection: Executor<'c, Database = Db<B>>,
    <Db<B> as Database>::Arguments: IntoArguments<Db<B>>,
    usize: ColumnIndex<<Db<B> as Database>::Row>,
    i64: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> &'a str: Type<Db<B>> + Encode<'a, Db<B>>,
    String: Type<Db<B>>,
    Vec<u8>: Type<Db<B>> + for<'q> Encode<'q, Db<B>>,
    Option<String>: for<'q> Encode<'q, Db<B>>,
{
    // The compare-and-set comes first: on PostgreSQL it locks the position row, so
    // a concurrent indexer waits here and then finds the position moved.
    let moved = sqlx::query(
        "UPDATE counters SET value = $1 WHERE name = 'search.position' AND value = $2 \
         AND EXISTS (SELECT 1 FROM counters k WHERE k.name = 'search.key' AND k.value = $3)",
    )
    .bind(b.to)
    .bind(b.from)
    .bind(b.key)
    .execute(&mut **tx)
    .await?;
    if B::rows_affected(&moved) != 1 {
        return Ok(false);
    }
    let (mut docs, mut words) = (0i64, 0i64);
    for chunk in b.replace.chunks(ID_CHUNK) {
        let mut qb = QueryBuilder::<Db<B>>::new(
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(length), 0) AS BIGINT) FROM search_docs WHERE message_id IN (",
        );
        in_list::<B>(&mut qb, chunk);
        let r = qb.build().fetch_one(&mut **tx).await?;
        docs -= r.try_get::<i64, _>(0)?;
        words -= r.try_get::<i64, _>(1)?;
        for table in ["search_postings", "search_docs"] {
            let mut qb = QueryBuilder::<Db<B>>::new(format!("DELETE FROM {table} WHERE message_id IN ("));
            in_list::<B>(&mut qb, chunk);
            qb.build().execute(&mut **tx).await?;
        }
    }
    for chunk in b.docs.chunks(INSERT_ROWS / 8) {
        let mut qb = QueryBuilder::<Db<B>>::new(
            "INSERT INTO search_docs (message_id, slot, chat_id, sender_id, file_id, created_at, length, has_files) ",
        );
        qb.push_values(chunk, |mut row, d| {
            row.push_bind(d.message_id.0)
                .push_bind(d.slot)
                .push_bind(d.chat_id.0)
                .push_bind(d.sender_id.0)
                .push_bind(d.file_id.clone())
                .push_bind(d.created_at)
                .push_bind(d.length)
                .push_bind(i64::from(d.has_files));
        });
        qb.build().execute(&mut **tx).await?;
        docs += chunk.len() as i64;
        words += chunk.iter().map(|d| d.length).sum::<i64>();
    }
    let postings: Vec<(&[u8], i64, i64, i64)> = b
        .docs
        .iter()
        .flat_map(|d| {
            d.tokens
                .iter()
                .map(move |(t, n)| (t.as_slice(), d.message_id.0, d.slot, *n))
        })
        .collect();
    for chunk in postings.chunks(INSERT_ROWS) {
        let mut qb = QueryBuilder::<Db<B>>::new("INSERT INTO search_postings (token, message_id, slot, tf) ");
        qb.push_values(chunk, |mut row, (t, m, s, n)| {
            row.push_bind(t.to_vec()).push_bind(*m).push_bind(*s).push_bind(*n);
        });
        qb.build().execute(&mut **tx).await?;
    }
    for (name, delta) in [("search.docs", docs), ("search.words", words)] {
        sqlx::query("UPDATE counters SET value = value + $1 WHERE name = $2")
            .bind(delta)
            .bind(name)
            .execute(&mut **tx)
            .await?;
    }
    Ok(true)
}

fn in_list<B: Backend>(qb: &mut QueryBuilder<Db<B>>, ids: &[MessageId])
where
    i64: Type<Db<B>> + for<'q> Encode<'q, Db<B>>,
{
    let mut sep = qb.separated(", ");
    for id in ids {
        sep.push_bind(id.0);
    }
    qb.push(")");
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
    Option<i64>: for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    Option<String>: for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> Option<&'a str>: Encode<'a, Db<B>>,
{
    /// New messages are their own events (`messages.id` is the seq); edits and
    /// deletes are `events` rows whose sealed payload names the message.
    async fn changes(&self, after: i64, limit: i64) -> Result<SearchChanges> {
        let sent = sqlx::query("SELECT id FROM messages WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let events =
            sqlx::query("SELECT id, payload FROM events WHERE id > $1 AND chat_id IS NOT NULL ORDER BY id LIMIT $2")
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        let mut seqs: Vec<(i64, Option<i64>)> = Vec::with_capacity(sent.len() + events.len());
        for r in &sent {
            let id: i64 = r.try_get(0)?;
            seqs.push((id, Some(id)));
        }
        for r in &events {
            let seq: i64 = r.try_get(0)?;
            let payload: String = r.try_get(1)?;
            let message = match sova_store::event_from_rest(&self.open_text(&payload)?)? {
                Event::MessageEdited { message_id, .. } | Event::MessageDeleted { message_id, .. } => {
                    Some(message_id.0)
                }
                _ => None,
            };
            seqs.push((seq, message));
        }
        seqs.sort_unstable();
        seqs.truncate(usize::try_from(limit.max(1)).unwrap_or(1));
        let position = seqs.last().map_or(after, |s| s.0);
        let mut ids: Vec<MessageId> = seqs.iter().filter_map(|s| s.1).map(MessageId).collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(SearchChanges {
            messages: self.rows_by_ids(&ids).await?,
            position,
        })
    }

    async fn rows_by_ids(&self, ids: &[MessageId]) -> Result<Vec<MessageRow>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ID_CHUNK) {
            let mut qb = QueryBuilder::<Db<B>>::new(format!(
                "SELECT {} FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.id IN (",
                rows::MESSAGE_COLUMNS
            ));
            in_list::<B>(&mut qb, chunk);
            let found = qb.build().fetch_all(&self.pool).await?;
            out.extend(self.open_msgs(rows::all(&found, rows::message)?)?);
        }
        out.sort_by_key(|m| m.id);
        Ok(out)
    }

    async fn file_row_by_id(&self, id: &str) -> Result<Option<FileRow>> {
        let r = sqlx::query(
            "SELECT id, uploader_id, name, mime, size, sha256, created_at, width, height, blurhash FROM files WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.map(|r| crate::files::file_row(&r)).transpose()?)
    }

    async fn postings(&self, tokens: &[Vec<u8>], f: &SearchFilter) -> Result<Vec<Posting>> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<Db<B>>::new(
            "SELECT d.message_id, d.slot, d.chat_id, d.file_id, d.created_at, d.length, p.token, p.tf \
             FROM search_postings p \
             JOIN search_docs d ON d.message_id = p.message_id AND d.slot = p.slot \
             JOIN chat_members cm ON cm.chat_id = d.chat_id AND cm.user_id = ",
        );
        qb.push_bind(f.user.0);
        qb.push(" JOIN chats c ON c.id = d.chat_id AND c.deleted_at IS NULL WHERE p.token IN (");
        let mut sep = qb.separated(", ");
        for t in tokens {
            sep.push_bind(t.clone());
        }
        qb.push(")");
        let clauses: [(&str, Option<i64>); 6] = [
            (" AND d.chat_id = ", f.chat.map(|c: ChatId| c.0)),
            (" AND d.sender_id = ", f.sender.map(|u: UserId| u.0)),
            (" AND d.message_id < ", f.before_id.map(|m| m.0)),
            (" AND d.message_id > ", f.after_id.map(|m| m.0)),
            (" AND d.created_at < ", f.before_at),
            (" AND d.created_at > ", f.after_at),
        ];
        for (sql, value) in clauses {
            if let Some(v) = value {
                qb.push(sql);
                qb.push_bind(v);
            }
        }
        if f.has_files {
            qb.push(" AND d.has_files = 1");
        }
        qb.push(" ORDER BY d.message_id DESC, d.slot LIMIT ");
        qb.push_bind(f.max_rows);
        let found = qb.build().fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(found.len());
        for r in &found {
            out.push(Posting {
                message_id: MessageId(r.try_get(0)?),
                slot: r.try_get(1)?,
                chat_id: ChatId(r.try_get(2)?),
                file_id: r.try_get(3)?,
                created_at: r.try_get(4)?,
                length: r.try_get(5)?,
                token: r.try_get(6)?,
                tf: r.try_get(7)?,
            });
        }
        Ok(out)
    }
}
