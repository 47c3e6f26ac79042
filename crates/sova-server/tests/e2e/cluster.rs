//! Two `sova` instances sharing PostgreSQL and Redis behave as one: delivery, read
//! receipts, typing, membership changes and resume all cross instances, and every
//! client sees every event once, in seq order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

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

    // A process that died between commit and publish left an event behind: the next
    // publisher sends it first, so nobody misses it.
    let schema = a.schema.clone().unwrap();
    let direct = sova_store_postgres::PgStore::connect(&sova_store_tests::pg_url(), Some(&schema))
        .await
        .unwrap();
    let orphan = sova_store::NewMessage::text(
        sova_types::ChatId(gid.as_i64().unwrap()),
        alice.user_id,
        "orphan",
        sova_types::time::now_micros(),
    );
    direct
        .clone()
        .stores()
        .messages
        .commit(&[sova_store::WriteOp::Send(orphan)])
        .await
        .unwrap();
    op(&mut ra, json!({"type": "send", "chat_id": gid, "text": "after orphan"})).await;
    let next = collect(&mut rc, &gid, 2).await;
    assert_eq!(
        next.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
        vec!["orphan", "after orphan"]
    );
    direct.close().await;

    // Read receipts and typing cross instances.
    let last = g["last_seq"].as_i64().unwrap() + 32;
    op(&mut rc, json!({"type": "read", "chat_id": gid, "up_to": last})).await;
    let r = ra.recv_type("read").await.unwrap();
    assert_eq!(
        (r["user_id"].as_i64(), r["up_to"].as_i64()),
        (Some(carol.user_id.0), Some(last))
    );
    op(&mut rb, json!({"type": "typing", "chat_id": gid})).await;
    assert_eq!(ra.recv_type("typing").await.unwrap()["user_id"], json!(bob.user_id));

    // Resume across instances: carol leaves B, messages are sent on A, she comes back on A.
    let seen = next.last().unwrap().0;
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

    // Revoking a session on B closes its socket on A at once.
    let carol_sid = {
        let list = b
            .rest()
            .raw("GET", "/api/sessions", Some(&carol.token), None)
            .await
            .unwrap()
            .body;
        list[0]["id"].as_str().unwrap().to_owned()
    };
    let r = b
        .rest()
        .raw(
            "DELETE",
            &format!("/api/sessions/{carol_sid}"),
            Some(&carol.token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204);
    loop {
        match rc2.recv().await {
            Ok(f) if f["type"] == "error" => assert_eq!(f["code"], "unauthorized"),
            Ok(_) => {}
            Err(_) => break,
        }
    }

    // Presence is aggregated over instances: bob (on B) is online as seen from A.
    let rest_a = a.rest();
    let p = rest_a
        .raw(
            "GET",
            &format!("/api/presence?user_ids={}", bob.user_id),
            Some(&alice.token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(p.body[0]["status"], "online", "{:?}", p.body);

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

    rb.close().await;
    let mut offline = false;
    for _ in 0..50 {
        let p = rest_a
            .raw(
                "GET",
                &format!("/api/presence?user_ids={}", bob.user_id),
                Some(&alice.token),
                None,
            )
            .await
            .unwrap();
        if p.body[0]["status"] == "offline" {
            offline = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(offline, "bob went offline everywhere");

    a.stop().await;
    b.stop().await;
}

/// The same from outside: two real `sova` processes on one PostgreSQL and one Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes() {
    tokio::time::timeout(Duration::from_secs(120), run_processes())
        .await
        .expect("timed out");
}

struct Proc(std::process::Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sova` with `env`; returns it with its HTTP and TCP addresses (from its JSON log).
fn spawn_sova(env: &[(&str, String)]) -> (Proc, String, String) {
    use std::io::{BufRead, BufReader};
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sova"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BIND_ADDR", "127.0.0.1")
        .env("HTTP_PORT", "0")
        .env("TCP_PORT", "0")
        .env("GRPC_PORT", "0")
        .env("LOG_FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let proc = Proc(child);
    for line in lines.by_ref() {
        let line = line.unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v["message"] == "sova is serving" {
            let (h, t) = (
                v["http_addr"].as_str().unwrap().to_owned(),
                v["tcp_addr"].as_str().unwrap().to_owned(),
            );
            // Keep draining the log so the process never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return (proc, h, t);
        }
    }
    panic!("sova exited before serving");
}

async fn run_processes() {
    let Some(redis) = common::redis_url().await else { return };
    let Some(schema) = sova_store_tests::fresh_pg_schema().await else {
        return;
    };
    let base = sova_store_tests::pg_url();
    let sep = if base.contains('?') { '&' } else { '?' };
    let dir = tempfile::tempdir().unwrap();
    let env = |n: &str| {
        vec![
            (
                "DATABASE_URL",
                format!("{base}{sep}options=-c%20search_path%3D{schema}"),
            ),
            ("REDIS_URL", redis.clone()),
            ("REDIS_PREFIX", format!("sova_p_{schema}")),
            ("JWT_SECRET", "two-process-test-jwt-secret-0123456789".to_owned()),
            ("MESSAGE_ENCRYPTION_KEY", common::TEST_FERNET_KEY.to_owned()),
            ("SOVA_DATA_DIR", dir.path().join(n).display().to_string()),
        ]
    };
    let (pa, http_a, _tcp_a) = spawn_sova(&env("a"));
    let (pb, http_b, tcp_b) = spawn_sova(&env("b"));
    let rest_a = sova_client::RestClient::new(format!("http://{http_a}")).unwrap();
    let rest_b = sova_client::RestClient::new(format!("http://{http_b}")).unwrap();
    // Register on A, log in on B: one database, one token secret.
    let alice = rest_a.signup(&common::uname("pa"), common::PASSWORD).await.unwrap();
    let bob_name = common::uname("pb");
    rest_a.register(&bob_name, common::PASSWORD).await.unwrap();
    let bob = rest_b.login(&bob_name, common::PASSWORD).await.unwrap();

    let mut ws_a = Realtime::connect_ws(&format!("ws://{http_a}/ws")).await.unwrap();
    ws_a.auth_token(&alice.token, None).await.unwrap();
    let mut tcp_b = Realtime::connect_tcp(&tcp_b).await.unwrap();
    tcp_b.auth_token(&bob.token, None).await.unwrap();

    // general: A → B and B → A.
    rest_a.send(&alice.token, "from process A").await.unwrap();
    let f = tcp_b.recv_type("new_message").await.unwrap();
    assert_eq!(f["text"], "from process A");
    tcp_b.send_message("from process B", None).await.unwrap();
    loop {
        let f = ws_a.recv_type("new_message").await.unwrap();
        if f["text"] == "from process B" {
            break;
        }
    }
    // A private chat created on B reaches alice on A, and messages follow it.
    let chat = op(
        &mut tcp_b,
        json!({"type": "create_chat", "chat_type": "private", "members": [alice.user_id]}),
    )
    .await;
    assert_eq!(ws_a.recv_type("chat_added").await.unwrap()["chat"]["id"], chat["id"]);
    op(
        &mut tcp_b,
        json!({"type": "send", "chat_id": chat["id"], "text": "psst"}),
    )
    .await;
    loop {
        let f = ws_a.recv_type("new_message").await.unwrap();
        if f["text"] == "psst" {
            assert_eq!(f["chat_id"], chat["id"]);
            break;
        }
    }
    let p = rest_a
        .raw(
            "GET",
            &format!("/api/presence?user_ids={}", bob.user_id),
            Some(&alice.token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(p.body[0]["status"], "online");
    drop((pa, pb));
    sova_store_tests::drop_schema(&schema).await;
}
