//! Message contents are encrypted at rest (Fernet, readable by Python's
//! `cryptography`): no plaintext reaches the SQLite files or a PostgreSQL dump, and
//! keys rotate without losing old rows (`sova admin rotate-keys`, resumable).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, TEST_FERNET_KEY, TEST_FERNET_KEY_2, TestServer, user};
use serde_json::json;
use sova_config::Secret;

const MARK: &str = "plaintext-marker-7f3a";

/// Whether any file under `dir` contains `needle`.
fn files_contain(dir: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().flatten().any(|e| {
        let data = std::fs::read(e.path()).unwrap_or_default();
        data.windows(needle.len()).any(|w| w == needle)
    })
}

/// Decrypts message `id`'s stored text with Python's `cryptography` Fernet.
fn python_decrypt(db: &std::path::Path, id: i64, key: &str) -> String {
    let script = format!(
        "import sqlite3; from cryptography.fernet import Fernet\n\
         t = sqlite3.connect({db:?}).execute('SELECT text FROM messages WHERE id = ?', ({id},)).fetchone()[0]\n\
         print(Fernet({key:?}.encode()).decrypt(t.encode()).decode(), end='')",
        db = db.display().to_string()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

async fn write_secrets(server: &TestServer) -> (i64, String) {
    let rest = server.rest();
    let (_, a) = user(server, "sealed").await;
    // A TOTP secret awaiting confirmation is sealed like message text.
    let setup = rest.raw("POST", "/api/2fa/setup", Some(&a.token), None).await.unwrap();
    std::fs::write(
        server.config.data_dir.join("totp-secret.txt.test"),
        setup.body["secret"].as_str().unwrap(),
    )
    .ok();
    let (b_name, _) = user(server, "other").await;
    let m = rest.send(&a.token, &format!("{MARK} first @{b_name}")).await.unwrap();
    let r = rest
        .raw(
            "PATCH",
            &format!("/api/chats/{}/messages/{}", m.chat_id, m.id),
            Some(&a.token),
            Some(json!({"text": format!("{MARK} edited")}).to_string().into()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    // A task's text is sealed too (title, description, labels, checklist).
    let task =
        json!({"title": format!("{MARK} task"), "description": MARK, "checklist": [{"text": MARK, "done": false}]});
    let r = rest
        .raw(
            "POST",
            &format!("/api/chats/{}/tasks", m.chat_id),
            Some(&a.token),
            Some(task.to_string().into()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    // Readable through the API as usual.
    let hist = rest.history(&a.token, None, None).await.unwrap();
    assert_eq!(hist.last().unwrap().text, format!("{MARK} edited"));
    (m.id.0, a.token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_hold_no_plaintext() {
    let mut server = TestServer::start_with(Backend::Sqlite, |c| {
        c.message_encryption_key = Some(Secret::new(TEST_FERNET_KEY))
    })
    .await
    .unwrap();
    let (id, _) = write_secrets(&server).await;
    let data = server.config.data_dir.clone();
    server.restart().await; // flushes the WAL into the main file too
    assert!(
        !files_contain(&data, MARK.as_bytes()),
        "plaintext found in {}",
        data.display()
    );
    let secret = std::fs::read(data.join("totp-secret.txt.test")).unwrap();
    std::fs::remove_file(data.join("totp-secret.txt.test")).unwrap();
    assert!(!files_contain(&data, &secret), "TOTP secret stored in plain text");
    assert_eq!(
        python_decrypt(&data.join("sova.db"), id, TEST_FERNET_KEY),
        format!("{MARK} edited")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dump_holds_no_plaintext() {
    let Some(server) = TestServer::start_with(Backend::Postgres, |c| {
        c.message_encryption_key = Some(Secret::new(TEST_FERNET_KEY))
    })
    .await
    else {
        return;
    };
    write_secrets(&server).await;
    let schema = server.schema.clone().unwrap();
    let out = std::process::Command::new("pg_dump")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-n", &schema])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dump = String::from_utf8_lossy(&out.stdout);
    assert!(dump.contains("gAAAAA"), "sealed rows are in the dump");
    assert!(!dump.contains(MARK), "plaintext in the PostgreSQL dump");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_without_losing_rows() {
    let mut server = TestServer::start_with(Backend::Sqlite, |c| {
        c.message_encryption_key = Some(Secret::new(TEST_FERNET_KEY))
    })
    .await
    .unwrap();
    let (id, token) = write_secrets(&server).await;
    // 2FA on, so a TOTP secret is sealed under key 1 too.
    let setup = server
        .rest()
        .raw("POST", "/api/2fa/setup", Some(&token), None)
        .await
        .unwrap();
    assert_eq!(setup.status, 200);
    // New key first, old one still configured: old rows read, new rows use the new key.
    server.config.message_encryption_key = Some(Secret::new(format!("{TEST_FERNET_KEY_2},{TEST_FERNET_KEY}")));
    server.restart().await;
    let rest = server.rest();
    let newer = rest.send(&token, "written under key 2").await.unwrap();
    assert_eq!(rest.history(&token, None, None).await.unwrap().len(), 2);
    let db = server.config.data_dir.join("sova.db");
    server.stop_keep().await;
    assert_eq!(
        python_decrypt(&db, newer.id.0, TEST_FERNET_KEY_2),
        "written under key 2"
    );

    let run = std::process::Command::new(env!("CARGO_BIN_EXE_sova"))
        .args(["admin", "rotate-keys", "--batch", "1"])
        .env_clear()
        .env("SOVA_DATA_DIR", server.config.data_dir.display().to_string())
        .env(
            "MESSAGE_ENCRYPTION_KEY",
            format!("{TEST_FERNET_KEY_2},{TEST_FERNET_KEY}"),
        )
        .env("JWT_SECRET", "unused-for-rotation-0123456789abcdef")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{out}{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        out.contains("messages: ") && out.contains("re-encrypted") && out.contains("done"),
        "{out}"
    );
    // Every row now opens with key 2 alone.
    assert_eq!(python_decrypt(&db, id, TEST_FERNET_KEY_2), format!("{MARK} edited"));
    server.config.message_encryption_key = Some(Secret::new(TEST_FERNET_KEY_2));
    server.restart().await;
    let hist = server.rest().history(&token, None, None).await.unwrap();
    assert_eq!(
        hist.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        vec![&format!("{MARK} edited")[..], "written under key 2"]
    );
    // The TOTP secret was re-sealed too: reading it works with key 2 alone.
    let status = reqwest::Client::new()
        .get(format!("{}/api/2fa/qr.png", server.http))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200, "TOTP secret readable after rotation");
    // So was the task.
    let tasks = server
        .rest()
        .raw("GET", "/api/tasks", Some(&token), None)
        .await
        .unwrap();
    assert_eq!(tasks.status, 200, "{}", tasks.body);
    assert_eq!(tasks.body["items"][0]["title"], format!("{MARK} task"));
    server.stop().await;
}
