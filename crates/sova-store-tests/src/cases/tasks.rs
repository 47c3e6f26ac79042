//! Task and board conformance: writes through the batch writer (versions,
//! ordering keys, membership), and the `TaskStore` reads scoped by membership.

use super::{T0, chat_of, commit, create, rejected, user};
use sova_core::RejectionKind;
use sova_store::{ChatKind, Committed, NewTask, Outcome, Stores, TaskOp, TaskPatch, TaskQuery, TaskRow, WriteOp};
use sova_types::tasks::{ChecklistItem, Priority, TaskStatus};
use sova_types::{ChatId, ColumnId, TaskId, UserId};

fn new_task(chat: ChatId, by: UserId, title: &str, column: Option<ColumnId>, assignees: &[UserId]) -> WriteOp {
    WriteOp::Task(TaskOp::Create(NewTask {
        chat,
        by,
        title: title.into(),
        description: "secret plans".into(),
        status: TaskStatus::Todo,
        assignees: assignees.to_vec(),
        due: Some(T0 + 1),
        priority: Priority::High,
        labels: vec!["x".into()],
        checklist: vec![ChecklistItem {
            text: "step".into(),
            done: false,
        }],
        message_id: None,
        column,
        at: T0,
    }))
}

fn task_of(c: &Committed) -> TaskRow {
    match &c.outcome {
        Outcome::Task(t) => t.clone(),
        other => panic!("expected a task, got {other:?}"),
    }
}

fn mv(task: TaskId, by: UserId, column: ColumnId, after: Option<TaskId>, version: Option<i64>) -> WriteOp {
    WriteOp::Task(TaskOp::Move {
        task,
        by,
        column,
        after,
        version,
        at: T0 + 5,
    })
}

