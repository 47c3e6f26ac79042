//! `JobRunner`: handlers registered by kind, a dispatcher that claims due jobs for
//! up to `workers` concurrent handlers (polling with backoff, woken at once by a
//! local enqueue), a scheduler that enqueues recurring jobs once per period across
//! every instance (idempotency key = period start), a metrics loop, and a graceful
//! shutdown that stops claiming, lets running handlers finish within a grace period
//! and releases the rest so another instance takes them at once.

use crate::backoff::Backoff;
use crate::context::JobContext;
use crate::model::NewJob;
use crate::queue::JobQueue;
use crate::store::JobStore;
use crate::{CLEANUP_KIND, JobError, micros, now_micros};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A handler's future.
pub(crate) type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;
/// A registered handler.
pub(crate) type Handler = Arc<dyn Fn(JobContext, serde_json::Value) -> HandlerFuture + Send + Sync>;

/// How a runner behaves. `Default` gives production values.
#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// Stored as `lease_owner` (shown by `sova admin jobs`); unique per process.
    pub owner: String,
    /// Handlers running at once (`JOB_WORKERS`), at least 1.
    pub workers: usize,
    /// How long a claim lasts without renewal (`JOB_LEASE_SECS`); the heartbeat
    /// renews it every third of that. A dead instance's jobs restart after it.
    pub lease: Duration,
    /// Attempts of a job enqueued without its own limit (`JOB_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// Delay before each retry.
    pub backoff: Backoff,
    /// Poll interval right after work was found; doubles while idle…
    pub poll_min: Duration,
    /// …up to this (the delay before another instance's enqueue is noticed).
    pub poll_max: Duration,
    /// A handler running longer is stopped and its job retried.
    pub handler_timeout: Duration,
    /// Done jobs (and so their idempotency keys) are kept this long.
    pub retention: Duration,
    /// Dead jobs are kept this long for operators.
    pub dead_retention: Duration,
    /// How often the clean-up job runs.
    pub cleanup_every: Duration,
    /// How often depth and age gauges are refreshed.
    pub stats_every: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            owner: default_owner(),
            workers: 2,
            lease: Duration::from_secs(30),
            max_attempts: 10,
            backoff: Backoff::default(),
            poll_min: Duration::from_millis(50),
            poll_max: Duration::from_secs(1),
            handler_timeout: Duration::from_secs(15 * 60),
            retention: Duration::from_secs(7 * 24 * 3600),
            dead_retention: Duration::from_secs(30 * 24 * 3600),
            cleanup_every: Duration::from_secs(3600),
            stats_every: Duration::from_secs(15),
        }
    }
}

/// `host:pid:random`, unique per process.
fn default_owner() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sova".to_owned());
    let rand = uuid::Uuid::now_v7().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &rand[rand.len() - 6..])
}

/// A job enqueued once per period by every runner that knows it; the idempotency
/// key `period:<secs>:<period start>` makes all instances together enqueue it once.
#[derive(Clone, Debug)]
pub struct Recurring {
    /// The job kind (needs a handler).
    pub kind: String,
    /// Period length; periods start at multiples of it since the Unix epoch.
    pub every: Duration,
    /// Payload of each period's job.
    pub payload: serde_json::Value,
    /// Attempts per period (a failing period does not pile up behind the next).
    pub max_attempts: u32,
}

impl Recurring {
    /// `kind` with an empty payload every `every` (at least a second), 3 attempts.
    pub fn new(kind: impl Into<String>, every: Duration) -> Recurring {
        Recurring {
            kind: kind.into(),
            every: every.max(Duration::from_secs(1)),
            payload: serde_json::json!({}),
            max_attempts: 3,
        }
    }

    /// The job for the period containing `now`.
    pub fn job_at(&self, now: i64) -> NewJob {
        let every = micros(self.every).max(1_000_000);
        let start = now - now.rem_euclid(every);
        NewJob::new(self.kind.clone(), self.payload.clone())
            .key(format!("period:{}:{}", every / 1_000_000, start / 1_000_000))
            .run_at(start)
            .max_attempts(self.max_attempts)
    }

