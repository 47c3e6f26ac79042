//! Bounded retries of transactions the database aborted to keep them
//! serializable (PostgreSQL serialization failures 40001 and deadlocks 40P01):
//! the whole transaction runs again after a short jittered pause, a few times,
//! then the caller gets `StoreError::Unavailable`. Retrying is safe because an
//! aborted transaction wrote nothing.

use crate::{Backend, Error};
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

/// Runs `attempt` until it succeeds, fails with an error `B` does not call
/// retryable, or has run `MAX_ATTEMPTS` times.
pub(crate) async fn run<B, T, F, Fut>(attempt: F) -> StoreResult<T>
where
    B: Backend,
    F: FnMut() -> Fut,
    Fut: Future<Output = crate::Result<T>>,
{
    run_with(B::retryable, B::classify, attempt).await
}

/// `run` with the backend's two decisions passed in.
async fn run_with<T, F, Fut>(
    retryable: fn(&sqlx::Error) -> bool,
    classify: fn(sqlx::Error) -> StoreError,
    mut attempt: F,
) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = crate::Result<T>>,
{
    let mut n = 1;
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(Error::Db(e)) if retryable(&e) => {
                if n >= MAX_ATTEMPTS {
                    tracing::warn!(attempts = n, error = %e, "transaction kept conflicting; giving up");
                    return Err(StoreError::Unavailable(format!("gave up after {n} attempts: {e}")));
                }
                tracing::debug!(attempt = n, error = %e, "transaction conflict; retrying");
                tokio::time::sleep(backoff(n)).await;
                n += 1;
            }
            Err(Error::Db(e)) => return Err(classify(e)),
            Err(Error::Store(e)) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Stands in for a serialization failure.
    fn conflict() -> Error {
        Error::Db(sqlx::Error::Protocol("could not serialize access".into()))
    }

    fn is_conflict(e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::Protocol(m) if m.contains("serialize"))
    }

    fn other(e: sqlx::Error) -> StoreError {
        StoreError::Other(e.to_string())
    }

    async fn attempts_until(succeed_on: u32) -> (StoreResult<u32>, u32) {
        let calls = AtomicU32::new(0);
        let out = run_with(is_conflict, other, || async {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= succeed_on { Ok(n) } else { Err(conflict()) }
        })
        .await;
        (out, calls.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn conflicts_are_retried_then_succeed() {
        let (out, calls) = attempts_until(3).await;
        assert_eq!(out.unwrap(), 3);
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    async fn persistent_conflicts_give_up_as_unavailable() {
        let (out, calls) = attempts_until(u32::MAX).await;
        assert!(matches!(out, Err(StoreError::Unavailable(_))), "{out:?}");
        assert_eq!(calls, MAX_ATTEMPTS);
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let out: StoreResult<()> = run_with(is_conflict, other, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::Db(sqlx::Error::RowNotFound))
        })
        .await;
        assert!(matches!(out, Err(StoreError::Other(_))));
        let out: StoreResult<()> = run_with(is_conflict, other, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::Store(StoreError::NotFound))
        })
        .await;
        assert!(matches!(out, Err(StoreError::NotFound)));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn backoff_grows_and_stays_short() {
        for attempt in 1..MAX_ATTEMPTS {
            let base = Duration::from_millis(5 << (attempt - 1));
            let d = backoff(attempt);
            assert!(d >= base && d <= base * 2, "{attempt}: {d:?}");
        }
    }
}
