//! Abuse defence counters with one behaviour in-process and in Redis:
//! a sliding-window-counter rate limiter (the previous window's count weighted by
//! how much of it still overlaps, plus the current window's), and a failed-login
//! lockout with exponential backoff keyed by (account, IP), so an attacker elsewhere
//! cannot lock the real user out. Redis errors fail open (logged): abuse limits
//! must not take the service down with them.

use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Failed logins tolerated before backoff starts.
pub const FREE_FAILURES: u32 = 5;
/// Longest lockout.
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten after this long without one.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(3600);

/// Whether an action may proceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Denied; try again after this long.
    Deny {
        retry_after: Duration,
    },
}

impl Decision {
    pub fn allowed(self) -> bool {
        self == Decision::Allow
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The sliding-window estimate given both windows' counts and the position in the current one.
pub fn sliding_count(prev: u64, curr: u64, elapsed_ms: u64, window_ms: u64) -> f64 {
    let overlap = 1.0 - (elapsed_ms.min(window_ms) as f64 / window_ms as f64);
    prev as f64 * overlap + curr as f64
}

/// Backoff after `failures` consecutive failed logins.
pub fn backoff(failures: u32) -> Option<Duration> {
    if failures < FREE_FAILURES {
        return None;
    }
    let exp = (failures - FREE_FAILURES).min(20);
    Some(Duration::from_secs(1u64 << exp).min(MAX_LOCK))
}

#[async_trait]
pub trait Limits: Send + Sync {
    /// Counts one event under `key`; denies when more than `limit` fall in the sliding `window`.
    async fn hit(&self, key: &str, limit: u32, window: Duration) -> Decision;
    /// Whether `key` (an account+IP) is locked out now.
    async fn locked(&self, key: &str) -> Decision;
    /// Records a failed login for `key`; returns the lockout it starts, if any.
    async fn failed(&self, key: &str) -> Option<Duration>;
    /// A successful login clears `key`'s failures.
    async fn succeeded(&self, key: &str);
    /// Adds `points` to `key`'s sliding-window tally (reputation penalties).
    async fn penalize(&self, key: &str, points: u32, window: Duration);
    /// `key`'s current sliding-window tally.
    async fn score(&self, key: &str, window: Duration) -> f64;
    /// Marks `key` as present for `ttl` (a small shared cache, e.g. valid sessions).
    async fn cache_put(&self, key: &str, ttl: Duration);
    /// Whether `key` is present.
    async fn cache_has(&self, key: &str) -> bool;
    /// Removes `key`.
    async fn cache_del(&self, key: &str);
    /// Forgets idle entries (in-process maps; Redis expires keys itself).
    async fn prune(&self) {}
}

#[derive(Default)]
struct Window {
    index: u64,
    prev: u64,
    curr: u64,
    /// Last use, ms: idle entries are pruned.
    touched: u64,
}

/// In-process counters (one instance).
#[derive(Default)]
pub struct LocalLimits {
    windows: Mutex<HashMap<String, Window>>,
    failures: Mutex<HashMap<String, (u32, u64, u64)>>,
    cache: Mutex<HashMap<String, u64>>,
}

impl LocalLimits {
    /// Drops stale entries; call now and then.
    fn prune_now(&self) {
        let now = now_ms();
        let memory = FAILURE_MEMORY.as_millis() as u64;
        self.failures
            .lock()
            .retain(|_, (_, last, until)| now.saturating_sub(*last) < memory || *until > now);
        // Windows are at most an hour long: two hours idle means nothing left to count.
        self.windows
            .lock()
            .retain(|_, w| now.saturating_sub(w.touched) < 2 * memory);
        self.cache.lock().retain(|_, until| *until > now);
    }
}

#[async_trait]
impl Limits for LocalLimits {
    async fn hit(&self, key: &str, limit: u32, window: Duration) -> Decision {
        let window_ms = window.as_millis().max(1) as u64;
        let now = now_ms();
        let index = now / window_ms;
        let mut map = self.windows.lock();
        let w = map.entry(key.to_owned()).or_default();
        roll(w, index);
        w.curr += 1;
        let elapsed = now - index * window_ms;
        if sliding_count(w.prev, w.curr, elapsed, window_ms) > f64::from(limit) {
            Decision::Deny {
                retry_after: Duration::from_millis(window_ms - elapsed).max(Duration::from_secs(1)),
            }
        } else {
            Decision::Allow
        }
    }

    async fn locked(&self, key: &str) -> Decision {
        let now = now_ms();
        match self.failures.lock().get(key) {
            Some((_, _, until)) if *until > now => Decision::Deny {
                retry_after: Duration::from_millis(until - now),
            },
            _ => Decision::Allow,
        }
    }

    async fn failed(&self, key: &str) -> Option<Duration> {
        let now = now_ms();
        let mut map = self.failures.lock();
        let e = map.entry(key.to_owned()).or_insert((0, now, 0));
        if now.saturating_sub(e.1) > FAILURE_MEMORY.as_millis() as u64 {
            *e = (0, now, 0);
        }
        e.0 += 1;
        e.1 = now;
        let lock = backoff(e.0);
        if let Some(d) = lock {
            e.2 = now + d.as_millis() as u64;
        }
        lock
    }

    async fn succeeded(&self, key: &str) {
        self.failures.lock().remove(key);
    }

    async fn penalize(&self, key: &str, points: u32, window: Duration) {
        let (window_ms, now) = (window.as_millis().max(1) as u64, now_ms());
        let index = now / window_ms;
        let mut map = self.windows.lock();
        let w = map.entry(key.to_owned()).or_default();
        roll(w, index);
        w.curr += u64::from(points);
    }

    async fn prune(&self) {
        self.prune_now();
    }

    async fn cache_put(&self, key: &str, ttl: Duration) {
        let mut c = self.cache.lock();
        if c.len() > 100_000 {
            let now = now_ms();
            c.retain(|_, until| *until > now);
        }
        c.insert(key.to_owned(), now_ms() + ttl.as_millis() as u64);
    }

    async fn cache_has(&self, key: &str) -> bool {
        self.cache.lock().get(key).is_some_and(|until| *until > now_ms())
    }

    async fn cache_del(&self, key: &str) {
        self.cache.lock().remove(key);
    }

    async fn score(&self, key: &str, window: Duration) -> f64 {
        let (window_ms, now) = (window.as_millis().max(1) as u64, now_ms());
        let index = now / window_ms;
        let mut map = self.windows.lock();
        let Some(w) = map.get_mut(key) else { return 0.0 };
        roll(w, index);
        sliding_count(w.prev, w.curr, now - index * window_ms, window_ms)
    }
}

/// Moves a window forward to `index`.
fn roll(w: &mut Window, index: u64) {
    w.touched = now_ms();
    if w.index != index {
        w.prev = if w.index + 1 == index { w.curr } else { 0 };
        w.curr = 0;
        w.index = index;
    }
}

/// Counters shared by every instance through Redis.
pub struct RedisLimits {
    conn: redis::aio::ConnectionManager,
    prefix: String,
}

impl RedisLimits {
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisLimits, String> {
        let client = redis::Client::open(url).map_err(|e| format!("bad REDIS_URL: {e}"))?;
        let conn = tokio::time::timeout(Duration::from_secs(10), client.get_connection_manager())
            .await
            .map_err(|_| "timed out connecting to Redis".to_owned())?
            .map_err(|e| format!("cannot connect to Redis: {e}"))?;
        Ok(RedisLimits {
            conn,
            prefix: prefix.to_owned(),
        })
    }
}

#[async_trait]
impl Limits for RedisLimits {
    async fn hit(&self, key: &str, limit: u32, window: Duration) -> Decision {
        let window_ms = window.as_millis().max(1) as u64;
        let now = now_ms();
        let index = now / window_ms;
        let cur = format!("{}:rl:{key}:{index}", self.prefix);
        let prev = format!("{}:rl:{key}:{}", self.prefix, index.saturating_sub(1));
        let mut c = self.conn.clone();
        let r: redis::RedisResult<(u64, (), Option<u64>)> = redis::pipe()
            .incr(&cur, 1)
            .pexpire(&cur, (window_ms * 2) as i64)
            .get(&prev)
            .query_async(&mut c)
            .await;
        match r {
            Ok((curr, (), prev)) => {
                let elapsed = now - index * window_ms;
                if sliding_count(prev.unwrap_or(0), curr, elapsed, window_ms) > f64::from(limit) {
                    Decision::Deny {
                        retry_after: Duration::from_millis(window_ms - elapsed).max(Duration::from_secs(1)),
                    }
                } else {
                    Decision::Allow
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "rate limiter unavailable; allowing");
                Decision::Allow
            }
        }
    }

    async fn locked(&self, key: &str) -> Decision {
        let mut c = self.conn.clone();
        let ttl: redis::RedisResult<i64> = redis::cmd("PTTL")
            .arg(format!("{}:lock:{key}", self.prefix))
            .query_async(&mut c)
            .await;
        match ttl {
            Ok(ms) if ms > 0 => Decision::Deny {
                retry_after: Duration::from_millis(ms as u64),
            },
            _ => Decision::Allow,
        }
    }

    async fn failed(&self, key: &str) -> Option<Duration> {
        let mut c = self.conn.clone();
        let fails = format!("{}:fail:{key}", self.prefix);
        let r: redis::RedisResult<(u32, ())> = redis::pipe()
            .incr(&fails, 1)
            .pexpire(&fails, FAILURE_MEMORY.as_millis() as i64)
            .query_async(&mut c)
            .await;
        let n = match r {
            Ok((n, ())) => n,
            Err(e) => {
                tracing::warn!(error = %e, "lockout counter unavailable");
                return None;
            }
        };
        let lock = backoff(n)?;
        let set: redis::RedisResult<()> = redis::cmd("SET")
            .arg(format!("{}:lock:{key}", self.prefix))
            .arg(1)
            .arg("PX")
            .arg(lock.as_millis() as u64)
            .query_async(&mut c)
            .await;
        if let Err(e) = set {
            tracing::warn!(error = %e, "lockout unavailable");
        }
        Some(lock)
    }

    async fn succeeded(&self, key: &str) {
        let mut c = self.conn.clone();
        let _: redis::RedisResult<()> = redis::cmd("DEL")
            .arg(format!("{}:fail:{key}", self.prefix))
            .arg(format!("{}:lock:{key}", self.prefix))
            .query_async(&mut c)
            .await;
    }

    async fn penalize(&self, key: &str, points: u32, window: Duration) {
        let window_ms = window.as_millis().max(1) as u64;
        let cur = format!("{}:rl:{key}:{}", self.prefix, now_ms() / window_ms);
        let mut c = self.conn.clone();
        let r: redis::RedisResult<(u64, ())> = redis::pipe()
            .incr(&cur, points)
            .pexpire(&cur, (window_ms * 2) as i64)
            .query_async(&mut c)
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "reputation counter unavailable");
        }
    }

