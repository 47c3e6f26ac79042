//! Every socket operation of the registry, called on equal fixtures over all five
//! transports — REST, an op frame on WebSocket and on TCP, a gRPC call, a GraphQL
//! field — from one table of requests (`case`), answers the same body (or the same
//! error) everywhere: gRPC as the REST body through its reply message (the error code
//! and details in ErrorInfo), GraphQL as the REST body through the selection of every
//! field (the code in `extensions.code`). A new operation without a case fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::graphql::GraphqlClient;
use common::grpc::{GrpcClient, details_as_metadata, status_error};
use common::{Backend, TestServer, user};
use serde_json::{Map, Value, json};
use sova_client::Realtime;

/// What one fixture holds: A (acting, owner of group G), B (member), C (outsider),
/// message M by A in G, invite I of G, B's username NB, tic-tac-toe game GM of A
/// against B in G (A to move), game GW of B in G with an open seat.
/// message M by A in G, invite I of G, B's username NB, board W of G with columns
/// K1 and K2, and task T made from M, assigned to B, in K1.
pub(crate) struct Fixture {
    /// A's token (the acting user), or another user's for a refusal case.
    pub(crate) token: String,
    /// Tokens of A, B and C.
    pub(crate) tokens: [String; 3],
    pub(crate) names: Vec<String>,
    pub(crate) ids: Map<String, Value>,
}

/// Who calls in a case.
#[derive(Clone, Copy)]
enum Actor {
    A,
    B,
    C,
}

pub(crate) async fn fixture(server: &TestServer) -> Fixture {
    let (a_name, a) = user(server, "cfa").await;
    let (b_name, b) = user(server, "cfb").await;
    let (c_name, c) = user(server, "cfc").await;
    let rest = server.rest();
    let g = rest
        .raw(
            "POST",
            "/api/chats",
            Some(&a.token),
            Some(serde_json::to_vec(&json!({"type": "group", "name": "conformance", "members": [b.user_id]})).unwrap()),
        )
        .await
        .unwrap();
    let g = g.body["id"].as_i64().unwrap();
    let m = rest
        .raw(
            "POST",
            &format!("/api/chats/{g}/messages"),
            Some(&a.token),
            Some(serde_json::to_vec(&json!({"text": "first"})).unwrap()),
        )
        .await
        .unwrap();
    let invite = rest
        .raw("POST", &format!("/api/chats/{g}/invites"), Some(&a.token), None)
        .await
        .unwrap();
    let rest_ref = &rest;
    let game = |token: String, players: Value| async move {
        let r = rest_ref
            .raw(
                "POST",
                &format!("/api/chats/{g}/games"),
                Some(&token),
                Some(serde_json::to_vec(&json!({"kind": "tictactoe", "players": players})).unwrap()),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].clone()
    };
    let gm = game(a.token.clone(), json!([b.user_id])).await;
    let gw = game(b.token.clone(), json!([])).await;
    let board = rest
        .raw(
            "POST",
            &format!("/api/chats/{g}/boards"),
            Some(&a.token),
            Some(serde_json::to_vec(&json!({"name": "plan", "columns": ["todo", "done"]})).unwrap()),
        )
        .await
        .unwrap();
    let (k1, k2) = (&board.body["columns"][0]["id"], &board.body["columns"][1]["id"]);
    let task = rest
        .raw(
            "POST",
            &format!("/api/chats/{g}/tasks"),
            Some(&a.token),
            Some(
                serde_json::to_vec(
                    &json!({"title": "plan", "message_id": m.body["id"], "assignees": [b.user_id], "column_id": k1}),
                )
                .unwrap(),
            ),
        )
        .await
        .unwrap();
    let ids = json!({
        "A": a.user_id, "B": b.user_id, "C": c.user_id, "G": g,
        "M": m.body["id"], "I": invite.body["code"], "NB": b_name,
        "W": board.body["id"], "K1": k1, "K2": k2, "T": task.body["id"],
        "GM": gm, "GW": gw,
    });
    Fixture {
        token: a.token.clone(),
        tokens: [a.token, b.token, c.token],
        names: vec![a_name, b_name, c_name],
        ids: ids.as_object().unwrap().clone(),
    }
}

