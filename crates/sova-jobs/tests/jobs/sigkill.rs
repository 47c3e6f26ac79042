//! A process killed with SIGKILL in the middle of a job's effect: the job runs again
//! in the next process (after its lease expires) and its effect happens exactly
//! once, on SQLite and PostgreSQL, for both handler styles:
//! - `tx_effect` writes its effect in the transaction that marks the job done, so
//!   the killed run leaves nothing behind;
//! - `idem_effect` commits its effect first (idempotently, keyed by the job) and is
//!   killed before `done`, so the second run finds the effect and adds nothing.
//!
//! The worker process is this test binary itself, re-run with `--exact
//! child_process_entry` and the database in its environment: no extra binary to
//! build, and the child runs the real `JobRunner` against the real database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, TestDb, within};
use serde_json::json;
use sova_jobs::{JobContext, JobError, JobQueue, JobRunner, JobState, JobTx, NewJob, RunnerConfig};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHILD: &str = "SOVA_JOBS_TEST_CHILD";
const MARK: &str = "EFFECT-STARTED";
/// Lease of the child runner: the next process takes over this long after a kill.
const LEASE: Duration = Duration::from_secs(2);

/// Entry point of the worker process; does nothing in a normal test run.
#[test]
fn child_process_entry() {
    let Ok(mode) = std::env::var(CHILD) else { return };
    let env = |k: &str| std::env::var(k).unwrap();
    let backend = Backend::parse(&env("SOVA_JOBS_TEST_BACKEND"));
    let db = TestDb::from_parts(
        backend,
        env("SOVA_JOBS_TEST_URL"),
        std::env::var("SOVA_JOBS_TEST_SCHEMA").ok(),
    );
    let job: i64 = env("SOVA_JOBS_TEST_JOB").parse().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(child(db, job, mode == "slow"));
    std::process::exit(0);
}

async fn child(db: TestDb, job: i64, slow: bool) {
    let i = db.instance().await;
    let owner = format!("pid-{}", std::process::id());
    let config = RunnerConfig {
        owner: owner.clone(),
        lease: LEASE,
        poll_min: Duration::from_millis(20),
        poll_max: Duration::from_millis(100),
        ..RunnerConfig::default()
    };
    let pause = move || async move {
        println!("{MARK}");
        std::io::stdout().flush().unwrap();
        if slow {
            // Killed here.
            tokio::time::sleep(Duration::from_secs(120)).await;
        }
    };
    let (o1, o2) = (owner.clone(), owner.clone());
    let running = JobRunner::new(JobQueue::new(i.store.clone()), config)
        .handler("tx_effect", move |ctx: JobContext, _| {
            let owner = o1.clone();
            async move {
                let mut tx = ctx.begin().await?;
                insert_effect(&mut tx, &owner, ctx.attempt(), false).await?;
                pause().await;
                ctx.commit_done(tx).await
            }
        })
        .handler("idem_effect", move |ctx: JobContext, _| {
            let owner = o2.clone();
            async move {
                let mut tx = ctx.begin().await?;
                insert_effect(&mut tx, &owner, ctx.attempt(), true).await?;
                tx.commit().await?;
                pause().await;
                Ok(())
            }
        })
        .start();
    loop {
        if i.job(job).await.state == JobState::Done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.shutdown(Duration::from_secs(5)).await;
    i.close().await;
}

/// The job's effect: one row keyed by the job (`ON CONFLICT DO NOTHING` when
/// `idempotent`, else a duplicate fails).
async fn insert_effect(tx: &mut JobTx, owner: &str, attempt: u32, idempotent: bool) -> Result<(), JobError> {
    let sql = if idempotent {
        "INSERT INTO job_effects (job_key, finisher, attempt) VALUES ('k', $1, $2) ON CONFLICT (job_key) DO NOTHING"
    } else {
        "INSERT INTO job_effects (job_key, finisher, attempt) VALUES ('k', $1, $2)"
    };
    match tx {
        JobTx::Sqlite(t) => sqlx::query(sql)
            .bind(owner.to_owned())
            .bind(i64::from(attempt))
            .execute(&mut **t)
            .await
            .map(|_| ()),
        JobTx::Postgres(t) => sqlx::query(sql)
            .bind(owner.to_owned())
            .bind(i64::from(attempt))
            .execute(&mut **t)
            .await
            .map(|_| ()),
    }
    .map_err(JobError::retry)
}

/// Kills the child when the test fails early.
struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(db: &TestDb, job: i64, slow: bool) -> Killer {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "sigkill::child_process_entry",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, if slow { "slow" } else { "fast" })
    .env("SOVA_JOBS_TEST_BACKEND", db.backend.name())
    .env("SOVA_JOBS_TEST_URL", &db.url)
    .env("SOVA_JOBS_TEST_JOB", job.to_string())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    match &db.schema {
        Some(s) => cmd.env("SOVA_JOBS_TEST_SCHEMA", s),
        None => cmd.env_remove("SOVA_JOBS_TEST_SCHEMA"),
    };
    Killer(cmd.spawn().unwrap())
}

