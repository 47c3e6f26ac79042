//! `TaskStore`: reading tasks and boards, scoped by chat membership. Task text
//! (title, description, labels, checklist) is one sealed JSON `content` column;
//! the batch writer (`writer/task_ops.rs`) writes it.

use crate::store::done;
use crate::{Backend, Db, Result, SqlStore};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sova_store::cipher::Cipher;
use sova_store::{BoardRow, StoreError, StoreResult, TaskQuery, TaskRow, TaskStore};
use sova_types::tasks::{ChecklistItem, Priority, TaskStatus};
use sova_types::{BoardId, ChatId, ColumnId, MessageId, TaskId, UserId};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, QueryBuilder, Row, Type};

/// Columns of a task row (`t`), in `task_row` order.
pub(crate) const TASK_COLUMNS: &str = "t.id, t.chat_id, t.content, t.status, t.priority, t.assignees, t.due, \
     t.message_id, t.board_id, t.column_id, t.sort_key, t.version, t.created_by, t.created_at, t.updated_at";

/// The sealed part of a task.
#[derive(Serialize, Deserialize)]
struct Content {
    title: String,
    description: String,
    labels: Vec<String>,
    checklist: Vec<ChecklistItem>,
}

/// The sealed `content` of `t`.
pub(crate) fn seal_content(cipher: &Cipher, t: &TaskRow) -> String {
    let c = Content {
        title: t.title.clone(),
        description: t.description.clone(),
        labels: t.labels.clone(),
        checklist: t.checklist.clone(),
    };
    cipher.seal(&serde_json::to_string(&c).unwrap_or_default())
}

