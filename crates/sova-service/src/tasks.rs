//! Tasks and kanban boards of a chat. Input is validated here with the pure
//! rules of `sova_core::tasks`; every change is one `WriteOp::Task` through the
//! ordered writer, which checks membership, permissions and the task's version
//! in its transaction and stores the `task_*` / `board_updated` event with it.
//! Reads answer `not_found` to non-members, as chats do. Assignment
//! notifications beyond the chat event (per-user, due soon) belong to the
//! notifications service, which does not exist yet: see docs/tasks.md.

use crate::{Writer, outcome_err, store_err};
use sova_core::tasks::{self as rules, TaskInvalid};
use sova_store::tasks::{board_dto, task_dto};
use sova_store::{NewTask, Outcome, Stores, TaskOp, TaskPatch, TaskQuery, WriteOp};
use sova_types::tasks::{Board, ChecklistItem, Priority, Task, TaskPage, TaskStatus};
use sova_types::time::now_micros;
use sova_types::{ApiError, BoardId, ChatId, ColumnId, MessageId, TaskId, UserId};

/// Most tasks in one page of `GET /api/tasks`.
pub const MAX_PAGE: i64 = 100;

/// The fields of a new task, as a client sends them.
#[derive(Clone, Debug, Default)]
pub struct TaskInput {
    pub title: String,
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub assignees: Vec<UserId>,
    /// RFC 3339.
    pub due: Option<String>,
    pub priority: Option<Priority>,
    pub labels: Vec<String>,
    pub checklist: Vec<ChecklistItem>,
    pub message_id: Option<MessageId>,
    pub column_id: Option<ColumnId>,
}

/// The fields a client changes (`None`: unchanged; `due: Some(None)` clears it).
#[derive(Clone, Debug, Default)]
pub struct TaskChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub assignees: Option<Vec<UserId>>,
    pub due: Option<Option<String>>,
    pub priority: Option<Priority>,
    pub labels: Option<Vec<String>>,
    pub checklist: Option<Vec<ChecklistItem>>,
}

/// Filters of `GET /api/tasks`, as a client sends them.
#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    /// `me` or a user id.
    pub assignee: Option<String>,
    pub status: Option<String>,
    /// RFC 3339.
    pub due_before: Option<String>,
    pub chat_id: Option<ChatId>,
    /// The `cursor` of the previous page.
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// The client error for refused task input: `too_large` (with `details.max`)
/// for limits, `bad_request` otherwise.
pub fn invalid(e: TaskInvalid) -> ApiError {
    match e {
        TaskInvalid::TooLong { max, .. } | TaskInvalid::TooMany { max, .. } => {
            ApiError::too_large_max(e.to_string(), max as u64)
        }
        TaskInvalid::Empty(_) | TaskInvalid::Control(_) => ApiError::bad_request(e.to_string()),
    }
}

/// Parses an RFC 3339 time into Unix microseconds.
fn parse_time(field: &str, s: &str) -> Result<i64, ApiError> {
    let t = time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|_| ApiError::bad_request(format!("{field} must be an RFC 3339 time")))?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000)
        .map_err(|_| ApiError::bad_request(format!("{field} is out of range")))
}

/// Tasks and boards: validates input, writes through the ordered writer, reads
/// only what the caller's memberships allow.
#[derive(Clone)]
pub struct TaskService {
    stores: Stores,
    writer: Writer,
}

impl TaskService {
    /// A task service writing through `writer`.
    pub fn new(stores: Stores, writer: Writer) -> TaskService {
        TaskService { stores, writer }
    }

    /// Commits `op`; a refusal becomes its client error (a stale version carries
    /// the current one in `details.version`).
    async fn run(&self, op: TaskOp) -> Result<Outcome, ApiError> {
        let c = self.writer.submit(WriteOp::Task(op)).await?;
        if let Outcome::Rejected(sova_core::Rejection::StaleVersion { current }) = &c.outcome {
            return Err(ApiError::conflict(format!(
                "the task changed: it is at version {current}; read it and retry"
            ))
            .with_details(serde_json::json!({ "version": current })));
        }
        match outcome_err(&c.outcome) {
            Some(e) => Err(e),
            None => Ok(c.outcome),
        }
    }

    fn task_of(outcome: Outcome) -> Result<Task, ApiError> {
        match outcome {
            Outcome::Task(row) => Ok(task_dto(row)),
            other => {
                tracing::error!(?other, "a task op answered something else");
                Err(ApiError::internal())
            }
        }
    }

    /// Creates a task in `chat` (the caller must be allowed to post there).
    pub async fn create(&self, user: UserId, chat: ChatId, input: TaskInput) -> Result<Task, ApiError> {
        let new = NewTask {
            chat,
            by: user,
            title: rules::title(&input.title).map_err(invalid)?,
            description: rules::description(input.description.as_deref().unwrap_or("")).map_err(invalid)?,
            status: input.status.unwrap_or_default(),
            assignees: rules::assignees(&input.assignees).map_err(invalid)?,
            due: input.due.as_deref().map(|d| parse_time("due", d)).transpose()?,
            priority: input.priority.unwrap_or_default(),
            labels: rules::labels(&input.labels).map_err(invalid)?,
            checklist: rules::checklist(&input.checklist).map_err(invalid)?,
            message_id: input.message_id,
            column: input.column_id,
            at: now_micros(),
        };
        Self::task_of(self.run(TaskOp::Create(new)).await?)
    }

