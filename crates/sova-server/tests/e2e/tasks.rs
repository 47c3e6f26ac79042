//! Tasks and boards end to end, on both databases: create, read, change and
//! delete over REST and op frames with the `task_*` events reaching members
//! live; a stale version answers `conflict` and changes nothing; two clients
//! moving one task at once (one wins, the loser re-reads and retries); board
//! order; non-members refused; typed validation errors; list filters and
//! pagination; task events replayed on resume.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, TestServer, user};
use serde_json::{Value, json};
use sova_client::Realtime;

/// One REST call: (status, body).
async fn call(server: &TestServer, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| serde_json::to_vec(&b).unwrap());
    let r = server.rest().raw(method, path, Some(token), body).await.unwrap();
    (r.status, r.body)
}

/// A group of `owner` with `members`; its id.
async fn group(server: &TestServer, owner: &str, members: &[i64]) -> i64 {
    let (s, g) = call(
        server,
        "POST",
        "/api/chats",
        owner,
        Some(json!({"type": "group", "name": "plans", "members": members})),
    )
    .await;
    assert_eq!(s, 201, "{g}");
    g["id"].as_i64().unwrap()
}

async fn create(server: &TestServer, token: &str, chat: i64, body: Value) -> Value {
    let (s, t) = call(server, "POST", &format!("/api/chats/{chat}/tasks"), token, Some(body)).await;
    assert_eq!(s, 201, "{t}");
    t
}

/// A member's socket, authenticated.
async fn socket(server: &TestServer, transport: &str, token: &str) -> Realtime {
    let mut rt = server.realtime(transport).await;
    rt.auth_token(token, None).await.unwrap();
    rt
}

