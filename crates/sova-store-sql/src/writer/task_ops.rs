//! Task and board ops of the batch writer: create, update, move and delete tasks,
//! create boards. Each checks membership, permission (`sova_core::tasks`) and the
//! task's version inside the write transaction, writes one task row (a move
//! rewrites only the moved task's ordering key) and records its event. Nothing
//! here runs for message ops, so the message path is unchanged.

use super::Writer;
use super::state::{reject, unchanged};
use crate::tasks::{TASK_COLUMNS, seal_content, task_row};
use crate::{Backend, Db, Result};
use sova_core::{Rejection, tasks as rules};
use sova_store::tasks::{board_dto, task_dto};
use sova_store::{BoardRow, Committed, NewTask, Outcome, StoreError, TaskOp, TaskPatch, TaskRow};
use sova_types::models::Role;
use sova_types::{BoardId, ChatId, ColumnId, Event, TaskId, UserId};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

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
    /// Applies one task or board op.
    pub(super) async fn task_op(&mut self, op: &TaskOp) -> Result<Committed> {
        match op {
            TaskOp::Create(t) => self.create_task(t).await,
            TaskOp::Update {
                task,
                by,
                version,
                patch,
                at,
            } => self.update_task(*task, *by, *version, patch, *at).await,
            TaskOp::Delete {
                task,
                by,
                version,
                at: _,
            } => self.delete_task(*task, *by, *version).await,
            TaskOp::Move {
                task,
                by,
                column,
                after,
                version,
                at,
            } => self.move_task(*task, *by, *column, *after, *version, *at).await,
            TaskOp::CreateBoard {
                chat,
                by,
                name,
                columns,
                at,
            } => self.create_board(*chat, *by, name, columns, *at).await,
        }
    }

    /// `by`'s role in live chat `chat` when they may change its tasks; the
    /// rejection otherwise (`missing` when the chat is gone or `by` is not in it).
    async fn task_gate(
        &mut self,
        chat: ChatId,
        by: UserId,
        missing: Rejection,
    ) -> Result<std::result::Result<Role, Rejection>> {
        let Some(kind) = self.chat(chat).await?.map(|c| c.row.kind) else {
            return Ok(Err(missing));
        };
        let Some(m) = self.member(chat, by).await? else {
            return Ok(Err(missing));
        };
        Ok(rules::can_change(kind, m.role).map(|()| m.role))
    }

    /// The first of `users` who is not a member of `chat`, as a rejection.
    async fn non_member(&mut self, chat: ChatId, users: &[UserId]) -> Result<Option<Rejection>> {
        for u in users {
            if self.member(chat, *u).await?.is_none() {
                return Ok(Some(Rejection::AssigneeNotMember(*u)));
            }
        }
        Ok(None)
    }

    async fn load_task(&mut self, id: TaskId) -> Result<Option<TaskRow>> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE t.id = $1");
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .fetch_optional(&mut *self.tx)
            .await?;
        r.map(|r| task_row(&r, &self.cipher)).transpose()
    }

    /// The board and chat of a column.
    async fn column_home(&mut self, column: ColumnId) -> Result<Option<(BoardId, ChatId)>> {
        let r = sqlx::query(
            "SELECT b.id, b.chat_id FROM board_columns bc JOIN boards b ON b.id = bc.board_id WHERE bc.id = $1",
        )
        .bind(column.0)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(match r {
            Some(r) => Some((BoardId(r.try_get(0)?), ChatId(r.try_get(1)?))),
            None => None,
        })
    }

    /// One ordering key of `column` other than `task`'s: the smallest above
    /// `above` (or the smallest of all), or with `last` the largest.
    async fn neighbour_key(
        &mut self,
        column: ColumnId,
        task: TaskId,
        above: Option<&str>,
        last: bool,
    ) -> Result<Option<String>> {
        let order = if last { "DESC" } else { "ASC" };
        let bound = if above.is_some() { " AND sort_key > $3" } else { "" };
        let sql = format!(
            "SELECT sort_key FROM tasks WHERE column_id = $1 AND id <> $2 AND sort_key IS NOT NULL{bound} \
             ORDER BY sort_key {order} LIMIT 1"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(column.0).bind(task.0);
        if let Some(a) = above {
            q = q.bind(a.to_owned());
        }
        let r = q.fetch_optional(&mut *self.tx).await?;
        Ok(r.map(|r| r.try_get(0)).transpose()?)
    }

    /// A key strictly between two stored neighbours (they are unique and valid,
    /// since every key is made here).
    fn key_between(before: Option<&str>, after: Option<&str>) -> Result<String> {
        rules::rank_between(before, after)
            .ok_or_else(|| StoreError::Other(format!("ordering keys out of order: {before:?} {after:?}")).into())
    }

    /// Writes every column of `t` (its row exists).
    async fn write_task(&mut self, t: &TaskRow) -> Result<()> {
        let content = seal_content(&self.cipher, t);
        sqlx::query(
            "UPDATE tasks SET content = $1, status = $2, priority = $3, assignees = $4, due = $5, \
             board_id = $6, column_id = $7, sort_key = $8, version = $9, updated_at = $10 WHERE id = $11",
        )
        .bind(content)
        .bind(t.status.as_str())
        .bind(t.priority.as_str())
        .bind(crate::format_ids(&t.assignees))
        .bind(t.due)
        .bind(t.board_id.map(|b| b.0))
        .bind(t.column_id.map(|c| c.0))
        .bind(t.rank.clone())
        .bind(t.version)
        .bind(t.updated_at)
        .bind(t.id.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Replaces the assignee index of `task`.
    async fn write_assignees(&mut self, task: TaskId, users: &[UserId], replace: bool) -> Result<()> {
        if replace {
            sqlx::query("DELETE FROM task_assignees WHERE task_id = $1")
                .bind(task.0)
                .execute(&mut *self.tx)
                .await?;
        }
        for u in users {
            sqlx::query("INSERT INTO task_assignees (task_id, user_id) VALUES ($1, $2)")
                .bind(task.0)
                .bind(u.0)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    fn task_event(&mut self, row: &TaskRow, created: bool) -> Committed {
        let task = task_dto(row.clone());
        let ev = self.event(Some(row.chat_id), None, |seq| {
            if created {
                Event::TaskCreated { seq, task }
            } else {
                Event::TaskUpdated { seq, task }
            }
        });
        Committed {
            outcome: Outcome::Task(row.clone()),
            events: vec![ev],
        }
    }

    async fn create_task(&mut self, t: &NewTask) -> Result<Committed> {
        if let Err(e) = self.task_gate(t.chat, t.by, Rejection::NoSuchChat).await? {
            return Ok(reject(e));
        }
        if let Some(e) = self.non_member(t.chat, &t.assignees).await? {
            return Ok(reject(e));
        }
        if let Some(m) = t.message_id {
            let found = self.load_message(t.chat, m).await?;
            if found.is_none_or(|m| m.deleted_at.is_some()) {
                return Ok(reject(Rejection::MessageOutsideChat));
            }
        }
        let mut row = TaskRow {
            id: TaskId(0),
            chat_id: t.chat,
            title: t.title.clone(),
            description: t.description.clone(),
            status: t.status,
            assignees: t.assignees.clone(),
            due: t.due,
            priority: t.priority,
            labels: t.labels.clone(),
            checklist: t.checklist.clone(),
            message_id: t.message_id,
            board_id: None,
            column_id: None,
            rank: None,
            version: 1,
            created_by: t.by,
            created_at: t.at,
            updated_at: t.at,
        };
        if let Some(column) = t.column {
            match self.column_home(column).await? {
                Some((board, chat)) if chat == t.chat => {
                    let last = self.neighbour_key(column, TaskId(0), None, true).await?;
                    row.rank = Some(Self::key_between(last.as_deref(), None)?);
                    row.board_id = Some(board);
                    row.column_id = Some(column);
                }
                _ => return Ok(reject(Rejection::NoSuchColumn)),
            }
        }
        let r = sqlx::query(
            "INSERT INTO tasks (chat_id, content, status, priority, assignees, due, message_id, board_id, \
             column_id, sort_key, version, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        )
        .bind(row.chat_id.0)
        .bind(seal_content(&self.cipher, &row))
        .bind(row.status.as_str())
        .bind(row.priority.as_str())
        .bind(crate::format_ids(&row.assignees))
        .bind(row.due)
        .bind(row.message_id.map(|m| m.0))
        .bind(row.board_id.map(|b| b.0))
        .bind(row.column_id.map(|c| c.0))
        .bind(row.rank.clone())
        .bind(row.version)
        .bind(row.created_by.0)
        .bind(row.created_at)
        .bind(row.updated_at)
        .fetch_one(&mut *self.tx)
        .await?;
        row.id = TaskId(r.try_get(0)?);
        self.write_assignees(row.id, &row.assignees, false).await?;
        Ok(self.task_event(&row, true))
    }

    async fn update_task(
        &mut self,
        id: TaskId,
        by: UserId,
        version: i64,
        patch: &TaskPatch,
        at: i64,
    ) -> Result<Committed> {
        let Some(old) = self.load_task(id).await? else {
            return Ok(reject(Rejection::NoSuchTask));
        };
        if let Err(e) = self.task_gate(old.chat_id, by, Rejection::NoSuchTask).await? {
            return Ok(reject(e));
        }
        if let Err(e) = rules::check_version(Some(version), old.version) {
            return Ok(reject(e));
        }
        let mut row = old.clone();
        if let Some(v) = &patch.title {
            row.title.clone_from(v);
        }
        if let Some(v) = &patch.description {
            row.description.clone_from(v);
        }
        if let Some(v) = patch.status {
            row.status = v;
        }
        if let Some(v) = patch.priority {
            row.priority = v;
        }
        if let Some(v) = patch.due {
            row.due = v;
        }
        if let Some(v) = &patch.labels {
            row.labels.clone_from(v);
        }
        if let Some(v) = &patch.checklist {
            row.checklist.clone_from(v);
        }
        if let Some(v) = &patch.assignees {
            if let Some(e) = self.non_member(row.chat_id, v).await? {
                return Ok(reject(e));
            }
            row.assignees.clone_from(v);
        }
        if row == old {
            return Ok(unchanged(Outcome::Task(old)));
        }
        row.version += 1;
        row.updated_at = at;
        self.write_task(&row).await?;
        if row.assignees != old.assignees {
            self.write_assignees(row.id, &row.assignees, true).await?;
        }
        Ok(self.task_event(&row, false))
    }

    async fn move_task(
        &mut self,
        id: TaskId,
        by: UserId,
        column: ColumnId,
        after: Option<TaskId>,
        version: Option<i64>,
        at: i64,
    ) -> Result<Committed> {
        let Some(mut row) = self.load_task(id).await? else {
            return Ok(reject(Rejection::NoSuchTask));
        };
        if let Err(e) = self.task_gate(row.chat_id, by, Rejection::NoSuchTask).await? {
            return Ok(reject(e));
        }
        if let Err(e) = rules::check_version(version, row.version) {
            return Ok(reject(e));
        }
        let board = match self.column_home(column).await? {
            Some((board, chat)) if chat == row.chat_id => board,
            _ => return Ok(reject(Rejection::NoSuchColumn)),
        };
        let before = match after {
            None => None,
            Some(a) if a == id => return Ok(reject(Rejection::AfterNotInColumn)),
            Some(a) => match self.load_task(a).await? {
                Some(t) if t.column_id == Some(column) && t.rank.is_some() => t.rank,
                _ => return Ok(reject(Rejection::AfterNotInColumn)),
            },
        };
        let next = self.neighbour_key(column, id, before.as_deref(), false).await?;
        row.rank = Some(Self::key_between(before.as_deref(), next.as_deref())?);
        row.board_id = Some(board);
        row.column_id = Some(column);
        row.version += 1;
        row.updated_at = at;
        self.write_task(&row).await?;
        Ok(self.task_event(&row, false))
    }

    async fn delete_task(&mut self, id: TaskId, by: UserId, version: Option<i64>) -> Result<Committed> {
        let Some(row) = self.load_task(id).await? else {
            return Ok(reject(Rejection::NoSuchTask));
        };
        let role = match self.task_gate(row.chat_id, by, Rejection::NoSuchTask).await? {
            Ok(role) => role,
            Err(e) => return Ok(reject(e)),
        };
        if let Err(e) = rules::can_delete(by, row.created_by, role).and(rules::check_version(version, row.version)) {
            return Ok(reject(e));
        }
        sqlx::query("DELETE FROM task_assignees WHERE task_id = $1")
            .bind(id.0)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query("DELETE FROM tasks WHERE id = $1")
            .bind(id.0)
            .execute(&mut *self.tx)
            .await?;
        let chat = row.chat_id;
        let ev = self.event(Some(chat), None, |seq| Event::TaskDeleted {
            seq,
            chat_id: chat,
            task_id: id,
        });
        Ok(Committed {
            outcome: Outcome::Task(row),
            events: vec![ev],
        })
    }

    async fn create_board(
        &mut self,
        chat: ChatId,
        by: UserId,
        name: &str,
        columns: &[String],
        at: i64,
    ) -> Result<Committed> {
        if let Err(e) = self.task_gate(chat, by, Rejection::NoSuchChat).await? {
            return Ok(reject(e));
        }
        let r = sqlx::query(
            "INSERT INTO boards (chat_id, name, version, created_by, created_at, updated_at) \
             VALUES ($1, $2, 1, $3, $4, $4) RETURNING id",
        )
        .bind(chat.0)
        .bind(name)
        .bind(by.0)
        .bind(at)
        .fetch_one(&mut *self.tx)
        .await?;
        let id = BoardId(r.try_get(0)?);
        let mut cols = Vec::with_capacity(columns.len());
        for (i, c) in columns.iter().enumerate() {
            let r =
                sqlx::query("INSERT INTO board_columns (board_id, name, position) VALUES ($1, $2, $3) RETURNING id")
                    .bind(id.0)
                    .bind(c.as_str())
                    .bind(i as i64)
                    .fetch_one(&mut *self.tx)
                    .await?;
            cols.push((ColumnId(r.try_get(0)?), c.clone()));
        }
        let row = BoardRow {
            id,
            chat_id: chat,
            name: name.to_owned(),
            columns: cols,
            version: 1,
            created_by: by,
            created_at: at,
            updated_at: at,
        };
        let board = board_dto(row.clone(), Vec::new());
        let ev = self.event(Some(chat), None, |seq| Event::BoardUpdated { seq, board });
        Ok(Committed {
            outcome: Outcome::Board(row),
            events: vec![ev],
        })
    }
}
