//! The job store on SQLite. Every write that claims jobs runs in `BEGIN IMMEDIATE`,
//! which takes SQLite's single write lock up front: two processes (or pools) on one
//! file claim one after the other, never the same job.

use super::{
    BURY, COMPLETE, Claimed, EXPIRED_LAST_ATTEMPT, GET, INSERT, JobStore, LIST_NEWEST, LIST_OLDEST_DUE, PURGE_FINISHED,
    PURGE_PERIODS, QueueError, QueueResult, RELEASE, RENEW, RETRY_ALL_DEAD, RETRY_AT, RETRY_ONE, SELECT_BY_KEY,
    STATS_COUNTS, STATS_COUNTS_UNFINISHED, STATS_OLDEST, claimed_row, clamp_limit, clip, count_row, info_row, map_err,
    new_token,
};
use crate::context::JobTx;
use crate::model::{Enqueued, JobInfo, JobStats, Lease, ListFilter, ListOrder, NewJob, RetryTarget};
use async_trait::async_trait;
use sqlx::sqlite::SqlitePool;
use sqlx::{Sqlite, SqliteConnection, Transaction};
use std::time::Duration;

const REAP: &str = "UPDATE jobs SET state = 'dead', last_error = $4, lease_token = NULL, lease_until = NULL, \
     finished_at = $1, updated_at = $1 \
     WHERE state = 'running' AND lease_until <= $1 AND attempts >= COALESCE(max_attempts, $2) \
     AND kind IN (SELECT value FROM json_each($3)) RETURNING kind";

const CLAIM: &str = "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $1, \
     lease_token = $2, lease_until = $3, updated_at = $4 \
     WHERE id IN (SELECT id FROM jobs WHERE kind IN (SELECT value FROM json_each($5)) \
       AND ((state IN ('queued', 'retry') AND run_at <= $4) OR (state = 'running' AND lease_until <= $4)) \
       ORDER BY run_at, id LIMIT $6) \
     RETURNING id, kind, payload, idempotency_key, attempts, max_attempts, created_at";

/// Whether any job of the kinds is due or has an expired lease: a plain read, so an
/// idle poll never takes the write lock the message writer needs.
const ANY_DUE: &str = "SELECT EXISTS (SELECT 1 FROM jobs WHERE kind IN (SELECT value FROM json_each($2)) \
     AND ((state IN ('queued', 'retry') AND run_at <= $1) OR (state = 'running' AND lease_until <= $1)))";

/// The job store on an SQLite pool (usually the main store's, `SqliteStore::pool`).
#[derive(Clone)]
pub struct SqliteJobs {
    pool: SqlitePool,
}

impl SqliteJobs {
    /// Jobs in the database behind `pool`, which must be migrated (`0009_jobs`).
    pub fn new(pool: SqlitePool) -> SqliteJobs {
        SqliteJobs { pool }
    }

    /// The pool this store uses.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Enqueues `job` inside the caller's transaction: the job exists if and only if
/// that transaction commits. Deduplicates by idempotency key like
/// [`JobStore::enqueue`]. The runner of this process learns of it at its next poll
/// (at most `poll_max` later), or at once after [`crate::JobQueue::wake`].
///
/// ```no_run
/// # async fn f(pool: sqlx::SqlitePool, queue: sova_jobs::JobQueue) -> Result<(), Box<dyn std::error::Error>> {
/// use sova_jobs::{NewJob, sqlite};
/// let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
/// sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
///     .bind("a@example.org")
///     .bind(7_i64)
///     .execute(&mut *tx)
///     .await?;
/// let job = NewJob::new("email.verify", serde_json::json!({ "user_id": 7 })).key("verify:7:a@example.org");
/// sqlite::enqueue_in(&mut tx, &job).await?;
/// tx.commit().await?; // both the change and its job, or neither
/// queue.wake();
/// # Ok(()) }
/// ```
pub async fn enqueue_in(tx: &mut Transaction<'_, Sqlite>, job: &NewJob) -> QueueResult<Enqueued> {
    enqueue_on(tx, job).await
}

async fn enqueue_on(conn: &mut SqliteConnection, job: &NewJob) -> QueueResult<Enqueued> {
    let now = crate::now_micros();
    let id: Option<i64> = sqlx::query_scalar(INSERT)
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(job.idempotency_key.as_deref())
        .bind(job.max_attempts.map(i64::from))
        .bind(job.run_at.unwrap_or(now))
        .bind(now)
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?;
    if let Some(id) = id {
        return Ok(Enqueued::New(id));
    }
    let existing: Option<i64> = sqlx::query_scalar(SELECT_BY_KEY)
        .bind(&job.kind)
        .bind(job.idempotency_key.as_deref())
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?;
    existing
        .map(Enqueued::Duplicate)
        .ok_or_else(|| QueueError::Other("enqueue inserted nothing and found no duplicate".into()))
}

/// Marks the job done inside `tx` if `lease` still owns it; false when lost.
pub(crate) async fn complete_in(tx: &mut Transaction<'static, Sqlite>, lease: &Lease, now: i64) -> QueueResult<bool> {
    let r = sqlx::query(COMPLETE)
        .bind(lease.job_id)
        .bind(&lease.token)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(r.rows_affected() == 1)
}

impl SqliteJobs {
    async fn fenced(&self, sql: &'static str, lease: &Lease, a: i64) -> QueueResult<bool> {
        let r = sqlx::query(sql)
            .bind(lease.job_id)
            .bind(&lease.token)
            .bind(a)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(r.rows_affected() == 1)
    }
}

#[async_trait]
impl JobStore for SqliteJobs {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn enqueue(&self, job: &NewJob) -> QueueResult<Enqueued> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
        let done = enqueue_on(&mut tx, job).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(done)
    }

