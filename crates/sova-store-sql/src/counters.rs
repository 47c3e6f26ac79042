//! Named checkpoints: resumable positions of background work, kept in the
//! `counters` table beside the event counter (whose rows they never touch).

use crate::{Backend, Db, Result, SqlStore};
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
    /// The value named `name` (0 when unset).
    pub(crate) async fn counter(&self, name: &str) -> Result<i64> {
        let r = sqlx::query("SELECT value FROM counters WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.map(|r| r.try_get(0)).transpose()?.unwrap_or(0))
    }

    /// Sets (inserting or replacing) the value named `name`.
    pub(crate) async fn set_counter(&self, name: &str, value: i64) -> Result<()> {
        sqlx::query("INSERT INTO counters (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = $2")
            .bind(name)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every (name, value) whose name starts with `prefix`, by name.
    pub(crate) async fn counters_with_prefix(&self, prefix: &str) -> Result<Vec<(String, i64)>> {
        // Prefixes are ours (no LIKE wildcards in them), but escape anyway.
        let pattern = format!(
            "{}%",
            prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
        );
        let found = sqlx::query("SELECT name, value FROM counters WHERE name LIKE $1 ESCAPE '\\' ORDER BY name")
            .bind(pattern)
            .fetch_all(&self.pool)
            .await?;
        Ok(found
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<std::result::Result<_, sqlx::Error>>()?)
    }

    /// Removes the value named `name` (no error when absent).
    pub(crate) async fn delete_counter(&self, name: &str) -> Result<()> {
        sqlx::query("DELETE FROM counters WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
