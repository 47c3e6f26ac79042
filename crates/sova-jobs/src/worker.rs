//! One claimed job from start to finish: run its handler in its own task (a panic
//! fails the job instead of the runner), renew the lease while it runs, stop it when
//! the lease is lost, it times out or shutdown's grace ends, and record the outcome
//! with a fenced update (done, retry with backoff, dead, or released).

use crate::context::JobContext;
use crate::model::ClaimedJob;
use crate::runner::Shared;
use crate::{JobError, micros, now_micros};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

/// How a run ended.
enum Outcome {
    /// The handler returned (a panic, a timeout become `Retry`).
    Returned(Result<(), JobError>),
    /// Another worker took the job over: nothing to record.
    LeaseLost,
    /// Shutdown's grace ended first: give the job back.
    Stopped,
}

/// Runs `job`; the permit is one of the runner's worker slots.
pub(crate) async fn run(shared: Arc<Shared>, job: ClaimedJob, _permit: OwnedSemaphorePermit) {
    let cfg = &shared.config;
    let max_attempts = job.max_attempts.unwrap_or(cfg.max_attempts).max(1);
    let ctx = JobContext {
        id: job.id,
        kind: job.kind.clone(),
        attempt: job.attempts,
        max_attempts,
        idempotency_key: job.idempotency_key.clone(),
        created_at: job.created_at,
        lease: job.lease.clone(),
        store: shared.store().clone(),
        lease_lost: CancellationToken::new(),
        shutdown: shared.soft.child_token(),
        finished: Arc::new(AtomicBool::new(false)),
    };
    let outcome = match (shared.handlers.get(&job.kind), serde_json::from_str(&job.payload)) {
        (None, _) => Outcome::Returned(Err(JobError::Retry(format!(
            "no handler for kind {} on this instance",
            job.kind
        )))),
        (Some(_), Err(e)) => Outcome::Returned(Err(JobError::Permanent(format!("payload is not JSON: {e}")))),
        (Some(handler), Ok(payload)) => supervise(&shared, &ctx, handler(ctx.clone(), payload)).await,
    };
    settle(&shared, &ctx, outcome).await;
}

/// Drives the handler's task with heartbeats until it ends or must be stopped.
async fn supervise(shared: &Shared, ctx: &JobContext, fut: crate::runner::HandlerFuture) -> Outcome {
    let cfg = &shared.config;
    let mut task = tokio::spawn(fut);
    let every = (cfg.lease / 3).max(Duration::from_millis(100));
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let deadline = tokio::time::sleep(cfg.handler_timeout);
    tokio::pin!(deadline);
    let outcome = loop {
        tokio::select! {
            res = &mut task => {
                return match res {
                    Ok(r) => Outcome::Returned(r),
                    Err(e) if e.is_panic() => Outcome::Returned(Err(JobError::Retry("handler panicked".into()))),
                    Err(_) => Outcome::Returned(Err(JobError::Retry("handler was cancelled".into()))),
                };
            }
            _ = beat.tick() => {
                let until = now_micros().saturating_add(micros(cfg.lease));
                match ctx.store.renew(&ctx.lease, until).await {
                    Ok(true) => {}
                    Ok(false) => {
                        ctx.lease_lost.cancel();
                        break Outcome::LeaseLost;
                    }
                    // The lease may still be valid; keep trying while it lasts.
                    Err(e) => tracing::warn!(id = ctx.id, kind = %ctx.kind, error = %e, "cannot renew job lease"),
                }
            }
            _ = &mut deadline => {
                break Outcome::Returned(Err(JobError::Retry(format!(
                    "timed out after {} s",
                    cfg.handler_timeout.as_secs()
                ))));
            }
            _ = shared.hard.cancelled() => break Outcome::Stopped,
        }
    };
    // Stop the handler and wait until it is gone (its transaction rolled back)
    // before recording anything.
    task.abort();
    let _ = task.await;
    outcome
}

/// Records the outcome, fenced by the lease.
async fn settle(shared: &Shared, ctx: &JobContext, outcome: Outcome) {
    let store = shared.store();
    let (id, kind) = (ctx.id, ctx.kind.as_str());
    let now = now_micros();
    if ctx.is_finished() {
        // `commit_done` committed; whatever happened after (a heartbeat finding the
        // lease gone with the job, a stop at shutdown) changes nothing.
        crate::metrics::completed(kind);
        return;
    }
    let write = match outcome {
        Outcome::Returned(Ok(())) => match store.complete(&ctx.lease, now).await {
            Ok(true) => {
                crate::metrics::completed(kind);
                tracing::debug!(id, kind, "job done");
                return;
            }
            other => other,
        },
        Outcome::Returned(Err(JobError::LeaseLost)) | Outcome::LeaseLost => Ok(false),
        Outcome::Returned(Err(JobError::Retry(msg))) if ctx.attempt < ctx.max_attempts => {
            crate::metrics::failed(kind);
            let delay = shared.config.backoff.delay(ctx.attempt);
            tracing::warn!(id, kind, attempt = ctx.attempt, error = %msg, retry_in_ms = delay.as_millis() as u64, "job failed; will retry");
            store
                .retry_at(&ctx.lease, now.saturating_add(micros(delay)), &msg, now)
                .await
        }
        Outcome::Returned(Err(JobError::Retry(msg) | JobError::Permanent(msg))) => {
            crate::metrics::failed(kind);
            let why = if ctx.attempt >= ctx.max_attempts {
                format!("{msg} (attempt {} of {})", ctx.attempt, ctx.max_attempts)
            } else {
                msg
            };
            tracing::error!(id, kind, attempt = ctx.attempt, error = %why, "job dead");
            let r = store.bury(&ctx.lease, &why, now).await;
            if matches!(r, Ok(true)) {
                crate::metrics::dead(kind);
            }
            r
        }
        Outcome::Stopped => {
            let r = store.release(&ctx.lease, now).await;
            if matches!(r, Ok(true)) {
                shared.released.fetch_add(1, Ordering::SeqCst);
                tracing::info!(id, kind, "job released at shutdown");
            }
            r
        }
    };
    match write {
        Ok(true) => {}
        Ok(false) => {
            crate::metrics::lease_lost(kind);
            tracing::warn!(
                id,
                kind,
                "job lease lost: another worker owns it now; outcome discarded"
            );
        }
        Err(e) => {
            // Its lease will expire and the job will run again.
            tracing::error!(id, kind, error = %e, "cannot record job outcome");
        }
    }
}