/// Decodes a task row selected with `TASK_COLUMNS`, unsealing its content.
pub(crate) fn task_row<R: Row>(r: &R, cipher: &Cipher) -> Result<TaskRow>
where
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    String: Type<R::Database> + for<'r> Decode<'r, R::Database>,
{
    let sealed: String = r.try_get(2)?;
    let content: Content = serde_json::from_str(&cipher.open(&sealed).map_err(StoreError::Other)?)
        .map_err(|e| StoreError::Other(format!("stored task does not decode: {e}")))?;
    let status: String = r.try_get(3)?;
    let priority: String = r.try_get(4)?;
    let assignees: String = r.try_get(5)?;
    Ok(TaskRow {
        id: TaskId(r.try_get(0)?),
        chat_id: ChatId(r.try_get(1)?),
        title: content.title,
        description: content.description,
        status: TaskStatus::parse(&status).unwrap_or_default(),
        priority: Priority::parse(&priority).unwrap_or_default(),
        assignees: crate::parse_ids(&assignees),
        due: r.try_get(6)?,
        labels: content.labels,
        checklist: content.checklist,
        message_id: r.try_get::<Option<i64>, _>(7)?.map(MessageId),
        board_id: r.try_get::<Option<i64>, _>(8)?.map(BoardId),
        column_id: r.try_get::<Option<i64>, _>(9)?.map(ColumnId),
        rank: r.try_get(10)?,
        version: r.try_get(11)?,
        created_by: UserId(r.try_get(12)?),
        created_at: r.try_get(13)?,
        updated_at: r.try_get(14)?,
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
    async fn visible_task(&self, id: TaskId, user: UserId) -> Result<Option<TaskRow>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks t \
             JOIN chat_members cm ON cm.chat_id = t.chat_id AND cm.user_id = $2 \
             JOIN chats c ON c.id = t.chat_id AND c.deleted_at IS NULL WHERE t.id = $1"
        );
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .bind(user.0)
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| task_row(&r, &self.cipher)).transpose()
    }

    async fn task_list(&self, q: &TaskQuery) -> Result<Vec<TaskRow>> {
        let mut qb = QueryBuilder::<Db<B>>::new(format!(
            "SELECT {TASK_COLUMNS} FROM tasks t \
             JOIN chat_members cm ON cm.chat_id = t.chat_id AND cm.user_id = "
        ));
        qb.push_bind(q.user.0)
            .push(" JOIN chats c ON c.id = t.chat_id AND c.deleted_at IS NULL WHERE 1 = 1");
        if let Some(a) = q.assignee {
            qb.push(" AND EXISTS (SELECT 1 FROM task_assignees ta WHERE ta.task_id = t.id AND ta.user_id = ")
                .push_bind(a.0)
                .push(")");
        }
        if let Some(s) = q.status {
            qb.push(" AND t.status = ").push_bind(s.as_str());
        }
        if let Some(d) = q.due_before {
            qb.push(" AND t.due IS NOT NULL AND t.due < ").push_bind(d);
        }
        if let Some(c) = q.chat {
            qb.push(" AND t.chat_id = ").push_bind(c.0);
        }
        if let Some(b) = q.before {
            qb.push(" AND t.id < ").push_bind(b.0);
        }
        qb.push(" ORDER BY t.id DESC LIMIT ").push_bind(q.limit);
        let found = qb.build().fetch_all(&self.pool).await?;
        found.iter().map(|r| task_row(r, &self.cipher)).collect()
    }

    /// The boards matching `filter` (`b`-qualified SQL with `$1`), with their columns.
    async fn board_rows(&self, filter: &str, key: i64) -> Result<Vec<BoardRow>> {
        let sql = format!(
            "SELECT b.id, b.chat_id, b.name, b.version, b.created_by, b.created_at, b.updated_at \
             FROM boards b {filter} ORDER BY b.id"
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .fetch_all(&self.pool)
            .await?;
        let mut boards = Vec::with_capacity(found.len());
        for r in &found {
            let id = BoardId(r.try_get(0)?);
            let cols = sqlx::query("SELECT id, name FROM board_columns WHERE board_id = $1 ORDER BY position, id")
                .bind(id.0)
                .fetch_all(&self.pool)
                .await?;
            let columns = cols
                .iter()
                .map(|c| Ok((ColumnId(c.try_get(0)?), c.try_get(1)?)))
                .collect::<Result<Vec<_>>>()?;
            boards.push(BoardRow {
                id,
                chat_id: ChatId(r.try_get(1)?),
                name: r.try_get(2)?,
                columns,
                version: r.try_get(3)?,
                created_by: UserId(r.try_get(4)?),
                created_at: r.try_get(5)?,
                updated_at: r.try_get(6)?,
            });
        }
        Ok(boards)
    }

    async fn visible_board(&self, id: BoardId, user: UserId) -> Result<Option<(BoardRow, Vec<TaskRow>)>> {
        let Some(board) = self.board_rows("WHERE b.id = $1", id.0).await?.pop() else {
            return Ok(None);
        };
        let member = sqlx::query(
            "SELECT 1 FROM chat_members cm JOIN chats c ON c.id = cm.chat_id AND c.deleted_at IS NULL \
             WHERE cm.chat_id = $1 AND cm.user_id = $2",
        )
        .bind(board.chat_id.0)
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await?;
        if member.is_none() {
            return Ok(None);
        }
        let sql =
            format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE t.board_id = $1 ORDER BY t.column_id, t.sort_key, t.id");
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .fetch_all(&self.pool)
            .await?;
        let tasks = found
            .iter()
            .map(|r| task_row(r, &self.cipher))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some((board, tasks)))
    }
}

#[async_trait]
impl<B> TaskStore for SqlStore<B>
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
    async fn task(&self, id: TaskId, user: UserId) -> StoreResult<Option<TaskRow>> {
        done::<B, _>(self.visible_task(id, user).await)
    }

    async fn tasks(&self, q: &TaskQuery) -> StoreResult<Vec<TaskRow>> {
        done::<B, _>(self.task_list(q).await)
    }

    async fn board(&self, id: BoardId, user: UserId) -> StoreResult<Option<(BoardRow, Vec<TaskRow>)>> {
        done::<B, _>(self.visible_board(id, user).await)
    }

    async fn boards(&self, chat: ChatId) -> StoreResult<Vec<BoardRow>> {
        done::<B, _>(self.board_rows("WHERE b.chat_id = $1", chat.0).await)
    }
}
