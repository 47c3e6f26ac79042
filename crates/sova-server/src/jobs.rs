//! The server's durable jobs: the runner built from the configuration with the
//! maintenance jobs every instance schedules (once per period across all of them),
//! and the `sova admin jobs` report. Maintenance jobs are naturally idempotent
//! deletes of rows past a cut-off; the invite and alert clean-ups commit their
//! delete in the same transaction that marks the job done.

use serde_json::json;
use sova_config::Config;
use sova_jobs::{
    JobError, JobInfo, JobQueue, JobRunner, JobState, JobStore, ListFilter, ListOrder, Recurring, RetryTarget,
    RunnerConfig, now_micros,
};
use sova_service::Services;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

/// Deletes expired refresh tokens and blacklisted access-token ids.
pub const PURGE_TOKENS: &str = "tokens.purge_expired";
/// Deletes invites expired or revoked more than [`INVITE_GRACE`] ago.
pub const PURGE_INVITES: &str = "invites.purge_expired";
/// Deletes security alerts older than `SECURITY_ALERT_RETENTION_DAYS`.
pub const PURGE_ALERTS: &str = "alerts.purge_old";
/// Removes resumable uploads left unfinished for `sova_service::uploads::UPLOAD_TTL`.
pub const PURGE_UPLOADS: &str = "uploads.purge_abandoned";
/// Applies the timeout of every game past its deadline: the backstop for a
/// `games.timeout` job lost between a move's commit and its enqueue.
pub const SWEEP_GAMES: &str = "games.sweep_timeouts";
/// How often games past their deadline are looked for.
const SWEEP_GAMES_EVERY: Duration = Duration::from_secs(60);
/// Most games one sweep times out.
const SWEEP_GAMES_BATCH: i64 = 500;
/// Indexes messages and files sent, edited or deleted since the index's position.
pub const SEARCH_INDEX: &str = "search.index";
/// Makes thumbnails, BlurHashes and upright sizes for new images (see
/// `sova_service::media`): the file rows still without a BlurHash are its queue.
pub const FILES_MEDIA: &str = "files.media";
/// How often new images are looked for (a run drains them all within its budget).
const FILES_MEDIA_EVERY: Duration = Duration::from_secs(1);
/// Images handled per store query.
const FILES_MEDIA_BATCH: i64 = 16;
/// How often the search indexer looks for new changes (each run returns once it
/// has caught up, so it holds a worker only while there is work).
const SEARCH_INDEX_EVERY: Duration = Duration::from_secs(1);
/// Longest one indexer run keeps going before leaving the rest to the next period.
const SEARCH_INDEX_BUDGET: Duration = Duration::from_secs(10);
/// How often abandoned uploads are looked for.
const PURGE_UPLOADS_EVERY: Duration = Duration::from_secs(3600);

/// How often expired tokens are purged.
const PURGE_TOKENS_EVERY: Duration = Duration::from_secs(600);
/// How often expired invites are purged.
const PURGE_INVITES_EVERY: Duration = Duration::from_secs(3600);
/// How often old security alerts are purged.
const PURGE_ALERTS_EVERY: Duration = Duration::from_secs(24 * 3600);
/// Expired and revoked invites stay listed for their chat's admins this long.
pub const INVITE_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);
const DAY: u64 = 24 * 3600;

const DELETE_INVITES: &str = "DELETE FROM invites WHERE (expires_at IS NOT NULL AND expires_at < $1) \
     OR (revoked_at IS NOT NULL AND revoked_at < $1)";
const DELETE_ALERTS: &str = "DELETE FROM audit_log WHERE action LIKE 'alert!_%' ESCAPE '!' AND at < $1";

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Runner settings from `JOB_*`.
pub fn runner_config(config: &Config) -> RunnerConfig {
    let retention = Duration::from_secs(config.job_retention_days.saturating_mul(DAY));
    RunnerConfig {
        workers: config.job_workers.max(1),
        lease: Duration::from_secs(config.job_lease_secs.max(3)),
        max_attempts: config.job_max_attempts.max(1),
        retention,
        dead_retention: retention.max(Duration::from_secs(30 * DAY)),
        ..RunnerConfig::default()
    }
}