/// The request of operation `name` on a fixture (`"$X"` strings are fixture ids).
fn case(name: &str) -> Option<Value> {
    Some(match name {
        "create_chat" => json!({"type": "group", "name": "new", "members": ["$B"]}),
        "chats" => json!({"limit": 10}),
        "get_chat" | "delete_chat" | "members" | "leave" | "mute" | "unmute" | "invites" | "pins" | "typing" => {
            json!({"chat_id": "$G"})
        }
        "update_chat" => json!({"chat_id": "$G", "name": "renamed"}),
        "add_members" => json!({"chat_id": "$G", "members": ["$C"]}),
        "remove_member" => json!({"chat_id": "$G", "user_id": "$B"}),
        "set_role" => json!({"chat_id": "$G", "user_id": "$B", "role": "admin"}),
        "create_invite" => json!({"chat_id": "$G", "max_uses": 5}),
        "revoke_invite" => json!({"chat_id": "$G", "code": "$I"}),
        "join" => json!({"code": "$I"}),
        "send" => json!({"chat_id": "$G", "text": "hello", "client_msg_id": "c1"}),
        "messages" => json!({"chat_id": "$G", "limit": 10}),
        "search" => json!({"q": "hello", "chat_id": "$G", "limit": 5}),
        "get_message" | "delete" | "versions" | "pin" | "unpin" => json!({"chat_id": "$G", "message_id": "$M"}),
        "edit" => json!({"chat_id": "$G", "message_id": "$M", "text": "edited"}),
        "react" | "unreact" => json!({"chat_id": "$G", "message_id": "$M", "emoji": "👍"}),
        "read" => json!({"chat_id": "$G", "up_to": 1}),
        "presence" => json!({"user_ids": ["$B", "$C"]}),
        "get_user" => json!({"user_id": "$B"}),
        "users" => json!({"q": "$NB", "limit": 5}),
        "put_settings" => json!({"settings": {"theme": "dark", "font_size": 15}}),
        "create_game" => {
            json!({"chat_id": "$G", "kind": "tictactoe", "players": ["$B"], "options": {"move_seconds": 60}})
        }
        "join_game" => json!({"game_id": "$GW"}),
        "move" => json!({"game_id": "$GM", "move": {"cell": 4}}),
        "get_game" => json!({"game_id": "$GM"}),
        "leaderboard" => json!({"kind": "tictactoe", "chat_id": "$G", "limit": 10}),
        "user_stats" => json!({"user_id": "$B"}),
        "me"
        | "settings"
        | "totp_status"
        | "totp_setup"
        | "sessions"
        | "revoke_other_sessions"
        | "security_alerts"
        | "audit_log" => {
            json!({})
        }
        "totp_enable" | "totp_backup_codes" => json!({"code": "000000"}),
        "totp_disable" => json!({"password": "wrong password", "code": "000000"}),
        "revoke_session" => json!({"session_id": "no-such-session"}),
        "admin_revoke_sessions" => json!({"user_id": "$B"}),
        "create_task" => json!({
            "chat_id": "$G", "title": "new task", "assignees": ["$B"], "message_id": "$M", "priority": "urgent",
            "due": "2031-05-06T07:08:09Z", "labels": ["x"], "checklist": [{"text": "a", "done": true}, {"text": "b", "done": false}],
            "column_id": "$K2",
        }),
        "get_task" | "delete_task" => json!({"task_id": "$T"}),
        "update_task" => json!({"task_id": "$T", "version": 1, "title": "renamed", "status": "done", "due": null}),
        "tasks" => json!({"chat_id": "$G", "status": "todo", "limit": 10}),
        "move_task" => json!({"task_id": "$T", "column_id": "$K2", "version": 1}),
        "create_board" => json!({"chat_id": "$G", "name": "roadmap", "columns": ["now", "next", "later"]}),
        "get_board" => json!({"board_id": "$W"}),
        "boards" => json!({"chat_id": "$G"}),
        _ => return None,
    })
}

