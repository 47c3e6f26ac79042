//! The job store on SQLite and PostgreSQL: enqueue/claim/complete, idempotency
//! keys, scheduling, fenced completion after a lease expires, dead-lettering,
//! operator retries, enqueue inside a rolled-back transaction, clean-up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, Pool, TestDb, within};
use serde_json::json;
use sova_jobs::{
    Enqueued, JobState, ListFilter, ListOrder, NewJob, RetryTarget, now_micros, postgres as pg_jobs,
    sqlite as sqlite_jobs,
};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(30);

fn kinds(k: &[&str]) -> Vec<String> {
    k.iter().map(|s| (*s).to_owned()).collect()
}

async fn enqueue_claim_complete(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let i = db.instance().await;
    let s = &i.store;
    let id = within(10, s.enqueue(&NewJob::new("mail", json!({"to": "a"}))))
        .await
        .unwrap();
    assert!(id.is_new());
    let id = id.id();
    let info = i.job(id).await;
    assert_eq!(
        (info.state, info.attempts, info.kind.as_str()),
        (JobState::Queued, 0, "mail")
    );
    // Other kinds are not claimed.
    let none = within(10, s.claim(&kinds(&["other"]), "w1", 10, LEASE, 5, now_micros()))
        .await
        .unwrap();
    assert!(none.jobs.is_empty());
    let now = now_micros();
    let got = within(10, s.claim(&kinds(&["mail", "other"]), "w1", 10, LEASE, 5, now))
        .await
        .unwrap();
    assert_eq!(got.jobs.len(), 1);
    let job = &got.jobs[0];
    assert_eq!((job.id, job.attempts, job.kind.as_str()), (id, 1, "mail"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&job.payload).unwrap(),
        json!({"to": "a"})
    );
    let info = i.job(id).await;
    assert_eq!(info.state, JobState::Running);
    assert_eq!(info.lease_owner.as_deref(), Some("w1"));
    assert!(info.lease_until.unwrap() >= now + 29_000_000);
    // Running and leased: nobody else gets it.
    let again = within(10, s.claim(&kinds(&["mail"]), "w2", 10, LEASE, 5, now_micros()))
        .await
        .unwrap();
    assert!(again.jobs.is_empty());
    // A wrong token changes nothing.
    let mut forged = job.lease.clone();
    forged.token = "forged".into();
    assert!(!within(10, s.complete(&forged, now_micros())).await.unwrap());
    assert!(within(10, s.complete(&job.lease, now_micros())).await.unwrap());
    let info = i.job(id).await;
    assert_eq!(info.state, JobState::Done);
    assert!(info.finished_at.is_some() && info.lease_until.is_none());
    assert_eq!(info.lease_owner.as_deref(), Some("w1"), "the finisher stays visible");
    // Done once: a second completion is refused.
    assert!(!within(10, s.complete(&job.lease, now_micros())).await.unwrap());
    let stats = within(10, s.stats(now_micros(), true)).await.unwrap();
    assert_eq!(stats.in_state(JobState::Done), 1);
    assert_eq!(stats.in_state(JobState::Queued), 0);
    let light = within(10, s.stats(now_micros(), false)).await.unwrap();
    assert_eq!(
        light.in_state(JobState::Done),
        0,
        "done jobs are skipped when not asked for"
    );
    i.close().await;
    db.cleanup().await;
}