/// The runner with every server job kind and the recurring maintenance jobs.
pub fn runner(queue: JobQueue, config: &Config, services: Arc<Services>) -> JobRunner {
    let stores = services.stores.clone();
    let alert_retention = Duration::from_secs(config.security_alert_retention_days.saturating_mul(DAY));
    let indexer = services.clone();
    let media = services.clone();
    JobRunner::new(queue, runner_config(config))
        .handler(PURGE_TOKENS, move |_, _| {
            let tokens = stores.tokens.clone();
            async move {
                let n = tokens.purge_expired(now_micros()).await.map_err(JobError::retry)?;
                if n > 0 {
                    tracing::info!(rows = n, "purged expired tokens");
                }
                Ok(())
            }
        })
        .handler(PURGE_INVITES, |ctx, _| async move {
            let mut tx = ctx.begin().await?;
            let cutoff = now_micros().saturating_sub(micros(INVITE_GRACE));
            let n = tx.execute(DELETE_INVITES, &[cutoff]).await?;
            ctx.commit_done(tx).await?;
            if n > 0 {
                tracing::info!(rows = n, "purged expired invites");
            }
            Ok(())
        })
        .handler(PURGE_ALERTS, move |ctx, _| async move {
            let mut tx = ctx.begin().await?;
            let cutoff = now_micros().saturating_sub(micros(alert_retention));
            let n = tx.execute(DELETE_ALERTS, &[cutoff]).await?;
            ctx.commit_done(tx).await?;
            if n > 0 {
                tracing::info!(rows = n, "purged old security alerts");
            }
            Ok(())
        })
        .handler(sova_service::games::TIMEOUT_JOB, {
            let services = services.clone();
            move |_, payload| {
                let services = services.clone();
                async move {
                    let Some(game) = payload.get("game_id").and_then(serde_json::Value::as_i64) else {
                        return Err(JobError::permanent("games.timeout needs a game_id"));
                    };
                    match services.games.timeout(sova_types::GameId(game)).await {
                        Ok(_) => Ok(()),
                        // The game or its chat is gone: nothing left to time out.
                        Err(e) if e.code == sova_types::ErrorCode::NotFound => Ok(()),
                        Err(e) => Err(JobError::retry(e.message)),
                    }
                }
            }
        })
        .handler(SWEEP_GAMES, {
            let services = services.clone();
            move |_, _| {
                let services = services.clone();
                async move {
                    let n = services
                        .games
                        .sweep_timeouts(SWEEP_GAMES_BATCH)
                        .await
                        .map_err(|e| JobError::retry(e.message))?;
                    if n > 0 {
                        tracing::info!(games = n, "timed out games past their deadline");
                    }
                    Ok(())
                }
            }
        })
        .handler(PURGE_UPLOADS, move |_, _| {
            let services = services.clone();
            async move {
                let cutoff = now_micros().saturating_sub(micros(sova_service::uploads::UPLOAD_TTL));
                let n = services
                    .files
                    .purge_abandoned_uploads(cutoff)
                    .await
                    .map_err(|e| JobError::retry(e.message))?;
                if n > 0 {
                    tracing::info!(uploads = n, "removed abandoned uploads");
                }
                Ok(())
            }
        })
        .handler(SEARCH_INDEX, move |ctx, _| {
            let services = indexer.clone();
            // Idempotent effect: each step moves the index position with a
            // compare-and-set in the transaction that writes its tokens, so a run
            // repeated, or overlapping another instance's, writes nothing twice.
            async move {
                let started = std::time::Instant::now();
                loop {
                    let step = services
                        .search
                        .index_step(&services.files, sova_service::search::INDEX_BATCH)
                        .await
                        .map_err(|e| JobError::retry(e.message))?;
                    if step.caught_up || started.elapsed() > SEARCH_INDEX_BUDGET || ctx.shutting_down().is_cancelled() {
                        return Ok(());
                    }
                }
            }
        })
        .handler(FILES_MEDIA, move |ctx, _| {
            let services = media.clone();
            // Idempotent effect: the thumbnail object has a fixed key and the row
            // update is the same on a repeated run; a refused image is marked
            // handled, so it is never picked again.
            async move {
                let started = std::time::Instant::now();
                loop {
                    let n = services
                        .files
                        .media_step(FILES_MEDIA_BATCH)
                        .await
                        .map_err(|e| JobError::retry(e.message))?;
                    if n == 0 || started.elapsed() > SEARCH_INDEX_BUDGET || ctx.shutting_down().is_cancelled() {
                        return Ok(());
                    }
                }
            }
        })
        .recurring(Recurring::new(FILES_MEDIA, FILES_MEDIA_EVERY))
        .recurring(Recurring::new(SEARCH_INDEX, SEARCH_INDEX_EVERY))
        .recurring(Recurring::new(PURGE_TOKENS, PURGE_TOKENS_EVERY))
        .recurring(Recurring::new(PURGE_UPLOADS, PURGE_UPLOADS_EVERY))
        .recurring(Recurring::new(PURGE_INVITES, PURGE_INVITES_EVERY))
        .recurring(Recurring::new(PURGE_ALERTS, PURGE_ALERTS_EVERY))
        .recurring(Recurring::new(SWEEP_GAMES, SWEEP_GAMES_EVERY))
}

/// What `sova admin jobs` shows.
pub struct ReportRequest {
    /// List jobs in this state instead of the summary.
    pub state: Option<JobState>,
    pub kind: Option<String>,
    pub limit: i64,
    pub json: bool,
}

