//! The `JobStore` port and its two adapters. The SQL lives here: statements both
//! dialects accept are shared text below; claiming differs (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, one `UPDATE … RETURNING` under `BEGIN IMMEDIATE` on
//! SQLite) and is in each backend's module. Every state change of a running job is
//! fenced by its lease token.

pub mod postgres;
pub mod sqlite;

use crate::context::JobTx;
use crate::model::{ClaimedJob, Enqueued, JobInfo, JobState, JobStats, Lease, ListFilter, NewJob, RetryTarget};
use async_trait::async_trait;
use std::time::Duration;

/// Failures of the job store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The database is unreachable, busy or shutting down; retrying may help.
    #[error("job store unavailable: {0}")]
    Unavailable(String),
    /// Anything else (a bug, a broken row).
    #[error("job store error: {0}")]
    Other(String),
}

/// Result of a job-store operation.
pub type QueueResult<T> = Result<T, QueueError>;

/// What a claim took.
#[derive(Debug, Default)]
pub struct Claimed {
    /// Jobs now running under this worker's lease.
    pub jobs: Vec<ClaimedJob>,
    /// Kinds of jobs found with an expired lease on their last attempt: they were
    /// moved to `dead` instead of being run again.
    pub expired_dead: Vec<String>,
}

/// Storage of durable jobs. Implementations: [`sqlite::SqliteJobs`] and
/// [`postgres::PgJobs`]. Every method that takes a [`Lease`] changes the job only if
/// it is still `running` under that lease token, and says whether it did.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Inserts `job` in its own transaction; with an idempotency key already present
    /// for the kind, inserts nothing and returns the existing id.
    async fn enqueue(&self, job: &NewJob) -> QueueResult<Enqueued>;

    /// Claims up to `limit` due jobs of `kinds` (queued or retry with `run_at <=
    /// now`, or running with an expired lease) for `owner` until `now + lease`,
    /// counting an attempt each. No two claims ever hold the same job at once.
    async fn claim(
        &self,
        kinds: &[String],
        owner: &str,
        limit: usize,
        lease: Duration,
        default_max_attempts: u32,
        now: i64,
    ) -> QueueResult<Claimed>;

    /// Extends the lease to `until`; false when the lease was lost.
    async fn renew(&self, lease: &Lease, until: i64) -> QueueResult<bool>;

    /// Marks the job done; false (and no change) when the lease was lost.
    async fn complete(&self, lease: &Lease, now: i64) -> QueueResult<bool>;

    /// Moves the job to `retry`, to run again at `run_at`; false when the lease was lost.
    async fn retry_at(&self, lease: &Lease, run_at: i64, error: &str, now: i64) -> QueueResult<bool>;

    /// Moves the job to `dead` with `error`; false when the lease was lost.
    async fn bury(&self, lease: &Lease, error: &str, now: i64) -> QueueResult<bool>;

    /// Gives the job back (`queued`, due now, attempt refunded) without running it
    /// to the end (graceful shutdown); false when the lease was lost.
    async fn release(&self, lease: &Lease, now: i64) -> QueueResult<bool>;

    /// A write transaction on this database (`BEGIN IMMEDIATE` on SQLite), for
    /// handlers that commit their effect together with `done`.
    async fn begin(&self) -> QueueResult<JobTx>;

    /// Counts by state and kind (`done` jobs only `with_done`: they are the bulk of
    /// the table, and the metrics loop skips them), and the oldest due job's `run_at`.
    async fn stats(&self, now: i64, with_done: bool) -> QueueResult<JobStats>;

    /// Job rows matching `filter`.
    async fn list(&self, filter: &ListFilter) -> QueueResult<Vec<JobInfo>>;

    /// One job row.
    async fn get(&self, id: i64) -> QueueResult<Option<JobInfo>>;

    /// Re-queues dead jobs (attempts reset, due now); returns how many.
    async fn retry_dead(&self, target: RetryTarget, now: i64) -> QueueResult<u64>;

    /// Deletes done jobs finished before `done_before` and dead jobs finished before
    /// `dead_before`; their idempotency keys are free again. Returns how many.
    async fn purge_finished(&self, done_before: i64, dead_before: i64) -> QueueResult<u64>;

    /// Deletes done runs of the recurring job `kind` whose period started before
    /// `started_before`: once its period is over, a run's key keeps nothing from
    /// running twice, and a job recurring every second would otherwise keep a row per
    /// second for the whole retention. Returns how many.
    async fn purge_periods(&self, kind: &str, started_before: i64) -> QueueResult<u64>;
}