    /// Task `id` when the caller is a member of its chat.
    pub async fn get(&self, user: UserId, id: TaskId) -> Result<Task, ApiError> {
        self.stores
            .tasks
            .task(id, user)
            .await
            .map_err(store_err)?
            .map(task_dto)
            .ok_or_else(|| ApiError::not_found("no such task"))
    }

    /// Applies `changes` when the task is still at `version` (else `conflict`, nothing changed).
    pub async fn update(&self, user: UserId, id: TaskId, version: i64, changes: TaskChanges) -> Result<Task, ApiError> {
        let patch = TaskPatch {
            title: changes
                .title
                .as_deref()
                .map(rules::title)
                .transpose()
                .map_err(invalid)?,
            description: changes
                .description
                .as_deref()
                .map(rules::description)
                .transpose()
                .map_err(invalid)?,
            status: changes.status,
            assignees: changes
                .assignees
                .as_deref()
                .map(rules::assignees)
                .transpose()
                .map_err(invalid)?,
            due: match changes.due {
                None => None,
                Some(None) => Some(None),
                Some(Some(d)) => Some(Some(parse_time("due", &d)?)),
            },
            priority: changes.priority,
            labels: changes
                .labels
                .as_deref()
                .map(rules::labels)
                .transpose()
                .map_err(invalid)?,
            checklist: changes
                .checklist
                .as_deref()
                .map(rules::checklist)
                .transpose()
                .map_err(invalid)?,
        };
        let op = TaskOp::Update {
            task: id,
            by: user,
            version,
            patch,
            at: now_micros(),
        };
        Self::task_of(self.run(op).await?)
    }

    /// Deletes a task (its creator or a chat admin), at `version` when given.
    pub async fn delete(&self, user: UserId, id: TaskId, version: Option<i64>) -> Result<(), ApiError> {
        let op = TaskOp::Delete {
            task: id,
            by: user,
            version,
            at: now_micros(),
        };
        self.run(op).await.map(|_| ())
    }

    /// Moves a task into `column` right after `after` (first when `None`); with
    /// `version`, only if the task is still at it.
    pub async fn move_to(
        &self,
        user: UserId,
        id: TaskId,
        column: ColumnId,
        after: Option<TaskId>,
        version: Option<i64>,
    ) -> Result<Task, ApiError> {
        let op = TaskOp::Move {
            task: id,
            by: user,
            column,
            after,
            version,
            at: now_micros(),
        };
        Self::task_of(self.run(op).await?)
    }

    /// Tasks in the caller's chats matching `f`, newest first, a page at a time.
    pub async fn list(&self, user: UserId, f: TaskFilter) -> Result<TaskPage, ApiError> {
        let assignee = match f.assignee.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("me") => Some(user),
            Some(id) => {
                Some(UserId(id.parse().map_err(|_| {
                    ApiError::bad_request("assignee must be 'me' or a user id")
                })?))
            }
        };
        let status = match f.status.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(
                TaskStatus::parse(s)
                    .ok_or_else(|| ApiError::bad_request("status must be todo, in_progress or done"))?,
            ),
        };
        let due_before = match f.due_before.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(d) => Some(parse_time("due_before", d)?),
        };
        if let Some(chat) = f.chat_id
            && self.stores.chats.member(chat, user).await.map_err(store_err)?.is_none()
        {
            return Err(ApiError::not_found("no such chat"));
        }
        let before = match f.cursor.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) => Some(TaskId(c.parse().map_err(|_| {
                ApiError::bad_request("cursor must be the cursor of a previous page")
            })?)),
        };
        let limit = f.limit.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::bad_request(format!("limit must be 1..={MAX_PAGE}")));
        }
        let q = TaskQuery {
            user,
            assignee,
            status,
            due_before,
            chat: f.chat_id,
            before,
            limit,
        };
        let rows = self.stores.tasks.tasks(&q).await.map_err(store_err)?;
        let cursor = if rows.len() as i64 == limit {
            rows.last().map(|t| t.id.0.to_string())
        } else {
            None
        };
        Ok(TaskPage {
            items: rows.into_iter().map(task_dto).collect(),
            cursor,
        })
    }

    /// Creates a board with `columns` (in order) in `chat`.
    pub async fn create_board(
        &self,
        user: UserId,
        chat: ChatId,
        name: &str,
        columns: &[String],
    ) -> Result<Board, ApiError> {
        let (name, columns) = rules::board(name, columns).map_err(invalid)?;
        let op = TaskOp::CreateBoard {
            chat,
            by: user,
            name,
            columns,
            at: now_micros(),
        };
        match self.run(op).await? {
            Outcome::Board(row) => Ok(board_dto(row, Vec::new())),
            other => {
                tracing::error!(?other, "a board op answered something else");
                Err(ApiError::internal())
            }
        }
    }

    /// Board `id` with its columns and their tasks in order.
    pub async fn board(&self, user: UserId, id: BoardId) -> Result<Board, ApiError> {
        let (row, tasks) = self
            .stores
            .tasks
            .board(id, user)
            .await
            .map_err(store_err)?
            .ok_or_else(|| ApiError::not_found("no such board"))?;
        Ok(board_dto(row, tasks))
    }

    /// The boards of `chat` (columns without tasks), oldest first.
    pub async fn boards(&self, user: UserId, chat: ChatId) -> Result<Vec<Board>, ApiError> {
        if self.stores.chats.member(chat, user).await.map_err(store_err)?.is_none() {
            return Err(ApiError::not_found("no such chat"));
        }
        let rows = self.stores.tasks.boards(chat).await.map_err(store_err)?;
        Ok(rows.into_iter().map(|b| board_dto(b, Vec::new())).collect())
    }
}
