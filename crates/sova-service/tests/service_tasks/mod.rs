//! Service tier of tasks and boards: which typed events each operation emits, to
//! which audience, that refusals emit none, and that replay returns them.

use super::{group, harness, user};
use sova_bus::Audience;
use sova_service::tasks::{TaskChanges, TaskInput};
use sova_types::tasks::{ChecklistItem, TaskStatus};
use sova_types::{ErrorCode, Event};

#[tokio::test]
async fn task_ops_emit_typed_chat_events_and_refusals_emit_none() {
    let h = harness().await;
    let (alice, bob, carol) = (
        user(&h.services, "talice").await,
        user(&h.services, "tbob").await,
        user(&h.services, "tcarol").await,
    );
    let g = group(&h, &alice, &[&bob]).await;
    let tasks = &h.services.tasks;
    h.events.take();

    let board = tasks
        .create_board(alice.user_id, g, "Plan", &["To do".into(), "Done".into()])
        .await
        .unwrap();
    let input = TaskInput {
        title: "Write the plan".into(),
        assignees: vec![bob.user_id],
        checklist: vec![
            ChecklistItem {
                text: "outline".into(),
                done: true,
            },
            ChecklistItem {
                text: "details".into(),
                done: false,
            },
        ],
        column_id: Some(board.columns[0].id),
        ..TaskInput::default()
    };
    let t = tasks.create(alice.user_id, g, input).await.unwrap();
    assert_eq!((t.progress, t.version, t.board_id), (50, 1, Some(board.id)));
    let changes = TaskChanges {
        status: Some(TaskStatus::InProgress),
        ..TaskChanges::default()
    };
    let t2 = tasks.update(bob.user_id, t.id, 1, changes.clone()).await.unwrap();
    assert_eq!(t2.version, 2);
    let moved = tasks
        .move_to(bob.user_id, t.id, board.columns[1].id, None, None)
        .await
        .unwrap();
    assert_eq!((moved.version, moved.column_id), (3, Some(board.columns[1].id)));
    tasks.delete(alice.user_id, t.id, Some(3)).await.unwrap();

    let events = h.events.take();
    let kinds: Vec<(&Audience, &str)> = events
        .iter()
        .map(|(a, e)| {
            let kind = match e {
                Event::BoardUpdated { .. } => "board_updated",
                Event::TaskCreated { .. } => "task_created",
                Event::TaskUpdated { .. } => "task_updated",
                Event::TaskDeleted { .. } => "task_deleted",
                _ => "other",
            };
            (a, kind)
        })
        .collect();
    let chat = Audience::Chat(g);
    assert_eq!(
        kinds,
        [
            (&chat, "board_updated"),
            (&chat, "task_created"),
            (&chat, "task_updated"),
            (&chat, "task_updated"),
            (&chat, "task_deleted"),
        ]
    );
    match &events[2].1 {
        Event::TaskUpdated { task, .. } => assert_eq!(task, &t2),
        other => panic!("{other:?}"),
    }

    // Refusals write nothing and publish nothing.
    let t = tasks
        .create(
            alice.user_id,
            g,
            TaskInput {
                title: "second".into(),
                ..TaskInput::default()
            },
        )
        .await
        .unwrap();
    h.events.take();
    let stale = tasks.update(bob.user_id, t.id, 9, changes.clone()).await.unwrap_err();
    assert_eq!(stale.code, ErrorCode::Conflict);
    assert_eq!(stale.details.unwrap()["version"], 1);
    let outsider = tasks.update(carol.user_id, t.id, 1, changes).await.unwrap_err();
    assert_eq!(outsider.code, ErrorCode::NotFound);
    let not_creator = tasks.delete(bob.user_id, t.id, None).await.unwrap_err();
    assert_eq!(not_creator.code, ErrorCode::Forbidden);
    let bad = tasks
        .create(
            alice.user_id,
            g,
            TaskInput {
                title: "x".repeat(201),
                ..TaskInput::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code, ErrorCode::TooLarge);
    assert!(h.events.take().is_empty(), "a refused op publishes nothing");
    assert_eq!(tasks.get(bob.user_id, t.id).await.unwrap(), t);

    // Replay returns the stored task events, typed, to members only.
    let replay = h
        .services
        .stores
        .messages
        .events_since(bob.user_id, 0, 1000)
        .await
        .unwrap();
    let created = replay
        .iter()
        .filter(|e| matches!(e, Event::TaskCreated { task, .. } if task.chat_id == g))
        .count();
    assert_eq!(created, 2);
    let outsider_replay = h
        .services
        .stores
        .messages
        .events_since(carol.user_id, 0, 1000)
        .await
        .unwrap();
    assert!(
        !outsider_replay
            .iter()
            .any(|e| matches!(e, Event::TaskCreated { .. } | Event::BoardUpdated { .. }))
    );
}
