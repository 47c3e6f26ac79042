//! The runner on SQLite and PostgreSQL: retries with backoff then dead-letter,
//! permanent failures and panics, two instances sharing 200 jobs with each effect
//! exactly once, a worker that loses its lease is stopped and fenced, graceful
//! shutdown releases unfinished jobs, recurring jobs once per period across
//! instances, and a local enqueue wakes the runner at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, Instance, TestDb, wait_until, within};
use serde_json::json;
use sova_jobs::{
    Backoff, JobContext, JobError, JobQueue, JobRunner, JobState, JobTx, NewJob, Recurring, RunnerConfig, now_micros,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

#[derive(serde::Deserialize)]
struct Typed {
    n: i64,
}

fn fast(owner: &str) -> RunnerConfig {
    RunnerConfig {
        owner: owner.to_owned(),
        workers: 4,
        poll_min: Duration::from_millis(5),
        poll_max: Duration::from_millis(50),
        backoff: Backoff {
            base: Duration::from_millis(40),
            cap: Duration::from_millis(400),
        },
        stats_every: Duration::from_millis(100),
        ..RunnerConfig::default()
    }
}

/// Inserts the job's effect row (`job_key`, `finisher`, `attempt`) in `tx`.
async fn record_effect(tx: &mut JobTx, key: &str, finisher: &str, attempt: u32) -> Result<(), JobError> {
    const SQL: &str = "INSERT INTO job_effects (job_key, finisher, attempt) VALUES ($1, $2, $3)";
    match tx {
        JobTx::Sqlite(t) => sqlx::query(SQL)
            .bind(key.to_owned())
            .bind(finisher.to_owned())
            .bind(i64::from(attempt))
            .execute(&mut **t)
            .await
            .map(|_| ()),
        JobTx::Postgres(t) => sqlx::query(SQL)
            .bind(key.to_owned())
            .bind(finisher.to_owned())
            .bind(i64::from(attempt))
            .execute(&mut **t)
            .await
            .map(|_| ()),
    }
    .map_err(JobError::retry)
}

async fn state(i: &Instance, id: i64) -> JobState {
    i.job(id).await.state
}

async fn retries_with_backoff_then_dead(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let i = db.instance().await;
    let calls = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let c = calls.clone();
    let queue = JobQueue::new(i.store.clone());
    let running = JobRunner::new(queue.clone(), fast("r1"))
        .handler("flaky", move |ctx: JobContext, _| {
            let c = c.clone();
            async move {
                c.lock().await.push(Instant::now());
                Err(JobError::Retry(format!("down on attempt {}", ctx.attempt())))
            }
        })
        .handler("broken", |_, _| async {
            Err(JobError::Permanent("bad address".into()))
        })
        .handler("panics", |_, _| async { panic!("handler bug") })
        .typed_handler("typed", |_, p: Typed| async move {
            if p.n == 7 {
                Ok(())
            } else {
                Err(JobError::Permanent("not seven".into()))
            }
        })
        .start();
    let typed_ok = within(10, queue.enqueue(&NewJob::new("typed", json!({"n": 7}))))
        .await
        .unwrap()
        .id();
    let typed_bad = within(10, queue.enqueue(&NewJob::new("typed", json!({"m": "x"}))))
        .await
        .unwrap()
        .id();
    wait_until(20, "typed jobs finished", || async {
        state(&i, typed_ok).await == JobState::Done && state(&i, typed_bad).await == JobState::Dead
    })
    .await;
    let bad = i.job(typed_bad).await;
    assert_eq!(bad.attempts, 1, "a payload that does not fit is never retried");
    assert!(bad.last_error.unwrap().contains("bad payload"));
    let flaky = within(10, queue.enqueue(&NewJob::new("flaky", json!({})).max_attempts(3)))
        .await
        .unwrap()
        .id();
    let broken = within(10, queue.enqueue(&NewJob::new("broken", json!({}))))
        .await
        .unwrap()
        .id();
    let panics = within(10, queue.enqueue(&NewJob::new("panics", json!({})).max_attempts(2)))
        .await
        .unwrap()
        .id();
    for id in [flaky, broken, panics] {
        wait_until(20, "dead", || async { state(&i, id).await == JobState::Dead }).await;
    }
    let info = i.job(flaky).await;
    assert_eq!(info.attempts, 3);
    assert_eq!(info.last_error.as_deref(), Some("down on attempt 3 (attempt 3 of 3)"));
    let calls = calls.lock().await.clone();
    assert_eq!(calls.len(), 3, "no run after the job is dead");
    // Equal jitter: the n-th retry waits at least half of base·2^(n-1).
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[0] >= Duration::from_millis(20), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(40), "{gaps:?}");
    let info = i.job(broken).await;
    assert_eq!(
        (info.attempts, info.last_error.as_deref()),
        (1, Some("bad address")),
        "permanent: no retry"
    );
    let info = i.job(panics).await;
    assert_eq!(info.attempts, 2, "a panic is a retryable failure");
    assert!(info.last_error.unwrap().contains("panicked"));
    assert_eq!(within(30, running.shutdown(Duration::from_secs(5))).await, 0);
    i.close().await;
    db.cleanup().await;
}