    /// Start of the period after the one containing `now`.
    fn next_start(&self, now: i64) -> i64 {
        let every = micros(self.every).max(1_000_000);
        now - now.rem_euclid(every) + every
    }
}

/// State shared by the runner's tasks.
pub(crate) struct Shared {
    pub(crate) queue: JobQueue,
    pub(crate) config: RunnerConfig,
    pub(crate) handlers: HashMap<String, Handler>,
    pub(crate) stop: CancellationToken,
    pub(crate) soft: CancellationToken,
    pub(crate) hard: CancellationToken,
    pub(crate) released: AtomicUsize,
}

impl Shared {
    pub(crate) fn store(&self) -> &Arc<dyn JobStore> {
        self.queue.store()
    }
}

/// Registers handlers and recurring jobs, then [`JobRunner::start`]s.
pub struct JobRunner {
    queue: JobQueue,
    config: RunnerConfig,
    handlers: HashMap<String, Handler>,
    recurring: Vec<Recurring>,
}

impl JobRunner {
    /// A runner on `queue` with the built-in clean-up job ([`CLEANUP_KIND`], every
    /// `cleanup_every`: deletes done and dead jobs past their retention).
    pub fn new(queue: JobQueue, mut config: RunnerConfig) -> JobRunner {
        config.workers = config.workers.max(1);
        config.max_attempts = config.max_attempts.max(1);
        config.lease = config.lease.max(Duration::from_millis(300));
        config.poll_min = config.poll_min.max(Duration::from_millis(1));
        config.poll_max = config.poll_max.max(config.poll_min);
        let store = queue.store().clone();
        let (retention, dead_retention) = (micros(config.retention), micros(config.dead_retention));
        let cleanup = Recurring::new(CLEANUP_KIND, config.cleanup_every);
        JobRunner {
            queue,
            config,
            handlers: HashMap::new(),
            recurring: Vec::new(),
        }
        .handler(CLEANUP_KIND, move |_ctx, _payload| {
            let store = store.clone();
            async move {
                let now = now_micros();
                let n = store
                    .purge_finished(now.saturating_sub(retention), now.saturating_sub(dead_retention))
                    .await?;
                if n > 0 {
                    tracing::info!(rows = n, "removed finished jobs past their retention");
                }
                Ok(())
            }
        })
        .recurring(cleanup)
    }

    /// Runs `f` for jobs of `kind` (replacing an earlier handler of that kind).
    pub fn handler<F, Fut>(mut self, kind: &str, f: F) -> JobRunner
    where
        F: Fn(JobContext, serde_json::Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let h: Handler = Arc::new(move |ctx, payload| Box::pin(f(ctx, payload)));
        self.handlers.insert(kind.to_owned(), h);
        self
    }

    /// Like [`JobRunner::handler`] with the payload deserialized into `T`; a payload
    /// that does not fit makes the job dead (it never will fit).
    pub fn typed_handler<T, F, Fut>(self, kind: &str, f: F) -> JobRunner
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(JobContext, T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.handler(kind, move |ctx, payload| {
            let f = f.clone();
            async move {
                let typed: T =
                    serde_json::from_value(payload).map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
                f(ctx, typed).await
            }
        })
    }

    /// Enqueues `r` once per period (the kind needs a handler on this runner).
    pub fn recurring(mut self, r: Recurring) -> JobRunner {
        self.recurring.retain(|o| o.kind != r.kind);
        self.recurring.push(r);
        self
    }

    /// The kinds this runner claims.
    pub fn kinds(&self) -> Vec<String> {
        let mut k: Vec<String> = self.handlers.keys().cloned().collect();
        k.sort();
        k
    }

