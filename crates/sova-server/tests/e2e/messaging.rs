//! The messaging-core conformance scenario: one list of operations (chats, members,
//! invites, messages, edits, reactions, pins, read state, typing, resume, permission
//! denials) run through WebSocket frames, TCP frames, and REST calls with WebSocket
//! pushes, on both databases. Every mode must give the same answers and pushes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, TestServer, user};
use serde_json::{Value, json};
use sova_client::{ClientError, Realtime, RestClient};
use sova_types::ErrorCode;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Ws,
    Tcp,
    Rest,
}

/// One user driving the server in one mode; `rt` always carries the pushes.
struct Actor {
    mode: Mode,
    name: String,
    id: i64,
    token: String,
    rest: RestClient,
    rt: Realtime,
}

impl Actor {
    async fn new(server: &TestServer, mode: Mode, prefix: &str) -> Actor {
        let (name, pair) = user(server, prefix).await;
        let mut rt = match mode {
            Mode::Tcp => server.tcp().await,
            _ => server.ws().await,
        };
        rt.auth_token(&pair.token, None).await.unwrap();
        Actor {
            mode,
            name,
            id: pair.user_id.0,
            token: pair.token,
            rest: server.rest(),
            rt,
        }
    }

    /// Runs an operation; the answer is the REST body on every transport.
    async fn call(&mut self, op: Value) -> Result<Value, ClientError> {
        if self.mode != Mode::Rest {
            return self.rt.request(op).await.map(|f| {
                assert_eq!(f["type"], "result", "{f}");
                f["data"].clone()
            });
        }
        let (method, path, body) = rest_route(&op);
        let resp = self
            .rest
            .raw(
                method,
                &path,
                Some(&self.token),
                body.map(|b| b.to_string().into_bytes()),
            )
            .await?;
        if resp.status >= 400 {
            let error = serde_json::from_value(resp.body.clone()).unwrap();
            return Err(ClientError::Api {
                status: resp.status,
                error,
            });
        }
        Ok(resp.body)
    }

    async fn ok(&mut self, op: Value) -> Value {
        let shown = op.to_string();
        self.call(op).await.unwrap_or_else(|e| panic!("{shown}: {e}"))
    }

    async fn fails(&mut self, op: Value, code: ErrorCode) {
        let shown = op.to_string();
        match self.call(op).await {
            Err(e) => assert_eq!(e.code(), Some(code), "{shown}: {e}"),
            Ok(v) => panic!("{shown} should fail with {code}, got {v}"),
        }
    }

    /// The next push of type `ty` (others are skipped).
    async fn push(&mut self, ty: &str) -> Value {
        self.rt
            .recv_type(ty)
            .await
            .unwrap_or_else(|e| panic!("{} waiting for {ty}: {e}", self.name))
    }

    /// Next push of `ty` matching `pred`.
    async fn push_where(&mut self, ty: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let f = self.push(ty).await;
            if pred(&f) {
                return f;
            }
        }
    }
}

