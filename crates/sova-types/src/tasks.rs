//! Tasks and kanban boards as clients see them (REST bodies, op-frame results and
//! the `task_*` / `board_updated` events). A task belongs to one chat; it may sit
//! in one column of one board of that chat, ordered there by `rank`.

use crate::ids::{BoardId, ChatId, ColumnId, MessageId, TaskId, UserId};
use serde::{Deserialize, Serialize};

/// Where a task stands. Independent of board columns (see docs/tasks.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    #[default]
    Todo,
    InProgress,
    Done,
}

impl TaskStatus {
    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Todo => "todo",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Done => "done",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<TaskStatus> {
        match s {
            "todo" => Some(TaskStatus::Todo),
            "in_progress" => Some(TaskStatus::InProgress),
            "done" => Some(TaskStatus::Done),
            _ => None,
        }
    }
}

/// How urgent a task is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Priority> {
        match s {
            "low" => Some(Priority::Low),
            "normal" => Some(Priority::Normal),
            "high" => Some(Priority::High),
            "urgent" => Some(Priority::Urgent),
            _ => None,
        }
    }
}

/// One checklist item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChecklistItem {
    pub text: String,
    #[serde(default)]
    pub done: bool,
}

/// A task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Task {
    pub id: TaskId,
    pub chat_id: ChatId,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    /// Members of the chat the task is assigned to.
    pub assignees: Vec<UserId>,
    /// RFC 3339 UTC, or null.
    pub due: Option<String>,
    pub priority: Priority,
    pub labels: Vec<String>,
    pub checklist: Vec<ChecklistItem>,
    /// Done checklist items as a percentage of all (0 without a checklist).
    pub progress: u8,
    /// Grows by one with every change; a write naming an older one is refused (`conflict`).
    pub version: i64,
    pub created_by: UserId,
    pub created_at: String,
    pub updated_at: String,
    /// The message the task was made from, if any (same chat).
    pub message_id: Option<MessageId>,
    /// The board and column the task is on, if any.
    pub board_id: Option<BoardId>,
    pub column_id: Option<ColumnId>,
    /// The task's ordering key within its column (fractional index; compare as bytes).
    pub rank: Option<String>,
}

/// A board column with its tasks in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BoardColumn {
    pub id: ColumnId,
    pub name: String,
    /// Tasks by `rank` (empty in `board_updated` events).
    #[serde(default)]
    pub tasks: Vec<Task>,
}

/// A kanban board of a chat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Board {
    pub id: BoardId,
    pub chat_id: ChatId,
    pub name: String,
    pub columns: Vec<BoardColumn>,
    pub version: i64,
    pub created_by: UserId,
    pub created_at: String,
    pub updated_at: String,
}

/// A page of tasks; `cursor` (when not null) fetches the next one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TaskPage {
    pub items: Vec<Task>,
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_use_the_contract_spellings() {
        for s in [TaskStatus::Todo, TaskStatus::InProgress, TaskStatus::Done] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
        }
        for p in [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent] {
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
        assert_eq!(TaskStatus::parse("doing"), None);
        assert_eq!(Priority::parse("URGENT"), None);
    }
}