async fn two_instances_finish_each_job_once(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let (a, b) = (db.instance().await, db.instance().await);
    let runs = Arc::new(AtomicUsize::new(0));
    let lost = Arc::new(AtomicUsize::new(0));
    let start = |inst: &Instance, owner: &'static str| {
        let (runs, lost) = (runs.clone(), lost.clone());
        JobRunner::new(JobQueue::new(inst.store.clone()), fast(owner))
            .handler("effect", move |ctx: JobContext, payload| {
                let (runs, lost) = (runs.clone(), lost.clone());
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    let key = payload["n"].to_string();
                    let mut tx = ctx.begin().await?;
                    record_effect(&mut tx, &key, owner, ctx.attempt()).await?;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    let r = ctx.commit_done(tx).await;
                    if r == Err(JobError::LeaseLost) {
                        lost.fetch_add(1, Ordering::SeqCst);
                    }
                    r
                }
            })
            .start()
    };
    let ra = start(&a, "instance-a");
    let rb = start(&b, "instance-b");
    for n in 0..200 {
        let q = if n % 2 == 0 { ra.queue() } else { rb.queue() };
        within(
            10,
            q.enqueue(&NewJob::new("effect", json!({ "n": n })).key(format!("n{n}"))),
        )
        .await
        .unwrap();
    }
    wait_until(90, "200 done jobs", || async {
        a.scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = $1 AND state = 'done'",
            Some("effect"),
        )
        .await
            == 200
    })
    .await;
    within(30, ra.shutdown(Duration::from_secs(5))).await;
    within(30, rb.shutdown(Duration::from_secs(5))).await;
    assert_eq!(a.scalar("SELECT COUNT(*) FROM job_effects", None).await, 200);
    assert_eq!(
        a.scalar("SELECT COUNT(*) FROM jobs WHERE kind = $1", Some("effect"))
            .await,
        200
    );
    // The instance that recorded each effect is the one that marked it done.
    let mismatched = a
        .pairs(
            "SELECT e.finisher, COALESCE(j.lease_owner, '') FROM job_effects e \
             JOIN jobs j ON j.idempotency_key = 'n' || e.job_key WHERE e.finisher <> COALESCE(j.lease_owner, '')",
        )
        .await;
    assert!(mismatched.is_empty(), "{mismatched:?}");
    let per_owner = a
        .pairs("SELECT finisher, CAST(COUNT(*) AS TEXT) FROM job_effects GROUP BY finisher ORDER BY finisher")
        .await;
    assert_eq!(per_owner.len(), 2, "both instances worked: {per_owner:?}");
    assert_eq!(
        runs.load(Ordering::SeqCst) - lost.load(Ordering::SeqCst),
        200,
        "every committed run is one job"
    );
    a.close().await;
    b.close().await;
    db.cleanup().await;
}