fn resolve(v: &Value, f: &Fixture) -> Value {
    match v {
        Value::String(s) if s.starts_with('$') => f.ids[&s[1..]].clone(),
        Value::Array(a) => a.iter().map(|x| resolve(x, f)).collect(),
        Value::Object(o) => o.iter().map(|(k, x)| (k.clone(), resolve(x, f))).collect(),
        other => other.clone(),
    }
}

fn query_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(query_value).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

async fn over_rest(server: &TestServer, entry: &sova_ops::Entry, req: &Map<String, Value>, token: &str) -> Value {
    let mut req = req.clone();
    let mut path = entry.spec.path.to_owned();
    for p in sova_ops::openapi::path_params(entry.spec.path) {
        let v = req.remove(p).unwrap();
        path = path.replace(&format!("{{{p}}}"), &query_value(&v));
    }
    let body = if entry.spec.method.has_body() {
        Some(serde_json::to_vec(&req).unwrap())
    } else {
        let q: Vec<String> = req.iter().map(|(k, v)| format!("{k}={}", query_value(v))).collect();
        if !q.is_empty() {
            path = format!("{path}?{}", q.join("&"));
        }
        None
    };
    let method = entry.spec.method.as_str().to_uppercase();
    let r = server.rest().raw(&method, &path, Some(token), body).await.unwrap();
    if r.status >= 400 {
        json!({"error": [r.body["code"], r.body["message"], r.body["details"]]})
    } else {
        json!({"status": if r.status == 204 { 200 } else { r.status }, "data": r.body})
    }
}

async fn over_socket(rt: &mut Realtime, entry: &sova_ops::Entry, req: &Map<String, Value>) -> Value {
    let mut frame = req.clone();
    // `type` is the frame's own field; create_chat takes the chat type as `chat_type`.
    if let Some(kind) = frame.remove("type") {
        frame.insert("chat_type".into(), kind);
    }
    frame.insert("type".into(), entry.spec.name.into());
    match rt.request(Value::Object(frame)).await {
        Ok(f) => {
            assert_eq!(f["type"], "result", "{f}");
            let created = entry.spec.status == 201;
            json!({"status": if created { 201 } else { 200 }, "data": f["data"]})
        }
        Err(sova_client::ClientError::Api { error, .. }) => {
            json!({"error": [error.code, error.message, error.details]})
        }
        Err(e) => panic!("{}: {e}", entry.spec.name),
    }
}

async fn over_grpc(client: &mut GrpcClient, entry: &sova_ops::Entry, req: &Map<String, Value>, token: &str) -> Value {
    match client
        .call(entry.spec.name, &Value::Object(req.clone()), Some(token))
        .await
    {
        Ok(data) => json!({ "data": data }),
        Err(s) => json!({ "error": status_error(&s) }),
    }
}

/// A REST answer as the GraphQL selection of every field sees it.
fn rest_as_graphql(client: &GraphqlClient, entry: &sova_ops::Entry, via_rest: &Value) -> Value {
    match via_rest.get("error") {
        Some(e) => json!({ "error": e }),
        None => json!({ "data": client.project(entry.spec.name, &via_rest["data"]) }),
    }
}

/// A REST answer as the gRPC transport carries it.
fn rest_as_grpc(client: &GrpcClient, entry: &sova_ops::Entry, via_rest: &Value) -> Value {
    match via_rest.get("error") {
        Some(e) => json!({ "error": [e[0], e[1], details_as_metadata(&e[2])] }),
        None => json!({ "data": client.project(entry.spec.name, &via_rest["data"]) }),
    }
}

const VOLATILE: &[&str] = &[
    "seq",
    "chat_seq",
    "last_seq",
    "last_read_seq",
    "timestamp",
    "created_at",
    "edited_at",
    "expires_at",
    "last_seen",
    "last_active",
    "at",
    "code",
    "secret",
    "otpauth_uri",
    "qr_svg",
    "ip",
    "user_agent",
    // The token's remaining lifetime ticks.
    "expires_in",
    // A game's clock, and its seats and turn (user ids in arrays and plain fields).
    "deadline",
    "players",
    "seats",
    "turn",
    // `general` grows with every fixture.
    "member_count",
    // Seconds left in the limiter's window (`rate_limited`); checked to be positive.
    "retry_after",
    // User ids.
    "assignees",
];

