//! The queue's Prometheus metrics, through the `metrics` facade (the server renders
//! them at `/metrics`): depth by state and the oldest due job's age are gauges of
//! the whole database (every instance reports the same values); completions,
//! failures, dead letters and lost leases are counters of this process.

use crate::model::{JobState, JobStats};

/// Sets `sova_jobs_depth{state}` (unfinished and dead jobs; done jobs are not
/// counted every few seconds) and `sova_jobs_oldest_age_seconds` from `stats`.
pub(crate) fn record_stats(stats: &JobStats, now: i64) {
    for state in JobState::ALL {
        if state == JobState::Done {
            continue;
        }
        metrics::gauge!("sova_jobs_depth", "state" => state.as_str()).set(stats.in_state(state) as f64);
    }
    let age = stats
        .oldest_due_run_at
        .map(|at| (now.saturating_sub(at)).max(0) as f64 / 1e6)
        .unwrap_or(0.0);
    metrics::gauge!("sova_jobs_oldest_age_seconds").set(age);
}

/// A handler finished and its job is done.
pub(crate) fn completed(kind: &str) {
    metrics::counter!("sova_jobs_completed_total", "kind" => kind.to_owned()).increment(1);
}

/// A handler failed (retryably or not) or panicked or timed out.
pub(crate) fn failed(kind: &str) {
    metrics::counter!("sova_jobs_failed_total", "kind" => kind.to_owned()).increment(1);
}

/// A job moved to `dead`.
pub(crate) fn dead(kind: &str) {
    metrics::counter!("sova_jobs_dead_total", "kind" => kind.to_owned()).increment(1);
}

/// A worker found its lease taken over (it ran too long without renewing).
pub(crate) fn lease_lost(kind: &str) {
    metrics::counter!("sova_jobs_lease_lost_total", "kind" => kind.to_owned()).increment(1);
}