async fn a_worker_that_lost_its_lease_is_stopped_and_fenced(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let (a, b) = (db.instance().await, db.instance().await);
    let entered = Arc::new(tokio::sync::Notify::new());
    let stopped = Arc::new(AtomicUsize::new(0));
    let (e, s) = (entered.clone(), stopped.clone());
    let config = RunnerConfig {
        lease: Duration::from_millis(600),
        ..fast("slow-a")
    };
    let running = JobRunner::new(JobQueue::new(a.store.clone()), config)
        .handler("slow", move |ctx: JobContext, _| {
            let (e, s) = (e.clone(), s.clone());
            async move {
                e.notify_one();
                // Stalls (a long computation, a hung call) while the lease is taken over.
                tokio::time::sleep(Duration::from_secs(20)).await;
                s.fetch_add(1, Ordering::SeqCst);
                let mut tx = ctx.begin().await?;
                record_effect(&mut tx, "slow", "slow-a", ctx.attempt()).await?;
                ctx.commit_done(tx).await
            }
        })
        .start();
    let id = within(10, running.queue().enqueue(&NewJob::new("slow", json!({}))))
        .await
        .unwrap()
        .id();
    within(20, entered.notified()).await;
    // Instance B claims as if A's lease had run out (a clock 10 s ahead).
    let taken = within(
        30,
        b.store.claim(
            &["slow".to_owned()],
            "b",
            1,
            Duration::from_secs(30),
            5,
            now_micros() + 10_000_000,
        ),
    )
    .await
    .unwrap();
    assert_eq!(taken.jobs.len(), 1, "B takes over the expired lease");
    assert_eq!(taken.jobs[0].attempts, 2);
    // A's next heartbeat (every 200 ms) finds the lease gone: its handler is
    // stopped before it records anything.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(stopped.load(Ordering::SeqCst), 0, "the handler was stopped");
    assert_eq!(b.scalar("SELECT COUNT(*) FROM job_effects", None).await, 0);
    let info = b.job(id).await;
    assert_eq!(
        (info.state, info.lease_owner.as_deref()),
        (JobState::Running, Some("b"))
    );
    assert!(
        within(10, b.store.complete(&taken.jobs[0].lease, now_micros()))
            .await
            .unwrap()
    );
    assert_eq!(state(&b, id).await, JobState::Done);
    within(30, running.shutdown(Duration::from_secs(2))).await;
    a.close().await;
    b.close().await;
    db.cleanup().await;
}