/// Replaces what differs between two equal fixtures: ids, times, names, secrets.
pub(crate) fn normalize(v: &Value, f: &Fixture) -> Value {
    match v {
        Value::Object(o) => o
            .iter()
            .map(|(k, x)| {
                let volatile = k == "id"
                    || k.ends_with("_id")
                    || k.ends_with("_ids")
                    || k.ends_with("_at")
                    || k.ends_with("_by")
                    || k == "by"
                    || VOLATILE.contains(&k.as_str());
                let x = if volatile && !x.is_null() {
                    json!("<volatile>")
                } else {
                    normalize(x, f)
                };
                (k.clone(), x)
            })
            .collect(),
        Value::Array(a) => a.iter().map(|x| normalize(x, f)).collect(),
        Value::String(s) => {
            let mut s = s.clone();
            for (i, name) in f.names.iter().enumerate() {
                s = s.replace(name, &format!("<user{i}>"));
            }
            Value::String(s)
        }
        other => other.clone(),
    }
}

/// Sends messages to G as the holder of `token` over REST until the per-user message
/// limit refuses one, so the next send on any transport hits the limit.
async fn exhaust_messages(server: &TestServer, token: &str, group: &Value) {
    let path = format!("/api/chats/{group}/messages");
    for i in 0..100 {
        let body = serde_json::to_vec(&json!({"text": format!("burn {i}")})).unwrap();
        let r = server.rest().raw("POST", &path, Some(token), Some(body)).await.unwrap();
        if r.status == 429 {
            assert_eq!(r.body["code"], "rate_limited", "{}", r.body);
            return;
        }
        assert_eq!(r.status, 201, "{}", r.body);
    }
    panic!("the message limit never refused a send");
}

/// Runs `template` as `actor` over all five transports on equal fixtures and requires
/// the same answer everywhere; returns the (normalized) REST answer. With `exhaust`,
/// each fixture's actor first uses up its message budget (just before its call).
async fn compare(
    server: &TestServer,
    grpc: &mut GrpcClient,
    graphql: &GraphqlClient,
    entry: &sova_ops::Entry,
    template: &Value,
    actor: Actor,
    exhaust: bool,
) -> Value {
    let name = entry.spec.name;
    // One fixture per transport, made concurrently (registrations dominate the time).
    let (rest_fx, ws_fx, tcp_fx, grpc_fx, gql_fx) = tokio::join!(
        fixture(server),
        fixture(server),
        fixture(server),
        fixture(server),
        fixture(server)
    );
    let (mut rest_fx, mut ws_fx, mut tcp_fx, mut grpc_fx, mut gql_fx) = (rest_fx, ws_fx, tcp_fx, grpc_fx, gql_fx);
    for fx in [&mut rest_fx, &mut ws_fx, &mut tcp_fx, &mut grpc_fx, &mut gql_fx] {
        fx.token = fx.tokens[actor as usize].clone();
    }
    let req = |f: &Fixture| resolve(template, f).as_object().unwrap().clone();

    let burn = |fx: &Fixture| {
        let (token, group) = (fx.token.clone(), fx.ids["G"].clone());
        async move {
            if exhaust {
                exhaust_messages(server, &token, &group).await;
            }
        }
    };
    burn(&rest_fx).await;
    let raw_rest = over_rest(server, entry, &req(&rest_fx), &rest_fx.token).await;
    let rest_as_grpc = normalize(&rest_as_grpc(grpc, entry, &raw_rest), &rest_fx);
    let rest_as_graphql = normalize(&rest_as_graphql(graphql, entry, &raw_rest), &rest_fx);
    let via_rest = normalize(&raw_rest, &rest_fx);

    for (transport, fx) in [("WebSocket", &ws_fx), ("TCP", &tcp_fx)] {
        let mut rt = if transport == "TCP" {
            server.tcp().await
        } else {
            server.ws().await
        };
        rt.auth_token(&fx.token, None).await.unwrap();
        burn(fx).await;
        let via_socket = normalize(&over_socket(&mut rt, entry, &req(fx)).await, fx);
        rt.close().await;
        assert_eq!(
            via_rest, via_socket,
            "{name} answers differently over REST and {transport}"
        );
    }

    burn(&grpc_fx).await;
    let via_grpc = normalize(&over_grpc(grpc, entry, &req(&grpc_fx), &grpc_fx.token).await, &grpc_fx);
    assert_eq!(rest_as_grpc, via_grpc, "{name} answers differently over REST and gRPC");

    burn(&gql_fx).await;
    let via_graphql = normalize(&graphql.call(name, &req(&gql_fx), &gql_fx.token).await, &gql_fx);
    assert_eq!(
        rest_as_graphql, via_graphql,
        "{name} answers differently over REST and GraphQL"
    );
    via_rest
}

