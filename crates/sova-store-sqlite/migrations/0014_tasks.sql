-- Tasks and kanban boards (docs/tasks.md). A task belongs to a chat; it may sit in
-- one column of a board of that chat, ordered there by a fractional-index key (sort_key).
-- Title, description, labels and checklist travel together in `content` (JSON,
-- sealed at rest like message text); assignees are also listed in task_assignees
-- so that "assigned to me" is one indexed lookup.
CREATE TABLE boards (
    id         INTEGER PRIMARY KEY,
    chat_id    INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX boards_chat ON boards(chat_id, id);

CREATE TABLE board_columns (
    id       INTEGER PRIMARY KEY,
    board_id INTEGER NOT NULL REFERENCES boards(id) ON DELETE CASCADE,
    name     TEXT    NOT NULL,
    position INTEGER NOT NULL
);
CREATE INDEX board_columns_board ON board_columns(board_id, position);

CREATE TABLE tasks (
    id         INTEGER PRIMARY KEY,
    chat_id    INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    content    TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    priority   TEXT    NOT NULL,
    assignees  TEXT    NOT NULL,
    due        INTEGER,
    message_id INTEGER,
    board_id   INTEGER,
    column_id  INTEGER,
    sort_key   TEXT,
    version    INTEGER NOT NULL,
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX tasks_chat ON tasks(chat_id, id);
CREATE INDEX tasks_column ON tasks(column_id, sort_key);

CREATE TABLE task_assignees (
    task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL,
    PRIMARY KEY (task_id, user_id)
);
CREATE INDEX task_assignees_user ON task_assignees(user_id, task_id);
