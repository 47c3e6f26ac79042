//! Tasks and boards as stored: rows, the writes (`TaskOp`, applied by the batch
//! writer with their events in the same transaction), the read port
//! (`TaskStore`) and the row → wire mapping.

use crate::StoreResult;
use async_trait::async_trait;
use sova_types::tasks::{Board, BoardColumn, ChecklistItem, Priority, Task, TaskStatus};
use sova_types::time::rfc3339;
use sova_types::{BoardId, ChatId, ColumnId, MessageId, TaskId, UserId};

/// A task as stored (text fields in the clear; the store seals them at rest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRow {
    pub id: TaskId,
    pub chat_id: ChatId,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub assignees: Vec<UserId>,
    /// Unix microseconds.
    pub due: Option<i64>,
    pub priority: Priority,
    pub labels: Vec<String>,
    pub checklist: Vec<ChecklistItem>,
    pub message_id: Option<MessageId>,
    pub board_id: Option<BoardId>,
    pub column_id: Option<ColumnId>,
    pub rank: Option<String>,
    pub version: i64,
    pub created_by: UserId,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A task to create; the service has validated its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTask {
    pub chat: ChatId,
    pub by: UserId,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub assignees: Vec<UserId>,
    pub due: Option<i64>,
    pub priority: Priority,
    pub labels: Vec<String>,
    pub checklist: Vec<ChecklistItem>,
    /// Must be a message of `chat`.
    pub message_id: Option<MessageId>,
    /// Put the task at the end of this column (of a board of `chat`).
    pub column: Option<ColumnId>,
    pub at: i64,
}

/// Fields a `TaskOp::Update` changes (`None`: unchanged; `due: Some(None)` clears it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub assignees: Option<Vec<UserId>>,
    pub due: Option<Option<i64>>,
    pub priority: Option<Priority>,
    pub labels: Option<Vec<String>>,
    pub checklist: Option<Vec<ChecklistItem>>,
}

/// A task or board change: one `WriteOp::Task`, checked against the task's
/// current version inside the write transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskOp {
    Create(NewTask),
    /// Applies `patch` when the task is still at `version`.
    Update {
        task: TaskId,
        by: UserId,
        version: i64,
        patch: TaskPatch,
        at: i64,
    },
    /// Deletes the task (when at `version`, if given).
    Delete {
        task: TaskId,
        by: UserId,
        version: Option<i64>,
        at: i64,
    },
    /// Puts the task in `column` right after `after` (`None`: first), rewriting only
    /// its own row; when at `version`, if given (else the last move wins).
    Move {
        task: TaskId,
        by: UserId,
        column: ColumnId,
        after: Option<TaskId>,
        version: Option<i64>,
        at: i64,
    },
    CreateBoard {
        chat: ChatId,
        by: UserId,
        name: String,
        columns: Vec<String>,
        at: i64,
    },
}

/// A board as stored, with its columns in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardRow {
    pub id: BoardId,
    pub chat_id: ChatId,
    pub name: String,
    pub columns: Vec<(ColumnId, String)>,
    pub version: i64,
    pub created_by: UserId,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Filters of a task listing; every result is in a chat `user` belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskQuery {
    pub user: UserId,
    pub assignee: Option<UserId>,
    pub status: Option<TaskStatus>,
    /// Only tasks due strictly before (Unix microseconds).
    pub due_before: Option<i64>,
    pub chat: Option<ChatId>,
    /// Only tasks with a smaller id (the previous page's last).
    pub before: Option<TaskId>,
    pub limit: i64,
}

/// Reads of tasks and boards; every answer is limited to chats the reader belongs to.
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Task `id` when `user` is a member of its live chat; `None` otherwise.
    async fn task(&self, id: TaskId, user: UserId) -> StoreResult<Option<TaskRow>>;
    /// Tasks matching `q` in the live chats `q.user` belongs to, newest (highest id) first.
    async fn tasks(&self, q: &TaskQuery) -> StoreResult<Vec<TaskRow>>;
    /// Board `id` with its tasks (ordered by column, rank, id) when `user` is a member
    /// of its live chat; `None` otherwise.
    async fn board(&self, id: BoardId, user: UserId) -> StoreResult<Option<(BoardRow, Vec<TaskRow>)>>;
    /// The boards of `chat`, oldest first (the caller checks membership).
    async fn boards(&self, chat: ChatId) -> StoreResult<Vec<BoardRow>>;
}

/// The wire form of a task.
pub fn task_dto(row: TaskRow) -> Task {
    Task {
        progress: sova_core::tasks::progress(&row.checklist),
        id: row.id,
        chat_id: row.chat_id,
        title: row.title,
        description: row.description,
        status: row.status,
        assignees: row.assignees,
        due: row.due.map(rfc3339),
        priority: row.priority,
        labels: row.labels,
        checklist: row.checklist,
        version: row.version,
        created_by: row.created_by,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
        message_id: row.message_id,
        board_id: row.board_id,
        column_id: row.column_id,
        rank: row.rank,
    }
}

/// The wire form of a board; `tasks` (in order) go to their columns.
pub fn board_dto(row: BoardRow, tasks: Vec<TaskRow>) -> Board {
    let mut columns: Vec<BoardColumn> = row
        .columns
        .into_iter()
        .map(|(id, name)| BoardColumn {
            id,
            name,
            tasks: Vec::new(),
        })
        .collect();
    for t in tasks {
        if let Some(c) = columns.iter_mut().find(|c| Some(c.id) == t.column_id) {
            c.tasks.push(task_dto(t));
        }
    }
    Board {
        id: row.id,
        chat_id: row.chat_id,
        name: row.name,
        columns,
        version: row.version,
        created_by: row.created_by,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}
