//! Key rotation: re-encrypting sealed columns with the newest key, a page at a
//! time, and the start-up probe that the configured keys can read what is stored.

use crate::{Backend, Db, Result, SqlStore};
use sova_store::StoreError;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

/// (select, update) for one sealed column. The select yields (id, sub-id, stored
/// text); the update only applies if the row still holds the text that was read,
/// so a concurrent edit is never overwritten.
fn statements(table: &str) -> Option<(&'static str, &'static str)> {
    Some(match table {
        "messages" => (
            "SELECT id, CAST(0 AS BIGINT), text FROM messages WHERE id > $1 ORDER BY id LIMIT $2",
            "UPDATE messages SET text = $1 WHERE id = $2 AND CAST($3 AS BIGINT) >= 0 AND text = $4",
        ),
        "versions" => (
            "SELECT message_id, version, text FROM message_versions \
             WHERE message_id > $1 AND message_id <= $1 + $2 ORDER BY message_id, version",
            "UPDATE message_versions SET text = $1 WHERE message_id = $2 AND version = $3 AND text = $4",
        ),
        "events" => (
            "SELECT id, CAST(0 AS BIGINT), payload FROM events WHERE id > $1 ORDER BY id LIMIT $2",
            "UPDATE events SET payload = $1 WHERE id = $2 AND CAST($3 AS BIGINT) >= 0 AND payload = $4",
        ),
        "tasks" => (
            "SELECT id, CAST(0 AS BIGINT), content FROM tasks WHERE id > $1 ORDER BY id LIMIT $2",
            "UPDATE tasks SET content = $1 WHERE id = $2 AND CAST($3 AS BIGINT) >= 0 AND content = $4",
        ),
        "totp_secret" => (
            "SELECT id, CAST(0 AS BIGINT), totp_secret FROM users \
             WHERE id > $1 AND totp_secret IS NOT NULL ORDER BY id LIMIT $2",
            "UPDATE users SET totp_secret = $1 WHERE id = $2 AND CAST($3 AS BIGINT) >= 0 AND totp_secret = $4",
        ),
        "totp_pending" => (
            "SELECT id, CAST(0 AS BIGINT), totp_pending FROM users \
             WHERE id > $1 AND totp_pending IS NOT NULL ORDER BY id LIMIT $2",
            "UPDATE users SET totp_pending = $1 WHERE id = $2 AND CAST($3 AS BIGINT) >= 0 AND totp_pending = $4",
        ),
        _ => return None,
    })
}

fn unknown(table: &str) -> StoreError {
    StoreError::Other(format!("unknown table {table}"))
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
    /// Re-encrypts one page of `table` after `after`: (scanned, changed, next cursor).
    pub(crate) async fn reseal_rows(&self, table: &str, after: i64, limit: i64) -> Result<(i64, i64, i64)> {
        let (select, update) = statements(table).ok_or_else(|| unknown(table))?;
        let found = sqlx::query(select)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut changed = 0;
        // Versions page by message-id range (a message has several rows).
        let mut next = if table == "versions" { after + limit } else { after };
        for r in &found {
            let id: i64 = r.try_get(0)?;
            let sub: i64 = r.try_get(1)?;
            let stored: String = r.try_get(2)?;
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
                .await?;
            changed += B::rows_affected(&done) as i64;
        }
        Ok((found.len() as i64, changed, next))
    }

    /// Rows of `table` after cursor `after`.
    pub(crate) async fn count_rows_after(&self, table: &str, after: i64) -> Result<i64> {
        let sql = match table {
            "messages" => "SELECT COUNT(*) FROM messages WHERE id > $1",
            "versions" => "SELECT COUNT(*) FROM message_versions WHERE message_id > $1",
            "events" => "SELECT COUNT(*) FROM events WHERE id > $1",
            "tasks" => "SELECT COUNT(*) FROM tasks WHERE id > $1",
            "totp_secret" => "SELECT COUNT(*) FROM users WHERE id > $1 AND totp_secret IS NOT NULL",
            "totp_pending" => "SELECT COUNT(*) FROM users WHERE id > $1 AND totp_pending IS NOT NULL",
            _ => return Err(unknown(table).into()),
        };
        let r = sqlx::query(sql).bind(after).fetch_one(&self.pool).await?;
        Ok(r.try_get(0)?)
    }

    /// Unseals the newest message text and event: an error means the configured
    /// keys cannot read what the database holds.
    pub(crate) async fn probe_newest_sealed(&self) -> Result<()> {
        let text = sqlx::query("SELECT text FROM messages WHERE text <> '' ORDER BY id DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        let payload = sqlx::query("SELECT payload FROM events ORDER BY id DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        for r in text.iter().chain(payload.iter()) {
            let sealed: String = r.try_get(0)?;
            self.open_text(&sealed)?;
        }
        Ok(())
    }
}