/// The REST request equivalent to an operation frame.
fn rest_route(op: &Value) -> (&'static str, String, Option<Value>) {
    let c = &op["chat_id"];
    let m = &op["message_id"];
    let ty = op["type"].as_str().unwrap();
    match ty {
        "create_chat" => (
            "POST",
            "/api/chats".into(),
            Some(json!({"type": op["chat_type"], "name": op["name"], "members": op["members"]})),
        ),
        "chats" => ("GET", "/api/chats".into(), None),
        "get_chat" => ("GET", format!("/api/chats/{c}"), None),
        "mute" => ("PUT", format!("/api/chats/{c}/mute"), None),
        "unmute" => ("DELETE", format!("/api/chats/{c}/mute"), None),
        "update_chat" => ("PATCH", format!("/api/chats/{c}"), Some(json!({"name": op["name"]}))),
        "delete_chat" => ("DELETE", format!("/api/chats/{c}"), None),
        "members" => ("GET", format!("/api/chats/{c}/members"), None),
        "add_members" => (
            "POST",
            format!("/api/chats/{c}/members"),
            Some(json!({"members": op["members"]})),
        ),
        "remove_member" => ("DELETE", format!("/api/chats/{c}/members/{}", op["user_id"]), None),
        "set_role" => (
            "PATCH",
            format!("/api/chats/{c}/members/{}", op["user_id"]),
            Some(json!({"role": op["role"]})),
        ),
        "leave" => ("POST", format!("/api/chats/{c}/leave"), None),
        "create_invite" => (
            "POST",
            format!("/api/chats/{c}/invites"),
            Some(json!({"max_uses": op["max_uses"]})),
        ),
        "join" => (
            "POST",
            format!("/api/invites/{}/join", op["code"].as_str().unwrap()),
            None,
        ),
        "send" => ("POST", format!("/api/chats/{c}/messages"), Some(op.clone())),
        "messages" => {
            let mut q = vec![];
            for k in ["limit", "before", "after", "around"] {
                if !op[k].is_null() {
                    q.push(format!("{k}={}", op[k]));
                }
            }
            ("GET", format!("/api/chats/{c}/messages?{}", q.join("&")), None)
        }
        "edit" => (
            "PATCH",
            format!("/api/chats/{c}/messages/{m}"),
            Some(json!({"text": op["text"]})),
        ),
        "delete" => ("DELETE", format!("/api/chats/{c}/messages/{m}"), None),
        "versions" => ("GET", format!("/api/chats/{c}/messages/{m}/versions"), None),
        "react" => (
            "PUT",
            format!(
                "/api/chats/{c}/messages/{m}/reactions/{}",
                urlencode(op["emoji"].as_str().unwrap())
            ),
            None,
        ),
        "unreact" => (
            "DELETE",
            format!(
                "/api/chats/{c}/messages/{m}/reactions/{}",
                urlencode(op["emoji"].as_str().unwrap())
            ),
            None,
        ),
        "pin" => ("POST", format!("/api/chats/{c}/messages/{m}/pin"), None),
        "unpin" => ("DELETE", format!("/api/chats/{c}/messages/{m}/pin"), None),
        "pins" => ("GET", format!("/api/chats/{c}/pins"), None),
        "read" => (
            "POST",
            format!("/api/chats/{c}/read"),
            Some(json!({"up_to": op["up_to"]})),
        ),
        "typing" => ("POST", format!("/api/chats/{c}/typing"), None),
        other => panic!("no REST route for {other}"),
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn scenario(backend: Backend, mode: Mode) {
    let Some(server) = TestServer::start_with(backend, |c| c.receipts_max_members = 10).await else {
        return;
    };
    let mut alice = Actor::new(&server, mode, "alice").await;
    let mut bob = Actor::new(&server, mode, "bob").await;
    let mut carol = Actor::new(&server, mode, "carol").await;
    let mut eve = Actor::new(&server, mode, "eve").await;

    // Create a group naming members by username and by id.
    let g = alice
        .ok(json!({"type": "create_chat", "chat_type": "group", "name": "Team", "members": [bob.name, carol.id]}))
        .await;
    let gid = g["id"].as_i64().unwrap();
    assert_eq!(
        (
            g["type"].as_str(),
            g["name"].as_str(),
            g["member_count"].as_i64(),
            g["role"].as_str()
        ),
        (Some("group"), Some("Team"), Some(3), Some("owner"))
    );
    let added = bob.push("chat_added").await;
    assert_eq!(added["chat"]["id"], gid);
    assert_eq!(added["chat"]["role"], "member");

    // Isolation: eve sees nothing of it and gets not_found everywhere.
    eve.fails(json!({"type": "get_chat", "chat_id": gid}), ErrorCode::NotFound)
        .await;
    eve.fails(json!({"type": "messages", "chat_id": gid}), ErrorCode::NotFound)
        .await;
    eve.fails(
        json!({"type": "send", "chat_id": gid, "text": "let me in"}),
        ErrorCode::NotFound,
    )
    .await;
    eve.fails(json!({"type": "members", "chat_id": gid}), ErrorCode::NotFound)
        .await;

    // Send with a mention and a reply; bob gets the message and a mention event.
    let first = alice
        .ok(json!({"type": "send", "chat_id": gid, "text": "hello team"}))
        .await;
    let m = alice.ok(json!({"type": "send", "chat_id": gid, "text": format!("@{} look", bob.name), "reply_to": first["id"], "client_msg_id": "k-1"})).await;
    assert_eq!(m["reply_to"], first["id"]);
    assert_eq!(m["mentions"], json!([bob.id]));
    let again = alice
        .ok(json!({"type": "send", "chat_id": gid, "text": "dup", "client_msg_id": "k-1"}))
        .await;
    assert_eq!(again["id"], m["id"], "idempotent resend");
    let pushed = bob.push_where("new_message", |f| f["id"] == m["id"]).await;
    assert_eq!(pushed["text"], m["text"]);
    let mention = bob.push("mention").await;
    assert_eq!(mention["message_id"], m["id"]);
    let mid = m["id"].clone();

    // Edit (author only) with versions; others see message_edited.
    bob.fails(
        json!({"type": "edit", "chat_id": gid, "message_id": mid, "text": "hijack"}),
        ErrorCode::Forbidden,
    )
    .await;
    let edited = alice
        .ok(json!({"type": "edit", "chat_id": gid, "message_id": mid, "text": "edited text"}))
        .await;
    assert_eq!(edited["text"], "edited text");
    assert!(edited["edited_at"].is_string());
    let e = carol.push("message_edited").await;
    assert_eq!(
        (e["message_id"].clone(), e["text"].as_str()),
        (mid.clone(), Some("edited text"))
    );
    let versions = carol
        .ok(json!({"type": "versions", "chat_id": gid, "message_id": mid}))
        .await;
    assert_eq!(versions[0]["text"], m["text"]);

    // Reactions: one per user per emoji, aggregated.
    bob.ok(json!({"type": "react", "chat_id": gid, "message_id": mid, "emoji": "👍"}))
        .await;
    let r = carol
        .ok(json!({"type": "react", "chat_id": gid, "message_id": mid, "emoji": "👍"}))
        .await;
    assert_eq!(r["reactions"], json!([{"emoji": "👍", "count": 2, "me": true}]));
    let pushed = alice.push_where("reaction_added", |f| f["user_id"] == carol.id).await;
    assert_eq!(pushed["count"], 2);
    carol
        .ok(json!({"type": "unreact", "chat_id": gid, "message_id": mid, "emoji": "👍"}))
        .await;
    assert_eq!(alice.push("reaction_removed").await["count"], 1);

    // Pins: admins only in a group; promote bob, then he can.
    bob.fails(
        json!({"type": "pin", "chat_id": gid, "message_id": mid}),
        ErrorCode::Forbidden,
    )
    .await;
    alice
        .ok(json!({"type": "set_role", "chat_id": gid, "user_id": bob.id, "role": "admin"}))
        .await;
    assert_eq!(carol.push("member_updated").await["role"], "admin");
    assert_eq!(
        bob.ok(json!({"type": "pin", "chat_id": gid, "message_id": mid})).await["pinned"],
        true
    );
    assert_eq!(carol.push("message_pinned").await["message_id"], mid);
    let pins = carol.ok(json!({"type": "pins", "chat_id": gid})).await;
    assert_eq!(pins[0]["id"], mid);

    // Read state: unread counts per member; receipts for this small group.
    let chats = carol.ok(json!({"type": "chats"})).await;
    let mine = chats
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == gid)
        .unwrap()
        .clone();
    assert_eq!(mine["unread"], mine["last_seq"], "carol has read nothing");
    assert_eq!(mine["last_message"]["id"], mid);
    let up_to = mine["last_seq"].as_i64().unwrap();
    carol.ok(json!({"type": "read", "chat_id": gid, "up_to": up_to})).await;
    let receipt = alice.push_where("read", |f| f["user_id"] == carol.id).await;
    assert_eq!(receipt["up_to"], up_to);
    let mine = carol.ok(json!({"type": "get_chat", "chat_id": gid})).await;
    assert_eq!(mine["unread"], 0);
    let bobs = bob.ok(json!({"type": "get_chat", "chat_id": gid})).await;
    assert!(bobs["unread"].as_i64().unwrap() > 0, "unread is per member: {bobs}");

    // Muting is per member; mentions still arrive.
    let muted = carol.ok(json!({"type": "mute", "chat_id": gid})).await;
    assert_eq!(muted["muted"], true);
    assert!(
        alice
            .ok(json!({"type": "get_chat", "chat_id": gid}))
            .await
            .get("muted")
            .is_none()
    );
    let ping = alice
        .ok(json!({"type": "send", "chat_id": gid, "text": format!("@{} wake up", carol.name)}))
        .await;
    assert_eq!(carol.push("mention").await["message_id"], ping["id"]);
    let unmuted = carol.ok(json!({"type": "unmute", "chat_id": gid})).await;
    assert!(unmuted.get("muted").is_none());
    eve.fails(json!({"type": "mute", "chat_id": gid}), ErrorCode::NotFound)
        .await;

    // Typing is ephemeral.
    carol.ok(json!({"type": "typing", "chat_id": gid})).await;
    let t = alice.push("typing").await;
    assert_eq!(
        (t["user_id"].as_i64(), t["expires_in"].as_i64()),
        (Some(carol.id), Some(6))
    );
    assert!(t.get("seq").is_none());

    // Delete: a tombstone stays, for everyone.
    carol
        .fails(
            json!({"type": "delete", "chat_id": gid, "message_id": first["id"]}),
            ErrorCode::Forbidden,
        )
        .await;
    let tomb = alice
        .ok(json!({"type": "delete", "chat_id": gid, "message_id": first["id"]}))
        .await;
    assert_eq!(
        (tomb["deleted"].as_bool(), tomb["text"].as_str()),
        (Some(true), Some(""))
    );
    assert_eq!(bob.push("message_deleted").await["message_id"], first["id"]);
    let page = carol.ok(json!({"type": "messages", "chat_id": gid, "limit": 50})).await;
    let shown = page
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == first["id"])
        .unwrap();
    assert_eq!(shown["deleted"], true);
    let around = carol
        .ok(json!({"type": "messages", "chat_id": gid, "around": mid, "limit": 3}))
        .await;
    assert!(around.as_array().unwrap().iter().any(|x| x["id"] == mid));

    // Invites: eve joins by link, gets chat_added and then live messages.
    let inv = alice
        .ok(json!({"type": "create_invite", "chat_id": gid, "max_uses": 1}))
        .await;
    let code = inv["code"].as_str().unwrap().to_owned();
    let joined = eve.ok(json!({"type": "join", "code": code})).await;
    assert_eq!(joined["id"], gid);
    assert_eq!(eve.push("chat_added").await["chat"]["id"], gid);
    let hi = alice
        .ok(json!({"type": "send", "chat_id": gid, "text": "welcome eve"}))
        .await;
    assert_eq!(
        eve.push_where("new_message", |f| f["id"] == hi["id"]).await["text"],
        "welcome eve"
    );

    // Removal: eve is removed, learns it, and sees nothing afterwards.
    carol
        .fails(
            json!({"type": "remove_member", "chat_id": gid, "user_id": eve.id}),
            ErrorCode::Forbidden,
        )
        .await;
    alice
        .ok(json!({"type": "remove_member", "chat_id": gid, "user_id": eve.id}))
        .await;
    assert_eq!(eve.push("chat_removed").await["chat_id"], gid);
    let secret = alice
        .ok(json!({"type": "send", "chat_id": gid, "text": "eve is gone"}))
        .await;
    let eve_sync = eve
        .rest
        .raw(
            "GET",
            &format!("/api/sync?since={}", secret["seq"].as_i64().unwrap() - 1),
            Some(&eve.token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(eve_sync.body["events"], json!([]), "no leak after removal");
    eve.fails(json!({"type": "messages", "chat_id": gid}), ErrorCode::NotFound)
        .await;

    // Private chats: one per pair; channels: only admins post.
    let p1 = alice
        .ok(json!({"type": "create_chat", "chat_type": "private", "members": [bob.id]}))
        .await;
    let p2 = bob
        .ok(json!({"type": "create_chat", "chat_type": "private", "members": [alice.name]}))
        .await;
    assert_eq!(p1["id"], p2["id"]);
    let ch = alice
        .ok(json!({"type": "create_chat", "chat_type": "channel", "name": "News", "members": [bob.id]}))
        .await;
    bob.fails(
        json!({"type": "send", "chat_id": ch["id"], "text": "can I?"}),
        ErrorCode::Forbidden,
    )
    .await;
    alice
        .ok(json!({"type": "send", "chat_id": ch["id"], "text": "announcement"}))
        .await;

    // Media and file messages carry an attachment; forwards keep it.
    let pic = json!({"url": "https://files.example/cat.png", "name": "cat.png", "mime": "image/png", "size": 1234});
    let media = alice
        .ok(json!({"type": "send", "chat_id": gid, "kind": "media", "attachment": pic, "text": "look"}))
        .await;
    assert_eq!(
        (media["kind"].as_str(), media["attachment"].clone()),
        (Some("media"), pic.clone())
    );
    let doc = json!({"url": "https://files.example/a.pdf", "name": "a.pdf", "mime": "application/pdf", "size": 10});
    let file = alice
        .ok(json!({"type": "send", "chat_id": gid, "kind": "file", "attachment": doc}))
        .await;
    assert_eq!((file["kind"].as_str(), file["text"].as_str()), (Some("file"), Some("")));
    let fwd = alice
        .ok(json!({"type": "send", "chat_id": ch["id"], "forward_of": media["id"]}))
        .await;
    assert_eq!(
        (fwd["attachment"].clone(), fwd["forward"]["message_id"].clone()),
        (pic.clone(), media["id"].clone())
    );
    let page = bob
        .ok(json!({"type": "messages", "chat_id": gid, "after": hi["id"]}))
        .await;
    assert!(page.as_array().unwrap().iter().any(|m| m["attachment"] == pic));
    for bad in [
        json!({"type": "send", "chat_id": gid, "kind": "media", "text": "no attachment"}),
        json!({"type": "send", "chat_id": gid, "kind": "media", "attachment": {"url": "https://x/a.pdf", "name": "a", "mime": "application/pdf", "size": 1}}),
        json!({"type": "send", "chat_id": gid, "kind": "file", "attachment": {"url": "javascript:alert(1)", "name": "a", "mime": "text/plain", "size": 1}}),
        json!({"type": "send", "chat_id": gid, "kind": "system", "text": "fake"}),
        json!({"type": "send", "chat_id": gid, "text": "x", "attachment": doc}),
    ] {
        alice.fails(bad, ErrorCode::BadRequest).await;
    }

    // Bad input is typed.
    alice
        .fails(
            json!({"type": "create_chat", "chat_type": "group", "name": "  "}),
            ErrorCode::BadRequest,
        )
        .await;
    alice
        .fails(
            json!({"type": "create_chat", "chat_type": "group", "name": "x", "members": ["no_such_user_zz"]}),
            ErrorCode::NotFound,
        )
        .await;
    alice
        .fails(
            json!({"type": "react", "chat_id": gid, "message_id": mid, "emoji": "two words"}),
            ErrorCode::BadRequest,
        )
        .await;
    alice
        .fails(
            json!({"type": "edit", "chat_id": gid, "message_id": 99_999_999, "text": "x"}),
            ErrorCode::NotFound,
        )
        .await;
    alice
        .fails(
            json!({"type": "messages", "chat_id": gid, "limit": 0}),
            ErrorCode::BadRequest,
        )
        .await;

    server.stop().await;
}

/// A client that was offline gets every missed event of every kind, once, in order.
async fn resume_all_event_kinds(backend: Backend, mode: Mode) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let mut alice = Actor::new(&server, mode, "ra").await;
    let mut bob = Actor::new(&server, mode, "rb").await;
    let g = alice
        .ok(json!({"type": "create_chat", "chat_type": "group", "name": "G", "members": [bob.id]}))
        .await;
    let gid = g["id"].clone();
    let m = alice
        .ok(json!({"type": "send", "chat_id": gid, "text": "before"}))
        .await;
    let seen = bob.push_where("new_message", |f| f["id"] == m["id"]).await["seq"]
        .as_i64()
        .unwrap();
    // Bob goes offline; things happen.
    let token = bob.token.clone();
    drop(bob);
    alice
        .ok(json!({"type": "edit", "chat_id": gid, "message_id": m["id"], "text": "after edit"}))
        .await;
    alice
        .ok(json!({"type": "react", "chat_id": gid, "message_id": m["id"], "emoji": "🔥"}))
        .await;
    alice
        .ok(json!({"type": "send", "chat_id": gid, "text": "while away"}))
        .await;
    alice
        .ok(json!({"type": "pin", "chat_id": gid, "message_id": m["id"]}))
        .await;
    alice
        .ok(json!({"type": "update_chat", "chat_id": gid, "name": "G2"}))
        .await;
    let mut rt = match mode {
        Mode::Tcp => server.tcp().await,
        _ => server.ws().await,
    };
    rt.auth_token(&token, Some(seen)).await.unwrap();
    let mut types = Vec::new();
    let mut seqs = Vec::new();
    loop {
        let f = rt.recv().await.unwrap();
        if f["type"] == "synced" {
            break;
        }
        types.push(f["type"].as_str().unwrap().to_owned());
        seqs.push(f["seq"].as_i64().unwrap());
    }
    assert_eq!(
        types,
        vec![
            "message_edited",
            "reaction_added",
            "new_message",
            "message_pinned",
            "new_message",
            "chat_updated"
        ]
    );
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // REST sync gives the same events.
    let sync = server
        .rest()
        .raw("GET", &format!("/api/sync?since={seen}"), Some(&token), None)
        .await
        .unwrap();
    let rest_seqs: Vec<i64> = sync.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(rest_seqs, seqs);
    assert_eq!(sync.body["seq"], json!(seqs.last().unwrap()));
    assert_eq!(sync.body["more"], false);
    // Nothing else is pending but ephemeral presence.
    rt.set_timeout(Duration::from_millis(300));
    loop {
        match rt.recv().await {
            Err(ClientError::Timeout) => break,
            Ok(f) => assert_eq!(f["type"], "presence", "unexpected {f}"),
            Err(e) => panic!("{e}"),
        }
    }
    server.stop().await;
}

async fn scenario_ws(b: Backend) {
    scenario(b, Mode::Ws).await
}
async fn scenario_tcp(b: Backend) {
    scenario(b, Mode::Tcp).await
}
async fn scenario_rest(b: Backend) {
    scenario(b, Mode::Rest).await
}
async fn resume_ws(b: Backend) {
    resume_all_event_kinds(b, Mode::Ws).await
}
async fn resume_tcp(b: Backend) {
    resume_all_event_kinds(b, Mode::Tcp).await
}

both_backends!(scenario_ws, scenario_tcp, scenario_rest, resume_ws, resume_tcp);
