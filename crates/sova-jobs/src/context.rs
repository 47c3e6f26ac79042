//! What a handler gets besides its payload: the job's identity and attempt, signals
//! (lease lost, shutting down), and transactional completion — a transaction on the
//! job's database in which the handler records its effect and marks the job done,
//! fenced by the lease, so the effect commits at most once.

use crate::model::Lease;
use crate::store::{JobStore, QueueResult, map_err};
use crate::{JobError, QueueError};
use sqlx::{Postgres, Sqlite, Transaction};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio_util::sync::CancellationToken;

/// A write transaction on the job database. Handlers run their own statements on
/// the variant's transaction (`&mut **tx` / `&mut *tx`), then pass it to
/// [`JobContext::commit_done`].
pub enum JobTx {
    /// Began with `BEGIN IMMEDIATE`: it holds SQLite's write lock, so keep it short.
    Sqlite(Transaction<'static, Sqlite>),
    /// A read-committed PostgreSQL transaction.
    Postgres(Transaction<'static, Postgres>),
}

impl JobTx {
    /// Runs `sql` (text both dialects accept, `$1…` parameters) with integer
    /// parameters; returns the affected row count. For simple maintenance
    /// statements; anything richer matches on the variant.
    pub async fn execute(&mut self, sql: &'static str, params: &[i64]) -> QueueResult<u64> {
        let n = match self {
            JobTx::Sqlite(tx) => {
                let mut q = sqlx::query(sql);
                for p in params {
                    q = q.bind(*p);
                }
                q.execute(&mut **tx).await.map_err(map_err)?.rows_affected()
            }
            JobTx::Postgres(tx) => {
                let mut q = sqlx::query(sql);
                for p in params {
                    q = q.bind(*p);
                }
                q.execute(&mut **tx).await.map_err(map_err)?.rows_affected()
            }
        };
        Ok(n)
    }

    /// Enqueues `job` in this transaction (a handler chaining a follow-up job that
    /// must exist if and only if its own effect commits).
    pub async fn enqueue(&mut self, job: &crate::NewJob) -> QueueResult<crate::Enqueued> {
        match self {
            JobTx::Sqlite(tx) => crate::store::sqlite::enqueue_in(tx, job).await,
            JobTx::Postgres(tx) => crate::store::postgres::enqueue_in(tx, job).await,
        }
    }

    /// Commits (without touching any job).
    pub async fn commit(self) -> QueueResult<()> {
        match self {
            JobTx::Sqlite(tx) => tx.commit().await.map_err(map_err),
            JobTx::Postgres(tx) => tx.commit().await.map_err(map_err),
        }
    }

    async fn complete(&mut self, lease: &Lease, now: i64) -> QueueResult<bool> {
        match self {
            JobTx::Sqlite(tx) => crate::store::sqlite::complete_in(tx, lease, now).await,
            JobTx::Postgres(tx) => crate::store::postgres::complete_in(tx, lease, now).await,
        }
    }
}

/// A running job as its handler sees it. Cheap to clone.
#[derive(Clone)]
pub struct JobContext {
    pub(crate) id: i64,
    pub(crate) kind: String,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: u32,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) lease: Lease,
    pub(crate) store: Arc<dyn JobStore>,
    pub(crate) lease_lost: CancellationToken,
    pub(crate) shutdown: CancellationToken,
    pub(crate) finished: Arc<AtomicBool>,
}

impl JobContext {
    /// The job's id (stable across attempts: a natural idempotency key).
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The job's kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// This run's attempt number, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Attempts after which a retryable failure makes the job dead.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Whether a retryable failure now makes the job dead.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }

    /// The idempotency key it was enqueued with.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }

    /// When it was enqueued (Unix microseconds).
    pub fn created_at(&self) -> i64 {
        self.created_at
    }

    /// Cancelled when this worker lost the lease (another worker may be running
    /// the job); the runner also stops the handler at its next await.
    pub fn lease_lost(&self) -> &CancellationToken {
        &self.lease_lost
    }

    /// Cancelled when the runner shuts down: finish quickly or return
    /// `JobError::Retry` (after the grace period the handler is stopped and the job
    /// released for another instance).
    pub fn shutting_down(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// A write transaction on the job's database, for [`JobContext::commit_done`].
    pub async fn begin(&self) -> Result<JobTx, JobError> {
        Ok(self.store.begin().await?)
    }

    /// Marks the job done inside `tx` and commits, if this worker still holds the
    /// lease: the handler's effect in `tx` and `done` commit together or not at all.
    /// [`JobError::LeaseLost`] means nothing was committed (another worker owns the
    /// job now). After `Ok`, return `Ok(())` from the handler.
    pub async fn commit_done(&self, mut tx: JobTx) -> Result<(), JobError> {
        match tx.complete(&self.lease, crate::now_micros()).await {
            Ok(true) => {}
            Ok(false) => return Err(JobError::LeaseLost),
            Err(e) => return Err(e.into()),
        }
        tx.commit()
            .await
            .map_err(|e: QueueError| JobError::Retry(e.to_string()))?;
        self.finished.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Whether `commit_done` committed.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }
}