async fn graceful_shutdown_releases_unfinished_jobs(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let i = db.instance().await;
    let started = Arc::new(AtomicUsize::new(0));
    let st = started.clone();
    let running = JobRunner::new(JobQueue::new(i.store.clone()), fast("leaving"))
        .handler("quick_on_shutdown", |ctx: JobContext, _| async move {
            ctx.shutting_down().cancelled().await;
            Ok(())
        })
        .handler("stubborn", move |_, _| {
            let st = st.clone();
            async move {
                st.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            }
        })
        .start();
    let quick = within(
        10,
        running.queue().enqueue(&NewJob::new("quick_on_shutdown", json!({}))),
    )
    .await
    .unwrap()
    .id();
    let stubborn = within(10, running.queue().enqueue(&NewJob::new("stubborn", json!({}))))
        .await
        .unwrap()
        .id();
    wait_until(20, "both running", || async {
        state(&i, quick).await == JobState::Running && state(&i, stubborn).await == JobState::Running
    })
    .await;
    let t = Instant::now();
    let released = within(30, running.shutdown(Duration::from_millis(500))).await;
    assert!(t.elapsed() < Duration::from_secs(5), "shutdown is bounded by its grace");
    assert_eq!(released, 1);
    assert_eq!(state(&i, quick).await, JobState::Done, "finished within the grace");
    let info = i.job(stubborn).await;
    assert_eq!(
        (info.state, info.attempts),
        (JobState::Queued, 0),
        "released, attempt refunded"
    );
    assert!(info.lease_until.is_none());
    // Another instance picks it up at once, not after a lease timeout.
    let got = within(
        10,
        i.store.claim(
            &["stubborn".to_owned()],
            "next",
            1,
            Duration::from_secs(30),
            5,
            now_micros(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(got.jobs.len(), 1);
    assert_eq!(started.load(Ordering::SeqCst), 1);
    i.close().await;
    db.cleanup().await;
}

async fn recurring_jobs_run_once_per_period_across_instances(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let (a, b) = (db.instance().await, db.instance().await);
    let ticks = Arc::new(AtomicUsize::new(0));
    let start = |inst: &Instance, owner: &str| {
        let t = ticks.clone();
        JobRunner::new(JobQueue::new(inst.store.clone()), fast(owner))
            .handler("tick", move |_, _| {
                let t = t.clone();
                async move {
                    t.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            })
            .recurring(Recurring::new("tick", Duration::from_secs(1)))
            .start()
    };
    let t0 = now_micros();
    let (ra, rb) = (start(&a, "ra"), start(&b, "rb"));
    tokio::time::sleep(Duration::from_millis(2600)).await;
    within(30, ra.shutdown(Duration::from_secs(2))).await;
    within(30, rb.shutdown(Duration::from_secs(2))).await;
    let periods = (now_micros() / 1_000_000 - t0 / 1_000_000 + 1) as usize;
    let jobs = a
        .scalar("SELECT COUNT(*) FROM jobs WHERE kind = $1", Some("tick"))
        .await as usize;
    let done = a
        .scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = $1 AND state = 'done'",
            Some("tick"),
        )
        .await as usize;
    assert!(jobs >= 3 && jobs <= periods, "{jobs} jobs in {periods} periods");
    // (The last period's job may have been enqueued just before the shutdown.)
    assert!(done + 1 >= jobs, "{done} of {jobs} done");
    assert_eq!(
        ticks.load(Ordering::SeqCst),
        done,
        "one run per period, not one per instance"
    );
    // The built-in clean-up job is scheduled too.
    assert!(
        a.scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = $1",
            Some(sova_jobs::CLEANUP_KIND)
        )
        .await
            >= 1
    );
    a.close().await;
    b.close().await;
    db.cleanup().await;
}

async fn a_local_enqueue_wakes_the_runner(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let i = db.instance().await;
    let config = RunnerConfig {
        poll_min: Duration::from_secs(10),
        poll_max: Duration::from_secs(10),
        ..fast("waker")
    };
    let running = JobRunner::new(JobQueue::new(i.store.clone()), config)
        .handler("ping", |_, _| async { Ok(()) })
        .start();
    // Let the dispatcher go idle first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    let id = within(10, running.queue().enqueue(&NewJob::new("ping", json!({}))))
        .await
        .unwrap()
        .id();
    wait_until(5, "done", || async { state(&i, id).await == JobState::Done }).await;
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "woken, not polled: {:?}",
        t.elapsed()
    );
    within(30, running.shutdown(Duration::from_secs(2))).await;
    i.close().await;
    db.cleanup().await;
}

/// Instance B keeps stealing jobs from A's runner (claiming as if every lease had
/// expired) while A's handlers commit their effects with `done`: each job's effect
/// is committed once, by the worker that finished it, never by both.
async fn stolen_jobs_are_finished_by_one_worker_only(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let (a, b) = (db.instance().await, db.instance().await);
    let lost = Arc::new(AtomicUsize::new(0));
    let l = lost.clone();
    let running = JobRunner::new(JobQueue::new(a.store.clone()), fast("A"))
        .handler("race", move |ctx: JobContext, payload| {
            let l = l.clone();
            async move {
                let key = payload["n"].to_string();
                let mut tx = ctx.begin().await?;
                record_effect(&mut tx, &key, "A", ctx.attempt()).await?;
                tokio::time::sleep(Duration::from_millis(3)).await;
                let r = ctx.commit_done(tx).await;
                if r == Err(JobError::LeaseLost) {
                    l.fetch_add(1, Ordering::SeqCst);
                }
                r
            }
        })
        .start();
    const N: i64 = 100;
    for n in 0..N {
        within(
            10,
            running
                .queue()
                .enqueue(&NewJob::new("race", json!({ "n": n })).key(format!("n{n}"))),
        )
        .await
        .unwrap();
    }
    let (mut stolen, mut conflicts) = (0, 0);
    let kinds = vec!["race".to_owned()];
    loop {
        let done = a
            .scalar(
                "SELECT COUNT(*) FROM jobs WHERE kind = $1 AND state = 'done'",
                Some("race"),
            )
            .await;
        if done == N {
            break;
        }
        let far = now_micros() + 3_600_000_000;
        let c = within(30, b.store.claim(&kinds, "B", 3, Duration::from_secs(30), 50, far))
            .await
            .unwrap();
        for job in c.jobs {
            stolen += 1;
            let key = serde_json::from_str::<serde_json::Value>(&job.payload).unwrap()["n"].to_string();
            const SQL: &str = "INSERT INTO job_effects (job_key, finisher, attempt) VALUES ($1, 'B', $2) ON CONFLICT (job_key) DO NOTHING";
            let mut tx = within(30, b.store.begin()).await.unwrap();
            let inserted = within(30, async {
                match &mut tx {
                    JobTx::Sqlite(t) => sqlx::query(SQL)
                        .bind(&key)
                        .bind(i64::from(job.attempts))
                        .execute(&mut **t)
                        .await
                        .map(|r| r.rows_affected()),
                    JobTx::Postgres(t) => sqlx::query(SQL)
                        .bind(&key)
                        .bind(i64::from(job.attempts))
                        .execute(&mut **t)
                        .await
                        .map(|r| r.rows_affected()),
                }
            })
            .await
            .unwrap();
            within(30, tx.commit()).await.unwrap();
            if inserted == 0 {
                conflicts += 1;
            }
            assert!(within(30, b.store.complete(&job.lease, now_micros())).await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(4)).await;
    }
    within(30, running.shutdown(Duration::from_secs(5))).await;
    assert_eq!(conflicts, 0, "A committed an effect for a job B had taken over");
    assert!(stolen > 0, "the race never happened");
    assert_eq!(a.scalar("SELECT COUNT(*) FROM job_effects", None).await, N);
    let mismatched = a
        .pairs(
            "SELECT e.finisher, COALESCE(j.lease_owner, '') FROM job_effects e \
             JOIN jobs j ON j.idempotency_key = 'n' || e.job_key WHERE e.finisher <> COALESCE(j.lease_owner, '')",
        )
        .await;
    assert!(mismatched.is_empty(), "{mismatched:?}");
    let by_b = a
        .scalar("SELECT COUNT(*) FROM job_effects WHERE finisher = $1", Some("B"))
        .await;
    assert_eq!(by_b, stolen, "every stolen job was finished by B");
    a.close().await;
    b.close().await;
    db.cleanup().await;
}

both_backends!(
    retries_with_backoff_then_dead,
    two_instances_finish_each_job_once,
    stolen_jobs_are_finished_by_one_worker_only,
    a_worker_that_lost_its_lease_is_stopped_and_fenced,
    graceful_shutdown_releases_unfinished_jobs,
    recurring_jobs_run_once_per_period_across_instances,
    a_local_enqueue_wakes_the_runner,
);
