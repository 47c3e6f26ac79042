//! WebSocket and TCP end to end: the seed frames, cross-transport delivery, resume,
//! and every bad-frame class, on both transports and both databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, PASSWORD, TestServer, assert_error, user};
use serde_json::{Value, json};
use sova_client::Realtime;

/// Receives until a `new_message` with `text` arrives.
async fn recv_message(rt: &mut Realtime, text: &str) -> Value {
    loop {
        let f = rt.recv_type("new_message").await.unwrap();
        if f["text"] == text {
            return f;
        }
    }
}

fn assert_new_message_shape(f: &Value, user: &str, text: &str) {
    assert_eq!(f["type"], "new_message");
    assert_eq!(f["user"], user);
    assert_eq!(f["text"], text);
    for k in ["id", "chat_id", "user_id", "seq", "chat_seq"] {
        assert!(f[k].as_i64().is_some_and(|v| v > 0), "{k} missing in {f}");
    }
    assert!(time_ok(f["timestamp"].as_str().unwrap()), "{f}");
}

fn time_ok(t: &str) -> bool {
    t.len() >= 20 && t.ends_with('Z') && t.as_bytes()[10] == b'T'
}

async fn password_auth_and_message(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    for transport in ["ws", "tcp"] {
        let (name, _) = user(&server, transport).await;
        let mut rt = server.realtime(transport).await;
        // Exactly the seed frame, no request id.
        rt.send(&json!({"type": "auth", "username": name, "password": PASSWORD}))
            .await
            .unwrap();
        let ok = rt.recv().await.unwrap();
        assert_eq!(ok["type"], "auth_success", "{ok}");
        assert_eq!(ok["username"], name.as_str());
        assert_eq!(ok["expires_in"], 900);
        assert!(ok["user_id"].as_i64().unwrap() > 0);
        assert!(ok["token"].as_str().unwrap().split('.').count() == 3);
        assert!(ok["refresh_token"].as_str().unwrap().len() >= 32);
        rt.send(&json!({"type": "message", "text": "hello from seed"}))
            .await
            .unwrap();
        let f = recv_message(&mut rt, "hello from seed").await;
        assert_new_message_shape(&f, &name, "hello from seed");
        rt.close().await;
    }
    server.stop().await;
}

async fn cross_transport_delivery(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (a_name, a) = user(&server, "wsu").await;
    let (b_name, b) = user(&server, "tcpu").await;
    let (c_name, c) = user(&server, "restu").await;
    let mut ws = server.ws().await;
    ws.auth_token(&a.token, None).await.unwrap();
    let mut tcp = server.tcp().await;
    tcp.auth_token(&b.token, None).await.unwrap();

    // WS → TCP
    let ack = ws.send_message("ws to tcp", Some("c1")).await.unwrap();
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["client_msg_id"], "c1");
    let got = recv_message(&mut tcp, "ws to tcp").await;
    assert_new_message_shape(&got, &a_name, "ws to tcp");
    assert_eq!(got["id"], ack["message_id"]);
    // TCP → WS
    tcp.send_message("tcp to ws", None).await.unwrap();
    let got = recv_message(&mut ws, "tcp to ws").await;
    assert_new_message_shape(&got, &b_name, "tcp to ws");
    // REST → WS and TCP, with identical push bytes on both.
    let sent = rest.send(&c.token, "rest to all").await.unwrap();
    let on_ws = recv_message(&mut ws, "rest to all").await;
    let on_tcp = recv_message(&mut tcp, "rest to all").await;
    assert_eq!(on_ws, on_tcp);
    assert_eq!(on_ws["id"], json!(sent.id));
    assert_eq!(on_ws["user"], c_name.as_str());
    // Pushes arrive in seq order.
    let s1 = ws.send_message("order 1", None).await.unwrap()["seq"].as_i64().unwrap();
    let s2 = ws.send_message("order 2", None).await.unwrap()["seq"].as_i64().unwrap();
    assert!(s2 > s1);
    let f1 = recv_message(&mut tcp, "order 1").await;
    let f2 = recv_message(&mut tcp, "order 2").await;
    assert_eq!((f1["seq"].as_i64(), f2["seq"].as_i64()), (Some(s1), Some(s2)));
    ws.close().await;
    tcp.close().await;
    server.stop().await;
}