/// Renders the summary (counts by state and kind, oldest waiting job, dead jobs and
/// the longest-waiting jobs with their last error) or a listing by state.
pub async fn report(store: &dyn JobStore, req: &ReportRequest) -> anyhow::Result<String> {
    let now = now_micros();
    if let Some(state) = req.state {
        let jobs = store
            .list(&ListFilter {
                state: Some(state),
                kind: req.kind.clone(),
                order: ListOrder::Newest,
                limit: req.limit,
            })
            .await?;
        if req.json {
            return Ok(serde_json::to_string_pretty(&jobs)?);
        }
        let mut out = format!("{} {state} job(s), newest first\n", jobs.len());
        table(&mut out, &jobs);
        return Ok(out);
    }
    let mut stats = store.stats(now, true).await?;
    if let Some(kind) = &req.kind {
        stats.counts.retain(|(_, k, _)| k == kind);
    }
    let list = |state, order| ListFilter {
        state: Some(state),
        kind: req.kind.clone(),
        order,
        limit: req.limit,
    };
    let dead = store.list(&list(JobState::Dead, ListOrder::Newest)).await?;
    let mut waiting = store.list(&list(JobState::Queued, ListOrder::OldestDue)).await?;
    waiting.extend(store.list(&list(JobState::Retry, ListOrder::OldestDue)).await?);
    waiting.sort_by_key(|j| (j.run_at, j.id));
    waiting.truncate(usize::try_from(req.limit.max(1)).unwrap_or(20));
    let oldest_age = stats.oldest_due_run_at.map(|at| (now - at).max(0) / 1_000_000);
    if req.json {
        let counts: Vec<_> = stats
            .counts
            .iter()
            .map(|(s, k, n)| json!({"state": s, "kind": k, "count": n}))
            .collect();
        let v = json!({
            "counts": counts,
            "oldest_due_age_secs": oldest_age,
            "dead": dead,
            "waiting": waiting,
        });
        return Ok(serde_json::to_string_pretty(&v)?);
    }
    let mut out = String::new();
    let totals: Vec<String> = JobState::ALL
        .iter()
        .map(|s| format!("{s} {}", stats.in_state(*s)))
        .collect();
    let _ = writeln!(out, "jobs: {}", totals.join(", "));
    match oldest_age {
        Some(age) => {
            let _ = writeln!(out, "oldest due job waits for {age} s");
        }
        None => out.push_str("no job is waiting\n"),
    }
    if !stats.counts.is_empty() {
        let _ = writeln!(out, "\n{:<8} {:<32} {:>8}", "STATE", "KIND", "COUNT");
        for (s, k, n) in &stats.counts {
            let _ = writeln!(out, "{:<8} {:<32} {:>8}", s.as_str(), k, n);
        }
    }
    let _ = writeln!(out, "\ndead jobs ({}), newest first:", dead.len());
    table(&mut out, &dead);
    let _ = writeln!(out, "\nwaiting jobs ({}), longest-waiting first:", waiting.len());
    table(&mut out, &waiting);
    if !dead.is_empty() {
        out.push_str("\nretry with: sova admin jobs retry <id>   or   sova admin jobs retry --all-dead\n");
    }
    Ok(out)
}

/// One line per job: id, kind, state, attempts, when, owner, last error.
fn table(out: &mut String, jobs: &[JobInfo]) {
    if jobs.is_empty() {
        out.push_str("  (none)\n");
        return;
    }
    let _ = writeln!(
        out,
        "  {:>8} {:<28} {:<7} {:>8} {:<25} {:<24} LAST ERROR",
        "ID", "KIND", "STATE", "ATTEMPTS", "RUN AT / FINISHED (UTC)", "OWNER"
    );
    for j in jobs {
        let at = j.finished_at.unwrap_or(j.run_at);
        let when = sova_types::time::rfc3339(at);
        let when = when.get(..19).unwrap_or(&when).replace('T', " ");
        let attempts = match j.max_attempts {
            Some(m) => format!("{}/{m}", j.attempts),
            None => j.attempts.to_string(),
        };
        let error = j.last_error.as_deref().unwrap_or("").replace('\n', " ");
        let error: String = error.chars().take(100).collect();
        let _ = writeln!(
            out,
            "  {:>8} {:<28} {:<7} {:>8} {:<25} {:<24} {}",
            j.id,
            j.kind,
            j.state.as_str(),
            attempts,
            when,
            j.lease_owner.as_deref().unwrap_or("-"),
            error
        );
    }
}

/// `sova admin jobs retry`: re-queues dead jobs; an id that is not dead is an error.
pub async fn retry(store: &dyn JobStore, target: RetryTarget, json: bool) -> anyhow::Result<String> {
    let n = store.retry_dead(target, now_micros()).await?;
    if let (RetryTarget::One(id), 0) = (target, n) {
        match store.get(id).await? {
            Some(j) => anyhow::bail!("job {id} is {}, not dead: only dead jobs are retried", j.state),
            None => anyhow::bail!("no job {id}"),
        }
    }
    Ok(if json {
        json!({ "requeued": n }).to_string()
    } else {
        format!("re-queued {n} dead job(s); a running server picks them up within a second\n")
    })
}
