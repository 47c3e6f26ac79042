//! Durable jobs in the real server, on SQLite and PostgreSQL: the maintenance jobs
//! run at start-up, delete exactly the rows past their cut-off (expired tokens,
//! long-expired invites, old security alerts) and show in `/metrics`; and
//! `sova admin jobs` reports and retries dead jobs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, TestServer, user};
use serde_json::json;
use sova_jobs::{JobState, JobStore, NewJob, now_micros};
use sova_server::Database;
use sova_server::jobs::{
    FILES_MEDIA, PURGE_ALERTS, PURGE_INVITES, PURGE_TOKENS, PURGE_UPLOADS, SEARCH_INDEX, SWEEP_GAMES,
};
use std::time::Duration;

const DAY: i64 = 24 * 3600 * 1_000_000;

async fn exec(db: &Database, sql: &'static str, params: &[i64]) {
    let run = async {
        match db {
            Database::Sqlite(s) => {
                let mut q = sqlx::query(sql);
                for p in params {
                    q = q.bind(*p);
                }
                q.execute(s.pool()).await.map(|_| ())
            }
            Database::Postgres(s) => {
                let mut q = sqlx::query(sql);
                for p in params {
                    q = q.bind(*p);
                }
                q.execute(s.pool()).await.map(|_| ())
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("timed out")
        .expect(sql);
}

async fn names(db: &Database, sql: &'static str) -> Vec<String> {
    let run = async {
        match db {
            Database::Sqlite(s) => sqlx::query_scalar::<_, String>(sql).fetch_all(s.pool()).await,
            Database::Postgres(s) => sqlx::query_scalar::<_, String>(sql).fetch_all(s.pool()).await,
        }
    };
    let mut v = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("timed out")
        .expect(sql);
    v.sort();
    v
}

/// Waits until job `id` is done.
async fn until_done(store: &dyn JobStore, id: i64) {
    for _ in 0..300 {
        let j = tokio::time::timeout(Duration::from_secs(10), store.get(id))
            .await
            .expect("timed out")
            .unwrap()
            .unwrap();
        match j.state {
            JobState::Done => return,
            JobState::Dead => panic!("job {id} died: {:?}", j.last_error),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("job {id} not done within 15 s");
}

async fn maintenance_jobs_purge_only_old_rows(backend: Backend) {
    // Fixed secrets: the PostgreSQL case starts a sibling instance, which must share them.
    let Some(server) = TestServer::start_with(backend, |c| {
        c.jwt_secret = Some(sova_config::Secret::new("jobs-test-jwt-secret-0123456789abcdef"));
        c.message_encryption_key = Some(sova_config::Secret::new(common::TEST_FERNET_KEY));
    })
    .await
    else {
        return;
    };
    let (_, _a) = user(&server, "jobs").await;
    let db = Database::open(&server.config).await.unwrap();
    let store = db.job_store();
    // Every maintenance job ran once at start-up.
    for _ in 0..300 {
        let done = names(&db, "SELECT DISTINCT kind FROM jobs WHERE state = 'done'").await;
        if done.len() >= 7 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        names(&db, "SELECT DISTINCT kind FROM jobs WHERE state = 'done'").await,
        vec![
            PURGE_ALERTS,
            FILES_MEDIA,
            SWEEP_GAMES,
            PURGE_INVITES,
            sova_jobs::CLEANUP_KIND,
            SEARCH_INDEX,
            PURGE_TOKENS,
            PURGE_UPLOADS
        ]
    );

    let now = now_micros();
    let old = now - 100 * DAY;
    exec(
        &db,
        "INSERT INTO token_blacklist (jti, expires_at) VALUES ('expired-jti', $1), ('live-jti', $2)",
        &[now - 1_000, now + DAY],
    )
    .await;
    exec(
        &db,
        "INSERT INTO audit_log (at, action, actor, target, ip, detail) VALUES \
         ($1, 'alert_new_device', NULL, NULL, 'test', 'old-alert'), \
         ($2, 'alert_new_device', NULL, NULL, 'test', 'recent-alert'), \
         ($1, 'login_failed', NULL, NULL, 'test', 'old-audit')",
        &[old, now - DAY],
    )
    .await;
    exec(
        &db,
        "INSERT INTO invites (code, chat_id, created_by, created_at, expires_at, revoked_at) VALUES \
         ('long-expired', (SELECT MIN(id) FROM chats), (SELECT MIN(id) FROM users), $1, $1, NULL), \
         ('long-revoked', (SELECT MIN(id) FROM chats), (SELECT MIN(id) FROM users), $1, NULL, $1), \
         ('just-expired', (SELECT MIN(id) FROM chats), (SELECT MIN(id) FROM users), $2, $2, NULL), \
         ('live', (SELECT MIN(id) FROM chats), (SELECT MIN(id) FROM users), $2, $3, NULL)",
        &[old, now - 1_000, now + DAY],
    )
    .await;
    exec(
        &db,
        "INSERT INTO uploads (id, uploader_id, name, mime, length, received, created_at) VALUES \
         ('abandoned', (SELECT MIN(id) FROM users), 'a', 'text/plain', 5, 0, $1), \
         ('recent', (SELECT MIN(id) FROM users), 'b', 'text/plain', 5, 0, $2)",
        &[old, now - DAY],
    )
    .await;
    // Run this period's clean-ups again (the scheduled ones already ran).
    for kind in [PURGE_TOKENS, PURGE_INVITES, PURGE_ALERTS, PURGE_UPLOADS] {
        let id = store
            .enqueue(&NewJob::new(kind, json!({})).key("test"))
            .await
            .unwrap()
            .id();
        until_done(store.as_ref(), id).await;
    }
    assert_eq!(names(&db, "SELECT jti FROM token_blacklist").await, vec!["live-jti"]);
    assert_eq!(
        names(&db, "SELECT detail FROM audit_log WHERE ip = 'test'").await,
        vec!["old-audit", "recent-alert"],
        "old alerts go, recent alerts and other audit entries stay"
    );
    assert_eq!(
        names(&db, "SELECT code FROM invites").await,
        vec!["just-expired", "live"],
        "invites go a grace period after they expire or are revoked"
    );
    assert_eq!(
        names(&db, "SELECT id FROM uploads").await,
        vec!["recent"],
        "uploads unfinished for 7 days go"
    );
    let metrics = reqwest::get(format!("{}/metrics", server.http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "sova_jobs_completed_total{kind=\"tokens.purge_expired\"}",
        "sova_jobs_depth{state=\"queued\"}",
        "sova_jobs_oldest_age_seconds",
    ] {
        assert!(metrics.contains(needle), "{needle} missing from /metrics:\n{metrics}");
    }
    if backend == Backend::Postgres {
        // A second instance on the same database schedules the same periods: the
        // idempotency keys keep one job per kind and period.
        let sibling = server.sibling().await;
        let rest = sibling.rest();
        assert!(rest.raw("GET", "/health", None, None).await.unwrap().status == 200);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let per_period = names(
            &db,
            "SELECT kind FROM jobs WHERE idempotency_key LIKE 'period:%' GROUP BY kind, idempotency_key \
             HAVING COUNT(*) > 1",
        )
        .await;
        assert!(per_period.is_empty(), "{per_period:?}");
        let scheduled = names(
            &db,
            "SELECT kind FROM jobs WHERE kind = 'tokens.purge_expired' AND idempotency_key LIKE 'period:%'",
        )
        .await;
        assert!(!scheduled.is_empty() && scheduled.len() <= 2, "{scheduled:?}");
        sibling.stop().await;
    }
    db.close().await;
    server.stop().await;
}

both_backends!(maintenance_jobs_purge_only_old_rows);

#[test]
fn admin_jobs_lists_and_retries_dead_jobs_sqlite() {
    admin_jobs_lists_and_retries_dead_jobs(Backend::Sqlite);
}

#[test]
fn admin_jobs_lists_and_retries_dead_jobs_postgres() {
    admin_jobs_lists_and_retries_dead_jobs(Backend::Postgres);
}

/// `sova admin jobs` on the server's database: the summary shows a dead job and its
/// error, `--state dead --json` lists it, `retry` re-queues it, a job that is not
/// dead is refused.
fn admin_jobs_lists_and_retries_dead_jobs(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut config = sova_config::Config {
        data_dir: dir.path().join("data"),
        ..sova_config::Config::default()
    };
    let mut schema = None;
    if backend == Backend::Postgres {
        let Some(s) = rt
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(60), sova_store_tests::fresh_pg_schema()).await
            })
            .expect("timed out")
        else {
            return;
        };
        let base = sova_store_tests::pg_url();
        let sep = if base.contains('?') { '&' } else { '?' };
        config.database_url = Some(sova_config::Secret::new(format!(
            "{base}{sep}options=-c%20search_path%3D{s}"
        )));
        schema = Some(s);
    }
    let url = config.database_url();
    let sova = |args: &[&str]| {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_sova"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SOVA_DATA_DIR", dir.path().join("data"))
            .env("DATABASE_URL", &url)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id().to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let out = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(out) => out.unwrap(),
            Err(_) => {
                let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
                panic!("sova {args:?} still running after 60 s");
            }
        };
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) = sova(&["migrate"]);
    assert!(ok, "{err}");
    let seed = async {
        let db = Database::open(&config).await.unwrap();
        let store = db.job_store();
        let dead = store
            .enqueue(&NewJob::new("mail.send", json!({"to": "x"})))
            .await
            .unwrap()
            .id();
        let c = store
            .claim(
                &["mail.send".to_owned()],
                "test",
                1,
                Duration::from_secs(30),
                3,
                now_micros(),
            )
            .await
            .unwrap();
        assert!(
            store
                .bury(&c.jobs[0].lease, "smtp said 550: no such user", now_micros())
                .await
                .unwrap()
        );
        let live = store
            .enqueue(&NewJob::new("mail.send", json!({"to": "y"})))
            .await
            .unwrap()
            .id();
        db.close().await;
        (dead, live)
    };
    let (dead, live) = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(60), seed).await })
        .expect("seeding timed out");
    let (ok, text, err) = sova(&["admin", "jobs"]);
    assert!(ok, "{err}");
    assert!(text.contains("dead 1"), "{text}");
    assert!(text.contains("queued 1"), "{text}");
    assert!(text.contains("smtp said 550: no such user"), "{text}");
    assert!(text.contains("sova admin jobs retry"), "{text}");

    let (ok, text, err) = sova(&["admin", "jobs", "--state", "dead", "--json"]);
    assert!(ok, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], dead);
    assert_eq!(listed[0]["state"], "dead");
    assert_eq!(listed[0]["last_error"], "smtp said 550: no such user");

    let (ok, _, err) = sova(&["admin", "jobs", "retry", &live.to_string()]);
    assert!(!ok && err.contains("not dead"), "{err}");
    let (ok, text, err) = sova(&["admin", "jobs", "retry", &dead.to_string(), "--json"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap()["requeued"], 1);
    let (ok, text, _) = sova(&["admin", "jobs", "--json"]);
    assert!(ok);
    let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(summary["dead"].as_array().unwrap().len(), 0);
    assert_eq!(summary["waiting"].as_array().unwrap().len(), 2, "{summary}");
    let (ok, text, _) = sova(&["admin", "jobs", "retry", "--all-dead"]);
    assert!(ok && text.contains("re-queued 0"), "{text}");
    if let Some(s) = schema {
        let _ = rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(60), sova_store_tests::drop_schema(&s)).await });
    }
}