pub(crate) const INSERT: &str = "INSERT INTO jobs (kind, payload, idempotency_key, state, attempts, max_attempts, \
     run_at, created_at, updated_at) VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $6) \
     ON CONFLICT (kind, idempotency_key) DO NOTHING RETURNING id";

pub(crate) const SELECT_BY_KEY: &str = "SELECT id FROM jobs WHERE kind = $1 AND idempotency_key = $2";

pub(crate) const RENEW: &str =
    "UPDATE jobs SET lease_until = $3 WHERE id = $1 AND lease_token = $2 AND state = 'running'";

pub(crate) const COMPLETE: &str = "UPDATE jobs SET state = 'done', lease_token = NULL, lease_until = NULL, \
     finished_at = $3, updated_at = $3 WHERE id = $1 AND lease_token = $2 AND state = 'running'";

pub(crate) const RETRY_AT: &str = "UPDATE jobs SET state = 'retry', run_at = $3, last_error = $4, \
     lease_token = NULL, lease_until = NULL, updated_at = $5 \
     WHERE id = $1 AND lease_token = $2 AND state = 'running'";

pub(crate) const BURY: &str = "UPDATE jobs SET state = 'dead', last_error = $3, lease_token = NULL, \
     lease_until = NULL, finished_at = $4, updated_at = $4 \
     WHERE id = $1 AND lease_token = $2 AND state = 'running'";

pub(crate) const RELEASE: &str = "UPDATE jobs SET state = 'queued', run_at = $3, \
     attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
     lease_token = NULL, lease_until = NULL, updated_at = $3 \
     WHERE id = $1 AND lease_token = $2 AND state = 'running'";

pub(crate) const STATS_COUNTS: &str =
    "SELECT state, kind, COUNT(*) FROM jobs GROUP BY state, kind ORDER BY state, kind";

pub(crate) const STATS_COUNTS_UNFINISHED: &str = "SELECT state, kind, COUNT(*) FROM jobs \
     WHERE state IN ('queued', 'running', 'retry', 'dead') GROUP BY state, kind ORDER BY state, kind";

pub(crate) const STATS_OLDEST: &str =
    "SELECT MIN(run_at) FROM jobs WHERE state IN ('queued', 'retry') AND run_at <= $1";

pub(crate) const LIST_NEWEST: &str = "SELECT id, kind, state, payload, idempotency_key, attempts, max_attempts, \
     run_at, lease_owner, lease_until, last_error, created_at, updated_at, finished_at FROM jobs \
     WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) AND (CAST($2 AS TEXT) IS NULL OR kind = $2) \
     ORDER BY id DESC LIMIT $3";

pub(crate) const LIST_OLDEST_DUE: &str = "SELECT id, kind, state, payload, idempotency_key, attempts, \
     max_attempts, run_at, lease_owner, lease_until, last_error, created_at, updated_at, finished_at FROM jobs \
     WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) AND (CAST($2 AS TEXT) IS NULL OR kind = $2) \
     ORDER BY run_at, id LIMIT $3";

pub(crate) const GET: &str = "SELECT id, kind, state, payload, idempotency_key, attempts, max_attempts, \
     run_at, lease_owner, lease_until, last_error, created_at, updated_at, finished_at FROM jobs WHERE id = $1";

pub(crate) const RETRY_ONE: &str = "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $2, \
     finished_at = NULL, lease_token = NULL, lease_until = NULL, updated_at = $2 WHERE id = $1 AND state = 'dead'";

pub(crate) const RETRY_ALL_DEAD: &str = "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $1, \
     finished_at = NULL, lease_token = NULL, lease_until = NULL, updated_at = $1 WHERE state = 'dead'";