    async fn claim(
        &self,
        kinds: &[String],
        owner: &str,
        limit: usize,
        lease: Duration,
        default_max_attempts: u32,
        now: i64,
    ) -> QueueResult<Claimed> {
        if kinds.is_empty() || limit == 0 {
            return Ok(Claimed::default());
        }
        let kinds_json = serde_json::to_string(kinds).map_err(|e| QueueError::Other(e.to_string()))?;
        let due: bool = sqlx::query_scalar(ANY_DUE)
            .bind(now)
            .bind(&kinds_json)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        if !due {
            return Ok(Claimed::default());
        }
        let token = new_token();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
        let expired_dead: Vec<String> = sqlx::query_scalar(REAP)
            .bind(now)
            .bind(i64::from(default_max_attempts))
            .bind(&kinds_json)
            .bind(EXPIRED_LAST_ATTEMPT)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
        let rows = sqlx::query(CLAIM)
            .bind(owner)
            .bind(&token)
            .bind(now.saturating_add(crate::micros(lease)))
            .bind(now)
            .bind(&kinds_json)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
        let jobs = rows
            .iter()
            .map(|r| claimed_row(r, &token))
            .collect::<Result<Vec<_>, _>>()
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(Claimed { jobs, expired_dead })
    }

    async fn renew(&self, lease: &Lease, until: i64) -> QueueResult<bool> {
        self.fenced(RENEW, lease, until).await
    }

    async fn complete(&self, lease: &Lease, now: i64) -> QueueResult<bool> {
        self.fenced(COMPLETE, lease, now).await
    }

    async fn retry_at(&self, lease: &Lease, run_at: i64, error: &str, now: i64) -> QueueResult<bool> {
        let r = sqlx::query(RETRY_AT)
            .bind(lease.job_id)
            .bind(&lease.token)
            .bind(run_at)
            .bind(clip(error))
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn bury(&self, lease: &Lease, error: &str, now: i64) -> QueueResult<bool> {
        let r = sqlx::query(BURY)
            .bind(lease.job_id)
            .bind(&lease.token)
            .bind(clip(error))
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn release(&self, lease: &Lease, now: i64) -> QueueResult<bool> {
        self.fenced(RELEASE, lease, now).await
    }

    async fn begin(&self) -> QueueResult<JobTx> {
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
        Ok(JobTx::Sqlite(tx))
    }

    async fn stats(&self, now: i64, with_done: bool) -> QueueResult<JobStats> {
        let sql = if with_done {
            STATS_COUNTS
        } else {
            STATS_COUNTS_UNFINISHED
        };
        let rows = sqlx::query(sql).fetch_all(&self.pool).await.map_err(map_err)?;
        let counts = rows
            .iter()
            .map(count_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(map_err)?;
        let oldest_due_run_at: Option<i64> = sqlx::query_scalar(STATS_OLDEST)
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(JobStats {
            counts,
            oldest_due_run_at,
        })
    }

    async fn list(&self, filter: &ListFilter) -> QueueResult<Vec<JobInfo>> {
        let sql = match filter.order {
            ListOrder::Newest => LIST_NEWEST,
            ListOrder::OldestDue => LIST_OLDEST_DUE,
        };
        let rows = sqlx::query(sql)
            .bind(filter.state.map(|s| s.as_str()))
            .bind(filter.kind.as_deref())
            .bind(clamp_limit(filter.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(info_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(map_err)
    }

    async fn get(&self, id: i64) -> QueueResult<Option<JobInfo>> {
        let row = sqlx::query(GET)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| info_row(&r)).transpose().map_err(map_err)
    }

    async fn retry_dead(&self, target: RetryTarget, now: i64) -> QueueResult<u64> {
        let q = match target {
            RetryTarget::One(id) => sqlx::query(RETRY_ONE).bind(id).bind(now),
            RetryTarget::AllDead => sqlx::query(RETRY_ALL_DEAD).bind(now),
        };
        let r = q.execute(&self.pool).await.map_err(map_err)?;
        Ok(r.rows_affected())
    }

    async fn purge_finished(&self, done_before: i64, dead_before: i64) -> QueueResult<u64> {
        let r = sqlx::query(PURGE_FINISHED)
            .bind(done_before)
            .bind(dead_before)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(r.rows_affected())
    }

    async fn purge_periods(&self, kind: &str, started_before: i64) -> QueueResult<u64> {
        let r = sqlx::query(PURGE_PERIODS)
            .bind(kind)
            .bind(started_before)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(r.rows_affected())
    }
}