async fn idempotency_keys_deduplicate(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let i = db.instance().await;
    let s = &i.store;
    let a = within(10, s.enqueue(&NewJob::new("k", json!(1)).key("x")))
        .await
        .unwrap();
    let b = within(10, s.enqueue(&NewJob::new("k", json!(2)).key("x")))
        .await
        .unwrap();
    assert!(matches!(a, Enqueued::New(_)));
    assert_eq!(b, Enqueued::Duplicate(a.id()));
    assert_eq!(i.job(a.id()).await.payload, "1", "the first payload wins");
    // Same key, other kind: a separate job. No key: never deduplicated.
    let c = within(10, s.enqueue(&NewJob::new("k2", json!(3)).key("x")))
        .await
        .unwrap();
    assert!(c.is_new() && c.id() != a.id());
    let d = within(10, s.enqueue(&NewJob::new("k", json!(4)))).await.unwrap();
    let e = within(10, s.enqueue(&NewJob::new("k", json!(4)))).await.unwrap();
    assert!(d.is_new() && e.is_new() && d.id() != e.id());
    // A finished job keeps its key until clean-up removes it.
    let got = within(10, s.claim(&kinds(&["k"]), "w", 1, LEASE, 5, now_micros()))
        .await
        .unwrap();
    assert_eq!(got.jobs[0].id, a.id());
    assert!(within(10, s.complete(&got.jobs[0].lease, now_micros())).await.unwrap());
    let f = within(10, s.enqueue(&NewJob::new("k", json!(5)).key("x")))
        .await
        .unwrap();
    assert_eq!(f, Enqueued::Duplicate(a.id()));
    let future = now_micros() + 3_600_000_000;
    assert_eq!(within(10, s.purge_finished(future, 0)).await.unwrap(), 1);
    let g = within(10, s.enqueue(&NewJob::new("k", json!(6)).key("x")))
        .await
        .unwrap();
    assert!(g.is_new(), "the key is free after clean-up");
    i.close().await;
    db.cleanup().await;
}