async fn task_lifecycle_reaches_members_live(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let (_, a) = user(&server, "tka").await;
    let (_, b) = user(&server, "tkb").await;
    let (_, c) = user(&server, "tkc").await;
    let g = group(&server, &a.token, &[b.user_id.0]).await;
    let mut b_ws = socket(&server, "ws", &b.token).await;

    let (_, m) = call(
        &server,
        "POST",
        &format!("/api/chats/{g}/messages"),
        &a.token,
        Some(json!({"text": "someone should fix the door"})),
    )
    .await;
    let t = create(
        &server,
        &a.token,
        g,
        json!({
            "title": "Fix the door", "description": "the hinge squeaks", "assignees": [b.user_id],
            "due": "2030-01-02T03:04:05Z", "priority": "high", "labels": ["home", "home", "diy"],
            "checklist": [{"text": "buy oil", "done": true}, {"text": "oil it", "done": false}],
            "message_id": m["id"],
        }),
    )
    .await;
    for field in [
        "id",
        "chat_id",
        "title",
        "status",
        "assignees",
        "due",
        "priority",
        "labels",
        "checklist",
        "progress",
        "version",
        "created_by",
        "created_at",
        "updated_at",
    ] {
        assert!(t.get(field).is_some(), "{field} missing in {t}");
    }
    assert_eq!(t["chat_id"], g);
    assert_eq!(t["status"], "todo");
    assert_eq!(t["assignees"], json!([b.user_id]));
    assert_eq!(t["due"], "2030-01-02T03:04:05Z");
    assert_eq!(t["labels"], json!(["home", "diy"]));
    assert_eq!(t["progress"], 50);
    assert_eq!(t["version"], 1);
    assert_eq!(t["created_by"], a.user_id.0);
    assert_eq!(t["message_id"], m["id"]);
    let id = t["id"].as_i64().unwrap();
    let pushed = b_ws.recv_type("task_created").await.unwrap();
    assert_eq!(pushed["task"], t, "the event carries the task as REST answered it");
    assert!(pushed["seq"].as_i64().unwrap() > 0);

    // Only members see it.
    let (s, got) = call(&server, "GET", &format!("/api/tasks/{id}"), &b.token, None).await;
    assert_eq!((s, &got), (200, &t));
    let (s, e) = call(&server, "GET", &format!("/api/tasks/{id}"), &c.token, None).await;
    assert_eq!((s, e["code"].as_str()), (404, Some("not_found")), "{e}");
    let (s, e) = call(
        &server,
        "PATCH",
        &format!("/api/tasks/{id}"),
        &c.token,
        Some(json!({"version": 1, "title": "mine now"})),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (404, Some("not_found")), "{e}");

    // A change at the version read; the checklist drives progress.
    let (s, t2) = call(
        &server,
        "PATCH",
        &format!("/api/tasks/{id}"),
        &a.token,
        Some(json!({"version": 1, "status": "in_progress", "checklist": [{"text": "buy oil", "done": true}, {"text": "oil it", "done": true}], "due": null})),
    )
    .await;
    assert_eq!(s, 200, "{t2}");
    assert_eq!((t2["version"].as_i64(), t2["progress"].as_i64()), (Some(2), Some(100)));
    assert_eq!(t2["status"], "in_progress");
    assert!(t2["due"].is_null(), "{t2}");
    assert_eq!(t2["title"], "Fix the door", "fields not named stay");
    let pushed = b_ws.recv_type("task_updated").await.unwrap();
    assert_eq!(pushed["task"], t2);

    // A stale version: 409 conflict with the current version, nothing changed.
    let (s, e) = call(
        &server,
        "PATCH",
        &format!("/api/tasks/{id}"),
        &b.token,
        Some(json!({"version": 1, "title": "stale write"})),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("conflict")), "{e}");
    assert_eq!(e["details"]["version"], 2);
    let (_, now) = call(&server, "GET", &format!("/api/tasks/{id}"), &b.token, None).await;
    assert_eq!(now, t2, "a refused write changes nothing");

    // The same over an op frame, by the assignee.
    let f = b_ws
        .request(json!({"type": "update_task", "task_id": id, "version": 2, "title": "Fix the front door"}))
        .await
        .unwrap();
    assert_eq!(f["data"]["version"], 3, "{f}");
    assert_eq!(f["data"]["title"], "Fix the front door");
    let stale = b_ws
        .request(json!({"type": "update_task", "task_id": id, "version": 2, "title": "again"}))
        .await;
    match stale {
        Err(sova_client::ClientError::Api { error, .. }) => assert_eq!(error.code, sova_types::ErrorCode::Conflict),
        other => panic!("expected conflict, got {other:?}"),
    }

    // Delete: not by a plain member who did not create it; by its creator.
    let (s, e) = call(&server, "DELETE", &format!("/api/tasks/{id}"), &b.token, None).await;
    assert_eq!((s, e["code"].as_str()), (403, Some("forbidden")), "{e}");
    let (s, _) = call(&server, "DELETE", &format!("/api/tasks/{id}"), &a.token, None).await;
    assert_eq!(s, 204);
    let gone = b_ws.recv_type("task_deleted").await.unwrap();
    assert_eq!(
        (gone["task_id"].as_i64(), gone["chat_id"].as_i64()),
        (Some(id), Some(g))
    );
    let (s, _) = call(&server, "GET", &format!("/api/tasks/{id}"), &a.token, None).await;
    assert_eq!(s, 404);
    b_ws.close().await;
    server.stop().await;
}