    /// Starts the dispatcher, scheduler and metrics tasks on the current runtime.
    pub fn start(self) -> RunningJobs {
        let recurring: Vec<Recurring> = self
            .recurring
            .into_iter()
            .filter(|r| {
                let known = self.handlers.contains_key(&r.kind);
                if !known {
                    tracing::warn!(kind = %r.kind, "recurring job without a handler is not scheduled");
                }
                known
            })
            .collect();
        let shared = Arc::new(Shared {
            queue: self.queue.clone(),
            config: self.config,
            handlers: self.handlers,
            stop: CancellationToken::new(),
            soft: CancellationToken::new(),
            hard: CancellationToken::new(),
            released: AtomicUsize::new(0),
        });
        let tracker = TaskTracker::new();
        tracing::info!(
            owner = %shared.config.owner,
            workers = shared.config.workers,
            kinds = shared.handlers.len(),
            backend = shared.store().backend(),
            "job runner started"
        );
        let loops = vec![
            tokio::spawn(dispatch(shared.clone(), tracker.clone())),
            tokio::spawn(schedule(shared.clone(), recurring)),
            tokio::spawn(report(shared.clone())),
        ];
        RunningJobs {
            shared,
            tracker,
            loops,
            queue: self.queue,
        }
    }
}

/// A started runner. Call [`RunningJobs::shutdown`]; dropping it stops everything
/// abruptly (running handlers are stopped and their jobs released).
pub struct RunningJobs {
    shared: Arc<Shared>,
    tracker: TaskTracker,
    loops: Vec<JoinHandle<()>>,
    queue: JobQueue,
}

impl RunningJobs {
    /// The queue this runner serves (enqueues through it wake the runner).
    pub fn queue(&self) -> &JobQueue {
        &self.queue
    }

    /// This runner's lease owner name.
    pub fn owner(&self) -> &str {
        &self.shared.config.owner
    }

    /// Stops claiming, signals handlers ([`JobContext::shutting_down`]), waits up to
    /// `grace` for them, then stops the rest and releases their jobs (queued, due
    /// now, attempt refunded) for another instance. Returns how many were released.
    pub async fn shutdown(mut self, grace: Duration) -> usize {
        self.shared.stop.cancel();
        self.shared.soft.cancel();
        for mut h in self.loops.drain(..) {
            // The dispatcher may be inside a claim; it spawns what it claimed first.
            if tokio::time::timeout(grace.max(Duration::from_secs(1)), &mut h)
                .await
                .is_err()
            {
                h.abort();
            }
        }
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait()).await.is_err() {
            tracing::warn!("jobs still running after the grace period: stopping and releasing them");
            self.shared.hard.cancel();
            if tokio::time::timeout(Duration::from_secs(10), self.tracker.wait())
                .await
                .is_err()
            {
                tracing::warn!("some job handlers did not stop; their leases will expire");
            }
        }
        let released = self.shared.released.load(Ordering::SeqCst);
        tracing::info!(released, "job runner stopped");
        released
    }
}

impl Drop for RunningJobs {
    fn drop(&mut self) {
        self.shared.stop.cancel();
        self.shared.soft.cancel();
        if !self.loops.is_empty() {
            // Dropped without `shutdown`: stop handlers now (their jobs are released).
            self.shared.hard.cancel();
        }
    }
}

