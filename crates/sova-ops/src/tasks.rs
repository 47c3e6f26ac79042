//! Tasks and kanban boards: one declaration per operation (docs/tasks.md).

use crate::{Caller, Entry, Method, Operation, Spec};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use sova_service::Services;
use sova_service::tasks::{TaskChanges, TaskFilter, TaskInput};
use sova_types::ErrorCode::{BadRequest, Conflict, Forbidden, NotFound, TooLarge};
use sova_types::tasks::{Board, ChecklistItem, Priority, Task, TaskPage, TaskStatus};
use sova_types::{ApiError, BoardId, ChatId, ColumnId, MessageId, TaskId, UserId};

/// The operations of this module.
pub const OPS: &[Entry] = &[
    Entry::of::<CreateTask>(),
    Entry::of::<GetTask>(),
    Entry::of::<UpdateTask>(),
    Entry::of::<DeleteTask>(),
    Entry::of::<ListTasks>(),
    Entry::of::<MoveTask>(),
    Entry::of::<CreateBoard>(),
    Entry::of::<GetBoard>(),
    Entry::of::<ListBoards>(),
];

const TAG: &str = "tasks";

/// A present field becomes `Some(value)`, `null` included (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A string, or a number taken as its decimal text (a user id in an op frame).
fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(serde::de::Error::custom("expected 'me' or a user id")),
    })
}

/// `create_task` (`/api/chats/{chat_id}/tasks`): Create a task in a chat.
pub struct CreateTask;
/// The input of `create_task`, from path and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct CreateTaskRequest {
    pub chat_id: ChatId,
    /// 1..=200 characters.
    pub title: String,
    /// At most 10 000 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// `todo` (default), `in_progress` or `done`.
    #[serde(default)]
    pub status: Option<TaskStatus>,
    /// Members of the chat.
    #[serde(default)]
    pub assignees: Vec<UserId>,
    /// RFC 3339.
    #[serde(default)]
    pub due: Option<String>,
    /// `low`, `normal` (default), `high` or `urgent`.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// At most 20.
    #[serde(default)]
    pub labels: Vec<String>,
    /// At most 100 items.
    #[serde(default)]
    pub checklist: Vec<ChecklistItem>,
    /// Make the task from this message of the chat.
    #[serde(default)]
    pub message_id: Option<MessageId>,
    /// Put the task at the end of this column of a board of the chat.
    #[serde(default)]
    pub column_id: Option<ColumnId>,
}
impl Operation for CreateTask {
    type Request = CreateTaskRequest;
    type Response = Task;
    const SPEC: Spec = Spec::new(
        "create_task",
        Method::Post,
        "/api/chats/{chat_id}/tasks",
        "Create a task in a chat",
    )
    .tag(TAG)
    .status(201)
    .errors(&[NotFound, BadRequest, Forbidden, TooLarge]);
    async fn handle(s: &Services, c: &Caller, r: CreateTaskRequest) -> Result<Task, ApiError> {
        let input = TaskInput {
            title: r.title,
            description: r.description,
            status: r.status,
            assignees: r.assignees,
            due: r.due,
            priority: r.priority,
            labels: r.labels,
            checklist: r.checklist,
            message_id: r.message_id,
            column_id: r.column_id,
        };
        s.tasks.create(c.user()?.user_id, r.chat_id, input).await
    }
}

/// A task named in the path.
#[derive(Deserialize, JsonSchema)]
pub struct TaskRequest {
    pub task_id: TaskId,
}

/// `get_task` (`/api/tasks/{task_id}`): One task.
pub struct GetTask;
impl Operation for GetTask {
    type Request = TaskRequest;
    type Response = Task;
    const SPEC: Spec = Spec::new("get_task", Method::Get, "/api/tasks/{task_id}", "One task")
        .tag(TAG)
        .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: TaskRequest) -> Result<Task, ApiError> {
        s.tasks.get(c.user()?.user_id, r.task_id).await
    }
}