async fn invalid_input_gets_typed_errors(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let (_, a) = user(&server, "tva").await;
    let (_, b) = user(&server, "tvb").await;
    let (_, c) = user(&server, "tvc").await;
    let g = group(&server, &a.token, &[b.user_id.0]).await;
    let other = group(&server, &a.token, &[]).await;
    let (_, elsewhere) = call(
        &server,
        "POST",
        &format!("/api/chats/{other}/messages"),
        &a.token,
        Some(json!({"text": "not in g"})),
    )
    .await;
    let labels: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
    let items: Vec<Value> = (0..101)
        .map(|i| json!({"text": format!("i{i}"), "done": false}))
        .collect();
    let cases = [
        (json!({"title": "  "}), 400, "bad_request"),
        (json!({"title": "x".repeat(201)}), 413, "too_large"),
        (
            json!({"title": "t", "description": "d".repeat(10_001)}),
            413,
            "too_large",
        ),
        (json!({"title": "t", "labels": labels}), 413, "too_large"),
        (json!({"title": "t", "checklist": items}), 413, "too_large"),
        (json!({"title": "t", "assignees": [c.user_id]}), 400, "bad_request"),
        (json!({"title": "t", "message_id": elsewhere["id"]}), 400, "bad_request"),
        (json!({"title": "t", "due": "next tuesday"}), 400, "bad_request"),
        (json!({"title": "t", "priority": "asap"}), 400, "bad_request"),
        (json!({"title": "t", "column_id": 987_654_321}), 404, "not_found"),
    ];
    for (body, status, code) in cases {
        let (s, e) = call(
            &server,
            "POST",
            &format!("/api/chats/{g}/tasks"),
            &a.token,
            Some(body.clone()),
        )
        .await;
        assert_eq!((s, e["code"].as_str()), (status, Some(code)), "{body}: {e}");
    }
    let (s, e) = call(
        &server,
        "POST",
        &format!("/api/chats/{g}/tasks"),
        &a.token,
        Some(json!({"title": "x".repeat(201)})),
    )
    .await;
    assert_eq!((s, e["details"]["max"].as_i64()), (413, Some(200)), "{e}");
    // Non-members cannot create tasks or boards, nor read boards.
    let (s, _) = call(
        &server,
        "POST",
        &format!("/api/chats/{g}/tasks"),
        &c.token,
        Some(json!({"title": "t"})),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = call(
        &server,
        "POST",
        &format!("/api/chats/{g}/boards"),
        &c.token,
        Some(json!({"name": "b", "columns": ["x"]})),
    )
    .await;
    assert_eq!(s, 404);
    let (s, e) = call(
        &server,
        "POST",
        &format!("/api/chats/{g}/boards"),
        &a.token,
        Some(json!({"name": "b", "columns": []})),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (400, Some("bad_request")), "{e}");
    let (_, board) = call(
        &server,
        "POST",
        &format!("/api/chats/{g}/boards"),
        &a.token,
        Some(json!({"name": "b", "columns": ["x"]})),
    )
    .await;
    let (s, _) = call(&server, "GET", &format!("/api/boards/{}", board["id"]), &c.token, None).await;
    assert_eq!(s, 404);
    // A column of another chat's board is not a place for this chat's task.
    let (_, foreign) = call(
        &server,
        "POST",
        &format!("/api/chats/{other}/boards"),
        &a.token,
        Some(json!({"name": "o", "columns": ["y"]})),
    )
    .await;
    let t = create(&server, &a.token, g, json!({"title": "t"})).await;
    let (s, e) = call(
        &server,
        "POST",
        &format!("/api/tasks/{}/move", t["id"]),
        &a.token,
        Some(json!({"column_id": foreign["columns"][0]["id"]})),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (404, Some("not_found")), "{e}");
    // Assigning a non-member in a change is refused too, and changes nothing.
    let (s, e) = call(
        &server,
        "PATCH",
        &format!("/api/tasks/{}", t["id"]),
        &a.token,
        Some(json!({"version": 1, "assignees": [c.user_id]})),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (400, Some("bad_request")), "{e}");
    let (_, same) = call(&server, "GET", &format!("/api/tasks/{}", t["id"]), &a.token, None).await;
    assert_eq!(same, t);
    server.stop().await;
}

/// Task ids of a board's columns, in order.
fn layout(board: &Value) -> Vec<Vec<i64>> {
    board["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_i64().unwrap())
                .collect()
        })
        .collect()
}

