//! The job store on PostgreSQL. Claims lock candidate rows with `FOR UPDATE SKIP
//! LOCKED`, so instances sharing the database claim disjoint jobs without waiting
//! for each other.

use super::{
    BURY, COMPLETE, Claimed, EXPIRED_LAST_ATTEMPT, GET, INSERT, JobStore, LIST_NEWEST, LIST_OLDEST_DUE, PURGE_FINISHED,
    PURGE_PERIODS, QueueError, QueueResult, RELEASE, RENEW, RETRY_ALL_DEAD, RETRY_AT, RETRY_ONE, SELECT_BY_KEY,
    STATS_COUNTS, STATS_COUNTS_UNFINISHED, STATS_OLDEST, claimed_row, clamp_limit, clip, count_row, info_row, map_err,
    new_token,
};
use crate::context::JobTx;
use crate::model::{Enqueued, JobInfo, JobStats, Lease, ListFilter, ListOrder, NewJob, RetryTarget};
use async_trait::async_trait;
use sqlx::postgres::PgPool;
use sqlx::{PgConnection, Postgres, Transaction};
use std::time::Duration;

const REAP: &str = "UPDATE jobs SET state = 'dead', last_error = $4, lease_token = NULL, lease_until = NULL, \
     finished_at = $1, updated_at = $1 \
     WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_until <= $1 \
       AND attempts >= COALESCE(max_attempts, $2) AND kind = ANY($3) FOR UPDATE SKIP LOCKED) \
     RETURNING kind";

const CLAIM: &str = "WITH picked AS (SELECT id FROM jobs WHERE kind = ANY($5) \
       AND ((state IN ('queued', 'retry') AND run_at <= $4) OR (state = 'running' AND lease_until <= $4)) \
       ORDER BY run_at, id LIMIT $6 FOR UPDATE SKIP LOCKED) \
     UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, lease_owner = $1, \
       lease_token = $2, lease_until = $3, updated_at = $4 \
     FROM picked WHERE jobs.id = picked.id \
     RETURNING jobs.id, jobs.kind, jobs.payload, jobs.idempotency_key, jobs.attempts, jobs.max_attempts, \
       jobs.created_at";

/// The job store on a PostgreSQL pool (usually the main store's, `PgStore::pool`).
#[derive(Clone)]
pub struct PgJobs {
    pool: PgPool,
}

impl PgJobs {
    /// Jobs in the database behind `pool`, which must be migrated (`0009_jobs`).
    pub fn new(pool: PgPool) -> PgJobs {
        PgJobs { pool }
    }

    /// The pool this store uses.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Enqueues `job` inside the caller's transaction: the job exists if and only if
/// that transaction commits. Deduplicates by idempotency key like
/// [`JobStore::enqueue`]. The runner of this process learns of it at its next poll
/// (at most `poll_max` later), or at once after [`crate::JobQueue::wake`].
///
/// ```no_run
/// # async fn f(pool: sqlx::PgPool, queue: sova_jobs::JobQueue) -> Result<(), Box<dyn std::error::Error>> {
/// use sova_jobs::{NewJob, postgres};
/// let mut tx = pool.begin().await?;
/// sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
///     .bind("a@example.org")
///     .bind(7_i64)
///     .execute(&mut *tx)
///     .await?;
/// let job = NewJob::new("email.verify", serde_json::json!({ "user_id": 7 })).key("verify:7:a@example.org");
/// postgres::enqueue_in(&mut tx, &job).await?;
/// tx.commit().await?; // both the change and its job, or neither
/// queue.wake();
/// # Ok(()) }
/// ```
pub async fn enqueue_in(tx: &mut Transaction<'_, Postgres>, job: &NewJob) -> QueueResult<Enqueued> {
    enqueue_on(tx, job).await
}

async fn enqueue_on(conn: &mut PgConnection, job: &NewJob) -> QueueResult<Enqueued> {
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
pub(crate) async fn complete_in(tx: &mut Transaction<'static, Postgres>, lease: &Lease, now: i64) -> QueueResult<bool> {
    let r = sqlx::query(COMPLETE)
        .bind(lease.job_id)
        .bind(&lease.token)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(r.rows_affected() == 1)
}

impl PgJobs {
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
impl JobStore for PgJobs {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn enqueue(&self, job: &NewJob) -> QueueResult<Enqueued> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
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
        let kinds = kinds.to_vec();
        let token = new_token();
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let expired_dead: Vec<String> = sqlx::query_scalar(REAP)
            .bind(now)
            .bind(i64::from(default_max_attempts))
            .bind(&kinds)
            .bind(EXPIRED_LAST_ATTEMPT)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
        let rows = sqlx::query(CLAIM)
            .bind(owner)
            .bind(&token)
            .bind(now.saturating_add(crate::micros(lease)))
            .bind(now)
            .bind(&kinds)
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
        let tx = self.pool.begin().await.map_err(map_err)?;
        Ok(JobTx::Postgres(tx))
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