/// `update_task` (`/api/tasks/{task_id}`): Change a task at the version read.
pub struct UpdateTask;
/// The input of `update_task`: the version read and the fields to change.
#[derive(Deserialize, JsonSchema)]
pub struct UpdateTaskRequest {
    pub task_id: TaskId,
    /// The task's `version` as read; another one answers `conflict` and changes nothing.
    pub version: i64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<TaskStatus>,
    #[serde(default)]
    pub assignees: Option<Vec<UserId>>,
    /// RFC 3339; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<String>")]
    pub due: Option<Option<String>>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// Replaces the whole checklist.
    #[serde(default)]
    pub checklist: Option<Vec<ChecklistItem>>,
}
impl Operation for UpdateTask {
    type Request = UpdateTaskRequest;
    type Response = Task;
    const SPEC: Spec = Spec::new(
        "update_task",
        Method::Patch,
        "/api/tasks/{task_id}",
        "Change a task at the version read",
    )
    .tag(TAG)
    .errors(&[NotFound, BadRequest, Forbidden, Conflict, TooLarge]);
    async fn handle(s: &Services, c: &Caller, r: UpdateTaskRequest) -> Result<Task, ApiError> {
        let changes = TaskChanges {
            title: r.title,
            description: r.description,
            status: r.status,
            assignees: r.assignees,
            due: r.due,
            priority: r.priority,
            labels: r.labels,
            checklist: r.checklist,
        };
        s.tasks.update(c.user()?.user_id, r.task_id, r.version, changes).await
    }
}

/// `delete_task` (`/api/tasks/{task_id}`): Delete a task (its creator or a chat admin).
pub struct DeleteTask;
/// The input of `delete_task`.
#[derive(Deserialize, JsonSchema)]
pub struct DeleteTaskRequest {
    pub task_id: TaskId,
    /// When given, delete only at this version.
    #[serde(default)]
    pub version: Option<i64>,
}
impl Operation for DeleteTask {
    type Request = DeleteTaskRequest;
    type Response = ();
    const SPEC: Spec = Spec::new(
        "delete_task",
        Method::Delete,
        "/api/tasks/{task_id}",
        "Delete a task (its creator or a chat admin)",
    )
    .tag(TAG)
    .status(204)
    .errors(&[NotFound, Forbidden, Conflict]);
    async fn handle(s: &Services, c: &Caller, r: DeleteTaskRequest) -> Result<(), ApiError> {
        s.tasks.delete(c.user()?.user_id, r.task_id, r.version).await
    }
}

/// `tasks` (`/api/tasks`): Tasks across my chats, newest first, filtered and paged.
pub struct ListTasks;
/// The input of `tasks`: filters and the page cursor.
#[derive(Deserialize, JsonSchema)]
pub struct ListTasksRequest {
    /// `me` or a user id.
    #[serde(default, deserialize_with = "text_or_number")]
    #[schemars(with = "Option<String>")]
    pub assignee: Option<String>,
    /// `todo`, `in_progress` or `done`.
    #[serde(default)]
    pub status: Option<String>,
    /// RFC 3339: only tasks due before it.
    #[serde(default)]
    pub due_before: Option<String>,
    #[serde(default)]
    pub chat_id: Option<ChatId>,
    /// The `cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// 1..=100 (default 50).
    #[serde(default)]
    pub limit: Option<i64>,
}
impl Operation for ListTasks {
    type Request = ListTasksRequest;
    type Response = TaskPage;
    const SPEC: Spec = Spec::new(
        "tasks",
        Method::Get,
        "/api/tasks",
        "Tasks across my chats, newest first, filtered and paged",
    )
    .tag(TAG)
    .errors(&[NotFound, BadRequest]);
    async fn handle(s: &Services, c: &Caller, r: ListTasksRequest) -> Result<TaskPage, ApiError> {
        let f = TaskFilter {
            assignee: r.assignee,
            status: r.status,
            due_before: r.due_before,
            chat_id: r.chat_id,
            cursor: r.cursor,
            limit: r.limit,
        };
        s.tasks.list(c.user()?.user_id, f).await
    }
}

