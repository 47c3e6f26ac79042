//! `FileStore`: uploaded files' rows and who may read them. Access is one query:
//! the uploader, or a member of a live chat where a message carrying the file was
//! posted (`message_files`, written by the batch writer with the message).

use crate::store::done;
use crate::{Backend, Db, Result, SqlStore};
use async_trait::async_trait;
use sova_store::{FileRow, FileStore, StoreResult, UploadRow};
use sova_types::UserId;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

/// Columns of a file row (`f`), in `file_row` order.
const FILE_COLUMNS: &str =
    "f.id, f.uploader_id, f.name, f.mime, f.size, f.sha256, f.created_at, f.width, f.height, f.blurhash";

pub(crate) fn file_row<R: Row>(r: &R) -> std::result::Result<FileRow, sqlx::Error>
where
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    String: Type<R::Database> + for<'r> Decode<'r, R::Database>,
{
    Ok(FileRow {
        id: r.try_get(0)?,
        uploader: UserId(r.try_get(1)?),
        name: r.try_get(2)?,
        mime: r.try_get(3)?,
        size: r.try_get(4)?,
        sha256: r.try_get(5)?,
        created_at: r.try_get(6)?,
        width: r.try_get(7)?,
        height: r.try_get(8)?,
        blurhash: r.try_get(9)?,
    })
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
    Option<i64>: for<'q> Encode<'q, Db<B>>,
    Option<String>: for<'q> Encode<'q, Db<B>>,
{
    async fn insert_file_row(&self, f: &FileRow, quota: Option<i64>) -> Result<bool> {
        // The quota check and the insert are one statement, so two uploads that
        // finish together on SQLite (one writer) cannot both slip under it.
        let done = sqlx::query(
            "INSERT INTO files (id, uploader_id, name, mime, size, sha256, created_at, width, height, blurhash) \
             SELECT CAST($1 AS TEXT), CAST($2 AS BIGINT), CAST($3 AS TEXT), CAST($4 AS TEXT), CAST($5 AS BIGINT), \
             CAST($6 AS TEXT), CAST($7 AS BIGINT), CAST($8 AS BIGINT), CAST($9 AS BIGINT), CAST($10 AS TEXT) \
             WHERE CAST($11 AS BIGINT) < 0 \
                OR (SELECT COALESCE(SUM(size), 0) FROM files WHERE uploader_id = $2) + $5 <= CAST($11 AS BIGINT)",
        )
        .bind(&f.id)
        .bind(f.uploader.0)
        .bind(&f.name)
        .bind(&f.mime)
        .bind(f.size)
        .bind(&f.sha256)
        .bind(f.created_at)
        .bind(f.width)
        .bind(f.height)
        .bind(f.blurhash.clone())
        .bind(quota.unwrap_or(-1))
        .execute(&self.pool)
        .await?;
        Ok(B::rows_affected(&done) == 1)
    }

    async fn visible_file_row(&self, id: &str, user: UserId) -> Result<Option<FileRow>> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files f WHERE f.id = $1 AND (f.uploader_id = $2 OR EXISTS ( \
             SELECT 1 FROM message_files mf \
             JOIN chat_members cm ON cm.chat_id = mf.chat_id AND cm.user_id = $2 \
             JOIN chats c ON c.id = mf.chat_id AND c.deleted_at IS NULL \
             WHERE mf.file_id = f.id))"
        );
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(user.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.map(|r| file_row(&r)).transpose()?)
    }

    async fn delete_file_row(&self, id: &str, uploader: UserId) -> Result<Option<FileRow>> {
        let sql = format!(
            "DELETE FROM files WHERE id = $1 AND uploader_id = $2 RETURNING {}",
            FILE_COLUMNS.replace("f.", "")
        );
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(uploader.0)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = r else { return Ok(None) };
        sqlx::query("DELETE FROM message_files WHERE file_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(Some(file_row(&r)?))
    }

    async fn media_pending_rows(&self, limit: i64) -> Result<Vec<FileRow>> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files f WHERE f.blurhash IS NULL \
             AND f.mime IN ('image/png', 'image/jpeg', 'image/webp', 'image/gif') \
             ORDER BY f.created_at, f.id LIMIT $1"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(file_row).collect::<std::result::Result<_, _>>()?)
    }

    async fn set_media_row(&self, id: &str, size: Option<(i64, i64)>, blurhash: &str) -> Result<()> {
        sqlx::query(
            "UPDATE files SET width = COALESCE(CAST($2 AS BIGINT), width), \
             height = COALESCE(CAST($3 AS BIGINT), height), blurhash = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(size.map(|s| s.0))
        .bind(size.map(|s| s.1))
        .bind(blurhash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn create_upload_row(&self, u: &UploadRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO uploads (id, uploader_id, name, mime, length, received, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&u.id)
        .bind(u.uploader.0)
        .bind(&u.name)
        .bind(&u.mime)
        .bind(u.length)
        .bind(u.received)
        .bind(u.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn upload_row(&self, id: &str, user: UserId) -> Result<Option<UploadRow>> {
        let r = sqlx::query(
            "SELECT id, uploader_id, name, mime, length, received, created_at FROM uploads \
             WHERE id = $1 AND uploader_id = $2",
        )
        .bind(id)
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = r else { return Ok(None) };
        Ok(Some(UploadRow {
            id: r.try_get(0)?,
            uploader: UserId(r.try_get(1)?),
            name: r.try_get(2)?,
            mime: r.try_get(3)?,
            length: r.try_get(4)?,
            received: r.try_get(5)?,
            created_at: r.try_get(6)?,
        }))
    }

    async fn advance_upload_row(&self, id: &str, from: i64, to: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE uploads SET received = $1 WHERE id = $2 AND received = $3")
            .bind(to)
            .bind(id)
            .bind(from)
            .execute(&self.pool)
            .await?;
        Ok(B::rows_affected(&done) == 1)
    }

    async fn delete_upload_row(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn uploads_open_of(&self, user: UserId) -> Result<(i64, i64)> {
        let r = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(length), 0) AS BIGINT) FROM uploads WHERE uploader_id = $1",
        )
        .bind(user.0)
        .fetch_one(&self.pool)
        .await?;
        Ok((r.try_get(0)?, r.try_get(1)?))
    }

    async fn stale_upload_ids(&self, before: i64, limit: i64) -> Result<Vec<String>> {
        let found = sqlx::query("SELECT id FROM uploads WHERE created_at < $1 ORDER BY created_at LIMIT $2")
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(found
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, sqlx::Error>>()?)
    }

    async fn bytes_used_by(&self, user: UserId) -> Result<i64> {
        let r = sqlx::query("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM files WHERE uploader_id = $1")
            .bind(user.0)
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get(0)?)
    }
}

#[async_trait]
impl<B> FileStore for SqlStore<B>
where
    B: Backend,
    for<'c> &'c mut <Db<B> as Database>::Connection: Executor<'c, Database = Db<B>>,
    <Db<B> as Database>::Arguments: IntoArguments<Db<B>>,
    usize: ColumnIndex<<Db<B> as Database>::Row>,
    i64: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    String: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> &'a str: Type<Db<B>> + Encode<'a, Db<B>>,
    Option<i64>: for<'q> Encode<'q, Db<B>>,
    Option<String>: for<'q> Encode<'q, Db<B>>,
{
    async fn insert_file(&self, file: &FileRow, quota: Option<i64>) -> StoreResult<bool> {
        done::<B, _>(self.insert_file_row(file, quota).await)
    }

    async fn visible_file(&self, id: &str, user: UserId) -> StoreResult<Option<FileRow>> {
        done::<B, _>(self.visible_file_row(id, user).await)
    }

    async fn delete_file(&self, id: &str, uploader: UserId) -> StoreResult<Option<FileRow>> {
        done::<B, _>(self.delete_file_row(id, uploader).await)
    }

    async fn bytes_used(&self, user: UserId) -> StoreResult<i64> {
        done::<B, _>(self.bytes_used_by(user).await)
    }

    async fn media_pending(&self, limit: i64) -> StoreResult<Vec<FileRow>> {
        done::<B, _>(self.media_pending_rows(limit).await)
    }

    async fn set_media(&self, id: &str, size: Option<(i64, i64)>, blurhash: &str) -> StoreResult<()> {
        done::<B, _>(self.set_media_row(id, size, blurhash).await)
    }

    async fn create_upload(&self, upload: &UploadRow) -> StoreResult<()> {
        done::<B, _>(self.create_upload_row(upload).await)
    }

    async fn upload(&self, id: &str, user: UserId) -> StoreResult<Option<UploadRow>> {
        done::<B, _>(self.upload_row(id, user).await)
    }

    async fn advance_upload(&self, id: &str, from: i64, to: i64) -> StoreResult<bool> {
        done::<B, _>(self.advance_upload_row(id, from, to).await)
    }

    async fn delete_upload(&self, id: &str) -> StoreResult<()> {
        done::<B, _>(self.delete_upload_row(id).await)
    }

    async fn uploads_open(&self, user: UserId) -> StoreResult<(i64, i64)> {
        done::<B, _>(self.uploads_open_of(user).await)
    }

    async fn stale_uploads(&self, before: i64, limit: i64) -> StoreResult<Vec<String>> {
        done::<B, _>(self.stale_upload_ids(before, limit).await)
    }
}
