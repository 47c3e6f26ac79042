//! Bounded retries of transactions the database aborted to keep them
//! serializable (PostgreSQL serialization failures 40001 and deadlocks 40P01):
//! the whole transaction runs again after a short jittered pause, a few times,
//! then the caller gets `StoreError::Unavailable`. Retrying is safe because an
//! aborted transaction wrote nothing.

use crate::{Backend, Error, SqlStore};
use sova_store::{StoreError, StoreResult};
use std::future::Future;
use std::time::Duration;

/// Attempts per transaction (the first run plus retries).
pub const MAX_ATTEMPTS: u32 = 4;

/// The pause before retry number `attempt` (1-based): 5 ms doubling per attempt,
/// plus up to as much again of jitter, so colliding writers spread out.
pub fn backoff(attempt: u32) -> Duration {
    let base = 5u64 << attempt.saturating_sub(1).min(6);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // A cheap mix of the clock's low bits; any spread will do.
    let jitter = u64::from(nanos.wrapping_mul(2_654_435_761)) % (base * 1000 + 1);
    Duration::from_micros(base * 1000 + jitter)
}

/// Runs `attempt` until it succeeds, fails with a non-retryable error, or has run
/// `MAX_ATTEMPTS` times.
pub(crate) async fn run<B, T, F, Fut>(mut attempt: F) -> StoreResult<T>
where
    B: Backend,
    F: FnMut() -> Fut,
    Fut: Future<Output = crate::Result<T>>,
{
    let mut n = 1;
    loop {
        match attempt().await {
            Err(Error::Db(e)) if B::retryable(&e) => {
                if n >= MAX_ATTEMPTS {
                    tracing::warn!(attempts = n, error = %e, "transaction kept conflicting; giving up");
                    return Err(StoreError::Unavailable(format!("gave up after {n} attempts: {e}")));
                }
                tracing::debug!(attempt = n, error = %e, "transaction conflict; retrying");
                tokio::time::sleep(backoff(n)).await;
                n += 1;
            }
            other => return other.map_err(SqlStore::<B>::fail),
        }
    }
}
