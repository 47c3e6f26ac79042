//! Games end to end on both databases: create, join, move and view over REST with
//! the `game_updated` and `achievement_unlocked` pushes on a WebSocket; illegal
//! moves, wrong turns and outsiders refused with the game unchanged; a finished game
//! settling ratings, statistics and achievements exactly once; the leaderboard's
//! order; a move timeout forfeited by the durable job.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, TestServer, user};
use serde_json::{Value, json};
use sova_client::{RawResponse, RestClient};
use std::time::Duration;

async fn call(rest: &RestClient, method: &str, path: &str, token: &str, body: Option<Value>) -> RawResponse {
    rest.raw(method, path, Some(token), body.map(|b| serde_json::to_vec(&b).unwrap()))
        .await
        .unwrap()
}

/// Creates a tic-tac-toe game in `chat` by the holder of `token` against `players`.
async fn tictactoe(rest: &RestClient, token: &str, chat: i64, players: Value, options: Value) -> Value {
    let r = call(
        rest,
        "POST",
        &format!("/api/chats/{chat}/games"),
        token,
        Some(json!({"kind": "tictactoe", "players": players, "options": options})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

async fn play(rest: &RestClient, token: &str, game: i64, mv: Value) -> RawResponse {
    call(
        rest,
        "POST",
        &format!("/api/games/{game}/moves"),
        token,
        Some(json!({"move": mv})),
    )
    .await
}

/// Plays a line for X (A) in the top row: A wins after five moves.
async fn a_wins(rest: &RestClient, a: &str, b: &str, game: i64) -> Value {
    let mut last = Value::Null;
    for (token, cell) in [(a, 0), (b, 3), (a, 1), (b, 4), (a, 2)] {
        let r = play(rest, token, game, json!({"cell": cell})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        last = r.body;
    }
    last
}

async fn game_flow(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (_, a) = user(&server, "gma").await;
    let (_, b) = user(&server, "gmb").await;
    let (_, c) = user(&server, "gmc").await;
    let (ua, ub) = (a.user_id.0, b.user_id.0);
    let g = call(
        &rest,
        "POST",
        "/api/chats",
        &a.token,
        Some(json!({"type": "group", "name": "games", "members": [ub]})),
    )
    .await;
    let chat = g.body["id"].as_i64().unwrap();
    let mut ws = server.ws().await;
    ws.auth_token(&a.token, None).await.unwrap();

    let game = tictactoe(&rest, &a.token, chat, json!([ub]), Value::Null).await;
    let id = game["id"].as_i64().unwrap();
    assert_eq!(game["kind"], "tictactoe");
    assert_eq!(game["chat_id"], chat);
    assert_eq!(game["players"], json!([ua, ub]));
    assert_eq!(game["turn"], ua);
    assert_eq!(game["status"], "in_progress");
    assert_eq!(game["version"], 1);
    assert_eq!(game["state"]["board"].as_array().unwrap().len(), 9);
    assert!(game["deadline"].is_string(), "{game}");
    let pushed = ws.recv_type("game_updated").await.unwrap();
    assert_eq!(pushed["game"]["id"], id);
    assert_eq!(pushed["game"]["version"], 1);
    assert!(pushed["seq"].as_i64().unwrap() > 0);

    // Members see it; an outsider gets 404 for every game operation.
    let seen = call(&rest, "GET", &format!("/api/games/{id}"), &b.token, None).await;
    assert_eq!((seen.status, &seen.body["version"]), (200, &json!(1)));
    for (method, path, body) in [
        ("GET", format!("/api/games/{id}"), None),
        (
            "POST",
            format!("/api/games/{id}/moves"),
            Some(json!({"move": {"cell": 0}})),
        ),
        ("POST", format!("/api/games/{id}/join"), None),
        (
            "POST",
            format!("/api/chats/{chat}/games"),
            Some(json!({"kind": "tictactoe"})),
        ),
    ] {
        let r = call(&rest, method, &path, &c.token, body).await;
        assert_eq!(
            (r.status, &r.body["code"]),
            (404, &json!("not_found")),
            "{path}: {}",
            r.body
        );
    }
    // Inviting a non-member is refused too.
    let r = call(
        &rest,
        "POST",
        &format!("/api/chats/{chat}/games"),
        &a.token,
        Some(json!({"kind": "tictactoe", "players": [c.user_id.0]})),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);

    // Not B's turn: 409 conflict; an illegal cell: 422 invalid_move; the game unchanged.
    let r = play(&rest, &b.token, id, json!({"cell": 0})).await;
    assert_eq!((r.status, &r.body["code"]), (409, &json!("conflict")), "{}", r.body);
    assert_eq!(r.body["details"]["reason"], "not_your_turn");
    for bad in [json!({"cell": 9}), json!({"column": 1}), json!("dance")] {
        let r = play(&rest, &a.token, id, bad).await;
        assert_eq!((r.status, &r.body["code"]), (422, &json!("invalid_move")), "{}", r.body);
    }
    let after = call(&rest, "GET", &format!("/api/games/{id}"), &a.token, None).await;
    assert_eq!(after.body["version"], 1);
    assert_eq!(
        after.body["state"], game["state"],
        "refused moves left the board as it was"
    );
    let r = play(&rest, &a.token, id, json!({"cell": 0})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = play(&rest, &b.token, id, json!({"cell": 0})).await;
    assert_eq!(
        (r.status, &r.body["code"]),
        (422, &json!("invalid_move")),
        "an occupied cell"
    );

    // A wins: the result, the push, first_win unlocked with its event.
    for (token, cell) in [(&b.token, 3), (&a.token, 1), (&b.token, 4)] {
        assert_eq!(play(&rest, token, id, json!({"cell": cell})).await.status, 200);
    }
    let done = play(&rest, &a.token, id, json!({"cell": 2})).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["status"], "finished");
    assert_eq!(done.body["result"]["outcome"], "win");
    assert_eq!(done.body["result"]["winner"], ua);
    assert_eq!(done.body["version"], 6);
    let r = play(&rest, &b.token, id, json!({"cell": 5})).await;
    assert_eq!((r.status, &r.body["details"]["reason"]), (409, &json!("game_over")));
    let mut unlocked = Vec::new();
    loop {
        let f = ws.recv().await.unwrap();
        if f["type"] == "achievement_unlocked" {
            assert_eq!(f["user_id"], ua);
            assert_eq!(f["game_id"], id);
            unlocked.push(f["achievement"].as_str().unwrap().to_owned());
        }
        if f["type"] == "game_updated" && f["game"]["status"] == "finished" {
            assert_eq!(f["game"]["result"]["winner"], ua);
        }
        if unlocked.len() == 3 {
            break;
        }
    }
    unlocked.sort();
    assert_eq!(unlocked, ["first_game", "first_tictactoe", "first_win"]);

    let stats = call(&rest, "GET", &format!("/api/users/{ua}/stats"), &b.token, None).await;
    assert_eq!(stats.status, 200, "{}", stats.body);
    assert_eq!((&stats.body["played"], &stats.body["won"]), (&json!(1), &json!(1)));
    let kind = &stats.body["kinds"][0];
    assert_eq!(kind["kind"], "tictactoe");
    assert_eq!(kind["streak"], 1);
    assert!(kind["rating"].as_f64().unwrap() > 1500.0, "{kind}");
    let ids: Vec<&str> = stats.body["achievements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.iter().filter(|a| **a == "first_win").count(), 1);
    let b_stats = call(&rest, "GET", &format!("/api/users/{ub}/stats"), &a.token, None).await;
    assert_eq!((&b_stats.body["played"], &b_stats.body["lost"]), (&json!(1), &json!(1)));
    assert!(b_stats.body["kinds"][0]["rating"].as_f64().unwrap() < 1500.0);

    // A second win: statistics grow, first_win is not unlocked (nor pushed) again.
    let second = tictactoe(&rest, &a.token, chat, json!([ub]), Value::Null).await;
    let last = a_wins(&rest, &a.token, &b.token, second["id"].as_i64().unwrap()).await;
    assert_eq!(last["result"]["winner"], ua);
    let stats = call(&rest, "GET", &format!("/api/users/{ua}/stats"), &a.token, None).await;
    assert_eq!((&stats.body["played"], &stats.body["won"]), (&json!(2), &json!(2)));
    assert_eq!(stats.body["kinds"][0]["streak"], 2);
    assert_eq!(
        stats.body["achievements"].as_array().unwrap().len(),
        3,
        "{}",
        stats.body
    );
    // A marker message: every push of the second game arrives before it.
    let marker = rest.send(&a.token, "marker").await.unwrap();
    loop {
        let f = ws.recv().await.unwrap();
        assert_ne!(f["type"], "achievement_unlocked", "unlocked again: {f}");
        if f["type"] == "new_message" && f["id"] == marker.id.0 {
            break;
        }
    }

    // Leaderboard: A above B, globally and in the chat; another chat has no players.
    for query in ["kind=tictactoe", &format!("kind=tictactoe&chat_id={chat}")] {
        let lb = call(&rest, "GET", &format!("/api/leaderboard?{query}"), &a.token, None).await;
        assert_eq!(lb.status, 200, "{}", lb.body);
        let order: Vec<&Value> = lb.body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["user_id"])
            .collect();
        assert_eq!(order, [&json!(ua), &json!(ub)], "{}", lb.body);
        assert_eq!(lb.body["entries"][0]["rank"], 1);
        assert_eq!(lb.body["entries"][0]["played"], 2);
    }
    let page = call(
        &rest,
        "GET",
        "/api/leaderboard?kind=tictactoe&limit=1&offset=1",
        &a.token,
        None,
    )
    .await;
    assert_eq!(page.body["entries"][0]["user_id"], ub);
    assert_eq!(page.body["entries"][0]["rank"], 2);
    let other = call(
        &rest,
        "POST",
        "/api/chats",
        &a.token,
        Some(json!({"type": "group", "name": "quiet"})),
    )
    .await;
    let lb = call(
        &rest,
        "GET",
        &format!("/api/leaderboard?chat_id={}", other.body["id"]),
        &a.token,
        None,
    )
    .await;
    assert_eq!(lb.body["entries"], json!([]));
    let lb = call(
        &rest,
        "GET",
        &format!("/api/leaderboard?chat_id={chat}"),
        &c.token,
        None,
    )
    .await;
    assert_eq!(lb.status, 404, "an outsider cannot list a chat's players");
    let lb = call(&rest, "GET", "/api/leaderboard?kind=chess", &a.token, None).await;
    assert_eq!(lb.status, 400);

    // An open seat: B waits, A joins and the game starts; joining twice is 409.
    let open = tictactoe(&rest, &b.token, chat, json!([]), Value::Null).await;
    assert_eq!((&open["status"], &open["turn"]), (&json!("waiting"), &Value::Null));
    let open_id = open["id"].as_i64().unwrap();
    let joined = call(&rest, "POST", &format!("/api/games/{open_id}/join"), &a.token, None).await;
    assert_eq!(joined.status, 200, "{}", joined.body);
    assert_eq!(joined.body["status"], "in_progress");
    assert_eq!(joined.body["players"], json!([ub, ua]));
    let again = call(&rest, "POST", &format!("/api/games/{open_id}/join"), &a.token, None).await;
    assert_eq!(again.status, 409, "{}", again.body);
    ws.close().await;
    server.stop().await;
}

/// Two moves sent at once on the same state: the writer applies one, the other sees
/// the new state (not A's turn any more) and is refused; nothing lost, nothing doubled.
async fn concurrent_moves_apply_exactly_once(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (_, a) = user(&server, "gca").await;
    let (_, b) = user(&server, "gcb").await;
    let g = call(
        &rest,
        "POST",
        "/api/chats",
        &a.token,
        Some(json!({"type": "group", "name": "race", "members": [b.user_id.0]})),
    )
    .await;
    let chat = g.body["id"].as_i64().unwrap();
    for _ in 0..5 {
        let game = tictactoe(&rest, &a.token, chat, json!([b.user_id.0]), Value::Null).await;
        let id = game["id"].as_i64().unwrap();
        let (x, y) = tokio::join!(
            play(&rest, &a.token, id, json!({"cell": 0})),
            play(&rest, &a.token, id, json!({"cell": 8}))
        );
        let mut statuses = [x.status, y.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "{} {}", x.body, y.body);
        let now = call(&rest, "GET", &format!("/api/games/{id}"), &a.token, None).await;
        assert_eq!(now.body["version"], 2);
        let marks = now.body["state"]["board"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| !c.is_null())
            .count();
        assert_eq!(marks, 1, "{}", now.body);
    }
    server.stop().await;
}

async fn timeout_forfeits_through_the_job(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (_, a) = user(&server, "gta").await;
    let (_, b) = user(&server, "gtb").await;
    let g = call(
        &rest,
        "POST",
        "/api/chats",
        &a.token,
        Some(json!({"type": "group", "name": "clock", "members": [b.user_id.0]})),
    )
    .await;
    let chat = g.body["id"].as_i64().unwrap();
    let game = tictactoe(&rest, &a.token, chat, json!([b.user_id.0]), json!({"move_seconds": 10})).await;
    let id = game["id"].as_i64().unwrap();
    assert_eq!(play(&rest, &a.token, id, json!({"cell": 4})).await.status, 200);
    // B never moves: the job scheduled at B's deadline forfeits B.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let finished = loop {
        let r = call(&rest, "GET", &format!("/api/games/{id}"), &a.token, None).await;
        if r.body["status"] == "finished" {
            break r.body;
        }
        assert!(tokio::time::Instant::now() < deadline, "no timeout: {}", r.body);
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(finished["result"]["outcome"], "win");
    assert_eq!(finished["result"]["winner"], a.user_id.0);
    assert_eq!(finished["result"]["reason"], "timeout");
    assert_eq!(finished["version"], 3, "exactly one timeout applied");
    let stats = call(
        &rest,
        "GET",
        &format!("/api/users/{}/stats", b.user_id.0),
        &b.token,
        None,
    )
    .await;
    assert_eq!((&stats.body["played"], &stats.body["lost"]), (&json!(1), &json!(1)));
    server.stop().await;
}

both_backends!(
    game_flow,
    concurrent_moves_apply_exactly_once,
    timeout_forfeits_through_the_job
);