/// Refusals, from the same kind of table: who calls, and a request that must fail the
/// same way on every transport (permission denials, bad input, unknown ids).
fn refusals() -> Vec<(&'static str, Actor, Value)> {
    vec![
        // An outsider cannot write to or read a group.
        ("send", Actor::C, json!({"chat_id": "$G", "text": "intruder"})),
        ("messages", Actor::C, json!({"chat_id": "$G", "limit": 10})),
        // Only the author edits; only the owner deletes the chat or changes roles.
        (
            "edit",
            Actor::B,
            json!({"chat_id": "$G", "message_id": "$M", "text": "not mine"}),
        ),
        ("delete_chat", Actor::B, json!({"chat_id": "$G"})),
        (
            "set_role",
            Actor::B,
            json!({"chat_id": "$G", "user_id": "$A", "role": "member"}),
        ),
        // Bad input.
        ("send", Actor::A, json!({"chat_id": "$G", "text": ""})),
        ("create_chat", Actor::A, json!({"type": "no-such-kind", "name": "x"})),
        ("read", Actor::A, json!({"chat_id": "$G", "up_to": -5})),
        ("users", Actor::A, json!({"q": "x", "limit": 500})),
        // Games: an outsider cannot see or play; an illegal move; not your turn.
        ("get_game", Actor::C, json!({"game_id": "$GM"})),
        ("move", Actor::C, json!({"game_id": "$GM", "move": {"cell": 0}})),
        ("move", Actor::A, json!({"game_id": "$GM", "move": {"cell": 9}})),
        ("move", Actor::B, json!({"game_id": "$GM", "move": {"cell": 0}})),
        ("create_game", Actor::A, json!({"chat_id": "$G", "kind": "chess"})),
        // Tasks: a stale version, an outsider, bad input.
        (
            "update_task",
            Actor::A,
            json!({"task_id": "$T", "version": 7, "title": "stale"}),
        ),
        ("get_task", Actor::C, json!({"task_id": "$T"})),
        ("create_task", Actor::A, json!({"chat_id": "$G", "title": ""})),
        (
            "create_task",
            Actor::A,
            json!({"chat_id": "$G", "title": "t", "assignees": ["$C"]}),
        ),
        (
            "move_task",
            Actor::B,
            json!({"task_id": "$T", "column_id": "$K2", "after": "$T"}),
        ),
        // Unknown ids.
        ("get_chat", Actor::A, json!({"chat_id": 987_654_321})),
        ("get_user", Actor::A, json!({"user_id": 987_654_321})),
        (
            "react",
            Actor::A,
            json!({"chat_id": "$G", "message_id": 987_654_321, "emoji": "👍"}),
        ),
    ]
}

async fn refusals_answer_alike(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| {
        c.rate_limit_register_per_hour = 100_000;
        c.rate_limit_login_per_min = 100_000;
        c.rate_limit_frames_per_sec = 100_000;
    })
    .await
    else {
        return;
    };
    let mut grpc = GrpcClient::connect(&server.grpc).await;
    let graphql = GraphqlClient::connect(&server.http).await;
    for (name, actor, template) in refusals() {
        let entry = sova_ops::socket_op(name).unwrap();
        let answer = compare(&server, &mut grpc, &graphql, entry, &template, actor, false).await;
        assert!(
            answer.get("error").is_some(),
            "{name} as a refusal case succeeded: {answer}"
        );
    }
    server.stop().await;
}