    async fn cache_put(&self, key: &str, ttl: Duration) {
        let mut c = self.conn.clone();
        let r: redis::RedisResult<()> = redis::cmd("SET")
            .arg(format!("{}:cache:{key}", self.prefix))
            .arg(1)
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query_async(&mut c)
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "cache write failed");
        }
    }

    async fn cache_has(&self, key: &str) -> bool {
        let mut c = self.conn.clone();
        let r: redis::RedisResult<bool> = redis::cmd("EXISTS")
            .arg(format!("{}:cache:{key}", self.prefix))
            .query_async(&mut c)
            .await;
        r.unwrap_or(false)
    }

    async fn cache_del(&self, key: &str) {
        let mut c = self.conn.clone();
        let _: redis::RedisResult<()> = redis::cmd("DEL")
            .arg(format!("{}:cache:{key}", self.prefix))
            .query_async(&mut c)
            .await;
    }

    async fn score(&self, key: &str, window: Duration) -> f64 {
        let window_ms = window.as_millis().max(1) as u64;
        let now = now_ms();
        let index = now / window_ms;
        let mut c = self.conn.clone();
        let r: redis::RedisResult<(Option<u64>, Option<u64>)> = redis::pipe()
            .get(format!("{}:rl:{key}:{index}", self.prefix))
            .get(format!("{}:rl:{key}:{}", self.prefix, index.saturating_sub(1)))
            .query_async(&mut c)
            .await;
        match r {
            Ok((curr, prev)) => sliding_count(prev.unwrap_or(0), curr.unwrap_or(0), now - index * window_ms, window_ms),
            Err(_) => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_weights_the_previous_window() {
        assert_eq!(sliding_count(10, 0, 0, 1000), 10.0);
        assert_eq!(sliding_count(10, 2, 500, 1000), 7.0);
        assert_eq!(sliding_count(10, 2, 1000, 1000), 2.0);
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(4), None);
        assert_eq!(backoff(5), Some(Duration::from_secs(1)));
        assert_eq!(backoff(7), Some(Duration::from_secs(4)));
        assert_eq!(backoff(40), Some(MAX_LOCK));
    }

    async fn limiter_contract(l: &dyn Limits, key: &str) {
        for _ in 0..3 {
            assert!(l.hit(key, 3, Duration::from_secs(60)).await.allowed());
        }
        match l.hit(key, 3, Duration::from_secs(60)).await {
            Decision::Deny { retry_after } => {
                assert!(retry_after >= Duration::from_secs(1) && retry_after <= Duration::from_secs(60))
            }
            Decision::Allow => panic!("fourth hit allowed"),
        }
        let lk = format!("{key}:login");
        assert!(l.locked(&lk).await.allowed());
        for _ in 0..4 {
            assert_eq!(l.failed(&lk).await, None);
        }
        assert_eq!(l.failed(&lk).await, Some(Duration::from_secs(1)));
        assert!(!l.locked(&lk).await.allowed());
        l.succeeded(&lk).await;
        assert!(l.locked(&lk).await.allowed());
        assert_eq!(l.failed(&lk).await, None, "success resets the count");
        let rk = format!("{key}:rep");
        assert_eq!(l.score(&rk, Duration::from_secs(60)).await, 0.0);
        l.penalize(&rk, 5, Duration::from_secs(60)).await;
        l.penalize(&rk, 3, Duration::from_secs(60)).await;
        assert!((l.score(&rk, Duration::from_secs(60)).await - 8.0).abs() < 1e-9);
        let ck = format!("{key}:cached");
        assert!(!l.cache_has(&ck).await);
        l.cache_put(&ck, Duration::from_secs(60)).await;
        assert!(l.cache_has(&ck).await);
        l.cache_del(&ck).await;
        assert!(!l.cache_has(&ck).await);
    }

    #[tokio::test]
    async fn local_limits() {
        let l = LocalLimits::default();
        limiter_contract(&l, "t").await;
        l.hit("busy", 10, Duration::from_secs(60)).await;
        l.prune().await;
        assert!(l.windows.lock().contains_key("busy"), "recent entries stay");
        l.windows.lock().get_mut("busy").unwrap().touched = 0;
        l.prune().await;
        assert!(!l.windows.lock().contains_key("busy"), "idle entries go");
    }

    /// The same contract on Redis (fails in CI when Redis is unreachable).
    #[tokio::test]
    async fn redis_limits() {
        let url = std::env::var("SOVA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let prefix = format!("sova_limits_test_{}", now_ms());
        match RedisLimits::connect(&url, &prefix).await {
            Ok(l) => limiter_contract(&l, "t").await,
            Err(e) if std::env::var_os("CI").is_some() => panic!("Redis required in CI: {e}"),
            Err(e) => eprintln!("SKIPPED: Redis unreachable: {e}"),
        }
    }
}