pub async fn tasks_keep_versions_order_and_membership(s: &Stores) {
    let (a, b, c) = (
        user(s, "ta", &[]).await,
        user(s, "tb", &[]).await,
        user(s, "tc", &[]).await,
    );
    let g = chat_of(&commit(s, vec![create(ChatKind::Group, "g", a.id, &[b.id])]).await[0]).id;
    let done = commit(
        s,
        vec![WriteOp::Task(TaskOp::CreateBoard {
            chat: g,
            by: a.id,
            name: "board".into(),
            columns: vec!["one".into(), "two".into()],
            at: T0,
        })],
    )
    .await;
    let board = match &done[0].outcome {
        Outcome::Board(b) => b.clone(),
        other => panic!("expected a board, got {other:?}"),
    };
    let (k1, k2) = (board.columns[0].0, board.columns[1].0);
    // Three tasks into one column in one batch, with a send in between: each is
    // appended after the previous one.
    let out = commit(
        s,
        vec![
            new_task(g, a.id, "first", Some(k1), &[b.id]),
            WriteOp::Send(sova_store::NewMessage::text(g, a.id, "hi", T0)),
            new_task(g, a.id, "second", Some(k1), &[]),
            new_task(g, b.id, "third", Some(k1), &[a.id]),
            new_task(g, a.id, "outsider's pick", None, &[c.id]),
            new_task(g, c.id, "not a member", None, &[]),
        ],
    )
    .await;
    let t: Vec<TaskRow> = [0, 2, 3].iter().map(|&i| task_of(&out[i])).collect();
    assert!(t[0].rank < t[1].rank && t[1].rank < t[2].rank, "{t:?}");
    assert_eq!(
        rejected(&out[4]),
        RejectionKind::BadRequest,
        "assignees must be members"
    );
    assert_eq!(rejected(&out[5]), RejectionKind::NotFound, "non-members cannot create");
    assert_eq!(out[0].events.len(), 1);
    assert!(out[4].events.is_empty() && out[5].events.is_empty());

    // Two moves in one batch see each other: third to the top, then first after it.
    let moved = commit(
        s,
        vec![
            mv(t[2].id, a.id, k1, None, Some(1)),
            mv(t[0].id, b.id, k1, Some(t[2].id), None),
        ],
    )
    .await;
    assert_eq!(task_of(&moved[0]).version, 2);
    let (row, tasks) = s.tasks.board(board.id, b.id).await.unwrap().unwrap();
    assert_eq!(row.columns.len(), 2);
    let order: Vec<TaskId> = tasks.iter().map(|t| t.id).collect();
    assert_eq!(order, [t[2].id, t[0].id, t[1].id]);
    assert!(s.tasks.board(board.id, c.id).await.unwrap().is_none());

    // A stale version is refused and changes nothing; the current one applies.
    let patch = TaskPatch {
        title: Some("renamed".into()),
        status: Some(TaskStatus::Done),
        ..TaskPatch::default()
    };
    let update = |version| {
        WriteOp::Task(TaskOp::Update {
            task: t[1].id,
            by: b.id,
            version,
            patch: patch.clone(),
            at: T0 + 9,
        })
    };
    let stale = commit(s, vec![update(7)]).await;
    assert_eq!(rejected(&stale[0]), RejectionKind::Conflict);
    let now = s.tasks.task(t[1].id, a.id).await.unwrap().unwrap();
    assert_eq!(now, t[1], "nothing changed");
    assert_eq!(now.description, "secret plans");
    let fresh = task_of(&commit(s, vec![update(1)]).await[0]);
    assert_eq!(
        (fresh.version, fresh.title.as_str(), fresh.status),
        (2, "renamed", TaskStatus::Done)
    );
    // Into the other column, and reads by non-members find nothing.
    task_of(&commit(s, vec![mv(t[1].id, a.id, k2, None, Some(2))]).await[0]);
    assert!(s.tasks.task(t[1].id, c.id).await.unwrap().is_none());

    // Listing: membership scope, assignee, status, due, paging.
    let q = |user: UserId| TaskQuery {
        user,
        assignee: None,
        status: None,
        due_before: None,
        chat: None,
        before: None,
        limit: 10,
    };
    assert_eq!(s.tasks.tasks(&q(a.id)).await.unwrap().len(), 3);
    assert!(s.tasks.tasks(&q(c.id)).await.unwrap().is_empty());
    let mine = s
        .tasks
        .tasks(&TaskQuery {
            assignee: Some(b.id),
            ..q(a.id)
        })
        .await
        .unwrap();
    assert_eq!(mine.iter().map(|t| t.id).collect::<Vec<_>>(), [t[0].id]);
    let done = s
        .tasks
        .tasks(&TaskQuery {
            status: Some(TaskStatus::Done),
            ..q(a.id)
        })
        .await
        .unwrap();
    assert_eq!(done.iter().map(|t| t.id).collect::<Vec<_>>(), [t[1].id]);
    assert!(
        s.tasks
            .tasks(&TaskQuery {
                due_before: Some(T0),
                ..q(a.id)
            })
            .await
            .unwrap()
            .is_empty()
    );
    let page = s.tasks.tasks(&TaskQuery { limit: 2, ..q(a.id) }).await.unwrap();
    let rest = s
        .tasks
        .tasks(&TaskQuery {
            before: Some(page[1].id),
            ..q(a.id)
        })
        .await
        .unwrap();
    assert_eq!(page.len() + rest.len(), 3);
    assert!(page[1].id > rest[0].id);

    // Delete: not by a member who neither made it nor manages the chat.
    let del = |by| {
        WriteOp::Task(TaskOp::Delete {
            task: t[1].id,
            by,
            version: None,
            at: T0 + 20,
        })
    };
    assert_eq!(rejected(&commit(s, vec![del(b.id)]).await[0]), RejectionKind::Forbidden);
    let gone = commit(s, vec![del(a.id)]).await;
    assert_eq!(gone[0].events.len(), 1);
    assert!(s.tasks.task(t[1].id, a.id).await.unwrap().is_none());
    assert_eq!(s.tasks.boards(g).await.unwrap().len(), 1);
}