/// A send over the per-user message limit: `rate_limited` with the same message and
/// `retry_after` detail (present and positive) on every transport.
async fn rate_limits_answer_alike(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| {
        c.rate_limit_register_per_hour = 100_000;
        c.rate_limit_login_per_min = 100_000;
        c.rate_limit_frames_per_sec = 100_000;
        // Tiny, so that a few sends reach it (the fixture itself sends one).
        c.rate_limit_messages_per_min = 3;
    })
    .await
    else {
        return;
    };
    let mut grpc = GrpcClient::connect(&server.grpc).await;
    let graphql = GraphqlClient::connect(&server.http).await;
    let entry = sova_ops::socket_op("send").unwrap();
    let template = json!({"chat_id": "$G", "text": "over the limit"});
    let answer = compare(&server, &mut grpc, &graphql, entry, &template, Actor::A, true).await;
    assert_eq!(answer["error"][0], "rate_limited", "{answer}");
    assert_eq!(answer["error"][2]["retry_after"], "<volatile>", "{answer}");
    // The value itself (normalized away above, as it ticks) is a positive wait.
    let fx = fixture(&server).await;
    exhaust_messages(&server, &fx.token, &fx.ids["G"]).await;
    let path = format!("/api/chats/{}/messages", fx.ids["G"]);
    let body = serde_json::to_vec(&json!({"text": "again"})).unwrap();
    let r = server
        .rest()
        .raw("POST", &path, Some(&fx.token), Some(body))
        .await
        .unwrap();
    assert_eq!(r.status, 429);
    assert!(r.body["details"]["retry_after"].as_u64().unwrap() >= 1, "{}", r.body);
    server.stop().await;
}

async fn every_socket_operation_answers_like_rest(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| {
        c.rate_limit_register_per_hour = 100_000;
        c.rate_limit_login_per_min = 100_000;
        c.rate_limit_frames_per_sec = 100_000;
    })
    .await
    else {
        return;
    };
    let mut missing = Vec::new();
    let mut compared = 0;
    let mut grpc = GrpcClient::connect(&server.grpc).await;
    let graphql = GraphqlClient::connect(&server.http).await;
    for entry in sova_ops::all().iter().filter(|e| e.spec.socket) {
        let Some(template) = case(entry.spec.name) else {
            missing.push(entry.spec.name);
            continue;
        };
        compare(&server, &mut grpc, &graphql, entry, &template, Actor::A, false).await;
        compared += 1;
    }
    assert!(missing.is_empty(), "operations without a conformance case: {missing:?}");
    assert!(compared >= 40, "compared only {compared} operations");
    server.stop().await;
}

// Five transports and five fixtures per operation: more than the usual two minutes.
mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_socket_operation_answers_like_rest() {
        tokio::time::timeout(
            std::time::Duration::from_secs(300),
            super::every_socket_operation_answers_like_rest(super::common::Backend::Sqlite),
        )
        .await
        .expect("test timed out");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refusals_answer_alike() {
        tokio::time::timeout(
            std::time::Duration::from_secs(120),
            super::refusals_answer_alike(super::common::Backend::Sqlite),
        )
        .await
        .expect("test timed out");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rate_limits_answer_alike() {
        tokio::time::timeout(
            std::time::Duration::from_secs(120),
            super::rate_limits_answer_alike(super::common::Backend::Sqlite),
        )
        .await
        .expect("test timed out");
    }
}
mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_socket_operation_answers_like_rest() {
        tokio::time::timeout(
            std::time::Duration::from_secs(300),
            super::every_socket_operation_answers_like_rest(super::common::Backend::Postgres),
        )
        .await
        .expect("test timed out");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refusals_answer_alike() {
        tokio::time::timeout(
            std::time::Duration::from_secs(120),
            super::refusals_answer_alike(super::common::Backend::Postgres),
        )
        .await
        .expect("test timed out");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rate_limits_answer_alike() {
        tokio::time::timeout(
            std::time::Duration::from_secs(120),
            super::rate_limits_answer_alike(super::common::Backend::Postgres),
        )
        .await
        .expect("test timed out");
    }
}