/// Claims due jobs whenever a worker slot is free.
async fn dispatch(shared: Arc<Shared>, tracker: TaskTracker) {
    let cfg = &shared.config;
    let slots = Arc::new(Semaphore::new(cfg.workers));
    let kinds: Vec<String> = shared.handlers.keys().cloned().collect();
    let wake = shared.queue.notifier().clone();
    let mut idle = cfg.poll_min;
    loop {
        let first = tokio::select! {
            biased;
            _ = shared.stop.cancelled() => return,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let mut permits = vec![first];
        while let Ok(p) = slots.clone().try_acquire_owned() {
            permits.push(p);
        }
        let claimed = shared
            .store()
            .claim(
                &kinds,
                &cfg.owner,
                permits.len(),
                cfg.lease,
                cfg.max_attempts,
                now_micros(),
            )
            .await;
        match claimed {
            Ok(c) => {
                for kind in &c.expired_dead {
                    tracing::warn!(%kind, "job dead: its lease expired on its last attempt");
                    crate::metrics::dead(kind);
                }
                let found = !c.jobs.is_empty();
                for job in c.jobs {
                    let Some(permit) = permits.pop() else { break };
                    tracker.spawn(crate::worker::run(shared.clone(), job, permit));
                }
                drop(permits);
                if found {
                    idle = cfg.poll_min;
                    continue;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "claiming jobs failed");
                idle = cfg.poll_max;
                drop(permits);
            }
        }
        tokio::select! {
            _ = shared.stop.cancelled() => return,
            _ = wake.notified() => idle = cfg.poll_min,
            _ = tokio::time::sleep(idle) => idle = (idle * 2).min(cfg.poll_max),
        }
    }
}

/// How often finished runs of short-period recurring jobs are removed (µs).
const PERIOD_PURGE_EVERY: i64 = 600_000_000;

/// Enqueues each recurring job once per period (deduplicated across instances), and
/// removes finished runs of those recurring faster than the retention.
async fn schedule(shared: Arc<Shared>, recurring: Vec<Recurring>) {
    if recurring.is_empty() {
        return;
    }
    let retention = micros(shared.config.retention);
    let mut last_purge = i64::MIN;
    loop {
        let now = now_micros();
        if now.saturating_sub(last_purge) >= PERIOD_PURGE_EVERY {
            last_purge = now;
            for r in recurring.iter().filter(|r| micros(r.every) < retention) {
                // Two periods back: the current period's key must stay.
                let before = now.saturating_sub(2 * micros(r.every));
                match shared.store().purge_periods(&r.kind, before).await {
                    Ok(n) if n > 0 => tracing::debug!(kind = %r.kind, rows = n, "removed finished periods"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(kind = %r.kind, error = %e, "cannot remove finished periods"),
                }
            }
        }
        // Re-check at least every minute (clock jumps, a failed enqueue).
        let mut next = now.saturating_add(60_000_000);
        for r in &recurring {
            if let Err(e) = shared.queue.enqueue(&r.job_at(now)).await {
                tracing::warn!(kind = %r.kind, error = %e, "cannot schedule recurring job");
            }
            next = next.min(r.next_start(now));
        }
        let wait = Duration::from_micros(u64::try_from(next.saturating_sub(now_micros())).unwrap_or(0));
        tokio::select! {
            _ = shared.stop.cancelled() => return,
            _ = tokio::time::sleep(wait + Duration::from_millis(10)) => {}
        }
    }
}

/// Refreshes the depth and age gauges.
async fn report(shared: Arc<Shared>) {
    loop {
        let now = now_micros();
        match shared.store().stats(now, false).await {
            Ok(stats) => crate::metrics::record_stats(&stats, now),
            Err(e) => tracing::debug!(error = %e, "job stats failed"),
        }
        tokio::select! {
            _ = shared.stop.cancelled() => return,
            _ = tokio::time::sleep(shared.config.stats_every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recurring_keys_are_stable_within_a_period_and_change_across() {
        let r = Recurring::new("k", Duration::from_secs(600));
        let t = 1_700_000_000_000_000;
        let start = t - t % 600_000_000;
        let a = r.job_at(start + 1);
        let b = r.job_at(start + 599_999_999);
        assert_eq!(a.idempotency_key, b.idempotency_key);
        assert_eq!(a.run_at, Some(start));
        assert_eq!(
            a.idempotency_key.as_deref(),
            Some(format!("period:600:{}", start / 1_000_000).as_str())
        );
        let c = r.job_at(r.next_start(t));
        assert_ne!(a.idempotency_key, c.idempotency_key);
        assert_eq!(a.max_attempts, Some(3));
        assert!(r.next_start(t) > t && r.next_start(t) - t <= 600_000_000);
    }

    #[test]
    fn owners_are_unique() {
        assert_ne!(default_owner(), default_owner());
    }
}