async fn boards_order_tasks_and_concurrent_moves_resolve_by_version(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let (_, a) = user(&server, "tba").await;
    let (_, b) = user(&server, "tbb").await;
    let g = group(&server, &a.token, &[b.user_id.0]).await;
    let mut b_tcp = socket(&server, "tcp", &b.token).await;
    let (s, board) = call(
        &server,
        "POST",
        &format!("/api/chats/{g}/boards"),
        &a.token,
        Some(json!({"name": "Sprint", "columns": ["To do", "Doing", "Done"]})),
    )
    .await;
    assert_eq!(s, 201, "{board}");
    let pushed = b_tcp.recv_type("board_updated").await.unwrap();
    assert_eq!(pushed["board"], board);
    let cols: Vec<i64> = board["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(cols.len(), 3);
    let bid = board["id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for title in ["one", "two", "three"] {
        let t = create(&server, &a.token, g, json!({"title": title, "column_id": cols[0]})).await;
        assert_eq!(t["board_id"], bid);
        ids.push(t["id"].as_i64().unwrap());
    }
    let (_, got) = call(&server, "GET", &format!("/api/boards/{bid}"), &b.token, None).await;
    assert_eq!(layout(&got), vec![ids.clone(), vec![], vec![]]);

    // Within a column: three after one, then two to the top.
    let (srv, token) = (&server, a.token.as_str());
    let mv = |task: i64, column: i64, after: Option<i64>, version: Option<i64>| {
        let mut body = json!({"column_id": column, "after": after});
        if let Some(v) = version {
            body["version"] = json!(v);
        }
        let path = format!("/api/tasks/{task}/move");
        async move { call(srv, "POST", &path, token, Some(body)).await }
    };
    let (s, moved) = mv(ids[2], cols[0], Some(ids[0]), None).await;
    assert_eq!(s, 200, "{moved}");
    assert_eq!(moved["version"], 2);
    let pushed = b_tcp.recv_type("task_updated").await.unwrap();
    assert_eq!(pushed["task"], moved);
    let (s, _) = mv(ids[1], cols[0], None, Some(1)).await;
    assert_eq!(s, 200);
    let (_, got) = call(&server, "GET", &format!("/api/boards/{bid}"), &a.token, None).await;
    assert_eq!(layout(&got), vec![vec![ids[1], ids[0], ids[2]], vec![], vec![]]);
    // Between columns, and `after` must be in the target column.
    let (s, e) = mv(ids[0], cols[1], Some(ids[2]), None).await;
    assert_eq!((s, e["code"].as_str()), (400, Some("bad_request")), "{e}");
    let (s, _) = mv(ids[0], cols[1], None, None).await;
    assert_eq!(s, 200);
    let (_, got) = call(&server, "GET", &format!("/api/boards/{bid}"), &a.token, None).await;
    assert_eq!(layout(&got), vec![vec![ids[1], ids[2]], vec![ids[0]], vec![]]);

    // Two clients move the same task at once with the version they read: exactly
    // one wins; the other gets 409, re-reads and retries, and both moves count.
    let task = ids[2];
    let (_, read) = call(&server, "GET", &format!("/api/tasks/{task}"), &a.token, None).await;
    let v = read["version"].as_i64().unwrap();
    let a_path = format!("/api/tasks/{task}/move");
    let by_a = call(
        &server,
        "POST",
        &a_path,
        &a.token,
        Some(json!({"column_id": cols[2], "version": v})),
    );
    let frame = json!({"type": "move_task", "task_id": task, "column_id": cols[1], "after": ids[0], "version": v});
    let by_b = b_tcp.request(frame);
    let ((a_status, a_body), b_answer) = tokio::join!(by_a, by_b);
    let b_won = b_answer.is_ok();
    match &b_answer {
        Ok(f) => assert_eq!(f["data"]["version"], v + 1, "{f}"),
        Err(sova_client::ClientError::Api { error, .. }) => {
            assert_eq!(error.code, sova_types::ErrorCode::Conflict);
            assert_eq!(error.details.as_ref().unwrap()["version"], v + 1);
        }
        Err(e) => panic!("{e}"),
    }
    assert_eq!(
        a_status == 200,
        !b_won,
        "exactly one move wins: A {a_status} {a_body}, B {b_answer:?}"
    );
    if b_won {
        assert_eq!(a_body["code"], "conflict");
        let (_, fresh) = call(&server, "GET", &format!("/api/tasks/{task}"), &a.token, None).await;
        assert_eq!(fresh["column_id"], cols[1], "the winner's move stands");
        let (s, retried) = mv(task, cols[2], None, fresh["version"].as_i64()).await;
        assert_eq!(s, 200, "{retried}");
        assert_eq!(retried["version"], v + 2);
    } else {
        assert_eq!(a_body["column_id"], cols[2]);
        let fresh = b_tcp
            .request(json!({"type": "get_task", "task_id": task}))
            .await
            .unwrap();
        assert_eq!(fresh["data"]["column_id"], cols[2], "the winner's move stands");
        let retry = json!({"type": "move_task", "task_id": task, "column_id": cols[1], "after": ids[0], "version": fresh["data"]["version"]});
        let f = b_tcp.request(retry).await.unwrap();
        assert_eq!(f["data"]["version"], v + 2, "{f}");
    }
    let (_, end) = call(&server, "GET", &format!("/api/tasks/{task}"), &a.token, None).await;
    assert_eq!(end["version"], v + 2, "both moves applied, one after the other");
    // The last move decided where it is.
    let (_, got) = call(&server, "GET", &format!("/api/boards/{bid}"), &a.token, None).await;
    let expected = if b_won {
        vec![vec![ids[1]], vec![ids[0]], vec![task]]
    } else {
        vec![vec![ids[1]], vec![ids[0], task], vec![]]
    };
    assert_eq!(layout(&got), expected);
    // Boards of the chat, listed.
    let (s, list) = call(&server, "GET", &format!("/api/chats/{g}/boards"), &b.token, None).await;
    assert_eq!(s, 200);
    assert_eq!(list[0]["id"], bid);
    b_tcp.close().await;
    server.stop().await;
}

async fn listing_filters_and_pages_across_my_chats(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let (_, a) = user(&server, "tla").await;
    let (_, b) = user(&server, "tlb").await;
    let g = group(&server, &a.token, &[b.user_id.0]).await;
    let solo = group(&server, &a.token, &[]).await;
    let mut made = Vec::new();
    for i in 0..5 {
        let due = format!("2030-01-0{}T00:00:00Z", i + 1);
        let assignees = if i % 2 == 0 {
            json!([a.user_id])
        } else {
            json!([b.user_id])
        };
        let t = create(
            &server,
            &a.token,
            g,
            json!({"title": format!("g{i}"), "assignees": assignees, "due": due, "status": if i < 2 { "done" } else { "todo" }}),
        )
        .await;
        made.push(t["id"].as_i64().unwrap());
    }
    let private = create(
        &server,
        &a.token,
        solo,
        json!({"title": "only mine", "assignees": [a.user_id]}),
    )
    .await;
    let ids = |page: &Value| -> Vec<i64> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    };
    let srv = &server;
    let list = |token: &str, query: &str| {
        let (path, token) = (format!("/api/tasks?{query}"), token.to_owned());
        async move { call(srv, "GET", &path, &token, None).await }
    };
    let (s, mine) = list(&a.token, "assignee=me").await;
    assert_eq!(s, 200, "{mine}");
    assert_eq!(
        ids(&mine),
        vec![private["id"].as_i64().unwrap(), made[4], made[2], made[0]]
    );
    let (_, b_mine) = list(&b.token, "assignee=me").await;
    assert_eq!(ids(&b_mine), vec![made[3], made[1]]);
    let (_, by_id) = list(&a.token, &format!("assignee={}", b.user_id)).await;
    assert_eq!(ids(&by_id), vec![made[3], made[1]]);
    // An op frame may name the assignee by a number.
    let mut rt = socket(&server, "tcp", &a.token).await;
    let f = rt
        .request(json!({"type": "tasks", "assignee": b.user_id, "chat_id": g}))
        .await
        .unwrap();
    assert_eq!(ids(&f["data"]), vec![made[3], made[1]]);
    rt.close().await;
    let (_, done) = list(&b.token, "status=done").await;
    assert_eq!(ids(&done), vec![made[1], made[0]]);
    let (_, soon) = list(&a.token, &format!("due_before=2030-01-03T00:00:00Z&chat_id={g}")).await;
    assert_eq!(ids(&soon), vec![made[1], made[0]]);
    // B is not in `solo`: its task never shows, and asking for it is not found.
    let (_, all_b) = list(&b.token, "").await;
    assert_eq!(ids(&all_b), vec![made[4], made[3], made[2], made[1], made[0]]);
    let (s, _) = list(&b.token, &format!("chat_id={solo}")).await;
    assert_eq!(s, 404);
    let (s, e) = list(&b.token, "status=someday").await;
    assert_eq!((s, e["code"].as_str()), (400, Some("bad_request")));
    // Pages of two, following cursors, cover everything once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let q = match &cursor {
            Some(c) => format!("limit=2&cursor={c}"),
            None => "limit=2".to_owned(),
        };
        let (s, page) = list(&b.token, &q).await;
        assert_eq!(s, 200, "{page}");
        assert!(page["items"].as_array().unwrap().len() <= 2);
        seen.extend(ids(&page));
        cursor = page["cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, vec![made[4], made[3], made[2], made[1], made[0]]);
    server.stop().await;
}

