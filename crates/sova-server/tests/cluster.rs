//! Two `sova` instances sharing PostgreSQL and Redis behave as one: delivery, read
//! receipts, typing, membership changes and resume all cross instances, and every
//! client sees every event once, in seq order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{cluster, user};
use serde_json::{Value, json};
use sova_client::Realtime;
use std::time::Duration;

async fn op(rt: &mut Realtime, frame: Value) -> Value {
    let shown = frame.to_string();
    let f = rt.request(frame).await.unwrap_or_else(|e| panic!("{shown}: {e}"));
    f["data"].clone()
}

/// Collects `new_message` pushes in `chat` until `n` arrived; returns their seqs and texts.
async fn collect(rt: &mut Realtime, chat: &Value, n: usize) -> Vec<(i64, String)> {
    let mut got = Vec::new();
    while got.len() < n {
        let f = rt.recv_type("new_message").await.unwrap();
        if &f["chat_id"] == chat && f["kind"] != "system" {
            got.push((f["seq"].as_i64().unwrap(), f["text"].as_str().unwrap().to_owned()));
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_behave_as_one() {
    tokio::time::timeout(Duration::from_secs(120), run())
        .await
        .expect("timed out");
}

async fn run() {
    let Some((a, b)) = cluster().await else { return };
    let (_, alice) = user(&a, "ca").await;
    let (_, bob) = user(&b, "cb").await;
    let (_, carol) = user(&a, "cc").await;

    // alice on instance A (WebSocket), bob on B (TCP), carol on B (WebSocket).
    let mut ra = a.ws().await;
    ra.auth_token(&alice.token, None).await.unwrap();
    let mut rb = b.tcp().await;
    rb.auth_token(&bob.token, None).await.unwrap();
    let mut rc = b.ws().await;
    rc.auth_token(&carol.token, None).await.unwrap();

    // A group created on A reaches bob on B, whose connection then follows the chat.
    let g = op(
        &mut ra,
        json!({"type": "create_chat", "chat_type": "group", "name": "x", "members": [bob.user_id, carol.user_id]}),
    )
    .await;
    let gid = g["id"].clone();
    assert_eq!(rb.recv_type("chat_added").await.unwrap()["chat"]["id"], gid);
    assert_eq!(rc.recv_type("chat_added").await.unwrap()["chat"]["id"], gid);

    // Concurrent senders on both instances: every receiver gets all, once, in seq order.
    let send_a = async {
        for i in 0..15 {
            op(
                &mut ra,
                json!({"type": "send", "chat_id": gid, "text": format!("a{i}")}),
            )
            .await;
        }
    };
    let send_b = async {
        for i in 0..15 {
            op(
                &mut rb,
                json!({"type": "send", "chat_id": gid, "text": format!("b{i}")}),
            )
            .await;
        }
    };
    tokio::join!(send_a, send_b);
    let on_c = collect(&mut rc, &gid, 30).await;
    assert!(on_c.windows(2).all(|w| w[0].0 < w[1].0), "in seq order on B: {on_c:?}");
    let on_a = collect(&mut ra, &gid, 30).await;
    assert_eq!(on_a, on_c, "both instances deliver the same sequence");
    let on_b = collect(&mut rb, &gid, 30).await;
    assert_eq!(on_b, on_c);
    for i in 0..15 {
        assert!(on_c.iter().any(|(_, t)| t == &format!("a{i}")) && on_c.iter().any(|(_, t)| t == &format!("b{i}")));
    }

    // Read receipts and typing cross instances.
    let last = g["last_seq"].as_i64().unwrap() + 30;
    op(&mut rc, json!({"type": "read", "chat_id": gid, "up_to": last})).await;
    let r = ra.recv_type("read").await.unwrap();
    assert_eq!(
        (r["user_id"].as_i64(), r["up_to"].as_i64()),
        (Some(carol.user_id.0), Some(last))
    );
    op(&mut rb, json!({"type": "typing", "chat_id": gid})).await;
    assert_eq!(ra.recv_type("typing").await.unwrap()["user_id"], json!(bob.user_id));

    // Resume across instances: carol leaves B, messages are sent on A, she comes back on A.
    let seen = on_c.last().unwrap().0;
    rc.close().await;
    for i in 0..5 {
        op(
            &mut ra,
            json!({"type": "send", "chat_id": gid, "text": format!("away{i}")}),
        )
        .await;
    }
    let mut rc2 = a.tcp().await;
    rc2.auth_token(&carol.token, Some(seen)).await.unwrap();
    let mut replayed = Vec::new();
    loop {
        let f = rc2.recv().await.unwrap();
        if f["type"] == "synced" {
            break;
        }
        if f["type"] == "new_message" {
            replayed.push(f["text"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(replayed, (0..5).map(|i| format!("away{i}")).collect::<Vec<_>>());

    // Removal on A stops delivery on B.
    op(
        &mut ra,
        json!({"type": "remove_member", "chat_id": gid, "user_id": bob.user_id}),
    )
    .await;
    assert_eq!(rb.recv_type("chat_removed").await.unwrap()["chat_id"], gid);
    op(
        &mut ra,
        json!({"type": "send", "chat_id": gid, "text": "bob must not see this"}),
    )
    .await;
    let marker = op(&mut rb, json!({"type": "chats"})).await;
    assert!(marker.as_array().unwrap().iter().all(|c| c["id"] != gid));
    rb.set_timeout(Duration::from_millis(500));
    while let Ok(f) = rb.recv().await {
        assert_ne!(f["text"], "bob must not see this", "leak across instances");
    }

    a.stop().await;
    b.stop().await;
}
