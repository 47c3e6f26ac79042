//! Presence and backpressure end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, TestServer, user};
use serde_json::json;
use sova_client::ClientError;
use std::time::Duration;

/// The next presence push about `user` (one's own presence is pushed too).
async fn bob_presence(rt: &mut sova_client::Realtime, user: i64) -> serde_json::Value {
    loop {
        let f = rt.recv_type("presence").await.unwrap();
        if f["user_id"] == user {
            return f;
        }
    }
}

async fn presence_follows_devices(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (_, alice) = user(&server, "pa").await;
    let (_, bob) = user(&server, "pb").await;
    rest.raw(
        "POST",
        "/api/chats",
        Some(&alice.token),
        Some(json!({"type": "private", "members": [bob.user_id]}).to_string().into()),
    )
    .await
    .unwrap();
    let query = |token: String, id: i64| {
        let rest = server.rest();
        async move {
            rest.raw("GET", &format!("/api/presence?user_ids={id}"), Some(&token), None)
                .await
                .unwrap()
                .body
        }
    };
    let never = query(alice.token.clone(), bob.user_id.0).await;
    assert_eq!(never, json!([{"user_id": bob.user_id, "status": "offline"}]));

    let mut a = server.ws().await;
    a.auth_token(&alice.token, None).await.unwrap();
    // Bob on two devices: online once any is connected, offline after the last leaves.
    let mut b1 = server.tcp().await;
    b1.auth_token(&bob.token, None).await.unwrap();
    let p = bob_presence(&mut a, bob.user_id.0).await;
    assert_eq!(
        (p["user_id"].as_i64(), p["status"].as_str()),
        (Some(bob.user_id.0), Some("online"))
    );
    let mut b2 = server.ws().await;
    b2.auth_token(&bob.token, None).await.unwrap();
    bob_presence(&mut a, bob.user_id.0).await;
    b1.close().await;
    let p = bob_presence(&mut a, bob.user_id.0).await;
    assert_eq!(p["status"], "online", "one device remains");
    assert_eq!(query(alice.token.clone(), bob.user_id.0).await[0]["status"], "online");
    b2.close().await;
    let p = bob_presence(&mut a, bob.user_id.0).await;
    assert_eq!(p["status"], "offline");
    assert!(p["last_seen"].as_str().unwrap().ends_with('Z'));
    let q = query(alice.token.clone(), bob.user_id.0).await;
    assert_eq!(q[0]["status"], "offline");
    assert!(q[0]["last_seen"].is_string());
    // The same over a socket op; bad input is typed.
    let f = a
        .request(json!({"type": "presence", "user_ids": [bob.user_id, alice.user_id]}))
        .await
        .unwrap();
    assert_eq!(f["data"][1]["status"], "online", "alice herself is connected");
    let r = rest
        .raw("GET", "/api/presence?user_ids=abc", Some(&alice.token), None)
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    server.stop().await;
}

/// A client that stops reading is cut off with its position instead of growing the
/// server's memory, and loses nothing: it resumes from what it saw.
async fn slow_consumer_is_disconnected_and_resumes(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| {
        c.outbound_queue = 8;
        c.rate_limit_messages_per_min = 1_000_000;
    })
    .await
    else {
        return;
    };
    let rest = server.rest();
    let (_, reader) = user(&server, "slow").await;
    let (_, writer) = user(&server, "fast").await;
    let mut slow = server.tcp().await;
    slow.auth_token(&reader.token, None).await.unwrap();
    // Big messages fill the socket buffers quickly; the reader reads nothing.
    let text = "x".repeat(4000);
    let mut last = 0;
    let mut sent = 0;
    for round in 0..100 {
        let batch: Vec<_> = (0..20)
            .map(|i| {
                let (rest, token, text) = (rest.clone(), writer.token.clone(), format!("{round}-{i} {text}"));
                tokio::spawn(async move { rest.send(&token, &text).await.unwrap().seq })
            })
            .collect();
        for t in batch {
            last = last.max(t.await.unwrap());
            sent += 1;
        }
        if sent >= 2000 {
            break;
        }
    }
    // Now read: the stream ends (closed by the server) before all 2000 arrived.
    slow.set_timeout(Duration::from_secs(20));
    let mut seen = 0;
    let mut count = 0;
    let mut slow_frame = None;
    loop {
        match slow.recv().await {
            Ok(f) if f["type"] == "new_message" => {
                seen = f["seq"].as_i64().unwrap();
                count += 1;
            }
            Ok(f) if f["type"] == "error" => slow_frame = Some(f),
            Ok(_) => {}
            Err(ClientError::Closed) | Err(ClientError::Transport(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(count < sent, "the slow reader was cut off ({count} of {sent})");
    if let Some(f) = slow_frame {
        assert_eq!(f["code"], "slow_consumer");
        assert!(f["seq"].as_i64().unwrap() >= seen);
    }
    // Resuming from what it saw delivers the rest, exactly once, in order.
    let mut again = server.tcp().await;
    again.auth_token(&reader.token, Some(seen)).await.unwrap();
    let mut got = Vec::new();
    loop {
        let f = again.recv().await.unwrap();
        if f["type"] == "synced" {
            break;
        }
        got.push(f["seq"].as_i64().unwrap());
    }
    assert_eq!(got.len() + count, sent, "nothing lost, nothing twice");
    assert!(got.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(*got.last().unwrap(), last);
    server.stop().await;
}

both_backends!(presence_follows_devices, slow_consumer_is_disconnected_and_resumes);