/// `move_task` (`/api/tasks/{task_id}/move`): Put a task in a board column after another task.
pub struct MoveTask;
/// The input of `move_task`.
#[derive(Deserialize, JsonSchema)]
pub struct MoveTaskRequest {
    pub task_id: TaskId,
    /// A column of a board of the task's chat.
    pub column_id: ColumnId,
    /// The task to follow in that column; absent or null: first.
    #[serde(default)]
    pub after: Option<TaskId>,
    /// When given, move only at this version (`conflict` otherwise); without it the last move wins.
    #[serde(default)]
    pub version: Option<i64>,
}
impl Operation for MoveTask {
    type Request = MoveTaskRequest;
    type Response = Task;
    const SPEC: Spec = Spec::new(
        "move_task",
        Method::Post,
        "/api/tasks/{task_id}/move",
        "Put a task in a board column after another task",
    )
    .tag(TAG)
    .errors(&[NotFound, BadRequest, Forbidden, Conflict]);
    async fn handle(s: &Services, c: &Caller, r: MoveTaskRequest) -> Result<Task, ApiError> {
        s.tasks
            .move_to(c.user()?.user_id, r.task_id, r.column_id, r.after, r.version)
            .await
    }
}

/// `create_board` (`/api/chats/{chat_id}/boards`): Create a kanban board with ordered columns.
pub struct CreateBoard;
/// The input of `create_board`.
#[derive(Deserialize, JsonSchema)]
pub struct CreateBoardRequest {
    pub chat_id: ChatId,
    pub name: String,
    /// Column names, in order (1..=20).
    pub columns: Vec<String>,
}
impl Operation for CreateBoard {
    type Request = CreateBoardRequest;
    type Response = Board;
    const SPEC: Spec = Spec::new(
        "create_board",
        Method::Post,
        "/api/chats/{chat_id}/boards",
        "Create a kanban board with ordered columns",
    )
    .tag(TAG)
    .status(201)
    .errors(&[NotFound, BadRequest, Forbidden, TooLarge]);
    async fn handle(s: &Services, c: &Caller, r: CreateBoardRequest) -> Result<Board, ApiError> {
        s.tasks
            .create_board(c.user()?.user_id, r.chat_id, &r.name, &r.columns)
            .await
    }
}

/// A board named in the path.
#[derive(Deserialize, JsonSchema)]
pub struct BoardRequest {
    pub board_id: BoardId,
}

/// `get_board` (`/api/boards/{board_id}`): A board: its columns with their tasks in order.
pub struct GetBoard;
impl Operation for GetBoard {
    type Request = BoardRequest;
    type Response = Board;
    const SPEC: Spec = Spec::new(
        "get_board",
        Method::Get,
        "/api/boards/{board_id}",
        "A board: its columns with their tasks in order",
    )
    .tag(TAG)
    .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: BoardRequest) -> Result<Board, ApiError> {
        s.tasks.board(c.user()?.user_id, r.board_id).await
    }
}

/// A chat named in the path.
#[derive(Deserialize, JsonSchema)]
pub struct ChatBoardsRequest {
    pub chat_id: ChatId,
}

/// `boards` (`/api/chats/{chat_id}/boards`): The boards of a chat (columns without tasks).
pub struct ListBoards;
impl Operation for ListBoards {
    type Request = ChatBoardsRequest;
    type Response = Vec<Board>;
    const SPEC: Spec = Spec::new(
        "boards",
        Method::Get,
        "/api/chats/{chat_id}/boards",
        "The boards of a chat (columns without tasks)",
    )
    .tag(TAG)
    .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: ChatBoardsRequest) -> Result<Vec<Board>, ApiError> {
        s.tasks.boards(c.user()?.user_id, r.chat_id).await
    }
}