async fn resume_replays_task_events(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let (_, a) = user(&server, "tra").await;
    let (_, b) = user(&server, "trb").await;
    let g = group(&server, &a.token, &[b.user_id.0]).await;
    let mut rt = socket(&server, "ws", &b.token).await;
    let (_, m) = call(
        &server,
        "POST",
        &format!("/api/chats/{g}/messages"),
        &a.token,
        Some(json!({"text": "mark"})),
    )
    .await;
    let seen = rt.recv_type("new_message").await.unwrap();
    assert_eq!(seen["id"], m["id"]);
    let since = seen["seq"].as_i64().unwrap();
    rt.close().await;

    // Missed while away: a board, a task on it, a move, a change, a deletion.
    let (_, board) = call(
        &server,
        "POST",
        &format!("/api/chats/{g}/boards"),
        &a.token,
        Some(json!({"name": "b", "columns": ["x", "y"]})),
    )
    .await;
    let t = create(
        &server,
        &a.token,
        g,
        json!({"title": "missed", "column_id": board["columns"][0]["id"]}),
    )
    .await;
    let id = t["id"].as_i64().unwrap();
    let (s, _) = call(
        &server,
        "POST",
        &format!("/api/tasks/{id}/move"),
        &a.token,
        Some(json!({"column_id": board["columns"][1]["id"]})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call(&server, "DELETE", &format!("/api/tasks/{id}"), &a.token, None).await;
    assert_eq!(s, 204);

    for transport in ["ws", "tcp"] {
        let mut rt = server.realtime(transport).await;
        rt.auth_token(&b.token, Some(since)).await.unwrap();
        let mut types = Vec::new();
        let mut last = since;
        loop {
            let f = rt.recv().await.unwrap();
            if f["type"] == "synced" {
                break;
            }
            if let Some(seq) = f["seq"].as_i64() {
                assert!(seq > last, "replay in order, once: {f}");
                last = seq;
            }
            types.push(f["type"].as_str().unwrap_or_default().to_owned());
            if f["type"] == "task_created" {
                assert_eq!(f["task"]["title"], "missed");
            }
        }
        assert_eq!(
            types,
            ["board_updated", "task_created", "task_updated", "task_deleted"],
            "{transport}"
        );
        rt.close().await;
    }
    server.stop().await;
}

both_backends!(
    task_lifecycle_reaches_members_live,
    invalid_input_gets_typed_errors,
    boards_order_tasks_and_concurrent_moves_resolve_by_version,
    listing_filters_and_pages_across_my_chats,
    resume_replays_task_events,
);