async fn seed_token_on_message(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    for transport in ["ws", "tcp"] {
        let (name, a) = user(&server, transport).await;
        let mut rt = server.realtime(transport).await;
        // No auth frame: the seed client puts the token on each message.
        rt.send(&json!({"type": "message", "token": a.token, "text": "token rides along"}))
            .await
            .unwrap();
        let ok = rt.recv().await.unwrap();
        assert_eq!(ok["type"], "auth_success", "{ok}");
        let f = recv_message(&mut rt, "token rides along").await;
        assert_eq!(f["user"], name.as_str());
        // A bad token on a message is refused, the connection survives.
        rt.send(&json!({"type": "message", "token": "nope", "text": "x", "id": "bad"}))
            .await
            .unwrap();
        let e = rt.recv_type("error").await.unwrap();
        assert_error(&e, "unauthorized");
        assert_eq!(e["re"], "bad");
        assert_eq!(rt.request(json!({"type": "ping"})).await.unwrap()["type"], "pong");
    }
    server.stop().await;
}

async fn bad_frames_keep_connection_usable(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    for transport in ["ws", "tcp"] {
        let (_, a) = user(&server, transport).await;
        let mut rt = server.realtime(transport).await;
        // Before auth: anything but auth/ping is refused.
        rt.send(&json!({"type": "message", "text": "hi", "id": "pre"}))
            .await
            .unwrap();
        let e = rt.recv().await.unwrap();
        assert_error(&e, "unauthorized");
        assert_eq!(e["re"], "pre");
        rt.send(&json!({"type": "auth", "username": "x", "id": "a0"}))
            .await
            .unwrap();
        assert_error(&rt.recv().await.unwrap(), "bad_request");
        rt.send(&json!({"type": "auth", "username": "nobody", "password": "wrong-password", "id": "a1"}))
            .await
            .unwrap();
        assert_error(&rt.recv().await.unwrap(), "unauthorized");
        rt.auth_token(&a.token, None).await.unwrap();

        let texts: Vec<(String, &str)> = vec![
            ("{not json".into(), "bad_request"),
            ("[1,2,3]".into(), "bad_request"),
            ("\"just a string\"".into(), "bad_request"),
            (r#"{"no_type":1}"#.into(), "bad_request"),
            (r#"{"type":"teleport","id":"t1"}"#.into(), "bad_request"),
            (r#"{"type":"message","id":"m1"}"#.into(), "bad_request"),
            (r#"{"type":"message","text":42}"#.into(), "bad_request"),
            (r#"{"type":"message","text":""}"#.into(), "bad_request"),
            (
                json!({"type":"message","text":"x".repeat(4097)}).to_string(),
                "too_large",
            ),
            (
                json!({"type":"message","text":"x","chat_id":987654}).to_string(),
                "not_found",
            ),
            (json!({"type":"sync","since":-1}).to_string(), "bad_request"),
            (json!({"type":"history","limit":0}).to_string(), "bad_request"),
            (json!({"type":"ping","id":"i".repeat(65)}).to_string(), "bad_request"),
            (
                json!({"type":"message","text":"big","pad":"p".repeat(1024 * 1024 + 10)}).to_string(),
                "too_large",
            ),
        ];
        for (text, code) in &texts {
            rt.send_text(text).await.unwrap();
            let e = rt.recv().await.unwrap();
            assert_error(&e, code);
            if *code == "too_large" {
                assert!(e["details"]["max"].as_u64().is_some(), "too_large names its limit: {e}");
            }
            let shown: String = text.chars().take(60).collect();
            assert_eq!(
                rt.request(json!({"type": "ping"})).await.unwrap()["type"],
                "pong",
                "usable after {shown}"
            );
        }
        // The request id is echoed even when the frame is invalid.
        let e = rt.request(json!({"type": "teleport"})).await.unwrap_err();
        assert_eq!(e.code(), Some(sova_types::ErrorCode::BadRequest));
        // Invalid UTF-8.
        match transport {
            "tcp" => rt
                .send_bytes(b"{\"type\":\"ping\",\"x\":\"\xff\xfe\"}\n")
                .await
                .unwrap(),
            _ => rt.send_bytes(b"{\"type\":\"ping\",\"x\":\"\xff\xfe\"}").await.unwrap(),
        }
        assert_error(&rt.recv().await.unwrap(), "bad_request");
        // Still fully working.
        rt.send_message("still alive", None).await.unwrap();
        recv_message(&mut rt, "still alive").await;
        rt.close().await;
    }
    server.stop().await;
}

async fn oversized_tcp_line_without_newline(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let (_, a) = user(&server, "huge").await;
    let mut rt = server.tcp().await;
    rt.auth_token(&a.token, None).await.unwrap();
    // 3 MiB in pieces, then the newline: one too_large, then business as usual.
    let chunk = vec![b'a'; 512 * 1024];
    for _ in 0..6 {
        rt.send_bytes(&chunk).await.unwrap();
    }
    rt.send_bytes(b"\n").await.unwrap();
    assert_error(&rt.recv().await.unwrap(), "too_large");
    assert_eq!(rt.request(json!({"type": "ping"})).await.unwrap()["type"], "pong");
    server.stop().await;
}

async fn resume_with_since(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (_, a) = user(&server, "resumer").await;
    let (_, b) = user(&server, "talker").await;
    for transport in ["ws", "tcp"] {
        let mut rt = server.realtime(transport).await;
        rt.auth_token(&a.token, None).await.unwrap();
        let base = format!("{transport}-base");
        rest.send(&b.token, &base).await.unwrap();
        let last_seq = recv_message(&mut rt, &base).await["seq"].as_i64().unwrap();
        rt.close().await;

        let mut missed = Vec::new();
        for i in 0..5 {
            missed.push(rest.send(&b.token, &format!("{transport}-missed-{i}")).await.unwrap());
        }
        // Reconnect with `since` in auth: exactly the missed events, in order, then `synced`.
        let mut rt = server.realtime(transport).await;
        rt.auth_token(&a.token, Some(last_seq)).await.unwrap();
        let mut replayed = Vec::new();
        loop {
            let f = rt.recv().await.unwrap();
            if f["type"] == "synced" {
                assert_eq!(f["seq"], json!(missed.last().unwrap().seq));
                break;
            }
            assert_eq!(f["type"], "new_message");
            replayed.push(f["seq"].as_i64().unwrap());
        }
        assert_eq!(replayed, missed.iter().map(|m| m.seq).collect::<Vec<_>>());
        // Live delivery continues without duplicates.
        rest.send(&b.token, &format!("{transport}-live")).await.unwrap();
        let live = rt.recv().await.unwrap();
        assert_eq!(live["text"], format!("{transport}-live"));

        // An explicit sync frame replays again from any point.
        let synced = rt.request(json!({"type": "sync", "since": missed[2].seq})).await;
        // The answer (`synced`) comes after the replayed frames, which `request` skips.
        assert_eq!(synced.unwrap()["type"], "synced");
        rt.close().await;
    }
    server.stop().await;
}

async fn since_beyond_the_end_is_clamped(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (_, a) = user(&server, "future").await;
    let first = rest.send(&a.token, "exists").await.unwrap();
    for transport in ["ws", "tcp"] {
        let mut rt = server.realtime(transport).await;
        rt.auth_token(&a.token, Some(1_000_000_000)).await.unwrap();
        let synced = rt.recv_type("synced").await.unwrap();
        assert!(synced["seq"].as_i64().unwrap() >= first.seq);
        assert!(
            synced["seq"].as_i64().unwrap() < 1_000_000_000,
            "position is clamped: {synced}"
        );
        // A later message must still be pushed.
        let text = format!("{transport} after clamp");
        rest.send(&a.token, &text).await.unwrap();
        recv_message(&mut rt, &text).await;
    }
    server.stop().await;
}

async fn history_frame(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (_, a) = user(&server, "hist").await;
    for i in 0..3 {
        rest.send(&a.token, &format!("h{i}")).await.unwrap();
    }
    let mut rt = server.tcp().await;
    rt.auth_token(&a.token, None).await.unwrap();
    let h = rt.request(json!({"type": "history", "limit": 2})).await.unwrap();
    assert_eq!(h["type"], "history");
    let texts: Vec<_> = h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, vec![json!("h1"), json!("h2")]);
    server.stop().await;
}

/// One connection sends a burst without waiting (right behind its `auth`): every
/// frame is answered with its `re`, messages are acknowledged and delivered in send
/// order, and a failing request in the middle fails alone.
async fn pipelined_burst_keeps_send_order(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| {
        c.rate_limit_frames_per_sec = 100_000;
        c.rate_limit_messages_per_min = 100_000;
    })
    .await
    else {
        return;
    };
    const N: usize = 300;
    for transport in ["ws", "tcp"] {
        let (_, a) = user(&server, &format!("pa{transport}")).await;
        let (_, b) = user(&server, &format!("pb{transport}")).await;
        let mut listener = server.realtime(transport).await;
        listener.auth_token(&b.token, None).await.unwrap();
        let mut rt = server.realtime(transport).await;
        rt.send(&json!({"type": "auth", "id": "a", "token": a.token}))
            .await
            .unwrap();
        let g = rt
            .request(json!({"type": "create_chat", "chat_type": "group", "name": "burst", "members": [b.user_id]}))
            .await
            .unwrap();
        let chat = g["data"]["id"].as_i64().unwrap();
        // Nothing below waits for an answer.
        for i in 0..N {
            if i == N / 2 {
                rt.send(&json!({"type": "message", "id": "bad", "chat_id": 999_999, "text": "nowhere"}))
                    .await
                    .unwrap();
                rt.send(&json!({"type": "ping", "id": "ping"})).await.unwrap();
            }
            rt.send(&json!({"type": "message", "id": format!("m{i}"), "chat_id": chat, "text": format!("burst {i}")}))
                .await
                .unwrap();
        }
        let (mut acks, mut bad, mut pong) = (Vec::new(), None, false);
        while acks.len() < N || bad.is_none() || !pong {
            let f = rt.recv().await.unwrap();
            match (f["type"].as_str().unwrap(), f["re"].as_str()) {
                ("ack", Some(re)) => acks.push((
                    re.to_owned(),
                    f["seq"].as_i64().unwrap(),
                    f["chat_seq"].as_i64().unwrap(),
                )),
                ("error", Some("bad")) => bad = Some(f),
                ("pong", Some("ping")) => pong = true,
                ("auth_success", Some("a")) => {}
                ("new_message", None) | ("chat_added", None) | ("chat_updated", None) => {}
                other => panic!("unexpected {other:?}: {f}"),
            }
        }
        assert_error(&bad.unwrap(), "not_found");
        let order: Vec<String> = acks.iter().map(|a| a.0.clone()).collect();
        assert_eq!(
            order,
            (0..N).map(|i| format!("m{i}")).collect::<Vec<_>>(),
            "acks out of send order"
        );
        assert!(
            acks.windows(2).all(|w| w[0].1 < w[1].1 && w[0].2 + 1 == w[1].2),
            "seq/chat_seq not increasing"
        );
        let mut got = Vec::new();
        while got.len() < N {
            let f = listener.recv_type("new_message").await.unwrap();
            if f["chat_id"] == chat && f["text"].as_str().unwrap().starts_with("burst ") {
                got.push(f["text"].as_str().unwrap().to_owned());
            }
        }
        assert_eq!(
            got,
            (0..N).map(|i| format!("burst {i}")).collect::<Vec<_>>(),
            "delivered out of order"
        );
        rt.close().await;
        listener.close().await;
    }
    server.stop().await;
}

both_backends!(
    pipelined_burst_keeps_send_order,
    password_auth_and_message,
    cross_transport_delivery,
    seed_token_on_message,
    bad_frames_keep_connection_usable,
    oversized_tcp_line_without_newline,
    resume_with_since,
    since_beyond_the_end_is_clamped,
    history_frame,
);