/// Waits (at most `secs`) for the child to print the mark.
fn wait_for_mark(child: &mut Killer, secs: u64) {
    let out = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if line.contains(MARK) {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("the child did not start the effect within {secs}s"));
}

/// Waits (at most `secs`) for the child to exit, and asserts success.
fn wait_for_exit(child: &mut Killer, secs: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            assert!(status.success(), "child failed: {status}");
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "child still running after {secs}s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigkill_mid_effect(backend: Backend, kind: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(TestDb::new(backend)) else {
        return;
    };
    let i = rt.block_on(db.instance());
    let job = rt
        .block_on(within(10, i.store.enqueue(&NewJob::new(kind, json!({})).key("k"))))
        .unwrap()
        .id();

    let mut first = spawn(&db, job, true);
    wait_for_mark(&mut first, 60);
    first.0.kill().unwrap(); // SIGKILL: no shutdown, no release, no rollback message
    first.0.wait().unwrap();
    let info = rt.block_on(i.job(job));
    assert_eq!(
        (info.state, info.attempts),
        (JobState::Running, 1),
        "killed while running"
    );
    let effects = rt.block_on(i.scalar("SELECT COUNT(*) FROM job_effects", None));
    let expected_after_kill = if kind == "tx_effect" { 0 } else { 1 };
    assert_eq!(effects, expected_after_kill, "{kind}: effect after the kill");

    let mut second = spawn(&db, job, false);
    wait_for_exit(&mut second, 60);
    let info = rt.block_on(i.job(job));
    assert_eq!(
        (info.state, info.attempts),
        (JobState::Done, 2),
        "ran again after the lease expired"
    );
    assert_eq!(
        rt.block_on(i.scalar("SELECT COUNT(*) FROM job_effects", None)),
        1,
        "{kind}: effect once"
    );
    let attempt = rt.block_on(i.scalar("SELECT attempt FROM job_effects", None));
    // The transactional effect is the second run's; the idempotent one the first's.
    assert_eq!(attempt, if kind == "tx_effect" { 2 } else { 1 });
    rt.block_on(i.close());
    rt.block_on(db.cleanup());
}

#[test]
fn sqlite_transactional_effect_survives_sigkill_once() {
    sigkill_mid_effect(Backend::Sqlite, "tx_effect");
}

#[test]
fn sqlite_idempotent_effect_survives_sigkill_once() {
    sigkill_mid_effect(Backend::Sqlite, "idem_effect");
}

#[test]
fn postgres_transactional_effect_survives_sigkill_once() {
    sigkill_mid_effect(Backend::Postgres, "tx_effect");
}

#[test]
fn postgres_idempotent_effect_survives_sigkill_once() {
    sigkill_mid_effect(Backend::Postgres, "idem_effect");
}