pub(crate) const PURGE_FINISHED: &str =
    "DELETE FROM jobs WHERE (state = 'done' AND finished_at < $1) OR (state = 'dead' AND finished_at < $2)";

pub(crate) const PURGE_PERIODS: &str = "DELETE FROM jobs WHERE kind = $1 AND state = 'done' \
     AND idempotency_key LIKE 'period:%' AND run_at < $2";

/// Error text stored when a lease expires on a job's last attempt.
pub(crate) const EXPIRED_LAST_ATTEMPT: &str =
    "lease expired on the last attempt (the worker died, hung or lost the database)";

/// Longest error text stored (handlers may return huge messages).
const MAX_ERROR_CHARS: usize = 2000;

/// `error`, cut to a storable length.
pub(crate) fn clip(error: &str) -> String {
    match error.char_indices().nth(MAX_ERROR_CHARS) {
        Some((i, _)) => format!("{}…", &error[..i]),
        None => error.to_owned(),
    }
}

/// A fresh lease token.
pub(crate) fn new_token() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Clamps a listing limit.
pub(crate) fn clamp_limit(limit: i64) -> i64 {
    limit.clamp(1, 10_000)
}

/// Decodes a row of `LIST_*`/`GET` columns.
pub(crate) fn info_row<'r, R>(r: &'r R) -> Result<JobInfo, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let state: String = r.try_get(2)?;
    Ok(JobInfo {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        state: JobState::parse(&state).ok_or_else(|| sqlx::Error::Decode(format!("bad job state {state}").into()))?,
        payload: r.try_get(3)?,
        idempotency_key: r.try_get(4)?,
        attempts: r.try_get(5)?,
        max_attempts: r.try_get(6)?,
        run_at: r.try_get(7)?,
        lease_owner: r.try_get(8)?,
        lease_until: r.try_get(9)?,
        last_error: r.try_get(10)?,
        created_at: r.try_get(11)?,
        updated_at: r.try_get(12)?,
        finished_at: r.try_get(13)?,
    })
}

/// Decodes a claimed row (`id, kind, payload, idempotency_key, attempts,
/// max_attempts, created_at`) under `token`.
pub(crate) fn claimed_row<'r, R>(r: &'r R, token: &str) -> Result<ClaimedJob, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let id: i64 = r.try_get(0)?;
    let attempts: i64 = r.try_get(4)?;
    let max: Option<i64> = r.try_get(5)?;
    Ok(ClaimedJob {
        id,
        kind: r.try_get(1)?,
        payload: r.try_get(2)?,
        idempotency_key: r.try_get(3)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        max_attempts: max.map(|m| u32::try_from(m).unwrap_or(u32::MAX)),
        created_at: r.try_get(6)?,
        lease: Lease {
            job_id: id,
            token: token.to_owned(),
        },
    })
}

/// Decodes `STATS_COUNTS` rows.
pub(crate) fn count_row<'r, R>(r: &'r R) -> Result<(JobState, String, i64), sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let state: String = r.try_get(0)?;
    let state = JobState::parse(&state).ok_or_else(|| sqlx::Error::Decode(format!("bad job state {state}").into()))?;
    Ok((state, r.try_get(1)?, r.try_get(2)?))
}

/// Maps a sqlx error of either backend.
pub(crate) fn map_err(e: sqlx::Error) -> QueueError {
    match &e {
        // SQLite busy/locked after the busy timeout; PostgreSQL serialization
        // failure, deadlock, too many connections, shutting down.
        sqlx::Error::Database(d)
            if matches!(
                d.code().as_deref(),
                Some("5" | "6" | "40001" | "40P01" | "53300" | "57P01" | "57P03")
            ) =>
        {
            QueueError::Unavailable(d.message().to_owned())
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            QueueError::Unavailable(e.to_string())
        }
        _ => QueueError::Other(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text_on_a_char_boundary() {
        assert_eq!(clip("boom"), "boom");
        let long = "ж".repeat(MAX_ERROR_CHARS + 5);
        let cut = clip(&long);
        assert_eq!(cut.chars().count(), MAX_ERROR_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn tokens_are_unique() {
        assert_ne!(new_token(), new_token());
    }
}