async fn run_at_schedules(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let i = db.instance().await;
    let s = &i.store;
    let now = now_micros();
    let later = within(10, s.enqueue(&NewJob::new("s", json!({})).run_at(now + 3_600_000_000)))
        .await
        .unwrap();
    let sooner = within(10, s.enqueue(&NewJob::new("s", json!({})).run_at(now + 60_000_000)))
        .await
        .unwrap();
    let got = within(10, s.claim(&kinds(&["s"]), "w", 10, LEASE, 5, now))
        .await
        .unwrap();
    assert!(got.jobs.is_empty(), "nothing is due yet");
    let got = within(10, s.claim(&kinds(&["s"]), "w", 10, LEASE, 5, now + 61_000_000))
        .await
        .unwrap();
    assert_eq!(got.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), vec![sooner.id()]);
    // (Finished, or its expired lease would make it due again below.)
    assert!(within(10, s.complete(&got.jobs[0].lease, now)).await.unwrap());
    let got = within(10, s.claim(&kinds(&["s"]), "w", 10, LEASE, 5, now + 3_601_000_000))
        .await
        .unwrap();
    assert_eq!(got.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), vec![later.id()]);
    // The earliest run_at is listed first.
    let due = within(
        10,
        s.list(&ListFilter {
            order: ListOrder::OldestDue,
            limit: 10,
            ..ListFilter::default()
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        due.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![sooner.id(), later.id()]
    );
    i.close().await;
    db.cleanup().await;
}

async fn expired_lease_moves_to_another_worker_and_fences_the_first(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let (a, b) = (db.instance().await, db.instance().await);
    let id = within(10, a.store.enqueue(&NewJob::new("f", json!({}))))
        .await
        .unwrap()
        .id();
    let t0 = now_micros();
    let lease = Duration::from_secs(2);
    let first = within(10, a.store.claim(&kinds(&["f"]), "A", 1, lease, 5, t0))
        .await
        .unwrap();
    let first = first.jobs[0].clone();
    let early = within(10, b.store.claim(&kinds(&["f"]), "B", 1, lease, 5, t0 + 1_000_000))
        .await
        .unwrap();
    assert!(early.jobs.is_empty(), "the lease still holds");
    let second = within(10, b.store.claim(&kinds(&["f"]), "B", 1, lease, 5, t0 + 2_500_000))
        .await
        .unwrap();
    assert_eq!(second.jobs.len(), 1, "an expired lease is claimable");
    let second = second.jobs[0].clone();
    assert_eq!((second.id, second.attempts), (id, 2), "the lost attempt counts");
    assert_ne!(first.lease.token, second.lease.token);
    // The first worker can no longer renew, finish, retry, bury or release it.
    let now = now_micros();
    assert!(!within(10, a.store.renew(&first.lease, now + 9_000_000)).await.unwrap());
    assert!(!within(10, a.store.complete(&first.lease, now)).await.unwrap());
    assert!(!within(10, a.store.retry_at(&first.lease, now, "x", now)).await.unwrap());
    assert!(!within(10, a.store.bury(&first.lease, "x", now)).await.unwrap());
    assert!(!within(10, a.store.release(&first.lease, now)).await.unwrap());
    assert_eq!(i_state(&b, id).await, JobState::Running);
    assert!(within(10, b.store.renew(&second.lease, now + 9_000_000)).await.unwrap());
    assert!(within(10, b.store.complete(&second.lease, now)).await.unwrap());
    let info = b.job(id).await;
    assert_eq!((info.state, info.attempts), (JobState::Done, 2));
    assert_eq!(info.lease_owner.as_deref(), Some("B"));
    a.close().await;
    b.close().await;
    db.cleanup().await;
}

async fn i_state(i: &common::Instance, id: i64) -> JobState {
    i.job(id).await.state
}

async fn retry_then_dead_then_operator_retry(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let i = db.instance().await;
    let s = &i.store;
    let id = within(10, s.enqueue(&NewJob::new("r", json!({})).max_attempts(2)))
        .await
        .unwrap()
        .id();
    let t = now_micros();
    let c = within(10, s.claim(&kinds(&["r"]), "w", 1, LEASE, 10, t))
        .await
        .unwrap()
        .jobs;
    assert!(
        within(10, s.retry_at(&c[0].lease, t + 5_000_000, "smtp down", t))
            .await
            .unwrap()
    );
    let info = i.job(id).await;
    assert_eq!(info.state, JobState::Retry);
    assert_eq!(info.last_error.as_deref(), Some("smtp down"));
    assert_eq!(info.run_at, t + 5_000_000);
    assert!(info.lease_until.is_none());
    assert!(
        within(10, s.claim(&kinds(&["r"]), "w", 1, LEASE, 10, t + 1))
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
    let c = within(10, s.claim(&kinds(&["r"]), "w", 1, LEASE, 10, t + 5_000_000))
        .await
        .unwrap()
        .jobs;
    assert_eq!(c[0].attempts, 2);
    assert!(
        within(10, s.bury(&c[0].lease, "smtp down (attempt 2 of 2)", t))
            .await
            .unwrap()
    );
    let info = i.job(id).await;
    assert_eq!(info.state, JobState::Dead);
    assert!(info.finished_at.is_some());
    let dead = within(
        10,
        s.list(&ListFilter {
            state: Some(JobState::Dead),
            limit: 10,
            ..ListFilter::default()
        }),
    )
    .await
    .unwrap();
    assert_eq!(dead.iter().map(|j| j.id).collect::<Vec<_>>(), vec![id]);
    // Dead jobs are never claimed; an operator retry re-queues with attempts reset.
    assert!(
        within(10, s.claim(&kinds(&["r"]), "w", 1, LEASE, 10, t + 99_000_000))
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
    let queued = within(10, s.enqueue(&NewJob::new("r", json!({})))).await.unwrap().id();
    assert_eq!(
        within(10, s.retry_dead(RetryTarget::One(queued), now_micros()))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        within(10, s.retry_dead(RetryTarget::One(id), now_micros()))
            .await
            .unwrap(),
        1
    );
    let info = i.job(id).await;
    assert_eq!(
        (info.state, info.attempts, info.finished_at),
        (JobState::Queued, 0, None)
    );
    assert_eq!(
        info.last_error.as_deref(),
        Some("smtp down (attempt 2 of 2)"),
        "history kept"
    );
    let c = within(10, s.claim(&kinds(&["r"]), "w", 5, LEASE, 10, now_micros()))
        .await
        .unwrap()
        .jobs;
    assert_eq!(c.len(), 2);
    for j in &c {
        assert!(within(10, s.bury(&j.lease, "again", now_micros())).await.unwrap());
    }
    assert_eq!(
        within(10, s.retry_dead(RetryTarget::AllDead, now_micros()))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        within(10, s.stats(now_micros(), true))
            .await
            .unwrap()
            .in_state(JobState::Queued),
        2
    );
    i.close().await;
    db.cleanup().await;
}

async fn expired_lease_on_last_attempt_goes_dead(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let i = db.instance().await;
    let s = &i.store;
    let capped = within(10, s.enqueue(&NewJob::new("d", json!({})).max_attempts(1)))
        .await
        .unwrap()
        .id();
    let t = now_micros();
    let lease = Duration::from_secs(1);
    assert_eq!(
        within(10, s.claim(&kinds(&["d"]), "w", 5, lease, 3, t))
            .await
            .unwrap()
            .jobs
            .len(),
        1
    );
    let c = within(10, s.claim(&kinds(&["d"]), "w", 5, lease, 3, t + 2_000_000))
        .await
        .unwrap();
    assert!(c.jobs.is_empty());
    assert_eq!(c.expired_dead, vec!["d".to_owned()]);
    let info = i.job(capped).await;
    assert_eq!(info.state, JobState::Dead);
    assert!(info.last_error.unwrap().contains("lease expired"));
    // Without its own limit, the default limit applies.
    let dflt = within(10, s.enqueue(&NewJob::new("d", json!({})))).await.unwrap().id();
    let mut at = t + 10_000_000;
    for attempt in 1..=2 {
        let c = within(10, s.claim(&kinds(&["d"]), "w", 5, lease, 2, at)).await.unwrap();
        assert_eq!(c.jobs.len(), 1, "attempt {attempt}");
        at += 2_000_000;
    }
    let c = within(10, s.claim(&kinds(&["d"]), "w", 5, lease, 2, at)).await.unwrap();
    assert!(c.jobs.is_empty());
    assert_eq!(i.job(dflt).await.state, JobState::Dead);
    i.close().await;
    db.cleanup().await;
}

async fn rolled_back_enqueue_leaves_nothing(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let i = db.instance().await;
    let job = NewJob::new("tx", json!({"n": 1})).key("once");
    within(10, async {
        match &i.pool {
            Pool::Sqlite(p) => {
                let mut tx = p.begin_with("BEGIN IMMEDIATE").await.unwrap();
                sqlx::query("INSERT INTO job_effects (job_key, finisher, attempt) VALUES ('cause', 'x', 0)")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                assert!(sqlite_jobs::enqueue_in(&mut tx, &job).await.unwrap().is_new());
                tx.rollback().await.unwrap();
            }
            Pool::Postgres(p) => {
                let mut tx = p.begin().await.unwrap();
                sqlx::query("INSERT INTO job_effects (job_key, finisher, attempt) VALUES ('cause', 'x', 0)")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                assert!(pg_jobs::enqueue_in(&mut tx, &job).await.unwrap().is_new());
                tx.rollback().await.unwrap();
            }
        }
    })
    .await;
    assert_eq!(i.scalar("SELECT COUNT(*) FROM jobs", None).await, 0);
    assert_eq!(i.scalar("SELECT COUNT(*) FROM job_effects", None).await, 0);
    // Committed: the change and its job both exist; the key still deduplicates.
    within(10, async {
        match &i.pool {
            Pool::Sqlite(p) => {
                let mut tx = p.begin_with("BEGIN IMMEDIATE").await.unwrap();
                assert!(sqlite_jobs::enqueue_in(&mut tx, &job).await.unwrap().is_new());
                assert!(!sqlite_jobs::enqueue_in(&mut tx, &job).await.unwrap().is_new());
                tx.commit().await.unwrap();
            }
            Pool::Postgres(p) => {
                let mut tx = p.begin().await.unwrap();
                assert!(pg_jobs::enqueue_in(&mut tx, &job).await.unwrap().is_new());
                assert!(!pg_jobs::enqueue_in(&mut tx, &job).await.unwrap().is_new());
                tx.commit().await.unwrap();
            }
        }
    })
    .await;
    assert_eq!(
        i.scalar("SELECT COUNT(*) FROM jobs WHERE kind = $1", Some("tx")).await,
        1
    );
    // The same through a job transaction (a handler chaining a follow-up job).
    let follow = NewJob::new("follow_up", json!({}));
    let mut tx = within(10, i.store.begin()).await.unwrap();
    assert!(within(10, tx.enqueue(&follow)).await.unwrap().is_new());
    drop(tx); // rolled back
    assert_eq!(
        i.scalar("SELECT COUNT(*) FROM jobs WHERE kind = $1", Some("follow_up"))
            .await,
        0
    );
    let mut tx = within(10, i.store.begin()).await.unwrap();
    within(10, tx.enqueue(&follow)).await.unwrap();
    within(10, tx.commit()).await.unwrap();
    assert_eq!(
        i.scalar("SELECT COUNT(*) FROM jobs WHERE kind = $1", Some("follow_up"))
            .await,
        1
    );
    i.close().await;
    db.cleanup().await;
}

async fn purge_keeps_recent_and_unfinished_jobs(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let i = db.instance().await;
    let s = &i.store;
    for n in 0..3 {
        within(10, s.enqueue(&NewJob::new("p", json!(n)))).await.unwrap();
    }
    let t = now_micros();
    let c = within(10, s.claim(&kinds(&["p"]), "w", 2, LEASE, 5, t))
        .await
        .unwrap()
        .jobs;
    assert!(within(10, s.complete(&c[0].lease, t)).await.unwrap());
    assert!(within(10, s.bury(&c[1].lease, "x", t)).await.unwrap());
    // Within retention: nothing goes.
    assert_eq!(within(10, s.purge_finished(t - 1, t - 1)).await.unwrap(), 0);
    // Done past retention, dead not yet (its retention is longer).
    assert_eq!(within(10, s.purge_finished(t + 1, t - 1)).await.unwrap(), 1);
    assert_eq!(within(10, s.purge_finished(t + 1, t + 1)).await.unwrap(), 1);
    let stats = within(10, s.stats(now_micros(), true)).await.unwrap();
    assert_eq!(stats.in_state(JobState::Queued), 1, "unfinished jobs are never purged");
    assert!(stats.oldest_due_run_at.is_some());
    i.close().await;
    db.cleanup().await;
}

/// Finished runs of a short-period recurring job go once their period is over; the
/// current period's run, other kinds and keyless jobs stay.
async fn finished_periods_are_purged(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let i = db.instance().await;
    let s = &i.store;
    let every = std::time::Duration::from_secs(1);
    let r = sova_jobs::Recurring::new("tick", every);
    let t = now_micros();
    // Three finished periods, the last one current; one keyless "tick" and one other kind.
    for back in [5_000_000, 3_000_000, 0] {
        within(10, s.enqueue(&r.job_at(t - back))).await.unwrap();
    }
    within(10, s.enqueue(&NewJob::new("tick", json!({})).run_at(t - 9_000_000)))
        .await
        .unwrap();
    within(
        10,
        s.enqueue(&NewJob::new("other", json!({})).key("period:1:1").run_at(t - 9_000_000)),
    )
    .await
    .unwrap();
    let claimed = within(10, s.claim(&kinds(&["tick", "other"]), "w", 10, LEASE, 5, t))
        .await
        .unwrap()
        .jobs;
    assert_eq!(claimed.len(), 5);
    for c in &claimed {
        assert!(within(10, s.complete(&c.lease, t)).await.unwrap());
    }
    assert_eq!(within(10, s.purge_periods("tick", t - 2_000_000)).await.unwrap(), 2);
    assert_eq!(within(10, s.purge_periods("tick", t - 2_000_000)).await.unwrap(), 0);
    let stats = within(10, s.stats(now_micros(), true)).await.unwrap();
    assert_eq!(
        stats.in_state(JobState::Done),
        3,
        "the current period, the keyless job and the other kind stay"
    );
    // The current period's key still holds.
    let again = within(10, s.enqueue(&r.job_at(t))).await.unwrap();
    assert!(!again.is_new(), "a period cannot run twice");
    i.close().await;
    db.cleanup().await;
}

both_backends!(
    finished_periods_are_purged,
    enqueue_claim_complete,
    idempotency_keys_deduplicate,
    run_at_schedules,
    expired_lease_moves_to_another_worker_and_fences_the_first,
    retry_then_dead_then_operator_retry,
    expired_lease_on_last_attempt_goes_dead,
    rolled_back_enqueue_leaves_nothing,
    purge_keeps_recent_and_unfinished_jobs,
);
