//! The values that travel between callers, the queue and the runner: a job to
//! enqueue, a claimed job with its lease, listing rows and statistics.

use serde::Serialize;
use std::time::Duration;

/// The state of a job row. See the crate docs for the transitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for `run_at`, never attempted (or released, or retried by an operator).
    Queued,
    /// Claimed by a worker whose lease lasts until `lease_until`.
    Running,
    /// Failed retryably; runs again once `run_at` (now + backoff) passes.
    Retry,
    /// Finished; kept for the retention period so its idempotency key holds.
    Done,
    /// Failed permanently or used up its attempts; waits for an operator.
    Dead,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Retry,
        JobState::Done,
        JobState::Dead,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Retry => "retry",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job to enqueue: kind, JSON payload, and optionally an idempotency key, a time
/// to run at and an attempt limit.
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    /// Selects the handler (e.g. `tokens.purge_expired`).
    pub kind: String,
    /// Handed to the handler as it was given.
    pub payload: serde_json::Value,
    /// Unique per kind while the job row is kept: a second enqueue with the same
    /// key inserts nothing and returns the existing job.
    pub idempotency_key: Option<String>,
    /// Unix microseconds; `None` runs as soon as a worker is free.
    pub run_at: Option<i64>,
    /// Attempts before the job is dead; `None` uses the runner's `JOB_MAX_ATTEMPTS`.
    pub max_attempts: Option<u32>,
}

impl NewJob {
    /// A job of `kind` with `payload`, to run now, without a key.
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> NewJob {
        NewJob {
            kind: kind.into(),
            payload,
            idempotency_key: None,
            run_at: None,
            max_attempts: None,
        }
    }

    /// Deduplicates by `key` (per kind) for as long as the job row is kept.
    pub fn key(mut self, key: impl Into<String>) -> NewJob {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Runs no earlier than `at` (Unix microseconds).
    pub fn run_at(mut self, at: i64) -> NewJob {
        self.run_at = Some(at);
        self
    }

    /// Runs no earlier than `d` from now.
    pub fn delay(self, d: Duration) -> NewJob {
        self.run_at(crate::now_micros().saturating_add(crate::micros(d)))
    }

    /// Dead after `n` attempts (at least 1).
    pub fn max_attempts(mut self, n: u32) -> NewJob {
        self.max_attempts = Some(n.max(1));
        self
    }
}

/// What an enqueue did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job row with this id.
    New(i64),
    /// A job with the same kind and idempotency key already exists (this id);
    /// nothing was inserted.
    Duplicate(i64),
}

impl Enqueued {
    /// The job's id, new or existing.
    pub fn id(self) -> i64 {
        match self {
            Enqueued::New(id) | Enqueued::Duplicate(id) => id,
        }
    }

    /// Whether a row was inserted.
    pub fn is_new(self) -> bool {
        matches!(self, Enqueued::New(_))
    }
}

/// Proof of ownership of a running job: finishing it requires the same token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The leased job.
    pub job_id: i64,
    /// Fresh for every claim.
    pub token: String,
}

/// A job a worker has claimed.
#[derive(Clone, Debug)]
pub struct ClaimedJob {
    /// Stable across attempts.
    pub id: i64,
    /// Selects the handler.
    pub kind: String,
    /// JSON text as enqueued.
    pub payload: String,
    /// As enqueued.
    pub idempotency_key: Option<String>,
    /// 1 on the first run; counts every claim, including ones whose worker died.
    pub attempts: u32,
    /// `None`: the runner's default.
    pub max_attempts: Option<u32>,
    /// When it was enqueued (Unix microseconds).
    pub created_at: i64,
    /// Required to finish it.
    pub lease: Lease,
}

/// One job row, for listings and the CLI.
#[derive(Clone, Debug, Serialize)]
pub struct JobInfo {
    /// Job id.
    pub id: i64,
    /// Handler kind.
    pub kind: String,
    /// Current state.
    pub state: JobState,
    /// JSON text as enqueued.
    pub payload: String,
    /// Unique per kind while the row is kept.
    pub idempotency_key: Option<String>,
    /// Claims so far (reset by an operator's retry).
    pub attempts: i64,
    /// `None`: the runner's `JOB_MAX_ATTEMPTS`.
    pub max_attempts: Option<i64>,
    /// Unix microseconds.
    pub run_at: i64,
    /// Who holds (or last held) the lease.
    pub lease_owner: Option<String>,
    /// While running: when the lease expires (Unix microseconds).
    pub lease_until: Option<i64>,
    /// The latest failure, kept after an operator's retry.
    pub last_error: Option<String>,
    /// Unix microseconds.
    pub created_at: i64,
    /// Unix microseconds.
    pub updated_at: i64,
    /// When it became done or dead (Unix microseconds).
    pub finished_at: Option<i64>,
}

/// Which jobs to list.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// Only this state.
    pub state: Option<JobState>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Row order.
    pub order: ListOrder,
    /// At most this many rows (clamped to 1..=10 000).
    pub limit: i64,
}

/// Order of a listing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListOrder {
    /// Most recently created first.
    #[default]
    Newest,
    /// Earliest `run_at` first (the longest-waiting jobs).
    OldestDue,
}

/// Counts of jobs by state and kind, and the age of the oldest due job.
#[derive(Clone, Debug, Default, Serialize)]
pub struct JobStats {
    /// `(state, kind, count)` for every non-empty combination.
    pub counts: Vec<(JobState, String, i64)>,
    /// `run_at` (Unix microseconds) of the oldest queued or retry job that is due.
    pub oldest_due_run_at: Option<i64>,
}

impl JobStats {
    /// Jobs in `state`, all kinds together.
    pub fn in_state(&self, state: JobState) -> i64 {
        self.counts
            .iter()
            .filter(|(s, _, _)| *s == state)
            .map(|(_, _, n)| n)
            .sum()
    }
}

/// Which dead jobs an operator's retry re-queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryTarget {
    /// One job, if it is dead.
    One(i64),
    /// Every dead job.
    AllDead,
}
