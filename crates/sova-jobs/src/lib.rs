//! `sova-jobs`: durable jobs stored in the database (SQLite or PostgreSQL), run at
//! least once by a [`JobRunner`] with leases, retries (exponential backoff with
//! jitter), a dead-letter state, scheduled and recurring jobs, graceful shutdown and
//! metrics.
//!
//! The guarantees, in one place:
//! - **Durable enqueue.** A job exists once the transaction that inserted it
//!   commits; [`sqlite::enqueue_in`] and [`postgres::enqueue_in`] insert inside the
//!   caller's transaction, so a job is enqueued if and only if the change that
//!   causes it commits.
//! - **At least once.** A claimed job carries a lease (`lease_until`) renewed by a
//!   heartbeat while its handler runs. If the process dies, the lease expires and
//!   any runner on the same database claims the job again (attempt counted).
//! - **Fenced completion.** Every claim gets a fresh lease token; finishing
//!   (done, retry, dead, release) is an `UPDATE … WHERE id = ? AND lease_token = ?`,
//!   so a worker that lost its lease can never finish a job another worker owns.
//! - **Effect once.** Handlers either record their effect in the same transaction
//!   that marks the job done ([`JobContext::begin`] + [`JobContext::commit_done`],
//!   rolled back if the lease was lost), or make their effect idempotent (keyed by
//!   the job id or its idempotency key). See `docs/jobs.md`.
//!
//! States: `queued → running → done`, `running → retry → running` (after a
//! retryable failure, once `run_at` passes), `running → dead` (permanent failure or
//! `max_attempts` used up), `dead → queued` (an operator's retry), and
//! `running → queued` (released at graceful shutdown, attempt refunded).

#![warn(missing_docs)]

mod backoff;
mod context;
mod metrics;
mod model;
mod queue;
mod runner;
mod store;
mod worker;

pub use backoff::Backoff;
pub use context::{JobContext, JobTx};
pub use model::{ClaimedJob, Enqueued, JobInfo, JobState, JobStats, Lease, ListFilter, ListOrder, NewJob, RetryTarget};
pub use queue::JobQueue;
pub use runner::{JobRunner, Recurring, RunnerConfig, RunningJobs};
pub use store::{JobStore, QueueError, QueueResult, postgres, sqlite};

/// Kind of the built-in clean-up job that removes finished jobs after their
/// retention period (registered by every [`JobRunner`]).
pub const CLEANUP_KIND: &str = "jobs.purge_finished";

/// What a handler reports when it fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// A transient failure: the job runs again after a backoff, until its
    /// `max_attempts` are used up; then it is dead.
    #[error("retryable: {0}")]
    Retry(String),
    /// The job can never succeed (bad payload, missing target): it is dead at once.
    #[error("permanent: {0}")]
    Permanent(String),
    /// This worker no longer owns the job (its lease expired and another worker took
    /// it): returned by [`JobContext::commit_done`]; nothing was committed.
    #[error("lease lost")]
    LeaseLost,
}

impl JobError {
    /// A retryable error from anything printable.
    pub fn retry(e: impl std::fmt::Display) -> JobError {
        JobError::Retry(e.to_string())
    }

    /// A permanent error from anything printable.
    pub fn permanent(e: impl std::fmt::Display) -> JobError {
        JobError::Permanent(e.to_string())
    }
}

impl From<QueueError> for JobError {
    /// Database failures are retryable: the next attempt may find it healthy.
    fn from(e: QueueError) -> JobError {
        JobError::Retry(e.to_string())
    }
}

/// Current time in Unix microseconds (the unit of every time column in `jobs`).
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Microseconds in `d`, saturating.
pub(crate) fn micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}
